using System.Reflection;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Whether a recipe's sampler can take its options with its model, asked before the model loads: the model's adapter
/// describes the model from its options and configs (<see cref="IModelAdapter.Describe"/>), the sampler checks against
/// that and the run's inputs (<see cref="ISamplerFactory.Check(object?, ModelInfo, JobInputs, PluginContext)"/>). Too many steps for the schedule then costs no multi-gigabyte load, and
/// Test-FifoRecipe -Model finds it on the machine that will run the recipe. After the load the description is held to
/// the model, and a model that could not describe itself is checked then.
/// </summary>
public static class SamplerFit
{
    /// <summary>
    /// The model as its adapter describes it, or null where it cannot. Its refusals are the model's options' (a
    /// <see cref="FifoInputException"/>); a bug is a <see cref="PluginFailedException"/> naming the adapter.
    /// </summary>
    public static ModelInfo? Describe(Recipe recipe, PluginContext context)
    {
        // What describing says (a device warning, a config key it skips), the load says again.
        var quiet = new PluginContext(null, context.WorkingDirectory, context.Stopping);
        return StoredPresetFiles.Explained(recipe.Model.Stored, () => PluginRefusal.By("model", () => PluginFailedException.Guard(
            $"Describing {PluginFailedException.Name(recipe.Model.Plugin)}", () => recipe.Model.Plugin.Create<IModelAdapter>().Describe(recipe.Model.Options, quiet))));
    }

    /// <summary>
    /// Refuses, with the sampler's <see cref="FifoInputException"/>, options <paramref name="model"/> or the recipe's
    /// inputs cannot take; the sampler's warnings of the run go to <paramref name="context"/>'s log.
    /// </summary>
    public static void Check(Recipe recipe, ModelInfo model, PluginContext context) =>
        PluginRefusal.By("sampler", () => PluginFailedException.Guard($"Checking {PluginFailedException.Name(recipe.Sampler.Plugin)} against {model.Name}", () =>
        {
            recipe.Sampler.Plugin.Create<ISamplerFactory>().Check(recipe.Sampler.Options, model, recipe.JobInputs, context);
            return true;
        }));

    /// <summary>
    /// Holds a description to the model the load gave: one that differs would have had the sampler judged against
    /// another model, so it is the adapter's bug, named. The device and fingerprint a description may leave out.
    /// </summary>
    public static void Confirm(Recipe recipe, ModelInfo described, ModelInfo loaded)
    {
        var differences = Compared.Select(p => (p.Name, Described: p.GetValue(described), Loaded: p.GetValue(loaded)))
            .Where(d => !Equals(d.Described, d.Loaded)).Select(d => $"{d.Name} {d.Described} described, {d.Loaded} loaded").ToList();
        if (differences.Count > 0)
            throw new PluginFailedException($"{PluginFailedException.Capital(PluginFailedException.Name(recipe.Model.Plugin))} described its model otherwise " +
                                            $"than it loaded it ({string.Join("; ", differences)}): its Describe must give the Info its Load's model has");
    }

    static readonly PropertyInfo[] Compared = typeof(ModelInfo).GetProperties()
        .Where(p => p.CanWrite && p.Name is not (nameof(ModelInfo.Device) or nameof(ModelInfo.Fingerprint))).ToArray();
}
