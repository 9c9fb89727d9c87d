using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FifoPipes.Core;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based generator
/// whose every block is a pure function of (counter, key). A 64-bit key gives 2^64 independent streams, each value
/// reachable without drawing the ones before it, with integer arithmetic only, so every machine computes the same bits.
/// </summary>
public static class Philox
{
    const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four words of block <paramref name="c0"/>..<paramref name="c3"/> under key (k0, k1).</summary>
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            (c0, c1, c2, c3) = ((uint)(p1 >> 32) ^ c1 ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c3 ^ k1, (uint)p0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Blocks drawn together: 8 lanes of AVX2, and of the normals made from them 32 values.</summary>
    public const int Lanes = 8, ValuesPerGroup = 4 * Lanes;

    /// <summary>
    /// The words of the 8 blocks from counter <paramref name="first"/> (its low and high halves as c0 and c1, c2 = c3 = 0),
    /// word-major: <c>words[w * 8 + lane]</c> is word w of block first + lane.
    /// </summary>
    public static void Blocks(ulong first, ulong key, Span<uint> words)
    {
        uint k0 = (uint)key, k1 = (uint)(key >> 32);
        if (!Avx2.IsSupported)
        {
            for (int lane = 0; lane < Lanes; lane++)
            {
                ulong counter = first + (ulong)lane;
                var (a, b, c, d) = Block((uint)counter, (uint)(counter >> 32), 0, 0, k0, k1);
                (words[lane], words[Lanes + lane], words[2 * Lanes + lane], words[3 * Lanes + lane]) = (a, b, c, d);
            }
            return;
        }
        Span<uint> low = stackalloc uint[Lanes], high = stackalloc uint[Lanes];
        for (int lane = 0; lane < Lanes; lane++) (low[lane], high[lane]) = ((uint)(first + (ulong)lane), (uint)((first + (ulong)lane) >> 32));
        Vector256<uint> x0 = Vector256.Create<uint>(low), x1 = Vector256.Create<uint>(high), x2 = Vector256<uint>.Zero, x3 = Vector256<uint>.Zero;
        Vector256<uint> key0 = Vector256.Create(k0), key1 = Vector256.Create(k1);
        Vector256<uint> m0 = Vector256.Create(M0), m1 = Vector256.Create(M1), w0 = Vector256.Create(W0), w1 = Vector256.Create(W1);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { key0 += w0; key1 += w1; }
            var (hi0, lo0) = MultiplyHighLow(m0, x0);
            var (hi1, lo1) = MultiplyHighLow(m1, x2);
            (x0, x1, x2, x3) = (hi1 ^ x1 ^ key0, lo1, hi0 ^ x3 ^ key1, lo0);
        }
        x0.CopyTo(words);
        x1.CopyTo(words[Lanes..]);
        x2.CopyTo(words[(2 * Lanes)..]);
        x3.CopyTo(words[(3 * Lanes)..]);
    }

    /// <summary>The high and low halves of each lane's 64-bit product, <paramref name="m"/> being one constant in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<uint> High, Vector256<uint> Low) MultiplyHighLow(Vector256<uint> m, Vector256<uint> x)
    {
        // vpmuludq multiplies the even lanes; the odd ones are shifted down to be multiplied, and the halves put back.
        var even = Avx2.Multiply(m, x);
        var odd = Avx2.Multiply(m, Avx2.ShiftRightLogical(x.AsUInt64(), 32).AsUInt32());
        const byte OddLanes = 0b1010_1010;
        var high = Avx2.Blend(Avx2.ShiftRightLogical(even, 32).AsUInt32(), odd.AsUInt32(), OddLanes);
        var low = Avx2.Blend(even.AsUInt32(), Avx2.ShiftLeftLogical(odd, 32).AsUInt32(), OddLanes);
        return (high, low);
    }

    /// <summary>
    /// Fills <paramref name="values"/> with standard normal draws of stream <paramref name="key"/>: block b gives values
    /// 4b..4b+3, the Box–Muller transform of its word pairs (0, 1) and (2, 3), each word w taken as the uniform
    /// (w + 0.5) / 2^32, so a value depends only on the key and its index. The transform runs in double precision
    /// (<see cref="PortableMath"/>, the same bits on every machine) and is rounded to float. <paramref name="firstBlock"/>
    /// must be a multiple of <see cref="Lanes"/>.
    /// </summary>
    public static void FillNormal(Span<float> values, ulong key, long firstBlock = 0)
    {
        if (firstBlock % Lanes != 0) throw new ArgumentOutOfRangeException(nameof(firstBlock), firstBlock, $"must be a multiple of {Lanes}");
        Span<uint> words = stackalloc uint[ValuesPerGroup];
        Span<float> group = stackalloc float[ValuesPerGroup];
        for (int start = 0; start < values.Length; start += ValuesPerGroup)
        {
            Blocks((ulong)firstBlock + (ulong)(start / 4), key, words);
            Normals(words, group);
            group[..Math.Min(ValuesPerGroup, values.Length - start)].CopyTo(values[start..]);
        }
    }

    /// <summary>Box–Muller over the word-major words of 8 blocks, into their 32 values in order.</summary>
    static void Normals(ReadOnlySpan<uint> words, Span<float> values)
    {
        const double Scale = 1.0 / 4294967296.0;
        Span<double> uniforms = stackalloc double[ValuesPerGroup];
        for (int i = 0; i < ValuesPerGroup; i++) uniforms[i] = (words[i] + 0.5) * Scale;
        var minusTwo = Vector256.Create(-2.0);
        Span<double> first = stackalloc double[4], second = stackalloc double[4];
        // Words 0 and 2 of a block give radii, words 1 and 3 their angles; four blocks to a vector of doubles.
        for (int pair = 0; pair < 2; pair++)
            for (int quarter = 0; quarter < Lanes; quarter += 4)
            {
                var radius = Vector256.Sqrt(minusTwo * PortableMath.Log(Vector256.Create<double>(uniforms.Slice(2 * pair * Lanes + quarter, 4))));
                var (sin, cos) = PortableMath.SinCosOfTurn(Vector256.Create<double>(uniforms.Slice((2 * pair + 1) * Lanes + quarter, 4)));
                (radius * cos).CopyTo(first);
                (radius * sin).CopyTo(second);
                for (int lane = 0; lane < 4; lane++)
                {
                    int value = 4 * (quarter + lane) + 2 * pair;
                    values[value] = (float)first[lane];
                    values[value + 1] = (float)second[lane];
                }
            }
    }
}
