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
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                if (!reported) waiting?.Invoke();
                reported = true;
                await Task.Delay(Poll, cancel).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw timedOut(ex);
            }
            catch (UnauthorizedAccessException ex)
            {
                // A store shared between users keeps lock files the next user may not write.
                throw new FifoInputException("ModelStoreWriteFailed",
                    $"Cannot open the lock file '{path}' ({ex.Message}). The model store must be writable by you: fix the folder's permissions, " +
                    $"or point {ModelStore.StoreVariable} at a store of your own.", ex);
            }
        }
    }
}
