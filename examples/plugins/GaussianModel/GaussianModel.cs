using System.Security.Cryptography;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;
using FifoPipes.Core.Diffusion;
using static TorchSharp.torch;

namespace GaussianModel;

/// <summary>
/// The plugin: an <see cref="IModelAdapter"/> exported under a name, with its options type. The host constructs it once
/// at load (a constructor that throws is reported then) and calls Load for each run.
/// </summary>
[FifoPlugin(PluginKind.Model, "example-gaussian", typeof(IModelAdapter),
    Description = "Example third-party model: every prompt is a colour, every video a grainy field of it. Exact denoiser, no weights.",
    OptionsType = typeof(GaussianModelOptions))]
public sealed class GaussianModelAdapter : IModelAdapter
{
    public IVideoModel Load(object? options, PluginContext context)
    {
        // The host has bound and validated the options already; null means all defaults.
        var settings = OptionsOf(options);
        var device = ModelDevices.Resolve(settings.Device, ScalarType.Float32);   // refuses a GPU this machine lacks, by name
        context.Log.Verbose($"example-gaussian: {settings.Height}x{settings.Width} latents, window {settings.Frames}, on {device}");
        return new GaussianVideoModel(settings, device);
    }

    /// <summary>
    /// What Load would refuse, without loading: Test-FifoRecipe -Model asks it on the machine that will run the recipe
    /// (here a GPU it lacks; a model with weights also checks that its files are there).
    /// </summary>
    /// <remarks>Explicit, as every member with a default: a signature typed wrong is then a compiler error, not a method never called.</remarks>
    void IModelAdapter.Check(object? options, PluginContext context) =>
        ModelDevices.Resolve(OptionsOf(options).Device, ScalarType.Float32);

    /// <summary>
    /// What Load's model will report, without making it: the host asks before every load, so a sampler can refuse options
    /// this model cannot take (too many steps for its schedule) before the load's cost (none here; minutes for weights).
    /// </summary>
    ModelInfo? IModelAdapter.Describe(object? options, PluginContext context) =>
        GaussianVideoModel.InfoFor(OptionsOf(options), CPU);

    static GaussianModelOptions OptionsOf(object? options) => PluginOptions.As<GaussianModelOptions>(options, "example-gaussian model");
}

/// <summary>
/// A video model whose data are known exactly: every latent pixel of every frame is drawn from N(mu, spread^2), mu the
/// prompt's colour. Its eps-prediction is then the posterior mean in closed form: with x_t = sqrt(a) x0 + sqrt(1 - a) eps,
/// E[eps | x_t] = sqrt(1 - a) (x_t - sqrt(a) mu) / (a spread^2 + 1 - a).
/// </summary>
public sealed class GaussianVideoModel : IVideoModel
{
    const int Channels = 3;
    readonly double spread;
    readonly Tensor alphasCumprod;   // [T] on the model's device, indexed by the samplers' timesteps

    public GaussianVideoModel(GaussianModelOptions options, Device device)
    {
        spread = options.Spread;
        Info = InfoFor(options, device);
        alphasCumprod = tensor(AlphaSchedules.LdmAlphasCumprod(Info.Schedule), device: device).DetachFromDisposeScope();
    }

    /// <summary>What a model of these options reports on <paramref name="device"/>.</summary>
    public static ModelInfo InfoFor(GaussianModelOptions options, Device device) =>
        new()
        {
            Name = "example-gaussian",
            LatentChannels = Channels,
            LatentHeight = options.Height,
            LatentWidth = options.Width,
            WindowFrames = options.Frames,
            Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012),
            Defaults = new SamplingDefaults { Guidance = 1.0, Eta = 1.0, Partitions = 4, Fps = 8 },
            Device = device,
            DType = ScalarType.Float32,
            // Beyond the fields above, only the spread changes what this model makes (cached base clips are keyed on it).
            Fingerprint = $"spread={options.Spread:R}",
        };

    public ModelInfo Info { get; }

    /// <summary>
    /// The prompt's colour in latent units, from a hash of its words ("" is the unconditional mean, 0). The tensors a
    /// conditioning holds outlive every dispose scope of the caller, who disposes the conditioning.
    /// </summary>
    public Conditioning Encode(string prompt)
    {
        var mean = new float[Channels];
        if (prompt.Length > 0)
        {
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(prompt.Trim().ToLowerInvariant()));
            for (int c = 0; c < Channels; c++) mean[c] = (hash[c] / 255f - 0.5f) * 2.4f;   // sigmoid(2 x) spans most of [0, 1]
        }
        return new ColourConditioning(prompt, tensor(mean, device: Info.Device).DetachFromDisposeScope());
    }

    /// <summary>
    /// x [B, C, T, h, w] arrives in <see cref="ModelInfo.DType"/> on <see cref="ModelInfo.Device"/>; timesteps [B, T]
    /// (int64) give each frame its own noise level, as FIFO's diagonal queue needs. Each row is computed from its own
    /// inputs alone (samplers batch windows and guidance branches into one call). Returns eps shaped like x, on x's
    /// device, owned by the caller; the inputs stay the caller's.
    /// </summary>
    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning)
    {
        if (x.dim() != 5 || x.shape[1] != Channels)
            throw new ArgumentException($"Expected x [B, {Channels}, T, h, w], got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        long rows = x.shape[0], frames = x.shape[2];
        var a = alphasCumprod.index_select(0, timesteps.flatten()).reshape(rows, 1, frames, 1, 1);
        var mu = stack(conditioning.Select(c => ((ColourConditioning)c).Mean).ToList()).reshape(rows, Channels, 1, 1, 1);
        var variance = a * (spread * spread) + (1 - a);
        var eps = (1 - a).sqrt() * (x - a.sqrt() * mu) / variance;
        return eps.MoveToOuterDisposeScope();
    }

    public IFrameDecoder CreateDecoder() => new ColourDecoder(Info.SpatialScale);

    /// <summary>The decoder's inverse: 8x8 means, then the inverse of sigmoid(2 x). [T, 3, H, W] in [0, 1] to [C, T, h, w].</summary>
    public Tensor EncodeFrames(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        var pooled = nn.functional.avg_pool2d(rgb.to(ScalarType.Float32, Info.Device), Info.SpatialScale).clamp(1e-3, 1 - 1e-3);
        return (pooled.logit() / 2).permute(1, 0, 2, 3).contiguous().MoveToOuterDisposeScope();
    }

    public void Dispose() => alphasCumprod.Dispose();

    sealed class ColourConditioning(string prompt, Tensor mean) : Conditioning(prompt)
    {
        public Tensor Mean { get; } = mean;
        public override void Dispose() => Mean.Dispose();
    }
}

/// <summary>
/// One latent [C, h, w] in, one RGB frame [3, H, W] in [0, 1] out, at once: stateless, so a snapshot's count of popped
/// latents is the next frame's index and runs can resume. The engine disposes both the latent it pushed (after the call)
/// and the frames returned (once converted), so a decoder that kept latents would have to copy them.
/// </summary>
public sealed class ColourDecoder(int scale) : IFrameDecoder
{
    public IReadOnlyList<Tensor> Push(Tensor latent)
    {
        using var scope = NewDisposeScope();
        var rgb = (latent.to(ScalarType.Float32) * 2).sigmoid().unsqueeze(0);
        var frame = nn.functional.interpolate(rgb, scale_factor: new double[] { scale, scale }, mode: InterpolationMode.Nearest).squeeze(0);
        return new[] { frame.MoveToOuterDisposeScope() };
    }

    public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();

    public bool Stateless => true;

    public void Dispose() { }
}
