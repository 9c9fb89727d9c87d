using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Reliability;

/// <summary>Which decoders may snapshot and resume, and where each stands in the stream.</summary>
public sealed class DecoderPositionTests
{
    sealed class Decoder(bool stateless) : IFrameDecoder
    {
        public IReadOnlyList<Tensor> Push(Tensor latent) => Array.Empty<Tensor>();
        public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();
        public bool Stateless => stateless;
        public void Dispose() { }
    }

    /// <summary>Holds pairs of latents and returns three frames per pair.</summary>
    sealed class PairDecoder : IResumableFrameDecoder
    {
        public IReadOnlyList<Tensor> Push(Tensor latent) => Array.Empty<Tensor>();
        public IReadOnlyList<Tensor> Flush() => Array.Empty<Tensor>();
        public void Dispose() { }
        public int MaxHeldLatents => 1;
        public long HeldFrom(long pushed) => pushed / 2 * 2;
        public long FramesBefore(long pushed) => pushed / 2 * 3;
        public long? ResumedAt { get; private set; }
        public void ResumeAt(long heldFrom) => ResumedAt = heldFrom;
    }

    [Fact]
    public void Only_stateless_and_resumable_decoders_may_resume()
    {
        Assert.False(DecoderPosition.Of(new Decoder(stateless: false)).CanResume);

        var stateless = DecoderPosition.Of(new Decoder(stateless: true));
        Assert.True(stateless.CanResume);
        Assert.Equal((0, 7L, 7L), (stateless.MaxHeldLatents, stateless.HeldFrom(7), stateless.FramesBefore(7)));

        var pairs = new PairDecoder();
        var resumable = DecoderPosition.Of(pairs);
        Assert.True(resumable.CanResume);
        Assert.Equal((1, 6L, 9L), (resumable.MaxHeldLatents, resumable.HeldFrom(7), resumable.FramesBefore(7)));
        resumable.ResumeAt(6);
        Assert.Equal(6, pairs.ResumedAt);
    }
}
