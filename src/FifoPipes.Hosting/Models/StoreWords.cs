using System.Globalization;

namespace FifoPipes.Hosting.Models;

/// <summary>Sizes and counts as the model cmdlets say them: in a unit that fits, and "1 file" but "2 files".</summary>
public static class StoreWords
{
    /// <summary>Bytes in B, KB, MB or GB (of 1024), whichever keeps the number readable: a 300-byte leftover is not "0.00 GB".</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F0} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    /// <summary>"1 file", "3 files": <paramref name="noun"/> takes an s unless there is exactly one.</summary>
    public static string Count(int count, string noun) => string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");
}
