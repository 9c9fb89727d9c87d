using System.Diagnostics;
using System.Reflection;
using Xunit;
using Xunit.Abstractions;

namespace FifoPipes.Tests;

/// <summary>Runs a built .NET program in a child process of its own (so its memory and native state are its own) and collects what it printed.</summary>
public static class DotnetChild
{
    public sealed record Result(int ExitCode, string Output, string Errors);

    /// <summary>The path of a program the build recorded in this assembly's metadata under <paramref name="key"/> (see the .csproj).</summary>
    public static string BuiltAssembly(string key) =>
        typeof(DotnetChild).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    /// <param name="environment">Variables set for the child only (the runtime's DOTNET_ switches, say).</param>
    public static Result Run(string assembly, IEnumerable<string> arguments, TimeSpan timeout, ITestOutputHelper output,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(assembly), $"{assembly} is missing; build FifoPipes.sln");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(assembly);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        // Both streams read in the background: a synchronous read would wait for the child's exit and never time out.
        var errors = process.StandardError.ReadToEndAsync();
        var text = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{Path.GetFileName(assembly)} did not finish in {timeout.TotalMinutes:F0} minutes and was killed. It printed:\n{text.Result}\n{errors.Result}");
        }
        output.WriteLine(text.Result);
        output.WriteLine(errors.Result);
        return new Result(process.ExitCode, text.Result, errors.Result);
    }
}
