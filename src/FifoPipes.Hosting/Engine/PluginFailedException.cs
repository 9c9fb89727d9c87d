using System.Reflection;
using FifoPipes.Abstractions;
using FifoPipes.Core.Devices;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Plugins;

namespace FifoPipes.Hosting.Engine;

/// <summary>
/// Plugin code failed with something other than an input error (a bug, a missing dependency, a broken contract): the
/// message names the plugins and what they were doing, since the inner error alone ("Object reference not set to an
/// instance of an object") names neither. Kept as the inner exception, so checks that read the chain still see it.
/// </summary>
public sealed class PluginFailedException : Exception
{
    public PluginFailedException(string what, Exception? inner = null)
        : base(inner is null ? what : $"{what}: {WithFix(inner)}", inner) { }

    /// <summary>The error's message, and what to do where it is an assembly the plugin lacks (the runtime's message ends in a line break).</summary>
    internal static string WithFix(Exception error) => MissingAssemblyFix(error) is { Length: > 0 } fix ? error.Message.TrimEnd() + fix : error.Message;

    /// <summary>"the model 'stripes' (/plugins/Stripes/Stripes.dll)".</summary>
    public static string Name(PluginDescriptor plugin) => $"the {plugin.Kind.ToString().ToLowerInvariant()} '{plugin.Name}' ({plugin.Source})";

    /// <summary>A <see cref="Name"/> that starts a sentence: "The model 'stripes' (...)".</summary>
    public static string Capital(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name[1..];

    /// <summary>
    /// Whether an error from plugin code is the plugin's to be named for: input errors, cancellation and sink failures say
    /// enough, and a device out of memory or a file error is the machine's, whichever plugin ran into it; an assembly
    /// the plugin needs and does not bring is the plugin's, though the runtime throws it as a file error.
    /// </summary>
    public static bool Names(Exception error) =>
        MissingAssembly(error) is not null ||
        error is not (FifoInputException or OperationCanceledException or PluginFailedException or SinkFailedException
            or IOException or UnauthorizedAccessException) && !DeviceMemory.IsOutOfMemory(error) && !IsUsersStop(error);

    /// <summary>
    /// The assembly the runtime could not load for plugin code, where <paramref name="error"/> is that: an IOException
    /// by type, but the plugin's fault, not the machine's (its FileName is an assembly's display name, not a path).
    /// </summary>
    public static AssemblyName? MissingAssembly(Exception error)
    {
        var file = error switch { FileNotFoundException missing => missing.FileName, FileLoadException unloadable => unloadable.FileName, _ => null };
        if (file is null || !file.Contains(", Version=", StringComparison.Ordinal)) return null;
        try { return new AssemblyName(file); }
        catch (Exception ex) when (ex is ArgumentException or FileLoadException) { return null; }
    }

    /// <summary>
    /// What to do about an assembly plugin code could not load, with a leading space; "" for any other error. A plugin
    /// built without EnableDynamicLoading leaves its NuGet dependencies out of its build output.
    /// </summary>
    public static string MissingAssemblyFix(Exception error) => MissingAssembly(error) is not { Name: { } name } ? "" : error is FileNotFoundException
        ? $" {name} is neither in the plugin's folder nor shared by FifoPipes: {PluginHost.DependencyFix(name)}."
        : $" The plugin's folder holds no {name} it can load: {PluginHost.DependencyFix(name)}.";

    /// <summary>
    /// PowerShell stopping the command, from inside a plugin's log call (-WarningAction Stop) or by a stopped pipeline:
    /// the user's doing, to pass on as it is (by name: the engine does not reference PowerShell).
    /// </summary>
    public static bool IsUsersStop(Exception error) => error.GetType().FullName is
        "System.Management.Automation.ActionPreferenceStopException" or "System.Management.Automation.PipelineStoppedException";

    /// <summary>
    /// " in the model's StripesModel.Encode": the method nearest the throw whose class comes from one of the
    /// <paramref name="owners"/>' plugin folders, so a model's bug met inside a sampler's loop is not taken for the
    /// sampler's; "" where none is on the stack, or where the stack does not say where the fault was.
    /// </summary>
    /// <param name="owners">Each plugin's assembly (<see cref="PluginDescriptor.Source"/>: its folder is its load context) and whose code it is ("the model's").</param>
    public static string ThrownIn(Exception error, params (string Source, string Whose)[] owners)
    {
        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException) chain.Add(e);
        // CUDA reports a kernel's fault at a later call, which may be anyone's.
        if (chain.Any(e => e.Message.Contains("CUDA error", StringComparison.Ordinal))) return "";
        // The runtime throws a missing assembly where the method that needs it is called, which may be another plugin's
        // code: the plugin that references it is the one that needs it.
        if (chain.Select(MissingAssembly).LastOrDefault(a => a is not null) is { Name: { } missing })
        {
            var needs = owners.Where(o => PluginHost.References(o.Source, missing)).Select(o => o.Whose).Distinct().ToList();
            return needs.Count == 1 ? $" in {needs[0]} code" : "";
        }
        // The innermost exception was thrown where the fault is; wrappers (an AggregateException from a Wait) were thrown later.
        foreach (var e in Enumerable.Reverse(chain))
            foreach (var frame in new System.Diagnostics.StackTrace(e, false).GetFrames())
            {
                if (frame.GetMethod() is not { DeclaringType: { } type } method || string.IsNullOrEmpty(type.Assembly.Location)) continue;
                var folder = Path.GetDirectoryName(type.Assembly.Location);
                var whose = owners.Where(o => string.Equals(Path.GetDirectoryName(o.Source), folder, StringComparison.Ordinal)).Select(o => o.Whose).ToList();
                // One folder holding both plugins says only where.
                if (whose.Count > 0) return whose.Count == 1 ? $" in {whose[0]} {MethodName(type, method.Name)}" : $" in {MethodName(type, method.Name)}";
            }
        return "";
    }

    /// <summary>Type.Method as written in the source, for a frame of an iterator's, async method's or lambda's generated code too.</summary>
    static string MethodName(Type type, string method)
    {
        while (type.Name.StartsWith('<') && type.DeclaringType is { } outer)
        {
            // <Sample>d__3 is Sample's state machine; <>c and <>c__DisplayClass hold lambdas, named by their own methods.
            if (!type.Name.StartsWith("<>", StringComparison.Ordinal)) method = type.Name[1..type.Name.IndexOf('>')];
            type = outer;
        }
        if (method.StartsWith('<') && method.IndexOf('>') > 1) method = method[1..method.IndexOf('>')];
        return $"{type.Name}.{method}";
    }

    /// <summary>Runs plugin code, naming <paramref name="doing"/> in what it throws ("Loading the model 'x' (path)").</summary>
    public static T Guard<T>(string doing, Func<T> work)
    {
        try { return work(); }
        catch (Exception error) when (Names(error)) { throw new PluginFailedException($"{doing} failed", error); }
    }
}
