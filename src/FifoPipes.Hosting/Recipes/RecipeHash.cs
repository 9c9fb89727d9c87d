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
