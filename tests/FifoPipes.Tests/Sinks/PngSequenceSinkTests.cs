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
        File.WriteAllText(old, "an earlier run");
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "unrelated files do not count");
        foreach (int later in new[] { 40, 26, 9 }) File.WriteAllText(Path.Combine(folder, $"frame_{later:D6}.png"), "an earlier run");

        // The message names the sequence's first frame and its last, whatever order the folder lists them in.
        var ex = Assert.Throws<FifoInputException>(() => Factory.Create(null, new SinkTarget("out", 8, false), Context));
        Assert.Equal(SinkFiles.OutputExistsErrorId, ex.ErrorId);
        Assert.Contains($"The sink output '{old}' already exists (4 frames of an earlier run match the pattern", ex.Message);
        Assert.Contains("up to frame_000040.png). Use -Force", ex.Message);
        Assert.EndsWith("A run resumed from a snapshot, given -Force, carries it on in place.", ex.Message);
        Assert.Contains("-Force", ex.Message);
        Assert.Equal("an earlier run", File.ReadAllText(old));

        using var sink = Factory.Create(null, new SinkTarget("out", 8, true), Context);
        var frame = Frame(7, 5, 5);
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
            foreach (var i in indices) sink.Write(Frame(i, 3, 3));
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
        killed.Write(Frame(0, 3, 3));
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

    [Fact]
    public void A_bad_compression_level_is_an_input_error_naming_the_option()
    {
        var ex = Assert.Throws<FifoInputException>(() =>
            Factory.Create(new PngSinkOptions { CompressionLevel = 12 }, new SinkTarget("out", 8, false), Context));
        Assert.Contains("compressionLevel", ex.Message);
    }
}
