using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using FifoPipes.Abstractions;
using static TorchSharp.torch;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>Where one tensor of a torch zip checkpoint lives: a storage record plus the view on it.</summary>
public sealed record TorchTensorRef(string StorageKey, ScalarType DType, long StorageNumel, long StorageOffset, long[] Shape, long[] Stride)
{
    /// <summary>Elements of the tensor (the product of <see cref="Shape"/>), not of its storage.</summary>
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reads torch.save's zip format (what Lightning writes as model.ckpt): <c>&lt;prefix&gt;/data.pkl</c> is
/// unpickled with <see cref="RestrictedUnpickler"/> into plain data where every tensor is a
/// <see cref="TorchTensorRef"/>; tensor bytes are read only when asked for, one storage at a time.
/// </summary>
public sealed class TorchZipCheckpoint : IDisposable
{
    /// <summary>Everything a weights-only checkpoint (plain or Lightning) needs; anything else is refused.</summary>
    public static readonly IReadOnlySet<string> AllowedGlobals = new HashSet<string>(StringComparer.Ordinal)
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage",
    };

    /// <summary>data.pkl holds structure only; anything this large is not a weights checkpoint.</summary>
    const long MaxPickleBytes = 512L * 1024 * 1024;

    readonly ZipArchive zip;
    readonly Dictionary<string, ZipArchiveEntry> entries;

    TorchZipCheckpoint(string path, ZipArchive zip, Dictionary<string, ZipArchiveEntry> entries, string prefix, object? root, IReadOnlyCollection<string> globals)
    {
        Path = path;
        this.zip = zip;
        this.entries = entries;
        RecordPrefix = prefix;
        Root = root;
        Globals = globals;
    }

    /// <summary>The checkpoint file, as given to <see cref="Open"/>.</summary>
    public string Path { get; }
    /// <summary>The folder every record sits in ("archive/", or the file stem for older torch).</summary>
    public string RecordPrefix { get; }
    /// <summary>The unpickled object: <see cref="PickleDict"/>, lists, tuples, scalars and <see cref="TorchTensorRef"/>.</summary>
    public object? Root { get; }
    /// <summary>The globals the pickle referenced (all on <see cref="AllowedGlobals"/>).</summary>
    public IReadOnlyCollection<string> Globals { get; }
    /// <summary>Records in the zip: data.pkl, one per storage, and torch's bookkeeping records.</summary>
    public int EntryCount => entries.Count;

