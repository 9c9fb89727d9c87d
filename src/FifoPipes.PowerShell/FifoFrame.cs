using FifoPipes.Abstractions;
using FifoPipes.Core;

namespace FifoPipes.PowerShell;

/// <summary>One frame of a generated video, as it travels down the PowerShell pipeline.</summary>
public sealed class FifoFrame
{
    readonly VideoFrame frame;

    public FifoFrame(VideoFrame frame) => this.frame = frame;

    public long Index => frame.Index;
    public int Width => frame.Width;
    public int Height => frame.Height;
    public string Prompt => frame.Prompt;
    public TimeSpan Timestamp => frame.Timestamp;
    public double Fps => frame.Fps;
    public Guid RunId => frame.RunId;
    /// <summary>RGB24 pixels, row-major.</summary>
    public byte[] Pixels => frame.Rgb;

    /// <summary>Writes the frame as a PNG file and returns it.</summary>
    public FileInfo Save(string path)
    {
        var full = Path.GetFullPath(path);
        ImageFiles.SavePng(frame, full);
        return new FileInfo(full);
    }

    /// <summary>The engine's frame, for sinks and scripts that call plugins directly.</summary>
    public VideoFrame ToVideoFrame() => frame;

    public override string ToString() => $"frame {Index} ({Width}x{Height}) {Prompt}";
}
