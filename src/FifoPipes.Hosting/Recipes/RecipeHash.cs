using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FifoPipes.Hosting.Options;

namespace FifoPipes.Hosting.Recipes;

/// <summary>A run's identity: what decides its frames, as "key=value" lines, and their hash.</summary>
static class RecipeHash
{
    /// <summary>
    /// Model, sampler, their options that change the frames (not the device, batch sizes or caches), prompts, seed and
    /// start image; where the frames go is left out.
    /// </summary>
    public static string Settings(Recipe recipe)
    {
        var text = new StringBuilder();
        Append(text, "model", recipe.Model);
        Append(text, "sampler", recipe.Sampler);
        for (int i = 0; i < recipe.Prompts.Count; i++)
            text.Append(CultureInfo.InvariantCulture, $"prompts[{i}]={recipe.Prompts[i].Prompt}|{recipe.Prompts[i].Frames}\n");
        // Only when given: a run without one keeps the hash (and the snapshots) it had before negative prompts.
        if (recipe.NegativePrompt.Length > 0) text.Append("negativePrompt=").Append(recipe.NegativePrompt).Append('\n');
        // Invariant: a culture's minus sign (U+2212 in sv-SE) must not change a negative seed's run.
        text.Append(CultureInfo.InvariantCulture, $"seed={recipe.Seed}\n");
        if (recipe.InitImage is not null) text.Append("init=").Append(Path.GetFullPath(recipe.InitImage)).Append('\n');
        return text.ToString();
    }

    /// <summary>Prompt lines kept in <see cref="Provenance"/>; a schedule of thousands would repeat in every PNG frame.</summary>
    const int ProvenancePrompts = 32;

    /// <summary>
    /// "FifoPipes &lt;version&gt; run &lt;hash&gt;" and the settings, with the prompt schedule cut to its first
    /// <see cref="ProvenancePrompts"/> spans (the hash still names the whole run).
    /// </summary>
    public static string Provenance(Recipe recipe)
    {
        var version = typeof(RecipeHash).Assembly.GetName().Version?.ToString(3) ?? "?";
        var lines = recipe.RunSettings.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        int prompts = lines.Count(l => l.StartsWith("prompts[", StringComparison.Ordinal));
        if (prompts > ProvenancePrompts)
        {
            int seen = 0;
            lines = lines.Where(l => !l.StartsWith("prompts[", StringComparison.Ordinal) || ++seen <= ProvenancePrompts).ToList();
            lines.Insert(lines.FindLastIndex(l => l.StartsWith("prompts[", StringComparison.Ordinal)) + 1, $"prompts: {prompts - ProvenancePrompts} more");
        }
        return $"FifoPipes {version} run {recipe.RunHash}\n" + string.Join("\n", lines);
    }

    public static string Of(string settings) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(settings)))[..16].ToLowerInvariant();

    static void Append(StringBuilder text, string role, PluginUse use)
    {
        text.Append(role).Append('=').Append(use.Plugin.Name).Append('\n');
        if (use.Options is null) return;
        foreach (var option in use.Plugin.Options.Where(o => o.ChangesFrames))
            text.Append(role).Append('.').Append(option.Name).Append('=').Append(OptionDescriptor.Format(option.Property.GetValue(use.Options))).Append('\n');
    }
}
