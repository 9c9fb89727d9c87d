using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Deletes a model from the local model store: its files, what interrupted downloads left of them, and its record.</para>
/// <para type="description">Takes the names Get-FifoModel shows: a preset saved with Save-FifoModel, or owner/name@revision for files saved by hand (owner/name alone where the store holds one revision of it); wildcards match stored models, and Get-FifoModel output can be piped in. A file that another saved preset also uses (a tokenizer shared by two presets) stays, and -Verbose says which preset keeps it. A file being downloaded by a running Save-FifoModel is not touched: that model's error says so. A model whose store record cannot be read is removed too, the damaged record with it. Supports -WhatIf and -Confirm.</para>
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
        // owner/name alone, stored at several revisions: which to delete is the user's to say.
        var ambiguous = Name.Select(n => (Name: n, Revisions: StoredModelNames.AmbiguousRevisions(n, stored.Select(m => m.Name)))).Where(a => a.Revisions.Count > 0).ToList();
        foreach (var (name, revisions) in ambiguous) WriteError(Ambiguous(name, revisions));
        var names = new NameFilter(Name.Except(ambiguous.Select(a => a.Name)).ToArray(), StoredModelNames.Names);
        // One model's problem is that model's error; the others are still removed.
        foreach (var model in stored.Where(m => names.Matches(m.Name)).ToList())
        {
            StoreRemovalPlan plan;
            try { plan = store.PlanRemoval(model.Name); }
            catch (FifoInputException ex)
            {
                WriteError(Errors.From(ex, model.Name));
                continue;
            }
            if (!ShouldProcess(model.Name, WhatItDeletes(plan, store.Root))) continue;
            try
            {
                var removal = store.RemoveAsync(model.Name).GetAwaiter().GetResult();
                foreach (var kept in removal.Kept) WriteVerbose($"Kept {kept.File.Repository}/{kept.File.Path}: the saved preset '{kept.UsedBy}' uses it.");
                WriteVerbose($"Removed {removal.Name}: {WhatWasDeleted(removal)}, {StoreWords.Bytes(removal.FreedBytes)} freed.");
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

    /// <summary>The -WhatIf and -Confirm text: the files that would really go, and those another saved preset keeps.</summary>
    internal static string WhatItDeletes(StoreRemovalPlan plan, string root)
    {
        var deleting = plan.Deleting.Count == 0
            ? "Delete no file, only its record"
            : $"Delete {StoreWords.Count(plan.Deleting.Count, "file")} ({StoreWords.Bytes(plan.OnDiskBytes)} on disk)";
        var kept = plan.Kept.Count == 0 ? "" : $"; keep {StoreWords.Count(plan.Kept.Count, "file")} that other saved presets use";
        var damaged = plan.Model.Damage.Count == 0 ? "" : $"; delete its unreadable {string.Join(", ", plan.Model.Damage.Select(d => $"'{d.Record}'"))}";
        return $"{deleting} from {root}{kept}{damaged}";
    }

    /// <summary>The files a removal deleted, saying so where all there was of them was a cut-short download.</summary>
    internal static string WhatWasDeleted(StoreRemoval removal)
    {
        int partial = removal.PartialOnly.Count, all = removal.Deleted.Count;
        if (partial > 0 && partial == all) return $"the partial download of {StoreWords.Count(all, "file")}";
        var files = StoreWords.Count(all, "file");
        return partial == 0 ? files : $"{files} ({partial} of them only partly downloaded)";
    }

    static ErrorRecord Ambiguous(string name, IReadOnlyList<string> revisions) =>
        new(new ArgumentException($"'{name}' is stored at {revisions.Count} revisions ({string.Join(", ", revisions)}); name the one to remove, " +
                                  $"e.g. Remove-FifoModel {revisions[0]}, or remove them all with Remove-FifoModel {name}@*."),
            "AmbiguousModelName", ErrorCategory.InvalidArgument, name);
}
