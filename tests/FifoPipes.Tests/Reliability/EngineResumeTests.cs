using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Hosting;
using FifoPipes.Tests.Sinks;
using FifoPipes.Core.Media;
using FifoPipes.Torch.Checkpoints;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// Snapshots through the real engine: a snapshot becomes the resume point only after every frame before it is
/// written, a run that stops at any frame resumes without a gap, and video sinks continue in a new segment.
/// </summary>
public sealed class EngineResumeTests : IDisposable, IClassFixture<EngineResumeTests.UninterruptedRun>
{
    const int Frames = 40, Every = 8;

    /// <summary>The recipe's frames made in one go, once for every stop point the tests try.</summary>
    public sealed class UninterruptedRun : IDisposable
    {
        public string Folder { get; } = Directory.CreateTempSubdirectory("fifo-engine-whole-").FullName;
        public UninterruptedRun() => Run(Folder, Read(Folder, Recipe("whole", snapshots: false)));
        public string Pngs => Path.Combine(Folder, "whole");
        public void Dispose() => Directory.Delete(Folder, recursive: true);
    }

    readonly string folder = Directory.CreateTempSubdirectory("fifo-engine-resume-").FullName;
    readonly UninterruptedRun uninterrupted;
    public EngineResumeTests(UninterruptedRun uninterrupted) => this.uninterrupted = uninterrupted;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    static string Recipe(string output, string? resume = null, bool snapshots = true) => $"""
        apiVersion: fifopipes/v1
        model: {"{"} use: analytic, with: {"{"} height: 4, width: 6 {"}"} {"}"}
        prompt: blue waves rolling right
        frames: {Frames}
        seed: 3
        sampler: {"{"} use: fifo, with: {"{"} partitions: 2, lookahead: true {"}"} {"}"}
        overwrite: true
        {(snapshots ? $"snapshot: {{ path: run.snapshot, every: {Every} }}" : "")}
        {(resume is null ? "" : $"resume: {resume}")}
        sinks:
          - {"{"} path: {output}, use: png {"}"}
          - path: {output}.gif
        """;

    Recipe Read(string yaml) => Read(folder, yaml);

