using FifoPipes.Abstractions;
using FifoPipes.Torch.UNets;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

public sealed class UNet3DTests
{
    /// <summary>A small VC2-style UNet (64-channel level so t and fps survive the GroupNorms).</summary>
    static UNet3DConfig Tiny => UNet3DConfig.VideoCrafter2() with
    {
        ModelChannels = 32, ChannelMult = new[] { 1, 2 }, NumResBlocks = 1, AttentionResolutions = new[] { 1, 2 },
        NumHeadChannels = 8, ContextDim = 16, TemporalLength = 4,
    };

    static Tensor Randn(params long[] shape) => randn(shape);

    static Dictionary<string, Tensor> StateOf(UNet3D unet) =>
        unet.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    [Fact]
    public void A_freshly_built_model_has_finite_parameters()
    {
        // TorchSharp's GroupNorm leaves its affine parameters uninitialised; the model must not.
        using var unet = new UNet3D(Tiny);
        foreach (var (key, value) in unet.state_dict())
            Assert.True(value.isfinite().all().item<bool>(), key);
    }

    [Fact]
    public void Strict_load_names_missing_unexpected_and_misshapen_keys()
    {
        using var unet = new UNet3D(Tiny);
        var state = StateOf(unet);
        state.Remove("out.2.bias");
        state["input_blocks.1.0.temporal_conv.conv1.2.weight"] = zeros(1);
        state["time_embed.0.weight"] = zeros(3, 3);

        var error = Assert.Throws<FifoInputException>(() => unet.LoadStrict(state, "tiny.safetensors"));
        Assert.Equal("CheckpointKeysMismatch", error.ErrorId);
        Assert.Contains("tiny.safetensors", error.Message);
        Assert.Contains("out.2.bias", error.Message);
        Assert.Contains("input_blocks.1.0.temporal_conv.conv1.2.weight", error.Message);
        Assert.Contains("time_embed.0.weight: checkpoint [3, 3], model [128, 32]", error.Message);
    }

    [Fact]
    public void The_layer_timing_seam_sees_every_layer_and_changes_nothing()
    {
        using var unet = new UNet3D(Tiny);
        unet.eval();
        manual_seed(3);
        using var x = Randn(2, 4, 4, 8, 12);
        using var timesteps = tensor(new long[] { 10, 500 });
        using var context = Randn(2, 77, 16);
        using var fps = tensor(new long[] { 8, 8 });
        using var plain = unet.forward(x, timesteps, context, fps);

        var seen = new List<string>();
        var record = LayerTiming.Observer = (layer, input, call) =>
        {
            seen.Add(layer.GetType().Name);
            return call();
        };
        Tensor observed;
        try { observed = unet.forward(x, timesteps, context, fps); }
        finally { LayerTiming.Observer = null; }

        using (observed) Assert.True(observed.equal(plain).all().item<bool>());
        Assert.Contains("Conv2d", seen);
        Assert.Contains("Downsample", seen);
        Assert.Contains("Upsample", seen);
        Assert.Equal(seen.Count(n => n == "ResBlock"), seen.Count(n => n == "TemporalConvBlock"));
        // Every spatial transformer has its temporal partner, and VideoCrafter2's init_attn is one temporal more.
        Assert.Equal(seen.Count(n => n == "SpatialTransformer") + 1, seen.Count(n => n == "TemporalTransformer"));
        Assert.True(seen.Count(n => n == "ResBlock") >= 6, string.Join(", ", seen));

        // Another thread's calls are not observed.
        int before = seen.Count;
        LayerTiming.Observer = record;
        var other = new Thread(() => unet.forward(x, timesteps, context, fps).Dispose());
        try
        {
            other.Start();
            other.Join();
        }
        finally { LayerTiming.Observer = null; }
        Assert.Equal(before, seen.Count);
    }

