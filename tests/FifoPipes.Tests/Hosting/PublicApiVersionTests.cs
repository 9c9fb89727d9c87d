using System.Security.Cryptography;
using System.Text;
using FifoPipes.Tests.Parity;
using Xunit;

namespace FifoPipes.Tests.Hosting;

/// <summary>
/// Each assembly plugins build against has its public surface pinned (build/PublicApi.targets), and each surface belongs
/// to one version: the host holds plugins to these versions (PluginHost), so a surface that changed under an unchanged
/// version is a change plugins built against it would meet unannounced, half-way through a run.
/// </summary>
public sealed class PublicApiVersionTests
{
    /// <summary>Version (major.minor) to the surface's hash at that version. A new version adds its line; the lines before it stay.</summary>
    static readonly Dictionary<string, Dictionary<string, string>> Pins = new()
    {
        // Pinned from 1.8, when the analyzer came; 1.9 added IModelAdapter.Describe and ISamplerFactory.Check, 1.10 PluginOptions.As, 1.11 SamplingJob.RunPlugins and FifoInputException.Option, 1.12 IFrameSink.FramesHeld,
        // 1.13 ISamplerFactory.Check with JobInputs (a run's inputs checked before the load) and ModelInfo.FusesTemporalAttention.
        ["FifoPipes.Abstractions"] = new() { ["1.8"] = "2a187dd967d793f3", ["1.9"] = "784f0957e4ae0df9", ["1.10"] = "de876a3f541e5b13", ["1.11"] = "5b11a005bc2ee6a5", ["1.12"] = "74e9312e59854a90",
                                             ["1.13"] = "5661119322bdf38e" },
        // Core 1.1 added SinkFiles.SegmentStart; 1.2 FileRecord, ProvenanceReader.KindOf (RecordingFile), and Fmp4Boxes (from the ffmpeg sinks) with FirstSampleDuration; 1.3 HlsPlaylist (from them too) with FileOf;
        // 1.4 RunRecord (one reading of "same run, or made longer" for the png and ffmpeg sinks and Get-FifoProvenance); 1.5 FramesInFile (a resume's join says what a file cut short lacks).
        ["FifoPipes.Core"] = new() { ["1.0"] = "cfccd63384f8bfc9", ["1.1"] = "8e4ec61eba61b445", ["1.2"] = "24675081a00ab7ea", ["1.3"] = "45ee83c1806e989a", ["1.4"] = "db5b7f508966c5d2", ["1.5"] = "9a2940c3660a99ee" },
        // Torch 1.2 added RequireWeights to the diffusers UNet, VAE and CLIP text loaders (a config checked against its weights without loading);
        // 1.3 SafetensorsEntry.ScalarType (a bfloat16 file's schedule buffers are checked to bfloat16's precision).
        ["FifoPipes.Torch"] = new() { ["1.0"] = "8795d4e9f8db1b57", ["1.1"] = "76d9fbaa966c8638", ["1.2"] = "9aa977b4c565a896", ["1.3"] = "e27d758a1fc4efeb" },
    };

    /// <summary>The declared surface: both files' entries, in order, without blank lines or the nullable marker.</summary>
    static string SurfaceHash(string assembly)
    {
        var folder = Path.Combine(ParityCase.RepoRoot, "src", assembly);
        var lines = new[] { "PublicAPI.Shipped.txt", "PublicAPI.Unshipped.txt" }
            .SelectMany(file => File.ReadAllLines(Path.Combine(folder, file)))
            .Select(line => line.Trim()).Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Order(StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", lines))))[..16];
    }

    static string VersionOf(string assembly) =>
        System.Reflection.AssemblyName.GetAssemblyName(Path.Combine(AppContext.BaseDirectory, assembly + ".dll")).Version!.ToString(2);

    [Theory]
    [InlineData("FifoPipes.Abstractions", "M:FifoPipes.Abstractions.IModelAdapter.Describe(System.Object,FifoPipes.Abstractions.PluginContext)")]
    [InlineData("FifoPipes.Core", "T:FifoPipes.Core.KeyedNoise")]
    [InlineData("FifoPipes.Torch", "T:FifoPipes.Torch.Checkpoints.RestrictedUnpickler")]
    public void Each_pinned_assembly_ships_its_documentation_beside_it_in_the_module(string assembly, string member)
    {
        // A plugin author builds against the module's Dependencies/ (-p:FifoModule), so the editor reads the docs there.
        var docs = Path.Combine(ParityCase.RepoRoot, "artifacts", "FifoDiffusion", "Dependencies", assembly + ".xml");
        Assert.True(File.Exists(docs), $"{docs} is missing");
        Assert.Contains(System.Xml.Linq.XDocument.Load(docs).Descendants("member"), m => (string?)m.Attribute("name") == member);
    }

    [Fact]
    public void The_readme_names_the_versions_plugins_build_against_today()
    {
        // Plugin authors read there which versions to build against: a bump left out of it sends them to the wrong one.
        var readme = File.ReadAllText(Path.Combine(ParityCase.RepoRoot, "README.md"));
        var stated = System.Text.RegularExpressions.Regex.Match(readme, @"\(Core (\d+\.\d+) and Torch (\d+\.\d+) today");
        Assert.True(stated.Success, "README.md no longer says which Core and Torch versions are current ('(Core x.y and Torch x.y today').");
        Assert.Equal((VersionOf("FifoPipes.Core"), VersionOf("FifoPipes.Torch")), (stated.Groups[1].Value, stated.Groups[2].Value));
        Assert.Contains($"no newer minor ({VersionOf("FifoPipes.Abstractions")} today:", readme);
    }

    [Theory]
    [InlineData("FifoPipes.Abstractions")]
    [InlineData("FifoPipes.Core")]
    [InlineData("FifoPipes.Torch")]
    public void Each_public_surface_is_the_one_pinned_for_its_version(string assembly)
    {
        string version = VersionOf(assembly), hash = SurfaceHash(assembly);
        Assert.True(Pins[assembly].TryGetValue(version, out var pinned),
            $"{assembly} {version} has no pin: add [\"{version}\"] = \"{hash}\" to {nameof(Pins)}, keeping the versions before it.");
        Assert.True(pinned == hash,
            $"{assembly}'s public surface changed, and its version is still {version}. Give it a new AssemblyVersion (a minor for members added, " +
            $"a major for any changed or removed) and pin that version to \"{hash}\"; the host then refuses plugins built against the new one on an older FifoPipes.");
    }
}
