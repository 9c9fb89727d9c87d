using FifoPipes.Abstractions;

namespace FifoPipes.Models.Analytic.Quality;

/// <summary>
/// The configuration of a quality study on the analytic prior. Every latent channel is an independent stream of
/// the same prior (all channels get the same sigma), so <see cref="Streams"/> channels measure that many
/// independent videos for nearly the price of one.
/// </summary>
public sealed class QualityStudyOptions : IValidatableOptions
{
    /// <summary>Latent height and width.</summary>
    public int Height { get; set; } = 8;
    public int Width { get; set; } = 8;
    /// <summary>Independent streams, run as the model's latent channels.</summary>
    public int Streams { get; set; } = 16;
    /// <summary>The model's window f (frames per denoiser call).</summary>
    public int WindowFrames { get; set; } = 8;
    /// <summary>The model's default partitions n; samplers default to S = n f steps.</summary>
    public int Partitions { get; set; } = 4;
    /// <summary>The model's default DDIM eta.</summary>
    public double Eta { get; set; } = 1.0;
    /// <summary>Output frames N of every run; the points are its whole stretches of <see cref="Every"/> frames (see <see cref="RemainderNote"/>).</summary>
    public int Frames { get; set; } = 2048;
    /// <summary>One point per whole stretch of this many frames (P); at least <see cref="MeasureFrames"/>, so every stretch holds whole windows.</summary>
    public int Every { get; set; } = 256;
    /// <summary>Frames per measured window (F) for the Frechet distance.</summary>
    public int MeasureFrames { get; set; } = 8;
    /// <summary>Frames between the starts of measured windows.</summary>
    public int WindowStride { get; set; } = 1;
    public long Seed { get; set; } = 1;
    /// <summary>The prior: spectral slope, corner frequency, persistence and drift (latent pixels per frame).</summary>
    public double Beta { get; set; } = 3.0;
    public double K0 { get; set; } = 0.1;
    public double T0 { get; set; } = 10.0;
    public double VelocityY { get; set; } = 0.25;
    public double VelocityX { get; set; } = -0.5;
    /// <summary>The prompt the runs use; the study pins its prior to the parameters above.</summary>
    public string Prompt { get; set; } = "quality study";

    /// <summary>The prior every stream follows.</summary>
    public PromptParameters Prior() =>
        new(Enumerable.Repeat(1.0, Streams).ToArray(), Beta, K0, T0, VelocityY, VelocityX);

    /// <summary>Measure exact samples of the prior too: the finite-sample floor every sampler is compared with.</summary>
    [Option("Also measure exact samples of the prior, the finite-sample floor.")]
    public bool IncludeExactPrior { get; set; } = true;

    /// <summary>
    /// Why the run's last frames get no point of their own, where <see cref="Frames"/> is not a multiple of <see cref="Every"/>;
    /// null where it is. A shorter stretch pools fewer windows, and the Frechet distance's finite-sample floor rises as
    /// windows get fewer, so it would read as drift beside the whole stretches.
    /// </summary>
    public string? RemainderNote()
    {
        int whole = Frames / Every, remainder = Frames % Every;
        return remainder == 0 ? null
            : $"{Frames} frames are not a multiple of every ({Every}): the points are the {whole} whole stretch{(whole == 1 ? "" : "es")} " +
              $"(frames 0-{whole * Every - 1}); the last {remainder} frame{(remainder == 1 ? " is" : "s are")} too few to compare with them and only complete the " +
              $"windows of the last stretch. Give frames {whole * Every} or {(whole + 1) * Every} to measure every frame.";
    }

    IEnumerable<OptionProblem> IValidatableOptions.Validate() => Problems();

    /// <summary>Throws <see cref="FifoInputException"/> naming the first bad setting.</summary>
    public void Check()
    {
        if (Problems().FirstOrDefault() is { } problem)
            throw new FifoInputException("BadQualityOption", $"Quality study option '{problem.Option}': {problem.Message}");
    }

    /// <summary>Each bad setting, under its own option's name (so a cmdlet parameter that set it is the one named).</summary>
    IEnumerable<OptionProblem> Problems()
    {
        if (Height < 2 || Width < 2) yield return new("height/width", $"the latent {Height}x{Width} is too small; use at least 2x2 (8x8 is typical).");
        if (Streams < 1) yield return new("streams", $"{Streams} streams; use at least 1.");
        if (WindowFrames < 2) yield return new("windowFrames", $"{WindowFrames}; use at least 2.");
        if (Partitions < 1 || Partitions * WindowFrames > 1000) yield return new("partitions", $"{Partitions} x {WindowFrames} frames must be 1..1000 steps.");
        if (Eta < 0 || Eta > 1) yield return new("eta", $"{Eta} is outside 0..1.");
        if (MeasureFrames < 1) yield return new("measureFrames", $"{MeasureFrames}; use at least 1.");
        if (Frames < MeasureFrames + 1 || Frames < 2)
            yield return new("frames", $"{Frames} frames is too short to measure windows of {MeasureFrames} (measureFrames) in; give at least {Math.Max(2, MeasureFrames + 1)}.");
        if (Every < 2 || Every > Frames) yield return new("every", $"{Every} must be within 2..frames ({Frames}).");
        // A stretch shorter than a window leaves the last stretches no window that fits in the run: their distance is NaN.
        else if (Every < MeasureFrames)
            yield return new("every", $"a point every {Every} frames is shorter than the measured window of {MeasureFrames} frames (measureFrames); " +
                                      $"give every at least {MeasureFrames}, or measureFrames at most {Every}.");
        if (WindowStride < 1) yield return new("windowStride", $"{WindowStride}; use at least 1.");
        if (Beta < 0 || K0 <= 0 || T0 <= 0 || !double.IsFinite(VelocityY) || !double.IsFinite(VelocityX))
            yield return new("prior", "beta must be >= 0, k0 and T0 positive, the velocity finite.");
    }
}

public static class QualityCandidates
{
    /// <summary>Exact samples of the prior: the finite-sample floor of every statistic.</summary>
    public static QualityCandidate ExactPrior(string name = "exact prior") => new(name, new ExactPriorSampler());
}
