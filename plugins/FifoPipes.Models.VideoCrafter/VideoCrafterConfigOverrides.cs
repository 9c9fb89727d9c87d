using System.Text.Json;
using System.Text.Json.Nodes;
using FifoPipes.Abstractions;
using FifoPipes.Torch.UNets;
using FifoPipes.Torch.Text;
using FifoPipes.Torch.Vae;

namespace FifoPipes.Models.VideoCrafter;

/// <summary>
/// Recipe-level overrides of a preset: "section.key=value" entries using the reference yaml names
/// (unet: the UNetModel arguments; vae: ddconfig; text: open_clip text_cfg; model: LatentDiffusion's
/// schedule and scale). Values are JSON (numbers, true/false, [1,2]) or a bare comma list of integers.
/// </summary>
public static class VideoCrafterConfigOverrides
{
    static readonly string[] VaeKeys = { "ch", "ch_mult", "num_res_blocks", "z_channels", "double_z", "in_channels", "out_ch", "resolution", "attn_resolutions", "embed_dim" };
    static readonly string[] TextKeys = { "width", "layers", "heads", "vocab_size", "context_length", "mlp_ratio", "embed_dim", "skip_last_layers" };
    static readonly string[] ModelKeys = { "scale_factor", "linear_start", "linear_end", "timesteps", "use_scale", "scale_b", "mid_step" };

