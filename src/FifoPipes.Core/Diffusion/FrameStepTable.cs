using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Core.Diffusion;

/// <summary>
/// The S inference steps of a sampler as a table indexed by k (k = 0 cleanest, k = S - 1 noisiest), with one
/// timestep per frame: every frame of a call may be at its own index k. This is all FIFO-Diffusion needs from a
/// scheduler, and the ordinary (base clip) sampler is the special case where every frame has the same k.
/// </summary>
public sealed class FrameStepTable
{
    readonly Coefficients[] coefficients;

    FrameStepTable(StepKind kind, long[] timesteps, float[] alphas, float[] alphasPrev, Coefficients[] coefficients, bool clipSample)
    {
        Kind = kind;
        Timesteps = timesteps;
        Alphas = alphas;
        AlphasPrev = alphasPrev;
        this.coefficients = coefficients;
        ClipSample = clipSample;
    }

    /// <summary>The update rule the table's coefficients are for.</summary>
    public StepKind Kind { get; }
    /// <summary>tau_k, ascending.</summary>
    public IReadOnlyList<long> Timesteps { get; }
    /// <summary>a_k = abar[tau_k].</summary>
    public IReadOnlyList<float> Alphas { get; }
    /// <summary>a'_k: abar[tau_{k-1}]; for k = 0, abar[0] (DDIM, FIFO's no-op first step) or 1 (DDPM, diffusers' final step).</summary>
    public IReadOnlyList<float> AlphasPrev { get; }
    /// <summary>Whether <see cref="Step(Tensor, Tensor, StepCoefficients, Tensor?)"/> clamps x0 to [-1, 1]: a DDPM table built with clipSample; never a DDIM table.</summary>
    public bool ClipSample { get; }
    /// <summary>S; step indices k run 0..S - 1.</summary>
    public int Steps => Timesteps.Count;

    /// <summary>sigma_k of DDIM (0 for DDPM tables).</summary>
    public float Sigma(int k) => coefficients[k].Sigma;
    /// <summary>sqrt(1 - a_k) in float32.</summary>
    public float SqrtOneMinusAlpha(int k) => coefficients[k].SqrtOneMinusAlpha;
    /// <summary>s_k, the x0 scale training applied at tau_k (LDM's scale_arr; 1 for models without one and for DDPM tables).</summary>
    public float X0Scale(int k) => Kind == StepKind.Ddim ? coefficients[k].X0Scale : 1f;

    /// <summary>Whether step k adds noise, i.e. whether a noise tensor must be drawn for it.</summary>
    public bool UsesNoise(int k) => Kind == StepKind.Ddim ? coefficients[k].Sigma != 0 : coefficients[k].Std != 0;

    /// <summary>
    /// Why an <paramref name="eta"/> given beside the update rule <paramref name="kind"/> would be ignored, for samplers
    /// to refuse it; null when it is not.
    /// </summary>
    public static string? EtaIgnored(StepKind kind, double? eta) =>
        eta is not null && kind == StepKind.Ddpm ? "only applies to step: ddim (a DDPM step always adds its posterior noise); remove it or set step: ddim" : null;

    /// <summary>
    /// FIFO's table for a model: DDIM on round(linspace(0, T-1, S)) with LDM-precision alphas (float64 then float32),
    /// or DDPM (Open-Sora Plan's diffusers DDPMScheduler) on the ascending "leading" grid with float32 alphas.
    /// With <paramref name="strength"/> below 1 (video-to-video), the same S steps over the first strength · T training
    /// timesteps, so the noisiest sits at about strength · T, as img2img pipelines start theirs.
    /// </summary>
    public static FrameStepTable ForModel(NoiseSchedule schedule, StepKind kind, int steps, double eta, bool clipSample, double strength = 1)
    {
        if (!(strength > 0 && strength <= 1)) throw new ArgumentOutOfRangeException(nameof(strength), strength, "Strength is in (0, 1].");
        int span = strength >= 1 ? schedule.TrainTimesteps : Math.Max(steps, (int)Math.Round(strength * (schedule.TrainTimesteps - 1)) + 1);
        return kind switch
        {
            StepKind.Ddim => Ddim(AlphaSchedules.LdmAlphasCumprod(schedule), TimestepGrids.FifoUniform(steps, span), eta, AlphaSchedules.X0Scale(schedule)),
            StepKind.Ddpm => Ddpm(AlphaSchedules.DiffusersAlphasCumprod(schedule), TimestepGrids.LeadingAscending(steps, span), clipSample),
            // A step a newer model declares: the user's choice of model, not a bug here.
            _ => throw new FifoInputException("StepUnsupported",
                $"The step '{kind}' is newer than this sampler, which takes ddim and ddpm: set the sampler's step (step: ddim), or update FifoPipes."),
        };
    }

