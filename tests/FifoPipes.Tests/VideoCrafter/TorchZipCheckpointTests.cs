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
        var folder = Refused(dir);
        Assert.Equal("CheckpointNotFound", folder.ErrorId);
        Assert.Contains($"'{dir}' is a folder, not a checkpoint file", folder.Message);
    }

    [Fact]
    public void An_empty_file_is_not_a_checkpoint()
    {
        var ex = Refused(Write("empty.ckpt", Array.Empty<byte>()));
        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("empty.ckpt", ex.Message);
        Assert.Contains("the file is empty (0 bytes)", ex.Message);
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
        // What the zip reader found stays with it, for a bug report.
        Assert.IsType<InvalidDataException>(ex.InnerException);
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

    [Fact]
    public void A_flipped_bit_in_a_tensor_record_is_caught_by_its_checksum()
    {
        var bytes = File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint);
        bytes[StoredZip.DataOffset(bytes, "model/data/101") + 100] ^= 0x10;
        using var ckpt = TorchZipCheckpoint.Open(Write("flipped.ckpt", bytes));

        var ex = Assert.Throws<FifoInputException>(() => ckpt.Stream(null, null, "state_dict").Select(p => p.Tensor).ToList().ForEach(t => t.Dispose()));

        Assert.Equal("CheckpointCorrupt", ex.ErrorId);
        Assert.Contains("flipped.ckpt", ex.Message);
        Assert.Contains("'model/data/101' is damaged", ex.Message);
        Assert.Contains("download the checkpoint again", ex.Message);
    }

    [Fact]
    public void A_flipped_bit_in_the_pickle_is_caught_by_its_checksum()
    {
        var bytes = File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint);
        // The first letter of the first tensor name: the pickle would still parse, only the checksum can tell.
        int at = StoredZip.DataOffset(bytes, "model/data.pkl");
        at = Array.IndexOf(bytes, (byte)'b', at); // "betas"
        bytes[at] = (byte)'B';

        var ex = Refused(Write("pickle.ckpt", bytes));

        Assert.Contains("'model/data.pkl' is damaged", ex.Message);
    }

    [Fact]
    public void Records_saved_without_checksums_load()
    {
        // torch.serialization.set_crc32_options(False) makes torch.save record a CRC of 0.
        var bytes = File.ReadAllBytes(LightningCheckpointWriter.TinyCheckpoint);
        StoredZip.ClearCrc(bytes, "model/data/101");
        using var ckpt = TorchZipCheckpoint.Open(Write("nocrc.ckpt", bytes));
        using var expected = TorchZipCheckpoint.Open(LightningCheckpointWriter.TinyCheckpoint);
        var name = expected.StateDict("state_dict").First(p => p.Value.StorageKey == "101").Key;

        var (_, tensor) = ckpt.Stream(null, n => n == name, "state_dict").Single();
        var (_, reference) = expected.Stream(null, n => n == name, "state_dict").Single();

        using (tensor) using (reference) Assert.True(tensor.allclose(reference, rtol: 0, atol: 0));
    }
}

/// <summary>Finds records inside a stored (uncompressed) zip so tests can damage exactly one of them.</summary>
static class StoredZip
{
    const int LocalHeaderSize = 30, CentralHeaderSize = 46;

    /// <summary>Where the bytes of <paramref name="name"/> start.</summary>
    public static int DataOffset(byte[] zip, string name)
    {
        int header = Header(zip, name, 0x04034b50, LocalHeaderSize);
        return header + LocalHeaderSize + BitConverter.ToUInt16(zip, header + 26) + BitConverter.ToUInt16(zip, header + 28);
    }

    /// <summary>Sets the CRC-32 of <paramref name="name"/> to 0 in its local and its central header.</summary>
    public static void ClearCrc(byte[] zip, string name)
    {
        Array.Clear(zip, Header(zip, name, 0x04034b50, LocalHeaderSize) + 14, 4);
        Array.Clear(zip, Header(zip, name, 0x02014b50, CentralHeaderSize) + 16, 4);
    }

    static int Header(byte[] zip, string name, uint signature, int nameOffset)
    {
        var wanted = Encoding.UTF8.GetBytes(name);
        for (int i = 0; i + nameOffset + wanted.Length <= zip.Length; i++)
        {
            if (BitConverter.ToUInt32(zip, i) == signature
                && BitConverter.ToUInt16(zip, i + nameOffset - (nameOffset == LocalHeaderSize ? 4 : 18)) == wanted.Length
                && zip.AsSpan(i + nameOffset, wanted.Length).SequenceEqual(wanted))
                return i;
        }
        throw new InvalidOperationException($"no header for '{name}'");
    }
}
