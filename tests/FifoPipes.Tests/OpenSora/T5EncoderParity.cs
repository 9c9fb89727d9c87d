using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Nn;
using FifoPipes.Torch.Text;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.OpenSora;

/// <summary>
/// "t5.encoder": the T5 v1.1 encoder from the case's HF config, strict weights (shared and embed_tokens
/// tied), checked on the relative-position buckets, block 0's bias and every position of the output.
/// </summary>
public sealed class T5EncoderParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "t5.encoder" };

    public void Run(ParityCase parityCase)
    {
        var config = T5EncoderConfig.FromHuggingFace(parityCase.Config);
        using var model = new T5EncoderModel(config);
        var weights = SafetensorsFile.Load(parityCase.WeightsPath);
        try { StrictStateDict.Load(model, weights, parityCase.WeightsPath); }
        finally { foreach (var w in weights.Values) w.Dispose(); }
        model.eval();
        _ = parityCase.Io;

        using var scope = NewDisposeScope();
        using var noGrad = inference_mode();
        var relative = parityCase["relative_position"];
        var buckets = T5Attention.RelativePositionBucket(relative, config.RelativeAttentionBuckets, config.RelativeAttentionMaxDistance);
        TensorAssert.Identical(new[] { parityCase["relative_position_bucket"] }, new[] { buckets }, $"{parityCase.Name}: relative position buckets");

        var ids = parityCase["input_ids"];
        var bias = Layer0Attention(model).PositionBias(ids.shape[1], CPU);
        TensorAssert.Close(parityCase["position_bias"], bias, 1e-6, 0, $"{parityCase.Name} position_bias");

        var output = model.forward(ids, parityCase["attention_mask"]);
        TensorAssert.Close(parityCase["last_hidden_state"], output, parityCase.Atol, parityCase.Rtol, $"{parityCase.Name} last_hidden_state");
    }

    static T5Attention Layer0Attention(T5EncoderModel model) =>
        model.named_modules().Select(m => m.module).OfType<T5Attention>().First();
}
