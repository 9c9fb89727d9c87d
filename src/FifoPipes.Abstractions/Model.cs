using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Abstractions;

/// <summary>A model plugin: loads a video diffusion model from its options (paths, preset, device, dtype).</summary>
public interface IModelAdapter
{
    /// <summary>
    /// Loads the model, on the run's worker thread; the host disposes it after the run (after the command, for an
    /// <see cref="IReusableModel"/> kept for the next run). Missing files, a device this machine lacks or weights that
    /// do not fit are a <see cref="FifoInputException"/> naming the fix. A long load stops when
    /// <see cref="PluginContext.Stopping"/> (or <see cref="LoadCancellation.Current"/>) is cancelled.
    /// </summary>
    /// <param name="options">The plugin's options, bound and validated; null for all defaults.</param>
    IVideoModel Load(object? options, PluginContext context);

    /// <summary>
    /// Refuses, without loading weights, what <see cref="Load"/> would refuse before its first tensor: bad options, a
    /// checkpoint or folder that is not there, a device this machine lacks. Test-FifoRecipe -Model asks it, so a recipe
    /// can be checked on the machine that will run it before a job is queued. Contracts 1.6.
    /// </summary>
    void Check(object? options, PluginContext context) { }

    /// <summary>
    /// The <see cref="IVideoModel.Info"/> its <see cref="Load"/> would give, from the options and configuration files
    /// alone (no weights read), so a sampler can refuse what it cannot do with this model before a long load, and
    /// Test-FifoRecipe -Model can say so (<see cref="ISamplerFactory.Check(object?, ModelInfo, JobInputs, PluginContext)"/>). <see cref="ModelInfo.Device"/> and
    /// <see cref="ModelInfo.Fingerprint"/> may stay at their defaults. Bad options are a <see cref="FifoInputException"/>,
    /// as for <see cref="Load"/>; null (the default) where it cannot tell without loading. Its messages are dropped, as
    /// <see cref="Load"/> says the same ones. Implement it explicitly (<c>ModelInfo? IModelAdapter.Describe(...)</c>), as
    /// every member with a default: a signature typed wrong is then a compiler error, not a method never called. Contracts 1.9.
    /// </summary>
    ModelInfo? Describe(object? options, PluginContext context) => null;
}

/// <summary>
/// A loaded video diffusion model as samplers see it: an eps-prediction denoiser with one
/// timestep per frame, a text encoder and a frame decoder. Calls on one model never overlap, but they may come from
/// another thread than the one that loaded it (a replica on a second GPU runs on a thread of its own), so keep no
/// thread-bound state. A complete third-party example: examples/plugins/GaussianModel.
/// </summary>
public interface IVideoModel : IDisposable
{
    /// <summary>What samplers need to know of the model: latent shape, window, schedule, defaults, device and dtype.</summary>
    ModelInfo Info { get; }

    /// <summary>
    /// Embeds a prompt; "" gives the unconditional embedding used for guidance. The caller owns and disposes the
    /// conditioning, which is used long after this call: its tensors must be detached from any dispose scope.
    /// </summary>
    Conditioning Encode(string prompt);

    /// <summary>
    /// Predicts the noise in <paramref name="x"/> [B, C, T, h, w] given per-frame timestep indices
    /// <paramref name="timesteps"/> [B, T] (int64, 0..TrainTimesteps-1) and one conditioning per batch row. x comes in
    /// <see cref="ModelInfo.DType"/> on <see cref="ModelInfo.Device"/>; eps goes back shaped like x on x's device, in any
    /// floating dtype (the caller converts), and belongs to the caller, as the inputs stay its own. Each row depends on
    /// its own inputs only: samplers put windows and guidance branches into one call, several GPUs split it by rows.
    /// A model predicting v or a flow converts to eps.
    /// </summary>
    Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning);

    /// <summary>A streaming decoder: latents go in one at a time as the queue pops them.</summary>
    IFrameDecoder CreateDecoder();

    /// <summary>Encodes RGB frames [T, 3, H, W] in [0, 1] to latents [C, T', h, w] (start from an image or video).</summary>
    Tensor EncodeFrames(Tensor rgb);

    /// <summary>
    /// As <see cref="EncodeFrames(Tensor)"/>, for frames that start a video under <paramref name="prompt"/> (a model whose
    /// latent space follows the prompt, like the analytic model's palette, encodes them in that prompt's look).
    /// </summary>
    Tensor EncodeFrames(Tensor rgb, string prompt) => EncodeFrames(rgb);
}

