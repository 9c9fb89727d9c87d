using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace FifoPipes.Torch.Checkpoints;

/// <summary>A Python tuple as unpickled.</summary>
public sealed record PickleTuple(IReadOnlyList<object?> Items);

/// <summary>A Python dict (or OrderedDict) in insertion order; BUILD state (e.g. state_dict._metadata) lands in <see cref="Attributes"/>.</summary>
public sealed class PickleDict
{
    readonly List<KeyValuePair<object, object?>> items = new();
    readonly Dictionary<object, int> index = new();
    /// <summary>The entries in insertion order. Keys are strings, longs, bools or doubles; a tuple key becomes its items joined by U+0001, None becomes "None".</summary>
    public IReadOnlyList<KeyValuePair<object, object?>> Items => items;
    /// <summary>The state a BUILD opcode gave the dict (an OrderedDict state dict's <c>_metadata</c>); null when none.</summary>
    public object? Attributes { get; set; }
    /// <summary>Number of entries.</summary>
    public int Count => items.Count;

    /// <summary>Adds the entry, or replaces an existing key's value in its original place, as a Python dict does.</summary>
    public void Set(object key, object? value)
    {
        if (index.TryGetValue(key, out int i)) items[i] = new(key, value);
        else { index[key] = items.Count; items.Add(new(key, value)); }
    }

    /// <summary>The value under <paramref name="key"/>, compared by value (a boxed long equals another with the same value).</summary>
    public bool TryGet(object key, out object? value)
    {
        if (index.TryGetValue(key, out int i)) { value = items[i].Value; return true; }
        value = null;
        return false;
    }
}

/// <summary>A reference to an allowed global (module.name); only the unpickler's own table gives it meaning.</summary>
public sealed record PickleGlobal(string Module, string Name)
{
    /// <summary>"module.name", the form allow-lists use.</summary>
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A persistent id resolved by the caller (torch: a storage in the zip).</summary>
public sealed record PicklePersistentId(object? Id);

/// <summary>
/// A pickle reader that never executes anything: it interprets the opcodes into plain data and
/// calls its <c>reduce</c> only for globals on an allow-list. A pickle naming any other global
/// (os.system, builtins.eval, a numpy or Lightning class ...) is refused before anything is built.
/// </summary>
public sealed class RestrictedUnpickler
{
    readonly byte[] data;
    int pos;
    readonly Func<PickleGlobal, bool> isAllowed;
    readonly Func<PickleGlobal, IReadOnlyList<object?>, object?> reduce;
    readonly Func<object?, object?> persistentLoad;
    readonly string source;
    readonly HashSet<string> globalsSeen = new(StringComparer.Ordinal);

    /// <param name="data">The whole pickle, e.g. a torch zip's data.pkl.</param>
    /// <param name="source">Names the file in error messages.</param>
    /// <param name="isAllowed">Decides each global as the pickle names it; a refused one throws <see cref="UnsafePickleException"/> before anything uses it.</param>
    /// <param name="reduce">Builds the value of REDUCE from an allowed global and its arguments.</param>
    /// <param name="persistentLoad">Resolves a persistent id (BINPERSID's object or PERSID's text).</param>
    public RestrictedUnpickler(byte[] data, string source, Func<PickleGlobal, bool> isAllowed,
        Func<PickleGlobal, IReadOnlyList<object?>, object?> reduce, Func<object?, object?> persistentLoad)
    {
        this.data = data;
        this.source = source;
        this.isAllowed = isAllowed;
        this.reduce = reduce;
        this.persistentLoad = persistentLoad;
    }

    /// <summary>Every global the pickle referenced (all of them allowed, or Load would have thrown).</summary>
    public IReadOnlyCollection<string> GlobalsSeen => globalsSeen;

    static readonly object Mark = new();

