using System.Composition;
using System.Composition.Hosting;
using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Reflection.Metadata;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Engine;

namespace FifoPipes.Hosting.Plugins;

/// <summary>
/// Finds plugins in folders, loads each folder into its own <see cref="PluginLoadContext"/> and
/// composes its MEF exports. A folder or export that fails (missing dependency, a constructor that
/// throws, a duplicate name) is recorded in <see cref="Errors"/> and skipped; the rest still work.
/// </summary>
public sealed class PluginHost
{
    /// <summary>Extra plugin folders, separated like PATH.</summary>
    public const string PluginPathVariable = "FIFOPIPES_PLUGIN_PATH";

    readonly List<PluginDescriptor> plugins = new();
    readonly List<PluginLoadError> errors = new();
    /// <summary>What each folder gave, in load order: a host made for another FIFOPIPES_PLUGIN_PATH takes over the loaded ones.</summary>
    readonly List<FolderLoad> folders = new();
    /// <summary>Folders loaded once and no longer listed: their plugins are left out, and come back as they were if listed again.</summary>
    readonly List<FolderLoad> setAside = new();

    /// <param name="Key">The folder's full path, without a trailing separator.</param>
    /// <param name="Loaded">Whether a load context was made for it: load contexts cannot be unloaded, so such a folder is loaded once.</param>
    /// <param name="Listed">Whether it came from FIFOPIPES_PLUGIN_PATH (the others are the module's own plugin folders).</param>
    /// <param name="Stamp">The folder's last write when it was tried (null: not there), so one that did not load is tried again only once it changed.</param>
    sealed record FolderLoad(string Key, bool Loaded, bool Listed, DateTime? Stamp, PluginDescriptor[] Plugins, PluginLoadError[] Errors)
    {
        /// <summary>Whether trying the folder again would give what it gave: loaded (once only), or not changed since.</summary>
        public bool Settled => Loaded || StampOf(Key) == Stamp;
    }

    static DateTime? StampOf(string folder) => Directory.Exists(folder) ? Directory.GetLastWriteTimeUtc(folder) : null;

    PluginHost() { }

    public IReadOnlyList<PluginDescriptor> Plugins => plugins;
    public IReadOnlyList<PluginLoadError> Errors => errors;

    /// <summary>Loads the plugins under <paramref name="pluginsRoot"/> (one subfolder each) and in FIFOPIPES_PLUGIN_PATH.</summary>
    public static PluginHost Load(string pluginsRoot, IEnumerable<string>? extraFolders = null)
    {
        var host = new PluginHost();
        if (Directory.Exists(pluginsRoot))
            host.Load(Directory.GetDirectories(pluginsRoot).OrderBy(f => f, StringComparer.Ordinal), listed: false);
        host.Load(extraFolders ?? FoldersFromEnvironment(), listed: true);
        return host;
    }

    public static IEnumerable<string> FoldersFromEnvironment() => FoldersIn(Environment.GetEnvironmentVariable(PluginPathVariable));

