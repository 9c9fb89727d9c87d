using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Core.Devices;

/// <summary>A prompt embedded by every replica of a <see cref="ReplicatedModel"/>: replica i uses <see cref="For"/>(i).</summary>
public sealed class ReplicatedConditioning : Conditioning
{
    readonly Conditioning[] perReplica;

    internal ReplicatedConditioning(string prompt, Conditioning[] perReplica) : base(prompt) => this.perReplica = perReplica;

    /// <summary>Replica <paramref name="replica"/>'s own conditioning (0 is the primary's), on that replica's device; owned by this conditioning, so dispose this one, not it.</summary>
    public Conditioning For(int replica) => perReplica[replica];

    /// <summary>The replicas see their own conditionings, so they are marked too.</summary>
    public override bool IsNegative
    {
        get => base.IsNegative;
        set
        {
            base.IsNegative = value;
            foreach (var c in perReplica) c.IsNegative = value;
        }
    }

    /// <summary>Disposes every replica's conditioning.</summary>
    public override void Dispose()
    {
        foreach (var c in perReplica) c.Dispose();
    }
}

/// <summary>What a replica of a <see cref="ReplicatedModel"/> is loaded for.</summary>
public enum ReplicaRole
{
    /// <summary>Replica 0: the whole model (text encoder, denoiser, frame decoder and encoder).</summary>
    Primary,
    /// <summary>
    /// The others: the denoiser alone. Prompts reach them from the primary (<see cref="IAdoptConditioning"/>, which a
    /// model loaded this way must offer) and frames are decoded and encoded on the primary.
    /// </summary>
    Denoiser,
}

/// <summary>What a denoiser-only replica (<see cref="ReplicaRole.Denoiser"/>) says when asked for a part it does not hold.</summary>
public static class DenoiserOnlyReplica
{
    /// <summary>The error for a text encoder asked of a denoiser-only replica of <paramref name="model"/> (a name for the message); returned for the caller to throw.</summary>
    public static InvalidOperationException HasNoTextEncoder(string model) =>
        new($"This {model} replica was loaded as a denoiser only and has no text encoder; prompts reach it from the primary through {nameof(IAdoptConditioning.Adopt)}.");

    /// <summary>The error for a VAE asked of a denoiser-only replica of <paramref name="model"/> (a name for the message); returned for the caller to throw.</summary>
    public static InvalidOperationException HasNoVae(string model) =>
        new($"This {model} replica was loaded as a denoiser only and has no VAE; frames are decoded and encoded on the primary replica.");
}

/// <summary>
/// One model on several devices: a replica per device, each holding its own weights. <see cref="PredictNoise"/> splits
/// the batch rows into contiguous, nearly equal parts, runs part i on replica i — replica 0 on the calling thread,
/// the others each on a dedicated thread of their own (TorchSharp's dispose scopes and grad mode are per thread) —
/// and gathers eps on the primary device (replica 0's), in row order. Windows and guidance branches are independent
/// rows, so the result equals one device's whenever the model computes each row on its own.
/// Text encoding, decoding and encoding frames stay with the primary; replicas that can adopt its embeddings
/// (<see cref="IAdoptConditioning"/>) need no text encoder of their own.
/// </summary>
public class ReplicatedModel : IVideoModel, IPairedUnconditional, IReusableModel
{
    readonly IVideoModel[] replicas;
    readonly ReplicaThread?[] threads;

    /// <param name="replicas">The same model loaded once per device; the first is the primary. The replicated model owns them.</param>
    public ReplicatedModel(IReadOnlyList<IVideoModel> replicas)
    {
        if (replicas.Count == 0) throw new ArgumentException("At least one replica is needed.", nameof(replicas));
        var info = replicas[0].Info;
        for (int i = 1; i < replicas.Count; i++)
        {
            var other = replicas[i].Info;
            if (other.LatentChannels != info.LatentChannels || other.LatentHeight != info.LatentHeight || other.LatentWidth != info.LatentWidth ||
                other.WindowFrames != info.WindowFrames || other.Name != info.Name)
                throw new ArgumentException($"Replica {i} ({other.Name}) does not match the primary ({info.Name}): every replica must be the same model.", nameof(replicas));
        }
        this.replicas = replicas.ToArray();
        threads = this.replicas.Select((r, i) => i == 0 ? null : new ReplicaThread($"fifo-replica-{i} ({r.Info.Device})")).ToArray();
    }

