using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// A sampler's latents as the engine takes them: what its code throws names it, and each latent is checked against
/// the contract (one [C, h, w] latent of the model per frame, frames in order, all of the run's), so a third-party
/// sampler's mistake is told as its own rather than found later as a wrong-sized frame, a short video or a decoder error.
/// </summary>
sealed class CheckedLatents
{
    readonly string sampler;
    readonly long[] latentShape;
    readonly long frames;
    readonly bool resuming;
    readonly (string Source, string Whose)[] owners;

    /// <param name="sampler">The sampler as messages name it, with the model it ran on.</param>
    /// <param name="owners">The sampler's and the model's assemblies, to say whose code an error was thrown in (<see cref="PluginFailedException.ThrownIn"/>).</param>
    public CheckedLatents(string sampler, ModelInfo model, long frames, bool resuming, params (string Source, string Whose)[] owners) =>
        (this.sampler, latentShape, this.frames, this.resuming, this.owners) = (sampler, new long[] { model.LatentChannels, model.LatentHeight, model.LatentWidth }, frames, resuming, owners);

    /// <summary>The latents, checked as they come; the count is not held against a sampler stopped by <paramref name="cancellation"/>.</summary>
    public IEnumerable<LatentFrame> Of(IEnumerable<LatentFrame> latents, CancellationToken cancellation)
    {
        // A fresh run starts at frame 0; a resumed one where its snapshot was taken.
        long next = resuming ? -1 : 0;
        using var enumerator = PluginFailedException.Guard($"Starting {sampler}", latents.GetEnumerator);
        while (true)
        {
            LatentFrame latent;
            try
            {
                if (!enumerator.MoveNext()) break;
                latent = enumerator.Current;
            }
            catch (Exception error) when (PluginFailedException.Names(error))
            {
                throw new PluginFailedException($"Sampling with {sampler} failed{(next <= 0 ? "" : $" after frame {next - 1}")}{PluginFailedException.ThrownIn(error, owners)}", error);
            }
            Check(latent, ref next);
            yield return latent;
        }
        if (cancellation.IsCancellationRequested) yield break;
        if (next == 0) throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} made no frames of the run's {frames}");
        if (next > 0 && next != frames)
            throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} stopped at frame {next} of the run's {frames}: a sampler yields every frame of its job, in order");
    }

    void Check(LatentFrame latent, ref long next)
    {
        var shape = latent.Latent.shape;
        if (!shape.SequenceEqual(latentShape))
        {
            latent.Latent.Dispose();
            throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} yielded a latent of shape [{string.Join(", ", shape)}] for frame {latent.Index}; " +
                                            $"the model's frames are [{string.Join(", ", latentShape)}] (channels, height, width), one latent per frame");
        }
        if (latent.Replayed) return;
        if (next >= 0 && latent.Index != next || latent.Index < 0 || latent.Index >= frames)
        {
            latent.Latent.Dispose();
            throw new PluginFailedException($"{PluginFailedException.Capital(sampler)} yielded frame {latent.Index} " +
                                            (next > 0 ? $"after frame {next - 1}" : next == 0 ? "first" : $"of a run of {frames}") + ": a sampler yields every frame of its job, in order");
        }
        next = latent.Index + 1;
    }
}
