using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using FifoPipes.Core.Media;

namespace FifoPipes.Sinks.Ffmpeg;

/// <summary>
/// A playlist ffmpeg's hls muxer writes, read as it changes: a fresh run's playlist, or a resumed run's part
/// (<see cref="HlsContinuation"/>). Its listing is taken in only once it is sound, because the muxer does not report a
/// write that failed: on a full disk it goes on, cuts segments short, leaves the next ones empty and renames an empty or
/// cut playlist over the good one, exits with 0 and says nothing at -loglevel warning. So each changed playlist is
/// checked (whole, and listing no fewer segments than before), and so is each segment it lists for the first time (its
/// boxes end where the file does); the first one found broken is a <see cref="HlsWriteFailedException"/>, and the last
/// sound listing stays here to be put back (<see cref="PutBack"/>) once ffmpeg is stopped.
/// </summary>
internal sealed class HlsPlaylistWatch
{
    /// <summary>
    /// How long to wait before reading a broken-looking playlist again: ffmpeg writes it in place when temp_file is taken
    /// away in extraArgs, so a read may catch it half written; a moment later it is whole.
    /// </summary>
    static readonly TimeSpan RewritePause = TimeSpan.FromMilliseconds(100);

    /// <summary>Below this much free space (or the largest segment written, where more) the disk counts as full: the next segment would not fit.</summary>
    const long FullBelow = 1 << 20;

    readonly string folder;
    (long Length, DateTime Written) seen;
    string? soundText;
    /// <summary>The segments the sound listing lists, each checked whole once.</summary>
    HashSet<string> whole = new(StringComparer.Ordinal);
    long largestSegment;

    public HlsPlaylistWatch(string playlist)
    {
        Playlist = playlist;
        folder = Path.GetDirectoryName(Path.GetFullPath(playlist))!;
    }

    /// <summary>The playlist ffmpeg writes.</summary>
    public string Playlist { get; }

    /// <summary>How long the segments ffmpeg listed whole last together, those a live window has dropped since included.</summary>
    public double ListedSeconds { get; private set; }

    /// <summary>The latest sound listing: every segment in it complete; null before ffmpeg listed any.</summary>
    public HlsPlaylist? Listing { get; private set; }

    /// <summary>
    /// Takes in the playlist's listing where it changed since the last call (or, <paramref name="force"/>d, anyway);
    /// false where it did not, or lists nothing yet. Cheap when nothing changed (one look at the file's size and time).
    /// </summary>
    /// <exception cref="HlsWriteFailedException">The playlist, or a segment it newly lists, shows a write ffmpeg failed.</exception>
    public bool Read(bool force = false)
    {
        if (!Changed(force)) return false;
        var (text, listed, problem) = Look();
        if (problem is not null)
        {
            Thread.Sleep(RewritePause);
            (text, listed, problem) = Look();
        }
        if (problem is not null) throw new HlsWriteFailedException(problem);
        if (listed is null) return false;
        var fresh = listed.Segments.Where(s => !whole.Contains(s.Uri)).ToList();
        foreach (var segment in fresh)
            if (Cut(segment.Uri) is { } cut) throw new HlsWriteFailedException(cut);
        ListedSeconds += fresh.Sum(s => s.Seconds);
        // A live window's segments leave it: only the listed ones are kept, so the set stays as long as the playlist.
        whole = listed.Segments.Select(s => s.Uri).ToHashSet(StringComparer.Ordinal);
        (Listing, soundText) = (listed, text);
        return true;
    }

    bool Changed(bool force)
    {
        var info = new FileInfo(Playlist);
        if (!info.Exists) return false;
        var now = (info.Length, info.LastWriteTimeUtc);
        if (!force && now == seen) return false;
        seen = now;
        return true;
    }

    /// <summary>The playlist's text and listing (null: none yet), or what shows that ffmpeg could not write it.</summary>
    (string Text, HlsPlaylist? Listed, string? Problem) Look()
    {
        string text;
        try { text = File.ReadAllText(Playlist); }
        // Renamed over in between, or taken away: the next look sees what is there then.
        catch (FileNotFoundException) { return ("", null, null); }
        // ffmpeg writes every line whole, the last ending the text: a playlist without it was cut where the disk filled.
        if (text.Length == 0) return (text, null, "it emptied the playlist");
        if (!text.EndsWith('\n')) return (text, null, $"it left the playlist cut short ({Bytes(text.Length)}, its last line unfinished)");
        var listed = HlsPlaylist.Parse(text);
        if (Listing is not { } before) return (text, listed, null);
        if (listed is null) return (text, null, $"the playlist no longer lists any segment (it listed up to {before.Segments[^1].Uri})");
        // A live window drops its oldest segments, but the newest one's number never goes back.
        if (Last(listed) < Last(before))
            return (text, null, $"the playlist lists segments only up to {listed.Segments[^1].Uri}, where it listed up to {before.Segments[^1].Uri}");
        return (text, listed, null);
    }

