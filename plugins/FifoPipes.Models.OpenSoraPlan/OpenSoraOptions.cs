using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>Options of the "opensora" model plugin; a fresh instance holds the defaults.</summary>
public sealed class OpenSoraOptions : IValidatableOptions
{
    [Option("Folder of LanguageBind/Open-Sora-Plan-v1.1.0 (holds 65x512x512/, 221x512x512/ and vae/).")]
    public string Path { get; set; } = "";

    [Option("Folder of DeepFloyd/t5-v1_1-xxl (config.json, spiece.model, sharded weights); empty = <path>/t5-v1_1-xxl.")]
    public string TextEncoderPath { get; set; } = "";

    [Option("Which released transformer: opensora-v1.1-65 (window 17, n 8) or opensora-v1.1-221 (window 56, n 4).",
        Choices = OpenSoraPreset.Choices)]
    public string Preset { get; set; } = OpenSoraPreset.V65.Name;

    [Option("Torch device: cpu, cuda, cuda:N, or a comma-separated list (cuda:0,cuda:1) to spread the windows over several GPUs.", ChangesFrames = false)]
    public string Device { get; set; } = "cpu";

    [Option("Weights and activations: float32, bfloat16 or float16 (float16 on GPUs only).", Choices = "float32,bfloat16,float16")]
    public string Dtype { get; set; } = "float32";

    public IEnumerable<OptionProblem> Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            yield return new("path", "path is empty: give the Open-Sora-Plan-v1.1.0 folder (see docs/models/opensora.md), or let the store find it: Save-FifoModel opensora-v1.1-65, then use the model opensora-v1.1-65 (a recipe's model: opensora-v1.1-65, New-FifoVideo -Model opensora-v1.1-65).");
        if (OpenSoraPreset.Find(Preset) is null)
            yield return new("preset", $"preset '{Preset}' is not one of {OpenSoraPreset.Choices}.");
        foreach (var problem in ModelDevices.Problems(Device, Dtype, "dtype")) yield return problem;
    }
}
