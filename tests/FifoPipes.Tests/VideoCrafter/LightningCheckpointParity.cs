using FifoPipes.Models.VideoCrafter;
using FifoPipes.Tests.Parity;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// vc.checkpoint: every tensor of the tiny Lightning model.ckpt read by the restricted unpickler has
/// the recorded name, dtype, shape and checksums, equals the component weights it was built from,
/// and the text tower and VAE load from it strictly.
/// </summary>
public sealed class LightningCheckpointParity : IParityComponent
{
    public IEnumerable<string> Components => new[] { "vc.checkpoint" };

    public void Run(ParityCase c)
    {
        var expected = c.Json.GetProperty("expected");
        using var ckpt = TorchZipCheckpoint.Open(c.File(c.Json.GetProperty("files").GetProperty("checkpoint").GetString()!));

        Assert.Equal(expected.GetProperty("zip_record_prefix").GetString(), ckpt.RecordPrefix);
        Assert.Equal(expected.GetProperty("zip_entries").GetInt32(), ckpt.EntryCount);
        Assert.Equal(Strings(expected.GetProperty("pickle_globals")).Order(), ckpt.Globals.Order());
        var top = Assert.IsType<PickleDict>(ckpt.Root);
        Assert.Equal(Strings(expected.GetProperty("top_level_keys")), top.Items.Select(kv => (string)kv.Key));

        var stateDict = ckpt.StateDict(VideoCrafterCheckpoint.StateDictKeys);
        Assert.Equal(expected.GetProperty("key_count").GetInt32(), stateDict.Count);
        foreach (var p in expected.GetProperty("key_count_by_prefix").EnumerateObject())
        {
            int count = p.Name == "(buffers)"
                ? stateDict.Count(kv => !new[] { VideoCrafterCheckpoint.UNetPrefix, VideoCrafterCheckpoint.VaePrefix, VideoCrafterCheckpoint.TextPrefix }.Any(kv.Key.StartsWith))
                : stateDict.Count(kv => kv.Key.StartsWith(p.Name, StringComparison.Ordinal));
            Assert.True(p.Value.GetInt32() == count, $"{p.Name}: {count} keys, expected {p.Value.GetInt32()}");
        }
        foreach (var buffer in VideoCrafterCheckpoint.ScheduleBuffers.Append("scale_arr"))
            Assert.Contains(stateDict, kv => kv.Key == buffer);

        var checksums = c.Json.GetProperty("checksums");
        double checksumRtol = expected.GetProperty("checksum_rtol").GetDouble();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, tensor) in ckpt.Stream(null, null, VideoCrafterCheckpoint.StateDictKeys)) tensors[name] = tensor;
            Assert.Equal(checksums.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
            foreach (var p in checksums.EnumerateObject())
            {
                var t = tensors[p.Name];
                Assert.Equal(ScalarType.Float32, t.dtype);
                Assert.True(p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).SequenceEqual(t.shape), $"{p.Name}: shape [{string.Join(", ", t.shape)}]");
                using var wide = t.to(ScalarType.Float64);
                double sum = wide.sum().item<double>(), absSum = wide.abs().sum().item<double>();
                double expSum = p.Value.GetProperty("sum").GetDouble(), expAbs = p.Value.GetProperty("abs_sum").GetDouble();
                double tol = checksumRtol * Math.Max(1, expAbs);
                Assert.True(Math.Abs(sum - expSum) <= tol && Math.Abs(absSum - expAbs) <= tol,
                    $"{p.Name}: sum {sum:R} / abs-sum {absSum:R}, expected {expSum:R} / {expAbs:R}");
            }
            foreach (var name in c.Outputs) AssertEqual(c[name], tensors[name], name);
            foreach (var p in c.Json.GetProperty("weights_from").EnumerateObject())
            {
                var source = Path.GetFullPath(Path.Combine(c.Folder, "..", p.Value.GetString()!));
                int count = 0;
                foreach (var (key, weight) in SafetensorsFile.Stream(source))
                {
                    using (weight) AssertEqual(weight, tensors[p.Name + key], p.Name + key);
                    count++;
                }
                Assert.Equal(count, tensors.Keys.Count(k => k.StartsWith(p.Name, StringComparison.Ordinal)));
            }
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }

        var cond = c.Config.GetProperty("cond_stage");
        using (var text = VideoCrafterCheckpoint.LoadTextEncoder(ckpt, VcParityConfig.Text(cond.GetProperty("arch_config"))))
            Assert.NotEmpty(text.parameters());
        // Loading casts as it streams: the VAE comes out in bfloat16.
        using var vae = VideoCrafterCheckpoint.LoadVae(ckpt, VcParityConfig.Vae(c.Config.GetProperty("ddconfig"), 4), ScalarType.BFloat16);
        Assert.All(vae.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
    }

    static IEnumerable<string> Strings(System.Text.Json.JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!);

    static void AssertEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        Assert.True(expected.dtype == actual.dtype && expected.equal(actual).all().item<bool>(), $"{what}: values differ from the expected tensor");
    }
}
