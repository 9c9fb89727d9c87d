using System.Management.Automation;
using FifoPipes.Abstractions;
using FifoPipes.PowerShell.Engine;
using FifoPipes.Torch.Checkpoints;

namespace FifoPipes.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Converts a checkpoint (Lightning model.ckpt, pytorch_model.bin, .pt, or safetensors) to a safetensors file, optionally in another precision.</para>
/// <para type="description">Tensors are read, cast and written one at a time, so memory stays near the largest tensor even for a 7 GB checkpoint. Keys are kept (a Lightning checkpoint's are those under state_dict), so the model plugins load the result like the original, faster and without unpickling. Only floating tensors are cast. The file appears under its name only when complete.</para>
/// <example><code>ConvertTo-FifoCheckpoint -Path model.ckpt -Destination model.safetensors -DType bfloat16</code></example>
/// <example><code>Get-FifoModel videocrafter2 | ForEach-Object { ConvertTo-FifoCheckpoint (Join-Path $_.Path model.ckpt) }</code></example>
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "FifoCheckpoint", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ConvertToFifoCheckpointCommand : PSCmdlet
{
    volatile bool stopping;

    /// <summary><para type="description">The checkpoint to convert.</para></summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary><para type="description">The safetensors file to write (its name must end in .safetensors); default: the source with the extension .safetensors, or for a safetensors source &lt;name&gt;.&lt;dtype&gt;.safetensors.</para></summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Destination { get; set; }

    /// <summary><para type="description">Cast floating tensors to float32, bfloat16 or float16; default: keep each tensor's type.</para></summary>
    [Parameter]
    [ValidateSet("float32", "bfloat16", "float16", IgnoreCase = true)]
    public string? DType { get; set; }

    /// <summary><para type="description">Overwrite an existing destination.</para></summary>
    [Parameter] public SwitchParameter Force { get; set; }

    // Each checkpoint is its own piece of work: one that cannot be converted is reported and the next one still runs.
    protected override void ProcessRecord()
    {
        var source = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if ((Destination ?? DefaultDestination(source)) is not { } named) return;
        var destination = SessionState.Path.GetUnresolvedProviderPathFromPSPath(named);
        // A loader given model.ckpt expects a torch zip: a safetensors file under that name would be called damaged.
        if (!destination.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && !System.IO.Directory.Exists(destination))
        {
            WriteError(Errors.From(new FifoInputException("DestinationNotSafetensors",
                $"'{destination}' does not end in .safetensors, but a safetensors file is what ConvertTo-FifoCheckpoint writes: name it " +
                $"'{System.IO.Path.ChangeExtension(destination, ".safetensors")}' (the model plugins read the file by that extension)."), destination));
            return;
        }
        if (!ShouldProcess(destination, $"Convert '{source}' to safetensors{(DType is null ? "" : " in " + DType)}")) return;
        if (!Force && System.IO.File.Exists(destination))
        {
            WriteError(Errors.From(new FifoInputException("OutputExists", $"'{destination}' already exists. Use -Force to overwrite it, or choose another -Destination."), destination));
            return;
        }

        var progress = new ProgressRecord(3, $"ConvertTo-FifoCheckpoint {System.IO.Path.GetFileName(source)}", "reading the checkpoint");
        try
        {
            var result = CheckpointConverter.ToSafetensors(source, destination, DType, (done, total, name) =>
            {
                // Stopping here unwinds the writer, which deletes its partial file.
                if (stopping) throw new PipelineStoppedException();
                progress.StatusDescription = $"{done} of {total} tensors: {name}";
                progress.PercentComplete = (int)(100L * done / Math.Max(1, total));
                WriteProgress(progress);
            });
            WriteVerbose($"Wrote {result.Tensors} tensors ({result.Bytes / 1e9:F2} GB) to {result.Destination}.");
            WrittenItems.Write(this, new[] { result.Destination });
        }
        catch (Exception ex) when (!Errors.IsPipelineFlow(ex))
        {
            WriteError(Errors.From(ex, source));
        }
        finally
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }
    }

    /// <summary>
    /// The source renamed to .safetensors; a safetensors source gets its new precision in the name instead, and without
    /// one there is nothing to convert (reported; null).
    /// </summary>
    string? DefaultDestination(string source)
    {
        if (!System.IO.Path.GetExtension(source).Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
            return System.IO.Path.ChangeExtension(source, ".safetensors");
        if (DType is not null) return System.IO.Path.ChangeExtension(source, $".{DType.ToLowerInvariant()}.safetensors");
        WriteError(Errors.From(new FifoInputException("ConversionInPlace",
            $"'{source}' is already safetensors. Give -DType to write a copy in another precision (named {System.IO.Path.GetFileNameWithoutExtension(source)}.bfloat16.safetensors, say), or -Destination."), source));
        return null;
    }

    protected override void StopProcessing() => stopping = true;
}