    /// <summary>
    /// DDIM as LDM's make_ddim_sampling_parameters builds it: a'_0 = abar[0], and
    /// sigma = eta sqrt(f32(1 / f32(1 - a)) (1 - a') (1 - a / a')) in float64, then float32 (so sigma_0 = 0 exactly).
    /// </summary>
    public static FrameStepTable Ddim(float[] alphasCumprod, long[] tau, double eta, float[]? x0ScaleByTimestep = null)
    {
        CheckGrid(alphasCumprod, tau);
        int steps = tau.Length;
        var a = new float[steps];
        var ap = new float[steps];
        var c = new Coefficients[steps];
        for (int k = 0; k < steps; k++)
        {
            a[k] = alphasCumprod[tau[k]];
            ap[k] = k == 0 ? alphasCumprod[0] : alphasCumprod[tau[k - 1]];
            float reciprocal = 1f / (1f - a[k]);
            float sigma = (float)(eta * Math.Sqrt(reciprocal * (1.0 - ap[k]) * (1.0 - (double)a[k] / ap[k])));
            float scale = x0ScaleByTimestep is null ? 1f : x0ScaleByTimestep[tau[k]];
            float scalePrev = x0ScaleByTimestep is null ? 1f : k == 0 ? x0ScaleByTimestep[0] : x0ScaleByTimestep[tau[k - 1]];
            c[k] = new Coefficients
            {
                SqrtOneMinusAlpha = MathF.Sqrt(1f - a[k]),
                SqrtAlpha = MathF.Sqrt(a[k]),
                SqrtAlphaPrev = MathF.Sqrt(ap[k]),
                Direction = MathF.Sqrt(1f - ap[k] - sigma * sigma),
                Sigma = sigma,
                X0Scale = scale,
                X0ScalePrev = scalePrev,
            };
        }
        return new FrameStepTable(StepKind.Ddim, tau, a, ap, c, clipSample: false);
    }

    /// <summary>diffusers DDPMScheduler (fixed_small variance) per frame: a'_0 = 1, and no noise where tau_k = 0.</summary>
    public static FrameStepTable Ddpm(float[] alphasCumprod, long[] tau, bool clipSample)
    {
        CheckGrid(alphasCumprod, tau);
        int steps = tau.Length;
        var a = new float[steps];
        var ap = new float[steps];
        var c = new Coefficients[steps];
        for (int k = 0; k < steps; k++)
        {
            a[k] = alphasCumprod[tau[k]];
            ap[k] = k == 0 ? 1f : alphasCumprod[tau[k - 1]];
            c[k] = DdpmCoefficients(a[k], ap[k], tau[k]);
        }
        return new FrameStepTable(StepKind.Ddpm, tau, a, ap, c, clipSample);
    }

    /// <summary>
    /// One step for frames at their own indices. <paramref name="x"/> and <paramref name="eps"/> are [B, C, F, h, w],
    /// <paramref name="k"/> holds B * F indices in (b, f) order, <paramref name="noise"/> is [B, C, F, h, w] or null when
    /// no frame's step uses noise. <paramref name="applyX0Scale"/> is LDM's use_scale, which only the base-clip sampler applies.
    /// </summary>
    public Tensor Step(Tensor x, Tensor eps, IReadOnlyList<int> k, Tensor? noise, bool applyX0Scale = false)
    {
        if (x.dim() != 5) throw new ArgumentException($"Expected x [B, C, F, h, w], got [{string.Join(", ", x.shape)}].", nameof(x));
        using var coefficients = Prepare(k, x.shape[0], x.shape[2], x.device, applyX0Scale);
        return Step(x, eps, coefficients, noise);
    }

