using FifoPipes.Abstractions;
using FifoPipes.Core;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

public sealed class KeyedNoiseTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // The SHA-256 of the float bits of 65,536 values of stream 0x0123456789abcdef (the speed benchmark's noise --digest):
    // pinned, so a change to any value of any draw is a change of this file too.
    const string Digest = "3F99F5F2FAE5509895BA264FBEB0DB897DB8CDB14810DC114FDCEB5972A26D28";

    [Fact]
    public void The_noise_has_the_same_bits_on_every_cpu_path()
    {
        var values = new float[1 << 16];
        Philox.FillNormal(values, 0x0123_4567_89ab_cdefUL);
        Assert.Equal(Digest, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()))));
        // The scalar Philox and Vector256's software path, as on a CPU without AVX2 or an ARM one.
        foreach (var (name, value) in new[] { ("DOTNET_EnableAVX2", "0"), ("DOTNET_EnableHWIntrinsic", "0") })
        {
            var child = DotnetChild.Run(DotnetChild.BuiltAssembly("BenchmarksAssembly"), new[] { "noise", "--digest" }, TimeSpan.FromMinutes(2), output,
                new Dictionary<string, string> { [name] = value });
            Assert.Equal(0, child.ExitCode);
            Assert.Equal(Digest, child.Output.Trim());
        }
    }

    [Theory]
    // Random123's published known answers for Philox4x32-10 (its kat_vectors).
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Philox_gives_the_reference_blocks(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint r0, uint r1, uint r2, uint r3) =>
        Assert.Equal((r0, r1, r2, r3), Philox.Block(c0, c1, c2, c3, k0, k1));

    [Fact]
    public void Eight_blocks_drawn_together_are_the_blocks_drawn_one_by_one()
    {
        // Counters whose low half wraps within the eight, and keys of every kind.
        foreach (var (first, key) in new[] { (0UL, 0UL), (0xffff_fffcUL, 0xa409_3822_299f_31d0UL), (0x1234_5678_9abc_def0UL, ulong.MaxValue) })
        {
            var words = new uint[4 * Philox.Lanes];
            Philox.Blocks(first, key, words);
            for (int lane = 0; lane < Philox.Lanes; lane++)
            {
                ulong counter = first + (ulong)lane;
                var expected = Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32));
                Assert.Equal(expected, (words[lane], words[8 + lane], words[16 + lane], words[24 + lane]));
            }
        }
    }

    [Fact]
    public void A_value_is_the_box_muller_transform_of_its_own_block_and_nothing_else()
    {
        const ulong key = 0x1234_5678_9abc_def0UL;
        var values = new float[4 * 50 + 3];
        Philox.FillNormal(values, key);
        for (int block = 0; block < 51; block++)
        {
            var (a, b, c, d) = Philox.Block((uint)block, 0, 0, 0, unchecked((uint)key), (uint)(key >> 32));
            var expected = BoxMuller(a, b).Concat(BoxMuller(c, d)).ToArray();
            for (int i = 0; i < 4 && 4 * block + i < values.Length; i++) Assert.True(Math.Abs(expected[i] - values[4 * block + i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"value {4 * block + i}");
        }
        var later = new float[values.Length - 4 * 16];
        Philox.FillNormal(later, key, firstBlock: 16);
        Assert.Equal(values[(4 * 16)..], later);
        var shorter = new float[7];
        Philox.FillNormal(shorter, key);
        Assert.Equal(values[..7], shorter);
        var otherKey = new float[values.Length];
        Philox.FillNormal(otherKey, key + 1);
        Assert.DoesNotContain(values.Zip(otherKey), pair => pair.First == pair.Second);
    }

    static double[] BoxMuller(uint u, uint v)
    {
        double radius = Math.Sqrt(-2 * Math.Log((u + 0.5) / 4294967296.0)), angle = 2 * Math.PI * ((v + 0.5) / 4294967296.0);
        return new[] { radius * Math.Cos(angle), radius * Math.Sin(angle) };
    }

    [Fact]
    public void The_portable_log_and_turn_agree_with_the_c_library()
    {
        var random = new Random(5);
        var turns = new[] { 0.0, 1e-10, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 0.5 / 4294967296.0, 1 - 0.5 / 4294967296.0 }
            .Concat(Enumerable.Range(0, 4000).Select(_ => random.NextDouble())).ToArray();
        var logs = new[] { 0.5 / 4294967296.0, 1 - 0.5 / 4294967296.0, 1.0, Math.Sqrt(2), Math.Sqrt(2) * (1 + 1e-16), 0.7071067811865476, 1e-300, 3e5 }
            .Concat(turns.Where(t => t > 0)).ToArray();
        for (int i = 0; i + 4 <= logs.Length; i += 4)
        {
            var log = PortableMath.Log(System.Runtime.Intrinsics.Vector256.Create(logs[i], logs[i + 1], logs[i + 2], logs[i + 3]));
            for (int lane = 0; lane < 4; lane++)
                Assert.True(Math.Abs(log[lane] - Math.Log(logs[i + lane])) <= 2e-10 * Math.Max(1, Math.Abs(Math.Log(logs[i + lane]))), $"ln {logs[i + lane]:R}: {log[lane]:R}");
        }
        for (int i = 0; i + 4 <= turns.Length; i += 4)
        {
            var (sin, cos) = PortableMath.SinCosOfTurn(System.Runtime.Intrinsics.Vector256.Create(turns[i], turns[i + 1], turns[i + 2], turns[i + 3]));
            for (int lane = 0; lane < 4; lane++)
            {
                double angle = 2 * Math.PI * turns[i + lane];
                Assert.True(Math.Abs(sin[lane] - Math.Sin(angle)) <= 2e-10 && Math.Abs(cos[lane] - Math.Cos(angle)) <= 2e-10, $"turn {turns[i + lane]:R}: {sin[lane]:R}, {cos[lane]:R}");
            }
        }
    }

    [Fact]
    public void Draws_are_standard_normal()
    {
        using var noise = new KeyedNoise(11).Normal(new long[] { 4, 64, 40, 64 }, 5, NoisePurpose.Step, 3);
        Assert.Equal(new long[] { 4, 64, 40, 64 }, noise.shape);
        Assert.Equal(ScalarType.Float32, noise.dtype);
        var values = noise.data<float>().Select(v => (double)v).ToArray();
        double mean = values.Average(), variance = values.Select(v => (v - mean) * (v - mean)).Average();
        double kurtosis = values.Select(v => Math.Pow(v - mean, 4)).Average() / (variance * variance);
        // 655,360 draws: the sample mean's standard error is 0.0012, the variance's 0.0017, the kurtosis's 0.006.
        Assert.InRange(mean, -0.006, 0.006);
        Assert.InRange(variance, 0.99, 1.01);
        Assert.InRange(kurtosis, 2.97, 3.03);
        Assert.InRange(values.Count(v => Math.Abs(v) < 1) / (double)values.Length, 0.6827 - 0.003, 0.6827 + 0.003);
    }

    [Fact]
    public void A_large_draw_is_the_one_stream()
    {
        // 300,003 values: blocks past 2^16 values, and an end that is not a whole group.
        const ulong key = 0xfeed_beef_0000_0001UL;
        using var drawn = KeyedNoise.Draw(new long[] { 3, 100_001 }, key);
        var expected = new float[300_003];
        Philox.FillNormal(expected, key);
        Assert.Equal(expected, drawn.data<float>().ToArray());
        using var again = KeyedNoise.Draw(new long[] { 3, 100_001 }, key);
        Assert.True(drawn.eq(again).all().item<bool>());
    }

    [Fact]
    public void A_stack_of_draws_is_the_draws_stacked()
    {
        var noise = new KeyedNoise(8);
        var keys = new (long Frame, NoisePurpose Purpose, int Step)?[] { (3, NoisePurpose.Step, 2), null, (9, NoisePurpose.QueueTail, 0) };
        using var stacked = noise.NormalStack(new long[] { 2, 3, 5 }, keys);
        using var zero = zeros(2, 3, 5);
        using var expected = stack(keys.Select(k => k is { } key ? noise.Normal(new long[] { 2, 3, 5 }, key.Frame, key.Purpose, key.Step) : zero.clone()).ToList(), 1);
        Assert.Equal(new long[] { 2, 3, 3, 5 }, stacked.shape);
        Assert.True(stacked.eq(expected).all().item<bool>());
    }

    [Fact]
    public void Keys_that_agree_in_their_low_32_bits_still_draw_different_noise()
    {
        // libtorch's CPU generator keeps a seed's low 32 bits, so these two draws of one 10,000-frame run were identical.
        long first = KeyedNoise.Key(42, 1161, NoisePurpose.Step, 17), second = KeyedNoise.Key(42, 1686, NoisePurpose.Step, 29);
        Assert.Equal(first & 0xffff_ffffL, second & 0xffff_ffffL);
        var noise = new KeyedNoise(42);
        using var a = noise.Normal(new long[] { 4, 40, 64 }, 1161, NoisePurpose.Step, 17);
        using var b = noise.Normal(new long[] { 4, 40, 64 }, 1686, NoisePurpose.Step, 29);
        Assert.False(a.eq(b).any().item<bool>());
    }
}
