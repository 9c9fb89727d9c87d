using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace FifoPipes.PowerShell;

/// <summary>
/// Keeps the module's dependencies (TorchSharp, YamlDotNet, ImageSharp, System.Composition, the engine)
/// in a private load context, so the module coexists with modules that ship other versions of them.
/// Only this cmdlets assembly lives in the default context; when it first touches an engine type
/// (FifoPipes.*), the default context asks us and we load it, with all its dependencies, privately.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    static readonly string DependencyFolder =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "Dependencies");

    static readonly Lazy<DependencyLoadContext> Context = new(() => new DependencyLoadContext(DependencyFolder));

    public void OnImport()
    {
        // In the build output (tests, a flat layout) the dependencies sit next to us and need no help.
        if (Directory.Exists(DependencyFolder)) AssemblyLoadContext.Default.Resolving += ResolveEngine;
    }

    public void OnRemove(PSModuleInfo module) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    static Assembly? ResolveEngine(AssemblyLoadContext defaultContext, AssemblyName name)
    {
        if (name.Name is null || !name.Name.StartsWith("FifoPipes.", StringComparison.Ordinal)) return null;
        return File.Exists(Path.Combine(DependencyFolder, name.Name + ".dll")) ? Context.Value.LoadFromAssemblyName(name) : null;
    }
}

/// <summary>The module's private load context: everything under Dependencies/, natives included.</summary>
sealed class DependencyLoadContext : AssemblyLoadContext
{
    readonly string folder;

    public DependencyLoadContext(string folder) : base("FifoDiffusion dependencies") => this.folder = folder;

    protected override Assembly? Load(AssemblyName name)
    {
        var path = Path.Combine(folder, name.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string name)
    {
        foreach (var candidate in new[] { name, $"lib{name}.so", $"{name}.so", $"lib{name}.dylib", $"{name}.dll" })
        {
            var path = Path.Combine(folder, candidate);
            if (File.Exists(path)) return LoadUnmanagedDllFromPath(path);
        }
        return IntPtr.Zero;
    }
}