/// <summary>
/// A model whose temporal attention can run in overlapping windows of its training length, fused by weight
/// (FreeNoise's window-based attention fusion), so one call denoises a clip longer than <see cref="ModelInfo.WindowFrames"/>
/// while every attention still sees the number of frames it was trained on.
/// </summary>
public interface IFusedTemporalAttention
{
    /// <summary>
    /// As <see cref="IVideoModel.PredictNoise"/> on x [B, C, L, h, w] with any L, temporal attention in windows of
    /// <see cref="ModelInfo.WindowFrames"/> frames every <paramref name="stride"/> frames.
    /// </summary>
    Tensor PredictNoiseFused(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, int stride);
}

/// <summary>
/// A model that can serve several runs one after another, so a sweep over seeds or prompts loads it once. Before each
/// run after the first, the engine calls <see cref="BeginRun"/>: the model drops whatever the last run left that could
/// change the next one's frames (a look, a prompt cache whose batches would differ), so every run's frames are those of
/// a freshly loaded model. A model without it is loaded for every run.
/// </summary>
public interface IReusableModel
{
    /// <summary>Called before every run after the first: clear what the last run left that would change this one's frames.</summary>
    void BeginRun();

    /// <summary>False for a wrapper whose inner models cannot serve another run (a device list of such replicas).</summary>
    bool CanServeAnotherRun => true;
}

/// <summary>
/// A model that can take a prompt embedded by another copy of itself (a replica on another device) instead of running
/// a text encoder of its own. A replicated model embeds every prompt once, on its primary, and hands the embedding to
/// the other replicas through this, so those load only their denoiser.
/// </summary>
public interface IAdoptConditioning
{
    /// <summary>
    /// This model's own conditioning for <paramref name="fromAnotherReplica"/>'s prompt, holding a copy of its tensors on
    /// this model's device; <paramref name="fromAnotherReplica"/> stays its maker's.
    /// </summary>
    Conditioning Adopt(Conditioning fromAnotherReplica);
}

/// <summary>
/// A model whose unconditional embedding depends on the prompt it is paired with in classifier-free guidance (Open-Sora
/// Plan cuts the "" caption to its prompt's token count). Guidance asks for each prompt's own unconditional
/// conditioning, so a row's result does not depend on which other rows share its model call, or on how a replicated
/// model splits the call across devices.
/// </summary>
public interface IPairedUnconditional
{
    /// <summary>The "" conditioning to pair with <paramref name="conditional"/>; the caller owns (disposes) it.</summary>
    Conditioning UnconditionalFor(Conditioning conditional);

    /// <summary>
    /// The negative prompt's conditioning (<paramref name="negative"/>, made by this model's Encode) paired with
    /// <paramref name="conditional"/> as "" is in <see cref="UnconditionalFor"/>; the caller owns (disposes) it. A model
    /// that pairs only "" throws <see cref="NotSupportedException"/>, which is what a plugin built before negative
    /// prompts does.
    /// </summary>
    Conditioning Pair(Conditioning negative, Conditioning conditional) =>
        throw new NotSupportedException($"{GetType().Name} pairs only the empty prompt with each prompt; it takes no negative prompt.");

    /// <summary>False for a wrapper whose inner model does not pair (a replicated model of such replicas): one "" serves all.</summary>
    bool PairsUnconditional => true;
}

/// <summary>An embedded prompt. Models derive their own (tensors, parameters); samplers treat it as opaque.</summary>
public abstract class Conditioning : IDisposable
{
    /// <param name="prompt">The prompt embedded; "" for the unconditional embedding.</param>
    protected Conditioning(string prompt) => Prompt = prompt;

    /// <summary>The prompt embedded; "" for the unconditional embedding.</summary>
    public string Prompt { get; }

    /// <summary>
    /// True for what guidance steers away from: the unconditional branch, with the negative prompt or "". Guidance
    /// sets it; a model that treats that branch apart (a caption cut to its prompt's length, a look taken from
    /// conditional rows only) reads it instead of testing for "", which a negative prompt is not.
    /// </summary>
    public virtual bool IsNegative { get; set; }

