using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FifoPipes.Tests.VideoCrafter;

public sealed class StateDictLoaderTests
{
    static IEnumerable<(string, Tensor)> Source(params (string Name, long[] Shape)[] items) =>
        items.Select(i => (i.Name, ones(i.Shape)));

    [Fact]
    public void Prefix_and_renames_map_onto_the_module_and_values_are_copied_and_cast()
    {
        using var module = Sequential(("proj", Linear(3, 2)));
        module.to(ScalarType.BFloat16);
        var mapping = new StateDictMapping { Prefix = "outer.", Renames = new[] { ("proj_in.", "proj.") } };
        var loaded = StateDictLoader.Load(module, Source(("outer.proj_in.weight", new long[] { 2, 3 }), ("outer.proj_in.bias", new long[] { 2 }), ("other.x", new long[] { 5 })), mapping, "test");
        Assert.Equal(new[] { "proj.bias", "proj.weight" }, loaded.Order());
        var weight = module.named_parameters().Single(p => p.name == "proj.weight").parameter;
        Assert.Equal(ScalarType.BFloat16, weight.dtype);
        Assert.Equal(6.0, weight.to(ScalarType.Float32).sum().item<float>());
    }

    [Fact]
    public void Missing_unexpected_and_misshapen_keys_are_listed_in_one_error()
    {
        using var module = Sequential(("a", Linear(3, 2)), ("b", Linear(2, 2)));
        var ex = Assert.Throws<FifoInputException>(() => StateDictLoader.Load(module,
            Source(("m.a.weight", new long[] { 2, 4 }), ("m.a.bias", new long[] { 2 }), ("m.b.weight", new long[] { 2, 2 }), ("m.c.weight", new long[] { 1 })),
            new StateDictMapping { Prefix = "m." }, "my.ckpt"));
        Assert.Equal("CheckpointMismatch", ex.ErrorId);
        Assert.Contains("my.ckpt", ex.Message);
        Assert.Contains("1 missing: m.b.bias", ex.Message);
        Assert.Contains("1 unexpected: m.c.weight", ex.Message);
        Assert.Contains("m.a.weight: checkpoint [2, 4], model [2, 3]", ex.Message);
    }

    [Fact]
    public void Non_strict_loading_tolerates_missing_and_extra_keys_but_not_wrong_shapes()
    {
        using var module = Sequential(("a", Linear(3, 2)));
        var loaded = StateDictLoader.Load(module, Source(("a.weight", new long[] { 2, 3 }), ("zzz", new long[] { 1 })), new StateDictMapping { Strict = false }, "x");
        Assert.Equal(new[] { "a.weight" }, loaded);
        Assert.Throws<FifoInputException>(() => StateDictLoader.Load(module, Source(("a.bias", new long[] { 3 })), new StateDictMapping { Strict = false }, "x"));
    }
}
