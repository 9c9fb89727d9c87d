using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Baselines;

/// <summary>
/// Temporal co-denoising of a whole video at one noise level (Gen-L-Video): at every step each overlapping f-frame
/// window is denoised on its own and every frame takes the weighted mean of the noise predicted for it by the
/// windows that contain it, then the ordinary update runs once per frame. The update is linear in eps for a fixed
/// x and step, so averaging eps is averaging the windows' updates, with the step noise drawn once per frame
/// (keyed by frame id) instead of once per window. One exception: with clip_sample (Open-Sora Plan's DDPM) the update
/// clamps x0, so where a window's x0 leaves [-1, 1] the averaged eps differs slightly from averaged updates.
/// </summary>
public static class WindowCoDenoiser
{
    /// <summary>Window starts covering [0, frames): every <paramref name="stride"/>, the last one flush with the end.</summary>
    public static IReadOnlyList<int> WindowStarts(int frames, int window, int stride)
    {
        if (frames < window) throw new ArgumentOutOfRangeException(nameof(frames), $"The video ({frames} frames) is shorter than one window ({window}).");
        return new TemporalWindows(window, stride).Starts(frames);
    }

    /// <summary>Weight of each window position m = 0..f-1.</summary>
    public static float[] PositionWeights(int window, WindowWeighting weighting) =>
        weighting == WindowWeighting.Uniform ? Enumerable.Repeat(1f, window).ToArray() : TemporalWindows.Triangle(window);

    /// <summary>
    /// Denoises <paramref name="start"/> [1, C, V, h, w] (pure noise at the table's noisiest level) to a clean video.
    /// Windows are evaluated <paramref name="windowBatch"/> per model call (0 = all of a step); each window takes the
    /// prompt of its middle frame. With <paramref name="fuseInAttention"/> the windows meet inside the model's temporal
    /// attention instead (one call on the whole video per step, under the prompt of frame 0).
    /// </summary>
    public static Tensor Denoise(Tensor start, ClipPlan plan, GuidedModel model, INoiseSource noise, int stride, WindowWeighting weighting,
        int windowBatch, CancellationToken cancellation, bool fuseInAttention = false)
    {
        int f = plan.WindowFrames;
        int frames = (int)start.shape[2];
        var device = start.device;
        var layout = new TemporalWindows(f, stride);
        var starts = WindowStarts(frames, f, stride);
        var weights = PositionWeights(f, weighting);
        int batchSize = windowBatch == 0 ? starts.Count : windowBatch;
        // Only the averaged path needs the weights as tensors; fused attention weighs its windows inside the model.
        using var weightSum = fuseInAttention ? null : tensor(layout.Cover(frames, weights), new long[] { 1, 1, frames, 1, 1 }).to(device).DetachFromDisposeScope();
        using var positionWeight = fuseInAttention ? null : tensor(weights, new long[] { 1, 1, f, 1, 1 }).to(device).DetachFromDisposeScope();

        Tensor AveragedWindows(Tensor x, long timestep)
        {
            var eps = zeros_like(x);
            foreach (var batch in starts.Chunk(batchSize))
            {
                cancellation.ThrowIfCancellationRequested();
                // Each batch's windows and predictions go before the next batch: windowBatch bounds memory, eps is in place.
                using var batchScope = NewDisposeScope();
                var windows = cat(batch.Select(s => x.narrow(2, s, f)).ToList(), 0);
                var predicted = model.PredictNoise(windows, timestep, batch.Select(s => (long)(s + f / 2)).ToList());
                for (int b = 0; b < batch.Length; b++)
                    eps.narrow(2, batch[b], f).add_(predicted.narrow(0, b, 1).mul(positionWeight!));
            }
            return eps.div_(weightSum!);
        }

        return plan.Table.SampleInLockstep(start,
            (x, k) => fuseInAttention ? model.PredictNoiseFused(x, plan.Table.Timesteps[k], promptFrame: 0, stride) : AveragedWindows(x, plan.Table.Timesteps[k]),
            k => FrameNoise(plan, noise, frames, NoisePurpose.BaseStep, k, t => t, device), cancellation);
    }

    /// <summary>Frame <paramref name="t"/> of row <paramref name="row"/> of a [B, C, T, h, w] video, as its own tensor (the view is freed at once).</summary>
    public static Tensor FrameOf(Tensor video, long row, long t)
    {
        using var view = video[row, .., t];
        return view.clone().DetachFromDisposeScope();
    }

    /// <summary>[1, C, V, h, w] keyed noise; frame t draws the noise of frame id <paramref name="source"/>(t).</summary>
    public static Tensor FrameNoise(ClipPlan plan, INoiseSource noise, int frames, NoisePurpose purpose, int step, Func<int, long> source, Device device)
    {
        using var scope = NewDisposeScope();
        return noise.StackedFrames(plan.LatentShape, Enumerable.Range(0, frames).Select(source), purpose, step, device).unsqueeze(0).MoveToOuterDisposeScope();
    }
}
