namespace FifoPipes.Core;

/// <summary>
/// Failures that say nothing about the input or the model: TorchSharp 0.107 lets the garbage collector finalize a
/// Scalar (from <c>tensor + 0.5</c>, or the alpha of any <c>add</c>) while libtorch still reads it, and libtorch then
/// reports the freed value as a bad Scalar tag (docs/reliability.md). The same computation succeeds when repeated.
/// </summary>
public static class TorchSharpFaults
{
    public static bool IsScalarFinalizerRace(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
            if (e is System.Runtime.InteropServices.ExternalException && e.Message.Contains("c10/core/Scalar.h", StringComparison.Ordinal))
                return true;
        return false;
    }
}