    static long Last(HlsPlaylist playlist) => playlist.MediaSequence + playlist.Segments.Count - 1;

    /// <summary>
    /// Why a listed segment is not whole, or null where it is: a fragmented-MP4 segment is boxes end to end, the last one
    /// its media data; a write that failed part way leaves the file ending inside a box, or with none. Only the box
    /// headers are read. A segment already gone is ffmpeg's to delete (it left a live window).
    /// </summary>
    string? Cut(string uri)
    {
        var path = Path.Combine(folder, uri);
        try
        {
            using var file = File.OpenRead(path);
            long length = file.Length, at = 0;
            string last = "";
            Span<byte> header = stackalloc byte[16];
            while (at + 8 <= length)
            {
                file.Position = at;
                file.ReadExactly(header[..8]);
                long size = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (size == 1 && at + 16 <= length)
                {
                    file.ReadExactly(header[8..16]);
                    size = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(header[8..]), long.MaxValue);
                }
                else if (size == 0) size = length - at;
                if (size < 8 || size > length - at) break;
                last = Encoding.ASCII.GetString(header[4..8]);
                at += size;
            }
            largestSegment = Math.Max(largestSegment, length);
            return at == length && last == "mdat" ? null
                : length == 0 ? $"it left the segment {uri} empty"
                : $"it left the segment {uri} cut short ({Bytes(length)}, its last box unfinished)";
        }
        catch (FileNotFoundException) { return null; }
    }

    /// <summary>
    /// Why ffmpeg's writes failed, as far as the disk tells: a disk with less room than a segment takes is full;
    /// with more, a write failed another way.
    /// </summary>
    public string Cause()
    {
        try
        {
            long free = new DriveInfo(folder).AvailableFreeSpace;
            return free < Math.Max(FullBelow, largestSegment)
                ? $"The disk holding '{folder}' is full ({Size(free)} free)."
                : $"Its disk is not full ({Size(free)} free in '{folder}'): a write failed another way (a file size limit, a quota, a failing disk).";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return $"A write in '{folder}' failed (a full disk, a quota or a failing disk).";
        }
    }

    /// <summary>
    /// Once ffmpeg is stopped: deletes the segments the sound listing does not list (cut, empty, or not listed yet), which
    /// frees the room it needs on a full disk, and puts the playlist back to it, so what was written before the failure
    /// stays playable (and a resume carries it on); with no sound listing the playlist and its files go. What is left, in words.
    /// </summary>
    public string PutBack()
    {
        try
        {
            if (Listing is not { } listed)
            {
                HlsFiles.RemoveEarlierRun(Playlist);
                return $"Nothing ffmpeg wrote for '{Playlist}' was whole, so the playlist and its segments are removed.";
            }
            HlsFiles.RemoveUnlisted(Playlist, listed.Segments.Select(s => s.Uri));
            HlsFiles.Replace(Playlist, soundText!);
            return string.Create(CultureInfo.InvariantCulture,
                $"'{Playlist}' is put back as it was before that: {listed.Segments.Count} whole segment{(listed.Segments.Count == 1 ? "" : "s")} " +
                $"({listed.Segments.Sum(s => s.Seconds):0.###} s) up to {listed.Segments[^1].Uri}; the segments after them are deleted.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Listing is null
                ? $"What ffmpeg wrote for '{Playlist}' could not be removed ({ex.Message})."
                : $"'{Playlist}' could not be put back ({ex.Message}): it is as ffmpeg left it. Its last whole listing ended with {Listing.Segments[^1].Uri}.";
        }
    }

    static string Bytes(long count) => count.ToString("N0", CultureInfo.InvariantCulture) + " bytes";

    static string Size(long bytes) =>
        bytes >= 1L << 30 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GiB")
        : bytes >= 1L << 20 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MiB")
        : Bytes(bytes);
}

/// <summary>ffmpeg's hls muxer failed a write it did not report; the message says what shows it.</summary>
internal sealed class HlsWriteFailedException : Exception
{
    public HlsWriteFailedException(string found) : base(found) { }
}
