using FifoPipes.Abstractions;
using FifoPipes.Core;
using static TorchSharp.torch;

namespace FifoPipes.Hosting.Engine;

/// <summary>Start images and short videos, encoded to the model's latents for the sampler's "latents" start.</summary>
public static class InitFrames
{
    /// <summary>The start frames as latents of the video's first prompt (<see cref="IVideoModel.EncodeFrames(Tensor, string)"/>).</summary>
    public static Tensor Encode(IVideoModel model, string path, string firstPrompt)
    {
        using var rgb = ImageFiles.LoadFrames(path, model.Info.PixelWidth, model.Info.PixelHeight, maxFrames: model.Info.WindowFrames);
        using (inference_mode()) return model.EncodeFrames(rgb, firstPrompt);
    }
}
