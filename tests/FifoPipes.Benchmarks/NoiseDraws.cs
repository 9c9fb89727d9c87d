using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks;

/// <summary>
/// Milliseconds for the keyed noise of one FIFO iteration (a draw for every queue slot and the new tail frame): KeyedNoise
/// (Philox on the host, the frames on every core) beside what it replaced, libtorch's CPU generator seeded with each key
/// and stacked, taking turns iteration by iteration so the medians are side by side. Also one frame's draw alone.
/// </summary>
public sealed class NoiseDraws : IBenchmark
{
    public string Name => "noise";
    public string Summary => "ms of keyed noise per FIFO iteration and per frame: KeyedNoise (Philox) beside libtorch's seeded generator";
    public string Usage => """
        noise [options]
          --iterations N   iterations measured (default 100), after 3 s that warm the JIT's tiers up
          --size HxW       latent size (default 40x64: VideoCrafter2 at 320x512)
          --channels C     latent channels (default 4)
          --slots S        frames drawn per iteration (default 65: a 64-step queue and its new tail frame)
          --digest         print only the SHA-256 of the bits of a fixed draw (the suite compares machines' and CPU paths')
        """;

    /// <summary>The SHA-256 of the float bits of 65,536 values of one stream: equal wherever the noise is the same.</summary>
    public static string Digest()
    {
        var values = new float[1 << 16];
        Philox.FillNormal(values, 0x0123_4567_89ab_cdefUL);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())));
    }

    public int Run(BenchmarkArguments arguments)
    {
        if (arguments.Flag("digest"))
        {
            arguments.RejectUnknown();
            Console.WriteLine(Digest());
            return 0;
        }
        int iterations = arguments.Int("iterations", 100), channels = arguments.Int("channels", 4), slots = arguments.Int("slots", 65);
        var (height, width) = arguments.Size("size", (40, 64));
        arguments.RejectUnknown();
        var frame = new long[] { channels, height, width };
        var noise = new KeyedNoise(7);
        var keys = Enumerable.Range(0, slots).Select(s => ((long Frame, NoisePurpose Purpose, int Step)?)(s, NoisePurpose.Step, s)).ToList();

        double Time(Func<Tensor> draw)
        {
            var clock = Stopwatch.StartNew();
            draw().Dispose();
            return clock.Elapsed.TotalMilliseconds;
        }
        Tensor Philox() => noise.NormalStack(frame, keys);
        Tensor Libtorch() => stack(keys.Select(k => Seeded(frame, KeyedNoise.Key(7, k!.Value.Frame, k.Value.Purpose, k.Value.Step))).ToList(), 1);
        Tensor PhiloxFrame() => noise.Normal(frame, 0, NoisePurpose.Step, 3);
        Tensor LibtorchFrame() => Seeded(frame, KeyedNoise.Key(7, 0, NoisePurpose.Step, 3));

        var draws = new (string Name, Func<Tensor> Draw)[]
        {
            ($"iteration, KeyedNoise", Philox), ($"iteration, libtorch", Libtorch), ("one frame, KeyedNoise", PhiloxFrame), ("one frame, libtorch", LibtorchFrame),
        };
        for (var warming = Stopwatch.StartNew(); warming.Elapsed < TimeSpan.FromSeconds(3);)
            foreach (var (_, draw) in draws) Time(draw);
        var times = draws.Select(_ => new List<double>()).ToArray();
        for (int i = 0; i < iterations; i++)
            for (int d = 0; d < draws.Length; d++) times[d].Add(Time(draws[d].Draw));

        Console.WriteLine($"{slots} frames [{string.Join(", ", frame)}] per iteration, {iterations} iterations, {Environment.ProcessorCount} cores");
        var medians = times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
        for (int d = 0; d < draws.Length; d++) Console.WriteLine($"{draws[d].Name,-24} median {medians[d],8:F3} ms");
        Console.WriteLine($"KeyedNoise / libtorch: {medians[0] / medians[1]:F2}x per iteration, {medians[2] / medians[3]:F2}x per frame");
        return 0;
    }

    static Tensor Seeded(long[] shape, long key)
    {
        using var generator = new Generator(unchecked((ulong)key));
        return randn(shape, dtype: ScalarType.Float32, generator: generator);
    }
}
