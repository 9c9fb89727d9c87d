using FifoPipes.Abstractions;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>What a model adapter describes before loading (<see cref="IModelAdapter.Describe"/>) held to what the load gives.</summary>
public static class ModelDescription
{
    /// <summary>The same Info, but for the device and fingerprint, which a description may leave at their defaults.</summary>
    public static void Matches(ModelInfo loaded, ModelInfo? described) =>
        Assert.Equal(loaded, Assert.IsType<ModelInfo>(described) with { Device = loaded.Device, Fingerprint = loaded.Fingerprint });
}
