using System.Text.Json;
using FifoPipes.Abstractions;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Diffusers;
using FifoPipes.Torch.Text;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Zeroscope;

public sealed class DiffusersFolderTests : IDisposable
{
    readonly string temp = Directory.CreateTempSubdirectory("fifopipes-diffusers-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    static string TinyFolder => ParityCase.Load("zeroscope/diffusers_folder").File("model");

    static DiffusersConfig Json(string json) => new(JsonDocument.Parse(json).RootElement.Clone(), "test config");

    [Fact]
    public void Weights_resolve_like_diffusers_safetensors_first_and_variants_on_request()
    {
        var folder = DiffusersFolder.Open(TinyFolder);
        Assert.Equal("TextToVideoSDPipeline", folder.PipelineClass);
        Assert.Equal(("diffusers", "UNet3DConditionModel"), folder.Component("unet"));
        Assert.EndsWith("unet/diffusion_pytorch_model.safetensors", folder.Weights("unet").Files.Single());
        var fp16 = folder.Weights("unet", "fp16");
        Assert.EndsWith("unet/diffusion_pytorch_model.fp16.safetensors", fp16.Files.Single());
        Assert.Equal("fp16", fp16.Variant);
        Assert.EndsWith("vae/diffusion_pytorch_model.bin", folder.Weights("vae").Files.Single());
        Assert.EndsWith("text_encoder/pytorch_model.bin", folder.Weights("text_encoder").Files.Single());
        Assert.Equal("DiffusersWeightsMissing", Assert.Throws<FifoInputException>(() => folder.Weights("vae", "fp16")).ErrorId);
    }

    [Fact]
    public void A_variant_applies_to_every_component_that_has_it_and_the_rest_keep_their_plain_files()
    {
        var folder = DiffusersFolder.Open(TinyFolder);
        Assert.EndsWith("vae/diffusion_pytorch_model.bin", folder.WeightsPreferring("vae", "fp16").Files.Single());
        Assert.EndsWith("unet/diffusion_pytorch_model.fp16.safetensors", folder.WeightsPreferring("unet", "fp16").Files.Single());
        Assert.EndsWith("unet/diffusion_pytorch_model.safetensors", folder.WeightsPreferring("unet", " ").Files.Single());

        // A copy whose VAE also comes as fp16, with every weight doubled (exact in fp16) so the files can be told apart.
        var copy = CopyOfTinyFolder();
        using (var vae = TorchZipCheckpoint.Open(Path.Combine(copy, "vae", "diffusion_pytorch_model.bin")))
        {
            var half = vae.Stream().Select(t => KeyValuePair.Create(t.Name, t.Tensor.mul(2).to(ScalarType.Float16))).ToList();
            SafetensorsFile.Save(Path.Combine(copy, "vae", "diffusion_pytorch_model.fp16.safetensors"), half);
        }
        Assert.EndsWith("vae/diffusion_pytorch_model.fp16.safetensors", DiffusersFolder.Open(copy).WeightsPreferring("vae", "fp16").Files.Single());
        using var plain = FifoPipes.Models.Zeroscope.ZeroscopePipeline.Load(copy);
        using var fp16 = FifoPipes.Models.Zeroscope.ZeroscopePipeline.Load(copy, variant: "fp16");
        var plainWeights = plain.Vae.state_dict();
        foreach (var (name, weight) in fp16.Vae.state_dict())
        {
            var expected = plainWeights[name].mul(2).to(ScalarType.Float16).to(ScalarType.Float32);
            Assert.True(weight.eq(expected).all().item<bool>(), $"{name}: the fp16 VAE file was not the one loaded");
        }
        Assert.True(fp16.UNet.parameters().First().dtype == ScalarType.Float32);
    }

    string CopyOfTinyFolder()
    {
        var copy = Path.Combine(temp, "model");
        foreach (var file in Directory.EnumerateFiles(TinyFolder, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(TinyFolder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    [Fact]
    public void The_adapters_check_reads_every_weight_files_index_and_finds_a_damaged_one()
    {
        var copy = CopyOfTinyFolder();
        var adapter = new FifoPipes.Models.Zeroscope.ZeroscopeModelAdapter();
        var options = new FifoPipes.Models.Zeroscope.ZeroscopeOptions { Path = copy };
        adapter.Check(options, new PluginContext());

        // The pickled VAE cut short, as an interrupted download leaves it.
        var vae = Path.Combine(copy, "vae", "diffusion_pytorch_model.bin");
        File.WriteAllBytes(vae, File.ReadAllBytes(vae)[..100]);
        var damaged = Assert.Throws<FifoInputException>(() => adapter.Check(options, new PluginContext()));
        Assert.Equal("CheckpointCorrupt", damaged.ErrorId);
        Assert.Contains(vae, damaged.Message);
    }

    [Fact]
    public void The_safetensors_and_the_pickle_hold_the_same_unet()
    {
        var folder = DiffusersFolder.Open(TinyFolder);
        var fromSafetensors = folder.Weights("unet").Stream().ToDictionary(p => p.Name, p => p.Tensor);
        var fromPickle = new DiffusersWeights(Path.Combine(TinyFolder, "unet"), new[] { Path.Combine(TinyFolder, "unet", "diffusion_pytorch_model.bin") }, null)
            .Stream().ToDictionary(p => p.Name, p => p.Tensor);
        Assert.Equal(fromSafetensors.Keys.Order(), fromPickle.Keys.Order());
        foreach (var (name, t) in fromSafetensors) Assert.True(t.equal(fromPickle[name]).all().item<bool>(), name);
    }

    [Fact]
    public void Sharded_weights_stream_every_shard_and_an_only_variant_is_found()
    {
        var unet = Path.Combine(temp, "unet");
        Directory.CreateDirectory(unet);
        using var a = ones(2, 3);
        using var b = zeros(4);
        SafetensorsFile.Save(Path.Combine(unet, "diffusion_pytorch_model.fp16-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["a"] = a.half() });
        SafetensorsFile.Save(Path.Combine(unet, "diffusion_pytorch_model.fp16-00002-of-00002.safetensors"), new Dictionary<string, Tensor> { ["b"] = b.half() });
        File.WriteAllText(Path.Combine(unet, "diffusion_pytorch_model.safetensors.index.fp16.json"),
            """{"metadata": {"total_size": 20}, "weight_map": {"a": "diffusion_pytorch_model.fp16-00001-of-00002.safetensors", "b": "diffusion_pytorch_model.fp16-00002-of-00002.safetensors"}}""");

        var weights = DiffusersWeights.Find(unet, "fp16");
        Assert.Equal(2, weights.Files.Count);
        var tensors = weights.Stream(ScalarType.Float32).ToDictionary(p => p.Name, p => p.Tensor);
        Assert.Equal(new[] { "a", "b" }, tensors.Keys.Order());
        Assert.Equal(ScalarType.Float32, tensors["a"].dtype);
        Assert.Equal(new long[] { 2, 3 }, tensors["a"].shape);

        File.Delete(Path.Combine(unet, "diffusion_pytorch_model.fp16-00002-of-00002.safetensors"));
        Assert.Equal("DiffusersWeightsMissing", Assert.Throws<FifoInputException>(() => DiffusersWeights.Find(unet, "fp16")).ErrorId);

        var only = Path.Combine(temp, "vae");
        Directory.CreateDirectory(only);
        SafetensorsFile.Save(Path.Combine(only, "diffusion_pytorch_model.fp16.safetensors"), new Dictionary<string, Tensor> { ["a"] = a.half() });
        Assert.Equal("fp16", DiffusersWeights.Find(only).Variant);
    }

    [Fact]
    public void Missing_folders_and_files_are_input_errors()
    {
        Assert.Equal("DiffusersFolderNotFound", Assert.Throws<FifoInputException>(() => DiffusersFolder.Open(Path.Combine(temp, "nope"))).ErrorId);
        Assert.Equal("DiffusersFolderNotFound", Assert.Throws<FifoInputException>(() => DiffusersFolder.Open(temp)).ErrorId);
        // A checkpoint file given where the folder belongs is named as a file, not as a folder that does not exist.
        var file = Path.Combine(temp, "model.ckpt");
        File.WriteAllText(file, "weights");
        var notFolder = Assert.Throws<FifoInputException>(() => DiffusersFolder.Open(file));
        Assert.Equal(("DiffusersFolderNotFound", $"'{file}' is a file; this model loads a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/): pass the folder's path."),
            (notFolder.ErrorId, notFolder.Message));
        File.Delete(file);
        Directory.CreateDirectory(Path.Combine(temp, "unet"));
        Assert.Equal("DiffusersWeightsMissing", Assert.Throws<FifoInputException>(() => DiffusersWeights.Find(Path.Combine(temp, "unet"))).ErrorId);
        File.WriteAllText(Path.Combine(temp, "unet", "diffusion_pytorch_model.safetensors"), "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n");
        var lfs = Assert.Throws<FifoInputException>(() => DiffusersWeights.Find(Path.Combine(temp, "unet")));
        Assert.Contains("git lfs pull", lfs.Message);
    }

    [Fact]
    public void Unknown_config_keys_are_reported_and_unsupported_values_rejected()
    {
        DiffusersUNet3D.ConfigFrom(Json("""{"attention_head_dim": 64, "use_linear_projection_v2": true, "sample_size": 32}"""), out var warnings);
        Assert.Contains(warnings, w => w.Contains("'use_linear_projection_v2'"));
        Assert.Single(warnings);

        var error = Assert.Throws<FifoInputException>(() => DiffusersUNet3D.ConfigFrom(Json("""
            {"act_fn": "gelu", "norm_eps": 1e-6, "time_cond_proj_dim": 256,
             "down_block_types": ["CrossAttnDownBlock3D", "DownBlock3D"], "up_block_types": ["CrossAttnUpBlock3D", "UpBlock3D"], "block_out_channels": [32, 64]}
            """), out _));
        Assert.Equal("DiffusersConfigUnsupported", error.ErrorId);
        foreach (var key in new[] { "act_fn", "norm_eps", "time_cond_proj_dim", "up_block_types[0]" }) Assert.Contains(key, error.Message);

        var vae = Assert.Throws<FifoInputException>(() => DiffusersAutoencoderKL.ConfigFrom(Json("""{"shift_factor": 0.1159, "block_out_channels": [128, 200], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}"""), out _));
        Assert.Contains("shift_factor", vae.Message);
        Assert.Contains("block_out_channels", vae.Message);

        var clip = Assert.Throws<FifoInputException>(() => HfClipTextModel.ConfigFrom(Json("""{"hidden_act": "quick_gelu"}"""), out _));
        Assert.Contains("hidden_act", clip.Message);
    }

    [Fact]
    public void The_hugging_face_tokenizer_differs_from_open_clip_only_where_it_should()
    {
        var fixture = ParityCase.Load("zeroscope/diffusers_folder");
        var prompts = fixture.Json.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToList();
        var hf = HfClipTokenizer.Load(Path.Combine(TinyFolder, "tokenizer"));
        var openClip = ClipTokenizer.Load(Path.Combine(TinyFolder, "tokenizer"));
        using var hfIds = hf.TokenizeBatch(prompts);
        using var openClipIds = openClip.TokenizeBatch(prompts);
        Assert.True(fixture["input_ids"].eq(hfIds).all().item<bool>());
        Assert.True(fixture["debug.input_ids_open_clip"].eq(openClipIds).all().item<bool>());
        Assert.Equal(0, hf.PadId);
        Assert.Equal(hf.EosId, hf.Tokenize("a<|endoftext|>")[2]);
        Assert.Equal(new long[] { hf.BosId, hf.PadId, hf.PadId, hf.EosId, hf.PadId }, hf.Tokenize("!!").Take(5));
    }
}
