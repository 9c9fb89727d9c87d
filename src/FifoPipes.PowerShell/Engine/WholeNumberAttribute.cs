using System.Globalization;
using System.Management.Automation;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// Refuses a fractional number for a whole-number parameter (-Frames 2.5), or for any item of one that takes a list:
/// PowerShell's own conversion to an integer rounds it, so -Frames 2.5 would quietly make 2 frames where a recipe's
/// frames: 2.5 is refused. Whole numbers in any form (2, 2.0, '2') pass on to that conversion unchanged.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
sealed class WholeNumberAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is System.Collections.IEnumerable items and not string)
            foreach (var item in items) Check(item is PSObject p ? p.BaseObject : item);
        else Check(value);
        return inputData;
    }

    static void Check(object? value)
    {
        if (Fraction(value) is { } number)
            throw new ArgumentTransformationMetadataException(
                $"{Shown(number)} is not a whole number; give {Shown(Math.Floor(number))} or {Shown(Math.Ceiling(number))}.");
    }

    static string Shown(double number) => number.ToString(CultureInfo.InvariantCulture);

    /// <summary>The value as a number with a fractional part, or null where it is none (a whole number, or no number: the binder's to refuse).</summary>
    static double? Fraction(object? value)
    {
        double? number = value switch
        {
            double d => d,
            float f => f,
            decimal m => (double)m,
            string text when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => null,
        };
        return number is { } n && double.IsFinite(n) && n != Math.Floor(n) ? n : null;
    }
}
