using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Sinks.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit;

namespace FifoPipes.Tests.Sinks;

public sealed class PngSequenceSinkTests : SinkTestBase
{
    static readonly PngSequenceSinkFactory Factory = new();

    [Fact]
    public void A_folder_gets_every_frame_pixel_exact_under_the_default_names()
    {
        var frames = Enumerable.Range(0, 5).Select(i => Frame(i, 13, 7)).ToList();
        using var sink = Factory.Create(null, new SinkTarget("out", 8, false), Context);
        foreach (var f in frames) sink.Write(f);
        // The sink reports its folder, not every frame: an endless run would hold millions of names.
        Assert.Equal(new[] { Path.Combine(Dir, "out") }, sink.Complete());

        var expected = Enumerable.Range(0, 5).Select(i => Path.Combine(Dir, "out", $"frame_{i:D6}.png")).ToList();
        Assert.Equal(expected, Directory.GetFiles(Path.Combine(Dir, "out")).Order());
        for (int i = 0; i < 5; i++) Assert.Equal(frames[i].Rgb, Pixels(expected[i]));
    }

    [Fact]
    public void A_second_run_into_the_same_sink_follows_the_first_instead_of_overwriting_it()
    {
        static VideoFrame OfRun(long index, Guid run) { var f = Frame(index, 4, 4); return new VideoFrame(f.Index, f.Width, f.Height, f.Rgb, f.Prompt, f.Fps, run); }
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var frames = new[] { OfRun(0, first), OfRun(1, first), OfRun(0, second), OfRun(1, second), OfRun(2, second) };
        using var sink = Factory.Create(null, new SinkTarget("two", 8, false), Context);
        foreach (var f in frames) sink.Write(f);
        sink.Complete();

        var written = Directory.GetFiles(Path.Combine(Dir, "two")).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => Path.Combine(Dir, "two", $"frame_{i:D6}.png")), written);
        for (int i = 0; i < 5; i++) Assert.Equal(frames[i].Rgb, Pixels(written[i]));
    }

    [Theory]
    [InlineData("seq/f_%05d.png", "seq/f_00003.png")]
    [InlineData("seq/f%d.png", "seq/f3.png")]
    [InlineData("seq/100%%_%03d.png", "seq/100%_003.png")]
    [InlineData("seq/clip.png", "seq/clip_000003.png")]
    public void Patterns_and_file_names_number_the_frames(string target, string expectedForFrame3)
    {
        using var sink = Factory.Create(new PngSinkOptions { CompressionLevel = 1 }, new SinkTarget(target, 8, false), Context);
        var frame = Frame(3, 4, 4);
        sink.Write(frame);
        // A pattern or stem is reported by its first frame, never by the folder around it (which may hold anything).
        Assert.Equal(Path.Combine(Dir, expectedForFrame3), Assert.Single(sink.Complete()));
        Assert.Equal(frame.Rgb, Pixels(Path.Combine(Dir, expectedForFrame3)));
    }

    [Theory]
    [InlineData("clip.mp4")]
    [InlineData("seq/clip.GIF")]
    [InlineData("still.jpg")]
    public void A_path_named_like_a_video_or_picture_of_another_kind_is_refused_rather_than_made_a_folder(string target)
    {
        var ex = Assert.Throws<FifoInputException>(() => Factory.Check(null, new SinkTarget(target, 8, false), Context));
        Assert.Equal(FramePattern.NamesMediaFileErrorId, ex.ErrorId);
        Assert.Contains("leave out the png format (-Format png, use: png)", ex.Message);
        Assert.Contains(Path.ChangeExtension(Path.Combine(Dir, target), ".png"), ex.Message);
        Assert.False(Directory.Exists(Path.Combine(Dir, target)));
        // Other dotted names are folders still.
        using var sink = Factory.Create(null, new SinkTarget("frames.v2", 8, false), Context);
        sink.Write(Frame(0, 4, 4));
        Assert.True(File.Exists(Path.Combine(Dir, "frames.v2", "frame_000000.png")));
    }

    [Theory]
    [InlineData("seq/f_%5d.png")]
    [InlineData("seq/f_%d_%d.png")]
    [InlineData("seq/f_%s.png")]
    [InlineData("se%03dq/f.png")]
    public void Malformed_patterns_are_refused_with_an_example(string target)
    {
        var ex = Assert.Throws<FifoInputException>(() => Factory.Create(null, new SinkTarget(target, 8, false), Context));
        Assert.Equal(FramePattern.InvalidErrorId, ex.ErrorId);
        Assert.Contains("frame_%06d.png", ex.Message);
    }

    [Theory]
    [InlineData("50%off/frames", "50%off/frames/frame_000000.png")]
    [InlineData("100%", "100%/frame_000000.png")]
    [InlineData("50%off/f_%03d.png", "50%off/f_000.png")]
    [InlineData("a%%b/f_%%_%02d.png", "a%%b/f_%_00.png")]
    public void A_percent_sign_that_is_no_frame_number_field_is_a_folders_own(string target, string first)
    {
        using (var sink = Factory.Create(null, new SinkTarget(target, 8, false), Context)) sink.Write(Frame(0, 4, 4));
        Assert.True(File.Exists(Path.Combine(Dir, first)), $"{first} was not written");
    }

    [Fact]
    public void An_earlier_sequence_is_not_overwritten_without_force()
    {
        var folder = Path.Combine(Dir, "out");
        Directory.CreateDirectory(folder);
        var old = Path.Combine(folder, "frame_000007.png");
        WriteFrameFile(old, Recorded(Frame(7, 5, 5), "lava", 50));
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "unrelated files do not count");
        foreach (int later in new[] { 40, 26, 9 }) WriteFrameFile(Path.Combine(folder, $"frame_{later:D6}.png"), Recorded(Frame(later, 5, 5), "lava", 50));

        // The message names the sequence's first frame and its last, whatever order the folder lists them in.
        var ex = Assert.Throws<FifoInputException>(() => Factory.Create(null, new SinkTarget("out", 8, false), Context));
        Assert.Equal(SinkFiles.OutputExistsErrorId, ex.ErrorId);
        Assert.Contains($"The sink output '{old}' already exists (4 frames of an earlier run match the pattern", ex.Message);
        Assert.Contains("up to frame_000040.png). Use -Force", ex.Message);
        Assert.EndsWith("A run resumed from a snapshot, given -Force, carries it on in place.", ex.Message);
        Assert.Contains("-Force", ex.Message);
        Assert.Equal(Frame(7, 5, 5).Rgb, Pixels(old));

        using var sink = Factory.Create(null, new SinkTarget("out", 8, true), Context);
        var frame = Recorded(Frame(7, 5, 5, seed: 2), "lava", 50);
        sink.Write(frame);
        sink.Complete();
        Assert.Equal(frame.Rgb, Pixels(old));
    }

    [Fact]
    public void A_fresh_run_over_a_longer_sequence_leaves_none_of_its_frames_but_a_resumed_one_continues_it()
    {
        IReadOnlyList<string> Names() => Directory.GetFiles(Path.Combine(Dir, "out")).Select(Path.GetFileName).Order().ToList()!;
        void WriteRun(IEnumerable<int> indices)
        {
            using var sink = Factory.Create(null, new SinkTarget("out", 8, true), Context);
            foreach (var i in indices) sink.Write(Recorded(Frame(i, 3, 3), "lava", 6));
            sink.Complete();
        }
        WriteRun(Enumerable.Range(0, 6));
        File.WriteAllText(Path.Combine(Dir, "out", "notes.txt"), "not a frame");

        WriteRun(new[] { 3, 4 });   // resumed at frame 3: frame 5 of the sequence it continues stays
        Assert.Equal(new[] { "frame_000000.png", "frame_000001.png", "frame_000002.png", "frame_000003.png", "frame_000004.png", "frame_000005.png", "notes.txt" }, Names());

        WriteRun(new[] { 0, 1 });   // a new, shorter video: the old frames 2-5 go
        Assert.Equal(new[] { "frame_000000.png", "frame_000001.png", "notes.txt" }, Names());

        // Killed before it completes, a fresh run has already cleared the earlier sequence: a resume continues a clean one.
        WriteRun(Enumerable.Range(0, 6));
        var killed = Factory.Create(null, new SinkTarget("out", 8, true), Context);
        killed.Write(Recorded(Frame(0, 3, 3), "lava", 6));
        Assert.Equal(new[] { "frame_000000.png", "notes.txt" }, Names());
    }

    [Fact]
    public void Unrelated_files_in_the_folder_do_not_block_a_run()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "out"));
        File.WriteAllText(Path.Combine(Dir, "out", "frame_notes.png"), "not a frame number");
        using var sink = Factory.Create(null, new SinkTarget("out", 8, false), Context);
        sink.Write(Frame(0, 3, 3));
        Assert.Single(sink.Complete());
    }

    /// <summary><paramref name="frame"/> as a run records it (<see cref="VideoFrame.Provenance"/>): prompt, frame count and seed decide the run.</summary>
    static VideoFrame Recorded(VideoFrame frame, string prompt, long frames, int seed = 3, string? hash = null) =>
        new(frame.Index, frame.Width, frame.Height, frame.Rgb, prompt, frame.Fps, frame.RunId)
        {
            Provenance = $"FifoPipes run {hash ?? $"{prompt}-{frames}-{seed}"}\nplugins=test 1.0\nmodel=analytic\nsampler=fifo\nprompts[0]={prompt}|{frames}\nseed={seed}",
        };

    /// <summary>A frame written as the sink writes it (with its run's record, where it has one), outside any sink.</summary>
    static void WriteFrameFile(string path, VideoFrame frame)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        FifoPipes.Core.ImageFiles.SaveImage(frame, path);
    }

    static void WriteRun(PngSequenceSinkFactory factory, string target, bool force, PluginContext context, IEnumerable<VideoFrame> frames)
    {
        using var sink = factory.Create(null, new SinkTarget(target, 8, force), context);
        foreach (var frame in frames) sink.Write(frame);
        sink.Complete();
    }

    [Fact]
    public void A_resume_into_a_folder_of_another_runs_frames_is_refused_naming_both_runs_before_any_file_is_touched()
    {
        // The ocean run wrote frames 0-9; a lava run resumed at frame 5 with -Force (every resume has it) would replace 5-9.
        WriteRun(Factory, "ofr", false, Context, Enumerable.Range(0, 10).Select(i => Recorded(Frame(i, 4, 4), "ocean", 10, seed: 4)));
        var before = Directory.GetFiles(Path.Combine(Dir, "ofr")).ToDictionary(f => f, File.ReadAllBytes);

        var sink = Factory.Create(null, new SinkTarget("ofr", 8, true), Context);
        var ex = Assert.Throws<FifoInputException>(() => sink.Write(Recorded(Frame(5, 4, 4, seed: 9), "lava", 40)));
        Assert.Equal(PngSequenceSink.OtherRunErrorId, ex.ErrorId);
        Assert.Contains("run 'ocean-10-4' (prompt 'ocean', seed 4)", ex.Message);
        Assert.Contains("this run is run 'lava-40-3' (prompt 'lava', seed 3)", ex.Message);
        Assert.Contains("another folder", ex.Message);
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(Path.Combine(Dir, "ofr")).Order());
        Assert.All(before, f => Assert.Equal(f.Value, File.ReadAllBytes(f.Key)));

        // The folder's own run, made longer (its hash changes with its frame count), goes on there; so does the same run.
        WriteRun(Factory, "ofr", true, Context, Enumerable.Range(5, 10).Select(i => Recorded(Frame(i, 4, 4), "ocean", 15, seed: 4)));
        Assert.Equal(15, Directory.GetFiles(Path.Combine(Dir, "ofr")).Length);
        WriteRun(Factory, "ofr", true, Context, Enumerable.Range(12, 3).Select(i => Recorded(Frame(i, 4, 4), "ocean", 15, seed: 4)));
        // Another seed is another video, whatever the schedule.
        var seed = Factory.Create(null, new SinkTarget("ofr", 8, true), Context);
        Assert.Equal(PngSequenceSink.OtherRunErrorId,
            Assert.Throws<FifoInputException>(() => seed.Write(Recorded(Frame(15, 4, 4), "ocean", 20, seed: 5))).ErrorId);
    }

    [Fact]
    public void Only_frames_a_run_recorded_count_as_an_earlier_run_and_the_users_own_pngs_are_neither_removed_nor_replaced()
    {
        // The user's pictures under a loose pattern: %d.png could name frame 2019, but FifoPipes did not write them.
        var folder = Path.Combine(Dir, "pics");
        WriteFrameFile(Path.Combine(folder, "2019.png"), Solid(0, 10, 20, 30));
        WriteFrameFile(Path.Combine(folder, "20231224.png"), Solid(0, 40, 50, 60));
        var pictures = Directory.GetFiles(folder).ToDictionary(f => f, File.ReadAllBytes);
        var target = Path.Combine("pics", "%d.png");

        Factory.Check(null, new SinkTarget(target, 8, false), Context);
        AssertRefusedAtFrame2019(false);
        WriteRun(Factory, target, false, Context, Enumerable.Range(0, 4).Select(i => Recorded(Frame(i, 4, 4), "lava", 4)));
        // Again, over this run's own frames: they go, the pictures stay.
        WriteRun(Factory, target, true, Context, Enumerable.Range(0, 2).Select(i => Recorded(Frame(i, 4, 4), "fire", 2)));
        Assert.Equal(new[] { "0.png", "1.png", "2019.png", "20231224.png" }, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        Assert.All(pictures, f => Assert.Equal(f.Value, File.ReadAllBytes(f.Key)));

        AssertRefusedAtFrame2019(true);
        Assert.True(File.Exists(Path.Combine(folder, "1.png")));

        // A run that would write a frame over one of them is refused naming it, -Force or not, before it writes a frame.
        void AssertRefusedAtFrame2019(bool force)
        {
            var sink = Factory.Create(null, new SinkTarget(target, 8, force), Context);
            var ex = Assert.Throws<FifoInputException>(() => sink.Write(Recorded(Frame(0, 4, 4), "lava", 3000)));
            Assert.Equal(PngSequenceSink.NotAFrameErrorId, ex.ErrorId);
            Assert.Contains($"'{Path.Combine(folder, "2019.png")}' is where frame 2019 of this run goes", ex.Message);
            Assert.All(pictures, f => Assert.Equal(f.Value, File.ReadAllBytes(f.Key)));
        }
    }

    [Theory]
    [InlineData("%d.png", "0123.png", false)]
    [InlineData("%d.png", "0.png", true)]
    [InlineData("f_%06d.png", "f_42.png", false)]
    [InlineData("f_%06d.png", "f_0000042.png", false)]
    [InlineData("f_%06d.png", "f_1000000.png", true)]
    public void A_pattern_matches_only_the_names_it_writes(string pattern, string name, bool matches) =>
        Assert.Equal(matches, FramePattern.FromTargetPath(Path.Combine(Dir, pattern)).Matches(name));

    [Fact]
    public void A_resume_into_a_folder_missing_frames_before_its_first_warns_with_the_missing_ones()
    {
        WriteRun(Factory, "gap", false, Context, Enumerable.Range(0, 10).Select(i => Recorded(Frame(i, 4, 4), "lava", 20)));
        foreach (int deleted in new[] { 2, 3, 4, 7 }) File.Delete(Path.Combine(Dir, "gap", $"frame_{deleted:D6}.png"));
        var log = new RecordingLog();
        var context = new PluginContext(log, Dir);

        WriteRun(Factory, "gap", true, context, Enumerable.Range(10, 2).Select(i => Recorded(Frame(i, 4, 4), "lava", 20)));
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("frames 2-4 and 7 (4 of the 10) are missing before frame 10", warning);
        // A folder with every frame before the resume point, or none (a resumed run sent to a new folder), says nothing.
        WriteRun(Factory, "full", false, context, Enumerable.Range(0, 10).Select(i => Recorded(Frame(i, 4, 4), "lava", 20)));
        WriteRun(Factory, "full", true, context, Enumerable.Range(10, 2).Select(i => Recorded(Frame(i, 4, 4), "lava", 20)));
        WriteRun(Factory, "new", true, context, Enumerable.Range(10, 2).Select(i => Recorded(Frame(i, 4, 4), "lava", 20)));
        Assert.Single(log.Warnings);
        Assert.Equal(10 - 4 + 2, Directory.GetFiles(Path.Combine(Dir, "gap")).Length);
    }

    sealed class RecordingLog : IProgressSink
    {
        public List<string> Warnings { get; } = new();
        public void Verbose(string message) { }
        public void Warning(string message) => Warnings.Add(message);
    }

    [Fact]
    public void A_bad_compression_level_is_an_input_error_naming_the_option()
    {
        var ex = Assert.Throws<FifoInputException>(() =>
            Factory.Create(new PngSinkOptions { CompressionLevel = 12 }, new SinkTarget("out", 8, false), Context));
        Assert.Contains("compressionLevel", ex.Message);
    }
}
