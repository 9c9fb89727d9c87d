using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;

namespace GaussianModel;

/// <summary>
/// What a recipe may set under <c>model: { use: example-gaussian, with: ... }</c>: public settable properties marked
/// [Option], named in camelCase in YAML. A fresh instance holds the defaults.
/// </summary>
public sealed class GaussianModelOptions : IValidatableOptions
{
    [Option("Latent height; frames are 8x taller.", Min = 1, Max = 256, FrameSide = FrameSide.Height, PixelsPerUnit = 8)]
    public int Height { get; set; } = 8;

    [Option("Latent width; frames are 8x wider.", Min = 1, Max = 256, FrameSide = FrameSide.Width, PixelsPerUnit = 8)]
    public int Width { get; set; } = 8;

    [Option("Frames per denoiser call: the window f the model was 'trained' on.", Min = 1, Max = 64)]
    public int Frames { get; set; } = 8;

    [Option("Spread of the data around the prompt's colour, in latent units (0 = a flat colour).", Min = 0, Max = 4)]
    public double Spread { get; set; } = 0.2;

    // Named "device" so New-FifoVideo -Device reaches it, as -ModelPath reaches an option named "path".
    [Option("Torch device: cpu, cuda or cuda:N.", ChangesFrames = false)]
    public string Device { get; set; } = "cpu";

    public IEnumerable<OptionProblem> Validate()
    {
        if (Height < 1 || Width < 1) yield return new(Height < 1 ? "height" : "width", $"The latent size {Height}x{Width} is empty; use positive sizes.");
        if (Frames < 1) yield return new("frames", $"frames is {Frames}; a window needs at least 1 frame.");
        if (!(Spread >= 0) || double.IsInfinity(Spread)) yield return new("spread", $"spread is {Spread}; use a finite value >= 0.");
        if (ModelDevices.ParseDevice(Device) is null)
            yield return new("device", $"device '{Device}' is not one device; use cpu, cuda or cuda:N.");
    }
}
