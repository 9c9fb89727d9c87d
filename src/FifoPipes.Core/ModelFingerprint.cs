using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using FifoPipes.Abstractions;

namespace FifoPipes.Core;

/// <summary>
/// Builds <see cref="FifoPipes.Abstractions.ModelInfo.Fingerprint"/>: the weights' files and the settings that change a
/// model's outputs, so that anything cached from its outputs (FIFO's base clips) is never reused for another model.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>
    /// The parts joined; configurations (records, options) as JSON, so every field of them counts, except options marked
    /// <see cref="OptionAttribute.ChangesFrames"/> false: a clip cached on the CPU serves the same model on a GPU.
    /// </summary>
    public static string Of(params object?[] parts) => string.Join("|", parts.Select(Describe));

    /// <summary>
    /// A file as its full path, size and last write time: a replaced or retrained checkpoint gets a new fingerprint
    /// without reading its gigabytes.
    /// </summary>
    public static string File(string path)
    {
        var info = new FileInfo(path);
        return info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{info.FullName}:{info.Length}:{info.LastWriteTimeUtc.Ticks}")
            : info.FullName;
    }

    /// <summary>Every file under a model folder (a diffusers or release layout), as <see cref="File"/> does one.</summary>
    public static string Folder(string path) =>
        Directory.Exists(path)
            ? string.Join(";", Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File))
            : Path.GetFullPath(path);

    static string Describe(object? part) => part switch
    {
        null => "",
        string text => text,
        Enum or IFormattable => Convert.ToString(part, CultureInfo.InvariantCulture) ?? "",
        _ => JsonSerializer.Serialize(part, part.GetType(), WhatChangesOutputs),
    };

    static readonly JsonSerializerOptions WhatChangesOutputs = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { LeaveOutHowItIsComputed } },
    };

    static void LeaveOutHowItIsComputed(JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
            if (property.AttributeProvider?.GetCustomAttributes(typeof(OptionAttribute), true).OfType<OptionAttribute>().Any(o => !o.ChangesFrames) == true)
                property.ShouldSerialize = (_, _) => false;
    }
}
