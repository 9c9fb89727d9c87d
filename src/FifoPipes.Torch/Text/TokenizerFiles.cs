using FifoPipes.Abstractions;

namespace FifoPipes.Torch.Text;

/// <summary>Checks a tokenizer file is of a plausible size before anything reads it whole.</summary>
public static class TokenizerFiles
{
    /// <summary>Real vocabularies and SentencePiece models are about a megabyte; anything far larger is not one.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>Throws <see cref="FifoInputException"/> "TokenizerCorrupt" when the existing file <paramref name="path"/> is larger than <see cref="MaxBytes"/>; the message calls it <paramref name="whatItIs"/> and ends with <paramref name="fix"/>.</summary>
    public static void RefuseHuge(string path, string whatItIs, string fix)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxBytes)
            throw new FifoInputException("TokenizerCorrupt", $"'{path}' is {length >> 20} MiB; {whatItIs} is about 1 MiB. {fix}");
    }
}
