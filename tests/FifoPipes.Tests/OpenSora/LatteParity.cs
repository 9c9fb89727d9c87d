using FifoPipes.Models.OpenSoraPlan.Latte;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using static TorchSharp.torch;

namespace FifoPipes.Tests.OpenSora;

/// <summary>
/// "osp.latte_t2v": builds LatteT2V from the case's constructor arguments, loads the weights strictly, checks
/// both position tables against the reference buffers and the full output (all 8 channels).
/// </summary>
public sealed class LatteParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "osp.latte_t2v" };

    public void Run(ParityCase parityCase)
    {
        using var model = new LatteT2V(LatteConfig.FromReferenceArguments(parityCase.Config));
        var weights = SafetensorsFile.Load(parityCase.WeightsPath);
        try { StrictStateDict.Load(model, weights, parityCase.WeightsPath); }
        finally { foreach (var w in weights.Values) w.Dispose(); }
        model.eval();
        _ = parityCase.Io;

        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        var x = parityCase["hidden_states"];
        int p = model.Config.PatchSize;
        TensorAssert.Close(parityCase["pos_embed_2d"], model.SpatialTable(x.shape[3] / p, x.shape[4] / p, x), 1e-6, 0, $"{parityCase.Name} pos_embed_2d");
        TensorAssert.Close(parityCase["temp_pos_embed"], model.TemporalTable(x.shape[2], x), 1e-6, 0, $"{parityCase.Name} temp_pos_embed");

        var mask = parityCase.Io.TryGetValue("encoder_attention_mask", out var m) ? m : null;
        var output = model.forward(x, parityCase["timestep"], parityCase["encoder_hidden_states"], mask);
        TensorAssert.Close(parityCase["output"], output, parityCase.Atol, parityCase.Rtol, $"{parityCase.Name} output");
    }
}
