using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Whether a recipe's sampler can take its options with its model, asked before the model loads: the model's adapter
/// describes the model from its options and configs (<see cref="IModelAdapter.Describe"/>), the sampler checks against
/// that (<see cref="ISamplerFactory.Check"/>). Too many steps for the schedule then costs no multi-gigabyte load, and
/// Test-FifoRecipe -Model finds it on the machine that will run the recipe.
/// </summary>
public static class SamplerFit
{
    /// <summary>
    /// Refuses, with the sampler's <see cref="FifoInputException"/>, options the described model cannot take; a model
    /// that cannot describe itself is left to the run. A plugin's bug is a <see cref="PluginFailedException"/> naming it.
    /// </summary>
    public static void Check(Recipe recipe, PluginContext context)
    {
        // What describing says (a device warning, a config key it skips), the load says again.
        var quiet = new PluginContext(null, context.WorkingDirectory, context.Stopping);
        var model = PluginFailedException.Guard($"Describing {PluginFailedException.Name(recipe.Model.Plugin)}",
            () => recipe.Model.Plugin.Create<IModelAdapter>().Describe(recipe.Model.Options, quiet));
        if (model is null) return;
        PluginFailedException.Guard($"Checking {PluginFailedException.Name(recipe.Sampler.Plugin)} against {model.Name}", () =>
        {
            recipe.Sampler.Plugin.Create<ISamplerFactory>().Check(recipe.Sampler.Options, model, context);
            return true;
        });
    }
}
