using FifoPipes.Core;
using FifoPipes.Models.Analytic;
using Xunit;

namespace FifoPipes.Tests.Models;

/// <summary>Model fingerprints change with what changes a model's outputs, and only with that.</summary>
public sealed class ModelFingerprintTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-fingerprint-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void A_rewritten_checkpoint_gets_a_new_fingerprint()
    {
        var checkpoint = Path.Combine(folder, "model.ckpt");
        File.WriteAllText(checkpoint, "weights v1");
        var before = ModelFingerprint.File(checkpoint);
        Assert.Equal(before, ModelFingerprint.File(checkpoint));
        File.WriteAllText(checkpoint, "weights v2, retrained");
        Assert.NotEqual(before, ModelFingerprint.File(checkpoint));

        var layout = Directory.CreateDirectory(Path.Combine(folder, "release", "unet")).FullName;
        File.WriteAllText(Path.Combine(layout, "config.json"), "{}");
        var folderBefore = ModelFingerprint.Folder(Path.Combine(folder, "release"));
        File.WriteAllText(Path.Combine(layout, "diffusion_pytorch_model.safetensors"), "new file");
        Assert.NotEqual(folderBefore, ModelFingerprint.Folder(Path.Combine(folder, "release")));
    }

    [Fact]
    public void Settings_count_field_by_field()
    {
        Assert.Equal(ModelFingerprint.Of("a", 2.5, new AnalyticOptions()), ModelFingerprint.Of("a", 2.5, new AnalyticOptions()));
        Assert.NotEqual(ModelFingerprint.Of(new AnalyticOptions()), ModelFingerprint.Of(new AnalyticOptions { Fps = 12 }));
        // How the outputs are computed is not what they are: a clip cached on one device serves another.
        Assert.Equal(ModelFingerprint.Of(new AnalyticOptions()), ModelFingerprint.Of(new AnalyticOptions { OperatorCache = 48, Device = "cuda:1" }));
        using var model = new AnalyticModel(new AnalyticOptions { Height = 4, Width = 4 });
        using var other = new AnalyticModel(new AnalyticOptions { Height = 4, Width = 4, Guidance = 3 });
        Assert.NotEqual(model.Info.Fingerprint, other.Info.Fingerprint);
    }
}
