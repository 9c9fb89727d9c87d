using System.Text.Json;
using FifoPipes.Models.Analytic;
using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Analytic;

/// <summary>The prior of a parity case's config (sigma, beta, k0, T0, v).</summary>
static class ParityPrior
{
    public static PromptParameters Parameters(JsonElement config) => new(
        config.GetProperty("sigma").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
        config.GetProperty("beta").GetDouble(), config.GetProperty("k0").GetDouble(), config.GetProperty("T0").GetDouble(),
        config.GetProperty("v")[0].GetDouble(), config.GetProperty("v")[1].GetDouble());
}

public sealed class AnalyticDenoiseParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "analytic.denoise" };

    public void Run(ParityCase parityCase)
    {
        using var scope = NewDisposeScope();
        var config = parityCase.Config;
        var parameters = ParityPrior.Parameters(config);
        var y = parityCase["y"];
        var abar = parityCase["abar"].to(ScalarType.Float64).data<double>().ToArray();
        using var denoiser = new ExactDenoiser(config.GetProperty("h").GetInt32(), config.GetProperty("w").GetInt32());
        var eps = denoiser.PredictNoise(y, abar, parameters);
        TensorAssert.Close(parityCase["eps"], eps, parityCase.Atol, parityCase.Rtol, $"{parityCase.Name} eps");
    }
}

public sealed class AnalyticFrechetParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "analytic.frechet" };

    public void Run(ParityCase parityCase)
    {
        using var scope = NewDisposeScope();
        var parameters = ParityPrior.Parameters(parityCase.Config);
        double fd = AnalyticFrechet.Relative(parityCase["windows"], parameters, parityCase.Config.GetProperty("channel").GetInt32());
        TensorAssert.Close(parityCase["fd"], tensor(new[] { fd }), parityCase.Atol, parityCase.Rtol, $"{parityCase.Name} fd");
    }
}