    /// <summary>
    /// The per-frame coefficients of <paramref name="k"/> (B * F indices in (b, f) order) as [B, 1, F, 1, 1] tensors on
    /// <paramref name="device"/>. A sampler whose frames keep their indices from call to call (FIFO's slots) prepares
    /// them once, so a step copies nothing from the host.
    /// </summary>
    public StepCoefficients Prepare(IReadOnlyList<int> k, long batch, long frames, Device device, bool applyX0Scale = false)
    {
        if (k.Count != batch * frames) throw new ArgumentException($"Expected {batch * frames} step indices, got {k.Count}.", nameof(k));
        using var scope = NewDisposeScope();
        Tensor PerFrame(Func<Coefficients, float> pick)
        {
            var values = new float[k.Count];
            for (int i = 0; i < values.Length; i++) values[i] = pick(coefficients[k[i]]);
            return tensor(values, new long[] { batch, 1, frames, 1, 1 }).to(device).MoveToOuterDisposeScope();
        }

        bool noisy = k.Any(UsesNoise);
        if (Kind == StepKind.Ddim)
            return new StepCoefficients(batch, frames, noisy, applyX0Scale,
                PerFrame(c => c.SqrtOneMinusAlpha), PerFrame(c => c.SqrtAlpha),
                applyX0Scale ? PerFrame(c => c.SqrtAlphaPrev * c.X0ScalePrev) : PerFrame(c => c.SqrtAlphaPrev),
                PerFrame(c => c.Direction), PerFrame(c => c.Sigma),
                applyX0Scale ? PerFrame(c => c.X0Scale) : null);
        return new StepCoefficients(batch, frames, noisy, false,
            PerFrame(c => c.SqrtOneMinusAlpha), PerFrame(c => c.SqrtAlpha),
            PerFrame(c => c.X0Coefficient), PerFrame(c => c.SampleCoefficient), PerFrame(c => c.Std), null);
    }

    /// <summary>One step with coefficients from <see cref="Prepare"/>; shapes as in the other overload.</summary>
    public Tensor Step(Tensor x, Tensor eps, StepCoefficients c, Tensor? noise)
    {
        if (x.dim() != 5) throw new ArgumentException($"Expected x [B, C, F, h, w], got [{string.Join(", ", x.shape)}].", nameof(x));
        if (x.shape[0] != c.Batch || x.shape[2] != c.Frames)
            throw new ArgumentException($"Coefficients for [{c.Batch}, *, {c.Frames}] do not fit x [{string.Join(", ", x.shape)}].", nameof(c));
        if (noise is null && c.UsesNoise) throw new ArgumentException("These steps add noise, but no noise tensor was given.", nameof(noise));

        using var scope = NewDisposeScope();
        var x0 = StepMath.PredictX0(x, eps, c.SqrtOneMinusAlpha, c.SqrtAlpha);
        if (ClipSample) x0 = x0.clamp(-1, 1);
        Tensor result;
        if (Kind == StepKind.Ddim)
        {
            if (c.X0Scale is { } scale) x0 = x0.div(scale);
            result = StepMath.Ddim(x0, eps, c.X0Coefficient, c.Second, noise is null ? null : c.NoiseScale, noise);
        }
        else result = StepMath.Ddpm(x0, x, c.X0Coefficient, c.Second, noise is null ? null : c.NoiseScale, noise);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The model's ordinary sampler (LDM's p_sample_ddim loop, x0 scale applied): every frame of <paramref name="start"/>
    /// [B, C, F, h, w] at the same index k, from the noisiest down to clean. <paramref name="predictNoise"/>(x, k) and
    /// <paramref name="stepNoise"/>(k), asked only for steps that add noise, run inside the step's dispose scope.
    /// Returns a new tensor owned by the caller; <paramref name="start"/> is left as it is.
    /// </summary>
    public Tensor SampleInLockstep(Tensor start, Func<Tensor, int, Tensor> predictNoise, Func<int, Tensor> stepNoise, CancellationToken cancellation)
    {
        var ks = new int[start.shape[0] * start.shape[2]];
        Tensor? x = null;
        try
        {
            for (int k = Steps - 1; k >= 0; k--)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var current = x ?? start;
                var eps = predictNoise(current, k);
                var z = UsesNoise(k) ? stepNoise(k) : null;
                Array.Fill(ks, k);
                var next = Step(current, eps, ks, z, applyX0Scale: true).DetachFromDisposeScope();
                x?.Dispose();
                x = next;
            }
            return x!;
        }
        catch
        {
            // Stopped or out of memory half-way: the latents in progress are device memory.
            x?.Dispose();
            throw;
        }
    }

    /// <summary>diffusers' DDPM coefficients for abar_t = a and abar_prev = ap, all in float32.</summary>
    internal static Coefficients DdpmCoefficients(float a, float ap, long t)
    {
        float beta = 1f - a, betaPrev = 1f - ap;
        float alphaT = a / ap, betaT = 1f - alphaT;
        float variance = MathF.Max(betaPrev / beta * betaT, 1e-20f);
        return new Coefficients
        {
            SqrtOneMinusAlpha = MathF.Sqrt(beta),
            SqrtAlpha = MathF.Sqrt(a),
            X0Coefficient = MathF.Sqrt(ap) * betaT / beta,
            SampleCoefficient = MathF.Sqrt(alphaT) * betaPrev / beta,
            Std = t > 0 ? MathF.Sqrt(variance) : 0f,
        };
    }

    static void CheckGrid(float[] alphasCumprod, long[] tau)
    {
        if (tau.Length == 0) throw new ArgumentException("The timestep grid is empty.", nameof(tau));
        for (int k = 0; k < tau.Length; k++)
        {
            if (tau[k] < 0 || tau[k] >= alphasCumprod.Length)
                throw new ArgumentOutOfRangeException(nameof(tau), $"tau[{k}] = {tau[k]} is outside 0..{alphasCumprod.Length - 1}.");
            if (k > 0 && tau[k] <= tau[k - 1]) throw new ArgumentException("The timestep grid must ascend strictly.", nameof(tau));
        }
    }

    internal struct Coefficients
    {
        public float SqrtOneMinusAlpha, SqrtAlpha;
        // DDIM
        public float SqrtAlphaPrev, Direction, Sigma, X0Scale, X0ScalePrev;
        // DDPM
        public float X0Coefficient, SampleCoefficient, Std;
    }
}

