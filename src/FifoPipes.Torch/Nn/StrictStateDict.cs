using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Nn;

/// <summary>How a set of checkpoint tensors differs from a module's state dict.</summary>
public sealed record StateDictMismatch(
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<(string Key, long[] Expected, long[] Actual)> WrongShape)
{
    /// <summary>Nothing missing, unexpected or of the wrong shape: a strict load would succeed.</summary>
    public bool IsEmpty => Missing.Count == 0 && Unexpected.Count == 0 && WrongShape.Count == 0;

    /// <summary>A readable list (the first <paramref name="perKind"/> of each kind, then a count).</summary>
    public string Describe(int perKind = 20)
    {
        var lines = new List<string>();
        void Add(string title, IReadOnlyList<string> items)
        {
            if (items.Count == 0) return;
            lines.Add($"{title} ({items.Count}):");
            lines.AddRange(items.Take(perKind).Select(i => "  " + i));
            if (items.Count > perKind) lines.Add($"  ... and {items.Count - perKind} more");
        }
        Add("missing keys", Missing);
        Add("unexpected keys", Unexpected);
        Add("wrong shapes", WrongShape.Select(w => $"{w.Key}: checkpoint [{string.Join(", ", w.Actual)}], model [{string.Join(", ", w.Expected)}]").ToList());
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>
/// Strict state-dict loading: every key of the module must be present with its exact shape and no
/// extra key may appear (as torch's load_state_dict(strict=True)); values are cast to each
/// parameter's dtype and device as they are copied.
/// </summary>
public static class StrictStateDict
{
    /// <summary>The module's state dict as key → shape, in registration order.</summary>
    public static IReadOnlyList<(string Key, long[] Shape)> Shapes(nn.Module module) =>
        module.state_dict().Select(kv => (kv.Key, kv.Value.shape)).ToList();

    /// <summary>The module's state dict (every parameter and buffer, exact shapes) against a checkpoint's key → shape.</summary>
    public static StateDictMismatch Compare(nn.Module module, IReadOnlyDictionary<string, long[]> checkpointShapes) =>
        Compare(Shapes(module).Select(o => (o.Key, (long[]?)o.Shape)).ToList(), checkpointShapes);

    /// <summary>Expected keys and shapes against a checkpoint's; a null shape takes any (a buffer whose length varies).</summary>
    public static StateDictMismatch Compare(IReadOnlyList<(string Key, long[]? Shape)> expected, IReadOnlyDictionary<string, long[]> checkpointShapes)
    {
        var expectedKeys = expected.Select(o => o.Key).ToHashSet(StringComparer.Ordinal);
        var missing = expected.Where(o => !checkpointShapes.ContainsKey(o.Key)).Select(o => o.Key).ToList();
        var unexpected = checkpointShapes.Keys.Where(k => !expectedKeys.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var wrong = expected.Where(o => o.Shape is not null && checkpointShapes.TryGetValue(o.Key, out var s) && !s.SequenceEqual(o.Shape))
            .Select(o => (o.Key, o.Shape!, checkpointShapes[o.Key])).ToList();
        return new StateDictMismatch(missing, unexpected, wrong);
    }

    /// <summary>
    /// Copies <paramref name="tensors"/> (keys relative to the module) into the module after checking
    /// keys and shapes. Throws <see cref="FifoInputException"/> "CheckpointKeysMismatch" naming every difference.
    /// </summary>
    public static void Load(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var mismatch = Compare(module, tensors.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal));
        if (!mismatch.IsEmpty)
            throw new FifoInputException("CheckpointKeysMismatch",
                $"{source} does not match the {module.GetName()} model built from the configuration:{Environment.NewLine}{mismatch.Describe()}{Environment.NewLine}" +
                "Check that the checkpoint and the model preset/config belong together.");
        using var noGrad = no_grad();
        foreach (var (key, target) in module.state_dict())
            target.copy_(tensors[key]);
    }
}
