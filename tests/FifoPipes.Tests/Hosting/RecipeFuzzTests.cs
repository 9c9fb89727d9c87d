using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Parity;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>
/// Thousands of mutated recipes through the reader: it must never throw, and every problem it reports
/// must carry a file, line and column. Mutations are seeded, so a failure names a reproducible case.
/// </summary>
public sealed class RecipeFuzzTests
{
    public const int Cases = 10_000;

    static readonly string[] Words =
    {
        "apiVersion", "model", "use", "with", "prompt", "prompts", "frames", "seed", "fps", "sinks", "path", "sampler",
        "snapshot", "every", "resume", "init", "overwrite", "source", "strength", "width", "height", "partitions", "lookahead", "guidance", "eta", "windowBatch",
        "fifo", "analytic", "gif", "mp4", "png", "-1", "0", "1e309", "NaN", "true", "null", "~", "[]", "{}", "&a", "*a",
        "'", "\"", "!!binary", "|", ">", "---", "...", "%YAML 1.2", "\t", ":", "- ", "#", "9999999999999999999999",
    };

    static IEnumerable<string> Seeds()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(ParityCase.RepoRoot, "examples", "recipes"), "*.yaml"))
            yield return File.ReadAllText(file);
        yield return "apiVersion: fifopipes/v1\nprompts:\n  - {prompt: a, frames: 2}\nsinks:\n  - path: a.gif\n    with: {loop: 0}\n";
        yield return "a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n";
    }

    static string Mutate(string text, Random random)
    {
        var chars = text.ToList();
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits; e++)
        {
            int at = chars.Count == 0 ? 0 : random.Next(chars.Count);
            switch (random.Next(6))
            {
                case 0 when chars.Count > 0: chars.RemoveAt(at); break;
                case 1: chars.InsertRange(at, Words[random.Next(Words.Length)]); break;
                case 2 when chars.Count > 0: chars[at] = (char)random.Next(0x20, 0x7f); break;
                case 3:
                    var lines = new string(chars.ToArray()).Split('\n').ToList();
                    int a = random.Next(lines.Count), b = random.Next(lines.Count);
                    (lines[a], lines[b]) = (lines[b], lines[a]);
                    chars = string.Join('\n', lines).ToList();
                    break;
                case 4: chars.InsertRange(at, new string(' ', random.Next(1, 5))); break;
                default: chars.InsertRange(at, "\n" + Words[random.Next(Words.Length)] + ": " + Words[random.Next(Words.Length)]); break;
            }
        }
        return new string(chars.ToArray());
    }

    [Fact]
    public void Mutated_recipes_never_crash_the_reader_and_every_error_is_located()
    {
        var seeds = Seeds().ToList();
        var random = new Random(20261125);
        int rejected = 0;
        for (int i = 0; i < Cases; i++)
        {
            var yaml = Mutate(seeds[i % seeds.Count], random);
            var reader = new RecipeReader(TestPlugins.Host);
            Recipe? recipe;
            try { recipe = reader.ReadText(yaml, "/fuzz/case.yaml"); }
            catch (Exception ex)
            {
                Assert.Fail($"case {i} threw {ex.GetType().Name}: {ex.Message}\n--- recipe ---\n{yaml}");
                return;
            }
            foreach (var d in reader.Diagnostics)
                Assert.True(d.Location is { Line: >= 1, Column: >= 1 } && d.File == "/fuzz/case.yaml",
                    $"case {i}: diagnostic without a location: {d}\n--- recipe ---\n{yaml}");
            Assert.True(recipe is null == reader.Diagnostics.Count > 0, $"case {i}: a recipe and diagnostics disagree: {string.Join(" | ", reader.Diagnostics)}\n--- recipe ---\n{yaml}");
            if (recipe is null) rejected++;
        }
        // Most mutations break something; a fuzzer that never produces errors tests nothing.
        Assert.InRange(rejected, Cases / 2, Cases);
    }

    [Fact]
    public void A_self_referencing_alias_or_deep_nesting_is_refused_without_overflowing_the_stack()
    {
        foreach (var yaml in new[] { "a: &x [1, *x]\n", new string('[', 5000) + new string(']', 5000) + "\n" })
        {
            var reader = new RecipeReader(TestPlugins.Host);
            Assert.Null(reader.ReadText(yaml, "/fuzz/deep.yaml"));
            Assert.NotEmpty(reader.Diagnostics);
        }
    }

    [Fact]
    public void A_merge_key_bomb_is_refused_quickly()
    {
        // Each level merges the one before twice: 2^40 copies if merges were expanded without counting.
        var yaml = new System.Text.StringBuilder("apiVersion: fifopipes/v1\nx-0: &m0 { partitions: 2 }\n");
        for (int level = 1; level <= 40; level++) yaml.Append($"x-{level}: &m{level} {{ <<: [ *m{level - 1}, *m{level - 1} ] }}\n");
        var reader = new RecipeReader(TestPlugins.Host);
        Assert.Null(reader.ReadText(yaml.ToString(), "/fuzz/merge-bomb.yaml"));
        Assert.Contains(reader.Diagnostics, d => d.Message.Contains("expands to more than"));
    }

    [Fact]
    public void An_alias_bomb_is_refused_quickly()
    {
        var reader = new RecipeReader(TestPlugins.Host);
        Assert.Null(reader.ReadText(Seeds().Last(), "/fuzz/bomb.yaml"));
        Assert.Contains(reader.Diagnostics, d => d.Message.Contains("expands to more than"));
    }
}
