using FifoPipes.Tests.Parity;
using FifoPipes.Tests.Sampling;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// "fifo.trajectory": whole FIFO-Diffusion runs of the official sampler, replayed through our FIFO
/// sampler with the tiny VideoCrafter UNet and the recorded noise; every popped latent is compared, after the
/// schedule, the slots and the UNet's iteration-0 windows (<see cref="FifoCaseRecords"/>). Cases with the official
/// base clip also sample that clip themselves (base DDIM with the x0 scale).
/// </summary>
public sealed class FifoTrajectoryParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "fifo.trajectory" };

    public void Run(ParityCase parityCase)
    {
        FifoCaseRecords.StepTableMatches(parityCase);
        FifoCaseRecords.SlotsAndWindowsMatch(parityCase);
        var replay = new FifoTrajectoryReplay(parityCase);
        using var unet = TinyUNetDenoiser.ForCase(parityCase);
        FifoCaseRecords.IterationZeroWindowsMatch(parityCase, unet);
        long fps = parityCase["fps"].data<long>()[0];
        var cond = parityCase["cond/context"];
        var uncond = parityCase["uncond/context"];
        int iterations = parityCase.Config.GetProperty("derived").GetProperty("num_iterations").GetInt32();

        Tensor Denoise(Tensor x, Tensor t, IReadOnlyList<FifoPipes.Abstractions.Conditioning> conditioning)
        {
            using var scope = NewDisposeScope();
            var context = cat(conditioning.Select(c => c.Prompt.Length == 0 ? uncond : cond).ToList(), 0);
            using (inference_mode()) return unet.Eps(x, t, context, fps).MoveToOuterDisposeScope();
        }

        replay.Replay(Denoise, iterations, fromBaseClip: replay.HasBaseRecord);
    }
}
