using static TorchSharp.torch;

namespace FifoPipes.Core.Diffusion;

/// <summary>
/// The eps-prediction update formulas, with every coefficient given as a tensor that broadcasts against the
/// sample (a 0-d tensor for one timestep, [B, 1, F, 1, 1] for one timestep per frame). The operation order follows
/// the references so float32 results agree to the last bit.
/// </summary>
public static class StepMath
{
    /// <summary>x0 = (x - sqrt(1 - a) eps) / sqrt(a).</summary>
    public static Tensor PredictX0(Tensor x, Tensor eps, Tensor sqrtOneMinusAlpha, Tensor sqrtAlpha) =>
        x.sub(sqrtOneMinusAlpha.mul(eps)).div(sqrtAlpha);

    /// <summary>DDIM: sqrt(a') x0 + sqrt(1 - a' - sigma^2) eps (+ sigma z).</summary>
    public static Tensor Ddim(Tensor x0, Tensor eps, Tensor x0Coefficient, Tensor direction, Tensor? sigma, Tensor? noise)
    {
        var prev = x0Coefficient.mul(x0).add(direction.mul(eps));
        return noise is null || sigma is null ? prev : prev.add(sigma.mul(noise));
    }

    /// <summary>DDPM posterior mean c0 x0 + cx x (+ std z).</summary>
    public static Tensor Ddpm(Tensor x0, Tensor x, Tensor x0Coefficient, Tensor sampleCoefficient, Tensor? std, Tensor? noise)
    {
        var prev = x0Coefficient.mul(x0).add(sampleCoefficient.mul(x));
        return noise is null || std is null ? prev : prev.add(std.mul(noise));
    }
}
