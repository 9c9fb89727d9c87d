using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Which of a recipe's plugins, its model or its sampler, refused a run, said on the refusal itself (its Data) so the
/// plugin's exception reaches the command as it was thrown: the command then says where the user set the option the
/// refusal is about (<see cref="Recipes.PluginUse.OptionOf"/>), in the words they used. A refusal names its option
/// only; which plugin's it is, two plugins can share the name (partitions is an analytic model's and fifo's).
/// </summary>
public static class PluginRefusal
{
    const string Key = "FifoPipes.RefusedBy";

    /// <summary>The recipe section ("model" or "sampler") whose plugin threw <paramref name="refusal"/>; null where no run said.</summary>
    public static string? SectionOf(Exception refusal) => refusal.Data[Key] as string;

    /// <summary>Runs a call into the plugin of <paramref name="section"/>, marking a refusal it throws as that plugin's.</summary>
    public static T By<T>(string section, Func<T> call)
    {
        try { return call(); }
        catch (FifoInputException refusal) when (Mark(refusal, section)) { throw; }
    }

    /// <summary>A plugin's lazy sequence (a sampler's frames), marking a refusal thrown while it is read.</summary>
    public static IEnumerable<T> By<T>(string section, IEnumerable<T> items)
    {
        using var each = By(section, items.GetEnumerator);
        while (By(section, each.MoveNext)) yield return each.Current;
    }

    // Never catches: the refusal goes on as thrown. Marked once, by the call nearest the plugin.
    static bool Mark(FifoInputException refusal, string section)
    {
        if (!refusal.Data.Contains(Key)) refusal.Data[Key] = section;
        return false;
    }
}
