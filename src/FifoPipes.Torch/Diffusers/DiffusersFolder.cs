using System.Text.Json;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Diffusers;

/// <summary>
/// A diffusers pipeline folder (what <c>DiffusionPipeline.save_pretrained</c> writes and the Hugging Face hub
/// serves): <c>model_index.json</c> naming the components, one sub-folder per component with its
/// <c>config.json</c> (or <c>scheduler_config.json</c>) and weights.
/// </summary>
public sealed class DiffusersFolder
{
    /// <summary>The file in the root that makes a folder a diffusers pipeline and names its components.</summary>
    public const string ModelIndexFile = "model_index.json";

    DiffusersFolder(string root, JsonElement modelIndex)
    {
        Root = root;
        ModelIndex = modelIndex;
    }

    /// <summary>The folder's full path.</summary>
    public string Root { get; }
    /// <summary>The parsed model_index.json (a JSON object).</summary>
    public JsonElement ModelIndex { get; }
    /// <summary>The pipeline class (model_index.json "_class_name"), e.g. TextToVideoSDPipeline.</summary>
    public string PipelineClass => ModelIndex.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";

    /// <summary>Opens <paramref name="root"/>; throws "DiffusersFolderNotFound" when it is not a diffusers folder.</summary>
    public static DiffusersFolder Open(string root)
    {
        root = Path.GetFullPath(root);
        if (File.Exists(root))
            throw new FifoInputException("DiffusersFolderNotFound",
                $"'{root}' is a file; this model loads a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/): pass the folder's path.");
        if (!Directory.Exists(root))
            throw new FifoInputException("DiffusersFolderNotFound", $"Model folder '{root}' does not exist; download the diffusers folder (see docs/models) and pass its path.");
        var indexPath = Path.Combine(root, ModelIndexFile);
        if (!File.Exists(indexPath))
            throw new FifoInputException("DiffusersFolderNotFound",
                $"'{root}' has no {ModelIndexFile}, so it is not a diffusers model folder; pass the folder that holds model_index.json, unet/, vae/, text_encoder/, tokenizer/ and scheduler/.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("not an object");
            return new DiffusersFolder(root, doc.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw new FifoInputException("DiffusersConfigInvalid", $"'{indexPath}' is not a valid model index ({ex.Message}); re-download it.", ex);
        }
    }

    /// <summary>(library, class) of a component as model_index.json lists it, e.g. ("diffusers", "UNet3DConditionModel"); null when absent.</summary>
    public (string Library, string Class)? Component(string name) =>
        ModelIndex.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 2
            && v[0].ValueKind == JsonValueKind.String && v[1].ValueKind == JsonValueKind.String
            ? (v[0].GetString()!, v[1].GetString()!)
            : null;

    /// <summary>Checks that model_index.json lists <paramref name="name"/> with class <paramref name="expectedClass"/>, and returns its folder.</summary>
    public string RequireComponent(string name, string expectedClass)
    {
        var component = Component(name);
        if (component is null)
            throw new FifoInputException("DiffusersComponentMissing", $"{Path.Combine(Root, ModelIndexFile)} lists no '{name}' component; this folder is not a {expectedClass}-based pipeline.");
        if (component.Value.Class != expectedClass)
            throw new FifoInputException("DiffusersComponentUnsupported",
                $"{Path.Combine(Root, ModelIndexFile)}: component '{name}' is a {component.Value.Class}; only {expectedClass} is supported here.");
        var folder = Path.Combine(Root, name);
        if (!Directory.Exists(folder))
            throw new FifoInputException("DiffusersComponentMissing", $"'{folder}' is missing; download the whole model folder (every component folder).");
        return folder;
    }

    /// <summary>Reads <paramref name="fileName"/> in the <paramref name="component"/> folder (<c>scheduler_config.json</c> for a scheduler); throws "DiffusersFileMissing" or "DiffusersConfigInvalid".</summary>
    public DiffusersConfig Config(string component, string fileName = "config.json") => DiffusersConfig.Load(Path.Combine(Root, component, fileName));

    /// <summary>Finds the weights of a component (see <see cref="DiffusersWeights.Find"/>).</summary>
    public DiffusersWeights Weights(string component, string? variant = null) => DiffusersWeights.Find(Path.Combine(Root, component), variant);

    /// <summary>
    /// As diffusers' <c>variant=</c>: the variant's files where the component has them, its plain files where it was
    /// published without (zeroscope ships fp16 only for some components).
    /// </summary>
    public DiffusersWeights WeightsPreferring(string component, string? variant) =>
        DiffusersWeights.Find(Path.Combine(Root, component), variant, plainWithoutVariant: true);
}

/// <summary>
/// The weight files of one component: a single .safetensors or .bin (torch zip pickle), or the shards
/// an index.json lists; <see cref="Variant"/> is e.g. "fp16" for <c>diffusion_pytorch_model.fp16.safetensors</c>.
/// </summary>
public sealed record DiffusersWeights(string Folder, IReadOnlyList<string> Files, string? Variant)
{
    /// <summary>diffusers models, transformers safetensors, transformers pickles.</summary>
    static readonly string[] BaseNames = { "diffusion_pytorch_model", "model", "pytorch_model" };

