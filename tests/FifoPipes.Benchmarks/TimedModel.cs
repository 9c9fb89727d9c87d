using System.Diagnostics;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks;

/// <summary>Wraps a model and accumulates the time spent inside <see cref="IVideoModel.PredictNoise"/>.</summary>
public sealed class TimedModel(IVideoModel inner) : IVideoModel
{
    readonly Stopwatch predicting = new();

    public TimeSpan PredictNoiseTime => predicting.Elapsed;
    public long PredictNoiseCalls { get; private set; }

    public ModelInfo Info => inner.Info;
    public Conditioning Encode(string prompt) => inner.Encode(prompt);

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        predicting.Start();
        try { return inner.PredictNoise(x, timesteps, conditioning); }
        finally
        {
            predicting.Stop();
            PredictNoiseCalls++;
        }
    }

    public IFrameDecoder CreateDecoder() => inner.CreateDecoder();
    public Tensor EncodeFrames(Tensor rgb) => inner.EncodeFrames(rgb);
    public void Dispose() => inner.Dispose();
}
