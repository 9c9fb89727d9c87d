using System.Runtime.Intrinsics;

namespace FifoPipes.Core;

/// <summary>
/// The logarithm and the sine and cosine of a turn, four doubles at a time, from additions, multiplications, one
/// division and bit operations only: IEEE arithmetic rounds those alike everywhere, so every machine gets the same bits,
/// which no C library's log and cos promise. Accurate to 2e-10, far below the float the noise is rounded to.
/// </summary>
public static class PortableMath
{
    const double Ln2 = 0.6931471805599453094, Sqrt2 = 1.4142135623730950488;

    /// <summary>ln x for positive normal x.</summary>
    public static Vector256<double> Log(Vector256<double> x)
    {
        // x = m 2^e with m in [1, 2), moved to [sqrt(1/2), sqrt(2)) so the series below converges fast.
        var bits = x.AsUInt64();
        var exponent = Vector256.ConvertToDouble((Vector256.ShiftRightLogical(bits, 52) - Vector256.Create(1023UL)).AsInt64());
        var mantissa = ((bits & Vector256.Create(0x000F_FFFF_FFFF_FFFFUL)) | Vector256.Create(0x3FF0_0000_0000_0000UL)).AsDouble();
        var large = Vector256.GreaterThan(mantissa, Vector256.Create(Sqrt2));
        mantissa = Vector256.ConditionalSelect(large, mantissa * 0.5, mantissa);
        exponent = Vector256.ConditionalSelect(large, exponent + Vector256<double>.One, exponent);
        // ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1)/(m + 1), |s| <= 0.1716: 6 terms leave < 1e-10.
        var s = (mantissa - Vector256<double>.One) / (mantissa + Vector256<double>.One);
        var z = s * s;
        var series = Vector256.Create(AtanhCoefficients[0]);
        for (int i = 1; i < AtanhCoefficients.Length; i++) series = series * z + Vector256.Create(AtanhCoefficients[i]);
        return exponent * Ln2 + (s + s) * series;
    }

    /// <summary>sin and cos of 2 pi t for t in [0, 1].</summary>
    public static (Vector256<double> Sin, Vector256<double> Cos) SinCosOfTurn(Vector256<double> turns)
    {
        // The nearest quarter turn k is taken off exactly (t is a multiple of 2^-33, k/4 of 1/4), leaving |r| <= 1/8 turn.
        var quarter = Vector256.Floor(turns * 4 + Vector256.Create(0.5));
        var angle = (turns - quarter * 0.25) * (2 * Math.PI);
        var a2 = angle * angle;
        // Taylor series to the 11th and 10th powers: |angle| <= pi/4 leaves < 2e-10.
        var sin = Vector256.Create(SinCoefficients[0]);
        for (int i = 1; i < SinCoefficients.Length; i++) sin = sin * a2 + Vector256.Create(SinCoefficients[i]);
        sin *= angle;
        var cos = Vector256.Create(CosCoefficients[0]);
        for (int i = 1; i < CosCoefficients.Length; i++) cos = cos * a2 + Vector256.Create(CosCoefficients[i]);
        // Turned by k quarters: (sin, cos) -> (cos, -sin) -> (-sin, -cos) -> (-cos, sin).
        var k4 = quarter - Vector256.Floor(quarter * 0.25) * 4;
        var odd = Vector256.Equals(k4, Vector256<double>.One) | Vector256.Equals(k4, Vector256.Create(3.0));
        var sinNegative = Vector256.GreaterThanOrEqual(k4, Vector256.Create(2.0));
        var cosNegative = Vector256.Equals(k4, Vector256<double>.One) | Vector256.Equals(k4, Vector256.Create(2.0));
        var (turnedSin, turnedCos) = (Vector256.ConditionalSelect(odd, cos, sin), Vector256.ConditionalSelect(odd, sin, cos));
        return (Vector256.ConditionalSelect(sinNegative, -turnedSin, turnedSin), Vector256.ConditionalSelect(cosNegative, -turnedCos, turnedCos));
    }

    // Highest power first, for Horner's rule: 1/11, 1/9, ..., 1; then (-1)^j / (2j+1)! and (-1)^j / (2j)! from j = 5 down.
    static readonly double[] AtanhCoefficients = Enumerable.Range(0, 6).Select(j => 1.0 / (11 - 2 * j)).ToArray();
    static readonly double[] SinCoefficients = Enumerable.Range(0, 6).Select(i => 5 - i).Select(j => (j % 2 == 0 ? 1.0 : -1.0) / Factorial(2 * j + 1)).ToArray();
    static readonly double[] CosCoefficients = Enumerable.Range(0, 6).Select(i => 5 - i).Select(j => (j % 2 == 0 ? 1.0 : -1.0) / Factorial(2 * j)).ToArray();

    static double Factorial(int n)
    {
        double f = 1;
        for (int i = 2; i <= n; i++) f *= i;
        return f;
    }
}
