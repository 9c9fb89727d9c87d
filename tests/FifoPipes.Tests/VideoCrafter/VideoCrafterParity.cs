using System.Text.Json;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

static class VcParityConfig
{
    public static OpenClipTextConfig Text(JsonElement archConfig)
    {
        var t = archConfig.GetProperty("text_cfg");
        return new OpenClipTextConfig
        {
            Width = t.GetProperty("width").GetInt32(),
            Layers = t.GetProperty("layers").GetInt32(),
            Heads = t.GetProperty("heads").GetInt32(),
            VocabSize = t.GetProperty("vocab_size").GetInt32(),
            ContextLength = t.GetProperty("context_length").GetInt32(),
            EmbedDim = archConfig.GetProperty("embed_dim").GetInt32(),
        };
    }

    public static AutoencoderKLConfig Vae(JsonElement dd, int embedDim) => new()
    {
        Ch = dd.GetProperty("ch").GetInt32(),
        ChMult = dd.GetProperty("ch_mult").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        NumResBlocks = dd.GetProperty("num_res_blocks").GetInt32(),
        ZChannels = dd.GetProperty("z_channels").GetInt32(),
        DoubleZ = dd.GetProperty("double_z").GetBoolean(),
        InChannels = dd.GetProperty("in_channels").GetInt32(),
        OutCh = dd.GetProperty("out_ch").GetInt32(),
        Resolution = dd.GetProperty("resolution").GetInt32(),
        AttnResolutions = dd.GetProperty("attn_resolutions").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
        EmbedDim = embedDim,
    };

    public static void LoadStrict(TorchSharp.torch.nn.Module module, string safetensorsPath) =>
        StateDictLoader.Load(module, SafetensorsFile.Stream(safetensorsPath), new StateDictMapping(), safetensorsPath);
}

public sealed class ClipTokenizeParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "openclip.tokenize" };

    public void Run(ParityCase c)
    {
        var vocab = Path.GetFullPath(Path.Combine(ParityCase.Root, "..", c.Config.GetProperty("vocab_file").GetString()!));
        var tokenizer = ClipTokenizer.FromOpenClipVocab(vocab);
        var prompts = c.Json.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();
        var lengths = c.Json.GetProperty("untruncated_lengths").EnumerateArray().Select(p => p.GetInt32()).ToList();
        var expected = c["ids"];
        // Every golden row is compared: a row with no prompt would otherwise go unchecked.
        Assert.Equal((long)prompts.Count, expected.shape[0]);
        Assert.Equal(prompts.Count, lengths.Count);
        var failures = new List<string>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var ids = tokenizer.Tokenize(prompts[i]);
            var want = expected[i].data<long>().ToArray();
            if (!ids.SequenceEqual(want))
                failures.Add($"#{i} '{prompts[i]}': got [{string.Join(" ", ids.TakeWhile(x => x != 0))}], expected [{string.Join(" ", want.TakeWhile(x => x != 0))}]");
            int untruncated = tokenizer.Encode(prompts[i]).Count + 2;
            if (untruncated != lengths[i]) failures.Add($"#{i} '{prompts[i]}': {untruncated} tokens before truncation, expected {lengths[i]}");
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }
}

public sealed class OpenClipTextParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "openclip.text" };

    public void Run(ParityCase c)
    {
        Assert.Equal("penultimate", c.Config.GetProperty("layer").GetString());
        using var model = new OpenClipTextTransformer(VcParityConfig.Text(c.Config.GetProperty("arch_config")));
        VcParityConfig.LoadStrict(model, c.WeightsPath);
        model.eval();
        using var _ = inference_mode();
        using var z = model.forward(c["tokens"]);
        TensorAssert.Close(c["z"], z, c.Atol, c.Rtol, "openclip.text z");
    }
}

public sealed class VaeParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "vc.vae.decode", "vc.vae.encode" };

    public void Run(ParityCase c)
    {
        using var vae = new AutoencoderKL(VcParityConfig.Vae(c.Config.GetProperty("ddconfig"), c.Config.GetProperty("embed_dim").GetInt32()));
        VcParityConfig.LoadStrict(vae, c.WeightsPath);
        vae.eval();
        using var _ = inference_mode();
        if (c.Component == "vc.vae.decode")
        {
            using var image = vae.Decode(c["z"]);
            TensorAssert.Close(c["image"], image, c.Atol, c.Rtol, "vae decode image");
        }
        else
        {
            using var posterior = vae.Encode(c["image"]);
            TensorAssert.Close(c["moments"], posterior.Moments, c.Atol, c.Rtol, "vae encode moments");
            TensorAssert.Close(c["mean"], posterior.Mean, c.Atol, c.Rtol, "vae encode mean");
            TensorAssert.Close(c["logvar"], posterior.LogVar, c.Atol, c.Rtol, "vae encode logvar");
        }
    }
}
