using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using static TorchSharp.torch;

namespace FifoPipes.Samplers.Fifo;

/// <summary>
/// Base clips on disk, keyed by everything that determines them (model and its fingerprint, prompt, seed, steps, guidance,
/// eta, rule, shape, the noise generator),
/// so a rerun or a longer video from the same settings skips the base sampling.
/// </summary>
public sealed class BaseClipCache
{
    readonly string folder;

    public BaseClipCache(string folder) => this.folder = folder;

    /// <summary>
    /// The cache folder <paramref name="option"/> names, resolved; refused where a file is in the way, which would stop the
    /// run only once its base clip was sampled.
    /// </summary>
    public static BaseClipCache? For(string? option, PluginContext context)
    {
        if (option is null) return null;
        var folder = context.ResolvePath(option);
        if (File.Exists(folder))
            throw new FifoInputException("BadSamplerOption",
                $"fifo sampler option 'baseClipCache': '{folder}' is a file; give a folder for the cached base clips (it is made if missing).") { Option = "baseClipCache" };
        return new BaseClipCache(folder);
    }

    public string PathFor(string key) => Path.Combine(folder, $"base-{key}.safetensors");

    public static string Key(ModelInfo model, string prompt, long seed, FifoPlan plan, string negativePrompt = "", string? noise = null)
    {
        var parts = new List<object> { model.Name, model.Fingerprint, prompt, seed.ToString(CultureInfo.InvariantCulture), plan.Steps, plan.WindowFrames,
            plan.Guidance.ToString("R", CultureInfo.InvariantCulture), plan.Eta.ToString("R", CultureInfo.InvariantCulture),
            plan.Table.Kind, plan.Channels, plan.Height, plan.Width };
        // Only when given, so the clips cached before negative prompts keep their keys.
        if (negativePrompt.Length > 0) parts.Add("negative=" + negativePrompt);
        // Clips cached before the noise was FifoPipes' own (libtorch's generator) have keys without it, and are not taken.
        if (noise is not null) parts.Add("noise=" + noise);
        var text = string.Join("\n", parts);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24].ToLowerInvariant();
    }

    /// <summary>The cached clip [C, f, h, w], or null when there is none (or it has the wrong shape).</summary>
    public Tensor? TryLoad(string key, long[] expectedShape)
    {
        var path = PathFor(key);
        if (!File.Exists(path)) return null;
        var tensors = SafetensorsFile.Load(path);
        if (tensors.TryGetValue("clip", out var clip) && clip.shape.SequenceEqual(expectedShape))
        {
            foreach (var other in tensors.Where(kv => kv.Key != "clip")) other.Value.Dispose();
            return clip;
        }
        foreach (var t in tensors.Values) t.Dispose();
        return null;
    }

    /// <summary>Keeps the clip for the next run; a cache that cannot take it (a full disk, no permission) costs that, not this run.</summary>
    public void Save(string key, Tensor clip, IProgressSink log)
    {
        try
        {
            Directory.CreateDirectory(folder);
            SafetensorsFile.Save(PathFor(key), new[] { KeyValuePair.Create("clip", clip) },
                new Dictionary<string, string> { ["format"] = "fifopipes-base-clip/1", ["key"] = key });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Warning($"fifo: the base clip was not cached in '{folder}' ({ex.Message.TrimEnd('.')}); the run goes on, and the next one samples it again.");
        }
    }
}