/// <summary>
/// Per-frame step coefficients on a device, [B, 1, F, 1, 1] each (see <see cref="FrameStepTable.Prepare"/>).
/// DDIM: <see cref="X0Coefficient"/> = sqrt(a') (times the x0 scale with use_scale), <see cref="Second"/> = the
/// direction coefficient, <see cref="NoiseScale"/> = sigma. DDPM: the posterior mean's x0 and sample coefficients and std.
/// </summary>
public sealed class StepCoefficients : IDisposable
{
    internal StepCoefficients(long batch, long frames, bool usesNoise, bool x0Scaled, Tensor sqrtOneMinusAlpha, Tensor sqrtAlpha,
        Tensor x0Coefficient, Tensor second, Tensor noiseScale, Tensor? x0Scale)
    {
        Batch = batch;
        Frames = frames;
        UsesNoise = usesNoise;
        X0Scaled = x0Scaled;
        SqrtOneMinusAlpha = sqrtOneMinusAlpha.DetachFromDisposeScope();
        SqrtAlpha = sqrtAlpha.DetachFromDisposeScope();
        X0Coefficient = x0Coefficient.DetachFromDisposeScope();
        Second = second.DetachFromDisposeScope();
        NoiseScale = noiseScale.DetachFromDisposeScope();
        X0Scale = x0Scale?.DetachFromDisposeScope();
    }

    /// <summary>B the coefficients were prepared for; a step refuses x of another batch.</summary>
    public long Batch { get; }
    /// <summary>F the coefficients were prepared for; a step refuses x of another frame count.</summary>
    public long Frames { get; }
    /// <summary>Whether any frame's step adds noise (a noise tensor must then be passed).</summary>
    public bool UsesNoise { get; }
    /// <summary>Whether LDM's x0 scale is in: <see cref="X0Coefficient"/> holds s' and <see cref="X0Scale"/> is set (DDIM prepared with applyX0Scale only).</summary>
    public bool X0Scaled { get; }
    /// <summary>sqrt(1 - a_k), float32.</summary>
    public Tensor SqrtOneMinusAlpha { get; }
    /// <summary>sqrt(a_k), float32.</summary>
    public Tensor SqrtAlpha { get; }
    /// <summary>float32. DDIM: sqrt(a'_k), times s'_k when <see cref="X0Scaled"/>. DDPM: sqrt(a') (1 - a / a') / (1 - a).</summary>
    public Tensor X0Coefficient { get; }
    /// <summary>float32. DDIM: sqrt(1 - a' - sigma^2), eps's coefficient. DDPM: sqrt(a / a') (1 - a') / (1 - a), the sample's.</summary>
    public Tensor Second { get; }
    /// <summary>float32. DDIM: sigma_k. DDPM: the posterior std, 0 where tau_k = 0.</summary>
    public Tensor NoiseScale { get; }
    /// <summary>s_k, which x0 is divided by before the DDIM update; null unless <see cref="X0Scaled"/>.</summary>
    public Tensor? X0Scale { get; }

    /// <summary>Frees the device tensors.</summary>
    public void Dispose()
    {
        SqrtOneMinusAlpha.Dispose();
        SqrtAlpha.Dispose();
        X0Coefficient.Dispose();
        Second.Dispose();
        NoiseScale.Dispose();
        X0Scale?.Dispose();
    }
}
