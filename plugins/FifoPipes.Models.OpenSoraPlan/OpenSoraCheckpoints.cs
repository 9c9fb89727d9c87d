using System.Text.Json;
using FifoPipes.Abstractions;
using FifoPipes.Models.OpenSoraPlan.Latte;
using FifoPipes.Models.OpenSoraPlan.Vae;
using FifoPipes.Torch.Checkpoints;
using FifoPipes.Torch.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace FifoPipes.Models.OpenSoraPlan;

/// <summary>
/// Loads the released layouts: the transformer's and the VAE's diffusers folders (config.json plus
/// diffusion_pytorch_model.safetensors or .bin) and HF's T5 folder with sharded .bin or .safetensors weights.
/// Every file is streamed tensor by tensor and cast as it is read.
/// </summary>
public static class OpenSoraCheckpoints
{
    public const string WeightsName = "diffusion_pytorch_model";

    public static LatteT2V LoadTransformer(string folder, LatteConfig fallback, Device device, ScalarType dtype)
    {
        return StateDictLoader.LoadedOrDisposed(new LatteT2V(TransformerConfig(folder, fallback), device, dtype),
            model => LoadDiffusersWeights(model, folder, dtype, new StateDictMapping()));
    }

    public static CausalVae LoadVae(string folder, Device device, ScalarType dtype)
    {
        return StateDictLoader.LoadedOrDisposed(new CausalVae(VaeConfig(folder), device, dtype),
            model => LoadDiffusersWeights(model, folder, dtype, new StateDictMapping()));
    }

    /// <summary>The transformer folder's config.json, or <paramref name="fallback"/> (the preset's) when the folder has none.</summary>
    public static LatteConfig TransformerConfig(string folder, LatteConfig fallback) =>
        ReadConfig(folder, LatteConfig.FromReferenceArguments) ?? fallback;

    /// <summary>The VAE folder's config.json, or the released v1.1 VAE's when the folder has none.</summary>
    public static CausalVaeConfig VaeConfig(string folder) =>
        ReadConfig(folder, CausalVaeConfig.FromReferenceArguments) ?? CausalVaeConfig.OpenSoraPlanV1_1;

    /// <summary>
    /// The encoder half of a T5 checkpoint (a T5EncoderModel or a whole T5, whose decoder keys are skipped).
    /// HF may store the tied embedding once, as shared.weight or as encoder.embed_tokens.weight; both load it.
    /// </summary>
    public static T5EncoderModel LoadTextEncoder(string folder, Device device, ScalarType dtype)
    {
        var config = ReadConfig(folder, T5EncoderConfig.FromHuggingFace) ?? T5EncoderConfig.V1_1Xxl;
        var mapping = new StateDictMapping
        {
            Renames = new[] { ("encoder.embed_tokens.", "shared.") },
            Ignored = new HashSet<string>(StringComparer.Ordinal) { "encoder.embed_tokens.weight" },
        };
        static bool IsEncoderKey(string name) => name == "shared.weight" || name.StartsWith("encoder.", StringComparison.Ordinal);
        var shards = T5Shards(folder);
        return StateDictLoader.LoadedOrDisposed(new T5EncoderModel(config, device, dtype), model =>
        {
            StateDictLoader.Load(model, shards.SelectMany(s => ReadWeights(s, dtype, IsEncoderKey)), mapping, folder);
            model.eval();
        });
    }

    public static T5Tokenizer LoadTokenizer(string folder) => T5Tokenizer.Load(System.IO.Path.Combine(folder, "spiece.model"));

    static void LoadDiffusersWeights(nn.Module model, string folder, ScalarType dtype, StateDictMapping mapping)
    {
        var file = WeightsFile(folder);
        StateDictLoader.Load(model, ReadWeights(file, dtype, _ => true), mapping, file);
        model.eval();
    }

