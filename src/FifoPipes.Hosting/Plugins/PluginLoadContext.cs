using System.Reflection;
using System.Runtime.Loader;

namespace FifoPipes.Hosting.Plugins;

/// <summary>
/// One load context per plugin folder. Assemblies the host already ships (the contracts, Core,
/// Torch, TorchSharp, System.Composition, ...) are taken from the host's context, so every plugin
/// sees the same contract types and one libtorch; anything else the plugin brings loads privately
/// from its folder, so two plugins may carry different versions of the same library.
/// </summary>
public sealed class PluginLoadContext : AssemblyLoadContext
{
    readonly string folder;
    readonly AssemblyDependencyResolver? resolver;
    readonly SharedAssemblies shared;

    public PluginLoadContext(string folder, string mainAssemblyPath, SharedAssemblies shared)
        : base($"FifoPipes plugin: {Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar))}", isCollectible: false)
    {
        this.folder = folder;
        this.shared = shared;
        // The resolver reads the plugin's .deps.json when there is one; a hand-copied folder has none.
        if (File.Exists(Path.ChangeExtension(mainAssemblyPath, ".deps.json")))
            resolver = new AssemblyDependencyResolver(mainAssemblyPath);
    }

    protected override Assembly? Load(AssemblyName name)
    {
        if (shared.TryLoad(name) is { } hostCopy) return hostCopy;
        var path = resolver?.ResolveAssemblyToPath(name) ?? Probe(name);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = resolver?.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    /// <summary>Whether the plugin brings <paramref name="name"/> itself: in its folder, or where its .deps.json puts it.</summary>
    internal bool FindsPrivately(AssemblyName name) => (resolver?.ResolveAssemblyToPath(name) ?? Probe(name)) is not null;

    string? Probe(AssemblyName name)
    {
        var candidate = Path.Combine(folder, name.Name + ".dll");
        return File.Exists(candidate) ? candidate : null;
    }
}

/// <summary>The assemblies the host shares with every plugin: those present in the host's own folder.</summary>
public sealed class SharedAssemblies
{
    readonly AssemblyLoadContext hostContext;
    readonly string hostFolder;

    public SharedAssemblies(Assembly hostAssembly)
    {
        hostContext = AssemblyLoadContext.GetLoadContext(hostAssembly) ?? AssemblyLoadContext.Default;
        hostFolder = Path.GetDirectoryName(hostAssembly.Location)!;
    }

    public Assembly? TryLoad(AssemblyName name)
    {
        foreach (var loaded in hostContext.Assemblies)
            if (string.Equals(loaded.GetName().Name, name.Name, StringComparison.OrdinalIgnoreCase))
                return loaded;
        var path = Path.Combine(hostFolder, name.Name + ".dll");
        return File.Exists(path) ? hostContext.LoadFromAssemblyName(name) : null;
    }

    readonly Dictionary<string, Version?> versions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The version of the host's copy of <paramref name="name"/>, the one a plugin referencing it gets; null when the host
    /// ships none (the plugin brings its own, or it is part of .NET, whose own rules hold).
    /// </summary>
    public Version? VersionOf(string name)
    {
        lock (versions)
        {
            if (versions.TryGetValue(name, out var known)) return known;
            var path = Path.Combine(hostFolder, name + ".dll");
            Version? version = null;
            try { if (File.Exists(path)) version = AssemblyName.GetAssemblyName(path).Version; }
            // One the host cannot read itself is no version to hold a plugin to; loading it would fail on its own.
            catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or IOException or UnauthorizedAccessException) { }
            return versions[name] = version;
        }
    }

    /// <summary>FifoPipes' own framework assemblies: never plugins, always shared.</summary>
    static readonly HashSet<string> Framework = new(StringComparer.OrdinalIgnoreCase)
    {
        "FifoPipes.Abstractions", "FifoPipes.Core", "FifoPipes.Torch", "FifoPipes.Hosting", "FifoPipes.PowerShell",
    };

    /// <summary>Whether the host has a copy of <paramref name="name"/> to give a plugin that references it.</summary>
    public bool Ships(string name) => File.Exists(Path.Combine(hostFolder, name + ".dll"));

    /// <summary>
    /// The folder of .NET's own assemblies (System.*, netstandard), which every plugin gets. Not the application's
    /// trusted assemblies: those include pwsh's own (Newtonsoft.Json, ...), a copy a plugin gets only in the version pwsh
    /// happens to ship (a pwsh that carries its own .NET keeps them in this folder too, and they are taken as .NET's).
    /// Null where .NET runs from a single file, which tells no folder.
    /// </summary>
    static readonly string? RuntimeFolder = typeof(object).Assembly.Location is { Length: > 0 } location ? Path.GetDirectoryName(location) : null;

    /// <summary>Whether <paramref name="name"/> is part of .NET itself; where that cannot be told, any is taken for it.</summary>
    public static bool IsRuntime(string name) => RuntimeFolder is null || File.Exists(Path.Combine(RuntimeFolder, name + ".dll"));

    public static bool IsFramework(string assemblyPath) => Framework.Contains(Path.GetFileNameWithoutExtension(assemblyPath));
}
