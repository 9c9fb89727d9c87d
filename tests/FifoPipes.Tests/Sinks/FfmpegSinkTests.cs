using FifoPipes.Core.Media;
using System.Diagnostics;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.PowerShell;
using FifoPipes.Sinks.Ffmpeg;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>
/// Real ffmpeg runs, checked with ffprobe. Serial because some tests point FIFOPIPES_FFMPEG elsewhere,
/// which every ffmpeg sink in the process would see.
/// </summary>
[Collection(SerialSinkTests.Name)]
public sealed class FfmpegSinkTests : SinkTestBase
{
    static string Write(ISinkFactory factory, SinkTarget target, PluginContext context, IEnumerable<VideoFrame> frames, FfmpegSinkOptions? options = null)
    {
        using var sink = factory.Create(options, target, context);
        foreach (var f in frames) sink.Write(f);
        return Assert.Single(sink.Complete());
    }

    [SkippableFact]
    public void Mp4_is_h264_yuv420p_with_every_frame_and_the_right_duration()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Write(new Mp4SinkFactory(), new SinkTarget("out/clip.mp4", 8, false), Context, Frames(10),
            new FfmpegSinkOptions { Preset = "ultrafast" });
        Assert.Equal(Path.Combine(Dir, "out", "clip.mp4"), path);
        var probed = Ffprobe.Probe(path);
        Assert.Equal(new ProbedVideo("h264", 64, 48, "yuv420p", 10, probed.Duration), probed);
        Assert.Equal(1.25, probed.Duration, 2);
    }

    [SkippableFact]
    public void A_classic_mp4_is_written_when_fragments_are_turned_off()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Write(new Mp4SinkFactory(), new SinkTarget("classic.mp4", 10, false), Context, Frames(5),
            new FfmpegSinkOptions { Fragmented = false, Crf = 30, ExtraArgs = "-tune 'animation'" });
        var probed = Ffprobe.Probe(path);
        Assert.Equal((5, 0.5), (probed.Frames, Math.Round(probed.Duration, 2)));
    }

    [SkippableFact]
    public void WebM_is_vp9_with_every_frame_and_the_right_duration()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Write(new WebmSinkFactory(), new SinkTarget("clip.webm", 8, false), Context, Frames(10),
            new FfmpegSinkOptions { Preset = "realtime" });
        var probed = Ffprobe.Probe(path);
        Assert.Equal(("vp9", 64, 48, "yuv420p", 10), (probed.Codec, probed.Width, probed.Height, probed.PixelFormat, probed.Frames));
        Assert.Equal(1.25, probed.Duration, 2);
    }

    [SkippableFact]
    public void Mkv_takes_another_codec_and_odd_sizes_are_padded_for_yuv420p()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Write(new MkvSinkFactory(), new SinkTarget("odd.mkv", 8, false), Context, Frames(4, 33, 21),
            new FfmpegSinkOptions { Codec = "mpeg4", Crf = -1 });
        var probed = Ffprobe.Probe(path);
        Assert.Equal(("mpeg4", 34, 22, 4), (probed.Codec, probed.Width, probed.Height, probed.Frames));
    }

    [SkippableFact]
    public void An_audio_file_plays_under_the_video_looped_to_its_length_and_a_missing_one_is_refused_before_the_run()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", Path.Combine(Dir, "tone.wav"));
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Audio = "tone.wav" };
        // 24 frames at 8 fps: three seconds, the one-second tone three times; WebM takes Opus, the others AAC.
        foreach (var (factory, file, codec, preset) in new (ISinkFactory, string, string, string)[]
                     { (new Mp4SinkFactory(), "music.mp4", "aac", "ultrafast"), (new WebmSinkFactory(), "music.webm", "opus", "realtime") })
        {
            options.Preset = preset;
            var path = Write(factory, new SinkTarget(file, 8, false), Context, Frames(24), options);
            Assert.Equal(24, Ffprobe.Probe(path).Frames);
            Assert.Equal(new[] { "video", "audio" }, Ffprobe.StreamTypes(path));
            var audio = Ffprobe.Audio(path);
            Assert.Equal(codec, audio.Codec);
            Assert.InRange(audio.Duration, 2.8, 3.1);
        }
        Assert.Equal("tone.wav", options.Audio); // the options given are not changed by resolving the path

        var missing = Assert.Throws<FifoInputException>(() => new HlsSinkFactory().Check(new FfmpegSinkOptions { Audio = "no-such.mp3" }, new SinkTarget("live.m3u8", 8, false), Context));
        Assert.Equal(FfmpegEncodingOptions.AudioMissingErrorId, missing.ErrorId);
        Assert.Contains(Path.Combine(Dir, "no-such.mp3"), missing.Message);
        // A file without sound (a silent video, a text) is refused before the run too, by every ffmpeg sink.
        File.WriteAllText(Path.Combine(Dir, "notes.txt"), "not a sound");
        var text = Assert.Throws<FifoInputException>(() => new Mp4SinkFactory().Check(new FfmpegSinkOptions { Audio = "notes.txt" }, new SinkTarget("x.mp4", 8, false), Context));
        Assert.Equal(SoundFile.UnreadableErrorId, text.ErrorId);
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=32x32:rate=8", "-frames:v", "4", Path.Combine(Dir, "silent.mp4"));
        var silent = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(new StreamSinkOptions { Audio = "silent.mp4" }, new SinkTarget("udp://127.0.0.1:9", 8, false), Context));
        Assert.Equal(SoundFile.UnreadableErrorId, silent.ErrorId);
        options.Preset = "ultrafast";
        new MkvSinkFactory().Check(options, new SinkTarget("fine.mkv", 8, false), Context);
    }

    [SkippableFact]
    public void A_resumed_video_with_sound_goes_on_with_its_sound_and_joins_with_it_by_the_command_the_sink_gives()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // Silent for the first half second, a tone after: where the sound is shows in how loud it is.
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "aevalsrc='if(lt(t,0.5),0,0.8*sin(2*PI*440*t))':d=1:s=44100", Path.Combine(Dir, "tone.wav"));
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Audio = "tone.wav" };
        Write(new Mp4SinkFactory(), new SinkTarget("story.mp4", 8, false), Context, Frames(16), options);
        // The interrupted run wrote 16 frames; the resumed one starts again at frame 8.
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        Write(new Mp4SinkFactory(), new SinkTarget("story.mp4", 8, true), new PluginContext(log, Dir), Enumerable.Range(8, 8).Select(i => Frame(i, 64, 48)), options);
        var warning = Assert.Single(log.Warnings);
        // A segment from frame 4 is half a second in: its sound goes on where the tone begins (restarted, it would be
        // silent); the one from frame 8 is a whole turn of the one-second file in, back at the silence.
        var half = new FifoPipes.Tests.Sampling.RecordingSink();
        Write(new Mp4SinkFactory(), new SinkTarget("story.mp4", 8, true), new PluginContext(half, Dir), Enumerable.Range(4, 16).Select(i => Frame(i, 64, 48)), options);
        var fromHalf = Path.Combine(Dir, "story.from-000004.mp4");
        Assert.True(Ffprobe.MeanVolume(fromHalf, seconds: 0.3) > -20, "the segment from frame 4 starts with the tone, 0.5 s into the sound");
        // Its later turns of the sound follow on (ffmpeg's -ss on a looped input starts them early, and the muxer then
        // squeezes the overlap into packets a tick apart).
        Assert.InRange(Ffprobe.Audio(fromHalf).Duration, 1.9, 2.1);
        Assert.True(Ffprobe.SmallestAudioStep(fromHalf) > 0.01, $"audio packets {Ffprobe.SmallestAudioStep(fromHalf)} s apart");
        Assert.True(Ffprobe.MeanVolume(Path.Combine(Dir, "story.from-000008.mp4"), seconds: 0.3) < -40, "the segment from frame 8 starts with the silence, 1 s into it (a turn)");
        var command = warning[(warning.IndexOf("To join them: ", StringComparison.Ordinal) + "To join them: ".Length)..];
        var shell = new ProcessStartInfo("/bin/sh") { WorkingDirectory = Dir, RedirectStandardError = true };
        shell.ArgumentList.Add("-c");
        shell.ArgumentList.Add(command.Replace("ffmpeg ", "ffmpeg -v error ", StringComparison.Ordinal));
        using (var join = Process.Start(shell)!)
        {
            var errors = join.StandardError.ReadToEnd();
            join.WaitForExit();
            Assert.True(join.ExitCode == 0, errors);
        }
        var joined = Path.Combine(Dir, "joined.mp4");
        Assert.Equal(16, Ffprobe.Probe(joined).Frames);
        Assert.InRange(Ffprobe.Audio(joined).Duration, 1.9, 2.1);
    }

    [SkippableFact]
    public void Interpolation_and_resizing_happen_in_ffmpeg_before_encoding_and_an_odd_result_is_padded()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // 8 frames at 8 fps, interpolated to 24 and doubled: about a second of 24 fps at 128x96 (minterpolate ends
        // a little before the last frame's end: 22 frames).
        var smooth = Ffprobe.Probe(Write(new Mp4SinkFactory(), new SinkTarget("smooth.mp4", 8, false), Context, Frames(8),
            new FfmpegSinkOptions { Preset = "ultrafast", Interpolate = 24, Scale = 2 }));
        Assert.Equal((128, 96), (smooth.Width, smooth.Height));
        Assert.InRange(smooth.Frames, 21, 25);
        Assert.InRange(smooth.Duration, 0.85, 1.05);
        // 34x22 (even) by 1.5 is 51x33, which yuv420p cannot hold: the padding follows the scaled size.
        var larger = Ffprobe.Probe(Write(new MkvSinkFactory(), new SinkTarget("larger.mkv", 8, false), Context, Frames(4, 34, 22),
            new FfmpegSinkOptions { Preset = "ultrafast", Scale = 1.5 }));
        Assert.Equal((52, 34, 4), (larger.Width, larger.Height, larger.Frames));
        // A rate not above the frames' own is no interpolation: the frames are encoded as made, with a warning.
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var same = Ffprobe.Probe(Write(new Mp4SinkFactory(), new SinkTarget("same.mp4", 8, false), new PluginContext(log, Dir), Frames(4),
            new FfmpegSinkOptions { Preset = "ultrafast", Interpolate = 8 }));
        Assert.Equal(4, same.Frames);
        Assert.Contains(log.Warnings, w => w.Contains("interpolate 8 is not above the frames' 8 fps"));
    }

    [SkippableFact]
    public void Hls_is_a_growing_playlist_of_keyframe_started_segments_beside_it_and_plays_as_one_video()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        using var sink = new HlsSinkFactory().Create(new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1 }, new SinkTarget("live/sea take #2.m3u8", 8, false), Context);
        foreach (var f in Frames(20)) sink.Write(f);
        var playlist = Path.Combine(Dir, "live", "sea take #2.m3u8");
        var waited = Stopwatch.StartNew();
        bool listed = false;
        while (!listed && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            listed = File.Exists(playlist) && File.ReadAllText(playlist).Contains(".m4s");
            if (!listed) Thread.Sleep(50);
        }
        Assert.True(listed, "no segment was listed while ffmpeg ran");
        Assert.DoesNotContain("#EXT-X-ENDLIST", File.ReadAllText(playlist));
        Assert.Equal(playlist, Assert.Single(sink.Complete()));

        // Segment names are URIs to players: ' ' and '#' are not in them (a '#' would start a fragment). 20 frames at 8 fps in
        // 1 s segments: 1 + 1 + 0.5 s, every one listed (EVENT), the list closed at the end.
        var lines = File.ReadAllLines(playlist);
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:EVENT", lines);
        Assert.Contains("#EXT-X-MAP:URI=\"sea_take__2_init.mp4\"", lines);
        Assert.Equal(new[] { "sea_take__2_000000.m4s", "sea_take__2_000001.m4s", "sea_take__2_000002.m4s" }, lines.Where(l => l.EndsWith(".m4s")));
        Assert.Equal(new[] { "#EXTINF:1.000000,", "#EXTINF:1.000000,", "#EXTINF:0.500000," }, lines.Where(l => l.StartsWith("#EXTINF")));
        Assert.Equal("#EXT-X-ENDLIST", lines[^1]);
        var probed = Ffprobe.Probe(playlist);
        Assert.Equal(("h264", 64, 48, 20), (probed.Codec, probed.Width, probed.Height, probed.Frames));
    }

    [SkippableFact]
    public void An_hls_live_window_lists_the_latest_segments_and_deletes_older_ones()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // 6 s in 1 s segments, the latest 2 listed: ffmpeg keeps one more on disk for players still reading it.
        var playlist = Write(new HlsSinkFactory(), new SinkTarget("window.m3u8", 8, false), Context, Frames(48),
            new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1, Keep = 2 });
        var lines = File.ReadAllLines(playlist);
        Assert.Equal(new[] { "window_000004.m4s", "window_000005.m4s" }, lines.Where(l => l.EndsWith(".m4s")));
        Assert.DoesNotContain("#EXT-X-PLAYLIST-TYPE:EVENT", lines);
        Assert.InRange(Directory.GetFiles(Dir, "window_*.m4s").Length, 2, 3);
        Assert.True(File.Exists(Path.Combine(Dir, "window_init.mp4")), "the init segment (and the run's record in it) stays");
        Assert.Equal(16, Ffprobe.Probe(playlist).Frames);
    }

    [SkippableFact]
    public void An_hls_run_replaces_all_of_an_earlier_ones_segments_with_force_and_refuses_them_without()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1 };
        Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, false), Context, Frames(20), options);
        Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, true), Context, Frames(4), options);
        Assert.Equal(new[] { "sea.m3u8", "sea_000000.m4s", "sea_init.mp4" }, Directory.GetFiles(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(4, Ffprobe.Probe(Path.Combine(Dir, "sea.m3u8")).Frames);

        // Without the playlist its segments are still the earlier run's: ffmpeg would write over them unasked.
        File.Delete(Path.Combine(Dir, "sea.m3u8"));
        var ex = Assert.Throws<FifoInputException>(() => new HlsSinkFactory().Check(options, new SinkTarget("sea.m3u8", 8, false), Context));
        Assert.Contains("already exists in part: its segments (sea_", ex.Message);
        var pattern = Assert.Throws<FifoInputException>(() => new HlsSinkFactory().Check(options, new SinkTarget("take%v.m3u8", 8, true), Context));
        Assert.Equal(HlsFiles.PlaylistNameErrorId, pattern.ErrorId);
        var folder = Assert.Throws<FifoInputException>(() => new HlsSinkFactory().Check(options, new SinkTarget("pc%d/live.m3u8", 8, true), Context));
        Assert.Contains("folder '" + Path.Combine(Dir, "pc%d") + "' holds '%d'", folder.Message);
        // A percent sign ffmpeg leaves alone is fine.
        new HlsSinkFactory().Check(options, new SinkTarget("p100%x/live.m3u8", 8, true), Context);

        // -Force into a folder not made yet: there is no earlier run to remove.
        Write(new HlsSinkFactory(), new SinkTarget("new/live/sea.m3u8", 8, true), Context, Frames(4), options);
        Assert.Equal(4, Ffprobe.Probe(Path.Combine(Dir, "new", "live", "sea.m3u8")).Frames);
    }

    [Fact]
    public void A_file_where_an_outputs_folder_would_be_is_named_before_the_run_whatever_force_says()
    {
        File.WriteAllText(Path.Combine(Dir, "out.mp4"), "a file");
        File.WriteAllText(Path.Combine(Dir, "notes"), "a file");
        foreach (var (factory, path, file) in new (ISinkFactory, string, string)[]
                 {
                     (new Mp4SinkFactory(), "out.mp4/x.mp4", "out.mp4"), (new HlsSinkFactory(), "out.mp4/live/x.m3u8", "out.mp4"),
                     (new FifoPipes.Sinks.Images.GifSinkFactory(), "out.mp4/x.gif", "out.mp4"), (new FifoPipes.Sinks.Images.PngSequenceSinkFactory(), "out.mp4/frames", "out.mp4"),
                     // A png sink given a file's name as its folder (-Format png).
                     (new FifoPipes.Sinks.Images.PngSequenceSinkFactory(), "notes", "notes"),
                 })
        {
            var ex = Assert.Throws<FifoInputException>(() => factory.Check(null, new SinkTarget(path, 8, true), Context));
            Assert.Equal(SinkFiles.OutputUnderFileErrorId, ex.ErrorId);
            Assert.Contains($"'{Path.Combine(Dir, file)}' is a file", ex.Message);
        }
        // One named like a video is refused for that, file or not.
        var video = Assert.Throws<FifoInputException>(() => new FifoPipes.Sinks.Images.PngSequenceSinkFactory().Check(null, new SinkTarget("out.mp4", 8, true), Context));
        Assert.Equal(FifoPipes.Sinks.Images.FramePattern.NamesMediaFileErrorId, video.ErrorId);
    }

    [SkippableFact]
    public void A_folder_that_takes_no_files_is_named_before_the_run_and_left_without_a_probe()
    {
        // Root writes anywhere a permission allows, but not into sysfs: the place a user's read-only or full disk stands for.
        Skip.IfNot(OperatingSystem.IsLinux() && Directory.Exists("/sys/kernel"), "needs Linux's /sys, which takes no new files");
        foreach (var (factory, path) in new (ISinkFactory, string)[]
                 {
                     (new Mp4SinkFactory(), "/sys/kernel/x.mp4"), (new HlsSinkFactory(), "/sys/kernel/live/x.m3u8"),
                     (new FifoPipes.Sinks.Images.GifSinkFactory(), "/sys/kernel/out/x.gif"), (new FifoPipes.Sinks.Images.PngSequenceSinkFactory(), "/sys/kernel/frames"),
                 })
        {
            var ex = Assert.Throws<FifoInputException>(() => factory.Check(null, new SinkTarget(path, 8, true), Context));
            Assert.Equal(SinkFiles.OutputNotWritableErrorId, ex.ErrorId);
            Assert.Contains("'/sys/kernel' does not take new files", ex.Message);
            Assert.DoesNotContain(".fifopipes-probe-", ex.Message);
        }
        // A writable folder is checked the same way and keeps nothing of it.
        new FifoPipes.Sinks.Images.GifSinkFactory().Check(null, new SinkTarget("ok.gif", 8, false), Context);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir, ".fifopipes-probe-*"));
    }

    static FfmpegSinkOptions OneSecondSegments(int keep = 0) => new() { Preset = "ultrafast", Segment = 1, Keep = keep };

    /// <summary>Frames <paramref name="first"/>.. into an HLS playlist, replacing (as a resume does, with -Force) from any later frame.</summary>
    (string Playlist, FifoPipes.Tests.Sampling.RecordingSink Log) Hls(long first, int count, FfmpegSinkOptions? options = null, string name = "sea.m3u8")
    {
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var playlist = Write(new HlsSinkFactory(), new SinkTarget(name, 8, first > 0), new PluginContext(log, Dir), Frames(count, first: first), options ?? OneSecondSegments());
        return (playlist, log);
    }

    static IReadOnlyList<string> Listed(string playlist) => File.ReadAllLines(playlist).Where(l => l.EndsWith(".m4s")).ToList();

    /// <summary>Which of the test frames near <paramref name="expected"/> a decoded frame is (they differ by a shift of 16 levels of red a frame).</summary>
    static long NearestFrame(byte[] decoded, long expected) =>
        Enumerable.Range(-2, 5).Select(d => expected + d).Where(i => i >= 0)
            .MinBy(i => Frame(i, 64, 48).Rgb.Zip(decoded, (a, b) => Math.Abs(a - b)).Sum());

    [SkippableFact]
    public void A_live_window_carried_on_in_place_and_the_part_beside_it_start_where_their_first_listed_segments_do()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // The interrupted run lists the last three of its six one-second segments (frames 24 to 43); the resume from its
        // snapshot at 24 adds frames 44 to 79 as five more, the part beside it named by the first of them.
        Hls(0, 44, OneSecondSegments(keep: 3));
        Hls(24, 56, OneSecondSegments(keep: 3));
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var part = Path.Combine(Dir, "sea.from-000044.m3u8");
        // Each lists the part's last three, frames 60 to 79: neither the playlist's start nor the part's name is where they begin.
        Assert.Equal((60L, 20L), (FileFrames.FirstFrame(playlist), FileFrames.Count(playlist, playlist)));
        Assert.Equal((60L, 20L), (FileFrames.FirstFrame(part), FileFrames.Count(part, part)));
    }

    [SkippableFact]
    public void A_resumed_hls_run_carries_the_playlist_on_in_place_after_the_frames_it_holds()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // The interrupted run wrote frames 0..43 (six segments, 5.5 s); its last snapshot was at frame 24.
        Hls(0, 44);
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        using (var sink = new HlsSinkFactory().Create(OneSecondSegments(), new SinkTarget("sea.m3u8", 8, true), new PluginContext(log, Dir)))
        {
            foreach (var f in Frames(36, first: 24)) sink.Write(f);
            // While the run goes, each part segment ffmpeg completes is listed with the next frame, the playlist left open.
            var part = Path.Combine(Dir, "sea.from-000044.m3u8");
            var waited = Stopwatch.StartNew();
            while (!(File.Exists(part) && File.ReadAllText(part).Contains(".m4s")) && waited.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(50);
            sink.Write(Frame(60, 64, 48));
            Assert.Contains("sea.from-000044_000000.m4s", Listed(playlist));
            Assert.DoesNotContain("#EXT-X-ENDLIST", File.ReadAllText(playlist));
            foreach (var f in Frames(3, first: 61)) sink.Write(f);
            Assert.Equal(playlist, Assert.Single(sink.Complete()));
        }
        Assert.Contains(log.Messages, m => m.Contains("it holds frames up to 43, so this run adds frames from 44 on (written as 'sea.from-000044.m3u8'"));
        Assert.Empty(log.Warnings);
        var lines = File.ReadAllLines(playlist);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"sea_{i:D6}.m4s").Concat(Enumerable.Range(0, 3).Select(i => $"sea.from-000044_{i:D6}.m4s")), Listed(playlist));
        // The same encoder settings made the same init segment: the playlist goes on as one stream.
        Assert.Equal(new[] { "#EXT-X-MAP:URI=\"sea_init.mp4\"" }, lines.Where(l => l.StartsWith("#EXT-X-MAP")));
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY", lines);
        Assert.Contains("#EXT-X-PLAYLIST-TYPE:EVENT", lines);
        Assert.Equal("#EXT-X-ENDLIST", lines[^1]);
        // Its timeline and fragment numbers run on (ffmpeg, unlike players, drops segments whose times start again), and every frame is the right one.
        uint Fragment(string segment) => Fmp4Boxes.LastFragmentNumber(File.ReadAllBytes(Path.Combine(Dir, segment)));
        Assert.Equal(Fragment("sea_000005.m4s") + 1, Fragment("sea.from-000044_000000.m4s"));
        var probed = Ffprobe.Probe(playlist);
        Assert.Equal((64, 8.0), (probed.Frames, Math.Round(probed.Duration, 2)));
        var decoded = Ffprobe.RgbFrames(playlist, 64, 48);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), decoded.Select((frame, i) => NearestFrame(frame, i)));

        // A second resume carries on what the first made; a fresh run over it takes every part away.
        Hls(60, 20);
        Assert.Equal(Enumerable.Range(0, 2).Select(i => $"sea.from-000064_{i:D6}.m4s"), Listed(playlist).Skip(9));
        Assert.Equal(80, Ffprobe.Probe(playlist).Frames);
        Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, true), Context, Frames(4), OneSecondSegments());
        Assert.Equal(new[] { "sea.m3u8", "sea_000000.m4s", "sea_init.mp4" }, Directory.GetFiles(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public void A_playlist_of_fractional_segments_is_carried_on_in_place()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // ffmpeg rounds 2.5 s segments to a target duration of 2 (half to even): the resume's segments are no longer than the earlier ones.
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Segment = 2.5 };
        var (playlist, _) = Hls(0, 44, options);
        Assert.Contains("#EXT-X-TARGETDURATION:2", File.ReadAllLines(playlist));
        var (resumed, log) = Hls(24, 28, options);
        Assert.Equal(playlist, resumed);
        Assert.Empty(log.Warnings);
        Assert.Equal(52, Ffprobe.Probe(playlist).Frames);
    }

    [SkippableFact]
    public void An_interpolated_playlist_counts_every_frame_it_holds_when_carried_on()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // Interpolated, the file ends a third of a frame after the last frame's start (minterpolate's last output frame),
        // not a whole frame after: the 64 frames there must still count as 64.
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1, Interpolate = 24 };
        var (playlist, _) = Hls(0, 64, options);
        var (resumed, log) = Hls(24, 48, options);
        Assert.Equal(playlist, resumed);
        Assert.True(log.Messages.Any(m => m.Contains("it holds frames up to 63, so this run adds frames from 64 on")), string.Join("\n", log.Messages.Concat(log.Warnings)));
    }

    [SkippableFact]
    public void A_killed_resumes_part_of_the_same_name_is_replaced_not_listed()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 44);
        // A resume that was killed at once left a part of the name this one writes, with a segment of its own.
        File.Copy(Path.Combine(Dir, "sea_init.mp4"), Path.Combine(Dir, "sea.from-000044_init.mp4"));
        File.Copy(Path.Combine(Dir, "sea_000000.m4s"), Path.Combine(Dir, "sea.from-000044_000000.m4s"));
        File.WriteAllText(Path.Combine(Dir, "sea.from-000044.m3u8"),
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"sea.from-000044_init.mp4\"\n#EXTINF:1.000000,\nsea.from-000044_000000.m4s\n");
        var (playlist, _) = Hls(24, 40);
        // The new part's first segment is this run's, shifted onto the timeline like the rest: every frame in its place.
        Assert.Equal(64, Ffprobe.Probe(playlist).Frames);
        var decoded = Ffprobe.RgbFrames(playlist, 64, 48);
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (long)i), decoded.Select((frame, i) => NearestFrame(frame, i)));
    }

    [SkippableFact]
    public void A_live_window_counts_on_over_a_resumed_run_and_deletes_the_earlier_segments_it_leaves()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 48, OneSecondSegments(keep: 2));
        Assert.Equal(new[] { "sea_000004.m4s", "sea_000005.m4s" }, Listed(Path.Combine(Dir, "sea.m3u8")));
        var (playlist, _) = Hls(40, 40, OneSecondSegments(keep: 2));
        // Six segments before, four after: the window shows the 9th and 10th, numbered so.
        var lines = File.ReadAllLines(playlist);
        Assert.Equal(new[] { "sea.from-000048_000002.m4s", "sea.from-000048_000003.m4s" }, Listed(playlist));
        Assert.Contains("#EXT-X-MEDIA-SEQUENCE:8", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("#EXT-X-PLAYLIST-TYPE"));
        Assert.Empty(Directory.GetFiles(Dir, "sea_0*.m4s"));
        Assert.Equal(16, Ffprobe.Probe(playlist).Frames);
    }

    [SkippableFact]
    public void Hls_flags_given_in_extra_arguments_join_the_sinks_own_and_their_tags_stay_through_a_resume()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var options = OneSecondSegments();
        options.ExtraArgs = "-hls_flags program_date_time+independent_segments";
        Hls(0, 20, options);
        var playlist = Path.Combine(Dir, "sea.m3u8");
        // A killed run's playlist stays open (omit_endlist): the plain value did not replace the sink's flags.
        File.WriteAllLines(playlist, File.ReadAllLines(playlist).Where(l => l != "#EXT-X-ENDLIST"));
        var (resumed, log) = Hls(16, 16, options);
        Assert.Equal(playlist, resumed);
        Assert.Empty(log.Warnings);
        var lines = File.ReadAllLines(playlist);
        Assert.Single(lines, "#EXT-X-INDEPENDENT-SEGMENTS");
        // Every segment, the earlier run's and the part's, keeps the time ffmpeg gave it, just before its name.
        Assert.Equal(Listed(playlist), lines.Where((l, i) => l.EndsWith(".m4s") && lines[i - 1].StartsWith("#EXT-X-PROGRAM-DATE-TIME:")));
        Assert.Equal(2, Listed(playlist).Count(s => s.StartsWith("sea.from-000020")));
        Assert.Equal(32, Ffprobe.Probe(playlist).Frames);
    }

    [Fact]
    public void Hls_flags_that_would_write_segments_the_sink_cannot_manage_and_options_it_sets_itself_are_refused_by_name()
    {
        var options = new FfmpegSinkOptions { ExtraArgs = "-g 16 -hls_flags +program_date_time+single_file" };
        var ex = Assert.Throws<FifoInputException>(() => new HlsSinkFactory().Check(options, new SinkTarget("sea.m3u8", 8, false), Context));
        Assert.Equal(FfmpegSinkFactory.OptionInvalidErrorId, ex.ErrorId);
        Assert.Contains("extraArgs asks for the hls flag single_file, which this sink cannot use: it writes every segment into one file", ex.Message);
        Assert.Contains("second_level_segment_index", HlsExtraArguments.Problem(new[] { "-hls_flags", "second_level_segment_index" }));
        Assert.Contains("iframes_only", HlsExtraArguments.Problem(new[] { "-hls_flags", "+iframes_only" }));
        // What the sink sets from its own options is refused, with the option that sets it.
        Assert.Equal("extraArgs sets -hls_playlist_type, which this sink sets itself: the sink's keep option sets it (0: an EVENT playlist, more: a live window). Leave it out.",
            HlsExtraArguments.Problem(new[] { "-hls_playlist_type", "vod" }));
        Assert.Contains("the sink's segment option sets it", HlsExtraArguments.Problem(new[] { "-g", "16", "-hls_time", "4" }));
        Assert.Contains("-strftime", HlsExtraArguments.Problem(new[] { "-strftime", "1" }));
        // Taking a flag away is the user's to do; another container's extra arguments are not the hls muxer's.
        Assert.Null(HlsExtraArguments.Problem(new[] { "-hls_flags", "-single_file+program_date_time" }));
        new Mp4SinkFactory().Check(options, new SinkTarget("sea.mp4", 8, false), Context);
        var mp4 = FfmpegCommand.Build(options, FfmpegContainer.Mp4, new FrameFormat(64, 48, 8), "sea.mp4", overwrite: false);
        Assert.Contains("+program_date_time+single_file", mp4);
        options.ExtraArgs = "-hls_flags program_date_time -hls_flags -temp_file";
        var hls = FfmpegCommand.Build(options, FfmpegContainer.Hls, new FrameFormat(64, 48, 8), "sea.m3u8", overwrite: false);
        Assert.Equal(new[] { "temp_file+omit_endlist", "+program_date_time", "-temp_file" }, hls.Where((a, i) => i > 0 && hls[i - 1] == "-hls_flags"));
    }

    [SkippableFact]
    public void A_playlist_whose_ffmpeg_was_killed_goes_on_after_its_last_listed_segment_and_loses_what_it_did_not_list()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 44);
        // ffmpeg died with the run: the last two segments were not listed (one complete, one still under its temporary name)
        // and the playlist was left open. A part an earlier resume wrote as a playlist of its own lies beside it.
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var lines = File.ReadAllLines(playlist).ToList();
        File.WriteAllLines(playlist, lines.Take(lines.IndexOf("sea_000004.m4s") - 1));
        File.Move(Path.Combine(Dir, "sea_000005.m4s"), Path.Combine(Dir, "sea_000005.m4s.tmp"));
        File.WriteAllText(Path.Combine(Dir, "sea.from-000096.m3u8"), "#EXTM3U\n");
        File.WriteAllText(Path.Combine(Dir, "sea.from-000096_000000.m4s"), "another playlist's");

        var (_, log) = Hls(24, 40);
        Assert.Contains(log.Messages, m => m.Contains("it holds frames up to 31, so this run adds frames from 32 on"));
        Assert.Equal(Enumerable.Range(0, 4).Select(i => $"sea_{i:D6}.m4s").Concat(Enumerable.Range(0, 4).Select(i => $"sea.from-000032_{i:D6}.m4s")), Listed(playlist));
        Assert.False(File.Exists(Path.Combine(Dir, "sea_000004.m4s")) || File.Exists(Path.Combine(Dir, "sea_000005.m4s.tmp")), "unlisted segments stay");
        Assert.True(File.Exists(Path.Combine(Dir, "sea.from-000096_000000.m4s")), "a playlist of its own beside it lost its segment");
        Assert.Equal(64, Ffprobe.Probe(playlist).Frames);
    }

    [SkippableFact]
    public void A_resumed_hls_run_with_sound_moves_both_tracks_on()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", Path.Combine(Dir, "tone.wav"));
        var options = new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1, Audio = "tone.wav" };
        Hls(0, 20, options);
        var (playlist, _) = Hls(16, 20, options);
        Assert.DoesNotContain("#EXT-X-DISCONTINUITY", File.ReadAllLines(playlist));
        Assert.Equal(36, Ffprobe.Probe(playlist).Frames);
        Assert.InRange(Ffprobe.Audio(playlist).Duration, 4.4, 4.6);
    }

    [SkippableFact]
    public void A_resume_past_the_end_of_the_playlist_says_which_frames_are_missing_and_goes_on()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 20);
        var (playlist, log) = Hls(96, 8);
        Assert.Contains(log.Warnings, w => w.Contains("frames 20 to 95 were lost with the interrupted run's ffmpeg"));
        Assert.Equal(28, Ffprobe.Probe(playlist).Frames);
        Assert.Equal(96, NearestFrame(Ffprobe.RgbFrames(playlist, 64, 48)[20], 96));
    }

    [SkippableFact]
    public void Other_encoder_settings_start_with_a_discontinuity_and_their_own_init_segment()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 16);
        var (playlist, _) = Hls(16, 8, new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1, PixelFormat = "yuv444p" });
        var lines = File.ReadAllLines(playlist).SkipWhile(l => !l.StartsWith("#EXT-X-MAP")).ToList();
        Assert.Equal(new[]
        {
            "#EXT-X-MAP:URI=\"sea_init.mp4\"", "#EXTINF:1.000000,", "sea_000000.m4s", "#EXTINF:1.000000,", "sea_000001.m4s",
            "#EXT-X-DISCONTINUITY", "#EXT-X-MAP:URI=\"sea.from-000016_init.mp4\"", "#EXTINF:1.000000,", "sea.from-000016_000000.m4s", "#EXT-X-ENDLIST",
        }, lines);
    }

    [SkippableFact]
    public void A_fresh_playlist_whose_ffmpeg_fails_leaves_neither_the_old_playlist_as_its_own_nor_an_end_it_did_not_reach()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Hls(0, 16);
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var failing = new FfmpegSinkOptions { Preset = "ultrafast", Segment = 1, ExtraArgs = "-no_such_option 1" };
        var ex = Assert.ThrowsAny<FifoInputException>(() => Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, true), Context, Frames(4), failing));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.False(File.Exists(playlist) && File.ReadAllText(playlist).Contains("#EXT-X-ENDLIST"), "the failed run's playlist was ended, or the old one kept");
        Assert.Empty(Directory.GetFiles(Dir, "sea_*.m4s"));
    }

    /// <summary>Frames as big as noise makes them (<see cref="SinkTestBase.Frames"/>), after <paramref name="small"/> one-colour ones that take a few hundred bytes a segment.</summary>
    static IEnumerable<VideoFrame> SmallThenBig(int small, int big) =>
        Enumerable.Range(0, small).Select(i => Solid(i, 40, 90, 160, 64, 48)).Concat(Frames(big, first: small));

    /// <summary>
    /// The frames a playlist left open (for a resume to carry on) plays: ffprobe reads an open one as live and waits for
    /// more, so it reads an ended copy beside it.
    /// </summary>
    static int FramesOfOpen(string playlist)
    {
        var ended = Path.Combine(Path.GetDirectoryName(playlist)!, "ended-" + Path.GetFileName(playlist));
        File.WriteAllText(ended, File.ReadAllText(playlist) + "#EXT-X-ENDLIST\n");
        try { return Ffprobe.Probe(ended).Frames; }
        finally { File.Delete(ended); }
    }

    /// <summary>Waits until ffmpeg lists a segment in <paramref name="playlist"/>; its text then.</summary>
    static string WaitForListing(string playlist)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            var text = File.Exists(playlist) ? File.ReadAllText(playlist) : "";
            if (text.Contains(".m4s")) return text;
            Thread.Sleep(20);
        }
        throw new TimeoutException($"ffmpeg listed no segment in '{playlist}'");
    }

    [SkippableFact]
    public void An_hls_segment_ffmpeg_could_not_write_whole_stops_the_run_naming_it_and_the_playlist_keeps_the_whole_ones()
    {
        Skip.IfNot(Ffprobe.Available && !OperatingSystem.IsWindows(), "needs ffmpeg and a POSIX shell");
        // A file size limit makes ffmpeg's writes past 4 KiB fail (EFBIG) as a full disk's do (ENOSPC), for any user: its hls
        // muxer cuts the segment there, lists it, goes on and exits with 0, saying nothing. The first two one-second segments
        // are small enough; the third, of noisy frames, is not.
        var ffmpeg = Executable("limited-ffmpeg.sh", $"#!/bin/bash\ntrap '' XFSZ\nulimit -f 4\nexec '{FfmpegLocator.Locate()}' \"$@\"\n");
        var playlist = Path.Combine(Dir, "sea.m3u8");
        using var sink = new FfmpegSink(ffmpeg, playlist, new SinkTarget("sea.m3u8", 8, false), FfmpegContainer.Hls, OneSecondSegments(), NullProgressSink.Instance);
        var ex = FailsToWrite(sink, SmallThenBig(16, 40));

        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains($"ffmpeg could not write the playlist '{playlist}' and its segments: it left the segment sea_000002.m4s cut short (4,096 bytes", ex.Message);
        Assert.Contains("Its disk is not full", ex.Message);
        Assert.Contains($"'{playlist}' is put back as it was before that: 2 whole segments (2 s) up to sea_000001.m4s", ex.Message);
        // What was whole stays playable, open for a resume to carry on; nothing cut is left or listed.
        Assert.Equal(new[] { "sea_000000.m4s", "sea_000001.m4s" }, Listed(playlist));
        Assert.DoesNotContain("#EXT-X-ENDLIST", File.ReadAllText(playlist));
        Assert.Equal(new[] { "sea_000000.m4s", "sea_000001.m4s" }, Directory.GetFiles(Dir, "sea_0*").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(16, FramesOfOpen(playlist));
    }

    [SkippableFact]
    public void A_playlist_ffmpeg_emptied_as_on_a_full_disk_stops_the_run_and_is_put_back()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // Frame 8 completes the first one-second segment; the next is complete only with frame 16, so nothing of ffmpeg's
        // rewrites the playlist while the test empties it, as ffmpeg's own rename does when the disk is full.
        var playlist = Path.Combine(Dir, "sea.m3u8");
        using var sink = new HlsSinkFactory().Create(OneSecondSegments(), new SinkTarget("sea.m3u8", 8, false), Context);
        foreach (var f in Frames(10)) sink.Write(f);
        var listed = WaitForListing(playlist);
        sink.Write(Frame(10, 64, 48));
        File.WriteAllText(playlist, "");

        var ex = FailsToWrite(sink, Frames(20, first: 11));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains($"'{playlist}' and its segments: it emptied the playlist.", ex.Message);
        Assert.Contains("1 whole segment (1 s) up to sea_000000.m4s", ex.Message);
        Assert.Equal(listed, File.ReadAllText(playlist));
        Assert.Equal(8, FramesOfOpen(playlist));
    }

    [SkippableFact]
    public void A_resumed_runs_part_ffmpeg_emptied_stops_the_run_and_the_playlist_keeps_what_it_listed()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // The playlist holds frames 0 to 43; the resume from 24 writes frames 44 on into its part, whose first segment is
        // complete with frame 52 and its second only with frame 60.
        Hls(0, 44);
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var part = Path.Combine(Dir, "sea.from-000044.m3u8");
        using var sink = new HlsSinkFactory().Create(OneSecondSegments(), new SinkTarget("sea.m3u8", 8, true), Context);
        foreach (var f in Frames(30, first: 24)) sink.Write(f);
        var partListed = WaitForListing(part);
        sink.Write(Frame(54, 64, 48));
        Assert.Contains("sea.from-000044_000000.m4s", Listed(playlist));
        File.WriteAllText(part, "");

        var ex = FailsToWrite(sink, Frames(20, first: 55));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains($"ffmpeg could not write the playlist '{part}' and its segments: it emptied the playlist.", ex.Message);
        Assert.Contains($"'{playlist}' lists this run's segments up to there.", ex.Message);
        Assert.Equal(partListed, File.ReadAllText(part));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"sea_{i:D6}.m4s").Append("sea.from-000044_000000.m4s"), Listed(playlist));
        Assert.Equal(52, FramesOfOpen(playlist));
    }

    [SkippableFact]
    public void An_hls_run_onto_a_disk_that_fills_stops_saying_so_and_keeps_a_playable_playlist()
    {
        Skip.IfNot(Ffprobe.Available && OperatingSystem.IsLinux(), "needs ffmpeg and Linux");
        var disk = Path.Combine(Dir, "small");
        Directory.CreateDirectory(disk);
        var (mounted, _, said) = Run("mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", disk);
        Skip.IfNot(mounted, $"a small tmpfs cannot be mounted here ({said.Trim()})");
        try
        {
            var playlist = Path.Combine(disk, "live", "b.m3u8");
            using var sink = new HlsSinkFactory().Create(OneSecondSegments(), new SinkTarget(playlist, 8, false), Context);
            var ex = FailsToWrite(sink, SmallThenBig(16, 64));

            Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
            Assert.Contains($"ffmpeg could not write the playlist '{playlist}' and its segments", ex.Message);
            Assert.Contains($"The disk holding '{Path.GetDirectoryName(playlist)}' is full", ex.Message);
            Assert.Contains($"'{playlist}' is put back as it was before that", ex.Message);
            // Every listed segment is whole and plays: a second of frames each.
            var listed = Listed(playlist);
            Assert.InRange(listed.Count, 2, 8);
            Assert.Equal(8 * listed.Count, FramesOfOpen(playlist));
        }
        finally
        {
            Run("umount", disk);
        }
    }

    static (bool Ran, int ExitCode, string Errors) Run(string command, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode == 0, process.ExitCode, errors);
        }
        catch (System.ComponentModel.Win32Exception ex) { return (false, -1, ex.Message); }
    }

    [SkippableFact]
    public void A_playlist_resumed_at_another_rate_gets_a_playlist_of_its_own_beside_it_rather_than_skipping_frames()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // At 8 fps the 44 frames end at 5.5 s; read at 12 fps that end would be frame 66, and frames 44 to 65 would never be encoded.
        var (playlist, _) = Hls(0, 44);
        var before = Listed(playlist);
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var resumed = Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 12, true), new PluginContext(log, Dir),
            Frames(20, first: 24).Select(f => f.WithFps(12)), OneSecondSegments());
        Assert.Equal(Path.Combine(Dir, "sea.from-000024.m3u8"), resumed);
        Assert.Contains(log.Warnings, w => w.Contains("cannot be carried on in place: its frames play at 8 fps and this run's would at 12"));
        Assert.Equal(20, Ffprobe.Probe(resumed).Frames);
        Assert.Equal(before, Listed(playlist));
    }

    [SkippableFact]
    public void A_resume_whose_playlist_is_gone_leaves_the_earlier_segments_and_writes_beside_them()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var (playlist, _) = Hls(0, 44);
        var earlier = Directory.GetFiles(Dir, "sea_*").Order(StringComparer.Ordinal).ToDictionary(Path.GetFileName, File.ReadAllBytes);
        File.Delete(playlist);
        // -Force, as a resume is given: it must replace nothing.
        var (resumed, log) = Hls(24, 20);
        Assert.Equal(Path.Combine(Dir, "sea.from-000024.m3u8"), resumed);
        Assert.Contains(log.Warnings, w => w.Contains($"'{playlist}' is missing, but segments of an earlier run are beside it") && w.Contains("from frame 24 on"));
        Assert.All(earlier, file => Assert.Equal(file.Value, File.ReadAllBytes(Path.Combine(Dir, file.Key))));
        Assert.Equal(20, Ffprobe.Probe(resumed).Frames);
    }

    static IEnumerable<VideoFrame> Recorded(IEnumerable<VideoFrame> frames, string record) => frames.Select(f => new VideoFrame(f.Index, f.Width, f.Height, f.Rgb, f.Prompt, f.Fps, f.RunId) { Provenance = record });

    [SkippableFact]
    public void A_playlist_of_another_run_is_not_carried_on_but_one_this_run_extends_is()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        const string Ocean = "FifoPipes run aaaa\nmodel.use=analytic\nprompts[0]=ocean|100\nseed=4", Lava = "FifoPipes run bbbb\nmodel.use=analytic\nprompts[0]=lava|100\nseed=3";
        const string OceanLonger = "FifoPipes run cccc\nmodel.use=analytic\nprompts[0]=ocean|400\nseed=4";
        Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, false), Context, Recorded(Frames(44), Ocean), OneSecondSegments());
        var playlist = Path.Combine(Dir, "sea.m3u8");
        var before = File.ReadAllText(playlist);

        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var other = Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, true), new PluginContext(log, Dir), Recorded(Frames(20, first: 24), Lava), OneSecondSegments());
        Assert.Equal(Path.Combine(Dir, "sea.from-000024.m3u8"), other);
        Assert.Contains(log.Warnings, w => w.Contains("it holds another run's frames (run aaaa (seed 4, 'ocean')), and this run is run bbbb (seed 3, 'lava')"));
        // Left to its own run, open for that run's resume.
        Assert.Equal(before, File.ReadAllText(playlist));

        var longerLog = new FifoPipes.Tests.Sampling.RecordingSink();
        var carried = Write(new HlsSinkFactory(), new SinkTarget("sea.m3u8", 8, true), new PluginContext(longerLog, Dir), Recorded(Frames(30, first: 24), OceanLonger), OneSecondSegments());
        Assert.Equal(playlist, carried);
        Assert.Empty(longerLog.Warnings);
        Assert.Contains(Listed(playlist), segment => segment.StartsWith("sea.from-000044_", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void A_playlist_this_sink_cannot_carry_on_gets_a_playlist_of_its_own_beside_it()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        File.WriteAllText(Path.Combine(Dir, "sea.m3u8"), "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nsea0.ts\n#EXT-X-ENDLIST\n");
        var (resumed, log) = Hls(96, 8);
        Assert.Equal(Path.Combine(Dir, "sea.from-000096.m3u8"), resumed);
        Assert.Equal(8, Ffprobe.Probe(resumed).Frames);
        Assert.Contains(log.Warnings, w => w.Contains("cannot be carried on in place: it lists no fragmented-MP4 segments. This run writes a playlist of its own beside it."));
        Assert.Contains(log.Warnings, w => w.Contains("joined.mp4 (if the first run was killed, end its playlist with the line #EXT-X-ENDLIST first)"));

        // A playlist that promised to keep every segment, or shorter segments, is not carried on against its promise.
        // The first run was killed, so its playlist was left open for the resume; as this one goes elsewhere, it is ended.
        var earlier = Path.Combine(Dir, "event.m3u8");
        Hls(0, 16, name: "event.m3u8");
        File.WriteAllLines(earlier, File.ReadAllLines(earlier).Where(l => l != "#EXT-X-ENDLIST"));
        var (window, windowLog) = Hls(16, 8, OneSecondSegments(keep: 2), "event.m3u8");
        Assert.EndsWith("event.from-000016.m3u8", window);
        Assert.Contains(windowLog.Warnings, w => w.Contains("it lists every segment (EVENT), which a live window (keep 2) would drop. This run writes a playlist of its own beside it, and the earlier one is ended (#EXT-X-ENDLIST)."));
        Assert.Equal("#EXT-X-ENDLIST", File.ReadAllLines(earlier)[^1]);
        var (longer, longerLog) = Hls(16, 8, new FfmpegSinkOptions { Preset = "ultrafast", Segment = 2 }, "event.m3u8");
        Assert.EndsWith("event.from-000016.m3u8", longer);
        Assert.Contains(longerLog.Warnings, w => w.Contains("its segments are at most 1 s long and this run's would be 2 s. This run writes a playlist of its own beside it."));

        // A VOD playlist (another program's) is final.
        var vod = Path.Combine(Dir, "vod.m3u8");
        Hls(0, 16, name: "vod.m3u8");
        File.WriteAllLines(vod, File.ReadAllLines(vod).Select(l => l == "#EXT-X-PLAYLIST-TYPE:EVENT" ? "#EXT-X-PLAYLIST-TYPE:VOD" : l));
        var (beside, vodLog) = Hls(8, 8, name: "vod.m3u8");
        Assert.EndsWith("vod.from-000008.m3u8", beside);
        Assert.Contains(vodLog.Warnings, w => w.Contains("it is a VOD playlist, which may not change"));
    }

    [Fact]
    public void A_playlist_reads_back_as_written_and_an_unfinished_last_line_is_left_out()
    {
        var playlist = new HlsPlaylist(2, 7, 1, false, new[]
        {
            new HlsSegment("a_000007.m4s", 2, "a_init.mp4"),
            new HlsSegment("a.from-000120_000000.m4s", 1.5, "a.from-000120_init.mp4", Discontinuity: true),
        }, Ended: true);
        var text = playlist.Format();
        Assert.Equal("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n" +
                     "#EXT-X-MAP:URI=\"a_init.mp4\"\n#EXTINF:2.000000,\na_000007.m4s\n" +
                     "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"a.from-000120_init.mp4\"\n#EXTINF:1.500000,\na.from-000120_000000.m4s\n#EXT-X-ENDLIST\n", text);
        var read = HlsPlaylist.Parse(text)!;
        Assert.Equal(playlist with { Segments = read.Segments, Tags = read.Tags }, read);
        Assert.Equal(playlist.Segments, read.Segments);
        Assert.Null(read.TagNotCarried);

        // Tags it does not interpret come back where they were: the playlist's in its head, a segment's with it.
        var tagged = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"a_init.mp4\"\n" +
                     "#EXTINF:1.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T15:33:52.783+0000\na_000000.m4s\n#EXTINF:1.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-06T15:33:53.783+0000\na_000001.m4s\n";
        var withTags = HlsPlaylist.Parse(tagged)!;
        Assert.Equal(tagged, withTags.Format());
        Assert.Equal(new[] { "#EXT-X-INDEPENDENT-SEGMENTS" }, withTags.Tags);
        Assert.Equal("#EXT-X-PROGRAM-DATE-TIME:2026-12-06T15:33:53.783+0000", Assert.Single(withTags.Segments[1].Tags));
        // Byte ranges tie segments to one file: such a playlist is read, but not for carrying on.
        Assert.Equal("#EXT-X-BYTERANGE", HlsPlaylist.Parse(tagged.Replace("a_000001.m4s", "#EXT-X-BYTERANGE:1000@0\na.m4s"))!.TagNotCarried);
        // A VOD playlist's type stays in its head, and marks it final.
        var vod = HlsPlaylist.Parse(tagged.Replace("#EXT-X-INDEPENDENT-SEGMENTS\n", "#EXT-X-PLAYLIST-TYPE:VOD\n"))!;
        Assert.True(vod.Vod);
        Assert.DoesNotContain(vod.Segments[0].Tags, t => t.StartsWith("#EXT-X-PLAYLIST-TYPE"));
        Assert.False(withTags.Vod);

        // Read while ffmpeg writes it: the half-written name is not a segment yet.
        var unfinished = HlsPlaylist.Parse("#EXTM3U\n#EXT-X-MAP:URI=\"a_init.mp4\"\n#EXTINF:2.0,\na_000000.m4s\n#EXTINF:2.0,\na_0000")!;
        Assert.Equal(new[] { "a_000000.m4s" }, unfinished.Segments.Select(s => s.Uri));
        Assert.False(unfinished.Ended);
        // MPEG-TS segments (no init segment) and empty lists are not for carrying on.
        Assert.Null(HlsPlaylist.Parse("#EXTM3U\n#EXTINF:2.0,\nsea0.ts\n"));
        Assert.Null(HlsPlaylist.Parse("#EXTM3U\n#EXT-X-MAP:URI=\"a_init.mp4\"\n"));
        // A number that is none (a playlist cut or edited by hand) reads as no playlist to carry on, not as a crash.
        Assert.Null(HlsPlaylist.Parse(text.Replace("#EXT-X-MEDIA-SEQUENCE:7", "#EXT-X-MEDIA-SEQUENCE:seven")));
        Assert.Null(HlsPlaylist.Parse(text.Replace("#EXTINF:2.000000,", "#EXTINF:2 s,")));
        Assert.Null(HlsPlaylist.Parse(text.Replace("#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:99999999999")));
    }

    [Fact]
    public void A_segment_is_found_beside_its_playlist_by_its_name_as_ffmpeg_writes_it_or_as_a_web_address()
    {
        var folder = Directory.CreateTempSubdirectory("fifo-hls-uri-").FullName;
        try
        {
            var playlist = Path.Combine(folder, "sea.m3u8");
            // ffmpeg writes names as they are, so a literal %41 is a file's name, not an escaped A.
            File.WriteAllText(Path.Combine(folder, "100%41_init.mp4"), "");
            Assert.Equal(Path.Combine(folder, "100%41_init.mp4"), HlsPlaylist.FileOf(playlist, "100%41_init.mp4"));
            // Another program's playlist may escape a space.
            File.WriteAllText(Path.Combine(folder, "a b_000000.m4s"), "");
            Assert.Equal(Path.Combine(folder, "a b_000000.m4s"), HlsPlaylist.FileOf(Path.Combine(folder, ".", "sea.m3u8"), "a%20b_000000.m4s"));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Fragment_times_move_on_in_each_tracks_timescale_and_the_index_in_its_own()
    {
        static byte[] Box(string type, params byte[][] body)
        {
            var content = body.SelectMany(b => b).ToArray();
            var box = new byte[8 + content.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(box, (uint)box.Length);
            System.Text.Encoding.ASCII.GetBytes(type).CopyTo(box, 4);
            content.CopyTo(box, 8);
            return box;
        }
        static byte[] U32(uint v) { var b = new byte[4]; System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }
        static byte[] U64(ulong v) { var b = new byte[8]; System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(b, v); return b; }
        static byte[] Full(int version) => new byte[] { (byte)version, 0, 0, 0 };
        byte[] Track(int version, uint id, uint timescale, string handler) => Box("trak",
            Box("tkhd", Full(version), version == 1 ? U64(0) : U32(0), version == 1 ? U64(0) : U32(0), U32(id)),
            Box("mdia", Box("mdhd", Full(version), version == 1 ? U64(0) : U32(0), version == 1 ? U64(0) : U32(0), U32(timescale)),
                Box("hdlr", Full(0), U32(0), System.Text.Encoding.ASCII.GetBytes(handler))));
        var init = Box("ftyp", U32(0)).Concat(Box("moov", Track(0, 1, 90000, "vide"), Track(1, 2, 48000, "soun"))).ToArray();
        var tracks = Fmp4Boxes.Tracks(init);
        Assert.Equal(new[] { new Fmp4Track(1, 90000, true), new Fmp4Track(2, 48000, false) }, tracks);

        byte[] Segment(uint videoTime) => Box("sidx", Full(0), U32(1), U32(1000), U32(500), U32(0)).Concat(Box("moof",
            Box("traf", Box("tfhd", Full(0), U32(1)), Box("tfdt", Full(0), U32(videoTime))),
            Box("traf", Box("tfhd", Full(0), U32(2)), Box("tfdt", Full(1), U64(4800))))).ToArray();
        var segment = Segment(9000);
        // Two seconds later: 180000 ticks of the video's clock, 96000 of the sound's, 2000 of the index's.
        Fmp4Boxes.ShiftDecodeTimes(segment, tracks, timescale => 2UL * timescale);
        Assert.Equal(new Dictionary<uint, ulong> { [1] = 189000, [2] = 100800 }, Fmp4Boxes.DecodeTimes(segment));
        Assert.Equal(2500u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(segment.AsSpan(8 + 4 + 4 + 4)));
        Assert.Equal(Segment(0).Length, segment.Length);

        // Fragments are numbered on after the earlier stream's last one.
        var numbered = Box("moof", Box("mfhd", Full(0), U32(1)), Box("traf", Box("tfhd", Full(0), U32(1)), Box("tfdt", Full(1), U64(0))))
            .Concat(Box("mdat")).Concat(Box("moof", Box("mfhd", Full(0), U32(2)))).ToArray();
        Fmp4Boxes.NumberFragmentsAfter(numbered, 6);
        Assert.Equal(8u, Fmp4Boxes.LastFragmentNumber(numbered));

        // A 32-bit time that would overflow is refused rather than wrapped.
        Assert.Throws<InvalidDataException>(() => Fmp4Boxes.ShiftDecodeTimes(Segment(uint.MaxValue - 10), tracks, timescale => timescale));
        var truncated = Segment(0)[..^4];
        Assert.Throws<InvalidDataException>(() => Fmp4Boxes.DecodeTimes(truncated));
    }

    [Fact]
    public void Hls_arguments_name_fragmented_mp4_segments_beside_the_playlist_and_start_each_on_a_keyframe()
    {
        var playlist = Path.GetFullPath(Path.Combine("videos", "live", "sea.m3u8"));
        var args = FfmpegCommand.Build(new FfmpegSinkOptions(), FfmpegContainer.Hls, new FrameFormat(64, 48, 8), playlist, overwrite: false);
        string After(string flag) => args[args.ToList().LastIndexOf(flag) + 1];
        Assert.Equal(("hls", "fmp4", "sea_init.mp4", Path.Combine(Path.GetDirectoryName(playlist)!, "sea_%06d.m4s")), (After("-f"), After("-hls_segment_type"), After("-hls_fmp4_init_filename"), After("-hls_segment_filename")));
        Assert.Equal(("2", "expr:gte(t,n_forced*2)", "event", "0", "temp_file+omit_endlist"),
            (After("-hls_time"), After("-force_key_frames"), After("-hls_playlist_type"), After("-hls_list_size"), After("-hls_flags")));
        Assert.DoesNotContain("-movflags", args);
        Assert.Equal(playlist.Replace('\\', '/'), args[^1].Replace('\\', '/'));
        Assert.Contains(new FfmpegSinkOptions { Segment = 0.4 }.Validate(), p => p.Option == "segment");
        Assert.Contains(new FfmpegSinkOptions { Segment = double.NaN }.Validate(), p => p.Option == "segment");
    }

    [SkippableFact]
    public void Completing_after_3_of_10_frames_leaves_a_playable_3_frame_video()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        using var sink = new Mp4SinkFactory().Create(null, new SinkTarget("cut.mp4", 8, false), Context);
        foreach (var f in Frames(10).Take(3)) sink.Write(f);
        var path = Assert.Single(sink.Complete());
        Assert.Equal(path, Assert.Single(sink.Complete()));

        var probed = Ffprobe.Probe(path);
        Assert.Equal(3, probed.Frames);
        Assert.Equal(0.375, probed.Duration, 2);
    }

    [SkippableFact]
    public void A_sink_that_never_got_a_frame_writes_nothing()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        using var sink = new WebmSinkFactory().Create(null, new SinkTarget("empty.webm", 8, false), Context);
        Assert.Empty(sink.Complete());
        Assert.False(File.Exists(Path.Combine(Dir, "empty.webm")));
    }

    [SkippableFact]
    public void An_existing_file_is_refused_without_force_and_replaced_with_it()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Path.Combine(Dir, "taken.mp4");
        File.WriteAllText(path, "keep me");
        var ex = Assert.Throws<FifoInputException>(() => new Mp4SinkFactory().Create(null, new SinkTarget(path, 8, false), Context));
        Assert.Equal(SinkFiles.OutputExistsErrorId, ex.ErrorId);
        Assert.Contains(path, ex.Message);
        Assert.Contains("-Force", ex.Message);
        Assert.Equal("keep me", File.ReadAllText(path));

        Write(new Mp4SinkFactory(), new SinkTarget(path, 8, true), Context, Frames(2));
        Assert.Equal(2, Ffprobe.Probe(path).Frames);
    }

    [Fact]
    public void Ffmpeg_missing_names_the_fix()
    {
        using var _ = new EnvironmentOverride(FfmpegLocator.EnvironmentVariable, Path.Combine(Dir, "no-such-ffmpeg"));
        var ex = Assert.Throws<FifoInputException>(() => new Mp4SinkFactory().Create(null, new SinkTarget("x.mp4", 8, false), Context));
        Assert.Equal(FfmpegLocator.NotFoundErrorId, ex.ErrorId);
        Assert.Contains("no-such-ffmpeg", ex.Message);
        Assert.Contains("apt-get install ffmpeg", ex.Message);
        Assert.Contains("FIFOPIPES_FFMPEG", ex.Message);
    }

    [Fact]
    public void A_recipe_restyling_a_video_without_ffmpeg_says_ffmpeg_is_missing_not_the_file()
    {
        using var _ = new EnvironmentOverride(FfmpegLocator.EnvironmentVariable, Path.Combine(Dir, "no-such-ffmpeg"));
        var video = Path.Combine(Dir, "walk.mp4");
        File.WriteAllText(video, "a video, as far as the reader can tell without ffmpeg");
        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        Assert.Null(reader.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsource: {video}\n", Path.Combine(Dir, "r.yaml")));
        var problem = Assert.Single(reader.Diagnostics);
        Assert.Equal(("source", 4), (problem.Path, problem.Line));
        Assert.Contains("no-such-ffmpeg", problem.Message);
        Assert.Contains("apt-get install ffmpeg", problem.Message);
        Assert.Contains("FIFOPIPES_FFMPEG", problem.Message);
    }

    [Fact]
    public void Ffmpeg_not_on_path_names_the_fix()
    {
        using var noOverride = new EnvironmentOverride(FfmpegLocator.EnvironmentVariable, null);
        using var emptyPath = new EnvironmentOverride("PATH", Dir);
        var ex = Assert.Throws<FifoInputException>(() => new WebmSinkFactory().Create(null, new SinkTarget("x.webm", 8, false), Context));
        Assert.Equal(FfmpegLocator.NotFoundErrorId, ex.ErrorId);
        Assert.Contains("apt-get install ffmpeg", ex.Message);
        Assert.Contains("FIFOPIPES_FFMPEG", ex.Message);
    }

    /// <summary>A stand-in for ffmpeg: a shell script that reads every frame, then runs <paramref name="afterInput"/>.</summary>
    FfmpegSink ScriptedFfmpeg(string name, string afterInput, TimeSpan idleLimit)
    {
        var sink = SinkOn(Executable(name + ".sh", $"#!/bin/bash\ncat > /dev/null\n{afterInput}\n"), name, idleLimit);
        foreach (var f in Frames(2)) sink.Write(f);
        return sink;
    }

    /// <summary>A file in the test folder with <paramref name="content"/>, executable by its owner.</summary>
    string Executable(string name, string content)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    FfmpegSink SinkOn(string ffmpeg, string name, TimeSpan idleLimit) =>
        new(ffmpeg, Path.Combine(Dir, name + ".mp4"), new SinkTarget(name + ".mp4", 8, false), FfmpegContainer.Mp4,
            new FfmpegSinkOptions(), NullProgressSink.Instance, idleLimit);

    /// <summary>The error writing <paramref name="frames"/> and completing the file ends with.</summary>
    static FifoInputException FailsToWrite(IFrameSink sink, IEnumerable<VideoFrame> frames) =>
        Assert.Throws<FifoInputException>(() =>
        {
            foreach (var f in frames) sink.Write(f);
            sink.Complete();
        });

    [SkippableFact]
    public void A_hung_ffmpeg_is_killed_when_a_stopped_pipeline_disposes_the_sink()
    {
        Skip.If(OperatingSystem.IsWindows(), "needs a POSIX shell");
        // Never exits and does nothing: what a wedged encoder looks like from here.
        var sink = ScriptedFfmpeg("hung", "exec sleep 300", TimeSpan.FromSeconds(1));
        int pid = sink.ProcessId!.Value;

        var clock = Stopwatch.StartNew();
        sink.Dispose();

        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 30);
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
    }

    [SkippableFact]
    public void A_hung_ffmpeg_is_killed_at_the_end_of_a_run_with_an_error_that_says_so()
    {
        Skip.If(OperatingSystem.IsWindows(), "needs a POSIX shell");
        using var sink = ScriptedFfmpeg("wedged", "exec sleep 300", TimeSpan.FromSeconds(1));

        var ex = Assert.Throws<FifoInputException>(() => sink.Complete());

        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains("did no work for 1 s after its input ended and was killed", ex.Message);
    }

    [SkippableFact]
    public void An_ffmpeg_that_cannot_be_executed_is_reported_as_not_startable()
    {
        Skip.If(OperatingSystem.IsWindows(), "needs POSIX file modes");
        // Executable by its mode, but its interpreter is missing: the exec itself fails, as for a binary of another machine.
        using var sink = SinkOn(Executable("broken-ffmpeg", "#!/nonexistent/interpreter\n"), "broken", TimeSpan.FromSeconds(5));
        var ex = FailsToWrite(sink, Frames(2));
        Assert.Equal(FfmpegLocator.NotFoundErrorId, ex.ErrorId);
        Assert.Contains("could not be started", ex.Message);
    }

    [SkippableFact]
    public void A_working_ffmpeg_gets_all_the_time_it_needs_to_finish()
    {
        Skip.If(OperatingSystem.IsWindows(), "needs a POSIX shell");
        // Three seconds of work after the input ends, three times the idle limit: a slow encoder flushing its lookahead.
        using var sink = ScriptedFfmpeg("slow", "while [ $SECONDS -lt 3 ]; do :; done; exit 0", TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();

        sink.Complete();

        // $SECONDS counts whole seconds from the script's start, so the work may end a little after 2 s; past the 1 s
        // idle limit is what matters.
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.2, 60);
    }

    [SkippableFact]
    public void Ffmpeg_runs_in_a_session_of_its_own_so_the_terminals_ctrl_c_is_the_sinks_to_handle()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/usr/bin/setsid"), "sessions are started with Linux's setsid");
        var ids = Path.Combine(Dir, "ids");
        // Fields 5 and 6 of /proc/PID/stat (after "pid (comm) state ppid") are the process group and the session.
        using var sink = ScriptedFfmpeg("session", $"stat=$(cat /proc/$$/stat); set -- ${{stat##*) }}; echo $$ $3 $4 > '{ids}'", TimeSpan.FromSeconds(30));
        int pid = sink.ProcessId!.Value;
        sink.Complete();

        var (script, group, session) = File.ReadAllText(ids).Split(' ', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray() switch
        {
            [var a, var b, var c] => (a, b, c),
            var other => throw new InvalidDataException(string.Join(" ", other)),
        };
        var own = File.ReadAllText("/proc/self/stat");
        int ownSession = int.Parse(own[(own.LastIndexOf(')') + 2)..].Split(' ')[3]);
        Assert.Equal(pid, script);               // the sink's process id is ffmpeg's own, not a launcher's
        Assert.Equal(pid, group);                // leads its own process group: a terminal's SIGINT goes elsewhere
        Assert.Equal(pid, session);
        Assert.NotEqual(ownSession, session);
    }

    [Fact]
    public void Ffmpeg_is_looked_for_in_paths_folders_quoted_or_not()
    {
        var sep = Path.PathSeparator;
        var folders = FfmpegLocator.FoldersToSearch($"/opt/a{sep} \"/opt/b c\" {sep}{sep}/opt/a").ToList();
        Assert.Equal(new[] { "/opt/a", "/opt/b c" }, folders.Take(2));
        // Where the installers the error names put it, when this session's PATH predates the install.
        if (OperatingSystem.IsMacOS()) Assert.Contains("/opt/homebrew/bin", folders);
        else if (!OperatingSystem.IsWindows()) Assert.Equal(2, folders.Count);
    }

    [SkippableFact]
    public void An_ffmpeg_reading_a_source_runs_in_a_session_of_its_own_too()
    {
        // A reader killed by the terminal's Ctrl+C would be reported as a source video it could not read.
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists("/usr/bin/setsid"), "sessions are started with Linux's setsid");
        var ids = Path.Combine(Dir, "reader-ids");
        var reader = Executable("reader.sh", $"#!/bin/sh\nstat=$(cat /proc/$$/stat); set -- ${{stat##*) }}; echo $$ $3 $4 > '{ids}'\n");
        using var _ = new EnvironmentOverride(FfmpegLocator.EnvironmentVariable, reader);
        using (var process = FfmpegLocator.StartReading(new[] { "-version" }))
        {
            process.WaitForExit();
            var (pid, group, session) = File.ReadAllText(ids).Split(' ', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray() switch
            {
                [var a, var b, var c] => (a, b, c),
                var other => throw new InvalidDataException(string.Join(" ", other)),
            };
            Assert.Equal(process.Id, pid);
            Assert.Equal((pid, pid), (group, session));
        }
    }

    [SkippableFact]
    public void Ffmpeg_killed_mid_run_is_a_clear_error()
    {
        Skip.IfNot(Ffprobe.Available && !OperatingSystem.IsWindows(), "needs ffmpeg and a POSIX shell");
        var pidFile = Path.Combine(Dir, "ffmpeg.pid");
        var wrapper = Executable("ffmpeg-wrapper.sh", $"#!/bin/sh\necho $$ > '{pidFile}'\nexec '{FfmpegLocator.Locate()}' \"$@\"\n");
        using var _ = new EnvironmentOverride(FfmpegLocator.EnvironmentVariable, wrapper);

        using var sink = new MkvSinkFactory().Create(null, new SinkTarget("killed.mkv", 8, false), Context);
        var frames = Frames(10).ToList();
        foreach (var f in frames.Take(3)) sink.Write(f);
        using (var ffmpeg = Process.GetProcessById(WaitForPid(pidFile)))
        {
            ffmpeg.Kill();
            ffmpeg.WaitForExit();
        }

        var ex = FailsToWrite(sink, frames.Skip(3));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains("killed by signal 9", ex.Message);
        Assert.Contains("killed.mkv", ex.Message);
        Assert.Throws<FifoInputException>(() => sink.Write(frames[9]));
        sink.Complete(); // the failure was reported once; completing again is quiet
    }

    [SkippableFact]
    public void Ffmpeg_failing_reports_its_own_last_words()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        using var sink = new MkvSinkFactory().Create(new FfmpegSinkOptions { Codec = "no-such-encoder" }, new SinkTarget("bad.mkv", 8, false), Context);
        var ex = FailsToWrite(sink, Frames(30));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains("no-such-encoder", ex.Message);
        Assert.Contains("exited with code 1", ex.Message);

        // An encoder that fails once ffmpeg has opened its file leaves it empty: gone, so the next run needs no -Force.
        using var mp4 = new Mp4SinkFactory().Create(new FfmpegSinkOptions { Preset = "ultrafastt" }, new SinkTarget("preset.mp4", 8, false), Context);
        var preset = FailsToWrite(mp4, Frames(30));
        Assert.Contains("invalid preset", preset.Message);
        Assert.Contains($"ffmpeg wrote nothing, so the empty '{Path.Combine(Dir, "preset.mp4")}' is removed", preset.Message);
        Assert.False(File.Exists(Path.Combine(Dir, "preset.mp4")));
    }

    [SkippableTheory]
    [InlineData("mp4", "preset", "invalid preset 'ultrafastt'")]
    [InlineData("mp4", "codec", "Unknown encoder 'libx265x'")]
    [InlineData("webm", "pixelFormat", "Unknown pixel format requested: yuv999")]
    [InlineData("mkv", "codec", "Unknown encoder 'libx265x'")]
    [InlineData("stream", "preset", "invalid preset 'ultrafastt'")]
    public void Encoder_settings_ffmpeg_refuses_are_found_before_the_run(string sink, string option, string said)
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        T With<T>(T options) where T : FfmpegEncodingOptions
        {
            switch (option)
            {
                case "preset": options.Preset = "ultrafastt"; break;
                case "codec": options.Codec = "libx265x"; break;
                default: options.PixelFormat = "yuv999"; break;
            }
            return options;
        }
        Action check = sink switch
        {
            "mp4" => () => new Mp4SinkFactory().Check(With(new FfmpegSinkOptions()), new SinkTarget("a.mp4", 8, false), Context),
            "webm" => () => new WebmSinkFactory().Check(With(new FfmpegSinkOptions()), new SinkTarget("a.webm", 8, false), Context),
            "mkv" => () => new MkvSinkFactory().Check(With(new FfmpegSinkOptions()), new SinkTarget("a.mkv", 8, false), Context),
            _ => () => new StreamSinkFactory().Check(With(new StreamSinkOptions()), new SinkTarget("udp://127.0.0.1:9", 8, false), Context),
        };
        var ex = Assert.Throws<FifoInputException>(check);
        Assert.Equal("SinkEncoderRefused", ex.ErrorId);
        Assert.Contains(said, ex.Message);
        Assert.StartsWith($"The {sink} sink's encoder settings do not work", ex.Message);
        // The trial cannot know the frames: a crop that fits them only is not refused.
        new Mp4SinkFactory().Check(new FfmpegSinkOptions { ExtraArgs = "-vf crop=512:288" }, new SinkTarget("b.mp4", 8, false), Context);
    }

    [SkippableFact]
    public void A_codec_its_container_cannot_hold_is_refused_before_the_run_naming_the_fix_and_leaving_no_file()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var x264 = new FfmpegSinkOptions { Codec = "libx264" };
        void CheckWebm() => new WebmSinkFactory().Check(x264, new SinkTarget("r.webm", 8, false), Context);

        var ex = Assert.Throws<FifoInputException>(CheckWebm);
        Assert.Equal("SinkEncoderRefused", ex.ErrorId);
        Assert.StartsWith("The webm sink's codec libx264 cannot go in a .webm file; use codec libvpx-vp9 or libaom-av1, or write .mp4/.mkv", ex.Message);
        Assert.Contains("Only VP8 or VP9 or AV1", ex.Message);
        // The trial's frames went to ffmpeg's stdout: a refused check leaves nothing for the next run to refuse.
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir));

        // The same encoder fits Matroska; that it passed there does not pass it for WebM (a trial passes per container).
        new MkvSinkFactory().Check(x264, new SinkTarget("r.mkv", 8, false), Context);
        Assert.Throws<FifoInputException>(CheckWebm);
        // A stream's container is its protocol's: FLV for RTMP, refused before the server is tried.
        var flv = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(new StreamSinkOptions { Codec = "libvpx-vp9" },
            new SinkTarget($"rtmp://127.0.0.1:{FifoPipes.Tests.Models.FakeHub.FreePort()}/live/key", 8, false), Context));
        Assert.StartsWith("The stream sink's codec libvpx-vp9 cannot go in the FLV that rtmp:// carries; use codec libx264", flv.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir));
    }

    [SkippableTheory]
    [InlineData("mp4", "-nonsense 1", "Unrecognized option 'nonsense'")]
    [InlineData("stream", "-frobnicate", "Unrecognized option 'frobnicate'")]
    public void Extra_arguments_ffmpeg_cannot_read_are_found_before_the_run(string sink, string extraArgs, string said)
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        Action check = sink == "mp4"
            ? () => new Mp4SinkFactory().Check(new FfmpegSinkOptions { ExtraArgs = extraArgs }, new SinkTarget("x.mp4", 8, false), Context)
            : () => new StreamSinkFactory().Check(new StreamSinkOptions { ExtraArgs = extraArgs }, new SinkTarget("udp://127.0.0.1:9", 8, false), Context);
        var ex = Assert.Throws<FifoInputException>(check);
        Assert.Equal("SinkEncoderRefused", ex.ErrorId);
        Assert.StartsWith($"The {sink} sink's extraArgs ('{extraArgs}') are not an ffmpeg command line: ffmpeg says \"{said}", ex.Message);
        // Options of a muxer other than the trial's are read, as the run's muxer reads them.
        new Mp4SinkFactory().Check(new FfmpegSinkOptions { ExtraArgs = "-movflags +faststart -tag:v avc1" }, new SinkTarget("y.mp4", 8, false), Context);
    }

    [SkippableFact]
    public void A_file_a_failed_ffmpeg_never_touched_is_said_to_be_as_it_was()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var path = Path.Combine(Dir, "keep.mp4");
        File.WriteAllText(path, "the earlier video");
        // Made without the check that refuses them first, as a plugin may: ffmpeg stops at its command line.
        using var sink = new Mp4SinkFactory().Create(new FfmpegSinkOptions { ExtraArgs = "-nonsense 1" }, new SinkTarget(path, 8, true), Context);
        var ex = FailsToWrite(sink, Frames(3));
        Assert.Contains($"'{path}' is as it was before this run: ffmpeg did not touch it.", ex.Message);
        Assert.Equal("the earlier video", File.ReadAllText(path));
    }

    [SkippableFact]
    public void Frames_in_the_encoders_lookahead_are_not_held_until_ffmpeg_has_finished_the_file()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        foreach (var factory in new ISinkFactory[] { new Mp4SinkFactory(), new MkvSinkFactory() })
        {
            // x264's default preset looks 40 frames ahead before it gives out the first: 30 piped in are none of them in the file.
            using var sink = factory.Create(null, new SinkTarget($"held.{(factory is Mp4SinkFactory ? "mp4" : "mkv")}", 8, true), Context);
            foreach (var f in Frames(30)) sink.Write(f);
            Assert.Equal(0, sink.FramesHeld);
            sink.Complete();
            Assert.Equal(30, sink.FramesHeld);
        }
    }

    [SkippableFact]
    public void A_write_ffmpeg_fails_and_goes_on_past_stops_the_run_naming_the_file_and_the_cause()
    {
        Skip.IfNot(Ffprobe.Available && !OperatingSystem.IsWindows(), "needs ffmpeg and a POSIX shell");
        // Past 64 KiB every write fails (EFBIG), as on a full disk (ENOSPC): ffmpeg says so and goes on reading frames.
        var ffmpeg = Executable("limited-ffmpeg.sh", $"#!/bin/bash\ntrap '' XFSZ\nulimit -f 64\nexec '{FfmpegLocator.Locate()}' \"$@\"\n");
        var path = Path.Combine(Dir, "v.mkv");
        using var sink = new FfmpegSink(ffmpeg, path, new SinkTarget("v.mkv", 8, false), FfmpegContainer.Mkv, new FfmpegSinkOptions { Preset = "ultrafast" }, NullProgressSink.Instance);
        var ex = FailsToWrite(sink, Frames(3000, 128, 96));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains($"ffmpeg could not write '{path}' (File too large)", ex.Message);
    }

    [SkippableFact]
    public void A_full_disk_is_reported_with_ffmpegs_message()
    {
        Skip.IfNot(Ffprobe.Available && File.Exists("/dev/full"), "needs ffmpeg and /dev/full");
        using var sink = new MkvSinkFactory().Create(null, new SinkTarget("/dev/full", 8, true), Context);
        var ex = FailsToWrite(sink, Frames(20));
        Assert.Equal(FfmpegSink.FailedErrorId, ex.ErrorId);
        Assert.Contains("No space left on device", ex.Message);
        // Empty as ffmpeg leaves it, but not the sink's own: it stays.
        Assert.True(File.Exists("/dev/full"), "an output that was there before the run is never deleted");
    }

    [Fact]
    public void Bad_options_are_input_errors_naming_the_option()
    {
        var problems = new FfmpegSinkOptions { Crf = 99, PixelFormat = "yuv 420", ExtraArgs = "-metadata \"title=open" }.Validate().ToList();
        Assert.Equal(new[] { "crf", "pixelFormat", "extraArgs" }, problems.Select(p => p.Option));
    }

    [Fact]
    public void Extra_arguments_split_like_a_shell()
    {
        Assert.Equal(new[] { "-metadata", "title=A B", "-x", "it's", "a\"b" },
            CommandLineWords.Split("  -metadata \"title=A B\" -x 'it'\\''s' a\\\"b "));
        Assert.Empty(CommandLineWords.Split("   "));
    }

    static int WaitForPid(string pidFile)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid)) return pid;
            Thread.Sleep(20);
        }
        throw new TimeoutException("the ffmpeg wrapper never wrote its process id");
    }
}

/// <summary>Sets an environment variable for the lifetime of a test and restores it.</summary>
public sealed class EnvironmentOverride : IDisposable
{
    readonly string name;
    readonly string? previous;

    public EnvironmentOverride(string name, string? value)
    {
        this.name = name;
        previous = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose() => Environment.SetEnvironmentVariable(name, previous);
}
