using System.IO.Compression;
using System.Text;
using FifoPipes.Abstractions;
using FifoPipes.Torch.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

public sealed class TorchZipCheckpointTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-ckpt-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);


    string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string ZipWithPickle(byte[] pickle)
    {
        var path = Path.Combine(dir, "hostile.ckpt");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create)) LightningCheckpointWriter.AddPickle(zip, pickle);
        return path;
    }

    static FifoInputException Refused(string path) => Assert.Throws<FifoInputException>(() => TorchZipCheckpoint.Open(path).Dispose());

    [Fact]
    public void A_missing_file_names_the_path()
    {
        var ex = Refused(Path.Combine(dir, "nope.ckpt"));
        Assert.Equal("CheckpointNotFound", ex.ErrorId);
        Assert.Contains("nope.ckpt", ex.Message);
    }

    [Fact]
    public void An_empty_file_is_not_a_checkpoint()
    {
        var ex = Refused(Write("empty.ckpt", Array.Empty<byte>()));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("empty.ckpt", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_refused()
    {
        var ex = Refused(Write("text.ckpt", Encoding.UTF8.GetBytes("this is not a checkpoint at all, just some text")));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("not a torch zip archive", ex.Message);
    }

    [Fact]
    public void A_legacy_pickle_checkpoint_says_how_to_convert_it()
    {
        var ex = Refused(Write("legacy.ckpt", new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e }));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("legacy", ex.Message);
    }

    [Fact]
    public void A_truncated_checkpoint_is_refused()
    {
        var bytes = File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint);
        var ex = Refused(Write("truncated.ckpt", bytes[..(bytes.Length / 2)]));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("truncated.ckpt", ex.Message);
    }

    [Fact]
    public void A_zip_without_data_pkl_is_refused()
    {
        var path = Path.Combine(dir, "plain.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("readme.txt").Open()) s.Write("hello"u8);
        Assert.Contains("data.pkl", Refused(path).Message);
    }

    [Fact]
    public void A_pickle_calling_os_system_is_refused_not_executed()
    {
        var marker = Path.Combine(dir, "pwned");
        // protocol 2: GLOBAL 'os system', the argument, TUPLE1, REDUCE, STOP
        var pickle = new List<byte> { 0x80, 0x02 };
        pickle.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        var arg = Encoding.UTF8.GetBytes("touch " + marker);
        pickle.Add((byte)'X');
        pickle.AddRange(BitConverter.GetBytes(arg.Length));
        pickle.AddRange(arg);
        pickle.AddRange(new byte[] { 0x85, (byte)'R', (byte)'.' });

        var ex = Refused(ZipWithPickle(pickle.ToArray()));
        Assert.Equal("CheckpointUnsafe", ex.ErrorId);
        Assert.Contains("os.system", ex.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void A_stack_global_outside_the_allow_list_is_refused()
    {
        // protocol 4 style: SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL, STOP
        var pickle = new List<byte> { 0x80, 0x04, 0x8c, 8 };
        pickle.AddRange("builtins"u8.ToArray());
        pickle.AddRange(new byte[] { 0x8c, 4 });
        pickle.AddRange("eval"u8.ToArray());
        pickle.AddRange(new byte[] { 0x93, (byte)'.' });
        var ex = Refused(ZipWithPickle(pickle.ToArray()));
        Assert.Equal("CheckpointUnsafe", ex.ErrorId);
        Assert.Contains("builtins.eval", ex.Message);
    }

    [Fact]
    public void A_garbled_pickle_is_corrupt_not_a_crash()
    {
        var ex = Refused(ZipWithPickle(new byte[] { 0x80, 0x02, (byte)'}', 0xff }));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
    }

    [Fact]
    public void Tensors_stream_cast_to_the_requested_dtype()
    {
        using var ckpt = TorchZipCheckpoint.Open(LightningCheckpointWriter.TinyCheckpoint);
        var (name, tensor) = ckpt.Stream(ScalarType.BFloat16, n => n == "betas", "state_dict").Single();
        using (tensor)
        {
            Assert.Equal("betas", name);
            Assert.Equal(ScalarType.BFloat16, tensor.dtype);
            Assert.Equal(new long[] { 1000 }, tensor.shape);
        }
    }
}
