using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// A lock between threads and processes: a file held open with <see cref="FileShare.None"/> (an flock on Unix, a share
/// mode on Windows), which the system releases when its holder dies, so a crash leaves nothing to clean up.
/// </summary>
static class ExclusiveFile
{
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Opens <paramref name="path"/> exclusively, polling while another holder has it; <paramref name="waiting"/> is
    /// called once when the first try fails, and <paramref name="timedOut"/> makes the error once
    /// <paramref name="timeout"/> has passed.
    /// </summary>
    public static async Task<FileStream> AcquireAsync(string path, TimeSpan timeout, Action? waiting,
        Func<IOException, Exception> timedOut, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        bool reported = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException ex) when (HeldByAnother(ex) && DateTime.UtcNow < deadline)
            {
                if (!reported) waiting?.Invoke();
                reported = true;
                await Task.Delay(Poll, cancel).ConfigureAwait(false);
            }
            catch (IOException ex) when (HeldByAnother(ex))
            {
                throw timedOut(ex);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not a holder to wait for (a read-only or full disk, a store shared between users whose lock files the
                // next user may not write): waiting would only postpone this error, by up to a download's lock timeout.
                throw new FifoInputException("ModelStoreWriteFailed",
                    $"Cannot open the lock file '{path}' ({ex.Message}). The model store must be writable by you: fix the folder's permissions " +
                    $"or free space, or point {ModelStore.StoreVariable} at a store of your own.", ex);
            }
        }
    }

    /// <summary>
    /// The one failure that means another holder: a sharing or lock violation on Windows, EWOULDBLOCK from flock elsewhere
    /// (.NET gives the errno as the HResult there). Every other I/O error is the disk's or the folder's.
    /// </summary>
    static bool HeldByAnother(IOException ex) =>
        OperatingSystem.IsWindows() ? (ex.HResult & 0xFFFF) is 32 or 33
        : ex.HResult == (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 35 : 11);
}