    /// <summary>
    /// Interprets the pickle up to its STOP and returns the object on top: plain data (null, bool, long, BigInteger, double,
    /// string, byte[], <c>List&lt;object?&gt;</c>, <see cref="PickleTuple"/>, <see cref="PickleDict"/>, <see cref="PickleGlobal"/>)
    /// and what the callbacks returned. Call it once: it reads on from where the last call stopped.
    /// </summary>
    /// <exception cref="UnsafePickleException">The pickle names a global that is not allowed.</exception>
    /// <exception cref="InvalidDataException">The pickle is malformed, or uses an opcode a tensor checkpoint never needs.</exception>
    public object? Load()
    {
        var stack = new List<object?>();
        var marks = new Stack<int>();
        var memo = new Dictionary<long, object?>();
        while (true)
        {
            if (pos >= data.Length) throw Corrupt("it ends without a STOP opcode (truncated?)");
            byte op = data[pos++];
            switch (op)
            {
                case 0x80: pos++; break; // PROTO n
                case 0x95: Take(8); break; // FRAME length: framing is only a read-ahead hint
                case (byte)'.': return Pop(stack, marks);
                case (byte)'(': marks.Push(stack.Count); break;
                case (byte)'0': Pop(stack, marks); break;
                case (byte)'1': PopMark(stack, marks); break;
                case (byte)'2': stack.Add(Peek(stack)); break;
                case (byte)'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': stack.Add((long)Take(1)[0]); break;
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: stack.Add(ReadLong(Take(1)[0])); break;
                case 0x8b: stack.Add(ReadLong(Take(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))))); break;
                case (byte)'I': stack.Add(ReadTextInt()); break;
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;
                case (byte)'X': stack.Add(Utf8(Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))))); break;
                case 0x8c: stack.Add(Utf8(Take(1)[0])); break;
                case 0x8d: stack.Add(Utf8(Length(BinaryPrimitives.ReadInt64LittleEndian(Take(8))))); break;
                case (byte)'T': stack.Add(Latin1(Length(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break;
                case (byte)'U': stack.Add(Latin1(Take(1)[0])); break;
                case (byte)'B': stack.Add(Take(Length(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray()); break;
                case (byte)'C': stack.Add(Take(Take(1)[0]).ToArray()); break;
                case (byte)')': stack.Add(new PickleTuple(Array.Empty<object?>())); break;
                case (byte)'t': stack.Add(new PickleTuple(PopMark(stack, marks))); break;
                case 0x85: stack.Add(new PickleTuple(PopN(stack, marks, 1))); break;
                case 0x86: stack.Add(new PickleTuple(PopN(stack, marks, 2))); break;
                case 0x87: stack.Add(new PickleTuple(PopN(stack, marks, 3))); break;
                case (byte)']': stack.Add(new List<object?>()); break;
                case (byte)'l': stack.Add(new List<object?>(PopMark(stack, marks))); break;
                case (byte)'a': { var v = Pop(stack, marks); AsList(Peek(stack)).Add(v); break; }
                case (byte)'e': { var vs = PopMark(stack, marks); AsList(Peek(stack)).AddRange(vs); break; }
                case (byte)'}': stack.Add(new PickleDict()); break;
                case (byte)'d': { var d = new PickleDict(); SetItems(d, PopMark(stack, marks)); stack.Add(d); break; }
                case (byte)'s': { var v = Pop(stack, marks); var k = Pop(stack, marks); AsDict(Peek(stack)).Set(Key(k), v); break; }
                case (byte)'u': { var kvs = PopMark(stack, marks); SetItems(AsDict(Peek(stack)), kvs); break; }
                case (byte)'c': stack.Add(Global(ReadLine(), ReadLine())); break;
                case 0x93: { var name = Pop(stack, marks); var module = Pop(stack, marks); stack.Add(Global(AsString(module), AsString(name))); break; }
                case (byte)'R':
                {
                    var args = Pop(stack, marks) as PickleTuple ?? throw Corrupt("REDUCE arguments are not a tuple");
                    var callable = Pop(stack, marks) as PickleGlobal ?? throw Corrupt("REDUCE target is not a global");
                    stack.Add(reduce(callable, args.Items));
                    break;
                }
                case (byte)'b':
                {
                    var state = Pop(stack, marks);
                    // Only dicts take state here (OrderedDict._metadata); anything else is not plain data.
                    AsDict(Peek(stack)).Attributes = state;
                    break;
                }
                case (byte)'Q': stack.Add(persistentLoad(Pop(stack, marks))); break;
                case (byte)'P': stack.Add(persistentLoad(ReadLine())); break;
                case (byte)'h': stack.Add(Get(memo, Take(1)[0])); break;
                case (byte)'j': stack.Add(Get(memo, BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'g': stack.Add(Get(memo, ParseMemoIndex(ReadLine()))); break;
                case (byte)'q': memo[Take(1)[0]] = Peek(stack); break;
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(stack); break;
                case (byte)'p': memo[ParseMemoIndex(ReadLine())] = Peek(stack); break;
                case 0x94: memo[memo.Count] = Peek(stack); break;
                default:
                    throw Corrupt($"it uses pickle opcode 0x{op:x2} at byte {pos - 1}, which a tensor checkpoint never needs (refused)");
            }
        }
    }

    PickleGlobal Global(string module, string name)
    {
        var g = new PickleGlobal(module, name);
        if (!isAllowed(g))
            throw new UnsafePickleException(source, g.ToString());
        globalsSeen.Add(g.ToString());
        return g;
    }

    static void SetItems(PickleDict d, List<object?> kvs)
    {
        if (kvs.Count % 2 != 0) throw new InvalidDataException("SETITEMS with an odd number of items");
        for (int i = 0; i < kvs.Count; i += 2) d.Set(Key(kvs[i]), kvs[i + 1]);
    }

    static object Key(object? k) => k switch
    {
        string or long or bool or double => k,
        PickleTuple t => string.Join("\u0001", t.Items),
        null => "None",
        _ => throw new InvalidDataException($"unsupported dict key type {k.GetType().Name}"),
    };

    object? Pop(List<object?> stack, Stack<int> marks)
    {
        if (stack.Count == 0 || (marks.Count > 0 && marks.Peek() == stack.Count)) throw Corrupt("the stack underflows");
        var v = stack[^1];
        stack.RemoveAt(stack.Count - 1);
        return v;
    }

    object? Peek(List<object?> stack) => stack.Count > 0 ? stack[^1] : throw Corrupt("the stack underflows");

    List<object?> PopMark(List<object?> stack, Stack<int> marks)
    {
        if (marks.Count == 0) throw Corrupt("an opcode needs a MARK that is not there");
        int at = marks.Pop();
        var items = stack.GetRange(at, stack.Count - at);
        stack.RemoveRange(at, stack.Count - at);
        return items;
    }

    object?[] PopN(List<object?> stack, Stack<int> marks, int n)
    {
        var items = new object?[n];
        for (int i = n - 1; i >= 0; i--) items[i] = Pop(stack, marks);
        return items;
    }

    List<object?> AsList(object? o) => o as List<object?> ?? throw Corrupt("APPEND target is not a list");
    PickleDict AsDict(object? o) => o as PickleDict ?? throw Corrupt($"SETITEM/BUILD target is a {o?.GetType().Name ?? "None"}, not a dict");
    string AsString(object? o) => o as string ?? throw Corrupt("STACK_GLOBAL names are not strings");

    object? Get(Dictionary<long, object?> memo, long i) =>
        memo.TryGetValue(i, out var v) ? v : throw Corrupt($"it reads memo slot {i} that was never written");

    ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || pos + n > data.Length) throw Corrupt("it is truncated");
        var span = data.AsSpan(pos, n);
        pos += n;
        return span;
    }

    int Length(long n) => n >= 0 && n <= data.Length - pos ? (int)n : throw Corrupt($"a length of {n} runs past the end");

    string Utf8(int n) => Encoding.UTF8.GetString(Take(n));
    string Latin1(int n) => Encoding.Latin1.GetString(Take(n));

    static object ReadLong(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0) return 0L;
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        // Boxed as a long whenever it fits: Python pickles every int beyond int32 as LONG1 (a numel, an offset, a size
        // of 2^31 and more), and callers match on long. Without the cast the ?: would make every value a BigInteger.
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
    }

    object ReadLong(byte n) => ReadLong(Take(n));

    string ReadLine()
    {
        int end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0) throw Corrupt("a text argument has no end of line");
        var s = Encoding.UTF8.GetString(data, pos, end - pos);
        pos = end + 1;
        return s;
    }

    object ReadTextInt()
    {
        var s = ReadLine();
        return s switch { "00" => false, "01" => true, _ => long.TryParse(s, out var v) ? v : throw Corrupt($"bad INT '{s}'") };
    }

    long ParseMemoIndex(string s) => long.TryParse(s, out var v) ? v : throw Corrupt($"bad memo index '{s}'");

    InvalidDataException Corrupt(string why) => new($"{source}: the pickle is malformed: {why}");
}

/// <summary>Thrown when a pickle names a global outside the allow-list; nothing has been executed.</summary>
public sealed class UnsafePickleException : Exception
{
    /// <summary>The refusal of <paramref name="global"/> ("module.name") in the pickle of <paramref name="source"/>.</summary>
    public UnsafePickleException(string source, string global)
        : base($"{source}: the pickle references '{global}', which is not allowed in a weights checkpoint; it was refused and not executed.")
        => Global = global;

    /// <summary>The refused global, as "module.name".</summary>
    public string Global { get; }
}