    [Fact]
    public void Packed_temporal_attention_gives_the_plain_result()
    {
        using var unet = new UNet3D(Tiny);
        unet.eval();
        manual_seed(5);
        using var scope = NewDisposeScope();
        // 2 videos of 4 frames at 8x12: 192 sequences of 4 frames at the first level (32 to a row), 48 at the second (24).
        var x = Randn(2, 4, 4, 8, 12);
        var timesteps = tensor(new long[] { 10, 500 });
        var context = Randn(2, 77, 16);
        var fps = tensor(new long[] { 8, 8 });
        var plain = unet.forward(x, timesteps, context, fps);

        unet.PackTemporalAttention(true);
        var temporal = unet.modules().OfType<TemporalTransformer>().SelectMany(layer => layer.modules().OfType<FifoPipes.Torch.Nn.Attention>()).ToList();
        Assert.NotEmpty(temporal);
        Assert.All(temporal, attention => Assert.True(attention.PackShortSequences));
        var packed = unet.forward(x, timesteps, context, fps);
        TensorAssert.Close(plain, packed, 1e-5, 1e-5, "packed temporal attention");
    }

    [Theory]
    [InlineData(24, 16)]   // 8 sequences to a row
    [InlineData(11, 16)]   // no count from 2 to 8 divides 11: one sequence per row, as without packing
    [InlineData(6, 5)]     // 6 to a row of 30
    public void Packed_short_sequences_attend_within_each_sequence_only(long sequences, long length)
    {
        using var attention = new FifoPipes.Torch.Nn.Attention(24, null, 3, 8, scale: 0.2);
        manual_seed(6);
        using var scope = NewDisposeScope();
        var x = Randn(sequences, length, 24);
        var plain = attention.forward(x, null);
        attention.PackShortSequences = true;
        TensorAssert.Close(plain, attention.forward(x, null), 1e-5, 1e-5, $"{sequences} sequences of {length}");
    }

