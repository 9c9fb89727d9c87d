using FifoPipes.Abstractions;
using FifoPipes.Models.OpenSoraPlan.Latte;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// A released Open-Sora Plan v1.1 transformer and the settings FIFO-Diffusion runs it with: DDPMScheduler()
/// defaults (linear β 1e-4…0.02, clip_sample), guidance 7.5, 24 fps, window f = video_length latent frames.
/// </summary>
public sealed record OpenSoraPreset(string Name, string Folder, LatteConfig Transformer, int Partitions)
{
    public const string Choices = "opensora-v1.1-65,opensora-v1.1-221";
    public const double LatentScale = 0.18215;
    public const int TextTokens = 300;

    public static OpenSoraPreset V65 { get; } = new("opensora-v1.1-65", "65x512x512", LatteConfig.OpenSoraPlan65, 8);
    public static OpenSoraPreset V221 { get; } = new("opensora-v1.1-221", "221x512x512", LatteConfig.OpenSoraPlan221, 4);
    public static IReadOnlyList<OpenSoraPreset> All { get; } = new[] { V65, V221 };

    public static OpenSoraPreset? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    public static NoiseSchedule Schedule { get; } = new(BetaSchedule.Linear, 1e-4, 0.02);

    public SamplingDefaults Defaults => new()
    {
        Guidance = 7.5,
        Eta = 1.0,
        Step = StepKind.Ddpm,
        ClipSample = true,
        Partitions = Partitions,
        Fps = 24,
    };

}