    static Recipe Read(string folder, string yaml)
    {
        var reader = new RecipeReader(TestPlugins.Host);
        var recipe = reader.ReadText(yaml, Path.Combine(folder, "run.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        return recipe!;
    }

    /// <summary>Runs a recipe into its sinks; <paramref name="stopAfter"/> frames then stops consuming, as a crash would.</summary>
    List<long> Run(Recipe recipe, int? stopAfter = null, Action<long>? afterEachFrame = null, IProgressSink? log = null) => Run(folder, recipe, stopAfter, afterEachFrame, log);

    static List<long> Run(string folder, Recipe recipe, int? stopAfter = null, Action<long>? afterEachFrame = null, IProgressSink? log = null)
    {
        var written = new List<long>();
        using var sinks = new SinkSet(recipe.Sinks, recipe.Overwrite, 8, new PluginContext(workingDirectory: folder));
        foreach (var e in new VideoRun(recipe).Events())
        {
            if (e is RunMessage message && log is not null)
            {
                if (message.Level == MessageLevel.Warning) log.Warning(message.Text); else log.Verbose(message.Text);
                continue;
            }
            if (e is not FrameProduced produced) continue;
            sinks.Write(produced.Frame);
            written.Add(produced.Frame.Index);
            afterEachFrame?.Invoke(produced.Frame.Index);
            if (written.Count == stopAfter) break;
        }
        sinks.Complete();
        return written;
    }

    static int GifFrames(string path)
    {
        using var image = SixLabors.ImageSharp.Image.Load(path);
        return image.Frames.Count;
    }

    long? CommittedSnapshot()
    {
        var path = Path.Combine(folder, "run.snapshot");
        return File.Exists(path) ? long.Parse(SafetensorsFile.ReadMetadata(path)["emitted"]) : null;
    }

    [SkippableFact]
    public void A_snapshot_waits_for_the_frames_an_encoder_holds_in_its_lookahead()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // At its default preset x264 holds 40 frames in its lookahead before it gives out the first: all of this run's.
        // The frames were piped to ffmpeg, but a crash (ffmpeg killed too) would lose every one, so no snapshot may count them.
        var yaml = Recipe("unused").Split('\n').TakeWhile(l => !l.TrimStart().StartsWith("sinks:")).Append("sinks: [ { path: held.mkv } ]");
        var seen = new List<long?>();
        Run(Read(string.Join('\n', yaml)), afterEachFrame: _ => seen.Add(CommittedSnapshot()));
        Assert.Equal(Frames, seen.Count);
        Assert.All(seen, committed => Assert.Null(committed));
        // Once ffmpeg finished the file with every frame, the last snapshot is the resume point.
        Assert.Equal(Frames, CommittedSnapshot());
        Assert.Equal(Frames, Ffprobe.Probe(Path.Combine(folder, "held.mkv")).Frames);
    }

    [Fact]
    public void The_resume_point_never_runs_ahead_of_the_written_frames()
    {
        // Stages a killed process left behind (old and current naming, and one whose save a kill interrupted) go when the next run starts.
        var leftovers = new[] { "run.snapshot.5.staged", "run.snapshot.16.0a1b2c3d.staged", "run.snapshot.24.0a1b2c3d.staged.0123456789abcdef0123456789abcdef.partial" }
            .Select(name => Path.Combine(folder, name)).ToList();
        var unrelated = Path.Combine(folder, "run.snapshot.notes.staged");
        foreach (var file in leftovers.Append(unrelated)) File.WriteAllText(file, "from a killed process");

        var seen = new List<long?>();
        Run(Read(Recipe("frames")), afterEachFrame: index =>
        {
            var committed = CommittedSnapshot();
            seen.Add(committed);
            // While frame `index` is being handled, only frames 0..index-1 are certainly on disk.
            Assert.True(committed is null || committed <= index, $"at frame {index} the snapshot already covers {committed} frames");
        });
        Assert.Equal(Enumerable.Range(0, Frames).Select(i => i < Every ? (long?)null : i / Every * Every), seen);
        Assert.Equal(Frames, CommittedSnapshot());
        Assert.Equal(unrelated, Assert.Single(Directory.EnumerateFiles(folder, "*.staged")));
        Assert.Empty(Directory.EnumerateFiles(folder, "*.partial"));
    }

    [Fact]
    public void A_stage_another_run_took_away_is_told_and_leaves_the_resume_point_as_it_was()
    {
        // Another run at the same snapshot path deletes this run's stages as its leftovers: here, after every frame.
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        Run(Read(Recipe("frames")), afterEachFrame: _ =>
        {
            foreach (var stage in Directory.EnumerateFiles(folder, "run.snapshot.*.staged")) File.Delete(stage);
        }, log: log);
        Assert.Null(CommittedSnapshot());
        Assert.Contains(log.Warnings, w => w.Contains("was gone when the frames before it were written") && w.Contains("Is another run using the same snapshot path?"));
    }

    [Fact]
    public void A_snapshot_the_file_system_will_not_put_in_place_is_told_and_the_run_goes_on()
    {
        // A non-empty folder where the snapshot goes: no rename replaces it (on Windows a scanner holding the file does the same).
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var written = Run(Read(Recipe("frames")), afterEachFrame: index =>
        {
            if (index == 0) File.WriteAllText(Path.Combine(Directory.CreateDirectory(Path.Combine(folder, "run.snapshot")).FullName, "in the way"), "");
        }, log: log);
        Assert.Equal(Frames, written.Count);
        Assert.Equal(Frames / Every, log.Warnings.Count(w => w.Contains("could not replace") && w.Contains("the run goes on, and its next snapshot tries again")));
        Assert.True(File.Exists(Path.Combine(folder, "run.snapshot", "in the way")));
    }

    [Theory]
    [InlineData(21)]
    [InlineData(24)]
    [InlineData(1)]
    public void A_run_stopped_at_any_frame_resumes_to_the_same_frames(int stopAfter)
    {
        var first = Run(Read(Recipe("parts")), stopAfter: stopAfter);
        Assert.Equal(stopAfter, first.Count);
        Assert.Empty(Directory.EnumerateFiles(folder, "*.staged"));

        long? resumeAt = CommittedSnapshot();
        var resumed = Run(Read(Recipe("parts", resume: resumeAt is null ? null : "run.snapshot")));
        long start = resumeAt ?? 0;
        Assert.Equal(Enumerable.Range((int)start, Frames - (int)start).Select(i => (long)i), resumed);

        var whole = Directory.GetFiles(uninterrupted.Pngs).Select(Path.GetFileName).Order().ToList();
        var parts = Directory.GetFiles(Path.Combine(folder, "parts")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(Frames, whole.Count);
        Assert.Equal(whole, parts);
        foreach (var name in whole)
            Assert.True(File.ReadAllBytes(Path.Combine(uninterrupted.Pngs, name!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(folder, "parts", name!))), $"{name} differs");

        // The GIF of the stopped run is left whole; the resumed run continues in a segment named by its first frame.
        var segment = Path.Combine(folder, $"parts.from-{start:D6}.gif");
        Assert.Equal(start > 0, File.Exists(segment));
        if (start > 0)
        {
            Assert.Equal(stopAfter, GifFrames(Path.Combine(folder, "parts.gif")));
            Assert.Equal(Frames - start, GifFrames(segment));
        }
    }

    [Fact]
    public void A_finished_run_goes_on_for_more_frames_from_its_last_snapshot_as_if_it_had_been_planned_that_long()
    {
        Run(Read(Recipe("first")));
        Assert.Equal(Frames, CommittedSnapshot());
        // Its last prompt covers 16 more frames: the resume makes frames 40..55, those of a 56-frame run.
        string Longer(string yaml) => yaml.Replace($"frames: {Frames}", $"frames: {Frames + 16}");
        Assert.Equal(Enumerable.Range(Frames, 16).Select(i => (long)i), Run(Read(Longer(Recipe("first", resume: "run.snapshot")))));
        Assert.Equal(Frames + 16, CommittedSnapshot());
        Run(Read(Longer(Recipe("planned", snapshots: false))));
        // The pixels: each file also records its run, whose length differs.
        foreach (var name in Directory.GetFiles(Path.Combine(folder, "planned")).Select(Path.GetFileName))
            Assert.True(SinkTestBase.Pixels(Path.Combine(folder, "planned", name!)).AsSpan().SequenceEqual(SinkTestBase.Pixels(Path.Combine(folder, "first", name!))), $"{name} differs");
        Assert.Equal(Frames + 16, Directory.GetFiles(Path.Combine(folder, "first")).Length);

        // Another prompt after it goes on too, again as planned: every window takes the prompt of the queue's head frame,
        // which had not reached the new span when the snapshot was taken. Another earlier schedule is refused.
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        string Appended(string yaml) => yaml.Replace("prompt: blue waves rolling right\n", "")
            .Replace($"frames: {Frames}", $"prompts:\n  - {{ prompt: blue waves rolling right, frames: {Frames + 16} }}\n  - {{ prompt: red fire rising, frames: 8 }}");
        Assert.Equal(Enumerable.Range(Frames + 16, 8).Select(i => (long)i), Run(Read(Appended(Recipe("first", resume: "run.snapshot"))), log: log));
        Assert.Empty(log.Warnings);
        Run(Read(Appended(Recipe("planned-two", snapshots: false))));
        Assert.Equal(Frames + 24, Directory.GetFiles(Path.Combine(folder, "first")).Length);
        foreach (var name in Directory.GetFiles(Path.Combine(folder, "planned-two")).Select(Path.GetFileName))
            Assert.True(SinkTestBase.Pixels(Path.Combine(folder, "planned-two", name!)).AsSpan().SequenceEqual(SinkTestBase.Pixels(Path.Combine(folder, "first", name!))), $"{name} differs");
        var other = Recipe("first", resume: "run.snapshot").Replace("blue waves rolling right", "green hills").Replace($"frames: {Frames}", $"frames: {Frames + 40}");
        var ex = Assert.Throws<FifoInputException>(() => Run(Read(other)));
        Assert.Equal("SnapshotMismatch", ex.ErrorId);
    }

    [Fact]
    public void A_run_snapshots_its_last_frame_too_so_one_of_any_length_goes_on_from_its_end()
    {
        // 20 frames, a snapshot every 8: the last one is at 20, not 16.
        string Length(string yaml, int frames) => yaml.Replace($"frames: {Frames}", $"frames: {frames}");
        Run(Read(Length(Recipe("short"), 20)));
        Assert.Equal(20, CommittedSnapshot());
        Assert.Equal(Enumerable.Range(20, 7).Select(i => (long)i), Run(Read(Length(Recipe("short", resume: "run.snapshot"), 27))));
        Assert.Equal(27, CommittedSnapshot());
    }

    [Fact]
    public void A_resumed_run_that_names_no_snapshot_path_goes_on_snapshotting_to_the_file_it_resumed_from()
    {
        Run(Read(Recipe("parts")), stopAfter: 10);
        Assert.Equal(Every, CommittedSnapshot());
        // Its interval alone (-SnapshotEvery with -Resume): a second crash, after frame 19, resumes from 16.
        var every = Read(Recipe("parts", resume: "run.snapshot", snapshots: false).Replace("resume:", $"snapshot: {{ every: {Every} }}\nresume:"));
        Assert.True(every.SnapshotFollowsResume);
        Assert.Equal(Enumerable.Range(Every, 12).Select(i => (long)i), Run(every, stopAfter: 12));
        Assert.Equal(2 * Every, CommittedSnapshot());
        // Nothing said of snapshots: every 100 frames, and after the last.
        var resumed = Read(Recipe("parts", resume: "run.snapshot", snapshots: false));
        Assert.Equal((Path.Combine(folder, "run.snapshot"), RecipeReader.DefaultSnapshotEvery), (resumed.Snapshot!.Path, resumed.Snapshot.EveryFrames));
        Run(resumed);
        Assert.Equal(Frames, CommittedSnapshot());
        // A path of its own is the recipe's, as before.
        Assert.False(Read(Recipe("parts", resume: "run.snapshot")).SnapshotFollowsResume);
    }

    [Fact]
    public void A_resumed_run_whose_snapshot_cannot_be_replaced_goes_on_without_snapshots_and_says_so()
    {
        Run(Read(Recipe("parts")), stopAfter: 10);
        // A name the file system takes, but not with a stage's suffix: the stages cannot be written beside it.
        var kept = Path.Combine(folder, new string('k', 240) + ".snapshot");
        File.Copy(Path.Combine(folder, "run.snapshot"), kept);
        var before = File.ReadAllBytes(kept);
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        Assert.Equal(Enumerable.Range(Every, Frames - Every).Select(i => (long)i), Run(Read(Recipe("parts", resume: kept, snapshots: false)), log: log));
        var warning = Assert.Single(log.Warnings);
        Assert.StartsWith($"This resumed run takes no snapshots, so another interruption resumes from '{kept}' again: Snapshots cannot be written to", warning);
        Assert.Equal(before, File.ReadAllBytes(kept));
    }

    [Fact]
    public void A_snapshot_place_that_cannot_be_written_stops_the_run_before_its_first_frame()
    {
        // /proc takes no new files, whoever asks (root included).
        var recipe = Read(Recipe("unwritable").Replace("path: run.snapshot", "path: /proc/run.snapshot"));
        var written = new List<long>();
        var ex = Assert.Throws<FifoInputException>(() => written.AddRange(Run(recipe)));
        Assert.Equal(SnapshotPolicy.NotWritableErrorId, ex.ErrorId);
        Assert.StartsWith("Snapshots cannot be written to '/proc/run.snapshot' (", ex.Message);
        Assert.DoesNotContain(".staged", ex.Message);
        Assert.Empty(written);
        Assert.False(Directory.Exists(Path.Combine(folder, "unwritable")), "no sink opened");
    }

    [SkippableFact]
    public void A_resumed_run_carries_its_hls_playlist_on_as_one_stream()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        string Hls(string yaml) => yaml.Replace("path: live.gif", "{ path: live.m3u8, with: { segment: 1 } }");
        Run(Read(Hls(Recipe("live"))), stopAfter: 21);
        Assert.Equal(16, CommittedSnapshot());
        Run(Read(Hls(Recipe("live", resume: "run.snapshot"))));
        // The resumed run records how it was made exactly as the first did, so its init segment is the first's.
        var playlist = Path.Combine(folder, "live.m3u8");
        var lines = File.ReadAllLines(playlist);
        Assert.Single(lines, l => l.StartsWith("#EXT-X-MAP"));
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY", lines);
        Assert.Contains(lines, l => l.StartsWith("live.from-000021_"));
        Assert.Equal(Frames, Ffprobe.Probe(playlist).Frames);
        // The playlist still starts at the run's first frame, and the resume's part beside it at the first frame it added.
        long? FirstFrame(string file) => FifoPipes.PowerShell.FileFrames.FirstFrame(file, RunProvenance.Parse(ProvenanceReader.Read(file)!, file));
        Assert.Equal(0, FirstFrame(playlist));
        Assert.Equal(21, FirstFrame(Path.Combine(folder, "live.from-000021.m3u8")));
    }

    [Fact]
    public void A_run_resumes_across_device_and_batch_settings_and_a_changed_setting_is_named()
    {
        Run(Read(Recipe("first")), stopAfter: 20);
        Assert.Equal(16, CommittedSnapshot());

        // How the frames are computed (batch size, operator cache) is not what they are: the resume goes on.
        var rebatched = Recipe("rebatched", resume: "run.snapshot")
            .Replace("partitions: 2, lookahead: true", "partitions: 2, lookahead: true, windowBatch: 1")
            .Replace("height: 4, width: 6", "height: 4, width: 6, operatorCache: 2, device: cpu");
        Assert.Equal(Enumerable.Range(16, Frames - 16).Select(i => (long)i), Run(Read(rebatched)));

        // What they are is refused, naming the setting.
        var retuned = Recipe("retuned", resume: "run.snapshot").Replace("lookahead: true", "lookahead: true, guidance: 3");
        var ex = Assert.Throws<FifoInputException>(() => Run(Read(retuned)));
        Assert.Equal("SnapshotMismatch", ex.ErrorId);
        Assert.Contains("sampler.guidance is unset in the snapshot and 3 now", ex.Message);
        // A longer schedule is allowed, so it is not given as a reason beside the setting that is not.
        var longer = Assert.Throws<FifoInputException>(() => Run(Read(retuned.Replace($"frames: {Frames}", $"frames: {Frames + 8}"))));
        Assert.Contains("sampler.guidance is unset in the snapshot and 3 now", longer.Message);
        Assert.DoesNotContain("prompts[0]", longer.Message);
        Assert.DoesNotContain("pixels", longer.Message);

        // The analytic model's size counts latent cells; the user gave pixels, and reads them back.
        var resized = Assert.Throws<FifoInputException>(() => Run(Read(Recipe("resized", resume: "run.snapshot").Replace("height: 4, width: 6", "height: 5, width: 6"))));
        Assert.Contains("model.height is 4 in the snapshot and 5 now (the snapshot's frames are 48x32 pixels, -Width 48 -Height 32; this run's 48x40)", resized.Message);
    }

    [Fact]
    public void A_negative_seed_resumes_like_any_other()
    {
        Run(Read(Recipe("negative").Replace("seed: 3", "seed: -5")), stopAfter: 10);
        Assert.Equal(8, CommittedSnapshot());
        var resumed = Run(Read(Recipe("negative", resume: "run.snapshot").Replace("seed: 3", "seed: -5")));
        Assert.Equal(Enumerable.Range(8, Frames - 8).Select(i => (long)i), resumed);
    }

    [Theory]
    [InlineData("chunked", "snapshot", "snapshots (it keeps no resumable state); drop 'snapshot' (-SnapshotPath)")]
    [InlineData("freenoise", "resume", "snapshots to resume from (it keeps no resumable state); drop 'resume' (-Resume)")]
    [InlineData("gen-l-video", "livePrompt", "prompts given while it runs; drop 'livePrompt' (-LivePrompt)")]
    [InlineData("chunked", "init", "start frames; drop 'init' (-InitImage)")]
    public void Baseline_samplers_refuse_what_they_do_not_take_at_the_recipes_line_before_a_model_loads(string sampler, string key, string expected)
    {
        File.WriteAllText(Path.Combine(folder, "start.png"), "");
        var run = Recipe("baseline").Replace("use: fifo, with: { partitions: 2, lookahead: true }", $"use: {sampler}");
        var yaml = key switch
        {
            "snapshot" => run,
            "resume" => run.Replace("snapshot: { path: run.snapshot, every: 8 }", "resume: start.png"),
            _ => run.Replace("snapshot: { path: run.snapshot, every: 8 }", $"{key}: start.png"),
        };
        var reader = new RecipeReader(TestPlugins.Host);
        Assert.Null(reader.ReadText(yaml, Path.Combine(folder, "run.yaml")));
        var problem = Assert.Single(reader.Diagnostics);
        Assert.Equal(key, problem.Path);
        Assert.Contains($"the {sampler} sampler does not take {expected} or use a sampler that does, such as fifo", problem.Message);
        Assert.Equal(yaml.Split('\n').ToList().FindIndex(l => l.TrimStart().StartsWith(key + ":")) + 1, problem.Location?.Line);
        // The fifo sampler takes it.
        var fifo = new RecipeReader(TestPlugins.Host);
        fifo.ReadText(yaml.Replace($"use: {sampler}", "use: fifo"), Path.Combine(folder, "run.yaml"));
        Assert.DoesNotContain(fifo.Diagnostics, d => d.Message.Contains("does not take"));
    }
}

/// <summary>Where a resumed video continues: beside an existing file, never over it.</summary>
public sealed class ContinuationPathTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-continuation-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Only_a_later_start_into_an_existing_file_gets_a_segment_named_by_its_first_frame()
    {
        var video = Path.Combine(folder, "story.mp4");
        Assert.Equal(video, FifoPipes.Core.Sinks.SinkFiles.ContinuationPath(video, 96));   // nothing there yet
        File.WriteAllText(video, "frames 0..100 of the interrupted run");
        Assert.Equal(video, FifoPipes.Core.Sinks.SinkFiles.ContinuationPath(video, 0));    // a fresh run replaces it (-Force)
        Assert.Equal(Path.Combine(folder, "story.from-000096.mp4"), FifoPipes.Core.Sinks.SinkFiles.ContinuationPath(video, 96));
    }

