using FifoPipes.Core.Devices;
using System.Globalization;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Torch.UNets;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>The command line: what to measure and how often.</summary>
public sealed record BenchOptions
{
    public string Device { get; init; } = "cpu";
    public string Preset { get; init; } = "tiny";
    public string DType { get; init; } = "float32";
    public int? Partitions { get; init; }
    public int Frames { get; init; } = 4;
    public int Warmup { get; init; } = 1;
    public int Repeats { get; init; } = 3;
    public IReadOnlyList<bool> Lookahead { get; init; } = new[] { true };
    public IReadOnlyList<bool> Guidance { get; init; } = new[] { true };
    public string WindowBatch { get; init; } = "auto";
    public bool Reference { get; init; } = true;
    public double? PeakTflops { get; init; }
    public string? TorchLib { get; init; }
    /// <summary>Also time frames decoded through the preset's VAE (random weights), for seconds per frame end to end.</summary>
    public bool Decode { get; init; } = true;
    /// <summary>Folder of parity cases to check the device against before timing anything (<see cref="DeviceSmoke"/>).</summary>
    public string? Smoke { get; init; }
    /// <summary>--profile: time the layers of one batched UNet call; --ops: time the heaviest operations and their alternatives.</summary>
    public bool Profile { get; init; }
    public bool Ops { get; init; }
    /// <summary>Rows (windows x guidance branches) of the call --profile and --ops measure; 16 = n 4 with lookahead and guidance.</summary>
    public int ProfileRows { get; init; } = 16;
    // Candidates for the whole call (docs/gpu.md), the first two in the batched schedule and --profile.
    /// <summary>--packed-temporal-attention: short temporal sequences packed into 128-token rows.</summary>
    public bool PackedTemporalAttention { get; init; }
    /// <summary>--scripted-pointwise: GroupNorm(+SiLU) and the GEGLU gate as TorchScript (<see cref="UNet3D.ScriptPointwise"/>).</summary>
    public bool ScriptedPointwise { get; init; }
    /// <summary>False for --no-flash: PyTorch's flash attention kernel off for the whole process.</summary>
    public bool FlashAttention { get; init; } = true;
    /// <summary>The candidates switched on, for headings (", packed temporal attention, flash kernel off"); empty for the UNet's defaults.</summary>
    public string Candidates => (PackedTemporalAttention ? ", packed temporal attention" : "") + (ScriptedPointwise ? ", scripted pointwise" : "") +
        (FlashAttention ? "" : ", flash kernel off");

    /// <summary>Switches the UNet's own candidates as asked (the process-wide flash switch is set elsewhere).</summary>
    public void ApplyCandidates(UNet3D unet)
    {
        unet.PackTemporalAttention(PackedTemporalAttention);
        unet.ScriptPointwise(ScriptedPointwise);
    }
    /// <summary>Internal: the one case a child process measures ("schedule/lookahead/guidance").</summary>
    public string? Case { get; init; }

