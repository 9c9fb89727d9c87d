using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Sinks;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.EndToEnd;

/// <summary>
/// A ping-pong loop (source.loop: pingpong) keeps its clip's latents in memory, up to 512 MB: a clip at the limit
/// opens, one frame or one value past it is refused before a frame is sampled, saying what to do instead.
/// </summary>
public sealed class SourcePingPongLimitTests : IDisposable
{
    const long Limit = 512L << 20;
    /// <summary>A 4096 x 4096 float latent: 64 MB a frame, so 8 frames are exactly the limit.</summary>
    const int Side = 4096;

    readonly string dir = Directory.CreateTempSubdirectory("fifo-pingpong-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Clip(int frames)
    {
        var clip = Path.Combine(dir, $"clip-{frames}.mp4");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x32:rate=8", "-frames:v", frames.ToString(), clip);
        return clip;
    }

    /// <summary>Encodes every frame into a [1, Side, Side + <paramref name="extraColumns"/>] latent, as a view of one zero (no memory).</summary>
    sealed class WideLatentModel(int extraColumns = 0) : IVideoModel
    {
        public ModelInfo Info { get; } = new()
        {
            Name = "wide-latent", LatentChannels = 1, LatentHeight = 2, LatentWidth = 4, WindowFrames = 4,
            Schedule = new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012), Defaults = new SamplingDefaults(),
        };
        public Conditioning Encode(string prompt) => throw new NotSupportedException();
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => zeros(1, 1, 1, 1).expand(1, rgb.shape[0], Side, Side + extraColumns);
        public void Dispose() { }
    }

    static SourceVideoLatents Open(string clip, SourceLoop loop, int extraColumns = 0) =>
        SourceVideoLatents.Open(new WideLatentModel(extraColumns), new SourceVideo(clip, 0.6, Loop: loop));

    [SkippableFact]
    public void A_clip_whose_latents_take_exactly_the_limit_loops_back_and_forth()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        Assert.Equal(Limit, 8L * Side * Side * sizeof(float));
        using var source = Open(Clip(8), SourceLoop.PingPong);
        Assert.Equal(long.MaxValue, source.Count);
    }

    [SkippableFact]
    public void One_frame_past_the_limit_is_refused_naming_the_clip_its_size_and_what_to_do()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = Clip(9);
        var ex = Assert.Throws<FifoInputException>(() => Open(clip, SourceLoop.PingPong));
        Assert.Equal("SourcePingPongTooLong", ex.ErrorId);
        Assert.Equal($"A ping-pong loop keeps the whole clip's latents in memory, and the 9 frames of '{clip}' take 576 MB, more than 512 MB. " +
                     "Loop a shorter part of it (source.start and a lower source.fps select fewer frames), or loop: true.", ex.Message);

        // Looped forward, the same clip is read again each turn instead: no limit.
        using var restarting = Open(clip, SourceLoop.Restart);
        Assert.Equal(long.MaxValue, restarting.Count);
    }

    [SkippableFact]
    public void One_latent_column_past_the_limit_is_refused_too()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        // 8 frames of 4096 x 4097: 128 KB over.
        var ex = Assert.Throws<FifoInputException>(() => Open(Clip(8), SourceLoop.PingPong, extraColumns: 1));
        Assert.Equal("SourcePingPongTooLong", ex.ErrorId);
        // Said so it reads as more than the limit: 512.1 MB, not a rounded 512.
        Assert.Contains("' take 512.1 MB, more than 512 MB.", ex.Message);
    }
}
