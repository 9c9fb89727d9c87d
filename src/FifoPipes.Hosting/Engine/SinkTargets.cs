using FifoPipes.Core.Sinks;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// The outputs of one run, each taken once: file paths as the file system compares names (out.mp4 and OUT.mp4 are one
/// file on Windows and macOS), stream addresses as written (a stream key's case is its own).
/// </summary>
public sealed class SinkTargets
{
    /// <summary>How this system compares file paths: by case on Linux, without it on Windows and macOS.</summary>
    public static readonly StringComparer PathComparer = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;

    readonly HashSet<string> paths = new(PathComparer);
    readonly HashSet<string> addresses = new(StringComparer.Ordinal);

    /// <summary>False where <paramref name="target"/> is taken already.</summary>
    public bool Add(string target) =>
        StreamAddress.IsAddress(target) ? addresses.Add(StreamAddress.Normalised(target)) : paths.Add(PathKey(target));

    /// <summary>A file path as outputs are told apart: a PNG folder given as frames/ is the folder frames.</summary>
    public static string PathKey(string path) => Path.TrimEndingDirectorySeparator(path);

    /// <summary>Whether <paramref name="target"/>, a sink's path or stream address, is the file <paramref name="path"/> (a snapshot's, say).</summary>
    public static bool IsFile(string target, string path) => !StreamAddress.IsAddress(target) && PathComparer.Equals(PathKey(target), PathKey(path));
}
