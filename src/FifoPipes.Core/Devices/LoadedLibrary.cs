namespace FifoPipes.Core.Devices;

/// <summary>A native library the process has already mapped (read from /proc/self/maps), so no second copy is loaded and no versioned name is guessed.</summary>
public static class LoadedLibrary
{
    /// <summary>The first mapped file among lines of /proc/PID/maps whose name <paramref name="named"/> accepts; null when none is mapped.</summary>
    public static string? PathIn(IEnumerable<string> mapsLines, Func<string, bool> named)
    {
        foreach (var line in mapsLines)
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..];
            if (named(Path.GetFileName(path))) return path;
        }
        return null;
    }

    /// <summary>The path of a library this process has mapped, by <paramref name="named"/>; null where none is or the process's maps cannot be read (not Linux).</summary>
    public static string? Find(Func<string, bool> named) =>
        File.Exists("/proc/self/maps") ? PathIn(File.ReadLines("/proc/self/maps"), named) : null;
}
