using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// One file's download, made safe to interrupt and to run twice at once:
/// <list type="bullet">
/// <item>bytes go to <c>&lt;file&gt;.partial</c>, renamed to the file only after verification, so a file under its
/// real name is always complete;</item>
/// <item>a dropped connection resumes with an HTTP Range request from the partial file's length;</item>
/// <item><c>&lt;file&gt;.lock</c>, held open exclusively, makes a second download of the same file (another
/// thread or process) wait, then find the finished file.</item>
/// </list>
/// </summary>
sealed class FileDownload
{
    const int BufferSize = 1 << 20;
    /// <summary>Ends the name of a download's bytes until they are verified; a cut-short download leaves it behind.</summary>
    internal const string PartialSuffix = ".partial";

    readonly HubClient hub;
    readonly string repository, revision, destination, partial, lockPath;
    readonly HubFile file;
    readonly IProgress<DownloadProgress>? progress;

    public FileDownload(HubClient hub, string repository, string revision, HubFile file, string destination, IProgress<DownloadProgress>? progress)
    {
        this.hub = hub;
        this.repository = HubNames.CheckRepository(repository);
        this.revision = HubNames.CheckRevision(revision);
        this.file = file;
        this.destination = Path.GetFullPath(destination);
        partial = this.destination + PartialSuffix;
        lockPath = this.destination + ".lock";
        this.progress = progress;
    }

    public async Task<DownloadResult> RunAsync(CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        using var held = await AcquireLockAsync(cancel).ConfigureAwait(false);
        // Whoever held the lock before may have finished this very file.
        if (await IsInPlaceAsync(cancel).ConfigureAwait(false))
        {
            progress?.Report(new DownloadProgress(file.Path, file.Size, file.Size));
            ReleaseLock(held, deleteFile: true);
            return new DownloadResult(destination, file, Downloaded: false, 0);
        }
        long transferred;
        try { transferred = await FetchAsync(cancel).ConfigureAwait(false); }
        catch (FifoInputException)
        {
            // An error before any byte arrived (401, 404) leaves no empty partial file behind; the lock file stays (see ReleaseLock).
            if (File.Exists(partial) && new FileInfo(partial).Length == 0) File.Delete(partial);
            throw;
        }
        await VerifyPartialAsync(cancel).ConfigureAwait(false);
        File.Move(partial, destination, overwrite: true);
        ReleaseLock(held, deleteFile: true);
        return new DownloadResult(destination, file, Downloaded: true, transferred);
    }

    /// <summary>True when the file is already there, complete and with the content listed.</summary>
    async Task<bool> IsInPlaceAsync(CancellationToken cancel) =>
        File.Exists(destination) && await ContentProblemAsync(destination, cancel).ConfigureAwait(false) is null;

    Task<FileStream> AcquireLockAsync(CancellationToken cancel) => ExclusiveFile.AcquireAsync(lockPath, hub.LockTimeout,
        () => progress?.Report(new DownloadProgress(file.Path, 0, file.Size, Waiting: true)),
        ex => new FifoInputException("ModelFileLocked",
            $"Another download of '{destination}' has held '{lockPath}' for more than {hub.LockTimeout}. If no other download is running, delete the .lock file and try again.", ex),
        cancel);

    /// <summary>
    /// The lock file is removed only after success: a waiter that opened it before then finds the finished
    /// file, and one that opens a new lock file finds it too, so two holders never both write.
    /// </summary>
    void ReleaseLock(FileStream held, bool deleteFile)
    {
        if (deleteFile) { try { File.Delete(lockPath); } catch (IOException) { } catch (UnauthorizedAccessException) { } }
        held.Dispose();
    }

    /// <summary>Fills the partial file to the expected size, resuming after each dropped connection.</summary>
    async Task<long> FetchAsync(CancellationToken cancel)
    {
        var uri = hub.FileUri(repository, revision, file.Path);
        long transferred = 0;
        int failuresInARow = 0;
        // Unbuffered: FetchOnceAsync gathers a whole buffer before each write, and a disk error surfaces at the write
        // that met it rather than again when the stream is closed.
        await using var output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        if (output.Length > file.Size) output.SetLength(0);
        if (file.Size == 0)
        {
            await ConfirmExistsAsync(uri, cancel).ConfigureAwait(false);
            return 0;
        }
        while (output.Length < file.Size)
        {
            long before = output.Length;
            try
            {
                transferred += await FetchOnceAsync(uri, output, cancel).ConfigureAwait(false);
            }
            catch (HubTransientException ex)
            {
                bool progressed = output.Length > before;
                failuresInARow = progressed ? 1 : failuresInARow + 1;
                if (failuresInARow >= hub.MaxAttempts)
                    throw new FifoInputException("ModelDownloadFailed",
                        $"Downloading '{file.Path}' from '{repository}' failed {failuresInARow} times in a row without progress: {ex.Message} " +
                        $"The {output.Length} bytes received so far are kept in '{partial}'; run the command again to resume.", ex);
                // Said, so a long wait (a hub's Retry-After) does not look like a hang.
                progress?.Report(new DownloadProgress(file.Path, output.Length, file.Size, Waiting: true));
                await Task.Delay(ex.Pause(hub.RetryDelay * (1 << Math.Min(failuresInARow - 1, 6))), cancel).ConfigureAwait(false);
                continue;
            }
            failuresInARow = 0;
        }
        return transferred;
    }

    /// <summary>An empty file still has to exist on the hub: one request confirms it.</summary>
    async Task ConfirmExistsAsync(Uri uri, CancellationToken cancel)
    {
        using var response = await hub.SendAsync(HttpMethod.Get, uri, null, cancel).ConfigureAwait(false);
        await hub.ThrowForStatusAsync(response, repository, revision, file.Path, cancel).ConfigureAwait(false);
    }