    public const string Usage = """
        FifoPipes speed benchmark: FIFO-Diffusion iterations through a randomly initialised UNet3D.
          --device cpu | cuda | cuda:N | cuda:0,cuda:1,...   (several: one replica per device, rows split)
          --preset tiny | videocrafter2 | videocrafter1-512 | videocrafter1-1024
          --dtype float32 | bfloat16 | float16                (batched schedule; the reference-style one is always float32)
          --partitions N        FIFO partitions n (default: the preset's, 4)
          --frames N            output frames (FIFO iterations) timed per repeat (default 4)
          --warmup N            untimed iterations first (default 1)
          --repeats N           timed repeats; the median is reported (default 3)
          --lookahead on,off    lookahead settings to measure (default on)
          --guidance on,off     classifier-free guidance settings (default on)
          --window-batch auto|0|N   windows per call of the batched schedule (default auto)
          --no-reference        skip the reference-style schedule (one window, one branch per call, float32)
          --peak-tflops X       the device's peak for the dtype (default: looked up from the GPU name)
          --no-decode           skip the end-to-end block (each frame also decoded by the preset's VAE, made 8-bit RGB on the device and copied to the host)
          --smoke DIR           check the device against the vc.unet parity cases under DIR (float32 and --dtype), then exit
          --profile             time every layer of one batched UNet call (--rows rows), then exit
          --ops                 time the heaviest UNet operations and their alternatives at the first level, then exit
          --rows N              rows of the call --profile and --ops measure (default 16)
          --packed-temporal-attention   batched schedule and --profile: temporal attention with short sequences packed
                                into 128-token rows under a block-diagonal mask (a candidate; see docs/gpu.md)
          --scripted-pointwise  batched schedule and --profile: GroupNorm(+SiLU) and the GEGLU gate as TorchScript, which
                                CUDA fuses into one pass each (a candidate)
          --no-flash            PyTorch's flash attention kernel off, so sdpa takes the memory-efficient one (a candidate)
          --torch-lib DIR       preload libtorch from DIR (a PyTorch install's torch/lib) before first use
        """;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--device" => o with { Device = Value() },
                "--preset" => o with { Preset = Value().ToLowerInvariant() },
                "--dtype" => o with { DType = Value().ToLowerInvariant() },
                "--partitions" => o with { Partitions = Int() },
                "--frames" => o with { Frames = Int() },
                "--warmup" => o with { Warmup = Int() },
                "--repeats" => o with { Repeats = Int() },
                "--lookahead" => o with { Lookahead = OnOff(Value()) },
                "--guidance" => o with { Guidance = OnOff(Value()) },
                "--window-batch" => o with { WindowBatch = Value() },
                "--no-reference" => o with { Reference = false },
                "--peak-tflops" => o with { PeakTflops = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--torch-lib" => o with { TorchLib = Value() },
                "--no-decode" => o with { Decode = false },
                "--smoke" => o with { Smoke = Value() },
                "--profile" => o with { Profile = true },
                "--ops" => o with { Ops = true },
                "--rows" => o with { ProfileRows = Int() },
                "--packed-temporal-attention" => o with { PackedTemporalAttention = true },
                "--scripted-pointwise" => o with { ScriptedPointwise = true },
                "--no-flash" => o with { FlashAttention = false },
                "--case" => o with { Case = Value() },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'."),
            };
        }
        if (o.Frames < 1 || o.Repeats < 1 || o.Warmup < 0) throw new ArgumentException("--frames and --repeats must be >= 1, --warmup >= 0.");
        return o;
    }

    static IReadOnlyList<bool> OnOff(string text) => text.Split(',').Select(t => t.Trim().ToLowerInvariant() switch
    {
        "on" or "true" => true,
        "off" or "false" => false,
        _ => throw new ArgumentException($"'{t}' is neither on nor off."),
    }).Distinct().ToList();

    public IReadOnlyList<Device> Devices => ModelDevices.ParseDevices(Device) ?? throw new ArgumentException($"--device '{Device}' is not cpu, cuda, cuda:N or a list of them.");

    public ScalarType ScalarType => ModelDevices.ParseDType(DType) ?? throw new ArgumentException($"--dtype '{DType}' is not float32, bfloat16 or float16.");

    /// <summary>The preset: a released model's, or "tiny" (the test suite's tiny VideoCrafter2-shaped UNet at 64×96, 8-frame windows, 2 partitions).</summary>
    public VideoCrafterPreset ResolvePreset()
    {
        if (Preset == "tiny")
            return VideoCrafterPreset.VideoCrafter2() with
            {
                Name = "tiny",
                UNet = UNet3DConfig.VideoCrafter2() with
                {
                    ModelChannels = 32, ChannelMult = new[] { 1, 2 }, NumResBlocks = 1, AttentionResolutions = new[] { 1, 2 },
                    NumHeadChannels = 8, ContextDim = 32, TemporalLength = 8,
                },
                Height = 64,
                Width = 96,
                WindowFrames = 8,
                Defaults = VideoCrafterPreset.VideoCrafter2().Defaults with { Partitions = 2 },
            };
        return VideoCrafterPreset.Find(Preset) ?? throw new ArgumentException($"--preset '{Preset}' is unknown: tiny, {string.Join(", ", VideoCrafterPreset.Names)}.");
    }
}
