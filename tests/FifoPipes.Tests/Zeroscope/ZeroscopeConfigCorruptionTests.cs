using System.Text.Json.Nodes;
using FifoPipes.Abstractions;
using FifoPipes.Core.Diffusion;
using FifoPipes.Models.Zeroscope;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Diffusers;
using Xunit;

namespace FifoPipes.Tests.Zeroscope;

/// <summary>
/// A damaged or edited file of a zeroscope folder is refused with an input error naming the file, the key and its value,
/// when the folder is read (Check and Describe read it before any weights), never as an exception from a module
/// constructor, a hang, or a silent NaN schedule. Cases from the reader fuzzing of the diffusers folder.
/// </summary>
public sealed class ZeroscopeConfigCorruptionTests : IDisposable
{
    readonly string temp = Directory.CreateTempSubdirectory("fifopipes-zeroscope-corrupt-").FullName;

    public void Dispose() => Directory.Delete(temp, recursive: true);

    static string TinyFolder => ParityCase.Load("zeroscope/diffusers_folder").File("model");

    string CopyTiny()
    {
        var copy = Path.Combine(temp, "model");
        foreach (var file in Directory.EnumerateFiles(TinyFolder, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(TinyFolder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
            File.SetAttributes(target, FileAttributes.Normal);
        }
        return copy;
    }

    static string ConfigFile(string component) => component == "scheduler" ? "scheduler_config.json" : "config.json";

    /// <summary>A copy of the tiny folder with <paramref name="key"/> of the component's config set to raw JSON (null removes it).</summary>
    string CopyWith(string component, string key, string? json)
    {
        var copy = CopyTiny();
        var path = Path.Combine(copy, component, ConfigFile(component));
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        node.Remove(key);
        // JsonNode cannot hold 1e400 as a number: the raw text goes in by hand.
        if (json is not null) node[key] = "__RAW__";
        File.WriteAllText(path, node.ToJsonString().Replace("\"__RAW__\"", json));
        return copy;
    }

    public static TheoryData<string, string, string?> OutOfRange => new()
    {
        // vae/config.json (the tiny VAE: block_out_channels [16, 32], norm_num_groups 8)
        { "vae", "norm_num_groups", "3" },
        { "vae", "norm_num_groups", "7" },
        { "vae", "norm_num_groups", "100" },
        { "vae", "norm_num_groups", null }, // the default 32 does not divide 16
        { "vae", "norm_num_groups", "0" },
        { "vae", "norm_num_groups", "-1" },
        { "vae", "layers_per_block", "-1" },
        { "vae", "layers_per_block", "100000" },
        { "vae", "in_channels", "0" },
        { "vae", "out_channels", "-1" },
        { "vae", "latent_channels", "0" },
        { "vae", "scaling_factor", "0" },
        { "vae", "scaling_factor", "1e-300" },
        { "vae", "scaling_factor", "1e400" },
        { "vae", "block_out_channels", "[16, 1000000]" },
        // text_encoder/config.json (hidden_size 32, 2 heads, intermediate_size 128)
        { "text_encoder", "num_hidden_layers", "-1" },
        { "text_encoder", "num_hidden_layers", "100000" },
        { "text_encoder", "intermediate_size", "0" },
        { "text_encoder", "intermediate_size", "-32" },
        { "text_encoder", "num_attention_heads", "3" },
        { "text_encoder", "vocab_size", "2000000000" },
        // unet/config.json (block_out_channels [16, 24], attention_head_dim 8, norm_num_groups 8)
        { "unet", "layers_per_block", "0" },
        { "unet", "layers_per_block", "-1" },
        { "unet", "layers_per_block", "100000" },
        { "unet", "attention_head_dim", "0" },
        { "unet", "attention_head_dim", "-1" },
        { "unet", "attention_head_dim", "3" },
        { "unet", "attention_head_dim", "7" },
        { "unet", "norm_num_groups", "0" },
        { "unet", "norm_num_groups", "3" },
        { "unet", "norm_num_groups", "7" },
        { "unet", "norm_num_groups", null }, // the default 32 does not divide 16
        { "unet", "block_out_channels", "[16, 0]" },
        { "unet", "block_out_channels", "[16, 1000000]" },
        // scheduler/scheduler_config.json (scaled_linear 0.00085..0.012 over 1000)
        { "scheduler", "beta_start", "-0.001" },
        { "scheduler", "beta_start", "1" },
        { "scheduler", "beta_start", "1e400" },
        { "scheduler", "beta_start", "1e-300" }, // adds no noise in float32
        { "scheduler", "beta_end", "-1e400" },
        { "scheduler", "beta_end", "1.5" },
        { "scheduler", "beta_end", "0.5" }, // alphas_cumprod underflows to 0 long before the last timestep
        { "scheduler", "num_train_timesteps", "0" },
        { "scheduler", "num_train_timesteps", "1" },
        { "scheduler", "num_train_timesteps", "-1" },
        { "scheduler", "num_train_timesteps", "3" },
        { "scheduler", "num_train_timesteps", "7" },
        { "scheduler", "steps_offset", "-1" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void An_out_of_range_config_value_is_refused_when_the_folder_is_read_naming_file_key_and_value(string component, string key, string? json)
    {
        var copy = CopyWith(component, key, json);
        var error = Assert.Throws<FifoInputException>(() => ZeroscopePipeline.Read(copy));
        Assert.Equal("DiffusersConfigInvalid", error.ErrorId);
        Assert.Contains(Path.Combine(copy, component, ConfigFile(component)), error.Message);
        Assert.Contains(json is null ? $"{key} (absent, so the default)" : $"{key} = {json}", error.Message);
        Assert.Contains("download the model folder again", error.Message);
    }

    [Fact]
    public void The_adapters_check_and_describe_refuse_a_bad_config_before_any_weights_load()
    {
        var copy = CopyWith("unet", "norm_num_groups", "7");
        var adapter = new ZeroscopeModelAdapter();
        var options = new ZeroscopeOptions { Path = copy };
        foreach (var read in new Action[] { () => adapter.Check(options, new PluginContext()), () => adapter.Describe(options, new PluginContext()) })
        {
            var error = Assert.Throws<FifoInputException>(read);
            Assert.Equal("DiffusersConfigInvalid", error.ErrorId);
            // diffusers' own key names, not the VideoCrafter UNet's (num_res_blocks, norm groups)
            Assert.Contains("norm_num_groups = 7: must divide every block_out_channels entry [16, 24]", error.Message);
        }
    }

    [Theory]
    [InlineData("beta_schedule", "\"squaredcos_cap_v2\"", "UnsupportedBetaSchedule")]
    [InlineData("timestep_spacing", "\"foo\"", "UnsupportedTimestepSpacing")]
    public void An_unsupported_scheduler_name_names_the_file(string key, string json, string errorId)
    {
        var copy = CopyWith("scheduler", key, json);
        var error = Assert.Throws<FifoInputException>(() => ZeroscopePipeline.Read(copy));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(Path.Combine(copy, "scheduler", "scheduler_config.json"), error.Message);
        Assert.Contains(key, error.Message);
    }

    [Theory]
    [InlineData(1, 1000)] // zeroscope's own offset: the 1000-step grid would start at timestep 1000
    [InlineData(100, 25)]
    public void A_steps_offset_that_moves_the_grid_past_the_schedule_is_refused_not_indexed(int offset, int steps)
    {
        var ddim = new DiffusersDdimScheduler(new DiffusersSchedulerConfig { StepsOffset = offset });
        var error = Assert.Throws<FifoInputException>(() => ddim.SetTimesteps(steps));
        Assert.Equal("StepsOffsetOutOfRange", error.ErrorId);
        Assert.Contains($"steps_offset {offset}", error.Message);
        ddim.SetTimesteps(5); // fewer steps fit
        Assert.All(ddim.Timesteps, t => Assert.InRange(t, 0, 999));
    }

    [Theory]
    [InlineData("[]", "no weight_map")]
    [InlineData("null", "no weight_map")]
    [InlineData("""{"weight_map": {"a": 5}}""", "weight_map['a'] = 5")]
    [InlineData("""{"weight_map": {"a": null}}""", "weight_map['a'] = null")]
    [InlineData("""{"weight_map": {"a": "../vae/diffusion_pytorch_model.bin"}}""", "not the file name of a shard")]
    [InlineData("""{"weight_map": {}}""", "lists no shards")]
    public void A_damaged_shard_index_is_refused_when_the_folder_is_read(string index, string words)
    {
        var copy = CopyTiny();
        foreach (var weights in Directory.GetFiles(Path.Combine(copy, "unet"), "diffusion_pytorch_model*")) File.Delete(weights);
        var indexPath = Path.Combine(copy, "unet", "diffusion_pytorch_model.safetensors.index.json");
        File.WriteAllText(indexPath, index);
        var error = Assert.Throws<FifoInputException>(() => ZeroscopePipeline.Read(copy));
        Assert.Equal("DiffusersConfigInvalid", error.ErrorId);
        Assert.Contains(indexPath, error.Message);
        Assert.Contains(words, error.Message);
    }

    [Fact]
    public void Weights_without_files_describe_their_folder()
    {
        Assert.Contains("no weight files", new DiffusersWeights(temp, Array.Empty<string>(), null).Describe());
    }

    /// <summary>
    /// Sizes within the per-key bounds that still ask for more than the weight files hold are refused before the module is
    /// built for real (a strict load would refuse them too, after allocating it): built on the meta device, counted.
    /// </summary>
    [Theory]
    [InlineData("unet", "block_out_channels", "[16, 4096]", "UNet3DConditionModel")]
    [InlineData("vae", "layers_per_block", "32", "AutoencoderKL")]
    [InlineData("text_encoder", "num_hidden_layers", "100", "CLIPTextModel")]
    public void A_config_that_asks_for_more_parameters_than_the_weights_hold_is_refused_before_building(string component, string key, string json, string what)
    {
        var copy = CopyWith(component, key, json);
        ZeroscopePipeline.Read(copy);
        // The load refuses it, and so does the adapter's check that Test-FifoRecipe -Model runs, which loads nothing.
        foreach (var read in new Action[] { () => ZeroscopePipeline.Load(copy), () => new ZeroscopeModelAdapter().Check(new ZeroscopeOptions { Path = copy }, new PluginContext()) })
        {
            var error = Assert.Throws<FifoInputException>(read);
            Assert.Equal("CheckpointMismatch", error.ErrorId);
            Assert.Contains(Path.Combine(copy, component, "config.json"), error.Message);
            Assert.Contains($"describes a {what} of", error.Message);
        }
    }
}