    /// <summary>One request: from the partial file's end (Range) to the end of the file or until the connection drops.</summary>
    async Task<long> FetchOnceAsync(Uri uri, FileStream output, CancellationToken cancel)
    {
        long offset = output.Length;
        var range = offset > 0 ? new RangeHeaderValue(offset, null) : null;
        using var response = await hub.SendAsync(HttpMethod.Get, uri, range, cancel).ConfigureAwait(false);
        // Asked only while the partial file is shorter than the listed size, so the server's file is not what was listed.
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            output.SetLength(0);
            throw new HubTransientException($"the server refused to resume at byte {offset}; starting over");
        }
        await hub.ThrowForStatusAsync(response, repository, revision, file.Path, cancel).ConfigureAwait(false);
        if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
        {
            offset = 0; // The server ignored the Range header and sends the whole file.
            output.SetLength(0);
        }
        else if (offset > 0 && response.Content.Headers.ContentRange is { From: { } from } && from != offset)
        {
            output.SetLength(0);
            throw new HubTransientException($"the server resumed at byte {from} instead of {offset}; starting over");
        }
        if (response.Content.Headers.ContentLength is { } length && offset + length != file.Size)
            throw new FifoInputException("ModelFileChanged",
                $"'{file.Path}' in '{repository}' at '{revision}' is {offset + length} bytes on the hub, but the listing said {file.Size}; the revision probably moved while downloading. Run the command again.");

        output.Position = offset;
        long received = 0;
        var buffer = new byte[BufferSize];
        // The disk's errors are not the connection's: a full disk is not retried as if the hub had dropped out.
        IOException? diskError = null;
        int filled = 0;
        async Task WriteFilledAsync()
        {
            if (filled == 0 || diskError is not null) return;
            try { await output.WriteAsync(buffer.AsMemory(0, filled), CancellationToken.None).ConfigureAwait(false); }
            catch (IOException ex) { diskError = ex; return; }
            received += filled;
            filled = 0;
            progress?.Report(new DownloadProgress(file.Path, output.Position, file.Size));
        }
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
            while (diskError is null)
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                stall.CancelAfter(hub.StallTimeout);
                int n;
                try { n = await body.ReadAsync(buffer.AsMemory(filled), stall.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    throw new HubTransientException($"no data for {hub.StallTimeout.TotalSeconds:F0} s");
                }
                if (n == 0) break;
                if (output.Position + filled + n > file.Size)
                    throw new FifoInputException("ModelFileChanged", $"'{file.Path}' in '{repository}' is longer on the hub than the {file.Size} bytes its listing said. Run the command again.");
                filled += n;
                if (filled == buffer.Length) await WriteFilledAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw new HubTransientException($"the connection dropped after {output.Position + filled} of {file.Size} bytes ({ex.Message})", ex);
        }
        finally
        {
            // Whatever arrived before a drop or a stop is kept, so the next attempt resumes after it.
            await WriteFilledAsync().ConfigureAwait(false);
        }
        if (diskError is not null)
            throw new FifoInputException("ModelStoreWriteFailed",
                $"Writing '{partial}' failed after {offset + received} of {file.Size} bytes: {diskError.Message}. Free some space (or point " +
                $"FIFOPIPES_MODEL_STORE at a disk with {(file.Size - offset - received) / 1e9:F2} GB more) and run the command again; it resumes from what was written.", diskError);
        if (output.Length < file.Size)
            throw new HubTransientException($"the response ended after {output.Length} of {file.Size} bytes");
        return received;
    }

    async Task VerifyPartialAsync(CancellationToken cancel)
    {
        if (await ContentProblemAsync(partial, cancel).ConfigureAwait(false) is not { } problem) return;
        File.Delete(partial);
        throw new FifoInputException("ModelFileCorrupt",
            $"The download of '{file.Path}' from '{repository}' at '{revision}' is corrupt: {problem}. The downloaded data was removed; run the command again to download it anew.");
    }

    /// <summary>
    /// Why <paramref name="path"/> is not the file the hub listed, or null when it is: its size, then its content by the
    /// id the hub gives (an LFS file's sha256, or a git file's blob id: sha1 of "blob &lt;size&gt;\0" and the bytes).
    /// </summary>
    async Task<string?> ContentProblemAsync(string path, CancellationToken cancel)
    {
        long length = new FileInfo(path).Length;
        if (length != file.Size) return $"it is {length} bytes, the hub lists {file.Size}";
        var (kind, expected, algorithm, prefix) = file.Sha256 is { } sha256 ? ("sha256", sha256, HashAlgorithmName.SHA256, "")
            : file.GitBlob is { } blob ? ("git blob id", blob, HashAlgorithmName.SHA1, $"blob {length}\0")
            : default;
        if (expected is null) return null;
        var actual = await HashAsync(path, algorithm, prefix, cancel).ConfigureAwait(false);
        return actual == expected ? null : $"its {kind} is {actual}, the hub lists {expected}";
    }

    static async Task<string> HashAsync(string path, HashAlgorithmName algorithm, string prefix, CancellationToken cancel)
    {
        using var hash = IncrementalHash.CreateHash(algorithm);
        hash.AppendData(System.Text.Encoding.ASCII.GetBytes(prefix));
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var buffer = new byte[BufferSize];
        for (int n; (n = await stream.ReadAsync(buffer, cancel).ConfigureAwait(false)) > 0;) hash.AppendData(buffer, 0, n);
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }
}
