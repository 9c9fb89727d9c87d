using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Torch;

/// <summary>A network built for a checkpoint that fails to load gives its memory back at once, and a stopped run stops loading.</summary>
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

    [Fact]
    public void A_load_stops_between_tensors_once_the_run_is_stopped()
    {
        using var linear = nn.Linear(3, 2);
        int read = 0;
        IEnumerable<(string, TorchSharp.torch.Tensor)> Source()
        {
            read++; yield return ("weight", ones(2, 3));
            read++; yield return ("bias", ones(2));
        }
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        using (LoadCancellation.Use(stop.Token))
            Assert.Throws<OperationCanceledException>(() => StateDictLoader.Load(linear, Source(), new StateDictMapping(), "stopped"));
        Assert.Equal(1, read);   // not one tensor further
        Assert.Equal(default, LoadCancellation.Current);
        StateDictLoader.Load(linear, Source(), new StateDictMapping(), "after the scope");
        Assert.Equal(1f, linear.bias!.min().item<float>());
    }
}