    /// <summary>The folders a value of FIFOPIPES_PLUGIN_PATH lists.</summary>
    public static IEnumerable<string> FoldersIn(string? pluginPath) =>
        (pluginPath ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static PluginHost LoadFolders(IEnumerable<string> folders)
    {
        var host = new PluginHost();
        host.Load(folders, listed: true);
        return host;
    }

    /// <summary>
    /// The plugins of the module's own folders and of <paramref name="listed"/> (FIFOPIPES_PLUGIN_PATH as it is now): a
    /// folder this host loaded is taken over as it is, one it could not load (not there yet, no plugin built into it)
    /// is tried again once it has changed, and one no longer listed is left out with its errors. This host itself when nothing changes, else
    /// a new one, so a run holding this one sees no change under it.
    /// </summary>
    public PluginHost WithFolders(IEnumerable<string> listed)
    {
        var own = folders.Where(f => !f.Listed).ToList();
        // The module's own folders load anyway, listed or not.
        var keys = listed.Select(FolderKey).Distinct(FolderComparer).Where(k => !own.Any(f => FolderComparer.Equals(f.Key, k))).ToList();
        // Commands ask for the plugins many times each: a folder is read again only when that could change what it gives.
        var settled = folders.Concat(setAside).Where(f => f.Listed && f.Settled).ToDictionary(f => f.Key, FolderComparer);
        bool unchanged = keys.All(settled.ContainsKey) && folders.Where(f => f.Listed).Select(f => f.Key).SequenceEqual(keys, FolderComparer);
        if (unchanged) return this;
        var host = new PluginHost();
        foreach (var folder in own) host.Adopt(folder);
        var shared = new SharedAssemblies(typeof(IVideoModel).Assembly);
        foreach (var key in keys)
            if (settled.Remove(key, out var done)) host.Adopt(done);
            else host.Attempt(key, listed: true, shared);
        host.setAside.AddRange(settled.Values.Where(f => f.Loaded));
        return host;
    }

    /// <summary>Folders are told apart as the file system tells them: /a/b and /a/b/ are one, and so are C:\P and c:\p on Windows.</summary>
    static readonly StringComparer FolderComparer = SinkTargets.PathComparer;

    static string FolderKey(string folder) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    void Adopt(FolderLoad load)
    {
        plugins.AddRange(load.Plugins);
        errors.AddRange(load.Errors);
        folders.Add(load);
    }

    void Load(IEnumerable<string> paths, bool listed)
    {
        var shared = new SharedAssemblies(typeof(IVideoModel).Assembly);
        foreach (var key in paths.Select(FolderKey).Distinct(FolderComparer))
            if (!folders.Any(f => FolderComparer.Equals(f.Key, key))) Attempt(key, listed, shared);
    }

    /// <summary>Loads one folder, recording what it gave.</summary>
    void Attempt(string folder, bool listed, SharedAssemblies shared)
    {
        int pluginsBefore = plugins.Count, errorsBefore = errors.Count;
        var stamp = StampOf(folder);
        bool loaded = false;
        if (!Directory.Exists(folder))
            errors.Add(new PluginLoadError(folder, null,
                File.Exists(folder) ? $"is a file, not a plugin folder: give {PluginPathVariable} the folder that holds it, '{Path.GetDirectoryName(folder)}'"
                : Path.PathSeparator != ';' && folder.Contains(';') ? $"plugin folder does not exist: separate the folders in {PluginPathVariable} with '{Path.PathSeparator}' here, not ';'"
                : $"plugin folder does not exist (check {PluginPathVariable}; a relative entry is taken from the process's working folder)"));
        else loaded = LoadFolder(folder, shared);
        folders.Add(new FolderLoad(folder, loaded, listed, stamp, plugins.Skip(pluginsBefore).ToArray(), errors.Skip(errorsBefore).ToArray()));
    }

    /// <summary>Loads the plugin assemblies of <paramref name="folder"/>; false when it made no load context (nothing to load), so it may be tried again.</summary>
    bool LoadFolder(string folder, SharedAssemblies shared)
    {
        string[] files;
        try { files = Directory.GetFiles(folder, "*.dll"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add(new PluginLoadError(folder, null, $"plugin folder cannot be read: {ex.Message} (check its permissions, or drop it from {PluginPathVariable})"));
            return false;
        }
        // A plugin's own assemblies reference the contracts and are not part of the framework itself.
        int errorsBefore = errors.Count;
        var assemblies = files.Where(p => !SharedAssemblies.IsFramework(p)).OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => (Path: p, Read: Read(p))).Where(a => a.Read is not null).Select(a => (a.Path, Read: a.Read!)).ToList();
        // Every assembly of the folder, a plugin or a library one brings along, is held to the host's shared copies.
        var compatible = assemblies.Where(a => Compatible(a.Path, a.Read, shared)).ToList();
        var candidates = compatible.Where(a => a.Read.Contracts is not null).ToList();
        // A library refused: the folder's plugins would call it and fail mid-run, so none of them loads.
        var refusedLibraries = assemblies.Except(compatible).Where(a => a.Read.Contracts is null).Select(a => Path.GetFileName(a.Path)).ToList();
        if (refusedLibraries.Count > 0)
        {
            foreach (var (path, read) in candidates)
                errors.Add(new PluginLoadError(path, null, $"not loaded: the library {string.Join(", ", refusedLibraries)} beside it was refused (see why there), and the plugin may call it; " +
                                                           "rebuild them against this FifoPipes' assemblies together") { Holds = read.Plugins });
            return false;
        }
        // A folder whose assemblies were refused (unreadable, built against other contracts) has said why already.
        if (candidates.Count == 0 && errors.Count == errorsBefore)
        {
            // Usually the project folder instead of its build output: say where the assemblies probably are.
            var built = Directory.Exists(Path.Combine(folder, "bin"))
                ? Directory.EnumerateFiles(Path.Combine(folder, "bin"), "*.dll", SearchOption.AllDirectories).Where(f => Read(f)?.Contracts is not null).Select(Path.GetDirectoryName).FirstOrDefault()
                : null;
            errors.Add(new PluginLoadError(folder, null, "holds no plugin assembly (none references FifoPipes.Abstractions); " +
                (built is null ? $"point {PluginPathVariable} at the folder a plugin's build writes its .dll to" : $"point {PluginPathVariable} at the build output, '{built}'")));
            return false;
        }
        if (candidates.Count == 0) return false;
        var context = new PluginLoadContext(folder, candidates[0].Path, shared);
        foreach (var (path, read) in candidates)
        {
            Assembly assembly;
            try { assembly = context.LoadFromAssemblyPath(path); }
            catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                errors.Add(new PluginLoadError(path, null, "not a loadable .NET assembly: " + ex.Message) { Holds = read.Plugins });
                continue;
            }
            if (MissingDependencies(read, context, shared) is { } missing) errors.Add(new PluginLoadError(path, null, missing) { Loaded = true });
            Compose(assembly, path, read.Contracts!);
        }
        return true;
    }

