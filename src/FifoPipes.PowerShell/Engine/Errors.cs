using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Options;

namespace FifoPipes.PowerShell.Engine;

/// <summary>Turns engine exceptions and diagnostics into ErrorRecords with stable ids and real categories.</summary>
static class Errors
{
    /// <summary>
    /// Whether <paramref name="ex"/> is PowerShell ending the pipeline, not a failure: a downstream Select-Object -First
    /// (PipelineStoppedException), -ErrorAction Stop, or a break, continue or exit in a script block downstream
    /// (FlowControlException), which must reach its loop as it is, not come back as the run's error.
    /// </summary>
    public static bool IsPipelineFlow(Exception ex) =>
        ex is PipelineStoppedException or ActionPreferenceStopException or FlowControlException;

    public static ErrorRecord From(Exception ex, object? target = null) => ex switch
    {
        FifoInputException input => new ErrorRecord(input, input.ErrorId, CategoryOf(input.ErrorId), target),
        SinkFailedException sink => new ErrorRecord(sink, "SinkFailed", ErrorCategory.WriteError, StreamAddress.Display(sink.Path)),
        AggregateException { InnerExceptions.Count: 1 } one => From(one.InnerExceptions[0], target),
        _ => new ErrorRecord(ex, "FifoRunFailed", ErrorCategory.NotSpecified, target),
    };

    /// <summary>
    /// The category from the id's wording, which the plugins share (a third party's ids fit as long as they follow it):
    /// missing things, damaged or mismatched files, busy or absent hardware, failed writes; the rest is a bad argument.
    /// </summary>
    internal static ErrorCategory CategoryOf(string errorId)
    {
        bool Has(params string[] words) => words.Any(w => errorId.Contains(w, StringComparison.Ordinal));
        return errorId switch
        {
            "ModelDownloadFailed" => ErrorCategory.ConnectionError,
            "ModelFileLocked" or "ModelStoreLocked" => ErrorCategory.ResourceBusy,
            "DeviceUnavailable" or "ModelDoesNotFit" => ErrorCategory.ResourceUnavailable,
            "FfmpegFailed" or "ModelStoreWriteFailed" => ErrorCategory.WriteError,
            _ when errorId.EndsWith("NotWritable", StringComparison.Ordinal) => ErrorCategory.WriteError,
            "SnapshotUnsupported" => ErrorCategory.InvalidOperation,
            _ when Has("NotFound", "NotDownloaded", "Missing", "Incomplete") => ErrorCategory.ObjectNotFound,
            _ when errorId.EndsWith("Exists", StringComparison.Ordinal) => ErrorCategory.ResourceExists,
            _ when errorId.EndsWith("AccessDenied", StringComparison.Ordinal) => ErrorCategory.PermissionDenied,
            _ when Has("Corrupt", "Mismatch", "Changed", "Unsafe", "Unreadable", "ConfigInvalid", "ConfigUnsupported", "SnapshotInvalid", "InvalidModel") => ErrorCategory.InvalidData,
            _ when Has("Unsupported") => ErrorCategory.NotImplemented,
            _ => ErrorCategory.InvalidArgument,
        };
    }

    /// <summary>
    /// Problems with a recipe built from a file and/or cmdlet parameters: when every problem is a parameter's (found
    /// by <paramref name="parameterOf"/>), the error is one of invalid arguments naming each parameter, not of a recipe.
    /// </summary>
    /// <param name="unsetParameterOf">For a problem of a setting no parameter set, the parameter that would set it, where the command names one.</param>
    public static ErrorRecord InvalidRecipe(IReadOnlyList<Diagnostic> diagnostics, string? file, Func<Diagnostic, string?> parameterOf,
        Func<Diagnostic, string?>? unsetParameterOf = null)
    {
        var named = diagnostics.Select(d => (Diagnostic: d, Parameter: parameterOf(d))).ToList();
        if (named.Any(n => n.Parameter is null)) return InvalidSettings(diagnostics, file, unsetParameterOf);
        var text = $"Invalid parameters:{Environment.NewLine}" + string.Join(Environment.NewLine, named.Select(n => $"  {n.Parameter}: {n.Diagnostic.Message}{n.Diagnostic.Choices()}"));
        return new ErrorRecord(new FifoInputException("InvalidParameter", text), "InvalidParameter", ErrorCategory.InvalidArgument, named[0].Parameter);
    }

    /// <summary>Problems with a cmdlet's option hashtable (-Option), named by the parameter.</summary>
    public static ErrorRecord InvalidOptions(IReadOnlyList<Diagnostic> diagnostics, string parameter) =>
        new(new FifoInputException("InvalidParameter", $"Invalid {parameter}:{Environment.NewLine}" + string.Join(Environment.NewLine, diagnostics.Select(d => $"  {d.Path[(d.Path.LastIndexOf('.') + 1)..]}: {d.Message}{d.Choices()}"))),
            "InvalidParameter", ErrorCategory.InvalidArgument, parameter);

    /// <summary>All recipe problems in one terminating error, one per line, each with its location, or the parameter that would set what no file placed.</summary>
    static ErrorRecord InvalidSettings(IReadOnlyList<Diagnostic> diagnostics, string? file, Func<Diagnostic, string?>? unsetParameterOf)
    {
        // Without a recipe file the settings came from parameters and defaults: "the recipe" would name nothing the user wrote,
        // and a setting missing there is the parameter's to give (-ModelPath), not a recipe key's.
        var text = (file is null ? "The run's settings are not valid:" : $"The recipe '{file}' is not valid:") + Environment.NewLine +
                   string.Join(Environment.NewLine, diagnostics.Select(d => "  " + (unsetParameterOf?.Invoke(d) is { } parameter ? d with { Path = parameter } : d)));
        return new ErrorRecord(new FifoInputException("InvalidRecipe", text), "InvalidRecipe", ErrorCategory.InvalidData, file);
    }
}
