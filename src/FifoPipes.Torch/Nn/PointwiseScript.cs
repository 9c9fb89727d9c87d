using System.Collections.Concurrent;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Nn;

/// <summary>
/// Chains of elementwise operations written as TorchScript, which libtorch's graph executor fuses into one CUDA kernel
/// (the TensorExpr fuser) after profiling the first calls, where eager execution makes a full pass over memory per
/// operation. TorchSharp has no torch.compile, but <c>torch.jit.compile</c> reaches this executor. On the CPU the
/// fuser is off and the script runs operation by operation, which is how the tests compare it with the eager layers.
/// A candidate for GPU speed, off by default: only a device session can tell whether the fused kernels win
/// (docs/gpu.md).
/// </summary>
/// <remarks>
/// An executor specialises its fused kernels on the shapes it profiled and falls back to unfused code after a few
/// shapes, so each function is compiled once per dtype, device and input shape: layers of one shape (the ResBlocks of a
/// level) share kernels, and a UNet compiles a few dozen instead of one per layer. Compiled units live for the process.
/// </remarks>
public static class PointwiseScript
{
    /// <summary>Calls the graph executor profiles before it runs fused kernels; time a scripted op only after them.</summary>
    public const int CallsBeforeFused = 2;

    // Without a Python resolver the script cannot name torch.float32: dtypes are their c10 codes, the values of
    // ScalarType. The result's dtype must be a literal for the fuser to take the cast into the kernel, so the text
    // is made per dtype; the group count and eps are literals too, so only tensors cross into the script (TorchSharp
    // hands number arguments over as Scalar handles, which its finalizer race of docs/reliability.md can free mid-call).
    const string GroupNormSource = """
        def group_norm(x, weight, bias):
            groups = GROUPS
            eps = EPS
            b = x.size(0)
            c = x.size(1)
            flat = x.reshape(b, groups, -1)
            n = flat.size(2)
            # float32 statistics read straight from the input (no float32 copy of it): the sum and the root of the
            # sum of squares, as group_norm's float32 accumulation would give them
            mean = torch.sum(flat, [2], dtype=6) / n
            root = torch.linalg_vector_norm(flat, 2.0, [2], False, dtype=6)
            rstd = torch.rsqrt(torch.clamp_min(root * root / n - mean * mean, 0.0) + eps)
            scale = rstd.unsqueeze(2) * weight.to(6).reshape(groups, c // groups)
            shift = bias.to(6).reshape(groups, c // groups) - mean.unsqueeze(2) * scale
            y = flat.reshape(b, groups, c // groups, n // (c // groups)) * scale.unsqueeze(3) + shift.unsqueeze(3)
            return ACTIVATION.to(DTYPE).reshape(x.size())

        """;

    const string GeluGateSource = """
        def gelu_gate(value, gate):
            return value * torch.gelu(gate)

        """;

    static readonly ConcurrentDictionary<string, jit.CompilationUnit> Units = new();

    /// <summary>GroupNorm with float32 statistics, the result in the input's dtype, as one normalising pass after the statistics; with <paramref name="silu"/>, SiLU inside that pass.</summary>
    public static Tensor GroupNorm(Tensor x, Tensor weight, Tensor bias, long groups, double eps, bool silu = false) =>
        Unit("group_norm", GroupNormSource, x, ("ACTIVATION", silu ? "torch.silu(y)" : "y"), ("DTYPE", ((int)x.dtype).ToString(CultureInfo.InvariantCulture)),
                ("GROUPS", groups.ToString(CultureInfo.InvariantCulture)), ("EPS", FloatLiteral(eps)))
            .invoke<Tensor>("group_norm", x, weight, bias);

    /// <summary>GEGLU's gating, value · gelu(gate) with the exact GELU, in one pass.</summary>
    public static Tensor GeluGate(Tensor value, Tensor gate) => Unit("gelu_gate", GeluGateSource, value).invoke<Tensor>("gelu_gate", value, gate);

    /// <summary>The compiled <paramref name="function"/> for this input's dtype, device and shape, its literals filled in.</summary>
    static jit.CompilationUnit Unit(string function, string source, Tensor input, params (string Name, string Value)[] literals)
    {
        string key = $"{function} {string.Join(' ', literals.Select(l => l.Value))} {input.dtype} {input.device} {string.Join('x', input.shape)}";
        return Units.GetOrAdd(key, _ => jit.compile(literals.Aggregate(source, (text, l) => text.Replace(l.Name, l.Value))));
    }

    static string FloatLiteral(double value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.') || text.Contains('E') ? text : text + ".0";
    }
}
