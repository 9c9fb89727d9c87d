using FifoPipes.Hosting.Recipes;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Tests.Hosting;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>What the commands say of a resume before it runs: -WhatIf's words, and a resume given two recipes.</summary>
[Collection("PowerShell")]
public sealed class ResumeCommandTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-resume-command-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    static string RecipeText(int frames, string extra = "") => $"""
        apiVersion: fifopipes/v1
        model: {"{"} use: analytic, with: {"{"} height: 8, width: 8, channels: 2, frames: 4 {"}"} {"}"}
        prompt: calm blue ocean
        frames: {frames}
        seed: 3
        sampler: {"{"} use: fifo, with: {"{"} partitions: 2 {"}"} {"}"}
        {extra}
        """;

    Recipe Read(string yaml)
    {
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.ReadText(yaml, Path.Combine(dir, "run.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        return recipe!;
    }

    [Fact]
    public void WhatIf_says_where_a_resume_goes_on_and_what_it_has_left_to_make()
    {
        // A run of 8 frames whose snapshot after its last frame counts them all.
        InProcessShell.Run(dir, $"New-FifoVideo 'calm blue ocean' -Frames 8 {InProcessShell.Tiny} -SnapshotPath run.snapshot | Out-Null");
        Assert.Equal("Generate 12 frames", WhatIf.Action(Read(RecipeText(12))));
        // Before: "Generate 12 frames", as if the 8 the snapshot holds were to be made again.
        var longer = WhatIf.Action(Read(RecipeText(12, "resume: run.snapshot")));
        Assert.StartsWith("Resume after frame 8 of 12 from '", longer);
        Assert.EndsWith("run.snapshot' (4 frames to make)", longer);
        Assert.Contains("(none to make: the run planned 8;", WhatIf.Action(Read(RecipeText(8, "resume: run.snapshot"))));
    }

    [Fact]
    public void Invoke_FifoRecipe_refuses_two_recipes_given_to_one_resume_before_either_runs()
    {
        InProcessShell.Run(dir, $"New-FifoVideo 'calm blue ocean' -Frames 4 {InProcessShell.Tiny} -SnapshotPath run.snapshot | Out-Null");
        File.WriteAllText(Path.Combine(dir, "a.yaml"), RecipeText(8, "sinks: [ { path: a-frames } ]"));
        File.WriteAllText(Path.Combine(dir, "b.yaml"), RecipeText(8, "sinks: [ { path: b-frames } ]"));
        var error = InProcessShell.RunFailing(dir, "Invoke-FifoRecipe a.yaml, b.yaml -Resume run.snapshot -Force");
        Assert.StartsWith("ResumeWithSeveralRecipes", error.FullyQualifiedErrorId);
        Assert.Contains("2 recipes would make 2", error.Exception.Message);
        // Before, a.yaml ran (resumed from the snapshot) and only b.yaml was refused.
        Assert.False(Directory.Exists(Path.Combine(dir, "a-frames")));
        Assert.False(Directory.Exists(Path.Combine(dir, "b-frames")));
    }
}
