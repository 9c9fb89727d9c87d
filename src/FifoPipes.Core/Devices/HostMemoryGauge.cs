using System.Globalization;

namespace FifoPipes.Core.Devices;

/// <summary>
/// Host memory on Linux. Available: the kernel's MemAvailable, or less when the process's cgroup (v2 or v1) is
/// limited. Peak: the process's resident high-water mark (VmHWM), reset to the current resident set before the work
/// through /proc/self/clear_refs. On the CPU the gauge matters more than on a GPU: an over-committed allocation there
/// does not fail, the kernel's OOM killer ends the process.
/// </summary>
public sealed class HostMemoryGauge : MemoryGauge
{
    const string Status = "/proc/self/status";

    HostMemoryGauge() { }

    /// <summary>The gauge, or null where /proc is not there to read (not Linux).</summary>
    public static HostMemoryGauge? TryCreate() => File.Exists(Status) && File.Exists("/proc/meminfo") ? new HostMemoryGauge() : null;

    public override string DeviceName => "cpu";

    public override long AvailableBytes()
    {
        long available = ProcKiB("/proc/meminfo", "MemAvailable:") * 1024;
        return CgroupHeadroom() is { } limited ? Math.Min(available, limited) : available;
    }

    public override MemoryCost Measure(Action work)
    {
        long available = AvailableBytes();
        long before = ProcKiB(Status, "VmRSS:");
        // Without the reset, VmHWM keeps an earlier peak (loading the checkpoint) and the work's own peak may hide under it.
        long floor = TryResetPeak() ? before : Math.Max(before, ProcKiB(Status, "VmHWM:"));
        work();
        long peak = ProcKiB(Status, "VmHWM:");
        return new MemoryCost(Math.Max(0, peak - floor) * 1024, available);
    }

    static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
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

    /// <summary>limit - usage of the process's memory cgroup, or null when it has no limit (or none can be read).</summary>
    static long? CgroupHeadroom()
    {
        foreach (var (limitFile, usageFile) in CgroupFiles())
        {
            if (!File.Exists(limitFile) || !File.Exists(usageFile)) continue;
            var limitText = File.ReadAllText(limitFile).Trim();
            if (limitText == "max" || !long.TryParse(limitText, NumberStyles.Integer, CultureInfo.InvariantCulture, out var limit)) return null;
            // cgroup v1 writes "no limit" as a page-rounded long.MaxValue.
            if (limit >= long.MaxValue / 2) return null;
            return long.TryParse(File.ReadAllText(usageFile).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var usage)
                ? Math.Max(0, limit - usage) : null;
        }
        return null;
    }

    /// <summary>Where the limit and usage of this process's memory cgroup are, most specific first.</summary>
    static IEnumerable<(string Limit, string Usage)> CgroupFiles()
    {
        string[] lines;
        try { lines = File.ReadAllLines("/proc/self/cgroup"); }
        catch (IOException) { yield break; }
        foreach (var line in lines)
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            var path = parts[2].TrimStart('/');
            if (parts[0] == "0" && parts[1].Length == 0)
            {
                yield return (Path.Combine("/sys/fs/cgroup", path, "memory.max"), Path.Combine("/sys/fs/cgroup", path, "memory.current"));
                yield return ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current");
            }
            else if (parts[1].Split(',').Contains("memory"))
            {
                yield return (Path.Combine("/sys/fs/cgroup/memory", path, "memory.limit_in_bytes"), Path.Combine("/sys/fs/cgroup/memory", path, "memory.usage_in_bytes"));
                yield return ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes");
            }
        }
    }
}
