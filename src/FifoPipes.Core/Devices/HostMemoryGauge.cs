using System.Diagnostics;
using System.Globalization;

namespace FifoPipes.Core.Devices;

/// <summary>
/// Host memory on Linux. Available: the kernel's MemAvailable, or less when the process's memory cgroup (v2 or v1)
/// is limited: its limit minus its working set (usage without the inactive file cache, which the kernel reclaims
/// before it kills, as container runtimes count it). Peak: the process's resident high-water mark (VmHWM), reset to
/// the current resident set before the work through clear_refs. On the CPU the gauge matters more than on a GPU: an
/// over-committed allocation there does not fail, the kernel's OOM killer ends the process.
/// </summary>
public sealed class HostMemoryGauge : MemoryGauge
{
    readonly string proc;
    readonly string cgroupMount;

    /// <param name="procRoot">Where procfs is mounted.</param>
    /// <param name="cgroupRoot">Where the cgroup hierarchies are mounted (v2 unified, or v1 with a memory/ folder).</param>
    public HostMemoryGauge(string procRoot = "/proc", string cgroupRoot = "/sys/fs/cgroup")
    {
        proc = procRoot;
        cgroupMount = cgroupRoot;
    }

    /// <summary>The gauge, or null where /proc is not there to read (not Linux).</summary>
    public static HostMemoryGauge? TryCreate() =>
        File.Exists("/proc/self/status") && File.Exists("/proc/meminfo") ? new HostMemoryGauge() : null;

    /// <inheritdoc/>
    public override string DeviceName => "cpu";

    /// <summary>MemAvailable from meminfo, or the least cgroup headroom (limit minus working set) where that is lower.</summary>
    /// <exception cref="InvalidOperationException">meminfo has no MemAvailable line (a kernel before 3.14).</exception>
    public override long AvailableBytes()
    {
        long available = ProcKiB(Path.Combine(proc, "meminfo"), "MemAvailable:") * 1024;
        return CgroupHeadroom() is { } limited ? Math.Min(available, limited) : available;
    }

    /// <summary>The work's peak from .NET's view of this process: WorkingSet64 and PeakWorkingSet64 are VmRSS and VmHWM on Linux.</summary>
    public override MemoryCost Measure(Action work)
    {
        long available = AvailableBytes();
        using var self = Process.GetCurrentProcess();
        long before = self.WorkingSet64;
        // Without the reset, VmHWM keeps an earlier peak (loading the checkpoint) and the work's own peak may hide under it.
        long floor = TryResetPeak() ? before : Math.Max(before, self.PeakWorkingSet64);
        work();
        self.Refresh();
        return new MemoryCost(Math.Max(0, self.PeakWorkingSet64 - floor), available);
    }

    bool TryResetPeak()
    {
        try
        {
            File.WriteAllText(Path.Combine(proc, "self", "clear_refs"), "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The value of a "Name:   123 kB" line, in KiB.</summary>
    static long ProcKiB(string file, string name)
    {
        foreach (var line in File.ReadLines(file))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(name.Length).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"{file} has no {name} line.");
    }

    /// <summary>
    /// The least limit-minus-working-set over this process's memory cgroup and every group above it (the kernel
    /// enforces all of them: an unlimited leaf inside a limited container is still held to the container's limit), or
    /// null when none of them has a limit (or none can be read).
    /// </summary>
    long? CgroupHeadroom()
    {
        long? least = null;
        foreach (var group in CgroupFolders())
        {
            var files = group.Version2
                ? (Limit: "memory.max", Usage: "memory.current", InactiveFile: "inactive_file")
                : (Limit: "memory.limit_in_bytes", Usage: "memory.usage_in_bytes", InactiveFile: "total_inactive_file");
            // "max" (v2) or a page-rounded long.MaxValue (v1) mean no limit at this level.
            if (ReadLong(Path.Combine(group.Folder, files.Limit)) is not { } limit || limit >= long.MaxValue / 2) continue;
            if (ReadLong(Path.Combine(group.Folder, files.Usage)) is not { } usage) continue;
            long inactiveFile = StatValue(Path.Combine(group.Folder, "memory.stat"), files.InactiveFile) ?? 0;
            long headroom = Math.Max(0, limit - Math.Max(0, usage - inactiveFile));
            least = least is { } l ? Math.Min(l, headroom) : headroom;
        }
        return least;
    }

    /// <summary>The memory cgroup folders of this process: its own group, then every group above it up to the mount's root.</summary>
    IEnumerable<(string Folder, bool Version2)> CgroupFolders()
    {
        string[] lines;
        try { lines = File.ReadAllLines(Path.Combine(proc, "self", "cgroup")); }
        catch (IOException) { yield break; }
        foreach (var line in lines)
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            var path = parts[2].Trim('/');
            if (parts[0] == "0" && parts[1].Length == 0)
                foreach (var folder in SelfAndAncestors(cgroupMount, path)) yield return (folder, true);
            else if (parts[1].Split(',').Contains("memory"))
                foreach (var folder in SelfAndAncestors(Path.Combine(cgroupMount, "memory"), path)) yield return (folder, false);
        }
    }

    static IEnumerable<string> SelfAndAncestors(string root, string relative)
    {
        var names = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int depth = names.Length; depth >= 0; depth--)
            yield return Path.Combine(new[] { root }.Concat(names.Take(depth)).ToArray());
    }

    static long? ReadLong(string file) =>
        File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A "name value" line of a memory.stat file.</summary>
    static long? StatValue(string file, string name)
    {
        if (!File.Exists(file)) return null;
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && parts[0] == name && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                return value;
        }
        return null;
    }
}
