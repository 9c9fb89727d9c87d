using System.Reflection;
using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Models.VideoCrafter;
using FifoPipes.Torch.UNets;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Text;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// A tiny VideoCrafter2-shaped LatentDiffusion checkpoint, written once per test class: the UNet of the
/// vc2_unet_tiny fixture, the VAE of vae_decode_tiny and a seeded random 2-layer text tower of width 32
/// (the fixture's own text tower is 24 wide, which does not fit the tiny UNet's context_dim 32), plus
/// the schedule buffers a real checkpoint carries. Both as model.ckpt (torch zip) and as safetensors.
/// </summary>
public sealed class TinyVideoCrafterCheckpoint : IDisposable
{
    public static string Fixtures => Path.Combine(ParityCase.Root, "videocrafter");
    public static string Vocab => Path.GetFullPath(Path.Combine(ParityCase.Root, "..", "vocab", "bpe_simple_vocab_16e6.txt.gz"));
    public static string UNetWeights => Path.Combine(Fixtures, "vc2_unet_tiny", "weights.safetensors");

    /// <summary>The tiny networks' configuration as recipe overrides of the videocrafter2 preset.</summary>
    public static readonly string[] Overrides =
    {
        "unet.model_channels=32", "unet.channel_mult=[1,2]", "unet.num_res_blocks=1", "unet.attention_resolutions=[1,2]",
        "unet.num_head_channels=8", "unet.context_dim=32", "unet.temporal_length=8",
        "vae.ch=32", "vae.ch_mult=1,2", "vae.num_res_blocks=1", "vae.resolution=64",
        "text.width=32", "text.layers=2", "text.heads=4", "text.embed_dim=16",
    };

    public TinyVideoCrafterCheckpoint()
    {
        Folder = Directory.CreateTempSubdirectory("fifo-vc-adapter-").FullName;
        var tensors = new List<(string, Tensor)>();
        foreach (var (name, t) in SafetensorsFile.Stream(UNetWeights)) tensors.Add((VideoCrafterCheckpoint.UNetPrefix + name, t));
        foreach (var (name, t) in SafetensorsFile.Stream(Path.Combine(Fixtures, "vae_decode_tiny", "weights.safetensors")))
            tensors.Add((VideoCrafterCheckpoint.VaePrefix + name, t));
        foreach (var (name, t) in RandomTextTower()) tensors.Add((VideoCrafterCheckpoint.TextPrefix + name, t));
        tensors.AddRange(LdmScheduleBuffers());
        tensors.Add(("scale_arr", cat(new[] { linspace(1.0, 0.7, 400), full(1000, 0.7) })));
        Checkpoint = Path.Combine(Folder, "model.ckpt");
        LightningCheckpointWriter.Write(Checkpoint, tensors);
        Safetensors = Path.Combine(Folder, "tiny.safetensors");
        SafetensorsFile.Save(Safetensors, tensors.Select(t => new KeyValuePair<string, Tensor>(t.Item1, t.Item2)));
        foreach (var (_, t) in tensors) t.Dispose();
    }

    public string Folder { get; }
    public string Checkpoint { get; }
    public string Safetensors { get; }

    /// <summary>LatentDiffusion.register_schedule's 12 buffers for VideoCrafter's schedule, computed in float64 as it does.</summary>
    public static IEnumerable<(string, Tensor)> LdmScheduleBuffers(double linearStart = 0.00085, double linearEnd = 0.012)
    {
        var betas = linspace(Math.Sqrt(linearStart), Math.Sqrt(linearEnd), 1000, ScalarType.Float64).square();
        var alphasCumprod = (1 - betas).cumprod(0);
        var previous = cat(new[] { ones(1, ScalarType.Float64), alphasCumprod[..^1] });
        var posteriorVariance = betas * (1 - previous) / (1 - alphasCumprod);
        return new (string, Tensor)[]
        {
            ("betas", betas), ("alphas_cumprod", alphasCumprod), ("alphas_cumprod_prev", previous),
            ("sqrt_alphas_cumprod", alphasCumprod.sqrt()), ("sqrt_one_minus_alphas_cumprod", (1 - alphasCumprod).sqrt()),
            ("log_one_minus_alphas_cumprod", (1 - alphasCumprod).log()), ("sqrt_recip_alphas_cumprod", alphasCumprod.reciprocal().sqrt()),
            ("sqrt_recipm1_alphas_cumprod", (alphasCumprod.reciprocal() - 1).sqrt()), ("posterior_variance", posteriorVariance),
            ("posterior_log_variance_clipped", posteriorVariance.clamp_min(1e-20).log()),
            ("posterior_mean_coef1", betas * previous.sqrt() / (1 - alphasCumprod)),
            ("posterior_mean_coef2", (1 - previous) * (1 - betas).sqrt() / (1 - alphasCumprod)),
        };
    }

    static IEnumerable<(string, Tensor)> RandomTextTower()
    {
        var generator = new Generator(7);
        using var tower = new OpenClipTextTransformer(new OpenClipTextConfig { Width = 32, Layers = 2, Heads = 4, EmbedDim = 16 });
        foreach (var (name, p) in tower.state_dict())
        {
            var values = randn(p.shape, generator: generator) * 0.1;
            yield return (name, name.Contains("ln_") ? values + 1.0 : values);
        }
    }

