namespace FifoPipes.Core;

/// <summary>
/// Failures that say nothing about the input or the model: TorchSharp 0.107 lets the garbage collector finalize a
/// Scalar (from <c>tensor + 0.5</c>, or the alpha of any <c>add</c>) while libtorch still reads it, and libtorch then
/// reports the freed value as a bad Scalar tag (docs/reliability.md). The same computation succeeds when repeated.
/// </summary>
public static class TorchSharpFaults
{
    /// <summary>
    /// What libtorch says when it reads a freed Scalar: a failed tag check in c10/core/Scalar.h, or, when the freed
    /// bytes hold no valid tag at all, "Unknown scalar type" (FifoPipes passes only fixed, valid dtypes, so that
    /// message has no other cause here).
    /// </summary>
    static readonly string[] Signatures = { "c10/core/Scalar.h", "Unknown scalar type" };

    /// <summary>
    /// Whether <paramref name="error"/>, or an exception it wraps, is libtorch reading a Scalar the garbage collector freed:
    /// the work was sound, and work that changes no state can be run again.
    /// </summary>
    public static bool IsScalarFinalizerRace(Exception? error) =>
        ExceptionChain.Any(error, e => e is System.Runtime.InteropServices.ExternalException && Signatures.Any(s => e.Message.Contains(s, StringComparison.Ordinal)));
}
