using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace FifoPipes.Tests.VideoCrafter;

/// <summary>
/// Writes float32 tensors as a Lightning-style model.ckpt: torch.save's zip layout with a protocol-2 pickle of
/// {'state_dict': OrderedDict(name -> _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())), 'epoch': 0},
/// one raw storage record per tensor. Tests use it to assemble tiny models from fixture weights.
/// </summary>
static class LightningCheckpointWriter
{
    /// <param name="stateDictKey">"state_dict" as Lightning saves; "module" as DeepSpeed does (whose keys then carry "_forward_module.").</param>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, string stateDictKey = "state_dict")
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var pickle = new MemoryStream();
        void Op(byte b) => pickle.WriteByte(b);
        void Str(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            Op((byte)'X');
            pickle.Write(BitConverter.GetBytes((uint)bytes.Length));
            pickle.Write(bytes);
        }
        void Int(long v)
        {
            Op((byte)'J');
            pickle.Write(BitConverter.GetBytes(checked((int)v)));
        }
        void Global(string module, string name) => pickle.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void Ints(IEnumerable<long> values)
        {
            Op((byte)'(');
            foreach (var v in values) Int(v);
            Op((byte)'t');
        }
        void EmptyOrderedDict()
        {
            Global("collections", "OrderedDict");
            Op((byte)')');
            Op((byte)'R');
        }

        Op(0x80); Op(2);
        Op((byte)'}');
        Str(stateDictKey);
        EmptyOrderedDict();
        Op((byte)'(');
        int key = 0;
        foreach (var (name, tensor) in tensors)
        {
            using var data = tensor.to(ScalarType.Float32).contiguous().cpu();
            string storage = (key++).ToString();
            using (var s = zip.CreateEntry($"archive/data/{storage}", CompressionLevel.NoCompression).Open())
                s.Write(MemoryMarshal.AsBytes(data.data<float>().ToArray().AsSpan()));

            Str(name);
            Global("torch._utils", "_rebuild_tensor_v2");
            Op((byte)'(');
            Op((byte)'(');
            Str("storage");
            Global("torch", "FloatStorage");
            Str(storage);
            Str("cpu");
            Int(data.numel());
            Op((byte)'t');
            Op((byte)'Q');
            Int(0);
            Ints(data.shape);
            Ints(data.stride());
            Op(0x89);
            EmptyOrderedDict();
            Op((byte)'t');
            Op((byte)'R');
        }
        Op((byte)'u');
        Op((byte)'s');
        Str("epoch");
        Int(0);
        Op((byte)'s');
        Op((byte)'.');

        AddPickle(zip, pickle.ToArray());
    }

    /// <summary>The entries every torch.save zip has: the pickle and the format version.</summary>
    public static void AddPickle(ZipArchive zip, byte[] pickle)
    {
        using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
        using (var s = zip.CreateEntry("archive/version", CompressionLevel.NoCompression).Open()) s.Write("3\n"u8);
    }

    /// <summary>The parity fixtures' tiny VideoCrafter checkpoint in Lightning's layout.</summary>
    public static string TinyCheckpoint => Path.Combine(FifoPipes.Tests.Parity.ParityCase.Root, "videocrafter", "lightning_ckpt", "model.ckpt");
}
