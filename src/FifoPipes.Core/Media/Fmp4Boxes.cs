using System.Buffers.Binary;
using System.Text;

namespace FifoPipes.Core.Media;

/// <summary>A track of a fragmented MP4, as its init segment declares it.</summary>
public sealed record Fmp4Track(uint Id, uint Timescale, bool IsVideo);

/// <summary>
/// The few boxes of fragmented MP4 that an HLS playlist's timeline is kept and read by: the tracks an init segment
/// declares, and the decode times a media segment starts at (<c>tfdt</c>, with its <c>sidx</c>), which a resumed run's
/// segments get shifted by, in place, so the playlist's timeline runs on instead of starting again at zero; and which
/// tell, with a sample's length, where on that timeline a live window's first listed segment starts. One home for
/// the hls sink that writes them (moved here from it in Core 1.2) and Get-FifoProvenance that reads them.
/// </summary>
public static class Fmp4Boxes
{
    /// <summary>The tracks of an init segment (<c>moov/trak</c>: <c>tkhd</c>'s id, <c>mdhd</c>'s timescale, <c>hdlr</c>'s kind).</summary>
    public static IReadOnlyList<Fmp4Track> Tracks(ReadOnlySpan<byte> init)
    {
        var tracks = new List<Fmp4Track>();
        foreach (var moov in Children(init, 0, init.Length, "moov"))
            foreach (var trak in Children(init, moov.Body, moov.End, "trak"))
            {
                uint id = 0, timescale = 0;
                bool video = false;
                foreach (var tkhd in Children(init, trak.Body, trak.End, "tkhd"))
                    id = BinaryPrimitives.ReadUInt32BigEndian(init[(tkhd.Body + (init[tkhd.Body] == 1 ? 20 : 12))..]);
                foreach (var mdia in Children(init, trak.Body, trak.End, "mdia"))
                {
                    foreach (var mdhd in Children(init, mdia.Body, mdia.End, "mdhd"))
                        timescale = BinaryPrimitives.ReadUInt32BigEndian(init[(mdhd.Body + (init[mdhd.Body] == 1 ? 20 : 12))..]);
                    foreach (var hdlr in Children(init, mdia.Body, mdia.End, "hdlr"))
                        video = Encoding.ASCII.GetString(init.Slice(hdlr.Body + 8, 4)) == "vide";
                }
                if (id != 0 && timescale != 0) tracks.Add(new Fmp4Track(id, timescale, video));
            }
        return tracks;
    }

    /// <summary>The decode time each track's first fragment in a media segment starts at, in that track's timescale.</summary>
    public static IReadOnlyDictionary<uint, ulong> DecodeTimes(ReadOnlySpan<byte> segment)
    {
        var times = new Dictionary<uint, ulong>();
        foreach (var (track, at, wide) in DecodeTimeFields(segment))
            times.TryAdd(track, wide ? BinaryPrimitives.ReadUInt64BigEndian(segment[at..]) : BinaryPrimitives.ReadUInt32BigEndian(segment[at..]));
        return times;
    }

    /// <summary>
    /// How long a track's first sample in a media segment lasts, in the track's timescale: its fragment's default
    /// (<c>tfhd</c>), else the first run's own (<c>trun</c>); null where the fragment gives neither.
    /// </summary>
    public static uint? FirstSampleDuration(ReadOnlySpan<byte> segment, uint track)
    {
        foreach (var moof in Children(segment, 0, segment.Length, "moof"))
            foreach (var traf in Children(segment, moof.Body, moof.End, "traf"))
            {
                var tfhd = Children(segment, traf.Body, traf.End, "tfhd");
                if (tfhd.Count == 0 || BinaryPrimitives.ReadUInt32BigEndian(segment[(tfhd[0].Body + 4)..]) != track) continue;
                uint flags = Flags(segment, tfhd[0].Body);
                // tfhd: version and flags, track id, then base data offset (0x01) and description index (0x02) where flagged.
                if ((flags & 0x08) != 0)
                    return BinaryPrimitives.ReadUInt32BigEndian(segment[(tfhd[0].Body + 8 + ((flags & 0x01) != 0 ? 8 : 0) + ((flags & 0x02) != 0 ? 4 : 0))..]);
                foreach (var trun in Children(segment, traf.Body, traf.End, "trun"))
                {
                    uint runFlags = Flags(segment, trun.Body);
                    // trun: version and flags, sample count, then data offset (0x01) and first sample's flags (0x04) where flagged.
                    if ((runFlags & 0x100) != 0 && BinaryPrimitives.ReadUInt32BigEndian(segment[(trun.Body + 4)..]) > 0)
                        return BinaryPrimitives.ReadUInt32BigEndian(segment[(trun.Body + 8 + ((runFlags & 0x01) != 0 ? 4 : 0) + ((runFlags & 0x04) != 0 ? 4 : 0))..]);
                }
                return null;
            }
        return null;
    }

    static uint Flags(ReadOnlySpan<byte> data, int fullBox) => BinaryPrimitives.ReadUInt32BigEndian(data[fullBox..]) & 0xFFFFFF;

