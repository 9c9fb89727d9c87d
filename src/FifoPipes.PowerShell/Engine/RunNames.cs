using FifoPipes.Abstractions;
using FifoPipes.Hosting.Recipes;

namespace FifoPipes.PowerShell.Engine;

/// <summary>
/// {seed} and {hash} in an output path, as recipes' sink paths take them, filled from the run a frame records: a loop
/// of New-FifoVideo | Export-FifoFrames 'clip-{seed}.mp4' writes a file per run.
/// </summary>
static class RunNames
{
    const string Seed = "{seed}", Hash = "{hash}";

    public static bool In(string path) => path.Contains(Seed, StringComparison.Ordinal) || path.Contains(Hash, StringComparison.Ordinal);

    public static string Fill(string path, VideoFrame frame)
    {
        if (!In(path)) return path;
        if (frame.Provenance is not { } text)
            throw new FifoInputException("OutputNamesUnknownRun",
                $"'{path}' names the run by {Seed} or {Hash}, but frame {frame.Index} records no run. Give the path without them.");
        var run = RunProvenance.Parse(text, "frame " + frame.Index);
        var seed = run.Settings.FirstOrDefault(s => s.Key == "seed").Value;
        if (seed is null && path.Contains(Seed, StringComparison.Ordinal))
            throw new FifoInputException("OutputNamesUnknownRun", $"'{path}' names the run by {Seed}, but frame {frame.Index} records no seed. Give the path without it.");
        return path.Replace(Seed, seed ?? Seed, StringComparison.Ordinal).Replace(Hash, run.RunHash, StringComparison.Ordinal);
    }
}
