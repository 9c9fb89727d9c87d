using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace FifoPipes.Tests.Models;

/// <summary>
/// A model hub on loopback that imitates Hugging Face's model-info API (/api/models/{repo}/revision/{rev}) and
/// its /{repo}/resolve/{rev}/{path} downloads, with Range support, a token check, dropped connections on
/// request and a slow mode, and records what it was asked. Never touches the real network.
/// </summary>
sealed class FakeHub : IDisposable
{
    sealed record FakeFile(byte[] Content, bool Lfs, string Sha256);

    readonly HttpListener listener = new();
    readonly Task serving;
    readonly ConcurrentDictionary<(string Repo, string Revision, string Path), FakeFile> files = new();
    readonly ConcurrentDictionary<string, int> dropAfter = new();
    readonly CancellationTokenSource closing = new();

    public FakeHub()
    {
        // Bind a free port, then hand it to HttpListener (which cannot pick one itself).
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            listener.Prefixes.Clear();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { listener.Start(); Endpoint = $"http://127.0.0.1:{port}"; break; }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        serving = Task.Run(ServeAsync);
    }

    public string Endpoint { get; private set; } = "";
    /// <summary>When set, requests without "Authorization: Bearer &lt;token&gt;" get 401.</summary>
    public string? RequiredToken { get; set; }
    /// <summary>Pause between 16 KB chunks of a download, so downloads overlap in time.</summary>
    public TimeSpan ChunkDelay { get; set; }

    readonly ConcurrentDictionary<string, string> renamed = new();
    /// <summary>Requests for <paramref name="oldName"/> are redirected (307, relative) to <paramref name="newName"/>, as the hub does after a rename.</summary>
    public void Rename(string oldName, string newName) => renamed[oldName] = newName;
    /// <summary>How long the model-info API waits before it answers anything: a hub behind a proxy that hangs.</summary>
    public TimeSpan InfoDelay { get; set; }
    public ConcurrentQueue<(string Path, string? Range, string? Authorization)> Downloads { get; } = new();
    public ConcurrentQueue<string> ApiCalls { get; } = new();
    /// <summary>The revision each download named: a branch, or the commit of a listing.</summary>
    public ConcurrentQueue<string> DownloadRevisions { get; } = new();

    public void AddFile(string repo, string revision, string path, byte[] content, bool lfs = true, string? advertisedSha256 = null) =>
        files[(repo, revision, path)] = new FakeFile(content, lfs, advertisedSha256 ?? Sha256(content));

    /// <summary>The next download of <paramref name="path"/> breaks off after this many body bytes.</summary>
    public void DropOnce(string path, int afterBytes) => dropAfter[path] = afterBytes;

    readonly ConcurrentDictionary<string, int> rateLimited = new();
    /// <summary>The next request for <paramref name="path"/> gets 429 Too Many Requests with Retry-After: <paramref name="seconds"/>.</summary>
    public void RateLimitOnce(string path, int seconds) => rateLimited[path] = seconds;

