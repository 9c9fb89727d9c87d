using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Media;
using FifoPipes.PowerShell;
using FifoPipes.Tests.PowerShell;
using FifoPipes.Tests.Sinks;
using Xunit;

namespace FifoPipes.Tests.EndToEnd;

/// <summary>A short video as the start of a FIFO run: decoded by ffmpeg, scaled and cropped like a still image.</summary>
[Collection("PowerShell")]
public sealed class StartClipTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-start-clip-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A one-second 96x48 clip at 8 fps, red on the left half and blue on the right.</summary>
    string RedBlueClip()
    {
        var clip = Path.Combine(dir, "redblue.mp4");
        Ffprobe.Ffmpeg("-f", "lavfi", "-i", "color=c=red:s=48x48:r=8:d=1", "-f", "lavfi", "-i", "color=c=blue:s=48x48:r=8:d=1",
            "-filter_complex", "hstack", "-pix_fmt", "yuv420p", clip);
        return clip;
    }

    [SkippableFact]
    public void A_clip_is_read_as_its_first_frames_cropped_to_the_model_size()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        using var frames = ImageFiles.LoadFrames(RedBlueClip(), 32, 32, maxFrames: 4);
        Assert.Equal(new long[] { 4, 3, 32, 32 }, frames.shape);
        // Scaled to cover 32x32 (64x32) and centre-cropped: the left half stays red, the right half blue.
        Assert.InRange(frames[0, 0, .., ..8].mean().item<float>(), 0.8f, 1f);
        Assert.InRange(frames[0, 2, .., ..8].mean().item<float>(), 0f, 0.2f);
        Assert.InRange(frames[0, 2, .., 24..].mean().item<float>(), 0.8f, 1f);
        using var all = ImageFiles.LoadFrames(Path.Combine(dir, "redblue.mp4"), 32, 32, maxFrames: 64);
        Assert.Equal(8, all.shape[0]);
    }

    [SkippableFact]
    public void An_animated_png_is_read_frame_by_frame_and_a_still_one_as_one_image()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var clip = RedBlueClip();
        var animated = Path.Combine(dir, "redblue.png");
        // Its first frame shows for a second, the others an eighth each: each still comes once.
        Ffprobe.Ffmpeg("-i", clip, "-vf", "hflip=enable='gte(n,4)',setpts=N/8/TB+gte(N\\,1)/TB", "-fps_mode", "vfr", "-plays", "0", "-f", "apng", animated);
        var still = Path.Combine(dir, "still.png");
        Ffprobe.Ffmpeg("-i", clip, "-frames:v", "1", still);
        Assert.True(ImageFiles.IsAnimatedPng(animated));
        Assert.False(ImageFiles.IsAnimatedPng(still));

        using var frames = ImageFiles.LoadFrames(animated, 32, 32);
        Assert.Equal(new long[] { 8, 3, 32, 32 }, frames.shape);
        // Flipped from the fifth frame on: red moves to the right half.
        Assert.InRange(frames[0, 0, .., ..8].mean().item<float>(), 0.8f, 1f);
        Assert.InRange(frames[7, 0, .., 24..].mean().item<float>(), 0.8f, 1f);
        using var one = ImageFiles.LoadFrames(still, 32, 32);
        Assert.Equal(1, one.shape[0]);
    }

    [SkippableFact]
    public void A_file_that_is_no_video_is_refused_naming_it()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        var fake = Path.Combine(dir, "notes.mp4");
        File.WriteAllText(fake, "not a video");
        var ex = Assert.Throws<FifoInputException>(() => ImageFiles.LoadFrames(fake, 32, 32));
        Assert.Equal(VideoClipReader.UnreadableErrorId, ex.ErrorId);
        Assert.Contains("notes.mp4", ex.Message);
        // ffmpeg's own words, without the addresses its log lines carry ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d1...]").
        Assert.Contains("mov,mp4,m4a,3gp,3g2,mj2: ", ex.Message);
        Assert.DoesNotContain("@ 0x", ex.Message);
    }

    [Fact]
    public void A_file_that_is_no_image_is_refused_in_words_without_the_decoders_list()
    {
        var fake = Path.Combine(dir, "fake.png");
        File.WriteAllBytes(fake, Enumerable.Range(0, 512).Select(i => (byte)(i * 31 % 253)).ToArray());
        var ex = Assert.Throws<FifoInputException>(() => ImageFiles.LoadFrames(fake, 32, 32));
        Assert.Equal("InitImageUnreadable", ex.ErrorId);
        Assert.Equal($"Start image '{fake}' is not an image or video that can be read (damaged, or another kind of file). Use a PNG, JPEG or GIF image, or a short video.", ex.Message);
    }

    [SkippableFact]
    public void New_FifoVideo_starts_from_a_clip()
    {
        Skip.IfNot(Ffprobe.Available, "needs ffmpeg");
        RedBlueClip();
        const string Run = "New-FifoVideo 'calm green sea' -Frames 3 " + InProcessShell.Tiny;
        var frames = InProcessShell.Run(dir, Run + " -InitImage redblue.mp4").Cast<FifoFrame>().ToList();
        var plain = InProcessShell.Run(dir, Run).Cast<FifoFrame>().ToList();
        Assert.Equal(new long[] { 0, 1, 2 }, frames.Select(f => f.Index));
        Assert.NotEqual(plain[0].Pixels, frames[0].Pixels);
    }
}
