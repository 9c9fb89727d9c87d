using FifoPipes.Abstractions;

namespace FifoPipes.Samplers.Fifo;

/// <summary>The "fifo" sampler plugin.</summary>
[FifoPlugin(PluginKind.Sampler, "fifo", typeof(ISamplerFactory),
    Description = "FIFO-Diffusion: diagonal denoising of a queue of frames at increasing noise levels, with partitions and lookahead; endless video from a fixed-length model.",
    OptionsType = typeof(FifoOptions))]
public sealed class FifoSamplerFactory : ISamplerFactory
{
    public ISampler Create(object? options, PluginContext context) => new FifoSampler(Checked(options), context);

    /// <summary>The queue's geometry and step checked against the model before it loads; the job's inputs wait for the run.</summary>
    public void Check(object? options, ModelInfo model, PluginContext context)
    {
        var fifoOptions = Checked(options);
        FifoPlan.Fit(fifoOptions, model);
        _ = BaseClipCache.For(fifoOptions.BaseClipCache, context);
    }

    static FifoOptions Checked(object? options)
    {
        var fifoOptions = PluginOptions.As<FifoOptions>(options, "fifo sampler");
        var problem = fifoOptions.Validate().FirstOrDefault();
        if (problem is not null) throw new FifoInputException("BadSamplerOption", $"fifo sampler option '{problem.Option}': {problem.Message}") { Option = problem.Option };
        return fifoOptions;
    }
}