    /// <summary>Frees the embedding's tensors; the caller of <see cref="IVideoModel.Encode"/> calls it.</summary>
    public virtual void Dispose() { }
}

/// <summary>Turns popped latents into RGB frames, in order. May hold latents back (causal VAEs decode in chunks).</summary>
public interface IFrameDecoder : IDisposable
{
    /// <summary>
    /// Pushes one latent frame [C, h, w]; returns the RGB frames [3, H, W] in [0, 1] now ready (possibly none), on any
    /// device: the engine converts them to 8-bit pixels where they are and copies only those. The engine disposes the
    /// latent after the call and the frames once converted, so a decoder copies what it keeps and returns no view of it.
    /// </summary>
    IReadOnlyList<Tensor> Push(Tensor latent);

    /// <summary>
    /// As <see cref="Push(Tensor)"/>, knowing the prompt the latent was finished under (decoders whose
    /// look depends on the prompt, like the analytic model's palette, need it at prompt changes).
    /// </summary>
    IReadOnlyList<Tensor> Push(Tensor latent, string prompt) => Push(latent);

    /// <summary>Returns the frames still held back at the end of the stream.</summary>
    IReadOnlyList<Tensor> Flush();

    /// <summary>
    /// Which latent the <paramref name="frame"/>-th decoded frame comes from, both counted from the stream's start (also
    /// after a resume), so the frame carries that latent's prompt: itself for one frame per latent; a causal VAE's 2^k
    /// frames per latent map back.
    /// </summary>
    long LatentOf(long frame) => frame;

    /// <summary>
    /// True when the decoder keeps nothing between frames: each latent becomes its own frame at once, so a Push that failed
    /// may simply be repeated, and a snapshot's count of popped latents is the index of the next frame. Snapshots and
    /// resume need this or <see cref="IResumableFrameDecoder"/>.
    /// </summary>
    bool Stateless => false;
}

/// <summary>
/// A decoder that holds latents back (a causal VAE decoding overlapping chunks) and still continues a resumed run: a
/// snapshot keeps the latents it held, a fresh decoder takes them again, and the frames after the resume point are
/// those of an uninterrupted run. All counts are from the stream's start. A decoder that is neither this nor
/// <see cref="IFrameDecoder.Stateless"/> makes snapshots and resume refused.
/// </summary>
public interface IResumableFrameDecoder : IFrameDecoder
{
    /// <summary>The most latents it holds back at any time, so the most a snapshot must keep.</summary>
    int MaxHeldLatents { get; }

    /// <summary>The first latent it still holds after <paramref name="pushed"/> latents; <paramref name="pushed"/> when it holds none.</summary>
    long HeldFrom(long pushed);

    /// <summary>How many frames it has returned after <paramref name="pushed"/> latents.</summary>
    long FramesBefore(long pushed);

    /// <summary>
    /// Readies a fresh decoder for a stream resumed after some count of latents, k: the latents from
    /// <paramref name="heldFrom"/> = <see cref="HeldFrom"/>(k) up to k are pushed next and return no frames (they were
    /// held, not decoded), then the stream goes on with latent k, and the frames returned from then on are numbered
    /// from <see cref="FramesBefore"/>(k).
    /// </summary>
    void ResumeAt(long heldFrom);
}

