using FifoPipes.Models.OpenSoraPlan.Vae;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using static TorchSharp.torch;

namespace FifoPipes.Tests.OpenSora;

/// <summary>
/// "osp.causalvae": the three calls of a case on one model — encode (posterior mean and log-variance),
/// whole decode, and the tiled decode with the case's tile sizes — each against its own tolerance.
/// </summary>
public sealed class CausalVaeParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "osp.causalvae" };

    public void Run(ParityCase parityCase)
    {
        using var vae = new CausalVae(CausalVaeConfig.FromReferenceArguments(parityCase.Config));
        var weights = SafetensorsFile.Load(parityCase.WeightsPath);
        try { StrictStateDict.Load(vae, weights, parityCase.WeightsPath); }
        finally { foreach (var w in weights.Values) w.Dispose(); }
        vae.eval();
        _ = parityCase.Io;

        var atol = parityCase.Json.GetProperty("per_output_atol");
        double Atol(string output) => atol.GetProperty(output).GetDouble();
        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();

        var (mean, logvar) = vae.Encode(parityCase["video"]);
        TensorAssert.Close(parityCase["posterior_mean"], mean, Atol("posterior_mean"), parityCase.Rtol, $"{parityCase.Name} posterior_mean");
        TensorAssert.Close(parityCase["posterior_logvar"], logvar, Atol("posterior_logvar"), parityCase.Rtol, $"{parityCase.Name} posterior_logvar");

        TensorAssert.Close(parityCase["decoded"], vae.Decode(parityCase["z"]), Atol("decoded"), parityCase.Rtol, $"{parityCase.Name} decoded");

        var t = parityCase.Json.GetProperty("calls")[2].GetProperty("tiling");
        var tiling = new CausalVaeTiling
        {
            SampleSize = t.GetProperty("tile_sample_min_size").GetInt32(),
            LatentSize = t.GetProperty("tile_latent_min_size").GetInt32(),
            LatentFrames = t.GetProperty("tile_latent_min_size_t").GetInt32(),
            Overlap = t.GetProperty("tile_overlap_factor").GetDouble(),
        };
        TensorAssert.Close(parityCase["decoded_tiled"], vae.DecodeTiled(parityCase["z_tiled"], tiling), Atol("decoded_tiled"), parityCase.Rtol, $"{parityCase.Name} decoded_tiled");
    }
}
