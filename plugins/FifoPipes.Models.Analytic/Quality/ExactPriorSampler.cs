using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// Not a diffusion sampler: draws the video straight from the analytic prior of the job's first prompt (one AR(1)
/// stream per bin, see <see cref="SpectralPrior.Sample"/>). Its statistics are the floor a perfect sampler reaches
/// with the same number of frames.
/// </summary>
public sealed class ExactPriorSampler : ISampler
{
    public IEnumerable<LatentFrame> Sample(SamplingJob job, CancellationToken cancellation)
    {
        if (job.Model is not AnalyticModel model)
            throw new FifoInputException("ExactPriorNeedsAnalytic", $"Exact prior samples need the analytic model, got '{job.Model.Info.Name}'.");
        if (job.Frames > int.MaxValue)
            throw new FifoInputException("ExactPriorTooLong", $"Exact prior samples draw the whole video at once, and {job.Frames} frames cannot be held. Ask for fewer frames.");
        string prompt = job.Prompts[0].Prompt;
        var prior = new SpectralPrior(model.Look(prompt), model.Info.LatentHeight, model.Info.LatentWidth);
        return Run(prior, (int)job.Frames, job.Seed, prompt, cancellation);
    }

    static IEnumerable<LatentFrame> Run(SpectralPrior prior, int frames, long seed, string prompt, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        using var generator = new Generator(unchecked((ulong)seed));
        using var video = prior.Sample(frames, generator);
        for (int t = 0; t < frames; t++)
        {
            cancellation.ThrowIfCancellationRequested();
            yield return new LatentFrame(t, video[.., t].clone().DetachFromDisposeScope(), prompt);
        }
    }
}
