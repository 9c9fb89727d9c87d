using System.Text.Json;
using System.Text.Json.Serialization;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// Files a preset needs from one repository. <see cref="Role"/> names the local folder in the preset's
/// option templates: "{checkpoint}/model.ckpt" becomes the stored path of that file.
/// </summary>
public sealed record ModelPart(string Role, string Repository, string Revision, IReadOnlyList<string> Files);

/// <summary>
/// A named model: exactly the files it needs (possibly from several repositories, e.g. a tokenizer kept
/// elsewhere) and the model plugin with the options that load them.
/// </summary>
public sealed record ModelPreset(string Name, string Plugin, string Description, IReadOnlyList<ModelPart> Parts, IReadOnlyDictionary<string, string> Options)
{
    public ModelPart? Part(string role) => Parts.FirstOrDefault(p => string.Equals(p.Role, role, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The presets Save-FifoModel and "-Model &lt;preset&gt;" know: the built-in ones, plus (replacing same-named
/// ones) those of a JSON catalog file named by FIFOPIPES_MODEL_CATALOG.
/// </summary>
public sealed class ModelCatalog
{
    public const string CatalogVariable = "FIFOPIPES_MODEL_CATALOG";

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public ModelCatalog(IEnumerable<ModelPreset> presets)
    {
        var byName = new Dictionary<string, ModelPreset>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in presets) byName[p.Name] = Check(p);
        Presets = byName.Values.ToList();
    }

    public IReadOnlyList<ModelPreset> Presets { get; }

    public ModelPreset? Find(string? name) => Presets.FirstOrDefault(p => string.Equals(p.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The built-in presets plus those of FIFOPIPES_MODEL_CATALOG, if set.</summary>
    public static ModelCatalog FromEnvironment() =>
        Environment.GetEnvironmentVariable(CatalogVariable) is { Length: > 0 } file
            ? new ModelCatalog(BuiltInPresets.Concat(ReadFile(file)))
            : BuiltIn;

    /// <summary>Reads a catalog file: <c>{"presets": [{"name", "plugin", "description", "parts": [{"role", "repository", "revision", "files"}], "options": {...}}]}</c>.</summary>
    public static IReadOnlyList<ModelPreset> ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new FifoInputException("ModelCatalogNotFound", $"The model catalog '{path}' (from {CatalogVariable}) does not exist; fix or unset {CatalogVariable}.");
        try
        {
            var file = JsonSerializer.Deserialize<CatalogFile>(File.ReadAllText(path), Json);
            return (file?.Presets ?? new List<ModelPreset>()).Select(Check).ToList();
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentNullException)
        {
            throw new FifoInputException("InvalidModelCatalog", $"The model catalog '{path}' is not valid: {ex.Message}");
        }
    }

    public static string ToJson(IEnumerable<ModelPreset> presets) => JsonSerializer.Serialize(new CatalogFile(presets.ToList()), Json);
    public static ModelPreset? PresetFromJson(string json) => JsonSerializer.Deserialize<ModelPreset>(json, Json);
    public static string PresetToJson(ModelPreset preset) => JsonSerializer.Serialize(preset, Json);

    sealed record CatalogFile(List<ModelPreset> Presets);

    static ModelPreset Check(ModelPreset p)
    {
        string Where() => $"model preset '{p.Name}'";
        if (string.IsNullOrWhiteSpace(p.Name) || string.IsNullOrWhiteSpace(p.Plugin) || p.Parts is null || p.Parts.Count == 0)
            throw new FifoInputException("InvalidModelCatalog", $"{Where()} needs a name, a plugin and at least one part (repository with files).");
        foreach (var part in p.Parts)
        {
            HubNames.CheckRepository(part.Repository);
            HubNames.CheckRevision(part.Revision);
            if (string.IsNullOrWhiteSpace(part.Role) || part.Files is null || part.Files.Count == 0)
                throw new FifoInputException("InvalidModelCatalog", $"{Where()}: the part from '{part.Repository}' needs a role and at least one file.");
            foreach (var f in part.Files) HubNames.CheckFilePath(f);
        }
        foreach (var (option, template) in p.Options ?? new Dictionary<string, string>())
        {
            foreach (var role in ModelStore.TemplateRoles(template))
                if (p.Part(role) is null)
                    throw new FifoInputException("InvalidModelCatalog", $"{Where()}: option '{option}' refers to '{{{role}}}', but no part has that role.");
        }
        return p with { Options = p.Options ?? new Dictionary<string, string>() };
    }

    // Tokenizer for VideoCrafter: the checkpoints do not carry one; the OpenCLIP ViT-H/14 repository's HF
    // vocab.json + merges.txt tokenize exactly like open_clip's bpe_simple_vocab_16e6.
    static readonly ModelPart ClipHTokenizer = new("tokenizer", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "main", new[] { "vocab.json", "merges.txt" });

    static ModelPreset VideoCrafter(string name, string repository, string description) => new(
        name, "videocrafter", description,
        new[] { new ModelPart("checkpoint", repository, "main", new[] { "model.ckpt" }), ClipHTokenizer },
        new Dictionary<string, string> { ["preset"] = name, ["path"] = "{checkpoint}/model.ckpt", ["tokenizer"] = "{tokenizer}" });

    static readonly string[] ZeroscopeFiles =
    {
        "model_index.json", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/pytorch_model.bin",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.bin",
        "vae/config.json", "vae/diffusion_pytorch_model.bin",
    };

    static ModelPreset Zeroscope(string name, string repository, string description) => new(
        name, "zeroscope", description,
        new[] { new ModelPart("model", repository, "main", ZeroscopeFiles) },
        new Dictionary<string, string> { ["preset"] = name, ["path"] = "{model}" });

    // Open-Sora Plan v1.1 keeps one transformer folder per clip length beside a shared VAE; T5-XXL comes from DeepFloyd.
    static readonly ModelPart T5Xxl = new("textEncoder", "DeepFloyd/t5-v1_1-xxl", "main", new[]
    {
        "config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
        "spiece.model", "special_tokens_map.json", "tokenizer_config.json",
    });

    static ModelPreset OpenSora(string name, string version, string description) => new(
        name, "opensora", description,
        new[]
        {
            new ModelPart("model", "LanguageBind/Open-Sora-Plan-v1.1.0", "main", new[]
            {
                $"{version}/config.json", $"{version}/diffusion_pytorch_model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
            }),
            T5Xxl,
        },
        new Dictionary<string, string> { ["preset"] = name, ["path"] = "{model}", ["textEncoderPath"] = "{textEncoder}" });

    public static IReadOnlyList<ModelPreset> BuiltInPresets { get; } = new[]
    {
        VideoCrafter("videocrafter2", "VideoCrafter/VideoCrafter2", "VideoCrafter2 320x512 (model.ckpt 7.4 GB fp32) + the CLIP-H tokenizer"),
        VideoCrafter("videocrafter1-512", "VideoCrafter/Text2Video-512", "VideoCrafter1 text-to-video 320x512 (model.ckpt 6.3 GB fp32) + the CLIP-H tokenizer"),
        VideoCrafter("videocrafter1-1024", "VideoCrafter/Text2Video-1024", "VideoCrafter1 text-to-video 576x1024 (model.ckpt 6.3 GB fp32) + the CLIP-H tokenizer"),
        Zeroscope("zeroscope-576w", "cerspense/zeroscope_v2_576w", "zeroscope v2 576x320 diffusers folder (fp16 .bin: UNet 2.8 GB, text encoder, VAE)"),
        Zeroscope("zeroscope-xl", "cerspense/zeroscope_v2_XL", "zeroscope v2 XL 1024x576 diffusers folder (fp16 .bin)"),
        OpenSora("opensora-v1.1-65", "65x512x512", "Open-Sora Plan v1.1 65x512x512 transformer (4.2 GB) + CausalVAE + T5-v1.1-XXL (sharded .bin)"),
        OpenSora("opensora-v1.1-221", "221x512x512", "Open-Sora Plan v1.1 221x512x512 transformer + CausalVAE + T5-v1.1-XXL (sharded .bin)"),
    };

    public static ModelCatalog BuiltIn { get; } = new(BuiltInPresets);
}
