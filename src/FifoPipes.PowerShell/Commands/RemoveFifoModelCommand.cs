using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Deletes a model from the local model store: its files, what interrupted downloads left of them, and its record.</para>
/// <para type="description">Takes the names Get-FifoModel shows: a preset saved with Save-FifoModel, or owner/name@revision for files saved by hand; wildcards match stored models, and Get-FifoModel output can be piped in. A file that another saved preset also uses (a tokenizer shared by two presets) stays, and -Verbose says which preset keeps it. A file being downloaded by a running Save-FifoModel is not touched: that model's error says so. Supports -WhatIf and -Confirm.</para>
/// <example><code>Remove-FifoModel zeroscope-576w -WhatIf</code></example>
/// <example><code>Get-FifoModel | Where-Object { -not $_.Complete } | Remove-FifoModel -Verbose</code></example>
/// </summary>
[Cmdlet(VerbsCommon.Remove, "FifoModel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
public sealed class RemoveFifoModelCommand : PSCmdlet
{
    /// <summary><para type="description">Stored model names (Get-FifoModel lists them); wildcards are allowed.</para></summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(SavedModelNameCompleter))]
    public string[] Name { get; set; } = Array.Empty<string>();

    protected override void ProcessRecord()
    {
        var store = ModelStore.FromEnvironment();
        IReadOnlyList<StoredModel> stored;
        try { stored = store.List(); }
        catch (FifoInputException ex) { ThrowTerminatingError(Errors.From(ex)); return; }
        var names = new NameFilter(Name);
        // One model's problem is that model's error; the others are still removed.
        foreach (var model in stored.Where(m => names.Matches(m.Name)).ToList())
        {
            if (!ShouldProcess(model.Name, $"Delete its {model.Files.Count} files ({model.Size / 1e9:F2} GB as listed; any another saved preset uses stay) from {store.Root}")) continue;
            try
            {
                var removal = store.RemoveAsync(model.Name).GetAwaiter().GetResult();
                foreach (var kept in removal.Kept) WriteVerbose($"Kept {kept.File.Repository}/{kept.File.Path}: the saved preset '{kept.UsedBy}' uses it.");
                WriteVerbose($"Removed {removal.Name}: {removal.Deleted.Count} files, {removal.FreedBytes / 1e9:F2} GB freed.");
            }
            catch (FifoInputException ex)
            {
                WriteError(Errors.From(ex, model.Name));
            }
        }
        foreach (var name in names.UnmatchedPlainNames())
            WriteError(new ErrorRecord(new ItemNotFoundException($"There is no stored model '{name}' in '{store.Root}'. Get-FifoModel lists what the store holds."),
                "ModelNotFound", ErrorCategory.ObjectNotFound, name));
    }
}
