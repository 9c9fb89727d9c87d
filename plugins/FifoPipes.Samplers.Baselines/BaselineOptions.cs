using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Baselines;

static class BaselineOptions
{
    /// <summary>The factory's options as <typeparamref name="T"/> (a fresh default for null), validated.</summary>
    public static T Check<T>(object? options, string sampler) where T : ClipSamplingOptions, new()
    {
        var typed = PluginOptions.As<T>(options, $"{sampler} sampler");
        var problem = typed.Validate().FirstOrDefault();
        if (problem is not null) throw new FifoInputException("BadSamplerOption", $"{sampler} sampler option '{problem.Option}': {problem.Message}") { Option = problem.Option };
        return typed;
    }
}
