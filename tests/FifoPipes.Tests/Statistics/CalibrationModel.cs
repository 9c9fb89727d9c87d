using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Models.Analytic;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Statistics;

/// <summary>
/// The analytic model with every prompt mapped to one fixed prior: the calibration prior of
/// shared/parity/analytic/README.md (8 x 8, one channel, beta 3, k0 0.1, T0 10, v (0.25, -0.5)) unless told
/// otherwise. Fixing the prior keeps the statistics independent of how prompts map to looks.
/// </summary>
public sealed class CalibrationModel : IVideoModel
{
    public static readonly PromptParameters CalibrationPrior = new(new[] { 1.0 }, beta: 3.0, k0: 0.1, t0: 10.0, velocityY: 0.25, velocityX: -0.5);

    readonly AnalyticModel inner;

    public CalibrationModel(int windowFrames = 8, int partitions = 4, int size = 8, PromptParameters? prior = null)
    {
        Prior = prior ?? CalibrationPrior;
        inner = new AnalyticModel(new AnalyticOptions
        {
            Channels = Prior.Channels, Height = size, Width = size, Frames = windowFrames, Partitions = partitions, Guidance = 1, Eta = 1,
            // Room for every step's operator: plain DDIM on a clip asks for all S abar vectors in turn.
            OperatorCache = 4 * windowFrames * partitions,
        });
    }

    public PromptParameters Prior { get; }
    public ModelInfo Info => inner.Info;
    public Conditioning Encode(string prompt) => new AnalyticConditioning(prompt, Prior);
    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => inner.PredictNoise(x, timesteps, conditioning);
    public IFrameDecoder CreateDecoder() => inner.CreateDecoder();
    public Tensor EncodeFrames(Tensor rgb) => inner.EncodeFrames(rgb);
    public void Dispose() => inner.Dispose();
}

/// <summary>
/// A deliberately broken model: the denoiser is told the timestep one step noisier than the one the sampler
/// is at (index k + 1 of the sampler's S-step grid; the noisiest step stays at the top of the grid).
/// </summary>
public sealed class TimestepOffByOneModel : IVideoModel
{
    readonly IVideoModel inner;
    readonly Dictionary<long, long> nextStep = new();

    public TimestepOffByOneModel(IVideoModel inner, int steps)
    {
        this.inner = inner;
        var grid = TimestepGrids.FifoUniform(steps, inner.Info.Schedule.TrainTimesteps);
        for (int k = 0; k < grid.Length; k++) nextStep[grid[k]] = grid[Math.Min(k + 1, grid.Length - 1)];
    }

    public ModelInfo Info => inner.Info;
    public Conditioning Encode(string prompt) => inner.Encode(prompt);

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        var shifted = timesteps.cpu().data<long>().Select(t => nextStep.TryGetValue(t, out var next) ? next
            : throw new InvalidOperationException($"Timestep {t} is not on the {nextStep.Count}-step grid.")).ToArray();
        using var t = tensor(shifted, timesteps.shape);
        return inner.PredictNoise(x, t, conditioning);
    }

    public IFrameDecoder CreateDecoder() => inner.CreateDecoder();
    public Tensor EncodeFrames(Tensor rgb) => inner.EncodeFrames(rgb);
    public void Dispose() => inner.Dispose();
}