    [Fact]
    public void The_join_command_cuts_the_original_at_the_first_frame_or_at_its_time_when_the_file_holds_more_frames()
    {
        var video = Path.Combine(folder, "story.mp4");
        File.WriteAllText(video, "frames 0..100 of the interrupted run");
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 96, "mp4", log);
        // An interpolating sink wrote three frames per frame: frame 96 of the run starts at 12 s of the file, not at its frame 96.
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 96, "mp4", log, firstFrameSeconds: 96 / 8.0);
        Assert.Contains("[0:v]trim=end_frame=96[v0]", log.Warnings[0]);
        Assert.Contains("[0:v]trim=end=12[v0]", log.Warnings[1]);
        // Files that do not join into their own kind (HLS playlists) name what they join into, and what to do first.
        var playlist = Path.Combine(folder, "live.m3u8");
        File.WriteAllText(playlist, "#EXTM3U\n");
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(playlist, 96, "hls", log, joinedExtension: ".mp4", joinNote: "end it first");
        Assert.EndsWith("concat=n=2\" joined.mp4 (end it first)", log.Warnings[2]);
        // A fresh run or a new file: no segment, no warning.
        Assert.Equal(playlist, FifoPipes.Core.Sinks.SinkFiles.OpenPath(playlist, 0, "hls", log));
        Assert.Equal(3, log.Warnings.Count);
        Assert.All(log.Warnings, w => Assert.DoesNotContain("is empty", w));
        // An empty earlier file holds none of the frames before the resume point: the gap is said with the join.
        var empty = Path.Combine(folder, "empty.gif");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(empty, 50, "gif", log);
        Assert.EndsWith($"'{empty}' is empty (0 bytes), so frames 0-49 are in no file here and the join cannot work: to have them, make the run again from frame 0", log.Warnings[3]);
    }

    [Fact]
    public void A_join_from_a_file_cut_short_says_which_frames_are_in_no_file()
    {
        // The interrupted run's video holds 40 frames and the segment an earlier resume wrote 8; the snapshots said 96 and 20.
        var video = Path.Combine(folder, "story.mp4");
        var segment = Path.Combine(folder, "story.from-000008.gif");
        FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=8", "-frames:v", "40", video);
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 96, "mp4", log);
        Assert.EndsWith($"'{video}' holds 40 frames, not the 96 before frame 96 (it was cut short), so frames 40-95 are in no file here and the joined video " +
                        "jumps over them: to have them, make the run again from frame 0, or resume a snapshot taken at frame 40 or before", Assert.Single(log.Warnings));
        // A file holding the frames before the resume point, and more, joins whole: nothing to say.
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 32, "mp4", log);
        Assert.DoesNotContain("no file here", log.Warnings[1]);
        // An interpolating sink's file holds several frames per run frame, so its count says nothing of the run's frames.
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 96, "mp4", log, firstFrameSeconds: 12);
        Assert.DoesNotContain("no file here", log.Warnings[2]);

        // A GIF segment of an earlier resume (frames 8-19 asked for), counted by its images.
        var gif = Path.Combine(folder, "story.gif");
        FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=8", "-frames:v", "8", gif);
        FifoPipes.Tests.Sinks.Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=8", "-frames:v", "5", segment);
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(gif, 20, "gif", log);
        Assert.EndsWith($"'{segment}' holds 5 frames, not the 12 before frame 20 (it was cut short), so frames 13-19 are in no file here and the joined video " +
                        "jumps over them: to have them, make the run again from frame 0, or resume a snapshot taken at frame 13 or before", log.Warnings[3]);
    }

    [Fact]
    public void The_join_command_of_a_later_resume_joins_every_earlier_segment_each_cut_where_the_next_starts()
    {
        var video = Path.Combine(folder, "story.mp4");
        foreach (var name in new[] { "story.mp4", "story.from-000008.mp4", "story.from-000020.mp4",
                     // Not this file's segments: another extension, another name, no frame number.
                     "story.from-000012.gif", "storyboard.from-000012.mp4", "story.from-later.mp4",
                     // From this run's first frame on: frames this run makes again.
                     "story.from-000030.mp4", "story.from-000044.mp4" })
            File.WriteAllText(Path.Combine(folder, name), "frames");
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 30, "mp4", log);
        var warning = Assert.Single(log.Warnings);
        Assert.Contains($"To join them: ffmpeg -i \"{video}\" -i \"{Path.Combine(folder, "story.from-000008.mp4")}\" -i \"{Path.Combine(folder, "story.from-000020.mp4")}\" " +
                        $"-i \"{Path.Combine(folder, "story.from-000030.mp4")}\" " +
                        "-filter_complex \"[0:v]trim=end_frame=8[v0];[1:v]trim=end_frame=12[v1];[2:v]trim=end_frame=10[v2];[v0][v1][v2][3:v]concat=n=4\" joined.mp4", warning);
        Assert.Contains("and the 2 segments earlier resumes wrote beside it as they are", warning);
    }

    [Fact]
    public void Earlier_segments_of_an_interpolated_file_with_sound_are_cut_by_time_sound_too()
    {
        var video = Path.Combine(folder, "story.mkv");
        File.WriteAllText(video, "frames");
        File.WriteAllText(Path.Combine(folder, "story.from-000008.mkv"), "frames");
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        // 8 fps: the run's frame 16 is 2 s into the joined file.
        FifoPipes.Core.Sinks.SinkFiles.OpenPath(video, 16, "mkv", log, firstFrameSeconds: 2, soundUntil: 2);
        Assert.Contains("\"[0:v]trim=end=1[v0];[0:a]atrim=end=1,asetpts=PTS-STARTPTS[s0];[1:v]trim=end=1[v1];[1:a]atrim=end=1,asetpts=PTS-STARTPTS[s1];" +
                        "[v0][s0][v1][s1][2:v][2:a]concat=n=3:v=1:a=1\"", Assert.Single(log.Warnings));
    }
}
