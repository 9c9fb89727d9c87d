using FifoPipes.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// The fifo fixtures' iteration-0 UNet outputs (debug/it0/rank r: x_in → eps_cond, eps_uncond) are the
/// tiny UNet in per-frame mode: the window's timesteps are slot_t[start, start + f).
/// </summary>
public sealed class TinyUNetDenoiserTests
{
    public static TheoryData<string> FifoCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in ParityCase.Discover().Where(c => c.Component == "fifo.trajectory")) data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(FifoCases))]
    public void Iteration_zero_windows_match_the_reference_unet(string name)
    {
        var fifoCase = ParityCase.Load(name);
        var config = fifoCase.Config;
        int f = config.GetProperty("video_length").GetInt32();
        int n = config.GetProperty("num_partitions").GetInt32();
        bool lookahead = config.GetProperty("lookahead_denoising").GetBoolean();
        bool guided = config.GetProperty("unconditional_guidance_scale").GetDouble() != 1.0;
        long fps = config.GetProperty("fps").GetInt64();
        int windows = lookahead ? 2 * n : n, stride = lookahead ? f / 2 : f;
        const double atol = 2e-5, rtol = 1e-4; // README: debug/* agree to about 1e-6 across valid float32 variants

        using var denoiser = TinyUNetDenoiser.ForCase(fifoCase);
        _ = fifoCase.Io;
        var slotT = fifoCase["slot_t"];
        var cond = fifoCase["cond/context"];
        var uncond = fifoCase["uncond/context"];
        for (int r = 0; r < windows; r++)
        {
            using var scope = NewDisposeScope();
            string prefix = $"debug/it0/rank{r}/";
            var x = fifoCase[prefix + "x_in"];
            var t = slotT.narrow(0, r * stride, f).reshape(1, f);
            var epsCond = denoiser.Eps(x, t, cond, fps);
            if (guided)
            {
                TensorAssert.Close(fifoCase[prefix + "eps_cond"], epsCond, atol, rtol, $"{name} rank {r} eps_cond");
                TensorAssert.Close(fifoCase[prefix + "eps_uncond"], denoiser.Eps(x, t, uncond, fps), atol, rtol, $"{name} rank {r} eps_uncond");
            }
            else
            {
                TensorAssert.Close(fifoCase[prefix + "eps"], epsCond, atol, rtol, $"{name} rank {r} eps");
            }
        }
    }
}
