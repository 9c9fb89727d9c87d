using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Speed;

/// <summary>
/// The FIFO loop never reads a device tensor back to the host: on a GPU such a read waits for every queued kernel,
/// so one per iteration would leave the device idle between calls. A model on the meta device (shapes, no data) makes
/// any device-to-host read an error, so the whole loop, from the first queue to the last popped frame, is checked
/// without a GPU. Host-to-device copies (the iteration's noise, drawn on the host) are allowed here; the profile on a
/// GPU shows whether they wait (docs/gpu.md).
/// </summary>
public sealed class HostSyncFreeLoopTests
{
    static readonly Device Meta = new(TorchSharp.DeviceType.META);

    /// <summary>eps elementwise in x and t, computed where x is; refuses any input off the meta device.</summary>
    sealed class MetaModel : IVideoModel
    {
        public MetaModel() => Info = DelegateVideoModel.Linear(frames: 4, partitions: 2).Info with { Device = Meta };

        public ModelInfo Info { get; }
        public int Calls { get; private set; }

        public Conditioning Encode(string prompt) => new PromptOnly(prompt);

        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
        {
            Assert.Equal(TorchSharp.DeviceType.META, x.device_type);
            Assert.Equal(TorchSharp.DeviceType.META, timesteps.device_type);
            Calls++;
            using var scope = NewDisposeScope();
            var level = timesteps.to(ScalarType.Float32).div(1000).view(timesteps.shape[0], 1, timesteps.shape[1], 1, 1);
            return x.mul(0.3f).add(level).MoveToOuterDisposeScope();
        }

        public IFrameDecoder CreateDecoder() => throw new NotSupportedException("The loop test never decodes.");
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException("The loop test never encodes.");
        public void Dispose() { }
    }

    [Theory]
    [InlineData("noise", true, "1", 1.0)]  // lookahead, guidance, stochastic steps, one window per call
    [InlineData("noise", true, "2", 0.0)]  // two calls an iteration, deterministic steps
    [InlineData("base", false, "0", 1.0)]  // the base clip's DDIM loop first, every window in one call
    public void The_loop_runs_on_a_device_whose_tensors_cannot_be_read(string start, bool lookahead, string windowBatch, double eta)
    {
        var model = new MetaModel();
        var job = new SamplingJob
        {
            Model = model, Prompts = new[] { new PromptSpan("rain", 3), new PromptSpan("snow", 2) },
            Noise = new KeyedNoise(5), Seed = 5, Log = new RecordingSink(),
        };
        var plan = FifoPlan.Resolve(new FifoOptions { Start = start, Lookahead = lookahead, WindowBatch = windowBatch, Eta = eta }, model.Info, job);
        using var run = FifoRun.Create(job, plan, CancellationToken.None);
        var popped = new List<LatentFrame>();
        try
        {
            while (!run.Finished)
                if (run.Advance(CancellationToken.None) is { } frame) popped.Add(frame);
            Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, popped.Select(f => f.Index));
            Assert.All(popped, f => Assert.Equal(TorchSharp.DeviceType.META, f.Latent.device_type));
            Assert.All(popped, f => Assert.Equal(new long[] { 2, model.Info.LatentHeight, model.Info.LatentWidth }, f.Latent.shape));
            Assert.True(model.Calls >= popped.Count, $"{model.Calls} model calls for {popped.Count} frames");
        }
        finally
        {
            foreach (var frame in popped) frame.Latent.Dispose();
        }
    }
}