    /// <summary>
    /// Resolves the weights as diffusers does: safetensors before .bin, single file before shards, the
    /// requested variant only (or, with <paramref name="plainWithoutVariant"/>, the plain files where the variant has
    /// none). With no variant requested and no plain file present, a single variant (e.g. only fp16 files downloaded) is
    /// taken; <see cref="Variant"/> says which.
    /// </summary>
    public static DiffusersWeights Find(string folder, string? variant = null, bool plainWithoutVariant = false)
    {
        if (!Directory.Exists(folder))
            throw new FifoInputException("DiffusersComponentMissing", $"'{folder}' is missing; download the whole model folder.");
        variant = string.IsNullOrWhiteSpace(variant) ? null : variant.Trim();
        var found = TryFind(folder, variant);
        if (found is not null) return found;
        if (variant is not null && plainWithoutVariant) return Find(folder);
        if (variant is null)
        {
            var variants = Directory.EnumerateFiles(folder)
                .Select(f => VariantOf(Path.GetFileName(f))).Where(v => v is not null).Distinct().ToList();
            if (variants.Count == 1 && TryFind(folder, variants[0]) is { } onlyVariant) return onlyVariant;
        }
        var present = string.Join(", ", Directory.EnumerateFiles(folder).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal));
        throw new FifoInputException("DiffusersWeightsMissing",
            $"'{folder}' has no {(variant is null ? "" : $"'{variant}' variant ")}weights (looked for {BaseNames[0]}{(variant is null ? "" : "." + variant)}.safetensors/.bin, " +
            $"model.safetensors, pytorch_model.bin and their sharded index.json); it holds: {(present.Length == 0 ? "nothing" : present)}. " +
            "Download the weight files (git lfs pull, or huggingface-cli download) or pick the variant that is there.");
    }

    static DiffusersWeights? TryFind(string folder, string? variant)
    {
        string v = variant is null ? "" : "." + variant;
        foreach (var extension in new[] { ".safetensors", ".bin" })
        {
            foreach (var baseName in BaseNames)
            {
                var single = Path.Combine(folder, baseName + v + extension);
                if (File.Exists(single) && !IsLfsPointer(single)) return new DiffusersWeights(folder, new[] { single }, variant);
                foreach (var indexName in new[] { $"{baseName}{extension}.index{v}.json", $"{baseName}{v}{extension}.index.json" })
                {
                    var index = Path.Combine(folder, indexName);
                    if (File.Exists(index)) return new DiffusersWeights(folder, Shards(index), variant);
                }
            }
        }
        return null;
    }

