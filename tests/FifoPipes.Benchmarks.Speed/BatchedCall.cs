using FifoPipes.Models.VideoCrafter;
using static TorchSharp.torch;

namespace FifoPipes.Benchmarks.Speed;

/// <summary>
/// The UNet call that --profile and --ops measure: --rows rows (windows x guidance branches) of one window of the
/// preset's latents, in --dtype on the first --device.
/// </summary>
public sealed record BatchedCall(VideoCrafterPreset Preset, Device Device, ScalarType DType, long Rows, long Frames, long Height, long Width)
{
    public static BatchedCall From(BenchOptions options)
    {
        var preset = options.ResolvePreset();
        return new BatchedCall(preset, options.Devices[0], options.ScalarType, options.ProfileRows, preset.WindowFrames,
            preset.Height / preset.SpatialScale, preset.Width / preset.SpatialScale);
    }

    /// <summary>Waits for the device's queued work (nothing to wait for on the CPU).</summary>
    public void Sync() => DeviceSync.All(devices ??= new[] { Device });

    Device[]? devices;
}
