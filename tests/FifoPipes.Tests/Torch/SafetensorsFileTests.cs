using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Torch;

public sealed class SafetensorsFileTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-st-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.Int64)]
    public void Round_trips_every_dtype_bit_for_bit(ScalarType dtype)
    {
        var path = Path.Combine(dir, "t.safetensors");
        using var original = (randn(3, 5) * 10).to(dtype);
        SafetensorsFile.Save(path, new Dictionary<string, Tensor> { ["a.weight"] = original });
        var loaded = SafetensorsFile.Load(path);
        Assert.Equal(dtype, loaded["a.weight"].dtype);
        Assert.True(loaded["a.weight"].equal(original).all().item<bool>());
    }

    [Fact]
    public void A_header_length_past_the_end_is_refused_without_allocating_it()
    {
        var path = Path.Combine(dir, "huge.safetensors");
        File.WriteAllBytes(path, BitConverter.GetBytes(ulong.MaxValue / 2).Concat("{}"u8.ToArray()).ToArray());
        var ex = Assert.Throws<FifoInputException>(() => SafetensorsFile.Load(path));
        Assert.Contains("header", ex.Message);
    }

    [Fact]
    public void Offsets_past_the_end_name_the_tensor()
    {
        var path = Path.Combine(dir, "trunc.safetensors");
        var header = """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"""u8.ToArray();
        File.WriteAllBytes(path, BitConverter.GetBytes((ulong)header.Length).Concat(header).Concat(new byte[8]).ToArray());
        var ex = Assert.Throws<FifoInputException>(() => SafetensorsFile.Load(path));
        Assert.Contains("'w'", ex.Message);
    }
}
