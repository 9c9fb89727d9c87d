using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>A conditioning that is just its prompt.</summary>
public sealed class PromptOnly : Conditioning
{
    public PromptOnly(string prompt) : base(prompt) { }
}

/// <summary>
/// An IVideoModel whose eps comes from a delegate; records every call (batch size, prompts, timesteps) and can run a
/// hook before each call (cancellation tests).
/// </summary>
public sealed class DelegateVideoModel : IVideoModel
{
    public delegate Tensor Denoiser(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning);

    readonly Denoiser denoiser;

    public DelegateVideoModel(ModelInfo info, Denoiser denoiser)
    {
        Info = info;
        this.denoiser = denoiser;
    }

    public ModelInfo Info { get; }
    public List<(int Batch, string[] Prompts, long[] Timesteps)> Calls { get; } = new();
    public Action<int>? BeforeCall { get; set; }

    public Conditioning Encode(string prompt) => new PromptOnly(prompt);

    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        BeforeCall?.Invoke(Calls.Count);
        Calls.Add(((int)x.shape[0], conditioning.Select(c => c.Prompt).ToArray(), timesteps.cpu().data<long>().ToArray()));
        return denoiser(x, timesteps, conditioning);
    }

    public IFrameDecoder CreateDecoder() => throw new NotSupportedException("The sampler tests never decode.");
    public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException("The sampler tests never encode.");
    public void Dispose() { }

    /// <summary>
    /// eps linear in x and t with a cross-frame term and a prompt-dependent offset; purely elementwise, so the result
    /// of a row does not depend on the batch it is in.
    /// </summary>
    public static DelegateVideoModel Linear(int frames = 4, int partitions = 2, int size = 3)
    {
        var info = new ModelInfo
        {
            Name = "linear-test",
            LatentChannels = 2,
            LatentHeight = size,
            LatentWidth = size + 1,
            WindowFrames = frames,
            Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012) { X0ScaleEnd = 0.7 },
            Defaults = new SamplingDefaults { Guidance = 3, Eta = 1, Partitions = partitions },
        };
        return new DelegateVideoModel(info, (x, t, cond) =>
        {
            using var scope = NewDisposeScope();
            var level = t.to(ScalarType.Float32).div(1000).view(t.shape[0], 1, t.shape[1], 1, 1);
            var offset = tensor(cond.Select(c => PromptValue(c.Prompt)).ToArray()).view(-1, 1, 1, 1, 1);
            var eps = x.mul(0.3f).add(x.roll(1, 2).mul(0.05f)).add(level.mul(0.2f)).add(offset);
            return eps.MoveToOuterDisposeScope();
        });
    }

    /// <summary>A fixed value per prompt (FNV-1a, not string.GetHashCode, which changes from one process to the next).</summary>
    public static float PromptValue(string prompt)
    {
        if (prompt.Length == 0) return 0f;
        uint hash = 2166136261;
        foreach (char c in prompt) hash = (hash ^ c) * 16777619;
        return hash % 97 / 97f - 0.5f;
    }
}

/// <summary>Keeps what a run logs, to check its warnings and verbose messages.</summary>
public sealed class RecordingSink : IProgressSink
{
    public List<string> Warnings { get; } = new();
    public List<string> Messages { get; } = new();
    public void Verbose(string message) => Messages.Add(message);
    public void Warning(string message) => Warnings.Add(message);
}
