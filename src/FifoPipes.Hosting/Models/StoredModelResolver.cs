namespace FifoPipes.Hosting.Models;

/// <summary>Turns a preset name (videocrafter2, zeroscope-576w, ...) into its model plugin and the options that load the stored files.</summary>
public sealed class StoredModelResolver(ModelCatalog catalog, ModelStore store)
{
    public ModelCatalog Catalog { get; } = catalog;
    public ModelStore Store { get; } = store;

    public static StoredModelResolver FromEnvironment() => new(ModelCatalog.FromEnvironment(), ModelStore.FromEnvironment());

    /// <summary>A catalog preset, or one saved in the store from a catalog file no longer in use.</summary>
    public ModelPreset? Find(string name) =>
        Catalog.Find(name) ?? Store.SavedPresets().FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// (plugin, options, the stored files they name) for a preset; all null when <paramref name="name"/> is none. When the
    /// user gives the model's path, only the preset's literal options (e.g. preset) are used and nothing needs to be stored.
    /// Throws "ModelNotDownloaded" otherwise when files are missing.
    /// </summary>
    public (string? Plugin, IReadOnlyDictionary<string, string>? Options, StoredPresetFiles? Stored) Resolve(string name, bool userGivesPath)
    {
        if (Find(name) is not { } preset) return (null, null, null);
        var status = Store.Status(preset);
        if (userGivesPath && !status.Complete) return (preset.Plugin, ModelStore.LiteralOptions(preset), null);
        return (preset.Plugin, Store.ResolveOptions(preset, status), new StoredPresetFiles(preset.Name, status.Files.Select(f => f.LocalPath).ToList()));
    }
}
