using FifoPipes.Abstractions;
using FifoPipes.Hosting.Options;

namespace FifoPipes.Hosting.Recipes;

/// <summary>
/// Where the value of a plugin option that a plugin refused came from, so Test-FifoRecipe and the run place the problem
/// alike, where the user can change it: at the option where the user set it (a recipe line, a parameter); for a sampler
/// option left to the model's default (partitions, guidance, eta), at the model's option of that name where the user set
/// that; else at the plugin, saying the value is its default, so no one is sent to a setting they never made.
/// </summary>
/// <param name="Path">The recipe path of the setting the value came from (sampler.with.partitions, model.with.partitions).</param>
/// <param name="Location">Where the recipe holds that setting (or names the plugin, for a default); null where no file does.</param>
/// <param name="Unset">For a value the user did not set, the option's recipe path; null where the user set it.</param>
/// <param name="Origin">For a value the user did not set, a sentence saying where it came from; null where the user set it.</param>
public sealed record RefusedOption(string Path, SourceLocation? Location, string? Unset, string? Origin)
{
    /// <summary>
    /// Where the option that <paramref name="refusal"/> of the <paramref name="section"/>'s plugin is about came from;
    /// null where it names no option of that plugin the user set and does not say which option it is in (its message may
    /// quote another option's name).
    /// </summary>
    /// <param name="given">Whether a parameter set a recipe path (-Partitions, -ModelOption partitions); a file's settings are known by their lines.</param>
    /// <param name="words">A recipe path in the user's words (the parameter that sets it on the command line); the path itself by default.</param>
    public static RefusedOption? Of(FifoInputException refusal, string section, Recipe recipe, Func<string, bool>? given = null, Func<string, string>? words = null)
    {
        given ??= _ => false;
        words ??= path => path;
        var use = section == "model" ? recipe.Model : recipe.Sampler;
        bool Set(string option) => use.OptionLocations.ContainsKey(option) || given($"{section}.with.{option}");
        string? option = refusal.Option is not null ? use.OptionOf(refusal) : use.OptionNamedIn(refusal.Message, Set);
        if (option is null) return null;
        string path = $"{section}.with.{option}";
        if (Set(option)) return new RefusedOption(path, use.OptionLocations.GetValueOrDefault(option), null, null);
        // A message that does not say its option may quote one the user never set: only the plugin's own word places a default.
        if (refusal.Option is null) return null;
        return Default(use.Plugin.Options.First(o => o.Name == option), section, recipe, given, words);
    }

    /// <summary>
    /// A value the user did not set: the model's, from its option of the same name where the user set that (the
    /// analytic model's partitions is the default of the fifo sampler's), else the plugin's own default, as its option
    /// describes it ("Default: the model's partitions x window frames") or as it holds it (lookahead: true).
    /// </summary>
    static RefusedOption Default(OptionDescriptor option, string section, Recipe recipe, Func<string, bool> given, Func<string, string> words)
    {
        var use = section == "model" ? recipe.Model : recipe.Sampler;
        string path = $"{section}.with.{option.Name}";
        string unset = $"{words(path)} is {(words(path).StartsWith('-') ? "not given" : "not set")}";
        var described = DefaultText(option);
        if (described is null || !described.StartsWith(ModelsDefault, StringComparison.Ordinal))
            return new RefusedOption(path, use.Location, path,
                $"{unset}, so {option.Name} is the {use.Plugin.Name} {section}'s default{(described ?? OptionDescriptor.Format(option.Default)) switch { "unset" => "", var d => ": " + d }}.");
        string taken = $"{unset}, so the {use.Plugin.Name} {section} takes {(described == ModelsDefault ? $"the model's {option.Name}" : described)}";
        if (section == "sampler" && recipe.Model.Plugin.Options.FirstOrDefault(o => string.Equals(o.Name, option.Name, StringComparison.OrdinalIgnoreCase)) is { } own
            && (recipe.Model.OptionLocations.ContainsKey(own.Name) || given($"model.with.{own.Name}")))
            return new RefusedOption($"model.with.{own.Name}", recipe.Model.OptionLocations.GetValueOrDefault(own.Name), path, $"{taken}, set by {words($"model.with.{own.Name}")}.");
        return new RefusedOption(path, use.Location, path, taken + ".");
    }

    /// <summary>The refusal's message, with where its value came from where the user did not set it.</summary>
    public string Said(string message) => Origin is null ? message : $"{message} {Origin}";

    const string ModelsDefault = "the model's";

    /// <summary>
    /// What an option's description says its default is ("Default: the model's partitions x window frames"), to its
    /// first '.' or ';'; null where it says nothing of it (its default value then speaks for it).
    /// </summary>
    static string? DefaultText(OptionDescriptor option)
    {
        foreach (var lead in new[] { "Default: ", "Unset (~): " })
        {
            int at = option.Description.IndexOf(lead, StringComparison.Ordinal);
            if (at < 0) continue;
            var text = option.Description[(at + lead.Length)..];
            int end = text.IndexOfAny(new[] { '.', ';' });
            return (end < 0 ? text : text[..end]).Trim();
        }
        return null;
    }
}