    /// <summary>
    /// What an assembly was built against, read through its metadata without loading it, so private dependencies are
    /// never loaded just to be looked at.
    /// </summary>
    /// <param name="References">The assemblies, with their versions.</param>
    /// <param name="Plugins">The names its [FifoPlugin] attributes give, so one that does not load can still be told by them.</param>
    sealed record AssemblyFacts(IReadOnlyList<AssemblyName> References, IReadOnlyList<string> Plugins)
    {
        /// <summary>The version of FifoPipes.Abstractions it references: what it knows of the contracts; null when it is no plugin.</summary>
        public Version? Contracts => ContractsIn(References);
    }

    /// <summary>
    /// What <paramref name="path"/> was built against; null when it is no .NET assembly. A file that cannot be read (a
    /// dangling link, no permission) is recorded and skipped, as an unloadable one is.
    /// </summary>
    AssemblyFacts? Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) return null;
            var metadata = pe.GetMetadataReader();
            var references = metadata.AssemblyReferences.Select(metadata.GetAssemblyReference)
                .Select(r => new AssemblyName(metadata.GetString(r.Name)) { Version = r.Version }).ToList();
            return new AssemblyFacts(references, PluginNames(metadata));
        }
        catch (BadImageFormatException) { return null; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add(new PluginLoadError(path, null, "cannot be read: " + ex.Message));
            return null;
        }
    }

    /// <summary>
    /// The names of the plugins an assembly declares: each [FifoPlugin(kind, "name", ...)]'s second argument, read from
    /// its blob (a prolog, the kind as an int32, then the name), since the attribute's type lives in another assembly.
    /// </summary>
    static IReadOnlyList<string> PluginNames(MetadataReader metadata)
    {
        var names = new List<string>();
        foreach (var handle in metadata.CustomAttributes)
        {
            var attribute = metadata.GetCustomAttribute(handle);
            if (attribute.Constructor.Kind != HandleKind.MemberReference) continue;
            var constructor = metadata.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
            if (constructor.Parent.Kind != HandleKind.TypeReference
                || !metadata.StringComparer.Equals(metadata.GetTypeReference((TypeReferenceHandle)constructor.Parent).Name, nameof(FifoPluginAttribute))) continue;
            var blob = metadata.GetBlobReader(attribute.Value);
            // A damaged blob names nothing; the load says what is wrong with the assembly.
            try
            {
                if (blob.ReadUInt16() != 1) continue;
                blob.ReadInt32();
                if (blob.ReadSerializedString() is { Length: > 0 } name) names.Add(name);
            }
            catch (BadImageFormatException) { }
        }
        return names;
    }

    /// <summary>
    /// What the plugin assembly references that nothing gives it: not shared by the host, not part of .NET, not in its
    /// folder or its .deps.json. A plugin built without EnableDynamicLoading leaves its NuGet packages out so, and would
    /// fail only where its code first calls one (or get the application's own copy, whatever version that is). Null
    /// when nothing is missing. The plugin still loads: it may use the assembly in one plugin of several, or on one
    /// platform only.
    /// </summary>
    static string? MissingDependencies(AssemblyFacts read, PluginLoadContext context, SharedAssemblies shared)
    {
        var missing = read.References.Where(r => !shared.Ships(r.Name!) && !SharedAssemblies.IsRuntime(r.Name!) && !context.FindsPrivately(r)).ToList();
        if (missing.Count == 0) return null;
        bool one = missing.Count == 1;
        return $"references {string.Join(", ", missing.Select(r => $"{r.Name} {r.Version}"))}, which {(one ? "is" : "are")} neither in its folder nor shared by FifoPipes, " +
               $"so its code that uses {(one ? "it" : "them")} fails: {DependencyFix(one ? missing[0].Name! : null)}";
    }

    /// <summary>Whether the assembly at <paramref name="path"/> references <paramref name="name"/>; false where it cannot be read.</summary>
    internal static bool References(string path, string name)
    {
        try
        {
            using var pe = new PEReader(File.OpenRead(path));
            var metadata = pe.GetMetadataReader();
            return metadata.AssemblyReferences.Any(r => metadata.StringComparer.Equals(metadata.GetAssemblyReference(r).Name, name, ignoreCase: true));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidOperationException) { return false; }
    }

    /// <summary>What a plugin author does about a dependency missing from the plugin's folder (<paramref name="assembly"/>; null for several).</summary>
    public static string DependencyFix(string? assembly) =>
        "build the plugin with <EnableDynamicLoading>true</EnableDynamicLoading>, which puts its NuGet dependencies into its build output, " +
        (assembly is null ? "or copy them beside it" : $"or copy {assembly}.dll beside it");

    /// <summary>The version of FifoPipes.Abstractions among <paramref name="references"/>: what the plugin knows of the contracts; null when it is no plugin.</summary>
    static Version? ContractsIn(IReadOnlyList<AssemblyName>? references) =>
        references?.FirstOrDefault(r => r.Name == ContractsAssembly.Name)?.Version;

    static readonly AssemblyName ContractsAssembly = typeof(IVideoModel).Assembly.GetName();

    /// <summary>
    /// A plugin gets the host's copy of every assembly the host ships (the contracts, Core, Torch, TorchSharp, ...), so
    /// it must have been built against a copy the host's can stand in for (<see cref="ContractVersions"/>). Any other
    /// would fail half-way through a run with a missing method; it is refused at load, saying which versions meet.
    /// </summary>
    bool Compatible(string path, AssemblyFacts read, SharedAssemblies shared)
    {
        var mismatches = read.References
            .Select(r => (Reference: r, Host: shared.VersionOf(r.Name!)))
            .Where(m => m.Host is not null && m.Reference.Version is not null && !ContractVersions.Compatible(m.Reference.Name!, m.Host, m.Reference.Version))
            .Select(m => Mismatch(m.Reference.Name!, m.Host!, m.Reference.Version!)).ToList();
        if (mismatches.Count == 0) return true;
        errors.Add(new PluginLoadError(path, null, string.Join("; ", mismatches)) { Holds = read.Plugins });
        return false;
    }

    static string Mismatch(string name, Version host, Version builtAgainst)
    {
        string hostVersion = host.ToString(2), version = builtAgainst.ToString(2);
        if (ContractVersions.IsOurs(name))
            return $"was built against {name} {version}, and this FifoPipes has {hostVersion}; " +
                   (builtAgainst > host ? "update FifoPipes, or build the plugin" : "build the plugin") +
                   $" against {name} {hostVersion} (plugins need the host's major version and no newer minor)";
        return $"was built against {name} {version}, and this FifoPipes ships {hostVersion}, which its plugins share; build the plugin against {name} {hostVersion}" +
               (builtAgainst > host ? $", or update FifoPipes to one that ships {version}"
                : host.Major == 0 ? $" (before 1.0, each minor of {name} may drop what the plugin calls)" : $" (its new major may have dropped what the plugin calls)");
    }

    void Compose(Assembly assembly, string path, Version contracts)
    {
        CompositionHost container;
        try
        {
            container = new ContainerConfiguration().WithParts(PluginParts(assembly, path)).CreateContainer();
        }
        catch (Exception ex)
        {
            errors.Add(new PluginLoadError(path, null, "composition failed: " + Describe(ex)));
            return;
        }
        Add<IModelAdapter>(container, path, contracts, PluginKind.Model);
        Add<ISamplerFactory>(container, path, contracts, PluginKind.Sampler);
        Add<ISinkFactory>(container, path, contracts, PluginKind.Sink);
        Add<IQualityStudy>(container, path, contracts, PluginKind.Study);
    }

    /// <summary>What in a plugin's own attribute keeps it from loading, read before composition; null when nothing.</summary>
    static string? AttributeProblem(FifoPluginAttribute plugin, Type type, Func<string, string> wanted)
    {
        if (plugin.ContractType is { } named && !named.IsAssignableFrom(type))
            return $"its attribute exports typeof({named.Name}), which {type.Name} does not implement; write {wanted(plugin.Name)}, keeping its other settings (Description, OptionsType, ...)";
        if (!(plugin.Name.Length > 0 && char.IsAsciiLetterOrDigit(plugin.Name[0]) && plugin.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            return $"its name '{plugin.Name}' is not one a recipe's use: or -Model/-Sampler can give; use letters, digits, '-', '_' and '.', starting with a letter or digit";
        if (plugin.OptionsType?.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .FirstOrDefault(p => p.GetCustomAttribute<OptionAttribute>() is not null && p.GetSetMethod() is null) is { } readOnly)
            return $"its option '{readOnly.Name}' has no public setter, so no recipe can set it; give it one ({{ get; set; }}) or drop its [Option]";
        return null;
    }

    /// <summary>The contract each kind of plugin exports.</summary>
    static readonly (PluginKind Kind, Type Contract)[] Contracts =
    {
        (PluginKind.Model, typeof(IModelAdapter)), (PluginKind.Sampler, typeof(ISamplerFactory)),
        (PluginKind.Sink, typeof(ISinkFactory)), (PluginKind.Study, typeof(IQualityStudy)),
    };

    /// <summary>
    /// The assembly's classes that export a plugin as the contracts say. The others a plugin author meant as plugins are
    /// recorded with the attribute to write: one wrong export would otherwise fail the whole assembly's composition
    /// in MEF's words, and a class without one would be passed over without a word.
    /// </summary>
    List<Type> PluginParts(Assembly assembly, string path)
    {
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException ex)
        {
            // The types that load still give their plugins.
            errors.Add(new PluginLoadError(path, null, "some of its types cannot be read: " + Describe(ex)));
            types = ex.Types.OfType<Type>().ToArray();
        }
        var parts = new List<Type>();
        foreach (var type in types.Where(t => t.IsClass && !t.IsAbstract))
        {
            // A type whose attributes or interfaces need a missing assembly costs itself, not the assembly's other plugins.
            try { ClassifyPart(type, path, parts); }
            catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or TypeLoadException or BadImageFormatException or CustomAttributeFormatException)
            {
                errors.Add(new PluginLoadError(path, null, $"{type.FullName} cannot be read: {Describe(ex)}"));
            }
        }
        return parts;
    }

    /// <summary>Adds <paramref name="type"/> to the parts if it exports a plugin rightly (or is a helper part a plugin imports); records what to write if not.</summary>
    void ClassifyPart(Type type, string path, List<Type> parts)
    {
        var exports = type.GetCustomAttributes<ExportAttribute>(inherit: false).ToList();
        var implemented = Contracts.Where(c => c.Contract.IsAssignableFrom(type)).ToList();
        string Fix(PluginKind kind, Type contract, string name) => $"[FifoPlugin(PluginKind.{kind}, \"{name}\", typeof({contract.Name}))]";
        string Wanted(string name) => implemented.Count > 0
            ? Fix(implemented[0].Kind, implemented[0].Contract, name)
            : $"{Fix(PluginKind.Sampler, typeof(ISamplerFactory), name)} on a class that implements ISamplerFactory (IModelAdapter, ISinkFactory or IQualityStudy for the other kinds)";
        if (exports.OfType<FifoPluginAttribute>().FirstOrDefault() is { } plugin)
        {
            if (AttributeProblem(plugin, type, Wanted) is { } problem) errors.Add(new PluginLoadError(path, plugin.Name, problem));
            else parts.Add(type);
        }
        else if (exports.Any(e => e.ContractType is { } contract ? Contracts.Any(c => c.Contract == contract) : implemented.Count > 0))
            errors.Add(new PluginLoadError(path, null, $"{type.FullName} has a plain [Export], which gives the host no kind or name; write {Wanted("name")}"));
        else if (exports.Count > 0) parts.Add(type);
        else if (implemented.Count > 0 && type.IsPublic)
            errors.Add(new PluginLoadError(path, null, $"{type.FullName} implements {implemented[0].Contract.Name} but is not exported, so it is not loaded; add {Wanted("name")}"));
    }

    void Add<T>(CompositionHost container, string path, Version contracts, PluginKind contractKind) where T : class
    {
        IEnumerable<ExportFactory<T, PluginMetadata>> exports;
        try { exports = container.GetExports<ExportFactory<T, PluginMetadata>>().ToList(); }
        catch (Exception ex)
        {
            errors.Add(new PluginLoadError(path, null, $"its {typeof(T).Name} exports could not be read: {Describe(ex)}"));
            return;
        }
        foreach (var export in exports)
        {
            var meta = export.Metadata;
            PluginDescriptor descriptor;
            // Its options class is third-party code too (a constructor that throws, no parameterless one).
            try { descriptor = new PluginDescriptor(meta, path, contracts, () => export.CreateExport().Value); }
            catch (Exception ex)
            {
                errors.Add(new PluginLoadError(path, meta.Name, "its options cannot be read: " + Describe(ex)));
                continue;
            }
            if (descriptor.Options.FirstOrDefault(o => !o.Settable) is { } unsupported)
            {
                errors.Add(new PluginLoadError(path, meta.Name,
                    $"its option '{unsupported.Name}' is a {unsupported.Type.Name}, which recipes cannot set; use string, bool, int, long, float, double, an enum, or an array of one"));
                continue;
            }
            if (meta.Kind != contractKind)
            {
                errors.Add(new PluginLoadError(path, meta.Name,
                    $"is declared a {meta.Kind.ToString().ToLowerInvariant()} plugin but exports {typeof(T).Name}; declare it PluginKind.{contractKind} (or export the {meta.Kind.ToString().ToLowerInvariant()} contract)"));
                continue;
            }
            if (plugins.FirstOrDefault(p => p.Kind == meta.Kind && string.Equals(p.Name, meta.Name, StringComparison.OrdinalIgnoreCase)) is { } existing)
            {
                errors.Add(new PluginLoadError(path, meta.Name,
                    $"a {meta.Kind.ToString().ToLowerInvariant()} plugin named '{meta.Name}' is already loaded from {existing.Source}; this one is ignored (rename it or remove one copy)")
                    { IgnoredFor = existing });
                continue;
            }
            try
            {
                // Construct once now, so a plugin whose constructor throws is reported at load, not mid-run.
                using (var probe = export.CreateExport()) _ = probe.Value;
                plugins.Add(descriptor);
            }
            catch (Exception ex)
            {
                errors.Add(new PluginLoadError(path, meta.Name, "failed to start: " + Describe(ex)));
            }
        }
    }

    static string Describe(Exception ex)
    {
        while (ex is TargetInvocationException or CompositionFailedException && ex.InnerException is not null) ex = ex.InnerException;
        return ex switch
        {
            FileNotFoundException fnf => $"missing dependency {fnf.FileName}" +
                                         (PluginFailedException.MissingAssembly(fnf)?.Name is { } name ? $"; {DependencyFix(name)}" : ""),
            // Its own message says only "Unable to load one or more of the requested types".
            ReflectionTypeLoadException { LoaderExceptions: var inner } when inner.FirstOrDefault(e => e is not null) is { } first =>
                $"a type it uses cannot be loaded ({first.Message}); was it built against another version of FifoPipes or of a dependency?",
            _ => ex.Message,
        };
    }

    public IEnumerable<PluginDescriptor> OfKind(PluginKind kind) => plugins.Where(p => p.Kind == kind);

    public PluginDescriptor? Find(PluginKind kind, string name) =>
        plugins.FirstOrDefault(p => p.Kind == kind && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The sink that writes files with this extension (without dot), if any.</summary>
    public PluginDescriptor? SinkForExtension(string extension) =>
        OfKind(PluginKind.Sink).FirstOrDefault(p => p.Extensions.Contains(extension.TrimStart('.').ToLowerInvariant()));

    /// <summary>The sink that sends to addresses of this scheme (rtmp, srt, ...), if any.</summary>
    public PluginDescriptor? SinkForScheme(string scheme) =>
        OfKind(PluginKind.Sink).FirstOrDefault(p => p.Schemes.Contains(scheme.ToLowerInvariant()));

    /// <summary>The sink a target names by itself: by its scheme for a network address, else by its file extension.</summary>
    public PluginDescriptor? SinkFor(string target) =>
        StreamAddress.SchemeOf(target) is { } scheme ? SinkForScheme(scheme) : SinkForExtension(Path.GetExtension(target));

    /// <summary>
    /// The sink an output path picks when none is named: a path without an extension (frames, frames/) is a folder for a
    /// PNG sequence, else <see cref="SinkFor"/>. Recipes and Export-FifoFrames pick alike.
    /// </summary>
    public PluginDescriptor? DefaultSinkFor(string target) =>
        !StreamAddress.IsAddress(target) && (Path.EndsInDirectorySeparator(target) || !Path.HasExtension(target)) && Find(PluginKind.Sink, "png") is { } png
            ? png
            : SinkFor(target);

    /// <summary>
    /// Why <paramref name="sink"/>, named for <paramref name="target"/>, cannot take it: a file sink given an address
    /// would write a file named after the stream key. Null where it can.
    /// </summary>
    public static string? AddressProblem(PluginDescriptor sink, string target) =>
        StreamAddress.SchemeOf(target) is { } scheme && !sink.Schemes.Contains(scheme)
            ? $"the {sink.Name} sink writes files, and '{StreamAddress.Display(target)}' is a {scheme}:// address"
            : null;

    /// <summary>
    /// Why no sink takes <paramref name="target"/>, and what sinks do take: for an address the schemes they send to, else
    /// the extensions they write, each with its sink.
    /// </summary>
    public (string Problem, IReadOnlyList<string> Taken) NoSinkFor(string target)
    {
        var sinks = OfKind(PluginKind.Sink).ToList();
        return StreamAddress.SchemeOf(target) is { } scheme
            ? ($"no sink sends to '{scheme}://' addresses", sinks.SelectMany(s => s.Schemes.Select(x => $"{x}:// ({s.Name})")).Distinct().ToList())
            : ($"no sink writes '{Path.GetExtension(target)}' files", sinks.SelectMany(s => s.Extensions.Select(e => $".{e} ({s.Name})")).Distinct().ToList());
    }

    /// <summary>Finds a plugin or throws an error naming the available ones.</summary>
    public PluginDescriptor Require(PluginKind kind, string name)
    {
        if (Find(kind, name) is { } found) return found;
        var available = OfKind(kind).Select(p => p.Name).OrderBy(n => n).ToList();
        throw new FifoInputException("UnknownPlugin",
            $"No {Word(kind)} plugin named '{name}'.{Hint(kind, name)}{WhyMissing(name)} Available: {(available.Count == 0 ? "none" : string.Join(", ", available))}." +
            WhereThirdPartyPluginsAre);
    }

    /// <summary>
    /// What to say after "no such plugin", with a leading space: that the name is a plugin of another role (a sampler
    /// given as the model), or the plugin it most likely meant; empty where there is none.
    /// </summary>
    public string Hint(PluginKind kind, string name) =>
        OfAnotherKind(kind, name) is { } other ? $" '{name}' is a {Word(other.Kind)} plugin, not a {Word(kind)} one."
        : Meant(name, OfKind(kind).Select(p => p.Name).ToList()) is { } near ? $" Did you mean '{near}'?"
        : "";

    static string Word(PluginKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>A plugin of that name in another role: a sampler given as the model, say.</summary>
    PluginDescriptor? OfAnotherKind(PluginKind kind, string name) =>
        Enum.GetValues<PluginKind>().Where(k => k != kind).Select(k => Find(k, name)).FirstOrDefault(p => p is not null);

    /// <summary>
    /// The plugin a name most likely meant: one a letter or two away, or else the only one whose name holds it whole
    /// (a third party's plugins are often named with a prefix: 'gaussian' for 'example-gaussian').
    /// </summary>
    static string? Meant(string name, IReadOnlyList<string> available)
    {
        if (Options.OptionBinder.Suggest(name, available) is { } near) return near;
        var holding = name.Length < 3 ? new List<string>() : available.Where(a => a.Contains(name, StringComparison.OrdinalIgnoreCase)).ToList();
        return holding.Count == 1 ? holding[0] : null;
    }

    /// <summary>The sentence an unknown plugin's error ends with, with a leading space.</summary>
    public const string WhereThirdPartyPluginsAre = $" Third-party plugins are found in folders listed in {PluginPathVariable}.";

    /// <summary>
    /// Why a plugin of that name may be missing, each sentence with a leading space: its own load error, or else the
    /// folders and files that did not load, the one whose metadata declares the name first; empty when everything loaded.
    /// </summary>
    public string WhyMissing(string name)
    {
        if (errors.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)) is { } failed)
            return $" It failed to load: {failed.Message}.";
        var unloaded = errors.Where(e => e.Name is null && !e.Loaded).ToList();
        if (unloaded.FirstOrDefault(e => e.Holds.Contains(name, StringComparer.OrdinalIgnoreCase)) is { } holder)
            return $" {holder.Source} declares it and did not load: {holder.Message}." + NotLoaded(unloaded.Where(e => e != holder).ToList(), "more ", "");
        return NotLoaded(unloaded, "", unloaded.Count == 1 ? ", and it may be there" : ", and it may be in one");
    }

    /// <summary>How many of the files and folders that did not load are listed, before "and N more".</summary>
    const int UnloadedListed = 5;

    /// <summary>" 2 plugin files or folders did not load, and it may be in one: a: why; b: why." for <paramref name="unloaded"/>; "" for none.</summary>
    static string NotLoaded(IReadOnlyList<PluginLoadError> unloaded, string more, string mayBe)
    {
        if (unloaded.Count == 0) return "";
        var listed = string.Join("; ", unloaded.Take(UnloadedListed));
        var rest = unloaded.Count > UnloadedListed ? $"; and {unloaded.Count - UnloadedListed} more (Get-FifoPlugin lists them)" : "";
        return unloaded.Count == 1 && more.Length == 0
            ? $" A plugin file or folder did not load{mayBe}: {listed}."
            : $" {unloaded.Count} {more}plugin {(unloaded.Count == 1 ? "file or folder" : "files or folders")} did not load{mayBe}: {listed}{rest}.";
    }

    /// <summary>
    /// What a command that uses <paramref name="plugin"/> warns of, that nothing else would say until it fails or
    /// surprises: another plugin of its name ignored (the user may have meant that one), dependencies its folder lacks.
    /// </summary>
    public IEnumerable<string> Warnings(PluginDescriptor plugin)
    {
        foreach (var ignored in errors.Where(e => e.IgnoredFor == plugin))
            yield return $"The {Word(plugin.Kind)} plugin '{plugin.Name}' is the one loaded from {plugin.Source}; another of that name, in {ignored.Source}, is ignored. " +
                         $"To use that one, rename it in its [FifoPlugin] attribute, or remove its folder from {PluginPathVariable} if it is not meant to be used.";
        foreach (var lacking in errors.Where(e => e.Loaded && e.Source == plugin.Source))
            yield return $"{PluginFailedException.Capital(PluginFailedException.Name(plugin))} {lacking.Message}.";
    }
}

