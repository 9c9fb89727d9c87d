using System.Management.Automation;
using FifoPipes.PowerShell.Engine;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>Error ids become the categories scripts filter on ($_.CategoryInfo.Category), not all InvalidArgument.</summary>
public sealed class ErrorCategoryTests
{
    [Theory]
    [InlineData("CheckpointNotFound", ErrorCategory.ObjectNotFound)]
    [InlineData("ModelNotDownloaded", ErrorCategory.ObjectNotFound)]
    [InlineData("DiffusersWeightsMissing", ErrorCategory.ObjectNotFound)]
    [InlineData("OpenSoraTextEncoderIncomplete", ErrorCategory.ObjectNotFound)]
    [InlineData("OutputExists", ErrorCategory.ResourceExists)]
    [InlineData("ModelAccessDenied", ErrorCategory.PermissionDenied)]
    [InlineData("ModelFileCorrupt", ErrorCategory.InvalidData)]
    [InlineData("CheckpointKeysMismatch", ErrorCategory.InvalidData)]
    [InlineData("CheckpointUnsafe", ErrorCategory.InvalidData)]
    [InlineData("InitVideoUnreadable", ErrorCategory.InvalidData)]
    [InlineData("VideoCrafterConfigInvalid", ErrorCategory.InvalidData)]
    [InlineData("DiffusersConfigUnsupported", ErrorCategory.InvalidData)]
    [InlineData("SnapshotInvalid", ErrorCategory.InvalidData)]
    [InlineData("UnsupportedBetaSchedule", ErrorCategory.NotImplemented)]
    [InlineData("DeviceUnavailable", ErrorCategory.ResourceUnavailable)]
    [InlineData("ModelDoesNotFit", ErrorCategory.ResourceUnavailable)]
    [InlineData("ModelFileLocked", ErrorCategory.ResourceBusy)]
    [InlineData("ModelStoreLocked", ErrorCategory.ResourceBusy)]
    [InlineData("ModelDownloadFailed", ErrorCategory.ConnectionError)]
    [InlineData("FfmpegFailed", ErrorCategory.WriteError)]
    [InlineData("ModelStoreWriteFailed", ErrorCategory.WriteError)]
    [InlineData("SinkOutputNotWritable", ErrorCategory.WriteError)]
    [InlineData("SnapshotNotWritable", ErrorCategory.WriteError)]
    [InlineData("SnapshotUnsupported", ErrorCategory.InvalidOperation)]
    [InlineData("BadSamplerOption", ErrorCategory.InvalidArgument)]
    [InlineData("UnknownPlugin", ErrorCategory.InvalidArgument)]
    public void An_error_id_has_the_category_its_wording_says(string errorId, ErrorCategory expected) =>
        Assert.Equal(expected, Errors.CategoryOf(errorId));
}