    /// <summary>Loads the whole model once per device with <paramref name="load"/>; a single device gives that model itself, unwrapped.</summary>
    public static IVideoModel Create(IReadOnlyList<Device> devices, Func<Device, IVideoModel> load) =>
        Create(devices, (device, _) => load(device));

    /// <summary>
    /// Loads one replica per device with <paramref name="load"/>: the first device's as <see cref="ReplicaRole.Primary"/>,
    /// the others' as <see cref="ReplicaRole.Denoiser"/>. A single device gives that model itself, unwrapped.
    /// </summary>
    public static IVideoModel Create(IReadOnlyList<Device> devices, Func<Device, ReplicaRole, IVideoModel> load)
    {
        if (devices.Count == 0) throw new ArgumentException("No devices were given.", nameof(devices));
        if (devices.Count == 1) return LoadOne(load, devices[0], ReplicaRole.Primary);
        var loaded = new List<IVideoModel>();
        try
        {
            for (int i = 0; i < devices.Count; i++) loaded.Add(LoadOne(load, devices[i], i == 0 ? ReplicaRole.Primary : ReplicaRole.Denoiser));
            return loaded.All(m => m is IFusedTemporalAttention) ? new FusedReplicatedModel(loaded) : new ReplicatedModel(loaded);
        }
        catch
        {
            foreach (var model in loaded) model.Dispose();
            throw;
        }
    }

