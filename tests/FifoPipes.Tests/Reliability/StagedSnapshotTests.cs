using FifoPipes.Abstractions;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>A stage's identity is its files and frames; the rename it went through is news of that one object.</summary>
public sealed class StagedSnapshotTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-stages-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    StagedSnapshot StagedOnDisk()
    {
        var stage = new SnapshotPolicy(Path.Join(folder, "run.snapshot"), 8).Stage(16);
        File.WriteAllText(stage.StagedPath, "state");
        return stage;
    }

    [Fact]
    public void A_committed_stage_still_equals_itself_and_is_found_in_a_set()
    {
        var stage = StagedOnDisk();
        var held = new HashSet<StagedSnapshot> { stage };
        var twin = stage with { };

        Assert.True(stage.TryCommit());

        Assert.True(stage.Committed);
        Assert.Contains(stage, held);
        Assert.Equal(twin, stage);
        Assert.Equal(twin.GetHashCode(), stage.GetHashCode());
    }

    [Fact]
    public void A_copy_of_a_committed_stage_was_never_renamed()
    {
        var stage = StagedOnDisk();
        Assert.True(stage.TryCommit());

        var elsewhere = stage with { StagedPath = stage.StagedPath + ".other" };

        Assert.False(elsewhere.Committed);
        Assert.False((stage with { }).Committed);
        Assert.NotEqual(stage, elsewhere);
    }

    [Fact]
    public void A_stage_that_is_gone_is_not_committed_and_the_resume_point_stays()
    {
        var stage = StagedOnDisk();
        File.WriteAllText(stage.Path, "earlier");
        File.Delete(stage.StagedPath);

        Assert.False(stage.TryCommit());
        Assert.False(stage.Committed);
        Assert.Equal("earlier", File.ReadAllText(stage.Path));
    }
}