    /// <summary>Options that load the tiny model: 16x24 frames (8x12 latents), windows of 4 frames.</summary>
    public VideoCrafterOptions Options(string? path = null, string dtype = "float32") => new()
    {
        Path = path ?? Checkpoint,
        Tokenizer = Vocab,
        ConfigOverrides = Overrides,
        Height = 16,
        Width = 24,
        WindowFrames = 4,
        DType = dtype,
    };

    public VideoCrafterModel Load(VideoCrafterOptions options) =>
        (VideoCrafterModel)new VideoCrafterModelAdapter().Load(options, new PluginContext());

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

public sealed class VideoCrafterAdapterTests : IClassFixture<TinyVideoCrafterCheckpoint>
{
    readonly TinyVideoCrafterCheckpoint tiny;
    public VideoCrafterAdapterTests(TinyVideoCrafterCheckpoint tiny) => this.tiny = tiny;

    static bool AllFinite(Tensor t) => t.isfinite().all().item<bool>();

    static Tensor RandomLatents(long batch, long frames, ModelInfo info, int seed) =>
        randn(new[] { batch, info.LatentChannels, frames, info.LatentHeight, info.LatentWidth }, generator: new Generator((ulong)seed));

    [Fact]
    public void Describing_the_model_says_what_loading_it_gives_from_the_preset_alone()
    {
        using var model = tiny.Load(tiny.Options());
        FifoPipes.Tests.Hosting.ModelDescription.Matches(model.Info, new VideoCrafterModelAdapter().Describe(tiny.Options(), new PluginContext()));
        // No file is read: a checkpoint not there yet still describes (Check and Load say it is missing).
        var described = new VideoCrafterModelAdapter().Describe(tiny.Options(path: Path.Combine(tiny.Folder, "not-yet.ckpt")), new PluginContext())!;
        Assert.Equal((4, 8, 12), (described.WindowFrames, described.LatentHeight, described.LatentWidth));
    }

    [Fact]
    public void A_deepspeed_save_loads_as_the_reference_loader_reads_it()
    {
        // DeepSpeed nests the weights under "module" with "_forward_module." before every key; the reference cuts it off.
        var deepspeed = Path.Combine(tiny.Folder, "deepspeed.ckpt");
        var tensors = SafetensorsFile.Stream(tiny.Safetensors).Select(t => (VideoCrafterCheckpoint.DeepSpeedPrefix + t.Name, t.Tensor)).ToList();
        LightningCheckpointWriter.Write(deepspeed, tensors, stateDictKey: "module");
        foreach (var (_, tensor) in tensors) tensor.Dispose();

        using var lightning = tiny.Load(tiny.Options());
        using var fromDeepSpeed = tiny.Load(tiny.Options(path: deepspeed));
        var x = RandomLatents(1, 4, lightning.Info, seed: 5);
        var timesteps = full(new long[] { 1, 4 }, 500L);
        using var expected = lightning.PredictNoise(x, timesteps, new[] { lightning.Encode("a fox") });
        using var actual = fromDeepSpeed.PredictNoise(x, timesteps, new[] { fromDeepSpeed.Encode("a fox") });
        Assert.True(expected.equal(actual).all().item<bool>(), "the DeepSpeed save gave other weights than the Lightning one");

        // Converted to safetensors, its keys keep the prefix as stored; they load all the same.
        var converted = CheckpointConverter.ToSafetensors(deepspeed, Path.Combine(tiny.Folder, "deepspeed.safetensors"), null).Destination;
        using var fromConverted = tiny.Load(tiny.Options(path: converted));
        using var again = fromConverted.PredictNoise(x, timesteps, new[] { fromConverted.Encode("a fox") });
        Assert.True(expected.equal(again).all().item<bool>(), "the converted DeepSpeed save gave other weights");
    }

    [Fact]
    public void The_tiny_lightning_checkpoint_runs_fifo_end_to_end_and_decodes_frames()
    {
        using var model = tiny.Load(tiny.Options());
        Assert.Equal(new[] { 4, 8, 12, 4, 2 }, new[] { model.Info.LatentChannels, model.Info.LatentHeight, model.Info.LatentWidth, model.Info.WindowFrames, model.Info.SpatialScale });
        Assert.Equal(0.7, model.Info.Schedule.X0ScaleEnd);

        var sampler = new FifoSamplerFactory().Create(new FifoOptions { Partitions = 2 }, new PluginContext());
        var job = new SamplingJob
        {
            Model = model,
            Prompts = new[] { new PromptSpan("a red panda in the snow", 2), new PromptSpan("a fox", 1) },
            Noise = new KeyedNoise(3),
            Seed = 3,
        };
        using var decoder = model.CreateDecoder();
        var frames = new List<Tensor>();
        foreach (var latent in sampler.Sample(job, CancellationToken.None))
        {
            Assert.Equal(new long[] { 4, 8, 12 }, latent.Latent.shape);
            Assert.True(AllFinite(latent.Latent), $"latent {latent.Index} is not finite");
            frames.AddRange(decoder.Push(latent.Latent));
        }
        frames.AddRange(decoder.Flush());
        Assert.Equal(3, frames.Count);
        foreach (var frame in frames)
        {
            Assert.Equal(new long[] { 3, 16, 24 }, frame.shape);
            Assert.True(AllFinite(frame));
            Assert.True(frame.min().item<float>() >= 0 && frame.max().item<float>() <= 1);
        }
        Assert.False(frames[0].equal(frames[2]).all().item<bool>(), "different frames decoded to the same image");
    }

