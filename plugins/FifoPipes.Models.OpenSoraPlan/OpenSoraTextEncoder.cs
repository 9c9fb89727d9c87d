using FifoPipes.Abstractions;
using FifoPipes.Torch.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// A prompt as Open-Sora Plan conditions on it: the T5 output for all 300 positions (pad positions
/// included: the unconditional row uses them) and the count of valid tokens including &lt;/s&gt;.
/// </summary>
public sealed class T5Conditioning : Conditioning
{
    public T5Conditioning(string prompt, Tensor embedding, int validTokens, int? pairedLength = null) : base(prompt)
    {
        Embedding = embedding;
        ValidTokens = validTokens;
        PairedLength = pairedLength;
    }

    /// <summary>[300, 4096] in the model's dtype and device.</summary>
    public Tensor Embedding { get; }
    public int ValidTokens { get; }
    /// <summary>The guidance row ("" or a negative prompt), whose caption is cut to a prompt's length.</summary>
    public bool IsUnconditional => IsNegative || Prompt.Length == 0;
    /// <summary>
    /// For an unconditional row paired with a prompt (<see cref="OpenSoraModel.Pair"/>): that prompt's token count, the
    /// length its caption is cut to. Null: cut to the longest prompt in the same call.
    /// </summary>
    public int? PairedLength { get; }

    public override void Dispose() => Embedding.Dispose();
}

/// <summary>
/// The pipeline's text path: lower-case and strip the prompt (OSP's text_preprocessing without the optional
/// caption cleaning), tokenize to 300 with a mask, run T5 with that mask.
/// </summary>
public sealed class OpenSoraTextEncoder : IDisposable
{
    readonly T5Tokenizer tokenizer;
    readonly T5EncoderModel encoder;

    public OpenSoraTextEncoder(T5Tokenizer tokenizer, T5EncoderModel encoder)
    {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
    }

    public static string Preprocess(string prompt) => prompt.ToLowerInvariant().Trim();

    public T5Conditioning Encode(string prompt, int maxLength = OpenSoraPreset.TextTokens)
    {
        using var scope = NewDisposeScope();
        using var _ = inference_mode();
        var device = encoder.parameters().First().device;
        var (ids, mask) = tokenizer.TokenizeBatch(new[] { Preprocess(prompt) }, maxLength);
        var hidden = encoder.forward(ids.to(device), mask.to(device))[0];
        int valid = (int)mask.sum().item<long>();
        // The conditioning owns its tensor: detached, so a caller's dispose scope cannot free it first.
        return new T5Conditioning(prompt, hidden.DetachFromDisposeScope(), valid);
    }

    public void Dispose() => encoder.Dispose();
}

/// <summary>
/// Builds the caption batch for one Latte call the way the OSP/FIFO pipeline does: every row is cut to the
/// prompt's valid-token count (mask_feature), and the unconditional ("") rows are cut to that same length,
/// so they keep T5's outputs at pad positions: an unconditional row paired with a prompt to that prompt's length, an
/// unpaired one to the longest prompt in the call. Rows shorter than the longest are masked beyond their own length.
/// </summary>
public static class CaptionBatch
{
    public static (Tensor Caption, Tensor? Mask) Build(IReadOnlyList<Conditioning> conditioning)
    {
        var rows = conditioning.Select((c, i) => c as T5Conditioning
            ?? throw new ArgumentException($"Conditioning of row {i} was not made by the opensora model's Encode.", nameof(conditioning))).ToList();
        var conditional = rows.Where(r => !r.IsUnconditional).ToList();
        int longestPrompt = (conditional.Count > 0 ? conditional : rows).Max(r => r.ValidTokens);
        var lengths = rows.Select(r => r.IsUnconditional ? r.PairedLength ?? longestPrompt : r.ValidTokens).ToArray();
        int length = lengths.Max();
        using var scope = NewDisposeScope();
        var caption = stack(rows.Select(r => r.Embedding.narrow(0, 0, length)).ToArray(), 0).unsqueeze(1);
        Tensor? mask = null;
        if (lengths.Any(l => l < length))
        {
            var values = new long[rows.Count * length];
            for (int b = 0; b < rows.Count; b++)
                for (int i = 0; i < lengths[b]; i++) values[b * length + i] = 1;
            mask = tensor(values, new long[] { rows.Count, length }, device: caption.device).MoveToOuterDisposeScope();
        }
        return (caption.MoveToOuterDisposeScope(), mask);
    }
}
