using FifoPipes.Torch.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>FrozenOpenCLIPEmbedder (layer "penultimate"): prompts → [B, 77, width] context for the UNet's cross-attention.</summary>
public sealed class VideoCrafterTextEncoder : IDisposable
{
    readonly ClipTokenizer tokenizer;
    readonly OpenClipTextTransformer transformer;

    public VideoCrafterTextEncoder(ClipTokenizer tokenizer, OpenClipTextTransformer transformer)
    {
        this.tokenizer = tokenizer;
        this.transformer = transformer;
    }

    public Tensor Encode(IReadOnlyList<string> prompts)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var device = transformer.parameters().First().device;
        var tokens = tokenizer.TokenizeBatch(prompts, transformer.Config.ContextLength).to(device);
        return transformer.forward(tokens).MoveToOuterDisposeScope();
    }

    public void Dispose() => transformer.Dispose();
}
