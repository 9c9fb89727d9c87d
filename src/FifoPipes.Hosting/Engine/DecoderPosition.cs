using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Where a decoder stands in the stream after some count of latents: a resumable decoder's own answers, one frame per
/// latent for a stateless one. Other decoders only ever start from latent 0, where both answers are 0.
/// </summary>
public sealed class DecoderPosition
{
    readonly IResumableFrameDecoder? resumable;

    DecoderPosition(IResumableFrameDecoder? resumable, bool canResume)
    {
        this.resumable = resumable;
        CanResume = canResume;
    }

    public static DecoderPosition Of(IFrameDecoder decoder) =>
        decoder is IResumableFrameDecoder resumable ? new(resumable, true) : new(null, decoder.Stateless);

    /// <summary>Whether a run with this decoder may take snapshots and resume from them.</summary>
    public bool CanResume { get; }

    /// <summary>How many latest output latents a snapshot must keep for this decoder.</summary>
    public int MaxHeldLatents => resumable?.MaxHeldLatents ?? 0;

    public long HeldFrom(long pushed) => resumable?.HeldFrom(pushed) ?? pushed;

    public long FramesBefore(long pushed) => resumable?.FramesBefore(pushed) ?? pushed;

    public void ResumeAt(long heldFrom) => resumable?.ResumeAt(heldFrom);
}