    /// <summary>The commit id the fake hub gives a revision.</summary>
    public static string Commit(string repo, string revision) => Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(repo + revision))).ToLowerInvariant();

    public static string Sha256(byte[] content) => Convert.ToHexString(SHA256.HashData(content)).ToLowerInvariant();

    /// <summary>Git's blob id, as the hub lists files kept in git: sha1("blob &lt;size&gt;\0" + content).</summary>
    public static string GitBlob(byte[] content) =>
        Convert.ToHexString(SHA1.HashData(Encoding.ASCII.GetBytes($"blob {content.Length}\0").Concat(content).ToArray())).ToLowerInvariant();

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A loopback TCP port nothing listens on now (for a server to take, or for a connection to be refused).</summary>
    internal static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    async Task ServeAsync()
    {
        // Ends when the listener is closed (Dispose): GetContextAsync then throws.
        while (!closing.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closing.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var segments = context.Request.Url!.AbsolutePath.Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
            var auth = context.Request.Headers["Authorization"];
            if (RequiredToken is not null && auth != $"Bearer {RequiredToken}")
            {
                await WriteText(response, 401, "Access to this model is restricted. You must be authenticated.");
                return;
            }
            var requested = context.Request.Url.AbsolutePath;
            if (renamed.FirstOrDefault(r => requested.Contains($"/{r.Key}/", StringComparison.Ordinal)) is { Key: not null } move)
            {
                response.StatusCode = 307;
                response.AddHeader("Location", requested.Replace($"/{move.Key}/", $"/{move.Value}/") + context.Request.Url.Query);
                response.Close();
                return;
            }
            if (segments.Length >= 6 && segments[0] == "api" && segments[1] == "models" && segments[4] == "revision")
            {
                ApiCalls.Enqueue(context.Request.Url.PathAndQuery);
                await ServeInfo(response, $"{segments[2]}/{segments[3]}", string.Join('/', segments[5..]));
            }
            else if (segments.Length >= 5 && segments[2] == "resolve")
            {
                var repo = $"{segments[0]}/{segments[1]}";
                var path = string.Join('/', segments[4..]);
                Downloads.Enqueue((path, context.Request.Headers["Range"], auth));
                DownloadRevisions.Enqueue(segments[3]);
                await ServeFile(response, repo, segments[3], path, context.Request.Headers["Range"], timeout.Token);
            }
            else await WriteText(response, 404, "Not found");
        }
        catch (Exception)
        {
            try { response.Abort(); } catch (Exception) { }
        }
    }

    async Task ServeInfo(HttpListenerResponse response, string repo, string revision)
    {
        if (InfoDelay > TimeSpan.Zero) await Task.Delay(InfoDelay, closing.Token);
        var listed = files.Where(f => f.Key.Repo == repo && f.Key.Revision == revision).ToList();
        if (listed.Count == 0) { await WriteText(response, 404, $"Repository {repo} or revision {revision} not found"); return; }
        var info = new
        {
            id = repo,
            sha = Commit(repo, revision),
            siblings = listed.OrderBy(f => f.Key.Path, StringComparer.Ordinal).Select(f => f.Value.Lfs
                ? (object)new { rfilename = f.Key.Path, size = f.Value.Content.Length, blobId = "0", lfs = new { sha256 = f.Value.Sha256, size = f.Value.Content.Length, pointerSize = 134 } }
                : new { rfilename = f.Key.Path, size = f.Value.Content.Length, blobId = GitBlob(f.Value.Content) }),
        };
        var json = JsonSerializer.SerializeToUtf8Bytes(info);
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.ContentLength64 = json.Length;
        await response.OutputStream.WriteAsync(json);
        response.Close();
    }

    async Task ServeFile(HttpListenerResponse response, string repo, string revision, string path, string? range, CancellationToken cancel)
    {
        // A commit id names the revision it was listed at, as on the hub.
        var atCommit = files.Keys.FirstOrDefault(k => k.Repo == repo && Commit(repo, k.Revision) == revision);
        if (atCommit.Repo is not null) revision = atCommit.Revision;
        if (!files.TryGetValue((repo, revision, path), out var file)) { await WriteText(response, 404, "Entry not found"); return; }
        if (rateLimited.TryRemove(path, out var seconds))
        {
            response.AddHeader("Retry-After", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await WriteText(response, 429, "Too Many Requests");
            return;
        }
        long start = 0;
        if (range is { } r && r.StartsWith("bytes=", StringComparison.Ordinal) && r.EndsWith('-') && long.TryParse(r[6..^1], out var from))
        {
            if (from >= file.Content.Length) { await WriteText(response, 416, "Range Not Satisfiable"); return; }
            start = from;
            response.StatusCode = 206;
            response.AddHeader("Content-Range", $"bytes {from}-{file.Content.Length - 1}/{file.Content.Length}");
        }
        else response.StatusCode = 200;
        response.AddHeader("Accept-Ranges", "bytes");
        response.ContentLength64 = file.Content.Length - start;
        int? drop = dropAfter.TryRemove(path, out var after) ? after : null;
        long end = drop is { } d ? Math.Min(file.Content.Length, start + d) : file.Content.Length;
        const int Chunk = 16 * 1024;
        for (long at = start; at < end; at += Chunk)
        {
            await response.OutputStream.WriteAsync(file.Content.AsMemory((int)at, (int)Math.Min(Chunk, end - at)), cancel);
            await response.OutputStream.FlushAsync(cancel);
            if (ChunkDelay > TimeSpan.Zero) await Task.Delay(ChunkDelay, cancel);
        }
        if (drop is not null)
        {
            // Let the bytes reach the client, then cut the connection mid-body.
            await Task.Delay(100, cancel);
            response.Abort();
            return;
        }
        response.Close();
    }

    static async Task WriteText(HttpListenerResponse response, int status, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "text/plain";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    public void Dispose()
    {
        closing.Cancel();
        try { listener.Close(); } catch (Exception) { }
        serving.Wait(TimeSpan.FromSeconds(10));
    }
}
