using System.Text.Json;
using FifoPipes.Core.Diffusion;
using FifoPipes.Models.Zeroscope;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Diffusers;
using FifoPipes.Torch.UNets;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Zeroscope;

static class ZeroscopeCase
{
    /// <summary>The case's config as a diffusers config (every key must be understood: the fixtures hold resolved values).</summary>
    public static DiffusersConfig Config(ParityCase c, JsonElement? element = null) => new(element ?? c.Config, c.Name + " config");

    public static void AssertNoWarnings(IReadOnlyList<string> warnings, string what) =>
        Assert.True(warnings.Count == 0, $"{what}: unexpected config warnings:{Environment.NewLine}{string.Join(Environment.NewLine, warnings)}");

    /// <summary>Streams weights.safetensors (diffusers names) for a loader.</summary>
    public static IEnumerable<(string, Tensor)> Weights(ParityCase c) => SafetensorsFile.Stream(c.WeightsPath);
}

/// <summary>"zs.unet": UNet3DConditionModel (diffusers keys) on our UNet3D; 0-d, [B] and per-frame [B, F] timesteps.</summary>
public sealed class ZeroscopeUNetParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "zs.unet" };

    public void Run(ParityCase parityCase)
    {
        var config = DiffusersUNet3D.ConfigFrom(ZeroscopeCase.Config(parityCase), out var warnings);
        ZeroscopeCase.AssertNoWarnings(warnings, parityCase.Name);
        using var unet = new UNet3D(config);
        StateDictLoader.Load(unet, KeyRenaming.Apply(ZeroscopeCase.Weights(parityCase), k => DiffusersUNet3D.MapKey(k, config)), new StateDictMapping(), parityCase.WeightsPath);
        unet.eval();
        _ = parityCase.Io;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var sample = parityCase["sample"];
        var timestep = parityCase["timestep"];
        var layout = parityCase.Json.GetProperty("timestep_layout").GetString();
        Assert.Equal(layout switch { "scalar" => 0, "per_batch" => 1, _ => 2 }, (int)timestep.dim());
        var t = timestep.dim() == 0 ? timestep.reshape(1).expand(sample.shape[0]) : timestep;
        var eps = unet.forward(sample, t, parityCase["encoder_hidden_states"], null);
        TensorAssert.Close(parityCase["out"], eps, parityCase.Atol, parityCase.Rtol, parityCase.Name);
    }
}

/// <summary>"zs.vae.decode", "zs.vae.encode", "zs.decode_latents": diffusers AutoencoderKL (both attention spellings) on our LDM-named VAE.</summary>
public sealed class ZeroscopeVaeParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "zs.vae.decode", "zs.vae.encode", "zs.decode_latents" };

    public void Run(ParityCase parityCase)
    {
        var spec = DiffusersAutoencoderKL.ConfigFrom(ZeroscopeCase.Config(parityCase), out var warnings);
        ZeroscopeCase.AssertNoWarnings(warnings, parityCase.Name);
        using var vae = DiffusersAutoencoderKL.Load(ZeroscopeCase.Weights(parityCase), parityCase.WeightsPath, spec.Config);
        _ = parityCase.Io;

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        switch (parityCase.Component)
        {
            case "zs.vae.decode":
                TensorAssert.Close(parityCase["image"], vae.Decode(parityCase["z"]), parityCase.Atol, parityCase.Rtol, parityCase.Name);
                break;
            case "zs.vae.encode":
                using (var posterior = vae.Encode(parityCase["image"]))
                {
                    TensorAssert.Close(parityCase["latent_mean"], posterior.Mean, parityCase.Atol, parityCase.Rtol, parityCase.Name + " mean");
                    TensorAssert.Close(parityCase["latent_logvar"], posterior.LogVar, parityCase.Atol, parityCase.Rtol, parityCase.Name + " logvar");
                }
                break;
            default:
                var latents = parityCase["latents"];
                long b = latents.shape[0], c = latents.shape[1], f = latents.shape[2], h = latents.shape[3], w = latents.shape[4];
                var frames = (latents / spec.ScalingFactor).permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w);
                var images = vae.Decode(frames);
                var video = images.view(b, f, images.shape[1], images.shape[2], images.shape[3]).permute(0, 2, 1, 3, 4);
                TensorAssert.Close(parityCase["video"], video, parityCase.Atol, parityCase.Rtol, parityCase.Name);
                break;
        }
    }
}