    [Fact]
    public void A_model_begun_for_another_run_embeds_as_a_freshly_loaded_one()
    {
        using var fresh = tiny.Load(tiny.Options());
        var expected = ((VideoCrafterConditioning)fresh.Encode("a red panda")).Context;
        using var reused = tiny.Load(tiny.Options());
        // Embedded in one batch with "": kept, the panda would then be a batch of one, which a GPU may round differently.
        var fox = (VideoCrafterConditioning)reused.Encode("a fox");
        ((IReusableModel)reused).BeginRun();
        Assert.True(fox.Context.IsInvalid, "the last run's prompt cache was kept");
        var again = ((VideoCrafterConditioning)reused.Encode("a red panda")).Context;
        Assert.True(expected.equal(again).all().item<bool>(), "the reused model's embedding differs from a fresh model's");
    }

    [Fact]
    public void A_prompt_first_encoded_inside_a_callers_dispose_scope_outlives_that_scope()
    {
        using var model = tiny.Load(tiny.Options());
        Conditioning fox, unconditional;
        using (NewDisposeScope())
        {
            fox = model.Encode("a fox");
            unconditional = model.Encode("");
        }
        using var eps = model.PredictNoise(RandomLatents(2, 4, model.Info, 1), full(new long[] { 2, 4 }, 500L, ScalarType.Int64), new[] { fox, unconditional });
        Assert.True(AllFinite(eps));
    }

    [Fact]
    public void PredictNoise_is_the_fixture_unet_with_the_encoded_context_and_fps_8()
    {
        using var model = tiny.Load(tiny.Options());
        var cond = (VideoCrafterConditioning)model.Encode("a red panda");
        var uncond = (VideoCrafterConditioning)model.Encode("");
        Assert.Equal(new long[] { 1, 77, 32 }, cond.Context.shape);
        Assert.False(cond.Context.equal(uncond.Context).all().item<bool>());

        var x = RandomLatents(2, 4, model.Info, 11);
        var t = tensor(new long[] { 999, 700, 400, 100, 950, 650, 350, 50 }).view(2, 4);
        using var eps = model.PredictNoise(x, t, new Conditioning[] { cond, uncond });
        Assert.Equal(ScalarType.Float32, eps.dtype);

        using var reference = new UNet3D(model.Preset.UNet);
        StateDictLoader.Load(reference, SafetensorsFile.Stream(TinyVideoCrafterCheckpoint.UNetWeights), new StateDictMapping(), "fixture");
        reference.eval();
        using var expected = reference.forward(x, t, cat(new[] { cond.Context, uncond.Context }), tensor(new long[] { 8, 8 }));
        TensorAssert.Close(expected, eps, 1e-5, 1e-5, "eps through the adapter vs the fixture UNet");
    }

    [Fact]
    public void A_safetensors_file_with_the_same_keys_gives_the_same_model()
    {
        using var fromZip = tiny.Load(tiny.Options());
        using var fromSafetensors = tiny.Load(tiny.Options(tiny.Safetensors));
        var x = RandomLatents(1, 4, fromZip.Info, 5);
        var t = tensor(new long[] { 10, 300, 600, 900 }).view(1, 4);
        using var a = fromZip.PredictNoise(x, t, new[] { fromZip.Encode("waves") });
        using var b = fromSafetensors.PredictNoise(x, t, new[] { fromSafetensors.Encode("waves") });
        Assert.True(a.equal(b).all().item<bool>());
    }

    [Fact]
    public void Bfloat16_runs_on_the_cpu_and_stays_close_to_float32()
    {
        using var full = tiny.Load(tiny.Options());
        using var half = tiny.Load(tiny.Options(dtype: "bfloat16"));
        Assert.Equal(ScalarType.BFloat16, half.Info.DType);
        var x = RandomLatents(1, 4, full.Info, 9);
        var t = tensor(new long[] { 100, 400, 700, 990 }).view(1, 4);
        using var a = full.PredictNoise(x, t, new[] { full.Encode("a cat") });
        using var b = half.PredictNoise(x, t, new[] { half.Encode("a cat") });
        Assert.Equal(ScalarType.Float32, b.dtype);
        Assert.True(AllFinite(b));
        double relative = (a - b).norm().item<float>() / a.norm().item<float>();
        Assert.True(relative < 0.1, $"bfloat16 eps differs from float32 by {relative:P1}");

        using var decoder = half.CreateDecoder();
        var frame = Assert.Single(decoder.Push(x[0, .., 0]));
        Assert.Equal(new long[] { 3, 16, 24 }, frame.shape);
        Assert.True(AllFinite(frame));
    }

