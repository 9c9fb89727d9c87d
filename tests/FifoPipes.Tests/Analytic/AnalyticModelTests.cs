using FifoPipes.Abstractions;
using FifoPipes.Models.Analytic;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Analytic;

public sealed class AnalyticModelTests
{
    static AnalyticOptions Small(int channels = 2) => new() { Channels = channels, Height = 8, Width = 12, Frames = 4 };

    static double RelativeError(Tensor actual, Tensor expected) =>
        ((actual - expected).norm() / expected.norm()).item<float>();

    [Fact]
    public void Nearly_clean_latents_are_their_own_clean_estimate()
    {
        // A Gaussian prior cannot tell a tiny noise from signal, so as abar -> 1 the posterior mean of the
        // noise goes to 0 and the clean estimate x0 = (y - sqrt(1 - abar) eps) / sqrt(abar) goes to the input.
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var p = PromptMapping.FromPrompt("clouds", 2);
        var x0 = new SpectralPrior(p, 8, 12).Sample(4, generator);
        var abar = new[] { 0.99999, 0.99995, 0.9999, 0.9998 };
        var a = tensor(abar).to(ScalarType.Float32).view(1, 4, 1, 1);
        var noise = randn(x0.shape, generator: generator);
        var y = a.sqrt() * x0 + (1 - a).sqrt() * noise;
        using var denoiser = new ExactDenoiser(8, 12);
        var eps = denoiser.PredictNoise(y, abar, p);
        var clean = (y - (1 - a).sqrt() * eps) / a.sqrt();
        Assert.True(RelativeError(clean, x0) < 0.02, $"clean estimate off by {RelativeError(clean, x0):F4}");
        // Near zero noise any estimate is close, so it must also beat the two trivial ones (0.0120 against 0.0133 and 0.0169
        // for this seed): predicting no noise (the noisy latents as they are) and echoing the input as the noise.
        double untouched = RelativeError(y / a.sqrt(), x0), echoed = RelativeError((y - (1 - a).sqrt() * y) / a.sqrt(), x0);
        Assert.True(RelativeError(clean, x0) < 0.95 * Math.Min(untouched, echoed),
            $"clean estimate off by {RelativeError(clean, x0):F5}; no noise {untouched:F5}, the input as noise {echoed:F5}");
    }

    [Fact]
    public void The_prediction_is_the_posterior_mean_its_error_is_orthogonal_to_it()
    {
        // Orthogonality principle: for the exact posterior mean, E[(eps - epshat) . epshat] = 0 and
        // E|epshat|^2 = E[eps . epshat]. A mis-scaled or mis-shaped denoiser breaks both.
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var p = PromptMapping.FromPrompt("fire drifting right", 2);
        var prior = new SpectralPrior(p, 8, 12);
        var abar = new[] { 0.95, 0.7, 0.4, 0.1 };
        var a = tensor(abar).to(ScalarType.Float32).view(1, 4, 1, 1);
        using var denoiser = new ExactDenoiser(8, 12);
        double cross = 0, energy = 0, errorDot = 0;
        for (int i = 0; i < 200; i++)
        {
            using var inner = NewDisposeScope();
            var x0 = prior.Sample(4, generator);
            var noise = randn(x0.shape, generator: generator);
            var eps = denoiser.PredictNoise(a.sqrt() * x0 + (1 - a).sqrt() * noise, abar, p);
            cross += (noise * eps).sum().item<float>();
            energy += (eps * eps).sum().item<float>();
            errorDot += ((noise - eps) * eps).sum().item<float>();
        }
        Assert.True(Math.Abs(errorDot) / energy < 0.03, $"error . estimate / |estimate|^2 = {errorDot / energy:F4}");
        Assert.InRange(cross / energy, 0.97, 1.03);
        Assert.Equal(1, denoiser.OperatorsBuilt);
    }

    [Theory]
    [InlineData(false, 18)]   // a fixed cache one too small for the cycle rebuilds every operator every time
    [InlineData(true, 7)]     // a growing one rebuilds one evicted operator, then holds the cycle
    public void A_growing_cache_stops_rebuilding_a_cycle_of_operators_larger_than_it(bool grows, long expectedBuilt)
    {
        var p = PromptMapping.FromPrompt("clouds", 2);
        using var denoiser = new ExactDenoiser(4, 6, cacheCapacity: 5, grows: grows);
        var cycle = Enumerable.Range(1, 6).Select(k => new[] { 0.9 / k, 0.5 / k }).ToList();
        for (int round = 0; round < 3; round++)
            foreach (var abar in cycle) denoiser.Operator(p, abar);
        Assert.Equal(expectedBuilt, denoiser.OperatorsBuilt);
        Assert.Equal(grows ? 6 : 5, denoiser.Capacity);
    }

