using FifoPipes.Tests.Parity;
using Xunit;
using Xunit.Abstractions;

namespace FifoPipes.Tests.Speed;

/// <summary>
/// The speed benchmark (docs/gpu.md) run as a user runs it, at the tiny preset on the CPU: its figures mean nothing
/// here, but every mode must run end to end and print what it promises, so it works when a GPU session comes.
/// </summary>
public sealed class SpeedBenchmarkTests(ITestOutputHelper output)
{
    static string Benchmark => DotnetChild.BuiltAssembly("SpeedBenchmarkAssembly");

    (int ExitCode, string Output) Run(params string[] arguments)
    {
        // A guard against a hang, not a speed check: the smoke alone took over 3 minutes on a 2-core machine busy with other builds.
        var result = DotnetChild.Run(Benchmark, arguments, TimeSpan.FromMinutes(6), output);
        return (result.ExitCode, result.Output + result.Errors);
    }

    [Fact]
    public void Both_schedules_run_and_their_ratio_is_printed()
    {
        var (exitCode, text) = Run("--device", "cpu", "--preset", "tiny", "--frames", "1", "--repeats", "1", "--warmup", "0");

        Assert.Equal(0, exitCode);
        // windowBatch: auto sized from the host's free memory: the tiny UNet's four windows fit in one call.
        Assert.Matches(@"fifo: a call of 1 window took \d+ MiB at its peak with \d+ MiB available on cpu: 4 of 4 windows per model call", text);
        Assert.Matches(@"batched\s+on\s+on\s+float32\s+4\s+1\s", text);     // 2n = 4 windows in one call
        Assert.Matches(@"reference\s+on\s+on\s+float32\s+1\s+8\s", text);   // 4 windows x 2 branches, one call each
        Assert.Matches(@"speed-up lookahead on, guidance on: reference / batched = \d+\.\d\dx \(with decoding \d+\.\d\dx\)", text);
    }

    [Fact]
    public void The_smoke_passes_against_the_unet_goldens_on_the_cpu()
    {
        var cases = Path.Combine(ParityCase.Root, "videocrafter");
        var (exitCode, text) = Run("--smoke", cases, "--device", "cpu", "--dtype", "bfloat16");

        Assert.Equal(0, exitCode);
        Assert.Matches(@"smoke vc2_unet_tiny/fifo_b2 on cpu in Float32: .* ok", text);
        Assert.Matches(@"smoke vc1_unet_tiny/plain_b1 on cpu in BFloat16: .* ok", text);
        Assert.Matches(@"smoke vc2_unet_tiny/fifo_b2 on cpu in Float32, scripted pointwise: .* \(.*relative 0.001\) ok", text);
        Assert.Matches(@"smoke vc1_unet_tiny/plain_b1 on cpu in BFloat16, scripted pointwise: .* ok", text);
        Assert.Matches(@"smoke fifo on cpu,cpu \(rows 4\+4\) vs cpu: max \|error\| 0 .* ok", text);
        Assert.Contains("smoke: PASS", text);
        // The checks the figures rest on come before the fuser's first compile, whose failure must not hide them.
        Assert.True(text.IndexOf("smoke fifo on cpu,cpu", StringComparison.Ordinal) < text.IndexOf("scripted pointwise", StringComparison.Ordinal),
            "the scripted checks ran before the replica check");
    }

    [Fact]
    public void Profile_and_operation_variants_run()
    {
        var (profileExit, profile) = Run("--profile", "--preset", "tiny", "--rows", "2");
        Assert.Equal(0, profileExit);
        Assert.Matches(@"kind TemporalTransformer\s+\d+\.\d ms", profile);
        Assert.Matches(@"kind TemporalConvBlock\s+\d+\.\d ms", profile);

        var (candidateExit, candidate) = Run("--profile", "--preset", "tiny", "--rows", "2", "--packed-temporal-attention", "--scripted-pointwise", "--no-flash");
        Assert.Equal(0, candidateExit);
        Assert.Matches(@"profile: tiny UNet, 2 rows .*, packed temporal attention, scripted pointwise, flash kernel off: \d+\.\d ms per call", candidate);

        var (opsExit, ops) = Run("--ops", "--preset", "tiny", "--rows", "2");
        Assert.Equal(0, opsExit);
        Assert.Matches(@"group_norm 32 \(frames\)\s+native in the dtype\s+\d+\.\d\d ms\s+max \|diff\| vs first", ops);
        Assert.Matches(@"temporal self-attention \(\d+ keys\)\s+packed rows, block-diagonal mask\s+\d+\.\d\d ms\s+max \|diff\| vs first", ops);
        Assert.Matches(@"group_norm 32 \+ silu \(frames\)\s+scripted: sums, one fused pass\s+\d+\.\d\d ms\s+max \|diff\| vs first (0|[\d.]+E-0[5-9])\s", ops);
        Assert.Matches(@"GEGLU proj and gate\s+value and gate products, scripted gate\s+\d+\.\d\d ms\s+max \|diff\| vs first (0|[\d.]+E-0[5-9])\s", ops);
        Assert.Matches(@"temporal self-attention \(\d+ keys\)\s+sdpa on a frame-layout view\s+\d+\.\d\d ms\s+max \|diff\| vs first (0|[\d.]+E-0[6-9])\s", ops);
    }
}