    [Fact]
    public void EncodeFrames_gives_scaled_posterior_means_that_decode_back_to_the_frame_size()
    {
        using var model = tiny.Load(tiny.Options());
        var rgb = rand(new long[] { 2, 3, 16, 24 }, generator: new Generator(1));
        using var latents = model.EncodeFrames(rgb);
        Assert.Equal(new long[] { 4, 2, 8, 12 }, latents.shape);
        Assert.True(AllFinite(latents));
        using var decoder = model.CreateDecoder();
        Assert.Equal(new long[] { 3, 16, 24 }, Assert.Single(decoder.Push(latents[.., 1])).shape);

        var ex = Assert.Throws<FifoInputException>(() => model.EncodeFrames(rand(1, 3, 32, 32)));
        Assert.Equal("StartFramesShape", ex.ErrorId);
        Assert.Contains("24x16", ex.Message);
    }

    [Fact]
    public void A_freed_text_encoder_is_reloaded_only_for_a_new_prompt()
    {
        var options = tiny.Options();
        using var keeping = tiny.Load(options);
        options.FreeTextEncoder = true;
        using var freeing = tiny.Load(options);

        var first = (VideoCrafterConditioning)freeing.Encode("a red panda");
        Assert.False(freeing.TextEncoderLoaded);
        freeing.Encode("");
        freeing.Encode("a red panda");
        Assert.Equal(1, freeing.TextEncoderLoads);
        var second = (VideoCrafterConditioning)freeing.Encode("a fox");
        Assert.Equal(2, freeing.TextEncoderLoads);
        Assert.False(freeing.TextEncoderLoaded);

        Assert.True(first.Context.equal(((VideoCrafterConditioning)keeping.Encode("a red panda")).Context).all().item<bool>());
        Assert.True(second.Context.equal(((VideoCrafterConditioning)keeping.Encode("a fox")).Context).all().item<bool>());
        Assert.True(keeping.TextEncoderLoaded);
    }

    [Fact]
    public void A_run_whose_prompts_keep_changing_holds_a_bounded_few_embeddings_and_a_returning_one_costs_no_reload()
    {
        var options = tiny.Options();
        options.FreeTextEncoder = true;
        using var model = tiny.Load(options);
        // A prompt a frame, as a live prompt changed every few seconds over a long stream.
        var schedule = new PromptSchedule(Enumerable.Range(0, 80).Select(i => new PromptSpan($"look {i}", 1)).ToList());
        using (var embeddings = new PromptEmbeddings(model, schedule))
        {
            for (long frame = 0; frame < 80; frame++)
            {
                Assert.Equal($"look {frame}", embeddings.ForFrame(frame).Prompt);
                embeddings.ReleaseBefore(frame + 1);
            }
            // Every span has ended: the unconditional one and the 32 latest, waiting in case their prompt comes back.
            Assert.Equal(1 + 32, model.CachedPrompts);
        }
        int loads = model.TextEncoderLoads;
        // One that waits comes back without the text encoder; one that fell off needs it again.
        using (model.Encode("look 70")) Assert.Equal(loads, model.TextEncoderLoads);
        using (model.Encode("look 3")) Assert.Equal(loads + 1, model.TextEncoderLoads);
    }