    [Fact]
    public void Start_frames_are_encoded_in_the_palette_of_the_first_prompt()
    {
        var folder = Directory.CreateTempSubdirectory("fifo-init-").FullName;
        try
        {
            var red = Path.Combine(folder, "red.png");
            FifoPipes.Core.ImageFiles.SaveImage(FifoPipes.Tests.Sinks.SinkTestBase.Solid(0, 230, 20, 20, 96, 64), red);
            const string Prompt = "orange clouds drifting slowly";   // "drifting" is unknown to the mapping: a random hue turn

            using var model = new AnalyticModel(Small());
            using var latents = FifoPipes.Hosting.Engine.InitFrames.Encode(model, red, Prompt);

            using var rgb = FifoPipes.Core.ImageFiles.LoadFrames(red, model.Info.PixelWidth, model.Info.PixelHeight, maxFrames: 4);
            using var prompted = new AnalyticModel(Small());
            prompted.Encode(Prompt).Dispose();
            using var expected = prompted.EncodeFrames(rgb);
            using var unprompted = new AnalyticModel(Small());
            using var neutral = unprompted.EncodeFrames(rgb);
            Assert.True(latents.allclose(expected, rtol: 0, atol: 0), "the start frames were not encoded in the prompt's palette");
            Assert.False(expected.allclose(neutral, rtol: 1e-3, atol: 1e-3), "the prompt's palette is the neutral one, so this test shows nothing");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Theory]
    [InlineData(0.9)]
    [InlineData(0.3)]
    [InlineData(0.005)]
    public void One_noise_level_for_every_frame_gives_the_operator_of_the_general_inverse(double a)
    {
        var p = PromptMapping.FromPrompt("fire drifting right", 2);
        using var denoiser = new ExactDenoiser(8, 12);
        var equal = denoiser.Operator(p, new[] { a, a, a, a });              // eigen-decomposition path
        var nearly = denoiser.Operator(p, new[] { a, a, a, a * (1 + 1e-12) });  // the general inverse
        Assert.True(RelativeError(equal, nearly) < 1e-5, $"relative difference {RelativeError(equal, nearly):E2}");
        Assert.Equal(2, denoiser.OperatorsBuilt);
    }

    [Fact]
    public void Pure_noise_is_predicted_as_itself()
    {
        using var scope = NewDisposeScope();
        var p = PromptMapping.FromPrompt("clouds", 2);
        var y = randn(new long[] { 2, 4, 8, 12 });
        using var denoiser = new ExactDenoiser(8, 12);
        var eps = denoiser.PredictNoise(y, new[] { 1e-4, 1e-4, 2e-4, 3e-4 }, p);
        Assert.True(RelativeError(eps, y) < 0.03);
    }

    [Fact]
    public void The_model_batches_rows_with_their_own_prompt_and_timesteps_and_reuses_operators()
    {
        using var scope = NewDisposeScope();
        using var model = new AnalyticModel(Small());
        var fire = model.Encode("fire");
        var uncond = model.Encode("");
        var x = randn(new long[] { 2, 2, 4, 8, 12 });
        var t = tensor(new long[] { 10, 200, 400, 999, 0, 0, 500, 500 }, new long[] { 2, 4 });
        var eps = model.PredictNoise(x, t, new[] { fire, uncond });
        Assert.Equal(new long[] { 2, 2, 4, 8, 12 }, eps.shape);
        var abar = model.AlphasCumprod;
        var row0 = model.Denoiser.PredictNoise(x[0], new[] { abar[10], abar[200], abar[400], abar[999] }, ((AnalyticConditioning)fire).Parameters);
        var row1 = model.Denoiser.PredictNoise(x[1], new[] { abar[0], abar[0], abar[500], abar[500] }, ((AnalyticConditioning)uncond).Parameters);
        Assert.True((eps[0] - row0).abs().max().item<float>() < 1e-6);
        Assert.True((eps[1] - row1).abs().max().item<float>() < 1e-6);
        long built = model.Denoiser.OperatorsBuilt;
        Assert.Equal(2, built);
        model.PredictNoise(x, t, new[] { fire, uncond });
        Assert.Equal(built, model.Denoiser.OperatorsBuilt);
        Assert.False((eps[0] - eps[1]).abs().max().item<float>() < 1e-3, "different prompts and timesteps gave the same prediction");
    }

    [Fact]
    public void The_schedule_is_videocrafters_scaled_linear()
    {
        using var model = new AnalyticModel(new AnalyticOptions());
        Assert.Equal(BetaSchedule.ScaledLinear, model.Info.Schedule.Betas);
        Assert.Equal(1000, model.AlphasCumprod.Count);
        Assert.Equal(1 - 0.00085, model.AlphasCumprod[0], 12);
        // VideoCrafter's alphas_cumprod[-1] for linspace(sqrt(0.00085), sqrt(0.012), 1000)^2.
        Assert.Equal(0.0046600, model.AlphasCumprod[999], 6);
        Assert.Equal(320, model.Info.PixelHeight);
        Assert.Equal(512, model.Info.PixelWidth);
        Assert.Equal(16, model.Info.WindowFrames);
        Assert.Equal(4, model.Info.Defaults.Partitions);
        Assert.Equal(StepKind.Ddim, model.Info.Defaults.Step);
    }

    [Fact]
    public void Decoding_then_encoding_round_trips_smooth_content()
    {
        using var scope = NewDisposeScope();
        using var model = new AnalyticModel(Small(channels: 3));
        model.Encode("ocean");
        var look = model.Look("ocean");
        // A smooth, in-range latent (no clamping): decode then encode must return it (3 channels: M is invertible).
        var yy = arange(8, ScalarType.Float32).view(8, 1).expand(8, 12);
        var xx = arange(12, ScalarType.Float32).view(1, 12).expand(8, 12);
        var z = stack(new[] { (yy * 0.3 + xx * 0.2).sin(), (xx * 0.25).cos() * 0.8, (yy * 0.2 - xx * 0.1).sin() * 0.5 }) * 0.6;
        var rgb = AnalyticPalette.Decode(z, look);
        Assert.Equal(new long[] { 3, 64, 96 }, rgb.shape);
        Assert.True(rgb.min().item<float>() > 0 && rgb.max().item<float>() < 1, "test latent must not clamp");
        var back = AnalyticPalette.Encode(rgb.unsqueeze(0), look);
        Assert.Equal(new long[] { 3, 1, 8, 12 }, back.shape);
        Assert.True(RelativeError(back[.., 0], z) < 0.05, $"round trip error {RelativeError(back[.., 0], z):F4}");

        // And an RGB frame survives encode then decode.
        var frame = (rgb.unsqueeze(0) * 0.8 + 0.1);
        var again = AnalyticPalette.Decode(AnalyticPalette.Encode(frame, look)[.., 0], look).unsqueeze(0);
        Assert.True(RelativeError(again - 0.5, frame - 0.5) < 0.05);
    }

    [Fact]
    public void Four_channels_round_trip_up_to_what_the_palette_can_see()
    {
        using var scope = NewDisposeScope();
        var look = PromptMapping.FromPrompt("ocean", 4);
        var z = full(4, 8, 12, 0.2f) * tensor(new[] { 1f, -0.5f, 0.3f, 0.8f }).view(4, 1, 1);
        var rgb = AnalyticPalette.Decode(z, look);
        Assert.True(rgb.min().item<float>() > 0 && rgb.max().item<float>() < 1, "test latent must not clamp");
        var back = AnalyticPalette.Encode(rgb.unsqueeze(0), look)[.., 0];
        // With 4 channels and 3 colours, encode(decode(z)) is the projection pinv(M) M z.
        var palette = look.Palette;
        var m = tensor(Enumerable.Range(0, 12).Select(i => palette[i / 4, i % 4]).ToArray(), new long[] { 3, 4 });
        var projection = matmul(linalg.pinv(m), m).to(ScalarType.Float32);
        var expected = einsum("dc,chw->dhw", projection, z);
        Assert.True(RelativeError(back, expected) < 1e-3);
    }

    [Fact]
    public void A_model_begun_for_another_run_forgets_the_last_runs_look()
    {
        using var scope = NewDisposeScope();
        var rgb = rand(new long[] { 2, 3, 64, 96 }, generator: new Generator(3));
        using var fresh = new AnalyticModel(Small());
        var expected = fresh.EncodeFrames(rgb);
        using var reused = new AnalyticModel(Small());
        reused.Encode("fire");                  // the first prompt a run encodes sets the start frames' palette
        Assert.False(reused.EncodeFrames(rgb).allclose(expected), "the prompt's palette is the neutral one, so this test shows nothing");
        ((IReusableModel)reused).BeginRun();
        Assert.True(reused.EncodeFrames(rgb).equal(expected).all().item<bool>(), "the last run's look coloured the next run's start frames");
    }

    [Fact]
    public void The_decoder_uses_the_palette_of_the_frame_prompt()
    {
        using var scope = NewDisposeScope();
        using var model = new AnalyticModel(Small());
        var fire = model.Encode("fire");
        var ocean = model.Encode("ocean");
        using var decoder = (AnalyticDecoder)model.CreateDecoder();
        var latent = zeros(2, 8, 12);
        var explicitFire = decoder.Push(latent, "fire")[0];
        Assert.True(explicitFire[0].mean().item<float>() > explicitFire[2].mean().item<float>());
        // Without a prompt the decoder follows the cleanest conditional window denoised since the last frame.
        var x = randn(new long[] { 2, 2, 4, 8, 12 });
        model.PredictNoise(x, tensor(new long[] { 0, 20, 40, 60, 300, 320, 340, 360 }, new long[] { 2, 4 }), new[] { ocean, fire });
        var guessed = decoder.Push(latent)[0];
        Assert.True(guessed[2].mean().item<float>() > guessed[0].mean().item<float>(), "the next frame was finished under 'ocean'");
        Assert.Equal(new long[] { 3, 64, 96 }, guessed.shape);
        Assert.Empty(decoder.Flush());

        // A negative prompt's rows come after the conditional ones with the same steps; they guide, they set no look.
        var negativeOcean = model.Encode("ocean");
        negativeOcean.IsNegative = true;
        model.PredictNoise(x, tensor(new long[] { 0, 20, 40, 60, 0, 20, 40, 60 }, new long[] { 2, 4 }), new[] { fire, negativeOcean });
        var afterNegative = decoder.Push(latent)[0];
        Assert.True(afterNegative[0].mean().item<float>() > afterNegative[2].mean().item<float>(), "the negative prompt 'ocean' set the next frame's look");
    }

    [Fact]
    public void Impossible_options_are_refused_by_name()
    {
        var bad = new AnalyticOptions { Channels = 0, Frames = 0, Device = "tpu" };
        var problems = bad.Validate().Select(p => p.Option).ToList();
        Assert.Contains("channels", problems);
        Assert.Contains("frames", problems);
        Assert.Contains("device", problems);
        Assert.Empty(new AnalyticOptions().Validate());
        // Within every option's range, but 128-frame windows make each cached operator 660 MiB.
        var huge = Assert.Single(new AnalyticOptions { Frames = 128 }.Validate());
        Assert.Equal("frames", huge.Option);
        Assert.Contains("660 MiB", huge.Message);
        var error = Assert.Throws<FifoInputException>(() => new AnalyticModelAdapter().Load(bad, new PluginContext()));
        Assert.Equal("AnalyticOptionInvalid", error.ErrorId);
    }

    [Fact]
    public void Describing_the_model_says_what_loading_it_gives_without_building_its_denoiser()
    {
        var options = new AnalyticOptions { Frames = 8, Height = 6, Width = 10, Partitions = 3, Guidance = 2.5 };
        using var model = new AnalyticModelAdapter().Load(options, new PluginContext());
        FifoPipes.Tests.Hosting.ModelDescription.Matches(model.Info, new AnalyticModelAdapter().Describe(options, new PluginContext()));
        Assert.Equal("AnalyticOptionInvalid", Assert.Throws<FifoInputException>(() => new AnalyticModelAdapter().Describe(new AnalyticOptions { Frames = 0 }, new PluginContext())).ErrorId);
    }

    [Fact]
    public void The_adapter_is_a_described_model_plugin()
    {
        var attribute = (FifoPluginAttribute)Attribute.GetCustomAttribute(typeof(AnalyticModelAdapter), typeof(FifoPluginAttribute))!;
        Assert.Equal(PluginKind.Model, attribute.Kind);
        Assert.Equal("analytic", attribute.Name);
        Assert.Equal(typeof(AnalyticOptions), attribute.OptionsType);
        Assert.False(string.IsNullOrWhiteSpace(attribute.Description));
        using var model = new AnalyticModelAdapter().Load(null, new PluginContext());
        Assert.Equal(4, model.Info.LatentChannels);
    }
}