    /// <summary>A model too big for its device is an input error that says what to change, not libtorch's allocator message.</summary>
    static IVideoModel LoadOne(Func<Device, ReplicaRole, IVideoModel> load, Device device, ReplicaRole role)
    {
        try { return load(device, role); }
        catch (Exception error) when (DeviceMemory.IsOutOfMemory(error))
        {
            // A network that failed inside its constructor is unreachable but still holds its tensors until finalized.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            throw new FifoInputException("ModelDoesNotFit",
                $"The model does not fit in the memory of {device} ({ExceptionChain.FirstLine(error)}). Load it in bfloat16 (dType: bfloat16, half the " +
                "memory of float32), leave the device to this run alone, choose a smaller preset or frame size, or give a device list to spread the windows.", error);
        }
    }

    /// <summary>The primary's info: every replica matches it in name, latent shape and window, and <see cref="ModelInfo.Device"/> is the primary's, where eps is gathered.</summary>
    public ModelInfo Info => replicas[0].Info;

    /// <summary>True only when every replica is an <see cref="IReusableModel"/> that can serve another run.</summary>
    public bool CanServeAnotherRun => replicas.All(r => r is IReusableModel { CanServeAnotherRun: true });

    /// <summary>Calls <see cref="IReusableModel.BeginRun"/> on every replica; only for a model whose <see cref="CanServeAnotherRun"/> is true (a replica that is not reusable is an InvalidCastException).</summary>
    public void BeginRun()
    {
        foreach (var replica in replicas) ((IReusableModel)replica).BeginRun();
    }
    /// <summary>The replicas in device-list order, the primary first; this model owns and disposes them.</summary>
    public IReadOnlyList<IVideoModel> Replicas => replicas;
    /// <summary>Rows each replica received in the last <see cref="PredictNoise"/> call (tests, benchmarks).</summary>
    public IReadOnlyList<long> LastSplit { get; private set; } = Array.Empty<long>();

    /// <summary>Embeds <paramref name="prompt"/> on the primary and hands the other replicas a copy (<see cref="IAdoptConditioning"/>), or has each embed it where it cannot adopt; only this model's calls take the result.</summary>
    public Conditioning Encode(string prompt) => PerReplica(prompt, replica => replica.Encode(prompt));

    /// <summary>Pairs as the replicas do: only when their model pairs "" with each prompt.</summary>
    public bool PairsUnconditional => replicas[0] is IPairedUnconditional { PairsUnconditional: true };

    /// <summary>Each replica's own pairing (adopted from the primary's where it can); for replicas that do not pair, the one "" embedding.</summary>
    public Conditioning UnconditionalFor(Conditioning conditional)
    {
        var own = Own(conditional, nameof(conditional));
        return PairsUnconditional
            ? PerReplica("", (replica, i) => ((IPairedUnconditional)replica).UnconditionalFor(own.For(i)))
            : Encode("");
    }

    /// <summary>The negative paired as each replica pairs it (adopted from the primary's where it can); unpaired for replicas that do not pair.</summary>
    public Conditioning Pair(Conditioning negative, Conditioning conditional)
    {
        var (ownNegative, own) = (Own(negative, nameof(negative)), Own(conditional, nameof(conditional)));
        return PairsUnconditional
            ? PerReplica(negative.Prompt, (replica, i) => ((IPairedUnconditional)replica).Pair(ownNegative.For(i), own.For(i)))
            : Encode(negative.Prompt);
    }

    static ReplicatedConditioning Own(Conditioning conditioning, string name) => conditioning as ReplicatedConditioning
        ?? throw new ArgumentException("The conditioning was not made by this replicated model's Encode.", name);

    /// <summary>
    /// A conditioning for every replica: the primary makes its own with <paramref name="make"/>, the others adopt a copy
    /// of it when they can (so they need no text encoder), else make their own.
    /// </summary>
    ReplicatedConditioning PerReplica(string prompt, Func<IVideoModel, int, Conditioning> make)
    {
        var perReplica = new Conditioning[replicas.Length];
        try
        {
            perReplica[0] = make(replicas[0], 0);
            for (int i = 1; i < replicas.Length; i++)
                perReplica[i] = replicas[i] is IAdoptConditioning adopter ? adopter.Adopt(perReplica[0]) : make(replicas[i], i);
        }
        catch
        {
            foreach (var c in perReplica) c?.Dispose();
            throw;
        }
        return new ReplicatedConditioning(prompt, perReplica);
    }

    ReplicatedConditioning PerReplica(string prompt, Func<IVideoModel, Conditioning> make) => PerReplica(prompt, (replica, _) => make(replica));

    /// <summary>
    /// As <see cref="IVideoModel.PredictNoise"/>, with the rows split across the replicas and eps gathered on the primary device
    /// in row order. Throws <see cref="ArgumentException"/> when timesteps or conditioning do not have one entry per row of
    /// <paramref name="x"/>, or a conditioning was not made by this model's <see cref="Encode"/>.
    /// </summary>
    public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) =>
        PredictSplit(x, timesteps, conditioning, (model, xs, ts, cs) => model.PredictNoise(xs, ts, cs));

    /// <summary>Splits the rows of one model call across the replicas with <paramref name="predict"/> as the call.</summary>
    protected Tensor PredictSplit(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning,
        Func<IVideoModel, Tensor, Tensor, IReadOnlyList<Conditioning>, Tensor> predict)
    {
        long rows = x.shape[0];
        if (timesteps.shape[0] != rows || conditioning.Count != rows)
            throw new ArgumentException($"x has {rows} rows but timesteps {timesteps.shape[0]} and conditioning {conditioning.Count}; give one of each per row.");
        for (int i = 0; i < conditioning.Count; i++)
            if (conditioning[i] is not ReplicatedConditioning)
                throw new ArgumentException($"Conditioning of row {i} was not made by this replicated model's Encode.", nameof(conditioning));

        var split = Split(rows, replicas.Length);
        LastSplit = split;
        var pending = new Task<Tensor>?[replicas.Length];
        long start = split[0];
        for (int r = 1; r < replicas.Length; r++)
        {
            if (split[r] == 0) continue;
            pending[r] = threads[r]!.Run(RowsOn(r, x, timesteps, conditioning, start, split[r], predict));
            start += split[r];
        }

        var parts = new List<Tensor>();
        Exception? failure = null;
        try
        {
            // The primary's rows run here, in the caller's dispose scope, while the other replicas work.
            parts.Add(predict(replicas[0], x.narrow(0, 0, split[0]), timesteps.narrow(0, 0, split[0]), Own(0, conditioning, 0, split[0])));
        }
        catch (Exception e) { failure = e; }
        // Every replica finishes before anything is rethrown or freed: their inputs are views of the caller's x.
        for (int r = 1; r < replicas.Length; r++)
        {
            if (pending[r] is not { } task) continue;
            try { parts.Add(task.GetAwaiter().GetResult()); }
            catch (Exception e) { failure ??= e; }
        }
        if (failure is not null)
        {
            foreach (var part in parts) part.Dispose();
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
        if (parts.Count == 1) return parts[0];
        var eps = cat(parts, 0);
        foreach (var part in parts) part.Dispose();
        return eps;
    }

    Func<Tensor> RowsOn(int replica, Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, long start, long count,
        Func<IVideoModel, Tensor, Tensor, IReadOnlyList<Conditioning>, Tensor> predict)
    {
        var model = replicas[replica];
        var primary = Info.Device;
        var own = Own(replica, conditioning, start, count);
        return () =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var device = model.Info.Device;
            var eps = predict(model, x.narrow(0, start, count).to(device), timesteps.narrow(0, start, count).to(device), own);
            return eps.to(primary).DetachFromDisposeScope();
        };
    }

    static IReadOnlyList<Conditioning> Own(int replica, IReadOnlyList<Conditioning> conditioning, long start, long count) =>
        Enumerable.Range((int)start, (int)count).Select(i => ((ReplicatedConditioning)conditioning[i]).For(replica)).ToList();

    /// <summary>Rows per replica: <paramref name="rows"/> split into contiguous parts, the first ones one larger when it does not divide.</summary>
    public static long[] Split(long rows, int replicas)
    {
        var parts = new long[replicas];
        for (int r = 0; r < replicas; r++) parts[r] = rows / replicas + (r < rows % replicas ? 1 : 0);
        return parts;
    }

    /// <summary>The primary's decoder: frames are decoded on the primary device only.</summary>
    public IFrameDecoder CreateDecoder() => replicas[0].CreateDecoder();

    /// <summary>Encoded by the primary; the latents are on the primary device.</summary>
    public Tensor EncodeFrames(Tensor rgb) => replicas[0].EncodeFrames(rgb);

    /// <summary>As <see cref="EncodeFrames(Tensor)"/>, under <paramref name="prompt"/> (see <see cref="IVideoModel.EncodeFrames(Tensor, string)"/>).</summary>
    public Tensor EncodeFrames(Tensor rgb, string prompt) => replicas[0].EncodeFrames(rgb, prompt);

    /// <summary>Lets each replica thread finish the work already given it, then disposes every replica.</summary>
    public void Dispose()
    {
        foreach (var thread in threads) thread?.Dispose();
        foreach (var replica in replicas) replica.Dispose();
    }

    /// <summary>A dedicated thread that runs one piece of model work at a time.</summary>
    sealed class ReplicaThread : IDisposable
    {
        readonly BlockingCollection<Action> work = new();
        readonly Thread thread;

        public ReplicaThread(string name)
        {
            thread = new Thread(Loop) { IsBackground = true, Name = name };
            thread.Start();
        }

        public Task<Tensor> Run(Func<Tensor> job)
        {
            var done = new TaskCompletionSource<Tensor>(TaskCreationOptions.RunContinuationsAsynchronously);
            work.Add(() =>
            {
                try { done.SetResult(job()); }
                catch (Exception e) { done.SetException(e); }
            });
            return done.Task;
        }

        void Loop()
        {
            foreach (var item in work.GetConsumingEnumerable()) item();
        }

        public void Dispose()
        {
            work.CompleteAdding();
            thread.Join();
            work.Dispose();
        }
    }
}

/// <summary>Replicas that all offer window-fused temporal attention: its calls are split across them too.</summary>
public sealed class FusedReplicatedModel : ReplicatedModel, IFusedTemporalAttention
{
    /// <param name="replicas">As for <see cref="ReplicatedModel"/>; every one must implement <see cref="IFusedTemporalAttention"/>,
    /// or this throws <see cref="ArgumentException"/>.</param>
    public FusedReplicatedModel(IReadOnlyList<IVideoModel> replicas) : base(replicas)
    {
        if (!replicas.All(r => r is IFusedTemporalAttention))
            throw new ArgumentException("Every replica must offer window-fused temporal attention.", nameof(replicas));
    }

    /// <summary>As <see cref="IFusedTemporalAttention.PredictNoiseFused"/>, its rows split across the replicas as <see cref="ReplicatedModel.PredictNoise"/> splits them.</summary>
    public Tensor PredictNoiseFused(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning, int stride) =>
        PredictSplit(x, timesteps, conditioning, (model, xs, ts, cs) => ((IFusedTemporalAttention)model).PredictNoiseFused(xs, ts, cs, stride));
}
