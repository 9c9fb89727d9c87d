using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.UNets;

/// <summary>
/// A diagnostic seam for profilers: when <see cref="Observer"/> is set, every UNet layer call (each layer of a
/// <see cref="FrameBlock"/>, and the temporal conv stack inside a ResBlock) goes through it, so a profiler can
/// synchronise the device around it and time it. Null in normal runs, where it costs one null check per layer.
/// Per thread: it sees the calls made on the thread that set it, so a profiled run leaves concurrent runs alone.
/// TorchSharp's module hooks only fire through <c>call()</c>, which these layers do not use.
/// </summary>
public static class LayerTiming
{
    [ThreadStatic] static Func<nn.Module, Tensor, Func<Tensor>, Tensor>? observer;

    /// <summary>Called as (layer, input, run) in place of the layer call; it should call run() once and return its result. Set per thread; null for none.</summary>
    public static Func<nn.Module, Tensor, Func<Tensor>, Tensor>? Observer
    {
        get => observer;
        set => observer = value;
    }

    /// <summary>call(input, state), through the observer when one is set; without one, nothing is allocated.</summary>
    internal static Tensor Run<TState>(nn.Module layer, Tensor input, TState state, Func<Tensor, TState, Tensor> call) =>
        observer is { } watching ? watching(layer, input, () => call(input, state)) : call(input, state);
}
