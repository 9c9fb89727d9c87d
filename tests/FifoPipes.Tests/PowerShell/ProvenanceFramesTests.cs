using System.Management.Automation;
using FifoPipes.PowerShell;
using FifoPipes.Tests.Sinks;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>
/// A stopped, resumed or extended run leaves files that hold part of it: Get-FifoProvenance tells which frames each holds
/// apart from those the run planned, and the resume's warning joins them all.
/// </summary>
[Collection("PowerShell")]
public sealed class ProvenanceFramesTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-provenance-frames-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    List<object> Run(string script) => InProcessShell.Run(dir, script);

    FifoProvenance Provenance(string file) => Assert.IsType<FifoProvenance>(Assert.Single(Run($"Get-FifoProvenance '{file}'")));

    const string Recipe = """
        apiVersion: fifopipes/v1
        model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
        prompt: calm blue ocean
        frames: 8
        seed: 3
        sampler: { use: fifo, with: { partitions: 2 } }
        snapshot: { path: run.snapshot, every: 4 }
        sinks:
          - path: s.mp4
        """;

    /// <summary>
    /// Runs the recipe's 8 frames, then extends it twice from its snapshot, to 16 and to 24 frames: s.mp4, then
    /// s.from-000008.mp4 and s.from-000016.mp4 beside it. Returns the last resume's warnings.
    /// </summary>
    List<string> RunExtendedTwice()
    {
        File.WriteAllText(Path.Combine(dir, "snap.yaml"), Recipe);
        Run("Invoke-FifoRecipe snap.yaml -Force | Out-Null");
        Run("Invoke-FifoRecipe snap.yaml -Resume run.snapshot -Force -Override @{ frames = 16 } 3>$null | Out-Null");
        return Run("Invoke-FifoRecipe snap.yaml -Resume run.snapshot -Force -Override @{ frames = 24 } 3>&1")
            .OfType<WarningRecord>().Select(w => w.Message).ToList();
    }

    [SkippableFact]
    public void The_join_a_twice_extended_run_suggests_holds_every_frame_of_the_run()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes mp4 and the test counts frames with ffprobe");
        var hint = Assert.Single(RunExtendedTwice(), w => w.Contains("To join them: "));
        var joined = RunJoin(hint);
        // s.mp4 holds frames 0-7 only: a join that cut it at 16 and left out s.from-000008.mp4 had 16.
        Assert.Equal(24, Ffprobe.Probe(joined).Frames);
    }

    [SkippableFact]
    public void A_resumed_runs_segments_say_where_they_start_and_the_snapshot_how_far_the_run_got()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes mp4");
        RunExtendedTwice();
        var original = Provenance("s.mp4");
        Assert.Equal((8L, 0L, 8L), (original.Frames, original.FirstFrame!.Value, original.FramesWritten!.Value));
        var second = Provenance("s.from-000008.mp4");
        Assert.Equal((16L, 8L, 8L), (second.Frames, second.FirstFrame!.Value, second.FramesWritten!.Value));
        var third = Provenance("s.from-000016.mp4");
        Assert.Equal((24L, 16L, 8L), (third.Frames, third.FirstFrame!.Value, third.FramesWritten!.Value));
        var snapshot = Provenance("run.snapshot");
        Assert.Equal(24, snapshot.TakenAfter);
        Assert.Null(snapshot.FirstFrame);
        Assert.Null(snapshot.FramesWritten);
        Assert.Null(third.TakenAfter);
    }

    [SkippableFact]
    public void A_run_stopped_early_tells_the_frames_each_file_holds_apart_from_those_it_planned()
    {
        Skip.IfNot(Ffprobe.Available, "the files are mp4, webm and HLS, which need ffmpeg");
        // As Select-Object -First 3 leaves them (this runspace has no Select-Object): 3 frames of a run planned with 16.
        Run($"$f = New-FifoVideo 'calm blue ocean' -Frames 16 {InProcessShell.Tiny}; $f[0..2] | Export-FifoFrames s.mp4, s.webm, s.gif, frames, live/s.m3u8 | Out-Null");
        foreach (var file in new[] { "s.mp4", "s.webm", "s.gif", "frames", "live/s.m3u8" })
        {
            var record = Provenance(file);
            Assert.True((16L, 0L, 3L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{file}: {record.Frames} planned, {record.FramesWritten} from {record.FirstFrame}");
            // Whole as a record of the run, which is not a whole video.
            Assert.True(record.RecordComplete);
            Assert.True(record.Complete);
        }
    }

    [SkippableFact]
    public void A_file_that_starts_mid_run_says_where_in_its_record_whatever_its_name()
    {
        Skip.IfNot(Ffprobe.Available, "the files are mp4, webm and HLS, which need ffmpeg");
        // As Select-Object -Skip 5 leaves them: frames 5 to 7 of a run, in files named as if they held its start.
        Run($"$f = New-FifoVideo 'calm blue ocean' -Frames 8 {InProcessShell.Tiny}; $f[5..7] | Export-FifoFrames p.mp4, p.webm, p.gif, live/p.m3u8 | Out-Null");
        foreach (var file in new[] { "p.mp4", "p.webm", "p.gif", "live/p.m3u8" })
        {
            var record = Provenance(file);
            Assert.True((8L, 5L, 3L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{file}: {record.FramesWritten} from {record.FirstFrame}");
            // Where the file starts is no setting of the run: the recipe read back is the run's, whole.
            Assert.DoesNotContain(record.Settings.Keys.Cast<string>(), key => key.StartsWith("file.", StringComparison.Ordinal));
            Assert.DoesNotContain("file.", record.Recipe);
            Assert.True(record.RecordComplete);
        }
    }

    [SkippableFact]
    public void A_resumed_run_sent_to_a_file_of_a_new_name_says_where_it_starts()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes mp4");
        File.WriteAllText(Path.Combine(dir, "snap.yaml"), Recipe);
        Run("Invoke-FifoRecipe snap.yaml -Force | Out-Null");
        Run("New-FifoVideo -Recipe snap.yaml -Resume run.snapshot -Frames 12 3>$null | Export-FifoFrames more.mp4 | Out-Null");
        var more = Provenance("more.mp4");
        Assert.Equal((12L, 8L, 4L), (more.Frames, more.FirstFrame!.Value, more.FramesWritten!.Value));
    }

    [SkippableFact]
    public void A_file_written_under_another_kinds_extension_is_read_by_its_content()
    {
        Skip.IfNot(Ffprobe.Available, "the video is an mp4, which needs ffmpeg");
        // -Format picks the sink whatever the name says: a GIF named .png, an MP4 with no extension.
        Run($"New-FifoVideo 'calm blue ocean' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames odd.png -Format gif 3>$null | Out-Null");
        Run($"New-FifoVideo 'calm blue ocean' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames clip.bin -Format mp4 3>$null | Out-Null");
        foreach (var file in new[] { "odd.png", "clip.bin" })
        {
            var record = Provenance(file);
            Assert.Equal(("calm blue ocean", 0L, 2L), (record.Prompt, record.FirstFrame, record.FramesWritten));
        }
    }

    [Fact]
    public void A_snapshot_says_how_far_its_run_had_got_apart_from_the_frames_it_planned()
    {
        // As the fifo sampler saves one at frame 56 of a run planned with 2000 (FifoSnapshot.Save).
        using (var queue = TorchSharp.torch.zeros(1))
            FifoPipes.Torch.Checkpoints.SafetensorsFile.Save(Path.Combine(dir, "s.snapshot"), new Dictionary<string, TorchSharp.torch.Tensor> { ["queue"] = queue },
                new Dictionary<string, string>
                {
                    ["emitted"] = "56",
                    [FifoPipes.Abstractions.SnapshotMetadata.RunHash] = "0123456789abcdef",
                    [FifoPipes.Abstractions.SnapshotMetadata.RunSettings] = "model=analytic\n" + FifoPipes.Abstractions.SnapshotMetadata.PromptSpanSetting(0, "calm blue ocean", 2000) + "\nseed=1",
                });
        var snapshot = Provenance("s.snapshot");
        Assert.Equal((2000L, 56L), (snapshot.Frames, snapshot.TakenAfter!.Value));
        // It holds no frames of its own.
        Assert.Null(snapshot.FirstFrame);
        Assert.Null(snapshot.FramesWritten);
    }

    [Fact]
    public void A_record_names_the_model_and_the_sampler_so_a_sweep_over_samplers_tells_its_files_apart()
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames 2 -Sampler chunked {InProcessShell.Tiny.Replace("-Partitions 2 ", "")} | Export-FifoFrames chunked | Out-Null");
        Run($"New-FifoVideo 'calm blue ocean' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames fifo | Out-Null");
        Assert.Equal(("analytic", "chunked"), (Provenance("chunked").Model, Provenance("chunked").Sampler));
        Assert.Equal(("analytic", "fifo"), (Provenance("fifo").Model, Provenance("fifo").Sampler));
    }

    [Fact]
    public void A_records_recipe_gives_the_frame_size_in_pixels_and_makes_the_same_run()
    {
        // Tiny sets the analytic model's own sizes, 8 by 8 latent cells: 64 by 64 pixels.
        Run($"New-FifoVideo 'calm blue ocean' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames first | Out-Null");
        var first = Provenance("first");
        Assert.Contains("\nwidth: 64\n", first.Recipe);
        Assert.Contains("\nheight: 64\n", first.Recipe);
        Assert.DoesNotContain("    width:", first.Recipe);
        Assert.DoesNotContain("    height:", first.Recipe);
        File.WriteAllText(Path.Combine(dir, "again.yaml"), first.Recipe);
        Run("New-FifoVideo -Recipe again.yaml | Export-FifoFrames again | Out-Null");
        Assert.Equal(first.RunHash, Provenance("again").RunHash);
    }

    [Fact]
    public void A_png_frame_holds_itself_and_starts_at_its_number()
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames 3 {InProcessShell.Tiny} | Export-FifoFrames frames | Out-Null");
        var frame = Provenance(Path.Combine("frames", "frame_000002.png"));
        Assert.Equal((3L, 2L, 1L), (frame.Frames, frame.FirstFrame!.Value, frame.FramesWritten!.Value));
    }

    [Fact]
    public void A_png_frames_prompt_is_the_one_it_was_made_under_and_the_folders_its_first_frames()
    {
        Run($"New-FifoVideo 'calm blue ocean', 'green aurora' -Frames 3, 2 {InProcessShell.Tiny} | Export-FifoFrames frames | Out-Null");
        Assert.Equal(new[] { "calm blue ocean", "calm blue ocean", "calm blue ocean", "green aurora", "green aurora" },
            Enumerable.Range(0, 5).Select(i => Provenance(Path.Combine("frames", $"frame_{i:D6}.png")).Prompt));
        var folder = Provenance("frames");
        Assert.Equal("calm blue ocean", folder.Prompt);
        Assert.Equal(new[] { "calm blue ocean", "green aurora" }, folder.Prompts);
    }

    [SkippableFact]
    public void A_playlist_that_lists_only_its_latest_segments_starts_where_its_first_listed_one_does()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes HLS through ffmpeg");
        // 24 frames at 8 fps in one-second segments: ffmpeg lists the last two (frames 8 to 23) and deletes the first.
        Run($"New-FifoVideo 'calm blue ocean' -Frames 24 {InProcessShell.Tiny} | Export-FifoFrames live/w.m3u8 -Option @{{ segment = 1; keep = 2 }} | Out-Null");
        var window = Provenance("live/w.m3u8");
        Assert.True((24L, 8L, 16L) == (window.Frames, window.FirstFrame, window.FramesWritten), $"{window.FramesWritten} from {window.FirstFrame}");
        // At 16 fps a second holds 16 frames: the one segment listed starts at 16, not 8.
        Run($"New-FifoVideo 'calm blue ocean' -Frames 24 {InProcessShell.Tiny} | Export-FifoFrames fast/w.m3u8 -Fps 16 -Option @{{ segment = 1; keep = 1 }} | Out-Null");
        var fast = Provenance("fast/w.m3u8");
        Assert.True((24L, 16L, 8L) == (fast.Frames, fast.FirstFrame, fast.FramesWritten), $"{fast.FramesWritten} from {fast.FirstFrame}");
    }

    [SkippableFact]
    public void A_playlist_whose_first_listed_segment_gives_no_time_says_it_does_not_know_where_it_starts()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes HLS through ffmpeg");
        Run($"New-FifoVideo 'calm blue ocean' -Frames 24 {InProcessShell.Tiny} | Export-FifoFrames live/w.m3u8 -Option @{{ segment = 1; keep = 2 }} | Out-Null");
        // Its decode time box made one a reader skips: the frames still play and count, their place in the run is gone.
        var first = Path.Combine(dir, "live", File.ReadLines(Path.Combine(dir, "live", "w.m3u8")).First(l => l.EndsWith(".m4s", StringComparison.Ordinal)));
        var bytes = File.ReadAllBytes(first);
        "free"u8.CopyTo(bytes.AsSpan(bytes.AsSpan().IndexOf("tfdt"u8)));
        File.WriteAllBytes(first, bytes);
        var window = Provenance("live/w.m3u8");
        Assert.Null(window.FirstFrame);
        Assert.Equal(16, window.FramesWritten);
    }

    [Fact]
    public void A_png_frame_says_which_frame_it_is_whatever_it_was_saved_as()
    {
        // Names that end in digits which are no frame's, one with none, and a sequence whose pattern ends in one.
        Run($"$f = New-FifoVideo 'calm blue ocean' -Frames 20 {InProcessShell.Tiny}; $null = $f[7].Save('holiday-2024.png'); $null = $f[7].Save('poster.png'); " +
            "$null = $f[3].Save('v2.png'); $f[5..6] | Export-FifoFrames 'takes/shot_%d_v2.png' | Out-Null");
        foreach (var (file, first, written) in new[] { ("holiday-2024.png", 7L, 1L), ("poster.png", 7L, 1L), ("v2.png", 3L, 1L), ("takes", 5L, 2L) })
        {
            var record = Provenance(file);
            Assert.True((20L, first, written) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{file}: {record.FramesWritten} from {record.FirstFrame}");
            Assert.DoesNotContain("file.", record.Recipe);
        }
        // A frame an older version wrote records its run only, and was named by its index.
        var (run, _) = FifoPipes.Core.Media.FileRecord.Split(FifoPipes.Core.Media.ProvenanceReader.Read(Path.Combine(dir, "poster.png"))!);
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(8, 8))
        {
            SixLabors.ImageSharp.MetadataExtensions.GetPngMetadata(image.Metadata).TextData.Add(
                new SixLabors.ImageSharp.Formats.Png.PngTextData(FifoPipes.Core.ImageFiles.ProvenanceKeyword, run, "", ""));
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, Path.Combine(dir, "frame_000012.png"));
        }
        Assert.Equal(12, Provenance("frame_000012.png").FirstFrame);
    }

    [Fact]
    public void A_png_with_no_record_is_told_as_a_sink_that_keeps_none_another_program_or_an_older_version()
    {
        // As a third-party sink that records nothing (the contact-sheet example) leaves it: a PNG without the FifoPipes text.
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(8, 8))
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, Path.Combine(dir, "sheet.png"));
        var error = InProcessShell.RunFailing(dir, "Get-FifoProvenance sheet.png");
        Assert.StartsWith("ProvenanceMissing", error.FullyQualifiedErrorId);
        foreach (var possibility in new[] { "sink that keeps no record", "third-party sink", "another program", "before runs were recorded" })
            Assert.Contains(possibility, error.Exception.Message);
        Assert.DoesNotContain("not written by FifoPipes", error.Exception.Message);
    }

    /// <summary>Runs <paramref name="frames"/> frames with snapshots into <paramref name="outputs"/>, then extends the run from its snapshot to <paramref name="longer"/> in place.</summary>
    void RunExtendedInPlace(string outputs, int frames, int longer)
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames {frames} {InProcessShell.Tiny} -SnapshotPath run.snapshot | Export-FifoFrames {outputs} | Out-Null");
        Run($"New-FifoVideo 'calm blue ocean' -Frames {longer} {InProcessShell.Tiny} -Resume run.snapshot 3>$null | Export-FifoFrames {outputs} -Force 3>$null | Out-Null");
    }

    /// <summary>The run hash of a run planned with <paramref name="frames"/> frames from the start, and the frames it makes.</summary>
    (string RunHash, List<byte[]> Pixels) PlannedRun(int frames)
    {
        var made = Run($"New-FifoVideo 'calm blue ocean' -Frames {frames} {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        return (FifoPipes.Hosting.Recipes.RunProvenance.Parse(made[0].Provenance!, "frame").RunHash, made.Select(f => f.Pixels).ToList());
    }

    [Fact]
    public void A_sequence_a_longer_run_carried_on_in_place_is_that_runs_and_its_recipe_remakes_every_frame()
    {
        RunExtendedInPlace("frames", 8, 12);
        var record = Provenance("frames");
        // Before, the first frame's record alone: "0-11 of 8", and a recipe of the first 8 frames.
        Assert.True((12L, 0L, 12L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{record.FramesWritten} from {record.FirstFrame} of {record.Frames}");
        var planned = PlannedRun(12);
        Assert.Equal(planned.RunHash, record.RunHash);
        Assert.Null(record.Note);
        File.WriteAllText(Path.Combine(dir, "again.yaml"), record.Recipe);
        var again = Run("New-FifoVideo -Recipe again.yaml").Cast<FifoFrame>().ToList();
        Assert.Equal(planned.Pixels, again.Select(f => f.Pixels));
        // The record the run came from: the last frame's, which the longer run wrote.
        Assert.Equal("frame_000011.png", Path.GetFileName(record.RecordPath));
    }

    [SkippableFact]
    public void A_playlist_a_longer_run_carried_on_in_place_is_that_runs()
    {
        Skip.IfNot(Ffprobe.Available, "the sink writes HLS through ffmpeg");
        RunExtendedInPlace("live/x.m3u8", 16, 24);
        var record = Provenance("live/x.m3u8");
        Assert.True((24L, 0L, 24L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{record.FramesWritten} from {record.FirstFrame} of {record.Frames}");
        Assert.Equal(PlannedRun(24).RunHash, record.RunHash);
        Assert.Contains("frames: 24 }", record.Recipe);
    }

    [Fact]
    public void A_sequence_missing_frames_counts_those_it_holds_and_says_which_are_missing()
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames 12 {InProcessShell.Tiny} | Export-FifoFrames frames | Out-Null");
        foreach (int frame in new[] { 3, 4, 5, 9 }) File.Delete(Path.Combine(dir, "frames", $"frame_{frame:000000}.png"));
        var output = Run("Get-FifoProvenance frames 3>&1");
        var record = Assert.IsType<FifoProvenance>(Assert.Single(output, o => o is FifoProvenance));
        // Before: 8 frames from 0, "0-7 of 12", as if frames 8 to 11 had not been made.
        Assert.True((12L, 0L, 8L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{record.FramesWritten} from {record.FirstFrame}");
        Assert.Equal("3-5, 9", record.MissingFrames);
        var warning = Assert.Single(output.OfType<WarningRecord>()).Message;
        Assert.Contains("Frames 3-5, 9 are missing", warning);
        Assert.Equal(record.Note, warning[(warning.IndexOf(": ", StringComparison.Ordinal) + 2)..]);
    }

    [Fact]
    public void A_sequences_folder_counts_its_frames_only_and_is_named_as_the_folder()
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames 4 {InProcessShell.Tiny} | Export-FifoFrames frames | Out-Null");
        // A cover copied from a frame (it records the run), a PNG of no run, and a picture numbered otherwise.
        var folder = Path.Combine(dir, "frames");
        File.Copy(Path.Combine(folder, "frame_000001.png"), Path.Combine(folder, "cover.png"));
        File.Copy(Path.Combine(folder, "frame_000002.png"), Path.Combine(folder, "a1.png"));
        using (var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(8, 8))
            SixLabors.ImageSharp.ImageExtensions.SaveAsPng(image, Path.Combine(folder, "IMG_0001.png"));
        var record = Provenance("frames");
        Assert.True((4L, 0L, 4L) == (record.Frames, record.FirstFrame, record.FramesWritten), $"{record.FramesWritten} from {record.FirstFrame}");
        Assert.Null(record.MissingFrames);
        // The folder as asked for, not its first frame, which stays at hand as the file the record was read from.
        Assert.Equal(("frames", folder), (record.File, record.Path));
        Assert.Equal(Path.Combine(folder, "frame_000000.png"), record.RecordPath);
        Assert.StartsWith("frames: run ", record.ToString());
    }

    [Fact]
    public void Frames_of_another_run_after_a_sequences_own_are_named_and_leave_the_first_runs_record()
    {
        Run($"New-FifoVideo 'calm blue ocean' -Frames 4 {InProcessShell.Tiny} | Export-FifoFrames frames | Out-Null");
        Run($"New-FifoVideo 'red fire rising' -Frames 6 {InProcessShell.Tiny} | Export-FifoFrames other | Out-Null");
        File.Copy(Path.Combine(dir, "other", "frame_000004.png"), Path.Combine(dir, "frames", "frame_000004.png"));
        var first = Provenance(Path.Combine("frames", "frame_000000.png"));
        var output = Run("Get-FifoProvenance frames 3>&1");
        var record = Assert.IsType<FifoProvenance>(Assert.Single(output, o => o is FifoProvenance));
        Assert.Equal((first.RunHash, 4L, 5L), (record.RunHash, record.Frames, record.FramesWritten));
        Assert.Contains("frame_000004.png, was made by another run", record.Note);
        // More frames than the run planned, said why rather than shown as 0-4 of 4 alone.
        Assert.Contains("more than the 4 its run planned", record.Note);
        Assert.Single(output.OfType<WarningRecord>());
    }

    /// <summary>Runs a warning's ffmpeg command in the test's folder, where its joined file lands; returns that file.</summary>
    string RunJoin(string hint)
    {
        var arguments = CommandLine.Split(hint[(hint.IndexOf("To join them: ffmpeg ", StringComparison.Ordinal) + "To join them: ffmpeg ".Length)..]);
        var output = Path.Combine(dir, arguments[^1]);
        Ffprobe.Ffmpeg(arguments.SkipLast(1).Append(output).ToArray());
        return output;
    }
}

/// <summary>A shell command line's words, as sh splits them where only double quotes are used.</summary>
static class CommandLine
{
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        bool quoted = false, any = false;
        foreach (char c in line)
        {
            if (c == '"') { quoted = !quoted; any = true; }
            else if (c == ' ' && !quoted)
            {
                if (any) words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else { word.Append(c); any = true; }
        }
        if (any) words.Add(word.ToString());
        return words;
    }
}

/// <summary>How a file's frames are read without a run: its name, its blocks.</summary>
public sealed class FileFramesTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-file-frames-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(96)]
    [InlineData(1234567)]
    public void A_segment_starts_at_the_frame_the_sink_named_it_by(long first)
    {
        var video = Path.Combine(dir, "story.mp4");
        File.WriteAllText(video, "frames");
        var segment = FifoPipes.Core.Sinks.SinkFiles.ContinuationPath(video, first);
        Assert.Equal(first, FileFrames.FirstFrame(segment));
        Assert.Equal(0, FileFrames.FirstFrame(video));
        Assert.Equal(0, FileFrames.FirstFrame(Path.Combine(dir, "story.from-later.mp4")));
    }

    [SkippableFact]
    public void A_gif_cut_short_counts_the_images_it_holds_whole()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg makes the GIF");
        var gif = Path.Combine(dir, "three.gif");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=8", "-frames:v", "3", gif);
        Assert.Equal(3, FileFrames.Count(gif, gif));
        var bytes = File.ReadAllBytes(gif);
        var cut = Path.Combine(dir, "cut.gif");
        // Without its trailer it is still whole; a few bytes less cuts the last image's data.
        File.WriteAllBytes(cut, bytes[..^1]);
        Assert.Equal(3, FileFrames.Count(cut, cut));
        File.WriteAllBytes(cut, bytes[..^5]);
        Assert.Equal(2, FileFrames.Count(cut, cut));
    }
}