    [Theory]
    [InlineData(7, 3)]    // slices of 3, 3 and 1
    [InlineData(6, 6)]    // one slice: the plain call
    public void Attention_over_more_sequences_than_a_kernel_launch_takes_goes_in_exact_slices(long sequences, long limit)
    {
        manual_seed(8);
        using var scope = NewDisposeScope();
        var (q, k, v) = (Randn(sequences, 2, 5, 4), Randn(sequences, 2, 5, 4), Randn(sequences, 2, 5, 4));
        var mask = ones(5, 5, ScalarType.Bool).tril();
        TensorAssert.Close(nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask),
            FifoPipes.Torch.Nn.Attention.BatchedAttention(q, k, v, mask, limit), 1e-6, 1e-6, $"{sequences} sequences in slices of {limit}");
    }

    [Fact]
    public void A_mask_with_a_row_per_sequence_is_sliced_with_its_sequences()
    {
        manual_seed(9);
        using var scope = NewDisposeScope();
        var (q, k, v) = (Randn(7, 2, 5, 4), Randn(7, 2, 6, 4), Randn(7, 2, 6, 4));
        // A caption-style additive bias: each sequence masks out a different number of trailing keys.
        var bias = zeros(7, 1, 1, 6);
        for (int i = 0; i < 7; i++) bias[i, 0, 0, TensorIndex.Slice(6 - i % 4)] = tensor(-10000f);
        TensorAssert.Close(nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: bias),
            FifoPipes.Torch.Nn.Attention.BatchedAttention(q, k, v, bias, limit: 3), 1e-6, 1e-6, "per-sequence bias in slices of 3");
    }

    [Fact]
    public void Strict_load_copies_every_tensor()
    {
        using var source = new UNet3D(Tiny);
        using var target = new UNet3D(Tiny);
        target.LoadStrict(StateOf(source), "source");
        foreach (var (key, value) in source.state_dict())
            Assert.True(value.equal(target.state_dict()[key]).all().item<bool>(), key);
    }

    [Fact]
    public void Per_frame_timesteps_that_are_all_equal_give_the_per_sample_result()
    {
        using var unet = new UNet3D(Tiny);
        using var scope = NewDisposeScope();
        var x = Randn(2, 4, 3, 4, 4);
        var context = Randn(2, 5, 16);
        var fps = tensor(new long[] { 8, 24 });
        var perSample = unet.forward(x, tensor(new long[] { 100, 700 }), context, fps);
        var perFrame = unet.forward(x, tensor(new long[] { 100, 100, 100, 700, 700, 700 }).reshape(2, 3), context, fps);
        TensorAssert.Close(perSample, perFrame, 1e-5, 1e-5, "per-frame vs per-sample");

        // Distinct per-frame timesteps must matter (the embedding is not collapsed to one per sample).
        var mixed = unet.forward(x, tensor(new long[] { 100, 400, 900, 700, 50, 700 }).reshape(2, 3), context, fps);
        float change = (mixed - perFrame).abs().max().item<float>();
        Assert.True(change > 1e-3, $"changing per-frame timesteps moved eps by only {change}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_bfloat16_model_takes_float32_latents_and_stays_near_the_float32_result(bool relativePosition)
    {
        var config = Tiny with { UseRelativePosition = relativePosition, TemporalConv = !relativePosition };
        using var unet = new UNet3D(config);
        using var scope = NewDisposeScope();
        var x = Randn(1, 4, 3, 4, 4);
        var t = tensor(new long[] { 10, 500, 990 }).reshape(1, 3);
        var context = Randn(1, 5, 16);
        var fps = tensor(new long[] { 8 });
        var reference = unet.forward(x, t, context, fps);

        unet.to(ScalarType.BFloat16);
        Assert.All(unet.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        var eps = unet.forward(x, t, context, fps);
        Assert.Equal(ScalarType.Float32, eps.dtype);
        double scale = reference.abs().max().item<float>();
        TensorAssert.Close(reference, eps, 0.1 * scale, 0.05, "bf16 vs fp32");
    }

    [Fact]
    public void Bad_input_shapes_break_the_callers_contract_and_a_size_the_levels_cannot_halve_is_an_input_error()
    {
        using var unet = new UNet3D(Tiny);
        using var scope = NewDisposeScope();
        var x = Randn(1, 4, 3, 4, 4);
        var t = tensor(new long[] { 5 });
        var context = Randn(1, 5, 16);
        var fps = tensor(new long[] { 8 });
        void Expect(Action call) => Assert.IsType<ArgumentException>(Assert.ThrowsAny<ArgumentException>(call));
        Expect(() => unet.forward(Randn(1, 3, 3, 4, 4), t, context, fps));
        Assert.Equal("UNetInputShape", Assert.Throws<FifoInputException>(() => unet.forward(Randn(1, 4, 3, 5, 4), t, context, fps)).ErrorId);
        Expect(() => unet.forward(x, tensor(new long[] { 5, 5 }), context, fps));
        Expect(() => unet.forward(x, t.to(ScalarType.Float32), context, fps));
        Expect(() => unet.forward(x, t, Randn(1, 5, 8), fps));
        Expect(() => unet.forward(x, t, context, null));
    }

    [Fact]
    public void Unsupported_reference_options_are_rejected_by_name()
    {
        var error = Assert.Throws<FifoInputException>(() => new UNet3D(Tiny with { UseCausalAttention = true, UseScaleShiftNorm = true }));
        Assert.Equal("UNetConfigInvalid", error.ErrorId);
        Assert.Contains("use_causal_attention", error.Message);
        Assert.Contains("use_scale_shift_norm", error.Message);
    }

    [Fact]
    public void Reference_arguments_of_a_fixture_round_trip_into_the_config()
    {
        var config = UNet3DConfig.FromReferenceArguments(ParityCase.Load("videocrafter/vc1_unet_tiny").Config);
        Assert.Equal(32, config.ModelChannels);
        Assert.Equal(new[] { 1, 2 }, config.ChannelMult);
        Assert.True(config.UseRelativePosition);
        Assert.False(config.TemporalConv);
        Assert.False(config.FpsCond);
        Assert.Equal(6, config.TemporalLength);
        Assert.Equal(32, config.ContextDim);
    }
}