/// <summary>"zs.clip_text": CLIPTextModel last_hidden_state via renamed (q/k/v packed) weights on the open_clip tower.</summary>
public sealed class ZeroscopeClipTextParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "zs.clip_text" };

    public void Run(ParityCase parityCase)
    {
        var config = HfClipTextModel.ConfigFrom(ZeroscopeCase.Config(parityCase), out var warnings);
        ZeroscopeCase.AssertNoWarnings(warnings, parityCase.Name);
        using var text = HfClipTextModel.Load(ZeroscopeCase.Weights(parityCase), parityCase.WeightsPath, config);
        _ = parityCase.Io;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        TensorAssert.Close(parityCase["last_hidden_state"], text.forward(parityCase["input_ids"]), parityCase.Atol, parityCase.Rtol, parityCase.Name);
    }
}

/// <summary>
/// "zs.folder": the whole tiny diffusers folder through <see cref="ZeroscopePipeline"/>: tokenizer ids (exact),
/// prompt embeddings, a guided UNet step with the DDIM update, the same UNet call with the fp16 variant, decode_latents.
/// </summary>
public sealed class ZeroscopeFolderParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "zs.folder" };

    public void Run(ParityCase parityCase)
    {
        var json = parityCase.Json;
        var folder = parityCase.File(json.GetProperty("folder").GetString()!);
        var prompts = json.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();
        int cond = json.GetProperty("cond_prompt_index").GetInt32(), uncond = json.GetProperty("uncond_prompt_index").GetInt32();
        double guidance = json.GetProperty("guidance_scale").GetDouble();
        int steps = json.GetProperty("num_inference_steps").GetInt32();
        double Atol(string output) => json.TryGetProperty("output_atol", out var o) && o.TryGetProperty(output, out var a) ? a.GetDouble() : parityCase.Atol;
        void Check(string output, Tensor actual) => TensorAssert.Close(parityCase[output], actual, Atol(output), parityCase.Rtol, $"{parityCase.Name} {output}");
        var log = new RecordingSink();
        _ = parityCase.Io;

        using var pipeline = ZeroscopePipeline.Load(folder, log: log);
        Assert.Empty(log.Warnings);
        using var scope = NewDisposeScope();

        var ids = pipeline.Tokenize(prompts);
        Assert.True(SameIds(parityCase["input_ids"], ids), $"input_ids differ:{Environment.NewLine}{Rows(parityCase["input_ids"], ids)}");

        var embeds = pipeline.EncodePrompts(prompts);
        Check("prompt_embeds", embeds);

        var scheduler = new DiffusersDdimScheduler(pipeline.Scheduler);
        scheduler.SetTimesteps(steps);
        long t = scheduler.Timesteps[0];
        Assert.Equal(parityCase["timestep"].item<long>(), t);
        var latents = parityCase["latents"];
        var x = cat(new[] { latents, latents }, 0);
        var context = stack(new[] { embeds[uncond], embeds[cond] }, 0);
        var eps = pipeline.PredictNoise(x, tensor(t), context).chunk(2, 0);
        Check("noise_pred_uncond", eps[0]);
        Check("noise_pred_text", eps[1]);
        var noisePred = eps[0] + guidance * (eps[1] - eps[0]);
        Check("noise_pred", noisePred);
        using var step = scheduler.Step(noisePred, t, latents);
        Check("latents_next", step.PrevSample);

        using (var fp16 = ZeroscopePipeline.Load(folder, variant: "fp16"))
        {
            var epsFp16 = fp16.PredictNoise(x, tensor(t), context).chunk(2, 0);
            Check("noise_pred_uncond_fp16_weights", epsFp16[0]);
            Check("noise_pred_text_fp16_weights", epsFp16[1]);
        }

        Check("video", pipeline.DecodeLatents(step.PrevSample));
    }

    static bool SameIds(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static string Rows(Tensor expected, Tensor actual)
    {
        var lines = new List<string>();
        for (long i = 0; i < expected.shape[0]; i++)
            if (!SameIds(expected[i], actual[i]))
                lines.Add($"  row {i}: expected [{string.Join(" ", expected[i].data<long>().ToArray())}]{Environment.NewLine}          actual [{string.Join(" ", actual[i].data<long>().ToArray())}]");
        return string.Join(Environment.NewLine, lines);
    }
}
