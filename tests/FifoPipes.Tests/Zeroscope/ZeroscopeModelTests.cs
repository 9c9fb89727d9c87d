using FifoPipes.Abstractions;
using FifoPipes.Core;
using FifoPipes.Core.Devices;
using FifoPipes.Models.Zeroscope;
using FifoPipes.Samplers.Fifo;
using FifoPipes.Tests.Hosting;
using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Zeroscope;

/// <summary>The "zeroscope" plugin end to end on the tiny diffusers folder of the parity fixtures.</summary>
public sealed class ZeroscopeModelTests
{
    static ParityCase Fixture => ParityCase.Load("zeroscope/diffusers_folder");

    /// <summary>Loads the tiny folder through the plugin host, as a recipe would (options set by name).</summary>
    static IVideoModel LoadThroughHost(RecordingSink log, int width = 16, int height = 16, int frames = 3, string device = "cpu")
    {
        var descriptor = TestPlugins.Host.Require(PluginKind.Model, "zeroscope");
        var options = Activator.CreateInstance(descriptor.OptionsType!)!;
        void Set(string name, object value) => options.GetType().GetProperty(name)!.SetValue(options, value);
        Set("Path", Fixture.File("model"));
        Set("Width", width);
        Set("Height", height);
        Set("Frames", frames);
        Set("Device", device);
        return descriptor.Create<IModelAdapter>().Load(options, new PluginContext(log));
    }

    [Fact]
    public void The_plugin_reports_the_folder_schedule_and_the_requested_size()
    {
        var log = new RecordingSink();
        using var model = LoadThroughHost(log);
        // Its only warning, on a machine whose oneDNN is wrong, says that the CPU check turned it off.
        Assert.Equal(CpuKernelCheck.Finding is null ? 0 : 1, log.Warnings.Count);
        var info = model.Info;
        Assert.Equal("zeroscope-576w", info.Name);
        Assert.Equal((4, 8, 8, 3, 2), (info.LatentChannels, info.LatentHeight, info.LatentWidth, info.WindowFrames, info.SpatialScale));
        Assert.Equal(new NoiseSchedule(BetaSchedule.ScaledLinear, 0.00085, 0.012, 1000), info.Schedule);
        Assert.Equal(9.0, info.Defaults.Guidance);
    }

    [Fact]
    public void Describing_the_model_says_what_loading_it_gives_from_the_folders_configs()
    {
        using var model = LoadThroughHost(new RecordingSink(), width: 16, height: 24, frames: 5);
        var options = new ZeroscopeOptions { Path = Fixture.File("model"), Width = 16, Height = 24, Frames = 5 };
        FifoPipes.Tests.Hosting.ModelDescription.Matches(model.Info, new ZeroscopeModelAdapter().Describe(options, new PluginContext()));
    }

    [Fact]
    public void Per_frame_timesteps_through_the_model_match_the_pipeline_golden()
    {
        // With the same t on every frame, the per-frame path must give the pipeline's conditional prediction.
        var fixture = Fixture;
        using var model = LoadThroughHost(new RecordingSink());
        using var scope = NewDisposeScope();
        var latents = fixture["latents"];
        long t = fixture["timestep"].item<long>();
        using var cond = model.Encode(fixture.Json.GetProperty("prompts")[fixture.Json.GetProperty("cond_prompt_index").GetInt32()].GetString()!);
        var eps = model.PredictNoise(latents, full(new long[] { 1, latents.shape[2] }, t, ScalarType.Int64), new[] { cond });
        TensorAssert.Close(fixture["noise_pred_text"], eps, fixture.Json.GetProperty("output_atol").GetProperty("noise_pred_text").GetDouble(), fixture.Rtol, "noise_pred_text");
    }

