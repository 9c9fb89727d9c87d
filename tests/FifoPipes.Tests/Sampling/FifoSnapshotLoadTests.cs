using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Sampling;

/// <summary>
/// <see cref="FifoSnapshot.Load"/> refuses a file that is not this run's snapshot (missing, of another format, damaged,
/// of another seed) with an input error that names the file and says what to do, before a frame is sampled from it.
/// </summary>
public sealed class FifoSnapshotLoadTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-snapshot-load-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    // DelegateVideoModel.Linear: 2 channels, 3 x 4 latents, 4 window frames, 2 partitions; with lookahead a queue of 8 + 2.
    static readonly long[] QueueShape = { 2, 10, 3, 4 };

    static SamplingJob Job(string path, long seed = 42) => new()
    {
        Model = DelegateVideoModel.Linear(),
        Prompts = new[] { new PromptSpan("slow clouds", 10) },
        Noise = new KeyedNoise(seed),
        Seed = seed,
        ResumeFrom = path,
        RunHash = "run-a",
    };

    static FifoSnapshot Load(string path, long seed = 42, int keepLatents = 0)
    {
        var job = Job(path, seed) with { KeepLatents = keepLatents };
        return FifoSnapshot.Load(path, job, FifoPlan.Resolve(new FifoOptions(), job.Model.Info, job));
    }

    /// <summary>A snapshot as the sampler writes it, with <paramref name="change"/> applied to its metadata first.</summary>
    string Write(string name, Action<Dictionary<string, string>>? change = null, Dictionary<string, Tensor>? tensors = null, long seed = 42)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "fifopipes-fifo-snapshot/1",
            ["iteration"] = "12",
            ["emitted"] = "4",
            ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [SnapshotMetadata.RunHash] = "run-a",
            [SnapshotMetadata.RunSettings] = "",
        };
        change?.Invoke(metadata);
        var path = Path.Combine(folder, name);
        tensors ??= new Dictionary<string, Tensor> { ["queue"] = zeros(QueueShape) };
        SafetensorsFile.Save(path, tensors, metadata);
        foreach (var t in tensors.Values) t.Dispose();
        return path;
    }

    [Fact]
    public void A_snapshot_the_sampler_saved_loads_with_its_state()
    {
        var path = Path.Combine(folder, "saved.snapshot");
        new FifoSnapshot(ones(QueueShape), Iteration: 12, Emitted: 4, Seed: -5, RunHash: "run-a") { WindowBatch = 3 }.Save(path);

        using var loaded = Load(path, seed: -5);

        Assert.Equal((12L, 4L, -5L, "run-a", (int?)3), (loaded.Iteration, loaded.Emitted, loaded.Seed, loaded.RunHash, loaded.WindowBatch));
        Assert.Equal(QueueShape, loaded.Queue.shape);
        Assert.True(loaded.Queue.eq(1).all().item<bool>());
        Assert.Null(loaded.Recent);
    }

    [Fact]
    public void A_snapshot_of_another_seed_is_refused_naming_both_seeds()
    {
        var path = Write("seed.snapshot", seed: 41);
        var ex = Assert.Throws<FifoInputException>(() => Load(path, seed: 42));
        Assert.Equal("SnapshotMismatch", ex.ErrorId);
        Assert.Equal($"Snapshot '{path}' has seed 41, but this run has seed 42. Resume with the same seed.", ex.Message);
    }

    [Theory]
    [InlineData("fifopipes-fifo-snapshot/2", "fifopipes-fifo-snapshot/2")]
    [InlineData("fifopipes-chunked-snapshot/1", "fifopipes-chunked-snapshot/1")]
    [InlineData(null, "none")]
    public void A_file_of_another_or_no_format_is_not_taken_for_a_snapshot(string? format, string named)
    {
        var path = Write("format.snapshot", m => { if (format is null) m.Remove("format"); else m["format"] = format; });
        var ex = Assert.Throws<FifoInputException>(() => Load(path));
        Assert.Equal("SnapshotInvalid", ex.ErrorId);
        Assert.Equal($"'{path}' is not a FIFO sampler snapshot (format '{named}'). Give a file written by this sampler's snapshots.", ex.Message);
    }

    [Fact]
    public void A_missing_snapshot_says_to_check_the_path_or_start_fresh()
    {
        var path = Path.Combine(folder, "gone.snapshot");
        var ex = Assert.Throws<FifoInputException>(() => Load(path));
        Assert.Equal("SnapshotNotFound", ex.ErrorId);
        Assert.Equal($"Snapshot '{path}' does not exist. Check the path, or start fresh without resuming.", ex.Message);
    }

    [Fact]
    public void A_snapshot_cut_short_in_its_tensor_data_is_called_damaged_not_a_checkpoint()
    {
        var path = Write("cut.snapshot");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^40]);

        var ex = Assert.Throws<FifoInputException>(() => Load(path));

        Assert.Equal("SnapshotInvalid", ex.ErrorId);
        Assert.StartsWith($"'{path}' is not a snapshot a run wrote (", ex.Message);
        Assert.EndsWith("Give -Resume (resume:) the file a run wrote with -SnapshotPath (snapshot:); if it is one, it is damaged: start fresh.", ex.Message);
        Assert.DoesNotContain("Download it again", ex.Message);
        Assert.Equal("CheckpointCorrupt", Assert.IsType<FifoInputException>(ex.InnerException).ErrorId);
    }

    [Fact]
    public void A_snapshot_without_its_queue_is_damaged()
    {
        var path = Write("no-queue.snapshot", tensors: new() { ["other"] = zeros(QueueShape) });
        var ex = Assert.Throws<FifoInputException>(() => Load(path));
        Assert.Equal("SnapshotInvalid", ex.ErrorId);
        Assert.Equal($"Snapshot '{path}' has no 'queue' tensor. The file is damaged; start fresh.", ex.Message);
    }

    [Theory]
    [InlineData("emitted", "-1")]
    [InlineData("emitted", "four")]
    [InlineData("iteration", "")]
    [InlineData("seed", "4.2")]
    public void A_count_that_is_not_a_whole_number_is_damage_naming_the_entry(string key, string value)
    {
        var path = Write($"{key}.snapshot", m => m[key] = value);
        var ex = Assert.Throws<FifoInputException>(() => Load(path));
        Assert.Equal("SnapshotInvalid", ex.ErrorId);
        Assert.Equal($"Snapshot '{path}' has no valid '{key}' entry. The file is damaged; start fresh.", ex.Message);
    }

    [Fact]
    public void Kept_latents_that_do_not_fit_the_model_or_outnumber_the_output_are_damage()
    {
        var wrongSize = Write("recent-size.snapshot", tensors: new() { ["queue"] = zeros(QueueShape), ["recent"] = zeros(2, 2, 3, 5) });
        var size = Assert.Throws<FifoInputException>(() => Load(wrongSize, keepLatents: 2));
        Assert.Equal("SnapshotInvalid", size.ErrorId);
        Assert.Equal($"Snapshot '{wrongSize}' keeps latents of shape [2, 2, 3, 5], not [2, n, 3, 4]. The file is damaged; start fresh.", size.Message);

        // 4 frames were output (emitted: 4), so at most 4 can have been kept.
        var tooMany = Write("recent-many.snapshot", tensors: new() { ["queue"] = zeros(QueueShape), ["recent"] = zeros(2, 5, 3, 4) });
        var many = Assert.Throws<FifoInputException>(() => Load(tooMany, keepLatents: 2));
        Assert.Equal("SnapshotInvalid", many.ErrorId);
        Assert.Equal($"Snapshot '{tooMany}' keeps 5 latents of only 4 output. The file is damaged; start fresh.", many.Message);

        // All four kept is the most there can be, and loads.
        var all = Write("recent-all.snapshot", tensors: new() { ["queue"] = zeros(QueueShape), ["recent"] = zeros(2, 4, 3, 4) });
        using var loaded = Load(all, keepLatents: 2);
        Assert.Equal(new long[] { 2, 4, 3, 4 }, loaded.Recent!.shape);
    }
}