    static string? VariantOf(string fileName)
    {
        foreach (var baseName in BaseNames)
            foreach (var extension in new[] { ".safetensors", ".bin" })
                if (fileName.StartsWith(baseName + ".", StringComparison.Ordinal) && fileName.EndsWith(extension, StringComparison.Ordinal))
                {
                    var middle = fileName[(baseName.Length + 1)..^extension.Length];
                    if (middle.Length > 0 && !middle.Contains('.') && !middle.Contains('-')) return middle;
                }
        return null;
    }

    /// <summary>A git-lfs pointer instead of the weights: the clone was made without git lfs.</summary>
    static bool IsLfsPointer(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > 1024) return false;
        var text = File.ReadAllText(path);
        if (!text.StartsWith("version https://git-lfs", StringComparison.Ordinal)) return false;
        throw new FifoInputException("DiffusersWeightsMissing",
            $"'{path}' is a git-lfs pointer, not the weights: run 'git lfs pull' in the model folder (or download with huggingface-cli).");
    }

    static IReadOnlyList<string> Shards(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new JsonException("no weight_map object");
            var folder = Path.GetDirectoryName(indexPath)!;
            var files = map.EnumerateObject().Select(p => ShardName(p))
                .Distinct(StringComparer.Ordinal).Select(f => Path.Combine(folder, f)).ToList();
            // A load would stream nothing and then fail to find every tensor; an index is written with one shard at least.
            if (files.Count == 0) throw new JsonException("its weight_map lists no shards");
            var missing = files.Where(f => !File.Exists(f)).ToList();
            if (missing.Count > 0)
                throw new FifoInputException("DiffusersWeightsMissing", $"'{indexPath}' lists shards that are missing: {string.Join(", ", missing.Select(Path.GetFileName))}; download them.");
            return files;
        }
        catch (JsonException ex)
        {
            throw new FifoInputException("DiffusersConfigInvalid", $"'{indexPath}' is not a valid shard index ({ex.Message}); re-download it.", ex);
        }
    }

    /// <summary>
    /// A weight_map value: the name of a shard beside the index (as save_pretrained writes it), never a path elsewhere,
    /// which a damaged or hostile index could otherwise make us read.
    /// </summary>
    static string ShardName(JsonProperty entry) =>
        entry.Value.ValueKind == JsonValueKind.String && entry.Value.GetString() is { Length: > 0 } name && Path.GetFileName(name) == name && name is not ("." or "..")
            ? name
            : throw new JsonException($"weight_map['{entry.Name}'] = {entry.Value.GetRawText()} is not the file name of a shard in the same folder");

    /// <summary>Reads every file's index, not its tensors (<see cref="WeightFiles.ReadIndex"/>): a damaged download fails as its load would.</summary>
    public void ReadIndexes()
    {
        foreach (var file in Files) WeightFiles.ReadIndex(file);
    }

    /// <summary>A readable name for messages: the file, or the first shard and a count.</summary>
    public string Describe() => Files.Count switch
    {
        // Find never gives no files; a record built by hand may.
        0 => $"'{Folder}' (no weight files)",
        1 => Files[0],
        _ => $"{Files[0]} (+{Files.Count - 1} more shards)",
    };

    /// <summary>
    /// Yields every tensor of every file, one at a time, floating ones cast to <paramref name="dtype"/> when given.
    /// The consumer owns (and disposes) each tensor.
    /// </summary>
    public IEnumerable<(string Name, Tensor Tensor)> Stream(ScalarType? dtype = null)
    {
        foreach (var file in Files)
        {
            if (file.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                foreach (var item in SafetensorsFile.Stream(file, dtype)) yield return item;
            }
            else
            {
                using var checkpoint = TorchZipCheckpoint.Open(file);
                foreach (var item in checkpoint.Stream(dtype)) yield return item;
            }
        }
    }
}
