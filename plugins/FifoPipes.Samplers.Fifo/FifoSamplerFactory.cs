using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Fifo;

/// <summary>The "fifo" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "fifo", typeof(ISamplerFactory),
    Description = "FIFO-Diffusion: diagonal denoising of a queue of frames at increasing noise levels, with partitions and lookahead; endless video from a fixed-length model.",
    OptionsType = typeof(FifoOptions))]
public sealed class FifoSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) => new FifoSampler(Checked(options), context);

    /// <summary>The queue's geometry and step checked against the model before it loads.</summary>
    public void Check(object? options, ModelInfo model, PluginContext context) =>
        Checked(options, context, fifoOptions => FifoPlan.Fit(fifoOptions, model));

    /// <summary>
    /// As the check without inputs, and the queue's start from the run's inputs, as the run judges it when it samples;
    /// what the run would ignore is said here, once, before the model loads.
    /// </summary>
    public void Check(object? options, ModelInfo model, JobInputs inputs, PluginContext context)
    {
        var geometry = Checked(options, context, fifoOptions => FifoPlan.Fit(fifoOptions, model, inputs).Geometry);
        if (inputs.NegativePromptUnused(geometry.Guidance) is { } unused) context.Log.Warning(unused);
    }

    /// <summary>The options checked, then fitted to the model, then their base-clip cache folder: in that order, so the first problem is the one said.</summary>
    static FifoPlan.Geometry Checked(object? options, PluginContext context, Func<FifoOptions, FifoPlan.Geometry> fit)
    {
        var fifoOptions = Checked(options);
        var geometry = fit(fifoOptions);
        _ = BaseClipCache.For(fifoOptions.BaseClipCache, context);
        return geometry;
    }

    static FifoOptions Checked(object? options)
    {
        var fifoOptions = PluginOptions.As<FifoOptions>(options, "fifo sampler");
        var problem = fifoOptions.Validate().FirstOrDefault();
        if (problem is not null) throw FifoOptions.Refusal(problem);
        return fifoOptions;
    }
}
