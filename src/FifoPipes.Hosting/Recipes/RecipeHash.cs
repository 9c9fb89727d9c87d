using System.Security.Cryptography;
using System.Text;
using FifoPipes.Hosting.Options;

namespace FifoPipes.Hosting.Recipes;

static class RecipeHash
{
    public static string Of(Recipe recipe)
    {
        var text = new StringBuilder();
        Append(text, "model", recipe.Model);
        Append(text, "sampler", recipe.Sampler);
        foreach (var p in recipe.Prompts) text.Append("prompt=").Append(p.Prompt).Append('|').Append(p.Frames).Append('\n');
        text.Append("seed=").Append(recipe.Seed).Append('\n');
        if (recipe.InitImage is not null) text.Append("init=").Append(Path.GetFullPath(recipe.InitImage)).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16].ToLowerInvariant();
    }

    static void Append(StringBuilder text, string role, PluginUse use)
    {
        text.Append(role).Append('=').Append(use.Plugin.Name).Append('\n');
        if (use.Options is null) return;
        foreach (var option in use.Plugin.Options)
            text.Append("  ").Append(option.Name).Append('=').Append(OptionDescriptor.Format(option.Property.GetValue(use.Options))).Append('\n');
    }
}
