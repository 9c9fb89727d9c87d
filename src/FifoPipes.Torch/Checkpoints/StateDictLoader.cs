using FifoPipes.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>How checkpoint names map onto a module's own state_dict names.</summary>
public sealed record StateDictMapping
{
    /// <summary>Only keys starting with this are taken, and it is stripped (e.g. "first_stage_model.").</summary>
    public string Prefix { get; init; } = "";
    /// <summary>Applied in order after the prefix is stripped: each (From, To) replaces a leading From by To.</summary>
    public IReadOnlyList<(string From, string To)> Renames { get; init; } = Array.Empty<(string, string)>();
    /// <summary>Module names the checkpoint is allowed to lack or to hold without being an error (e.g. unused heads).</summary>
    public IReadOnlySet<string> Ignored { get; init; } = new HashSet<string>();
    /// <summary>Missing, unexpected and wrongly shaped keys are all errors (the default, as the reference loads).</summary>
    public bool Strict { get; init; } = true;

    /// <summary>The module name for a checkpoint key, or null when the key is not for this module.</summary>
    public string? Map(string checkpointKey)
    {
        if (!checkpointKey.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        var name = checkpointKey[Prefix.Length..];
        foreach (var (from, to) in Renames)
            if (name.StartsWith(from, StringComparison.Ordinal)) name = to + name[from.Length..];
        return name;
    }
}

/// <summary>
/// Copies a stream of named tensors into a module's parameters and buffers. Each source tensor is
/// disposed as soon as it is copied (the copy casts to the module's dtype and device), so loading a
/// large checkpoint needs little more than the module itself.
/// </summary>
public static class StateDictLoader
{
    /// <summary>
    /// <paramref name="module"/> after <paramref name="load"/> filled it, or disposed when loading failed: a network
    /// built on a GPU for a checkpoint that turned out bad must not hold its memory until a finalizer runs.
    /// </summary>
    public static T LoadedOrDisposed<T>(T module, Action<T> load) where T : nn.Module
    {
        try
        {
            load(module);
            return module;
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <returns>The module names that were loaded.</returns>
    public static IReadOnlySet<string> Load(nn.Module module, IEnumerable<(string Name, Tensor Tensor)> source, StateDictMapping mapping, string sourceName)
    {
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters()) targets[name] = p;
        foreach (var (name, b) in module.named_buffers()) targets.TryAdd(name, b);

        var loaded = new HashSet<string>(StringComparer.Ordinal);
        var unexpected = new List<string>();
        var wrongShape = new List<string>();
        var misshapen = new HashSet<string>(StringComparer.Ordinal);
        using (no_grad())
        {
            foreach (var (key, tensor) in source)
            {
                using var owned = tensor;
                LoadCancellation.Current.ThrowIfCancellationRequested();
                var name = mapping.Map(key);
                if (name is null) continue;
                if (!targets.TryGetValue(name, out var target))
                {
                    if (!mapping.Ignored.Contains(name)) unexpected.Add(key);
                    continue;
                }
                if (!target.shape.SequenceEqual(tensor.shape))
                {
                    misshapen.Add(name);
                    wrongShape.Add($"{key}: checkpoint [{string.Join(", ", tensor.shape)}], model [{string.Join(", ", target.shape)}]");
                    continue;
                }
                target.copy_(tensor);
                loaded.Add(name);
            }
        }
        var missing = targets.Keys.Where(k => !loaded.Contains(k) && !misshapen.Contains(k) && !mapping.Ignored.Contains(k)).Select(k => mapping.Prefix + k).ToList();
        if (wrongShape.Count > 0 || (mapping.Strict && (missing.Count > 0 || unexpected.Count > 0)))
            throw new FifoInputException("CheckpointMismatch", Describe(sourceName, mapping.Prefix, missing, unexpected, wrongShape));
        return loaded;
    }

    static string Describe(string sourceName, string prefix, List<string> missing, List<string> unexpected, List<string> wrongShape)
    {
        var parts = new List<string> { $"'{sourceName}' does not match the model{(prefix.Length > 0 ? $" (keys under '{prefix}')" : "")}; is it the right checkpoint for this model and configuration?" };
        if (missing.Count > 0) parts.Add($"{missing.Count} missing: {List(missing)}");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected: {List(unexpected)}");
        if (wrongShape.Count > 0) parts.Add($"{wrongShape.Count} with the wrong shape: {List(wrongShape)}");
        return string.Join(Environment.NewLine, parts);
    }

    static string List(List<string> items) =>
        string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count - 20} more)" : "");
}
