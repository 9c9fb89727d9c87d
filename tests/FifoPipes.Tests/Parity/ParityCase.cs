using System.Text.Json;
using FifoPipes.Torch.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Parity;

/// <summary>One folder of golden tensors under the parity root: case.json plus io.safetensors.</summary>
public sealed class ParityCase
{
    ParityCase(string root, string folder, JsonElement json)
    {
        Folder = folder;
        Json = json;
        Name = Path.GetRelativePath(root, folder).Replace(Path.DirectorySeparatorChar, '/');
    }

    public string Folder { get; }
    public JsonElement Json { get; }
    /// <summary>The folder below the root, e.g. "fifo/ld_eta1_cfg12_f4_n2": unique however deep the cases are nested.</summary>
    public string Name { get; }
    public string Component => Json.GetProperty("component").GetString()!;
    public JsonElement Config => Json.GetProperty("config");
    public double Atol => Json.TryGetProperty("atol", out var a) ? a.GetDouble() : 1e-5;
    public double Rtol => Json.TryGetProperty("rtol", out var r) ? r.GetDouble() : 1e-5;
    public IReadOnlyList<string> Inputs => Strings("inputs");
    public IReadOnlyList<string> Outputs => Strings("outputs");

    /// <summary>The weights file: case.json "weights" (relative to the case folder) or weights.safetensors.</summary>
    public string WeightsPath => Path.GetFullPath(Path.Combine(Folder,
        Json.TryGetProperty("weights", out var w) && w.ValueKind == JsonValueKind.String ? w.GetString()! : "weights.safetensors"));

    public string File(string relative) => Path.GetFullPath(Path.Combine(Folder, relative));

    ReadRecordingDictionary? io;
    /// <summary>Named inputs and expected outputs (loaded once, kept for the case's lifetime); what a runner reads is recorded.</summary>
    public IReadOnlyDictionary<string, Tensor> Io => io ??= new ReadRecordingDictionary(SafetensorsFile.Load(File("io.safetensors")));

    /// <summary>The declared outputs no runner has read: each one a comparison that never ran.</summary>
    public IReadOnlyList<string> UnreadOutputs => Outputs.Where(o => io is null || !io.Read.Contains(o)).ToList();

    public Tensor this[string name] => Io.TryGetValue(name, out var t) ? t
        : throw new KeyNotFoundException($"{Name}: io.safetensors has no tensor '{name}'.");

    IReadOnlyList<string> Strings(string property) =>
        Json.TryGetProperty(property, out var a) && a.ValueKind == JsonValueKind.Array
            ? a.EnumerateArray().Select(e => e.GetString()!).ToList()
            : Array.Empty<string>();

    public static string Root => Environment.GetEnvironmentVariable("FIFOPIPES_PARITY_DIR") is { Length: > 0 } dir
        ? Path.GetFullPath(dir)
        : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "parity"));

    /// <summary>The repository root: the first ancestor of the test binaries holding FifoPipes.sln.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (System.IO.File.Exists(Path.Combine(d.FullName, "FifoPipes.sln"))) return d.FullName;
            throw new DirectoryNotFoundException("FifoPipes.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static IEnumerable<ParityCase> Discover() => Discover(Root);

    /// <summary>Every case under <paramref name="root"/> (the speed benchmark's --smoke folder links this file too).</summary>
    public static IEnumerable<ParityCase> Discover(string root)
    {
        if (!Directory.Exists(root)) yield break;
        foreach (var caseJson in Directory.EnumerateFiles(root, "case.json", SearchOption.AllDirectories).OrderBy(p => p, StringComparer.Ordinal))
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(caseJson));
            yield return new ParityCase(root, Path.GetDirectoryName(caseJson)!, doc.RootElement.Clone());
        }
    }

    public static ParityCase Load(string name) =>
        Discover().FirstOrDefault(c => c.Name == name) ?? throw new DirectoryNotFoundException($"Parity case {name} not found under {Root}.");
}

/// <summary>The case's tensors, remembering which were looked up by name (or enumerated, which may compare them all).</summary>
sealed class ReadRecordingDictionary(Dictionary<string, Tensor> inner) : IReadOnlyDictionary<string, Tensor>
{
    public HashSet<string> Read { get; } = new(StringComparer.Ordinal);

    public Tensor this[string key]
    {
        get { Read.Add(key); return inner[key]; }
    }

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out Tensor value)
    {
        Read.Add(key);
        return inner.TryGetValue(key, out value);
    }

    public bool ContainsKey(string key) => inner.ContainsKey(key);
    public IEnumerable<string> Keys => inner.Keys;
    public IEnumerable<Tensor> Values { get { Read.UnionWith(inner.Keys); return inner.Values; } }
    public int Count => inner.Count;

    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator()
    {
        Read.UnionWith(inner.Keys);
        return inner.GetEnumerator();
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
