using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Core.Media;

namespace FifoPipes.Hosting.Recipes;

/// <summary>A run's identity: what decides its frames, as "key=value" lines, and their hash.</summary>
static class RecipeHash
{
    /// <summary>
    /// Model, sampler, their options that change the frames (not the device, batch sizes or caches), prompts, seed and
    /// start image; where the frames go is left out.
    /// </summary>
    public static string Settings(Recipe recipe) => Write(recipe, int.MaxValue, value => value);

    /// <summary>Prompt lines kept in <see cref="Provenance"/>; a schedule of thousands would repeat in every PNG frame.</summary>
    const int ProvenancePrompts = 32;
    /// <summary>Characters of <see cref="Provenance"/> at most: it travels as one ffmpeg argument (Linux takes 128 KiB).</summary>
    const int ProvenanceLength = 32 * 1024;

    /// <summary>
    /// "FifoPipes run &lt;hash&gt;", the plugins' versions and the settings, one per line (line breaks inside values written as \n), the prompt
    /// schedule cut to its first <see cref="ProvenancePrompts"/> spans and the whole to <see cref="ProvenanceLength"/>
    /// characters: the hash still names the whole run.
    /// </summary>
    public static string Provenance(Recipe recipe)
    {
        // The plugins' versions first, where a cut never reaches them: not in the hash (a run resumes across an update),
        // but a plugin's new version may make other frames of the same settings.
        var text = $"{ProvenanceReader.Mark}{recipe.RunHash}\n{RunProvenance.PluginsSetting(recipe.RunPlugins)}\n" + Write(recipe, ProvenancePrompts, OneLine)
                   // How fast the frames play is not what they are (not in the hash), but the recipe read back should play them so.
                   + (recipe.Fps is { } fps ? RunProvenance.FpsSetting(fps) + "\n" : "");
        text = text.TrimEnd('\n');
        if (text.Length <= ProvenanceLength) return text;
        int cut = ProvenanceLength - 40;
        if (char.IsHighSurrogate(text[cut - 1])) cut--;
        return text[..cut] + "\n" + RunProvenance.CutNote;
    }

    /// <summary>Line breaks as \n and \r, and so backslashes as \\: every setting of the provenance on one line.</summary>
    internal static string OneLine(string value) => value.Replace("\\", "\\\\").Replace("\r", "\\r").Replace("\n", "\\n");

    /// <summary>Undoes <see cref="OneLine"/>.</summary>
    internal static string FromOneLine(string value)
    {
        var text = new StringBuilder(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length) { text.Append(value[i]); continue; }
            char next = value[++i];
            text.Append(next switch { 'n' => '\n', 'r' => '\r', _ => next });
        }
        return text.ToString();
    }

    static string Write(Recipe recipe, int promptLimit, Func<string, string> value)
    {
        var text = new StringBuilder();
        Append(text, "model", recipe.Model, value);
        Append(text, "sampler", recipe.Sampler, value);
        for (int i = 0; i < Math.Min(recipe.Prompts.Count, promptLimit); i++)
            text.Append(SnapshotMetadata.PromptSpanSetting(i, value(recipe.Prompts[i].Prompt), recipe.Prompts[i].Frames)).Append('\n');
        if (recipe.Prompts.Count > promptLimit) text.Append(RunProvenance.MorePrompts(recipe.Prompts.Count - promptLimit)).Append('\n');
        // Only when given: a run without one keeps the hash (and the snapshots) it had before negative prompts.
        if (recipe.NegativePrompt.Length > 0) text.Append("negativePrompt=").Append(value(recipe.NegativePrompt)).Append('\n');
        // Invariant: a culture's minus sign (U+2212 in sv-SE) must not change a negative seed's run.
        text.Append(CultureInfo.InvariantCulture, $"seed={recipe.Seed}\n");
        if (recipe.InitImage is not null) text.Append("init=").Append(value(Path.GetFullPath(recipe.InitImage))).Append('\n');
        if (recipe.Source is { } source)
        {
            text.Append("source=").Append(value(Path.GetFullPath(source.Path))).Append('\n')
                .Append("source.strength=").Append(source.Strength.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            // Only when given, as the negative prompt: restyles of the whole file keep their hashes.
            if (source.Timing.Fps is { } fps) text.Append("source.fps=").Append(fps.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            if (source.Timing.Start > 0) text.Append("source.start=").Append(source.Timing.Start.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            if (source.Loops) text.Append(source.Loop == SourceLoop.PingPong ? "source.loop=pingpong\n" : "source.loop=true\n");
            // The file's length too: a snapshot must not resume over another video saved under the same name.
            if (new FileInfo(source.Path) is { Exists: true } file) text.Append(CultureInfo.InvariantCulture, $"source.bytes={file.Length}\n");
        }
        // Frames after a live change follow what the file said then, which no setting holds: a recipe without it must not
        // resume this run's snapshots (two runs steered by one file still share a hash).
        if (recipe.LivePrompt is not null) text.Append("livePrompt=").Append(value(Path.GetFullPath(recipe.LivePrompt))).Append('\n');
        return text.ToString();
    }

    public static string Of(string settings) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(settings)))[..16].ToLowerInvariant();

    static void Append(StringBuilder text, string role, PluginUse use, Func<string, string> value)
    {
        text.Append(role).Append('=').Append(use.Plugin.Name).Append('\n');
        foreach (var (name, formatted) in use.FormattedOptions(o => o.ChangesFrames))
            text.Append(role).Append('.').Append(name).Append('=').Append(value(formatted)).Append('\n');
    }
}
