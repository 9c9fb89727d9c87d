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
/// (docs/gpu.md). Each owner holds its own instance, so each layer's executor specialises on that layer's shapes.
/// </summary>
public sealed class PointwiseScript : IDisposable
{
    // Without a Python resolver the script cannot name torch.float32: dtypes are their c10 codes, the values of
    // ScalarType. The result's dtype must be a literal for the fuser to take the cast into the kernel, so the text
    // is made per dtype.
    const string Source = """
        def group_norm(x, weight, bias, groups: int, eps: float):
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

        def gelu_gate(value, gate):
            return value * torch.gelu(gate)

        """;

    readonly string activation;
    readonly Dictionary<ScalarType, jit.CompilationUnit> units = new();

    /// <param name="siluAfterGroupNorm">Whether <see cref="GroupNorm"/> applies SiLU inside its normalising pass.</param>
    public PointwiseScript(bool siluAfterGroupNorm = false) => activation = siluAfterGroupNorm ? "torch.silu(y)" : "y";

    /// <summary>GroupNorm with float32 statistics, the result in the input's dtype, as one normalising pass after the statistics.</summary>
    public Tensor GroupNorm(Tensor x, Tensor weight, Tensor bias, long groups, double eps) =>
        Unit(x.dtype).invoke<Tensor>("group_norm", x, weight, bias, groups, eps);

    /// <summary>GEGLU's gating, value · gelu(gate) with the exact GELU, in one pass.</summary>
    public Tensor GeluGate(Tensor value, Tensor gate) => Unit(value.dtype).invoke<Tensor>("gelu_gate", value, gate);

    jit.CompilationUnit Unit(ScalarType dtype)
    {
        if (!units.TryGetValue(dtype, out var unit))
        {
            string code = ((int)dtype).ToString(CultureInfo.InvariantCulture);
            units[dtype] = unit = jit.compile(Source.Replace("ACTIVATION", activation).Replace("DTYPE", code));
        }
        return unit;
    }

    public void Dispose()
    {
        foreach (var unit in units.Values) unit.Dispose();
        units.Clear();
    }
}
