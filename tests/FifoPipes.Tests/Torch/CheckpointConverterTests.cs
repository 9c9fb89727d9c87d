using FifoPipes.Tests.VideoCrafter;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Torch;

public sealed class CheckpointConverterTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-convert-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    string SafetensorsWith(IReadOnlyDictionary<string, string> metadata)
    {
        var path = Path.Combine(dir, "source.safetensors");
        using var weight = randn(2, 3);
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["w"] = weight }, metadata);
        return path;
    }

    [Fact]
    public void A_safetensors_source_keeps_its_metadata_through_a_dtype_change()
    {
        var source = SafetensorsWith(new Dictionary<string, string> { ["license"] = "openrail", ["modelspec.title"] = "tiny", ["format"] = "pt" });

        var converted = CheckpointConverter.ToSafetensors(source, Path.Combine(dir, "bf16.safetensors"), "bfloat16").Destination;

        var metadata = SafetensorsFile.ReadMetadata(converted);
        Assert.Equal("openrail", metadata["license"]);
        Assert.Equal("tiny", metadata["modelspec.title"]);
        // The converter's provenance is added beside what the source says of itself.
        Assert.Equal("source.safetensors", metadata["converted_from"]);
    }

    [Fact]
    public void The_converters_provenance_does_not_overwrite_the_sources_own()
    {
        var source = SafetensorsWith(new Dictionary<string, string> { ["format"] = "flax", ["converted_from"] = "model.ckpt" });

        var converted = CheckpointConverter.ToSafetensors(source, Path.Combine(dir, "again.safetensors")).Destination;

        var metadata = SafetensorsFile.ReadMetadata(converted);
        Assert.Equal(("flax", "model.ckpt"), (metadata["format"], metadata["converted_from"]));
    }

    [Fact]
    public void A_torch_checkpoint_has_no_metadata_to_keep_so_only_the_provenance_is_written()
    {
        var source = Path.Combine(dir, "model.ckpt");
        using (var weight = randn(2, 3)) LightningCheckpointWriter.Write(source, new[] { ("w", weight) });

        var converted = CheckpointConverter.ToSafetensors(source, Path.Combine(dir, "model.safetensors")).Destination;

        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["converted_from"] = "model.ckpt" }, SafetensorsFile.ReadMetadata(converted));
    }
}
