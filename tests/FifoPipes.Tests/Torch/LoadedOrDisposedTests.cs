using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Torch;

/// <summary>A network built for a checkpoint that fails to load gives its memory back at once.</summary>
public sealed class LoadedOrDisposedTests
{
    [Fact]
    public void A_failed_load_disposes_the_module_and_a_good_one_returns_it()
    {
        var good = StateDictLoader.LoadedOrDisposed(nn.Linear(3, 2), linear => linear.weight!.detach().zero_());
        Assert.Equal(0f, good.weight!.abs().sum().item<float>());

        var failing = nn.Linear(3, 2);
        var weight = failing.weight!;
        var ex = Assert.Throws<InvalidDataException>(() => StateDictLoader.LoadedOrDisposed(failing, _ => throw new InvalidDataException("truncated shard")));
        Assert.Equal("truncated shard", ex.Message);
        Assert.Throws<InvalidOperationException>(() => weight.sum());
    }
}