    /// <summary>The weights of a transformer or VAE folder as the release lays them out: safetensors, else .bin.</summary>
    public static string WeightsFile(string folder) =>
        FirstExisting(folder, WeightsName + ".safetensors", WeightsName + ".bin")
        ?? throw new FifoInputException("OpenSoraWeightsNotFound",
            $"'{folder}' holds no {WeightsName}.safetensors or .bin. Download the folder from LanguageBind/Open-Sora-Plan-v1.1.0 (see docs/models/opensora.md).");

    /// <summary>
    /// The text encoder's width against the captions the transformer takes, from their config.json files: another T5
    /// (flan-t5-xl, 2048 wide) would otherwise load and fail only at the first denoising step.
    /// </summary>
    public static void CheckTextEncoderFits(string textFolder, string transformerFolder, LatteConfig fallback)
    {
        var t5 = ReadConfig(textFolder, T5EncoderConfig.FromHuggingFace) ?? T5EncoderConfig.V1_1Xxl;
        var latte = ReadConfig(transformerFolder, LatteConfig.FromReferenceArguments) ?? fallback;
        if (t5.DModel != latte.CaptionChannels)
            throw new FifoInputException("OpenSoraTextEncoderMismatch",
                $"The text encoder in '{textFolder}' makes {t5.DModel}-wide embeddings, but the transformer in '{transformerFolder}' takes " +
                $"{latte.CaptionChannels}-wide captions. Point textEncoderPath at DeepFloyd/t5-v1_1-xxl (d_model 4096).");
    }

    /// <summary>
    /// Whether <paramref name="root"/> is a release folder holding the preset's transformer folder and vae/, checked before
    /// T5 is looked for inside it: a path one level too deep (a part of the release), a file, or another model's folder
    /// is named as what it is, not as a missing text encoder.
    /// </summary>
    public static void RequireReleaseFolder(string root, OpenSoraPreset preset)
    {
        string expected = $"give the Open-Sora Plan release folder, the one holding {preset.Folder}/ and vae/ (LanguageBind/Open-Sora-Plan-v1.1.0; see docs/models/opensora.md)";
        if (File.Exists(root))
            throw new FifoInputException("OpenSoraFolderNotFound", $"'{root}' is a file, not a folder: {expected}.");
        if (!Directory.Exists(root))
            throw new FifoInputException("OpenSoraFolderNotFound", $"Model folder '{root}' does not exist: {expected}.");
        if (Directory.Exists(System.IO.Path.Combine(root, preset.Folder)) && Directory.Exists(System.IO.Path.Combine(root, "vae"))) return;
        throw new FifoInputException("OpenSoraFolderNotFound", NotARelease(root, preset, expected) + ".");
    }

