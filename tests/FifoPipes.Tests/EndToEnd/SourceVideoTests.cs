using FifoPipes.Abstractions;
using FifoPipes.Core.Media;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sinks;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.EndToEnd;

/// <summary>A source video for video-to-video: streamed from ffmpeg a frame at a time and encoded as the sampler asks.</summary>
public sealed class SourceVideoTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-source-video-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>ffmpeg's test pattern at 8 fps (every frame different: it carries a moving gradient and a counter).</summary>
    string TestPattern(string name, int frames)
    {
        var clip = Path.Combine(dir, name);
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", frames.ToString(), clip);
        return clip;
    }

    /// <summary>A model stub whose "latent" is the frame's grey level at 1/8 size, <paramref name="framesPerLatent"/> frames to a latent.</summary>
    sealed class GreyModel(int framesPerLatent) : IVideoModel
    {
        public ModelInfo Info { get; } = new()
        {
            Name = framesPerLatent == 1 ? "grey" : "grey-compressed", LatentChannels = 1, LatentHeight = 4, LatentWidth = 8, WindowFrames = 4,
            Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012), Defaults = new SamplingDefaults(),
        };
        public int Encoded { get; private set; }
        public Conditioning Encode(string prompt) => throw new NotSupportedException();
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb)
        {
            Encoded += (int)rgb.shape[0];
            var grey = nn.functional.avg_pool2d(rgb.mean(new long[] { 1 }, keepdim: true), 8);   // [T, 1, 4, 8]
            var latents = grey.permute(1, 0, 2, 3);                                                  // [1, T, 4, 8]
            return framesPerLatent == 1 ? latents : latents[.., ..(int)Math.Ceiling(rgb.shape[0] / (double)framesPerLatent)];
        }
        public void Dispose() { }
    }

    [SkippableFact]
    public void A_video_is_counted_read_forward_and_skipped_without_decoding_it_whole()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        Assert.Equal(new SourceFrames.Summary(10, 8), SourceFrames.Probe(clip));
        using var frames = new SourceFrames(clip, 32, 16);
        using (var first = frames.Next()) Assert.Equal(new long[] { 3, 16, 32 }, first!.shape);
        Assert.True(frames.Skip() && frames.Skip() && frames.Skip());
        Assert.Equal(4, frames.Position);
        int rest = 0;
        while (frames.Next() is { } frame) using (frame) rest++;
        Assert.Equal(6, rest);
        Assert.False(frames.Skip());

        var gif = TestPattern("pattern.gif", 5);
        // GIF delays are whole centiseconds (13, 12, 13, ...), so its rate comes out near 8, not at it.
        var summary = SourceFrames.Probe(gif);
        Assert.Equal(5, summary.Frames);
        Assert.InRange(summary.Fps!.Value, 7.5, 8.5);
        using var gifFrames = new SourceFrames(gif, 32, 16);
        int read = 0;
        while (gifFrames.Next() is { } frame) using (frame) read++;
        Assert.Equal(5, read);
    }

    [SkippableFact]
    public void A_start_time_and_a_frame_rate_select_frames_of_the_file_and_the_count_agrees_with_the_reading()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 24);   // 3 s at 8 fps
        var native = ReadAll(clip, default);
        Assert.Equal(24, native.Count);

        void Selects(SourceTiming timing, int[] expected, double fps)
        {
            var frames = ReadAll(clip, timing);
            Assert.Equal(new SourceFrames.Summary(expected.Length, fps), SourceFrames.Probe(clip, timing));
            Assert.Equal(expected.Length, frames.Count);
            for (int k = 0; k < expected.Length; k++)
                TensorAssert.Identical(new[] { native[expected[k]] }, new[] { frames[k] }, $"{timing}: frame {k} is the file's frame {expected[k]}");
        }
        Selects(new SourceTiming(Fps: 4), Enumerable.Range(0, 12).Select(k => 2 * k).ToArray(), 4);
        Selects(new SourceTiming(Start: 1), Enumerable.Range(8, 16).ToArray(), 8);
        Selects(new SourceTiming(Fps: 4, Start: 1), Enumerable.Range(0, 8).Select(k => 8 + 2 * k).ToArray(), 4);
        // A higher rate repeats frames: at 16 fps each frame of the file comes twice.
        Selects(new SourceTiming(Fps: 16), Enumerable.Range(0, 48).Select(k => k / 2).ToArray(), 16);

        var ex = Assert.Throws<FifoInputException>(() => SourceFrames.Probe(clip, new SourceTiming(Start: 5)));
        Assert.Equal(SourceFrames.StartPastEndErrorId, ex.ErrorId);
        Assert.Contains("has no frames from 5 s on: it lasts about 3 s, its last frame starting at 2.875 s. Give a start at or before its last frame's", ex.Message);
        // Within the last frame's time, before the file's end, no frame starts either: the same error, not "no video stream".
        var inLast = Assert.Throws<FifoInputException>(() => SourceFrames.Probe(clip, new SourceTiming(Start: 2.9)));
        Assert.Equal(SourceFrames.StartPastEndErrorId, inLast.ErrorId);
        Assert.Contains("has no frames from 2.9 s on", inLast.Message);
    }

    List<Tensor> ReadAll(string clip, SourceTiming timing)
    {
        using var frames = new SourceFrames(clip, 32, 16, timing);
        var all = new List<Tensor>();
        while (frames.Next() is { } frame) all.Add(frame);
        return all;
    }

    [SkippableFact]
    public void Latents_come_in_order_and_an_earlier_frame_reopens_the_stream()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        var model = new GreyModel(1);
        using var source = SourceVideoLatents.Open(model, new SourceVideo(clip, 0.6));
        Assert.Equal(10, source.Count);
        int probed = model.Encoded;
        var third = source.Latent(3);
        Assert.Equal(new long[] { 1, 4, 8 }, third.shape);
        // The same index again comes from what is kept; each frame is encoded once on the way forward.
        TensorAssert.Identical(new[] { third }, new[] { source.Latent(3) }, "frame 3 again");
        Assert.Equal(probed + 1, model.Encoded);
        var seventh = source.Latent(7);
        Assert.True((seventh - third).abs().max().item<float>() > 0.01f, "frames 3 and 7 of the pattern differ");
        TensorAssert.Identical(new[] { third }, new[] { source.Latent(3) }, "frame 3 after a rewind");
        Assert.Throws<ArgumentOutOfRangeException>(() => source.Latent(10));
    }

    [SkippableFact]
    public void A_picture_given_as_the_source_is_read_as_one_frame_and_the_warning_points_at_a_start_image()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var picture = TestPattern("still.png", 1);
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        using (var source = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(picture, 0.6), log)) Assert.Equal(1, source.Count);
        Assert.Contains("holds one frame (a still image?), so the run makes one frame", Assert.Single(log.Warnings));
        Assert.Contains("give it as -InitImage (recipe key init:)", log.Warnings[0]);
        // Looped, one frame is what the user asked for.
        var looped = new FifoPipes.Tests.Sampling.RecordingSink();
        using (SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(picture, 0.6, Loop: SourceLoop.Restart), looped)) { }
        Assert.Empty(looped.Warnings);
        // A clip of more frames warns of nothing.
        var clip = new FifoPipes.Tests.Sampling.RecordingSink();
        using (SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(TestPattern("two.mp4", 2), 0.6), clip)) { }
        Assert.Empty(clip.Warnings);
    }

    [SkippableFact]
    public void A_stopped_run_stops_reading_its_way_to_a_far_source_frame()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        using var stop = new CancellationTokenSource();
        using var source = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(clip, 0.6), stop: stop.Token);
        source.Latent(1).Dispose();
        stop.Cancel();
        // A resume far into an hours-long source reads every frame before it: Ctrl+C must end that, not wait it out.
        Assert.Throws<OperationCanceledException>(() => source.Latent(8));
        source.Latent(1).Dispose();   // what is kept needs no reading
    }

    [SkippableFact]
    public void A_looping_source_has_no_end_and_starts_over_after_its_last_frame()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        var model = new GreyModel(1);
        using var source = SourceVideoLatents.Open(model, new SourceVideo(clip, 0.6, Loop: SourceLoop.Restart));
        Assert.Equal(long.MaxValue, source.Count);
        int probed = model.Encoded;
        var frames = Enumerable.Range(0, 26).Select(i => source.Latent(i)).ToList();
        // One turn is kept: the second and third encode nothing.
        Assert.Equal(probed + 10, model.Encoded);
        TensorAssert.Identical(new[] { frames[2] }, new[] { frames[12] }, "frame 12 is frame 2 again");
        TensorAssert.Identical(new[] { frames[5] }, new[] { frames[25] }, "frame 25 is frame 5 again");
        Assert.True((frames[9] - frames[10]).abs().max().item<float>() > 0.01f, "the turn goes from the last frame back to the first");

        // A recipe may ask for more frames than the clip has, but must say how many: the loop has no end to share.
        var reader = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        var looped = reader.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 25\nsource: {{ path: {clip}, loop: true }}\n", Path.Combine(dir, "r.yaml"));
        Assert.True(looped is not null, string.Join("; ", reader.Diagnostics.Select(d => d.Message)));
        Assert.Contains("source.loop=true", looped!.RunSettings);
        var endless = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        Assert.Null(endless.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nsource: {{ path: {clip}, loop: true }}\n", Path.Combine(dir, "r.yaml")));
        Assert.Equal(("frames", "a looping source has no end for the prompts to share; give the number of frames to make"), (endless.Diagnostics.Single().Path, endless.Diagnostics.Single().Message));
    }

    [SkippableFact]
    public void A_ping_pong_source_plays_forward_then_back_and_never_jumps()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        var model = new GreyModel(1);
        using var forward = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(clip, 0.6));
        var clipFrames = Enumerable.Range(0, 10).Select(i => forward.Latent(i)).ToList();
        using var source = SourceVideoLatents.Open(model, new SourceVideo(clip, 0.6, Loop: SourceLoop.PingPong));
        int probed = model.Encoded;
        var frames = Enumerable.Range(0, 40).Select(i => source.Latent(i)).ToList();
        // 0..9, 8..1, 0..9, ...: a turn of 18 frames, each of the clip's frames encoded once.
        var expected = Enumerable.Range(0, 40).Select(i => i % 18 < 10 ? i % 18 : 18 - i % 18).ToList();
        TensorAssert.Identical(expected.Select(k => clipFrames[k]).ToArray(), frames.ToArray(), "the ping-pong turn");
        Assert.Equal(probed + 10, model.Encoded);
        // Resumed on the way back (output frames 13.. are clip frames 5, 4, 3, ...): the frames passed on the way to 5 are
        // kept, so going back neither reopens nor encodes again.
        var resumedModel = new GreyModel(1);
        using var resumed = SourceVideoLatents.Open(resumedModel, new SourceVideo(clip, 0.6, Loop: SourceLoop.PingPong));
        int resumedProbe = resumedModel.Encoded;
        var back = Enumerable.Range(13, 5).Select(i => resumed.Latent(i)).ToArray();
        TensorAssert.Identical(new[] { 5, 4, 3, 2, 1 }.Select(k => clipFrames[k]).ToArray(), back, "a resume on the way back");
        Assert.Equal(resumedProbe + 6, resumedModel.Encoded);

        var reader = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        var recipe = reader.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 40\nsource: {{ path: {clip}, loop: PingPong }}\n", Path.Combine(dir, "r.yaml"));
        Assert.True(recipe is not null, string.Join("; ", reader.Diagnostics.Select(d => d.Message)));
        Assert.Equal(SourceLoop.PingPong, recipe!.Source!.Loop);
        Assert.Contains("source.loop=pingpong", recipe.RunSettings);
        Assert.Contains("loop: pingpong", RunProvenance.Parse(recipe.Provenance, "test").ToRecipe());
        // Every boolean the recipe reader takes elsewhere still loops (or not) beside pingpong.
        var yes = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host).ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 40\nsource: {{ path: {clip}, loop: yes }}\n", Path.Combine(dir, "r.yaml"));
        Assert.Equal(SourceLoop.Restart, yes!.Source!.Loop);
        var bad = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        Assert.Null(bad.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 40\nsource: {{ path: {clip}, loop: bounce }}\n", Path.Combine(dir, "r.yaml")));
        var d = Assert.Single(bad.Diagnostics);
        Assert.Equal("source.loop", d.Path);
        Assert.Contains("use true (start over after the last frame), pingpong (forward, then back) or false", d.Message);
    }

    [SkippableFact]
    public void A_source_that_decodes_fewer_frames_than_it_counts_repeats_its_last_one_the_same_way_after_a_resume()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        // Ten MJPEG packets whose last holds no image: counted 10, decoded 9.
        var clip = Path.Combine(dir, "cut.mkv");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", "10", "-c:v", "mjpeg", clip);
        var bytes = File.ReadAllBytes(clip);
        int last = bytes.AsSpan().LastIndexOf(new byte[] { 0xff, 0xd8, 0xff });
        int end = bytes.AsSpan(last).IndexOf(new byte[] { 0xff, 0xd9 }) + last + 2;
        Array.Clear(bytes, last, end - last);
        File.WriteAllBytes(clip, bytes);
        Assert.Equal(10, SourceFrames.Probe(clip).Frames);

        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        using var unbroken = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(clip, 0.6, Loop: SourceLoop.Restart), log);
        var frames = Enumerable.Range(0, 20).Select(i => unbroken.Latent(i)).ToList();
        Assert.Contains(log.Warnings, w => w.Contains("decoded only 9 of the 10 frames it counted"));
        TensorAssert.Identical(new[] { frames[8] }, new[] { frames[9] }, "frame 9 is frame 8 again");
        TensorAssert.Identical(new[] { frames[8] }, new[] { frames[19] }, "and so in every turn");
        // Resumed at frame 5: the frame that stands in is read as itself, whatever was read last.
        using var resumed = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(clip, 0.6, Loop: SourceLoop.Restart));
        var again = Enumerable.Range(5, 15).Select(i => resumed.Latent(i)).ToList();
        TensorAssert.Identical(frames.Skip(5).ToArray(), again.ToArray(), "a resumed run's frames");
        // Starting past the decoded frames gives the same frame too.
        using var late = SourceVideoLatents.Open(new GreyModel(1), new SourceVideo(clip, 0.6));
        TensorAssert.Identical(new[] { frames[8] }, new[] { late.Latent(9) }, "frame 9 first");
    }

    [SkippableFact]
    public void A_recipe_asking_for_more_frames_than_its_source_has_is_refused_where_it_says_so()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        var notVideo = Path.Combine(dir, "notes.mp4");
        File.WriteAllText(notVideo, "not a video");
        IReadOnlyList<FifoPipes.Hosting.Options.Diagnostic> Problems(int frames, string path)
        {
            var reader = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
            reader.ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: {frames}\nsource: {{ path: {path}, strength: 0.5 }}\n", Path.Combine(dir, "r.yaml"));
            return reader.Diagnostics;
        }

        Assert.Empty(Problems(10, clip));
        var tooMany = Assert.Single(Problems(12, clip));
        Assert.Equal(("source", 4), (tooMany.Path, tooMany.Line));
        Assert.Contains("the source video has 10 frames, and the prompts ask for 12", tooMany.Message);
        var unreadable = Assert.Single(Problems(3, notVideo));
        Assert.Equal("source.path", unreadable.Path);
        Assert.Contains("could not be read by ffmpeg", unreadable.Message);
    }

    [SkippableFact]
    public void Prompts_without_frames_share_the_frames_a_source_selects()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        (Recipe?, IReadOnlyList<FifoPipes.Hosting.Options.Diagnostic>) Read(string body)
        {
            var reader = new RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
            return (reader.ReadText("apiVersion: fifopipes/v1\n" + body, Path.Combine(dir, "r.yaml")), reader.Diagnostics);
        }
        IEnumerable<int> Frames(string body) => Read(body).Item1!.Prompts.Select(p => p.Frames);

        Assert.Equal(new[] { 10 }, Frames($"prompt: a\nsource: {clip}\n"));
        // In order and as evenly as whole frames allow: the first take one more.
        Assert.Equal(new[] { 4, 3, 3 }, Frames($"prompts: [ {{ prompt: a }}, {{ prompt: b }}, {{ prompt: c }} ]\nsource: {clip}\n"));
        // Of the frames selected: from 0.5 s on at 4 fps, 10 frames at 8 fps are 3 (0.5, 0.75 and 1 s).
        Assert.Equal(new[] { 2, 1 }, Frames($"prompts: [ {{ prompt: a }}, {{ prompt: b }} ]\nsource: {{ path: {clip}, fps: 4, start: 0.5 }}\n"));

        var (mixed, half) = Read($"prompts: [ {{ prompt: a, frames: 4 }}, {{ prompt: b }} ]\nsource: {clip}\n");
        Assert.Null(mixed);
        Assert.Equal(("prompts[1].frames", "give 'frames' to every prompt or to none: without them the prompts share the source video's frames"),
            (half.Single().Path, half.Single().Message));
        var (crowded, tooMany) = Read($"prompts: [ {string.Join(", ", Enumerable.Range(0, 11).Select(i => $"{{ prompt: p{i} }}"))} ]\nsource: {clip}\n");
        Assert.Null(crowded);
        Assert.Contains("the source video has 10 frames, fewer than the 11 prompts that share them", tooMany.Single().Message);
        // A start past the end is the start's fault, with the video's length.
        var (late, pastEnd) = Read($"prompt: a\nsource: {{ path: {clip}, start: 60 }}\n");
        Assert.Null(late);
        Assert.Equal("source.start", pastEnd.Single().Path);
        Assert.True(pastEnd.Single().Message.Contains("has no frames from 60 s on: it lasts about 1.3 s"), pastEnd.Single().Message);
        // A missing source is reported once, as itself, not as missing frames.
        var (lost, missing) = Read("prompt: a\nsource: /nonexistent/walk.mp4\n");
        Assert.Null(lost);
        Assert.Equal("source.path", missing.Single().Path);
        // A picture is a source of one frame: asked for more, the refusal points at a start image.
        var (still, oneFrame) = Read($"prompt: a\nframes: 4\nsource: {TestPattern("still.png", 1)}\n");
        Assert.Null(still);
        Assert.EndsWith("set the frames to at most 1; to start a video from a picture, give it as -InitImage (init:) instead", oneFrame.Single().Message);
    }

    [SkippableFact]
    public void A_model_that_compresses_time_is_refused_by_name()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = TestPattern("pattern.mp4", 10);
        var ex = Assert.Throws<FifoInputException>(() => SourceVideoLatents.Open(new GreyModel(4), new SourceVideo(clip, 0.6)));
        Assert.Equal("SourceUnsupported", ex.ErrorId);
        Assert.Contains("'grey-compressed' encodes 5 video frames into 2 latent frames", ex.Message);
    }
}