    [Fact]
    public void A_device_list_replicates_the_model_and_gives_the_frames_of_one_device()
    {
        static List<Tensor> Sample(IVideoModel model) =>
            new FifoSamplerFactory().Create(new FifoOptions { Partitions = 2, Start = "noise", WarmupIterations = 1 }, new PluginContext())
                .Sample(new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("an astronaut riding a horse", 3) }, Noise = new KeyedNoise(9) }, CancellationToken.None)
                .Select(f => f.Latent).ToList();
        using var single = LoadThroughHost(new RecordingSink());
        var expected = Sample(single);
        using var model = LoadThroughHost(new RecordingSink(), device: "cpu, cpu");
        var replicated = Assert.IsType<FifoPipes.Core.Devices.FusedReplicatedModel>(model);
        Assert.Equal(2, replicated.Replicas.Count);
        // Only the primary holds the VAE (and the text encoder): the other replica cannot decode.
        replicated.Replicas[0].CreateDecoder().Dispose();
        Assert.Contains("denoiser only", Assert.Throws<InvalidOperationException>(() => replicated.Replicas[1].CreateDecoder()).Message);
        var actual = Sample(model);
        TensorAssert.Identical(expected, actual, "one cpu against cpu,cpu");
        Assert.Equal(2, replicated.LastSplit.Count(rows => rows > 0));

        // FreeNoise's fused attention splits its cond and uncond rows across the replicas too. One row per replica runs
        // libtorch's kernels at batch 1 instead of 2, which rounds differently: close, not bit for bit.
        static List<Tensor> FreeNoise(IVideoModel model) =>
            new FifoPipes.Samplers.Baselines.FreeNoiseSamplerFactory().Create(new FifoPipes.Samplers.Baselines.FreeNoiseOptions { Steps = 2, Fusion = "attention" }, new PluginContext())
                .Sample(new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("an astronaut riding a horse", 5) }, Noise = new KeyedNoise(9) }, CancellationToken.None)
                .Select(f => f.Latent).ToList();
        Assert.IsAssignableFrom<IFusedTemporalAttention>(model);
        var fusedOne = FreeNoise(single);
        var fusedTwo = FreeNoise(model);
        Assert.Equal(new long[] { 1, 1 }, replicated.LastSplit);
        for (int i = 0; i < fusedOne.Count; i++)
            TensorAssert.Close(fusedOne[i], fusedTwo[i], 1e-3, 0, $"fused frame {i}, one cpu against cpu,cpu");
    }

    [Fact]
    public void Fifo_runs_a_few_frames_and_they_decode_and_encode()
    {
        using var model = LoadThroughHost(new RecordingSink());
        var sampler = new FifoSamplerFactory().Create(new FifoOptions { Partitions = 1, Lookahead = false, Start = "noise", WarmupIterations = 1 }, new PluginContext());
        var job = new SamplingJob { Model = model, Prompts = new[] { new PromptSpan("an astronaut riding a horse", 2) }, Noise = new KeyedNoise(5) };
        var latents = sampler.Sample(job, CancellationToken.None).ToList();
        Assert.Equal(2, latents.Count);

        using var decoder = model.CreateDecoder();
        var frames = latents.SelectMany(l => decoder.Push(l.Latent)).Concat(decoder.Flush()).ToList();
        Assert.Equal(2, frames.Count);
        foreach (var frame in frames)
        {
            Assert.Equal(new long[] { 3, 16, 16 }, frame.shape); // the tiny VAE scales by 2
            Assert.True(frame.isfinite().all().item<bool>());
            Assert.InRange(frame.min().item<float>(), 0f, 1f);
            Assert.InRange(frame.max().item<float>(), 0f, 1f);
        }
        using var encoded = model.EncodeFrames(stack(frames, 0));
        Assert.Equal(new long[] { 4, 2, 8, 8 }, encoded.shape);
        Assert.True(encoded.isfinite().all().item<bool>());
    }

    [Fact]
    public void A_folder_assembled_from_parts_that_do_not_fit_is_refused_before_its_weights_load()
    {
        var copy = Directory.CreateTempSubdirectory("fifo-zeroscope-misfit-").FullName;
        try
        {
            foreach (var file in Directory.EnumerateFiles(Fixture.File("model"), "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(copy, Path.GetRelativePath(Fixture.File("model"), file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
            var unetConfig = Path.Combine(copy, "unet", "config.json");
            var unet = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(unetConfig))!.AsObject();
            unet["cross_attention_dim"] = unet["cross_attention_dim"]!.GetValue<int>() * 2;
            unet["in_channels"] = 5;
            File.WriteAllText(unetConfig, unet.ToJsonString());

            var error = Assert.Throws<FifoInputException>(() => ZeroscopePipeline.Load(copy));
            Assert.Equal("DiffusersConfigUnsupported", error.ErrorId);
            Assert.Contains("cross_attention_dim", error.Message);
            Assert.Contains("latent_channels", error.Message);
        }
        finally { Directory.Delete(copy, recursive: true); }
    }

    [Fact]
    public void Bad_options_name_the_option()
    {
        var adapter = new ZeroscopeModelAdapter();
        var error = Assert.Throws<FifoInputException>(() => adapter.Load(new ZeroscopeOptions { Path = "" }, new PluginContext()));
        Assert.Contains("'path'", error.Message);
        var options = new ZeroscopeOptions { Path = "x", DType = "float16", Width = 0 };
        Assert.Equal(new[] { "dtype", "width" }, options.Validate().Select(p => p.Option));
        Assert.Equal("DiffusersFolderNotFound", Assert.Throws<FifoInputException>(() => adapter.Load(new ZeroscopeOptions { Path = "does-not-exist" }, new PluginContext())).ErrorId);
    }
}