/// <summary>Which builds of the assemblies a host shares it accepts plugins against.</summary>
public static class ContractVersions
{
    /// <summary>Same major version, and a minor no newer than the host's: FifoPipes' own assemblies only grow within a major.</summary>
    public static bool Compatible(Version host, Version builtAgainst) =>
        builtAgainst.Major == host.Major && builtAgainst.Minor <= host.Minor;

    /// <summary>
    /// FifoPipes' own assemblies by <see cref="Compatible(Version, Version)"/>; the libraries a plugin is documented to
    /// build against (TorchSharp, ImageSharp) by semantic versioning: the same major and no newer minor, and before 1.0
    /// the same minor, which is where such a library breaks. Any other the host ships (.NET's own packages, which keep
    /// what they had across versions; libraries the host uses for itself) by being no newer: only a newer build surely
    /// calls what the host's copy lacks.
    /// </summary>
    public static bool Compatible(string assembly, Version host, Version builtAgainst) =>
        IsOurs(assembly) ? Compatible(host, builtAgainst)
        : !SemanticallyVersioned.Contains(assembly) ? (builtAgainst.Major, builtAgainst.Minor).CompareTo((host.Major, host.Minor)) <= 0
        : host.Major == 0 ? builtAgainst.Major == 0 && builtAgainst.Minor == host.Minor
        : Compatible(host, builtAgainst);

    /// <summary>The libraries besides our own that plugins are documented to build against (docs/ARCHITECTURE.md).</summary>
    static readonly HashSet<string> SemanticallyVersioned = new(StringComparer.OrdinalIgnoreCase) { "TorchSharp", "SixLabors.ImageSharp" };

    /// <summary>Whether <paramref name="assembly"/> is one of FifoPipes' own, versioned by its rule.</summary>
    public static bool IsOurs(string assembly) => assembly.StartsWith("FifoPipes.", StringComparison.OrdinalIgnoreCase);
}