    [Fact]
    public void The_tokenizer_and_checkpoint_are_found_in_the_checkpoint_folder()
    {
        var folder = Directory.CreateTempSubdirectory("fifo-vc-folder-").FullName;
        try
        {
            File.Copy(tiny.Checkpoint, Path.Combine(folder, "model.ckpt"));
            var options = tiny.Options(folder);
            options.Tokenizer = null;
            var ex = Assert.Throws<FifoInputException>(() => tiny.Load(options));
            Assert.Equal("TokenizerNotFound", ex.ErrorId);
            Assert.Contains("bpe_simple_vocab_16e6.txt.gz", ex.Message);
            Assert.Contains("open_clip", ex.Message);
            Assert.Contains("tokenizer/", ex.Message);

            File.Copy(TinyVideoCrafterCheckpoint.Vocab, Path.Combine(folder, "bpe_simple_vocab_16e6.txt.gz"));
            using var model = tiny.Load(options);
            Assert.Equal(new long[] { 1, 77, 32 }, ((VideoCrafterConditioning)model.Encode("snow")).Context.shape);

            // Another tokenizer file may give other embeddings, so cached base clips must not be shared across them.
            using var sameCheckpointOtherTokenizer = tiny.Load(tiny.Options(Path.Combine(folder, "model.ckpt")));
            Assert.NotEqual(model.Info.Fingerprint, sameCheckpointOtherTokenizer.Info.Fingerprint);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Missing_or_corrupt_checkpoints_are_explained()
    {
        var missing = Assert.Throws<FifoInputException>(() => tiny.Load(tiny.Options(Path.Combine(tiny.Folder, "nope.ckpt"))));
        Assert.Equal("CheckpointNotFound", missing.ErrorId);
        Assert.Contains("nope.ckpt", missing.Message);
        Assert.Contains("VideoCrafter/VideoCrafter2", missing.Message);

        var noPath = tiny.Options();
        noPath.Path = null;
        var unset = Assert.Throws<FifoInputException>(() => tiny.Load(noPath));
        Assert.Equal("CheckpointNotFound", unset.ErrorId);
        Assert.Contains("Save-FifoModel videocrafter2", unset.Message);

        var emptyFolder = Directory.CreateDirectory(Path.Combine(tiny.Folder, "empty")).FullName;
        var inFolder = Assert.Throws<FifoInputException>(() => tiny.Load(tiny.Options(emptyFolder)));
        Assert.Equal("CheckpointNotFound", inFolder.ErrorId);
        Assert.Contains("model.ckpt", inFolder.Message);

        var truncated = Path.Combine(tiny.Folder, "truncated.ckpt");
        var bytes = File.ReadAllBytes(tiny.Checkpoint);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var corrupt = Assert.Throws<FifoInputException>(() => tiny.Load(tiny.Options(truncated)));
        Assert.Equal("CheckpointCorrupt", corrupt.ErrorId);
        Assert.Contains("truncated.ckpt", corrupt.Message);
    }

    [Fact]
    public void Check_refuses_the_damaged_checkpoints_a_load_refuses_and_passes_sound_ones()
    {
        var adapter = new VideoCrafterModelAdapter();
        adapter.Check(tiny.Options(), new PluginContext());
        adapter.Check(tiny.Options(tiny.Safetensors), new PluginContext());
        FifoInputException Refused(string name, byte[] content)
        {
            var path = Path.Combine(tiny.Folder, name);
            File.WriteAllBytes(path, content);
            return Assert.Throws<FifoInputException>(() => adapter.Check(tiny.Options(path), new PluginContext()));
        }
        var bytes = File.ReadAllBytes(tiny.Checkpoint);
        var truncated = Refused("check-truncated.ckpt", bytes[..(bytes.Length * 2 / 3)]);
        Assert.Equal("CheckpointCorrupt", truncated.ErrorId);
        Assert.Contains("check-truncated.ckpt", truncated.Message);
        Assert.Contains("the file is empty (0 bytes)", Refused("check-empty.ckpt", Array.Empty<byte>()).Message);
        Assert.Equal("CheckpointCorrupt", Refused("check-page.safetensors", "<html>rate limited</html>"u8.ToArray()).ErrorId);
    }

    [Fact]
    public void A_checkpoint_converted_to_bfloat16_or_float16_loads_though_its_schedule_is_stored_rounded()
    {
        var adapter = new VideoCrafterModelAdapter();
        foreach (var dtype in new[] { "bfloat16", "float16" })
        {
            var converted = Path.Combine(tiny.Folder, $"converted-{dtype}.safetensors");
            CheckpointConverter.ToSafetensors(tiny.Checkpoint, converted, dtype);
            adapter.Check(tiny.Options(converted), new PluginContext());
            using var model = tiny.Load(tiny.Options(converted));
            // Sampled on the schedule computed from the preset, not on the rounded one stored.
            Assert.Equal(adapter.Describe(tiny.Options(), new PluginContext())!.Schedule, model.Info.Schedule);
        }
        // Rounding is allowed for, a wrong schedule is not: bfloat16's 2^-8 is far below linear_end 0.02's difference.
        var bf16 = tiny.Options(Path.Combine(tiny.Folder, "converted-bfloat16.safetensors"));
        bf16.ConfigOverrides = bf16.ConfigOverrides.Append("model.linear_end=0.02").ToArray();
        Assert.Contains("its alphas_cumprod is not the videocrafter2 schedule", Assert.Throws<FifoInputException>(() => tiny.Load(bf16)).Message);
    }

    [Fact]
    public void Check_refuses_a_checkpoint_of_another_preset_or_schedule_as_the_load_does()
    {
        var adapter = new VideoCrafterModelAdapter();
        var otherPreset = tiny.Options();
        otherPreset.Preset = "videocrafter1-512";
        var ex = Assert.Throws<FifoInputException>(() => adapter.Check(otherPreset, new PluginContext()));
        Assert.Equal("CheckpointMismatch", ex.ErrorId);
        Assert.Contains("preset: videocrafter2", ex.Message);

        var otherSchedule = tiny.Options();
        otherSchedule.ConfigOverrides = otherSchedule.ConfigOverrides.Append("model.linear_end=0.02").ToArray();
        Assert.Contains("alphas_cumprod", Assert.Throws<FifoInputException>(() => adapter.Check(otherSchedule, new PluginContext())).Message);
    }

    [Fact]
    public void Another_models_files_and_a_file_of_the_networks_alone_are_named_as_such()
    {
        var adapter = new VideoCrafterModelAdapter();
        var zeroscope = FifoPipes.Tests.Parity.ParityCase.Load("zeroscope/diffusers_folder").File("model");
        Assert.Contains("is a diffusers pipeline (it has model_index.json), not a VideoCrafter checkpoint",
            Assert.Throws<FifoInputException>(() => adapter.Check(tiny.Options(zeroscope), new PluginContext())).Message);

        var networksOnly = Path.Combine(tiny.Folder, "networks-only.safetensors");
        var tensors = SafetensorsFile.Load(tiny.Safetensors);
        try
        {
            SafetensorsFile.Save(networksOnly, tensors.Where(t => t.Key.Contains('.')).ToDictionary(t => t.Key, t => t.Value));
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
        Assert.Contains("these are the noise schedule's buffers, which a whole model.ckpt holds beside the networks",
            Assert.Throws<FifoInputException>(() => adapter.Check(tiny.Options(networksOnly), new PluginContext())).Message);
    }

    [Fact]
    public void An_fps_condition_for_a_model_without_one_is_warned_of()
    {
        var log = new FifoPipes.Tests.Sampling.RecordingSink();
        var options = tiny.Options();
        options.Preset = "videocrafter1-512";
        options.FpsConditioning = 24;
        // The tiny checkpoint is VideoCrafter2's, so the load then fails: the warning comes before it, from the options.
        Assert.Throws<FifoInputException>(() => new VideoCrafterModelAdapter().Load(options, new PluginContext(log)));
        // The process's first load may also warn once of the machine's convolutions (oneDNN), whichever test loads first.
        Assert.Single(log.Warnings, w => w.Contains("videocrafter1-512 takes no fps condition"));
        log.Warnings.Clear();
        options.Preset = "videocrafter2";
        new VideoCrafterModelAdapter().Load(options, new PluginContext(log)).Dispose();
        Assert.DoesNotContain(log.Warnings, w => w.Contains("fps"));
    }

    [Fact]
    public void A_safetensors_file_named_ckpt_is_read_as_safetensors()
    {
        var named = Path.Combine(tiny.Folder, "converted.ckpt");
        File.Copy(tiny.Safetensors, named, overwrite: true);
        new VideoCrafterModelAdapter().Check(tiny.Options(named), new PluginContext());
    }

    /// <summary>Loading the tiny model with these configuration overrides on top of its own must fail.</summary>
    FifoInputException RefusedWith(params string[] extraOverrides)
    {
        var options = tiny.Options();
        options.ConfigOverrides = options.ConfigOverrides.Concat(extraOverrides).ToArray();
        return Assert.Throws<FifoInputException>(() => tiny.Load(options));
    }

    [Fact]
    public void A_checkpoint_for_another_configuration_lists_every_difference_and_names_the_preset()
    {
        var options = tiny.Options();
        options.Preset = "videocrafter1-512";
        var ex = Assert.Throws<FifoInputException>(() => tiny.Load(options));
        Assert.Equal("CheckpointMismatch", ex.ErrorId);
        Assert.Contains("missing keys", ex.Message);
        Assert.Contains("relative_position_k", ex.Message);
        Assert.Contains("unexpected keys", ex.Message);
        Assert.Contains("temopral_conv", ex.Message);
        Assert.Contains("preset: videocrafter2", ex.Message);

        var shapes = RefusedWith("vae.ch=64");
        Assert.Equal("CheckpointMismatch", shapes.ErrorId);
        Assert.Contains("wrong shapes", shapes.Message);
        Assert.Contains("first_stage_model.encoder.conv_in.weight", shapes.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_kind_is_named_as_such_in_one_line_with_the_keys_it_has()
    {
        var other = Path.Combine(tiny.Folder, "vae-only.safetensors");
        using (var a = zeros(2, 2)) using (var b = zeros(3)) using (var c = zeros(1))
            SafetensorsFile.Save(other, new Dictionary<string, Tensor> { ["encoder.conv_in.weight"] = a, ["encoder.conv_in.bias"] = b, ["decoder.norm.weight"] = c });
        var ex = Assert.Throws<FifoInputException>(() => tiny.Load(tiny.Options(other)));
        Assert.Equal("CheckpointMismatch", ex.ErrorId);
        Assert.Contains("is not a VideoCrafter checkpoint: it holds none of the keys of its networks (model.diffusion_model.*, first_stage_model.*, cond_stage_model.model.*); " +
                        "its keys start with encoder.* (2 keys), decoder.* (1).", ex.Message);
        Assert.DoesNotContain("keys at all", ex.Message);

        // Alone in its folder, with no tokenizer beside it: that it is no VideoCrafter checkpoint says more than the tokenizer missing.
        var alone = Directory.CreateTempSubdirectory("fifo-vc-foreign-").FullName;
        try
        {
            File.Copy(other, Path.Combine(alone, "unet.safetensors"));
            var options = tiny.Options(Path.Combine(alone, "unet.safetensors"));
            options.Tokenizer = null;
            foreach (var read in new Action[] { () => tiny.Load(options), () => new VideoCrafterModelAdapter().Check(options, new PluginContext()) })
                Assert.Contains("is not a VideoCrafter checkpoint", Assert.Throws<FifoInputException>(read).Message);
        }
        finally { Directory.Delete(alone, recursive: true); }
    }

    [Fact]
    public void The_schedule_buffers_must_be_the_presets_schedule_and_nothing_else_may_sit_beside_them()
    {
        // A wrong schedule override: the checkpoint's alphas_cumprod says linear_end 0.012.
        var schedule = RefusedWith("model.linear_end=0.02");
        Assert.Equal("CheckpointMismatch", schedule.ErrorId);
        Assert.Contains("its alphas_cumprod is not the videocrafter2 schedule", schedule.Message);
        Assert.Contains("linear_end 0.02", schedule.Message);

        // EMA weights and a missing buffer, as a reference strict load would report them.
        var tensors = SafetensorsFile.Load(tiny.Safetensors);
        try
        {
            tensors.Remove("posterior_mean_coef2", out var removed);
            removed!.Dispose();
            tensors["model_ema.decay"] = tensor(0.999f);
            var edited = Path.Combine(tiny.Folder, "ema.safetensors");
            SafetensorsFile.Save(edited, tensors);
            var extra = Assert.Throws<FifoInputException>(() => tiny.Load(tiny.Options(edited)));
            Assert.Equal("CheckpointMismatch", extra.ErrorId);
            Assert.Contains("posterior_mean_coef2", extra.Message);
            Assert.Contains("model_ema.decay", extra.Message);
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    [Fact]
    public void Impossible_options_are_refused_before_anything_loads()
    {
        static IEnumerable<string> Problems(Action<VideoCrafterOptions> change)
        {
            var o = new VideoCrafterOptions { Path = "model.ckpt" };
            change(o);
            return o.Validate().Select(p => p.Option);
        }
        Assert.Empty(Problems(_ => { }));
        Assert.Equal(new[] { "path" }, Problems(o => o.Path = null));
        Assert.Equal(new[] { "preset" }, Problems(o => o.Preset = "videocrafter3"));
        Assert.Equal(new[] { "dType" }, Problems(o => o.DType = "float16"));
        Assert.Empty(Problems(o => { o.DType = "float16"; o.Device = "cuda"; }));
        Assert.Equal(new[] { "device" }, Problems(o => o.Device = "gpu"));
        Assert.Equal(new[] { "height", "width" }, Problems(o => { o.Height = 300; o.Width = 4; }));
        Assert.Equal(new[] { "configOverrides", "configOverrides", "configOverrides" },
            Problems(o => o.ConfigOverrides = new[] { "unet.channels=3", "decoder.ch=3", "unet.model_channels" }));
        // A value of the wrong kind is refused by name, never replaced by the preset's value without a word.
        foreach (var wrong in new[] { "unet.fps_cond=0", "unet.temporal_length=sixteen", "unet.channel_mult=[1,\"two\"]", "vae.ch_mult=[1,2", "text.layers=two" })
        {
            var refused = Assert.Throws<FifoInputException>(() => VideoCrafterConfigOverrides.Apply(VideoCrafterPreset.VideoCrafter2(), new[] { wrong }));
            Assert.Contains("wrong type", refused.Message);
            // The entry is named: among fifteen overrides, the one at fault.
            Assert.Contains($"'{wrong}'", refused.Message);
            Assert.Equal(new[] { "configOverrides" }, Problems(o => o.ConfigOverrides = new[] { "vae.ch=32", wrong }));
        }
        // Right kinds that fit only together are the preset's to judge, not refused one by one.
        Assert.Null(VideoCrafterConfigOverrides.CheckEntry("unet.model_channels=32"));

        var sized = tiny.Options();
        sized.ConfigOverrides = Array.Empty<string>();
        sized.Height = 328;
        sized.Width = 512;
        var ex = Assert.Throws<FifoInputException>(() => tiny.Load(sized));
        // The options' problem, at the side at fault: a recipe's check reports it at its line, as it reports width: 7.
        Assert.Equal(("VideoCrafterOptionInvalid", "height"), (ex.ErrorId, ex.Option));
        Assert.Contains("multiple of 64", ex.Message);
        Assert.Equal("VideoCrafterOptionInvalid", Assert.Throws<FifoInputException>(() => new VideoCrafterModelAdapter().Describe(sized, new PluginContext())).ErrorId);
        sized.Height = 320;
        sized.Width = 520;
        Assert.Equal("width", Assert.Throws<FifoInputException>(() => tiny.Load(sized)).Option);
        // The preset's own size, made unfit by overrides that add a downsampling level: the overrides are at fault.
        var deeper = tiny.Options();
        deeper.Height = deeper.Width = null;
        deeper.ConfigOverrides = new[] { "unet.channel_mult=[1,2,4,4,4]" };
        Assert.Equal("configOverrides", Assert.Throws<FifoInputException>(() => tiny.Load(deeper)).Option);

        Assert.Contains("context_dim", RefusedWith("text.width=24").Message);

        // Sizes the checks themselves divide by: refused by name, not a DivideByZeroException.
        foreach (var (wrong, named) in new[] { ("text.heads=0", "text.heads"), ("vae.ch_mult=[]", "vae.ch_mult"), ("vae.ch=20", "GroupNorm") })
        {
            var refused = RefusedWith(wrong);
            Assert.Equal(("VideoCrafterOptionInvalid", "configOverrides"), (refused.ErrorId, refused.Option));
            Assert.Contains(named, refused.Message);
        }

        if (!cuda.is_available())
        {
            var gpu = tiny.Options();
            gpu.Device = "cuda";
            var noCuda = Assert.Throws<FifoInputException>(() => tiny.Load(gpu));
            Assert.Equal("DeviceUnavailable", noCuda.ErrorId);
            Assert.Contains("TorchBackend=cuda", noCuda.Message);
        }
    }

    [Fact]
    public void Presets_carry_each_models_published_settings()
    {
        var vc2 = VideoCrafterPreset.Find("videocrafter2")!;
        Assert.Equal((320, 512, 16, 8, 0.7), (vc2.Height, vc2.Width, vc2.WindowFrames, vc2.FpsConditioning, vc2.Schedule.X0ScaleEnd));
        Assert.True(vc2.UNet.TemporalConv && vc2.UNet.FpsCond && !vc2.UNet.UseRelativePosition);
        var vc1 = VideoCrafterPreset.Find("VideoCrafter1-512")!;
        Assert.Equal((320, 512, 1.0), (vc1.Height, vc1.Width, vc1.Schedule.X0ScaleEnd));
        Assert.True(!vc1.UNet.TemporalConv && !vc1.UNet.FpsCond && vc1.UNet.UseRelativePosition);
        var vc1Large = VideoCrafterPreset.Find("videocrafter1-1024")!;
        Assert.Equal((576, 1024, 0.3, 400), (vc1Large.Height, vc1Large.Width, vc1Large.Schedule.X0ScaleEnd, vc1Large.Schedule.X0ScaleSteps));
        foreach (var p in new[] { vc2, vc1, vc1Large })
        {
            p.Validate();
            Assert.Equal(new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012) { X0ScaleEnd = p.Schedule.X0ScaleEnd }, p.Schedule);
            Assert.Equal((12.0, 1.0, StepKind.Ddim, 4, 8.0), (p.Defaults.Guidance, p.Defaults.Eta, p.Defaults.Step, p.Defaults.Partitions, p.Defaults.Fps));
            Assert.Equal(8, p.SpatialScale);
            Assert.Equal(1024, p.Text.Width);
        }

        var changed = VideoCrafterConfigOverrides.Apply(vc2, new[] { "model.scale_b=0.5", "model.scale_factor=0.2", "unet.temporal_length=24", "text.layers=12" });
        Assert.Equal((0.5, 0.2, 24, 12, true), (changed.Schedule.X0ScaleEnd, changed.ScaleFactor, changed.UNet.TemporalLength, changed.Text.Layers, changed.UNet.TemporalConv));
        Assert.Equal(1.0, VideoCrafterConfigOverrides.Apply(vc2, new[] { "model.use_scale=false" }).Schedule.X0ScaleEnd);
    }

    [Fact]
    public void The_adapter_is_exported_as_the_videocrafter_model_plugin()
    {
        var attribute = typeof(VideoCrafterModelAdapter).GetCustomAttribute<FifoPluginAttribute>()!;
        Assert.Equal((PluginKind.Model, "videocrafter", typeof(VideoCrafterOptions)), (attribute.Kind, attribute.Name, attribute.OptionsType));
        Assert.Equal(typeof(IModelAdapter), attribute.ContractType);
        Assert.NotEmpty(attribute.Description);
        Assert.All(typeof(VideoCrafterOptions).GetProperties(), p => Assert.NotNull(p.GetCustomAttribute<OptionAttribute>()));
    }
}

public sealed class VideoCrafterRecipeTests
{
    [Fact]
    public void A_recipe_without_a_checkpoint_fails_its_check_at_the_model_line_and_names_the_store()
    {
        const string Yaml = "apiVersion: fifopipes/v1\nmodel: { use: videocrafter }\nprompt: a red panda\nframes: 4\n";
        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);

        Assert.Null(reader.ReadText(Yaml, "/recipes/w.yaml"));

        // As zeroscope and opensora say it: before anything loads, at the recipe's line, with the store's way to get the file.
        var diagnostic = Assert.Single(reader.Diagnostics);
        Assert.Equal(("model.with.path", 2), (diagnostic.Path, diagnostic.Line));
        // The option's name is the host's to say in its user's words (model.with.path here, -ModelPath for New-FifoVideo); the preset in both.
        Assert.DoesNotContain("-ModelPath", diagnostic.Message);
        Assert.Contains("Save-FifoModel videocrafter2, then use the model videocrafter2 (a recipe's model: videocrafter2, New-FifoVideo -Model videocrafter2)", diagnostic.Message);
    }

    [Fact]
    public void The_example_recipe_binds_to_the_videocrafter_plugin()
    {
        Assert.NotNull(FifoPipes.Tests.Hosting.TestPlugins.Host.Find(PluginKind.Model, "videocrafter"));
        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(FifoPipes.Tests.Hosting.TestPlugins.Host);
        var recipe = reader.ReadFile(Path.Combine(ParityCase.RepoRoot, "examples", "recipes", "videocrafter2.yaml"));
        Assert.True(reader.Diagnostics.Count == 0, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        var options = recipe!.Model.Options!;
        // The plugin lives in its own load context, so its options type is read by name.
        object? Get(string name) => options.GetType().GetProperty(name)!.GetValue(options);
        Assert.Equal("VideoCrafterOptions", options.GetType().Name);
        Assert.Equal(("videocrafter2", "../../models/vc2/model.ckpt", "cpu", "float32", true),
            ((string)Get("Preset")!, (string)Get("Path")!, (string)Get("Device")!, (string)Get("DType")!, (bool)Get("FreeTextEncoder")!));
    }
}