    /// <summary>The keys each section accepts.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Keys { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        ["unet"] = UNet3DConfig.ReferenceArgumentNames, ["vae"] = VaeKeys, ["text"] = TextKeys, ["model"] = ModelKeys,
    };

    /// <summary>A message explaining what is wrong with one entry, or null when it is well formed.</summary>
    public static string? CheckEntry(string? entry)
    {
        if (!TrySplit(entry, out var section, out var key, out var value, out var problem)) return problem;
        if (!Keys.TryGetValue(section, out var known))
            return $"'{entry}': unknown section '{section}'; use unet, vae, text or model (e.g. unet.temporal_length=16).";
        if (!known.Contains(key))
            return $"'{entry}': {section} has no setting '{key}'; it has {string.Join(", ", known)}.";
        // Its value tried alone (the kind a setting takes is the same in every preset), so that a wrong one is named
        // where the options are checked, at the recipe's line, and not as one of many when the model loads.
        var alone = new Dictionary<string, JsonObject>(StringComparer.Ordinal) { [section] = new JsonObject { [key] = ParseValue(value) } };
        try { ApplySections(VideoCrafterPreset.VideoCrafter2(), alone); }
        // A value of the right kind that does not fit the others there: whether it fits the overrides' preset is the preset's check.
        catch (FifoInputException) { }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            return $"'{entry}': the value has the wrong type for {section}.{key} ({ex.Message}); give a number, true or false, or a list such as [1,2,4,4], as the reference yaml writes it.";
        }
        return null;
    }

    /// <summary>The preset with every entry applied, validated as a whole.</summary>
    public static VideoCrafterPreset Apply(VideoCrafterPreset preset, IReadOnlyList<string> entries)
    {
        var sections = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (CheckEntry(entry) is { } problem) throw Invalid(problem);
            TrySplit(entry, out var section, out var key, out var value, out _);
            if (!sections.TryGetValue(section, out var obj)) sections[section] = obj = new JsonObject();
            obj[key] = ParseValue(value);
        }
        return ApplySections(preset, sections);
    }

    /// <summary>Each section's settings over the preset's; a section's settings apply together (model.use_scale with model.scale_b).</summary>
    static VideoCrafterPreset ApplySections(VideoCrafterPreset preset, IReadOnlyDictionary<string, JsonObject> sections)
    {
        if (sections.TryGetValue("unet", out var unet)) preset = preset with { UNet = preset.UNet.WithReferenceArguments(Element(unet)) };
        if (sections.TryGetValue("vae", out var vae)) preset = preset with { Vae = Vae(preset.Vae, Element(vae)) };
        if (sections.TryGetValue("text", out var text)) preset = preset with { Text = Text(preset.Text, Element(text)) };
        if (sections.TryGetValue("model", out var model)) preset = Model(preset, Element(model));
        return preset;
    }

    static bool TrySplit(string? entry, out string section, out string key, out string value, out string problem)
    {
        section = key = value = problem = "";
        int eq = entry?.IndexOf('=') ?? -1;
        int dot = eq > 0 ? entry!.IndexOf('.', 0, eq) : -1;
        if (entry is null || eq < 0 || dot <= 0 || dot == eq - 1)
        {
            problem = $"'{entry}' is not section.key=value (e.g. unet.temporal_length=16).";
            return false;
        }
        section = entry[..dot].Trim().ToLowerInvariant();
        key = entry[(dot + 1)..eq].Trim();
        value = entry[(eq + 1)..].Trim();
        if (value.Length == 0)
        {
            problem = $"'{entry}' has no value after '='.";
            return false;
        }
        return true;
    }

    static JsonNode? ParseValue(string value)
    {
        try { return JsonNode.Parse(value); }
        catch (JsonException)
        {
            // "1,2,4" is accepted for lists of integers, as people write them on a command line.
            if (value.Split(',').All(p => int.TryParse(p.Trim(), out _))) return JsonNode.Parse("[" + value + "]");
            return JsonValue.Create(value);
        }
    }

    static JsonElement Element(JsonObject obj) => JsonDocument.Parse(obj.ToJsonString()).RootElement.Clone();

    static int Int(JsonElement e, string name, int fallback) => e.TryGetProperty(name, out var v) ? v.GetInt32() : fallback;
    static double Double(JsonElement e, string name, double fallback) => e.TryGetProperty(name, out var v) ? v.GetDouble() : fallback;
    static bool Bool(JsonElement e, string name, bool fallback) => e.TryGetProperty(name, out var v) ? v.GetBoolean() : fallback;
    static int[] Ints(JsonElement e, string name, int[] fallback) =>
        e.TryGetProperty(name, out var v) ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray() : fallback;

    static AutoencoderKLConfig Vae(AutoencoderKLConfig d, JsonElement e) => d with
    {
        Ch = Int(e, "ch", d.Ch), ChMult = Ints(e, "ch_mult", d.ChMult), NumResBlocks = Int(e, "num_res_blocks", d.NumResBlocks),
        ZChannels = Int(e, "z_channels", d.ZChannels), DoubleZ = Bool(e, "double_z", d.DoubleZ), InChannels = Int(e, "in_channels", d.InChannels),
        OutCh = Int(e, "out_ch", d.OutCh), Resolution = Int(e, "resolution", d.Resolution), AttnResolutions = Ints(e, "attn_resolutions", d.AttnResolutions),
        EmbedDim = Int(e, "embed_dim", d.EmbedDim),
    };

    static OpenClipTextConfig Text(OpenClipTextConfig d, JsonElement e) => d with
    {
        Width = Int(e, "width", d.Width), Layers = Int(e, "layers", d.Layers), Heads = Int(e, "heads", d.Heads), VocabSize = Int(e, "vocab_size", d.VocabSize),
        ContextLength = Int(e, "context_length", d.ContextLength), MlpRatio = Int(e, "mlp_ratio", d.MlpRatio), EmbedDim = Int(e, "embed_dim", d.EmbedDim),
        SkipLastLayers = Int(e, "skip_last_layers", d.SkipLastLayers),
    };

    static VideoCrafterPreset Model(VideoCrafterPreset p, JsonElement e)
    {
        var s = p.Schedule;
        bool useScale = Bool(e, "use_scale", s.X0ScaleEnd != 1.0);
        var schedule = s with
        {
            BetaStart = Double(e, "linear_start", s.BetaStart), BetaEnd = Double(e, "linear_end", s.BetaEnd), TrainTimesteps = Int(e, "timesteps", s.TrainTimesteps),
            X0ScaleEnd = useScale ? Double(e, "scale_b", s.X0ScaleEnd) : 1.0, X0ScaleSteps = Int(e, "mid_step", s.X0ScaleSteps),
        };
        return p with { Schedule = schedule, ScaleFactor = Double(e, "scale_factor", p.ScaleFactor) };
    }

    static FifoInputException Invalid(string message) => new("VideoCrafterConfigInvalid", "configOverrides: " + message);
}
