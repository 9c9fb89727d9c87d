using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

/// <summary>
/// Marks one DT_VERNEED entry (e.g. GLIBCXX_3.4.32) of ELF64 little-endian files as VER_FLG_WEAK,
/// in place, when the system's libstdc++ does not provide that version. See TorchNatives.targets.
/// </summary>
public class WeakenElfVersionNeed : Task
{
    [Required] public ITaskItem[] Files { get; set; }
    [Required] public string Version { get; set; }

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        if (SystemProvides(Version))
        {
            Log.LogMessage(MessageImportance.Low, "System libstdc++ provides " + Version + "; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            int patched = Patch(item.ItemSpec, Version);
            if (patched > 0)
                Log.LogMessage(MessageImportance.Normal, "Marked " + Version + " weak in " + item.ItemSpec + " (system libstdc++ lacks it).");
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemProvides(string version)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (var path in candidates)
        {
            if (!File.Exists(path)) continue;
            byte[] bytes = File.ReadAllBytes(path);
            return IndexOf(bytes, needle) >= 0;
        }
        return false;
    }

    static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    int Patch(string path, string version)
    {
        byte[] data = File.ReadAllBytes(path);
        if (data.Length < 64 || data[0] != 0x7f || data[1] != (byte)'E' || data[4] != 2 || data[5] != 1)
        {
            Log.LogWarning(path + " is not an ELF64 little-endian file; left as is.");
            return 0;
        }
        ulong shoff = BitConverter.ToUInt64(data, 0x28);
        ushort shentsize = BitConverter.ToUInt16(data, 0x3A);
        ushort shnum = BitConverter.ToUInt16(data, 0x3C);
        int patched = 0;
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            if (BitConverter.ToUInt32(data, sh + 4) != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(data, sh + 0x18));
            uint link = BitConverter.ToUInt32(data, sh + 0x28);
            uint count = BitConverter.ToUInt32(data, sh + 0x2C);
            int strtab = checked((int)BitConverter.ToUInt64(data, checked((int)shoff + (int)link * shentsize) + 0x18));
            int vn = offset;
            for (uint n = 0; n < count; n++)
            {
                ushort auxCount = BitConverter.ToUInt16(data, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(data, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    uint name = BitConverter.ToUInt32(data, aux + 8);
                    if (ReadCString(data, strtab + (int)name) == version)
                    {
                        ushort flags = BitConverter.ToUInt16(data, aux + 4);
                        if ((flags & VerFlgWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(data, aux + 4);
                            patched++;
                        }
                    }
                    aux += (int)BitConverter.ToUInt32(data, aux + 12);
                }
                uint next = BitConverter.ToUInt32(data, vn + 12);
                if (next == 0) break;
                vn += (int)next;
            }
        }
        if (patched > 0) File.WriteAllBytes(path, data);
        return patched;
    }

    static string ReadCString(byte[] data, int start)
    {
        int end = start;
        while (data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}