    static string NotARelease(string root, OpenSoraPreset preset, string expected)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(root));
        string name = System.IO.Path.GetFileName(full);
        if (name == "vae" || OpenSoraPreset.All.Any(p => string.Equals(p.Folder, name, StringComparison.OrdinalIgnoreCase)))
            return $"'{root}' is one part of a release (its {(name == "vae" ? "VAE" : "transformer")}); give the folder above it, '{System.IO.Path.GetDirectoryName(full)}'";
        if (File.Exists(System.IO.Path.Combine(root, "model_index.json")))
            return $"'{root}' is a diffusers pipeline folder (it has model_index.json), not an Open-Sora Plan release; a zeroscope folder is the zeroscope model's. Otherwise {expected}";
        bool hasTransformer = Directory.Exists(System.IO.Path.Combine(root, preset.Folder));
        if (!hasTransformer && OpenSoraPreset.All.FirstOrDefault(p => p != preset && Directory.Exists(System.IO.Path.Combine(root, p.Folder))) is { } other)
            return $"'{root}' holds {other.Folder}/ but not {preset.Folder}/: choose the preset {other.Name}, or download {preset.Folder}/ into it";
        return $"'{root}' holds no {(hasTransformer ? "vae" : preset.Folder)}/ folder: {expected}";
    }

    /// <summary>The weight files of an HF folder: the shards named by its index, or the single file.</summary>
    public static IReadOnlyList<string> T5Shards(string folder)
    {
        if (File.Exists(folder))
            throw new FifoInputException("OpenSoraTextEncoderNotFound",
                $"Text encoder path '{folder}' is a file, not a folder: give DeepFloyd/t5-v1_1-xxl's folder (config.json, spiece.model and the weights) as textEncoderPath.");
        if (!Directory.Exists(folder))
            throw new FifoInputException("OpenSoraTextEncoderNotFound",
                $"Text encoder folder '{folder}' does not exist. Download DeepFloyd/t5-v1_1-xxl and set textEncoderPath to it.");
        foreach (var index in new[] { "model.safetensors.index.json", "pytorch_model.bin.index.json" })
        {
            var indexPath = System.IO.Path.Combine(folder, index);
            if (!File.Exists(indexPath)) continue;
            var shards = ShardsNamedBy(indexPath).Select(s => System.IO.Path.Combine(folder, s)).ToList();
            var missing = shards.FirstOrDefault(s => !File.Exists(s));
            if (missing is not null)
                throw new FifoInputException("OpenSoraTextEncoderIncomplete", $"'{indexPath}' names the shard '{missing}', which is missing. Finish the download.");
            return shards;
        }
        var single = FirstExisting(folder, "model.safetensors", "pytorch_model.bin")
            ?? throw new FifoInputException("OpenSoraTextEncoderNotFound",
                $"'{folder}' holds no T5 weights (model.safetensors[.index.json] or pytorch_model.bin[.index.json]).");
        return new[] { single };
    }

    /// <summary>The shard files an HF index's weight_map names, each once.</summary>
    static IReadOnlyList<string> ShardsNamedBy(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new FifoInputException("OpenSoraTextEncoderCorrupt", $"'{indexPath}' has no weight_map. Download the index file again.");
            return map.EnumerateObject().Select(p => p.Value.GetString() ?? throw new InvalidOperationException($"'{p.Name}' maps to null")).Distinct().ToList();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new FifoInputException("OpenSoraTextEncoderCorrupt", $"'{indexPath}' is not a weight index ({ex.Message}). Download the index file again.", ex);
        }
    }

    static IEnumerable<(string Name, Tensor Tensor)> ReadWeights(string file, ScalarType dtype, Func<string, bool> select)
    {
        // Only the selected tensors are read and cast (T5's shards also hold its decoder, which is never used).
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return SafetensorsFile.Stream(file, dtype, select);
        return ReadTorchZip(file, dtype, select);
    }

    static IEnumerable<(string Name, Tensor Tensor)> ReadTorchZip(string file, ScalarType dtype, Func<string, bool> select)
    {
        using var checkpoint = TorchZipCheckpoint.Open(file);
        foreach (var item in checkpoint.Stream(dtype, select, "state_dict", "module")) yield return item;
    }

    static T? ReadConfig<T>(string folder, Func<JsonElement, T> parse) where T : class
    {
        if (File.Exists(folder))
            throw new FifoInputException("OpenSoraFolderNotFound", $"'{folder}' is a file; this model loads a folder of checkpoints. Pass the folder's path (see docs/models/opensora.md).");
        if (!Directory.Exists(folder))
            throw new FifoInputException("OpenSoraFolderNotFound", $"Model folder '{folder}' does not exist. Check the path option (see docs/models/opensora.md).");
        var path = System.IO.Path.Combine(folder, "config.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return parse(doc.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException or FormatException)
        {
            throw new FifoInputException("OpenSoraConfigInvalid", $"'{path}' cannot be used: {ex.Message}", ex);
        }
    }

    static string? FirstExisting(string folder, params string[] names) =>
        names.Select(n => System.IO.Path.Combine(folder, n)).FirstOrDefault(File.Exists);
}
