using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using FifoPipes.PowerShell.Engine;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists the models in the local model store: name, preset, plugin, files, size and whether every file is there.</para>
/// <para type="description">Shows the presets saved with Save-FifoModel and files saved by hand (named owner/name@revision). -ListAvailable adds the catalog's presets that are not downloaded yet. A file counts as there when it has the size the hub listed (Save-FifoModel -Verify checks the content). A model whose store record cannot be read (a damaged manifest or preset record) is listed with Complete false and the Problem, and a non-terminating error ModelStoreCorrupt names the record and the command that mends it; the rest of the store is still listed. The store is FIFOPIPES_MODEL_STORE, else $XDG_CACHE_HOME/fifopipes/models, else ~/.cache/fifopipes/models.</para>
/// <example><code>Get-FifoModel</code></example>
/// <example><code>Get-FifoModel -ListAvailable | Format-Table Name, Plugin, Complete, Size, Description</code></example>
/// </summary>
[Cmdlet(VerbsCommon.Get, "FifoModel")]
[OutputType(typeof(FifoModelInfo))]
public sealed class GetFifoModelCommand : PSCmdlet
{
    /// <summary><para type="description">Model names; wildcards allowed. owner/name without @revision lists that repository at every revision the store holds.</para></summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(StoredModelNameCompleter))]
    public string[]? Name { get; set; }

    /// <summary><para type="description">Also list the catalog's presets that are not (completely) downloaded.</para></summary>
    [Parameter] public SwitchParameter ListAvailable { get; set; }

    protected override void EndProcessing()
    {
        IReadOnlyList<StoredModel> models;
        try { models = ModelStore.FromEnvironment().List(ListAvailable ? ModelCatalog.FromEnvironment() : null); }
        catch (FifoInputException ex) { ThrowTerminatingError(Errors.From(ex)); return; }
        var names = new NameFilter(Name, StoredModelNames.Names);
        foreach (var model in models.Where(m => names.Matches(m.Name)))
        {
            // Each damaged record is its model's error, not the listing's: the rest of the store is still listed.
            foreach (var damage in model.Damage)
                WriteError(Errors.From(new FifoInputException("ModelStoreCorrupt", damage.Problem), model.Name));
            WriteObject(new FifoModelInfo(model));
        }
        foreach (var name in names.UnmatchedPlainNames())
        {
            var hint = ListAvailable ? "" : " Add -ListAvailable to see the presets that can be downloaded, or save it with Save-FifoModel.";
            WriteError(new ErrorRecord(new ItemNotFoundException($"There is no stored model '{name}'.{hint}"), "ModelNotFound", ErrorCategory.ObjectNotFound, name));
        }
    }
}
