using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// Where a checkpoint tensor goes in our module: its name there and, for a Linear weight [out, in] that we
/// hold as a 1×1 convolution, how many trailing unit axes to add ([out, in, 1] for Conv1d, [out, in, 1, 1] for Conv2d).
/// </summary>
public sealed record MappedKey(string Key, int ConvUnitAxes = 0);

/// <summary>Renames (and reshapes) a stream of checkpoint tensors on the fly, for <see cref="Checkpoints.StateDictLoader"/>.</summary>
public static class KeyRenaming
{
    /// <summary>
    /// Applies <paramref name="map"/> to every key. A null result drops the tensor (keys the reference
    /// itself ignores on load, e.g. transformers' position_ids buffer); unknown keys should map to
    /// themselves so strict loading reports them.
    /// </summary>
    public static IEnumerable<(string Name, Tensor Tensor)> Apply(IEnumerable<(string Name, Tensor Tensor)> source, Func<string, MappedKey?> map)
    {
        foreach (var (name, tensor) in source)
        {
            var mapped = map(name);
            if (mapped is null)
            {
                tensor.Dispose();
                continue;
            }
            if (mapped.ConvUnitAxes > 0 && tensor.dim() == 2)
            {
                var reshaped = tensor.reshape(tensor.shape.Concat(Enumerable.Repeat(1L, mapped.ConvUnitAxes)).ToArray());
                tensor.Dispose();
                yield return (mapped.Key, reshaped);
            }
            else
            {
                yield return (mapped.Key, tensor);
            }
        }
    }
}