    /// <summary>Opens a torch.save zip and unpickles its data.pkl, allowing only <see cref="AllowedGlobals"/>; tensor data stays in the file until read.</summary>
    /// <exception cref="FifoInputException">
    /// "CheckpointNotFound"; "CheckpointCorrupt" (empty, a legacy non-zip pickle, damaged, or not written by torch.save);
    /// "CheckpointUnsafe" (a global off the allow-list); "CheckpointUnreadable" (the disk failed a read).
    /// </exception>
    public static TorchZipCheckpoint Open(string path)
    {
        WeightFiles.RequireFile(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            if (stream.Length == 0) throw Corrupt(path, "the file is empty (0 bytes): a download or copy that never finished");
            if (stream.Length >= 2 && stream.ReadByte() == 0x80) // a bare pickle: torch.save's pre-1.6 format
                throw Corrupt(path, "it is a legacy (non-zip) torch pickle, which is not supported. Re-save it with a current torch (torch.save uses the zip format since 1.6) or convert it to safetensors");
            stream.Position = 0;
            ZipArchive zip;
            try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false); }
            catch (InvalidDataException ex) { throw Corrupt(path, $"it is not a torch zip archive ({ex.Message}); the file may be truncated or not a checkpoint at all", ex); }
            try { return Read(path, zip); }
            catch { zip.Dispose(); throw; }
        }
        catch { stream.Dispose(); throw; }
    }

    static TorchZipCheckpoint Read(string path, ZipArchive zip)
    {
        var records = Records(path, zip);
        var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
            ?? throw Corrupt(path, "the archive has no <name>/data.pkl record, so it was not written by torch.save");
        string prefix = pkl.FullName[..^"data.pkl".Length];
        if (pkl.Length > MaxPickleBytes) throw Corrupt(path, $"its data.pkl is {pkl.Length} bytes, far more than a weights checkpoint holds");
        if (ClaimsTooMuch(pkl))
            throw Corrupt(path, $"its data.pkl claims {pkl.Length} bytes from {pkl.CompressedLength} stored ones, more than deflate can shrink; the archive is damaged. Download the checkpoint again");
        var bytes = new byte[pkl.Length];
        try
        {
            using var s = new CheckedRecordStream(pkl);
            s.ReadExactly(bytes);
            s.EnsureIntact();
        }
        catch (RecordDamagedException ex) { throw Damaged(path, pkl.FullName, ex); }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            throw Corrupt(path, $"its data.pkl cannot be read ({ex.Message}); the file is probably truncated", ex);
        }
        catch (IOException ex) { throw Unreadable(path, ex); }

        var unpickler = new RestrictedUnpickler(bytes, path, g => AllowedGlobals.Contains(g.ToString()), Reduce, PersistentLoad);
        object? root;
        try { root = unpickler.Load(); }
        catch (UnsafePickleException ex)
        {
            throw new FifoInputException("CheckpointUnsafe", ex.Message + " Only plain weight checkpoints (tensors in dicts) are loaded; convert this one to safetensors in a trusted Python environment.", ex);
        }
        catch (InvalidDataException ex) { throw Corrupt(path, ex.Message, ex); }
        return new TorchZipCheckpoint(path, zip, records, prefix, root, unpickler.GlobalsSeen.ToArray());
    }

    /// <summary>
    /// The archive's records by name. ZipArchive reads its central directory on first use of Entries, not in its
    /// constructor, so a damaged directory is found here; torch.save writes each name once, so a second record of a name
    /// is damage (a flipped byte in a name) or a spliced file, and which of the two torch would read is not ours to guess.
    /// </summary>
    static Dictionary<string, ZipArchiveEntry> Records(string path, ZipArchive zip)
    {
        IReadOnlyCollection<ZipArchiveEntry> all;
        try { all = zip.Entries; }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            throw Corrupt(path, $"its zip directory is damaged ({ex.Message}); the file is probably truncated or was changed after it was written. Download the checkpoint again", ex);
        }
        catch (IOException ex) { throw Unreadable(path, ex); }
        var records = new Dictionary<string, ZipArchiveEntry>(all.Count, StringComparer.Ordinal);
        foreach (var entry in all)
        {
            if (!records.TryAdd(entry.FullName, entry))
                throw Corrupt(path, $"the archive has two records named '{entry.FullName}', which torch.save never writes; it is damaged. Download the checkpoint again");
        }
        return records;
    }

    /// <summary>Deflate cannot shrink data more than about 1032:1, so a larger claim is a lie meant to make us allocate.</summary>
    static bool ClaimsTooMuch(ZipArchiveEntry entry) => entry.Length > Math.Max(entry.CompressedLength, 1) * 1032L;

    sealed record StorageRef(string Key, ScalarType DType, long Numel);

    static object? PersistentLoad(object? id)
    {
        // ('storage', torch.FloatStorage, key, location, numel)
        if (id is PickleTuple { Items: [string kind, PickleGlobal type, var key, _, long numel] } && kind == "storage")
            return new StorageRef(key?.ToString() ?? throw new InvalidDataException("storage without a key"), StorageType(type.Name), numel);
        throw new InvalidDataException($"unsupported persistent id {Describe(id)}");
    }

    static object? Reduce(PickleGlobal callable, IReadOnlyList<object?> args)
    {
        switch (callable.ToString())
        {
            case "collections.OrderedDict":
                return new PickleDict();
            case "torch._utils._rebuild_tensor_v2":
                if (args.Count >= 4 && args[0] is StorageRef s && args[1] is long offset && args[2] is PickleTuple size && args[3] is PickleTuple stride)
                    return new TorchTensorRef(s.Key, s.DType, s.Numel, offset, Longs(size), Longs(stride));
                throw new InvalidDataException("_rebuild_tensor_v2 with unexpected arguments");
            case "torch._utils._rebuild_parameter":
                return args.Count >= 1 && args[0] is TorchTensorRef t ? t : throw new InvalidDataException("_rebuild_parameter without a tensor");
            default:
                throw new InvalidDataException($"'{callable}' cannot be called (it is a type, not a constructor)");
        }
    }

    static long[] Longs(PickleTuple t) => t.Items.Select(i => i is long l ? l : throw new InvalidDataException("a tensor size is not an integer")).ToArray();

    static ScalarType StorageType(string name) => name switch
    {
        "FloatStorage" => ScalarType.Float32, "HalfStorage" => ScalarType.Float16, "BFloat16Storage" => ScalarType.BFloat16,
        "DoubleStorage" => ScalarType.Float64, "LongStorage" => ScalarType.Int64, "IntStorage" => ScalarType.Int32,
        "ShortStorage" => ScalarType.Int16, "CharStorage" => ScalarType.Int8, "ByteStorage" => ScalarType.Byte,
        "BoolStorage" => ScalarType.Bool,
        _ => throw new InvalidDataException($"unsupported storage type {name}"),
    };

    /// <summary>Enough of a refused persistent id to recognise it.</summary>
    const int MaxDescribedChars = 200, MaxDescribedDepth = 8;

    /// <summary>
    /// The persistent id as Python would print it, cut short: a hostile pickle nests tuples thousands deep (printing them
    /// in full recursed until the stack overflowed) or shares one tuple between both halves of the next (2^depth leaves
    /// from a few hundred bytes), so the walk stops at a depth and at a length, whatever the id's shape.
    /// </summary>
    static string Describe(object? id)
    {
        var text = new StringBuilder();
        Describe(id, text, depth: 0);
        return text.Length > MaxDescribedChars ? text.ToString(0, MaxDescribedChars) + "..." : text.ToString();
    }

    static void Describe(object? o, StringBuilder text, int depth)
    {
        if (text.Length > MaxDescribedChars) return;
        switch (o)
        {
            case null:
                text.Append("None");
                break;
            case PickleTuple when depth >= MaxDescribedDepth:
                text.Append("(...)");
                break;
            case PickleTuple t:
                text.Append('(');
                for (int i = 0; i < t.Items.Count && text.Length <= MaxDescribedChars; i++)
                {
                    if (i > 0) text.Append(", ");
                    Describe(t.Items[i], text, depth + 1);
                }
                text.Append(')');
                break;
            default:
                var s = o.ToString() ?? "?";
                text.Append(s, 0, Math.Min(s.Length, MaxDescribedChars + 1));
                break;
        }
    }

    /// <summary>
    /// The flat name-to-tensor dictionary: the root itself, or the first of <paramref name="nestedKeys"/>
    /// that holds one (Lightning: "state_dict"; DeepSpeed: "module").
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, TorchTensorRef>> StateDict(params string[] nestedKeys)
    {
        if (Root is not PickleDict top)
            throw Corrupt(Path, "its top-level object is not a dict");
        var dict = top;
        foreach (var key in nestedKeys)
        {
            if (top.TryGet(key, out var nested) && nested is PickleDict d) { dict = d; break; }
        }
        var result = new List<KeyValuePair<string, TorchTensorRef>>(dict.Count);
        foreach (var (k, v) in dict.Items)
        {
            if (k is not string name || v is not TorchTensorRef t) continue;
            // Here, where the tensor's name is known, and before a converter lays out its file from these shapes.
            if (ViewProblem(t) is { } problem)
                throw Corrupt(Path, $"tensor '{name}' {problem}. {NoSuchView}");
            result.Add(new(name, t));
        }
        if (result.Count == 0)
            throw Corrupt(Path, $"it holds no tensors at the top level{(nestedKeys.Length > 0 ? " or under '" + string.Join("' / '", nestedKeys) + "'" : "")}");
        return result;
    }

    /// <summary>Reads one tensor into CPU memory, cast to <paramref name="dtype"/> when given (floating tensors only).</summary>
    public Tensor Read(TorchTensorRef t, ScalarType? dtype = null)
    {
        if (ViewProblem(t) is { } problem)
            throw Corrupt(Path, $"the tensor on storage '{t.StorageKey}' {problem}. {NoSuchView}");
        if (!entries.TryGetValue(RecordPrefix + "data/" + t.StorageKey, out var entry))
            throw Corrupt(Path, $"storage record '{RecordPrefix}data/{t.StorageKey}' is missing (truncated file?)");
        if (ClaimsTooMuch(entry))
            throw Corrupt(Path, $"storage '{t.StorageKey}' claims {entry.Length} bytes from {entry.CompressedLength} stored ones");
        long elementSize = ElementSize(t.DType);
        if (entry.Length != t.StorageNumel * elementSize)
            throw Corrupt(Path, $"storage '{t.StorageKey}' has {entry.Length} bytes, the pickle says {t.StorageNumel} x {elementSize}");

        bool isWholeStorage = t.StorageOffset == 0 && t.Numel == t.StorageNumel && IsContiguous(t.Shape, t.Stride);
        Tensor stored = empty(new[] { t.StorageNumel }, t.DType);
        try
        {
            using (var s = new CheckedRecordStream(entry))
            {
                stored.ReadBytesFromStream(s);
                s.EnsureIntact();
            }
            Tensor view = isWholeStorage ? stored.view(t.Shape) : stored.as_strided(t.Shape, t.Stride, t.StorageOffset).contiguous();
            if (!ReferenceEquals(view, stored)) stored.Dispose();
            stored = view;
            if (dtype is { } d && stored.dtype != d && stored.is_floating_point())
            {
                var cast = stored.to(d);
                stored.Dispose();
                stored = cast;
            }
            return stored;
        }
        catch (RecordDamagedException ex)
        {
            stored.Dispose();
            throw Damaged(Path, entry.FullName, ex);
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            stored.Dispose();
            throw Corrupt(Path, $"storage '{t.StorageKey}' cannot be read ({ex.Message}); the file is probably truncated", ex);
        }
        catch (IOException ex)
        {
            stored.Dispose();
            throw Unreadable(Path, ex);
        }
    }

    /// <summary>Yields the state dict's tensors one at a time (read, cast, next), so peak memory stays near one tensor plus the model.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Stream(ScalarType? dtype = null, Func<string, bool>? select = null, params string[] nestedKeys)
    {
        foreach (var (name, t) in StateDict(nestedKeys))
        {
            if (select is not null && !select(name)) continue;
            yield return (name, Read(t, dtype));
        }
    }

    /// <summary>
    /// Reads one record to its recorded length and CRC-32, so a short record (a damaged archive) is an error instead of
    /// silently short data, and a flipped bit in a multi-gigabyte download is caught at load instead of showing up as a
    /// broken video. A recorded CRC of 0 is not checked: torch.save writes 0 when told not to compute checksums
    /// (torch.serialization.set_crc32_options(False)).
    /// </summary>
    sealed class CheckedRecordStream(ZipArchiveEntry entry) : Stream
    {
        readonly Stream inner = entry.Open();
        readonly Crc32 crc = new();
        readonly uint recordedCrc = entry.Crc32;
        readonly long total = entry.Length;
        long remaining = entry.Length;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var wanted = buffer[..(int)Math.Min(buffer.Length, remaining)];
            int n = inner.Read(wanted);
            if (n == 0 && wanted.Length > 0) throw new EndOfStreamException($"{remaining} bytes missing");
            crc.Append(wanted[..n]);
            remaining -= n;
            return n;
        }

        /// <summary>Call after reading the whole record: it must have been all there, and match its checksum.</summary>
        public void EnsureIntact()
        {
            if (remaining > 0) throw new EndOfStreamException($"{remaining} bytes were not read");
            uint actual = crc.GetCurrentHashAsUInt32();
            if (recordedCrc != 0 && actual != recordedCrc) throw new RecordDamagedException(recordedCrc, actual);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => total;
        public override long Position { get => total - remaining; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }

    sealed class RecordDamagedException(uint recorded, uint actual) : Exception(
        $"its bytes have CRC-32 {actual:x8}, the archive recorded {recorded:x8}");

    /// <summary>
    /// Why <paramref name="t"/> cannot be read, or null. The sizes, strides and numel are whatever the pickle says, so the
    /// arithmetic is checked: a product that wrapped would pass the bounds check and fail in libtorch, or allocate.
    /// </summary>
    static string? ViewProblem(TorchTensorRef t)
    {
        string View() => $"[{string.Join(", ", t.Shape)}] with strides [{string.Join(", ", t.Stride)}] at offset {t.StorageOffset}";
        if (t.Shape.Length != t.Stride.Length)
            return $"is a view with {Count(t.Shape.Length, "size")} [{string.Join(", ", t.Shape)}] but {Count(t.Stride.Length, "stride")} [{string.Join(", ", t.Stride)}]";
        if (t.Shape.Any(n => n < 0) || t.Stride.Any(n => n < 0) || t.StorageOffset < 0)
            return $"is a view {View()}, with a negative size, stride or offset";
        long elementSize = ElementSize(t.DType);
        if (t.StorageNumel < 0 || t.StorageNumel > long.MaxValue / elementSize)
            return $"lies in storage '{t.StorageKey}' of {t.StorageNumel} elements of {elementSize} bytes, which no file holds";
        long numel = 1, last = t.StorageOffset;
        try
        {
            foreach (var n in t.Shape) numel = checked(numel * n);
            _ = checked(numel * elementSize);
            if (numel == 0) return null;
            for (int i = 0; i < t.Shape.Length; i++) last = checked(last + (t.Shape[i] - 1) * t.Stride[i]);
        }
        catch (OverflowException) { return $"is a view {View()}, whose elements or bytes overflow a 64-bit count"; }
        if (last >= t.StorageNumel)
            return $"is a view {View()}, which runs past its storage '{t.StorageKey}' of {t.StorageNumel} elements";
        // Only a view that repeats elements (a zero stride) holds more than its storage; Read makes it contiguous, so
        // it must fit the machine: the pickle's word alone must not allocate terabytes.
        if (numel > t.StorageNumel && numel * elementSize > GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)
            return $"is a view {View()} that repeats its storage '{t.StorageKey}' of {t.StorageNumel} elements into {numel * elementSize} bytes, more than this machine's memory";
        return null;
    }

    const string NoSuchView = "The file is damaged or was not written by torch.save; download the checkpoint again";

    static string Count(int n, string thing) => n == 1 ? $"1 {thing}" : $"{n} {thing}s";

    static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    static FifoInputException Damaged(string path, string record, RecordDamagedException ex) =>
        Corrupt(path, $"record '{record}' is damaged: {ex.Message}. The download or the disk changed the file; download the checkpoint again", ex);

    static FifoInputException Corrupt(string path, string why, Exception? inner = null) =>
        new("CheckpointCorrupt", $"'{path}' cannot be loaded as a torch checkpoint: {why}.", inner) { Data = { [SafetensorsFile.ReasonKey] = why } };

    /// <summary>The disk or the share failed a read: the file may be whole, so no download is advised.</summary>
    static FifoInputException Unreadable(string path, IOException ex) =>
        new("CheckpointUnreadable", $"'{path}' could not be read ({ex.Message}). Check the disk or network share it is on and try again; the file itself may be whole.", ex);

    /// <summary>Closes the zip and its file.</summary>
    public void Dispose() => zip.Dispose();
}
