using FifoPipes.Abstractions;
using FifoPipes.Core;

namespace FifoPipes.PowerShell;

/// <summary>One frame of a generated video, as it travels down the PowerShell pipeline.</summary>
public sealed class FifoFrame
{
    readonly VideoFrame frame;
    readonly string? location;

    /// <param name="location">The PowerShell location the frame was made in: <see cref="Save"/> resolves relative paths
    /// against it, as cmdlets do, not against the process's working folder.</param>
    public FifoFrame(VideoFrame frame, string? location = null)
    {
        this.frame = frame;
        this.location = location;
    }

    /// <summary>
    /// The file the run that made the frame snapshots to, for Export-FifoFrames to refuse writing a frame there; null for
    /// none (or a frame made elsewhere).
    /// </summary>
    internal string? SnapshotPath { get; init; }

    /// <summary>
    /// The run hash {hash} names the outputs by: on a resume, the snapshot's run (a run made longer goes on in the outputs
    /// its first part wrote); null for the frame's own run.
    /// </summary>
    internal string? OutputRunHash { get; init; }

    public long Index => frame.Index;
    public int Width => frame.Width;
    public int Height => frame.Height;
    public string Prompt => frame.Prompt;
    public TimeSpan Timestamp => frame.Timestamp;
    public double Fps => frame.Fps;
    public Guid RunId => frame.RunId;
    /// <summary>How the run was set (model, sampler, options, prompts, seed, run hash), as the written files record it.</summary>
    public string? Provenance => frame.Provenance;
    /// <summary>RGB24 pixels, row-major.</summary>
    public byte[] Pixels => frame.Rgb;

    /// <summary>
    /// Writes the frame as an image file and returns it: PNG, with how it was made (Get-FifoProvenance reads it), or
    /// JPEG, WebP or BMP by the extension; a relative path is taken from the location the frame was made in,
    /// and a leading ~ is the home folder (PowerShell expands it for cmdlets, not for method arguments). A missing
    /// folder is made, as the sinks make theirs; an existing file is replaced.
    /// </summary>
    public FileInfo Save(string path)
    {
        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            path = Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[1..]);
        var full = location is null ? Path.GetFullPath(path) : Path.GetFullPath(path, location);
        if (Directory.Exists(full))
            throw new FifoInputException("FrameNotSaved", $"'{Path.TrimEndingDirectorySeparator(full)}' is a folder; give a file name in it, e.g. '{Path.Join(full, $"frame_{Index}.png")}'.");
        try { ImageFiles.SaveImage(frame, full); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FifoInputException("FrameNotSaved",
                $"Frame {Index} could not be saved to '{full}' ({ex.Message.TrimEnd('.')}). Give a path in a folder this user can write, on a disk with room.", ex);
        }
        return new FileInfo(full);
    }

    /// <summary>The engine's frame, for sinks and scripts that call plugins directly.</summary>
    public VideoFrame ToVideoFrame() => frame;

    public override string ToString() => $"frame {Index} ({Width}x{Height}) {Prompt}";
}