/// <summary>Static facts a sampler needs about a model.</summary>
public sealed record ModelInfo
{
    /// <summary>The model as users name it (the preset: videocrafter2, zeroscope-576w).</summary>
    public required string Name { get; init; }
    /// <summary>Channels of a latent frame (C of [C, h, w]).</summary>
    public required int LatentChannels { get; init; }
    /// <summary>Height of a latent frame (h).</summary>
    public required int LatentHeight { get; init; }
    /// <summary>Width of a latent frame (w).</summary>
    public required int LatentWidth { get; init; }
    /// <summary>Frames per denoiser call the model was trained on (f).</summary>
    public required int WindowFrames { get; init; }
    /// <summary>Pixels per latent pixel (8 for the KL VAE).</summary>
    public int SpatialScale { get; init; } = 8;
    /// <summary>The noise schedule the model was trained with.</summary>
    public required NoiseSchedule Schedule { get; init; }
    /// <summary>How its authors sample it, where a recipe does not say.</summary>
    public required SamplingDefaults Defaults { get; init; }
    /// <summary>Where <see cref="IVideoModel.PredictNoise"/> takes its inputs (the first device of a device list).</summary>
    public Device Device { get; init; } = CPU;
    /// <summary>The dtype <see cref="IVideoModel.PredictNoise"/> takes its inputs in.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>
    /// What else decides the model's outputs beyond the fields above: its weights' files and the options that change
    /// the network (dtype, configuration overrides, conditioning). Results cached across runs (FIFO's base clips) are
    /// keyed on it; "" for a model whose name says everything.
    /// </summary>
    public string Fingerprint { get; init; } = "";
    /// <summary>
    /// Whether the model is an <see cref="IFusedTemporalAttention"/>, so that a sampler can refuse a fusion the model
    /// lacks before it loads; null where the adapter does not say (one built before contracts 1.13), and the sampler
    /// finds out from the loaded model. Contracts 1.13.
    /// </summary>
    public bool? FusesTemporalAttention { get; init; }
    /// <summary>Height of a decoded frame in pixels.</summary>
    public int PixelHeight => LatentHeight * SpatialScale;
    /// <summary>Width of a decoded frame in pixels.</summary>
    public int PixelWidth => LatentWidth * SpatialScale;
}

/// <summary>
/// How a schedule's betas run from start to end. Values may be added in a minor version: a sampler that meets one it
/// does not know refuses the job with a <see cref="FifoInputException"/>, not a crash.
/// </summary>
public enum BetaSchedule
{
    /// <summary>linspace(start, end, T).</summary>
    Linear,
    /// <summary>linspace(sqrt(start), sqrt(end), T)^2 (LDM's "linear", diffusers' "scaled_linear").</summary>
    ScaledLinear,
}

/// <summary>The training noise schedule of a model.</summary>
public sealed record NoiseSchedule(BetaSchedule Betas, double BetaStart, double BetaEnd, int TrainTimesteps = 1000)
{
    /// <summary>
    /// LDM's use_scale (VideoCrafter2: 0.7, VC1-1024: 0.3; 1 = off): x0 is scaled by
    /// scale_arr = concat(linspace(1, X0ScaleEnd, X0ScaleSteps), full(X0ScaleEnd)) indexed by timestep.
    /// Only the ordinary (base clip) DDIM sampler applies it; FIFO's per-frame step does not.
    /// </summary>
    public double X0ScaleEnd { get; init; } = 1.0;
    /// <summary>Timesteps over which the x0 scale falls from 1 to <see cref="X0ScaleEnd"/>.</summary>
    public int X0ScaleSteps { get; init; } = 400;
}

/// <summary>
/// The update from one timestep to the next. Values may be added in a minor version: a sampler that meets one it does
/// not know refuses the job with a <see cref="FifoInputException"/>, not a crash.
/// </summary>
public enum StepKind
{
    /// <summary>DDIM: deterministic at eta 0, DDPM-like noise at eta 1.</summary>
    Ddim,
    /// <summary>DDPM's ancestral step with the posterior variance.</summary>
    Ddpm,
}

/// <summary>What the model's authors sample with; samplers use these unless the recipe says otherwise.</summary>
public sealed record SamplingDefaults
{
    /// <summary>Classifier-free guidance scale; 1 runs the conditional branch alone.</summary>
    public double Guidance { get; init; } = 12.0;
    /// <summary>DDIM's eta: 0 deterministic, 1 as much fresh noise as DDPM.</summary>
    public double Eta { get; init; } = 1.0;
    /// <summary>The step the model's authors use.</summary>
    public StepKind Step { get; init; } = StepKind.Ddim;
    /// <summary>Clamp the predicted x0 to [-1, 1] (DDPM in Open-Sora Plan).</summary>
    public bool ClipSample { get; init; }
    /// <summary>FIFO's latent partitions (n): the queue holds n windows of f frames.</summary>
    public int Partitions { get; init; } = 4;
    /// <summary>The playback rate the model was trained for.</summary>
    public double Fps { get; init; } = 8;
}