    /// <summary>
    /// Moves a media segment later on its timeline: adds <paramref name="shiftAt"/> of the timescale to each decode time
    /// (in its track's timescale, from <paramref name="tracks"/>) and to its index's earliest presentation time (in the
    /// index's own). The sizes of the boxes do not change.
    /// </summary>
    public static void ShiftDecodeTimes(Span<byte> segment, IReadOnlyList<Fmp4Track> tracks, Func<uint, ulong> shiftAt)
    {
        var timescales = tracks.ToDictionary(t => t.Id, t => t.Timescale);
        foreach (var (track, at, wide) in DecodeTimeFields(segment))
            Add(segment, at, wide, shiftAt(timescales.TryGetValue(track, out var timescale)
                ? timescale
                : throw new InvalidDataException($"A fragment names track {track}, which the init segment does not declare.")), track);
        foreach (var (track, at, wide) in IndexTimeFields(segment))
            Add(segment, at, wide, shiftAt(BinaryPrimitives.ReadUInt32BigEndian(segment[(at - 4)..])), track);
    }

    /// <summary>The sequence number of a media segment's last fragment (<c>moof/mfhd</c>); 0 where it has none.</summary>
    public static uint LastFragmentNumber(ReadOnlySpan<byte> segment)
    {
        uint last = 0;
        foreach (var moof in Children(segment, 0, segment.Length, "moof"))
            foreach (var mfhd in Children(segment, moof.Body, moof.End, "mfhd"))
                last = BinaryPrimitives.ReadUInt32BigEndian(segment[(mfhd.Body + 4)..]);
        return last;
    }

    /// <summary>Numbers a media segment's fragments on after <paramref name="after"/>, as if the stream before it had gone on.</summary>
    public static void NumberFragmentsAfter(Span<byte> segment, uint after)
    {
        foreach (var moof in Children(segment, 0, segment.Length, "moof"))
            foreach (var mfhd in Children(segment, moof.Body, moof.End, "mfhd"))
                Add(segment, mfhd.Body + 4, wide: false, after, 0);
    }

    static void Add(Span<byte> segment, int at, bool wide, ulong by, uint track)
    {
        if (wide)
        {
            BinaryPrimitives.WriteUInt64BigEndian(segment[at..], BinaryPrimitives.ReadUInt64BigEndian(segment[at..]) + by);
            return;
        }
        ulong shifted = BinaryPrimitives.ReadUInt32BigEndian(segment[at..]) + by;
        if (shifted > uint.MaxValue)
            throw new InvalidDataException($"A 32-bit time of track {track} cannot hold {shifted}; the segment would need its box widened.");
        BinaryPrimitives.WriteUInt32BigEndian(segment[at..], (uint)shifted);
    }

    /// <summary>Where each <c>moof/traf/tfdt</c> keeps its time, with the track it belongs to (<c>tfhd</c>) and whether it is 64-bit.</summary>
    static List<(uint Track, int At, bool Wide)> DecodeTimeFields(ReadOnlySpan<byte> segment)
    {
        var fields = new List<(uint, int, bool)>();
        foreach (var moof in Children(segment, 0, segment.Length, "moof"))
            foreach (var traf in Children(segment, moof.Body, moof.End, "traf"))
            {
                uint track = 0;
                foreach (var tfhd in Children(segment, traf.Body, traf.End, "tfhd"))
                    track = BinaryPrimitives.ReadUInt32BigEndian(segment[(tfhd.Body + 4)..]);
                foreach (var tfdt in Children(segment, traf.Body, traf.End, "tfdt"))
                    fields.Add((track, tfdt.Body + 4, segment[tfdt.Body] == 1));
            }
        return fields;
    }

    /// <summary>Where each top-level <c>sidx</c> keeps its earliest presentation time (its timescale just before), for its reference track.</summary>
    static List<(uint Track, int At, bool Wide)> IndexTimeFields(ReadOnlySpan<byte> segment)
    {
        var fields = new List<(uint, int, bool)>();
        foreach (var sidx in Children(segment, 0, segment.Length, "sidx"))
            fields.Add((BinaryPrimitives.ReadUInt32BigEndian(segment[(sidx.Body + 4)..]), sidx.Body + 12, segment[sidx.Body] == 1));
        return fields;
    }

    readonly record struct Box(int Body, int End);

    /// <summary>The boxes of <paramref name="type"/> directly inside [<paramref name="start"/>, <paramref name="end"/>).</summary>
    static List<Box> Children(ReadOnlySpan<byte> data, int start, int end, string type)
    {
        var found = new List<Box>();
        for (int at = start; at + 8 <= end;)
        {
            long size = BinaryPrimitives.ReadUInt32BigEndian(data[at..]);
            int header = 8;
            if (size == 1)
            {
                if (at + 16 > end) break;
                size = (long)BinaryPrimitives.ReadUInt64BigEndian(data[(at + 8)..]);
                header = 16;
            }
            else if (size == 0) size = end - at;
            if (size < header || at + size > end)
                throw new InvalidDataException($"A box at byte {at} claims {size} bytes, past the end of its container at {end}.");
            if (Encoding.ASCII.GetString(data.Slice(at + 4, 4)) == type) found.Add(new Box(at + header, (int)(at + size)));
            at += (int)size;
        }
        return found;
    }
}
