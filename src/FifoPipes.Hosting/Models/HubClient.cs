using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FifoPipes.Abstractions;

namespace FifoPipes.Hosting.Models;

/// <summary>
/// A client for a Hugging Face compatible model hub: lists a repository's files with their sizes and
/// sha256 (GET /api/models/{repo}/revision/{rev}?blobs=true, or the tree API) and downloads files from
/// /{repo}/resolve/{rev}/{path} with <see cref="FileDownload"/> (resumable, verified, atomic).
/// The endpoint comes from HF_ENDPOINT and the token from HF_TOKEN, as the hub's own tools do.
/// </summary>
public sealed class HubClient : IDisposable
{
    public const string EndpointVariable = "HF_ENDPOINT";
    public const string TokenVariable = "HF_TOKEN";
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The tree API pages its answer; a real repository has far fewer pages than this.</summary>
    const int MaxTreePages = 1000;

    readonly HttpClient http;
    readonly string? token;

    public HubClient(string? endpoint = null, string? token = null, HttpMessageHandler? handler = null)
    {
        var text = string.IsNullOrWhiteSpace(endpoint) ? DefaultEndpoint : endpoint.Trim();
        if (!Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new FifoInputException("InvalidHubEndpoint", $"The hub endpoint '{text}' (from {EndpointVariable}) is not an http(s) URL, e.g. {DefaultEndpoint}.");
        Endpoint = uri;
        this.token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        // Redirects are followed by SendAsync, which decides where the token may go.
        http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("FifoPipes/0.1");
    }

    /// <summary>A client for HF_ENDPOINT (default huggingface.co) with the token in HF_TOKEN, if any.</summary>
    public static HubClient FromEnvironment() =>
        new(Environment.GetEnvironmentVariable(EndpointVariable), Environment.GetEnvironmentVariable(TokenVariable));

    /// <summary>The hub's base address, ending in '/'.</summary>
    public Uri Endpoint { get; }
    public bool HasToken => token is not null;
    /// <summary>How long a response may stall (no bytes at all) before the attempt is dropped and resumed.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>
    /// How long the hub may take to start answering a request, and to finish a listing or an error message: a proxy
    /// that accepts the connection and never answers must not hang a save (the client has no overall timeout, as a
    /// download of many gigabytes may take hours).
    /// </summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Attempts per file in a row that make no progress before the download gives up.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>Pause before resuming a dropped download; doubles each attempt without progress.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long to wait while another process downloads the same file.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromHours(12);

    string EndpointText => Endpoint.ToString().TrimEnd('/');

    public Uri FileUri(string repository, string revision, string path) =>
        new(Endpoint, $"{HubNames.CheckRepository(repository)}/resolve/{Uri.EscapeDataString(HubNames.CheckRevision(revision))}/{HubNames.EscapePath(HubNames.CheckFilePath(path))}");

    /// <summary>Every file of <paramref name="repository"/> at <paramref name="revision"/>, with sizes and LFS sha256.</summary>
    public async Task<HubListing> ListAsync(string repository, string revision, CancellationToken cancel = default)
    {
        HubNames.CheckRepository(repository);
        HubNames.CheckRevision(revision);
        var info = new Uri(Endpoint, $"api/models/{repository}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        using var doc = (await GetJsonAsync(info, repository, revision, null, cancel).ConfigureAwait(false)).Doc;
        var root = doc.RootElement;
        string? commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null;
        var files = new List<HubFile>();
        bool sizesKnown = true;
        if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in siblings.EnumerateArray())
            {
                var path = s.TryGetProperty("rfilename", out var name) ? name.GetString() : null;
                if (path is null) continue;
                var file = ReadFile(path, s);
                if (file is null) sizesKnown = false;
                else files.Add(file);
            }
        }
        // A hub that does not give sizes with the model info gives them in its tree listing.
        if (!sizesKnown || files.Count == 0)
            files = await ListTreeAsync(repository, commit ?? revision, cancel).ConfigureAwait(false);
        return new HubListing(EndpointText, repository, revision, commit, files);
    }

    async Task<List<HubFile>> ListTreeAsync(string repository, string revision, CancellationToken cancel)
    {
        var files = new List<HubFile>();
        Uri? next = new(Endpoint, $"api/models/{repository}/tree/{Uri.EscapeDataString(revision)}?recursive=true");
        for (int page = 0; next is not null && page < MaxTreePages; page++)
        {
            var (doc, following) = await GetJsonAsync(next, repository, revision, null, cancel).ConfigureAwait(false);
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Array) throw NotAHub(next, "the tree listing is not a JSON array");
                foreach (var item in doc.RootElement.EnumerateArray())
                {
                    if (item.TryGetProperty("type", out var type) && type.GetString() != "file") continue;
                    if (item.TryGetProperty("path", out var p) && p.GetString() is { } path && ReadFile(path, item) is { } file) files.Add(file);
                }
            }
            next = following;
        }
        return files;
    }

    /// <summary>A sibling (model info) or tree item: size, and the LFS sha256 under "sha256" or "oid".</summary>
    static HubFile? ReadFile(string path, JsonElement e)
    {
        string? sha256 = null;
        long? size = null;
        bool inLfs = e.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object;
        if (inLfs)
        {
            if (lfs.TryGetProperty("sha256", out var s) || lfs.TryGetProperty("oid", out s)) sha256 = s.GetString()?.ToLowerInvariant();
            if (lfs.TryGetProperty("size", out var ls) && ls.TryGetInt64(out var lsize)) size = lsize;
        }
        if (size is null && e.TryGetProperty("size", out var sz) && sz.TryGetInt64(out var fsize)) size = fsize;
        // A file in git proper has only its blob id ("blobId" in model info, "oid" in the tree), which covers its content
        // too; an LFS file's blob is its pointer, not its content.
        string? blob = !inLfs && (e.TryGetProperty("blobId", out var b) || e.TryGetProperty("oid", out b)) && b.ValueKind == JsonValueKind.String
            ? b.GetString()?.ToLowerInvariant()
            : null;
        return size is { } known and >= 0
            ? new HubFile(path, known, sha256 is { Length: 64 } ? sha256 : null, blob is { Length: 40 } && blob.All(char.IsAsciiHexDigit) ? blob : null)
            : null;
    }

    /// <summary>The Link header's next page, if it is on the hub itself: the token goes with every listing request.</summary>
    Uri? NextPage(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links)) return null;
        foreach (var part in links.SelectMany(l => l.Split(',')))
        {
            if (!part.Contains("rel=\"next\"", StringComparison.Ordinal)) continue;
            int open = part.IndexOf('<'), close = part.IndexOf('>');
            if (open >= 0 && close > open && Uri.TryCreate(part[(open + 1)..close], UriKind.Absolute, out var uri))
                return Uri.Compare(uri, Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
                    ? uri
                    : throw NotAHub(uri, $"its next listing page is on another host ({uri.GetLeftPart(UriPartial.Authority)})");
        }
        return null;
    }

    /// <summary>
    /// Downloads one listed file to <paramref name="destination"/>: resumed from a partial download, verified
    /// (sha256 for LFS files, the git blob id for the others), renamed into place only when complete.
    /// </summary>
    public Task<DownloadResult> DownloadAsync(string repository, string revision, HubFile file, string destination,
        IProgress<DownloadProgress>? progress = null, CancellationToken cancel = default) =>
        new FileDownload(this, repository, revision, file, destination, progress).RunAsync(cancel);

    const int MaxRedirects = 10;

    /// <summary>
    /// Sends a request and follows its redirects. The token goes only where the hub itself answers: a move on the same
    /// host (a renamed repository) keeps it, the storage a file is served from (another host) never sees it, and a
    /// redirect from https to plain http is refused.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, RangeHeaderValue? range, CancellationToken cancel)
    {
        var target = uri;
        bool withToken = token is not null;
        for (int hop = 0; ; hop++)
        {
            var response = await SendOnceAsync(method, target, withToken, range, cancel).ConfigureAwait(false);
            if ((int)response.StatusCode is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is not { } location) return response;
            response.Dispose();
            var next = location.IsAbsoluteUri ? location : new Uri(target, location);
            if (hop == MaxRedirects)
                throw new HubTransientException($"{uri.GetLeftPart(UriPartial.Authority)} redirected more than {MaxRedirects} times");
            if (target.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                throw new FifoInputException("ModelDownloadFailed", $"{target} redirected to {next.GetLeftPart(UriPartial.Authority)} without https; refused.");
            withToken &= Uri.Compare(next, target, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
            target = next;
        }
    }

    async Task<HttpResponseMessage> SendOnceAsync(HttpMethod method, Uri uri, bool withToken, RangeHeaderValue? range, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (withToken) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (range is not null) request.Headers.Range = range;
        try
        {
            return await WithinResponseTimeout(answer => http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, answer),
                () => $"{uri.GetLeftPart(UriPartial.Authority)} did not answer within", cancel).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new HubTransientException($"cannot reach {uri.GetLeftPart(UriPartial.Authority)}: {ex.Message}", ex);
        }
    }

    static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// One wait on the hub (for its answer to start, or for the next piece of a listing or an error message) within
    /// <see cref="ResponseTimeout"/>; a wait past it is transient, a cancellation by the caller stays one.
    /// </summary>
    async Task<T> WithinResponseTimeout<T>(Func<CancellationToken, Task<T>> wait, Func<string> late, CancellationToken cancel)
    {
        using var answer = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        answer.CancelAfter(ResponseTimeout);
        try { return await wait(answer.Token).ConfigureAwait(false); }
        catch (OperationCanceledException ex) when (!cancel.IsCancellationRequested)
        {
            throw new HubTransientException($"{late()} {Seconds(ResponseTimeout)} s", ex);
        }
    }

    static Func<string> Stalled(Uri uri) => () => $"the answer from {uri.GetLeftPart(UriPartial.Authority)} stalled for";

    /// <summary>A JSON answer and the Link header's next page, retried while the hub fails transiently.</summary>
    async Task<(JsonDocument Doc, Uri? Next)> GetJsonAsync(Uri uri, string repository, string revision, string? path, CancellationToken cancel)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await SendAsync(HttpMethod.Get, uri, null, cancel).ConfigureAwait(false);
                await ThrowForStatusAsync(response, repository, revision, path, cancel).ConfigureAwait(false);
                var next = NextPage(response);
                return (await ReadJsonAsync(response, uri, cancel).ConfigureAwait(false), next);
            }
            catch (HubTransientException ex) when (attempt < MaxAttempts)
            {
                await Task.Delay(ex.Pause(RetryDelay * attempt), cancel).ConfigureAwait(false);
            }
            catch (HubTransientException ex)
            {
                throw new FifoInputException("ModelDownloadFailed", $"Listing '{repository}' at '{revision}' failed after {attempt} attempts: {ex.Message}", ex);
            }
        }
    }

    /// <summary>Listings are at most this large: a hub's answer beyond it is not one.</summary>
    const int MaxListingBytes = 64 << 20;

    /// <summary>
    /// A listing, read as long as it keeps coming: a big repository's listing on a slow link may take minutes, but
    /// <see cref="ResponseTimeout"/> without a byte fails the attempt.
    /// </summary>
    async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, Uri uri, CancellationToken cancel)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
            using var body = new MemoryStream();
            var buffer = new byte[81920];
            for (int n; (n = await WithinResponseTimeout(read => stream.ReadAsync(buffer, read).AsTask(), Stalled(uri), cancel).ConfigureAwait(false)) > 0;)
            {
                if (body.Length + n > MaxListingBytes) throw NotAHub(uri, $"its listing is larger than {MaxListingBytes >> 20} MiB");
                body.Write(buffer, 0, n);
            }
            body.Position = 0;
            return JsonDocument.Parse(body);
        }
        catch (JsonException ex) { throw NotAHub(uri, "the answer is not JSON (" + ex.Message + ")"); }
        catch (IOException ex) { throw new HubTransientException($"the answer from {uri} broke off: {ex.Message}", ex); }
    }

    static FifoInputException NotAHub(Uri uri, string why) =>
        new("InvalidHubEndpoint", $"{uri} did not answer like a model hub: {why}. Check {EndpointVariable}.");

    /// <summary>Turns 401/403/404 into errors that say what to do; 5xx and 429 are transient (retried).</summary>
    internal async Task ThrowForStatusAsync(HttpResponseMessage response, string repository, string revision, string? path, CancellationToken cancel)
    {
        if (response.IsSuccessStatusCode) return;
        int code = (int)response.StatusCode;
        string detail = "";
        // Only for the message: an error page that never ends must not hold the error (or Ctrl+C) back.
        try { detail = (await WithinResponseTimeout(read => response.Content.ReadAsStringAsync(read), Stalled(response.RequestMessage?.RequestUri ?? Endpoint), cancel).ConfigureAwait(false)).Trim(); }
        catch (Exception ex) when (ex is IOException or HttpRequestException or HubTransientException) { }
        if (detail.Length > 300) detail = detail[..300] + "...";
        detail = detail.Length > 0 ? $" The hub said: {detail}" : "";
        string what = path is null ? $"the repository '{repository}' at revision '{revision}'" : $"'{path}' in '{repository}' at revision '{revision}'";
        switch (code)
        {
            case 401 or 403:
                throw new FifoInputException("ModelAccessDenied",
                    $"{EndpointText} refused access to {what} (HTTP {code}). " +
                    (HasToken
                        ? $"The token in {TokenVariable} was sent but does not grant access: "
                        : $"No token was sent: set {TokenVariable} to an access token from {EndpointText}/settings/tokens, and ") +
                    $"accept the model's licence on {EndpointText}/{repository} with that account. (The hub also answers 401 for a repository that does not exist: check the name.){detail}");
            case 404:
                throw new FifoInputException("ModelFileNotFound",
                    $"{EndpointText} has no {what} (HTTP 404): check the repository id, the revision and the file path.{detail}");
            case 408 or 429 or >= 500:
                var retryAfter = response.Headers.RetryAfter is { } after
                    ? after.Delta ?? (after.Date is { } at ? at - DateTimeOffset.UtcNow : null)
                    : null;
                throw new HubTransientException($"{EndpointText} answered HTTP {code} for {what}.{detail}", retryAfter: retryAfter);
            default:
                throw new FifoInputException("ModelDownloadFailed", $"{EndpointText} answered HTTP {code} for {what}.{detail}");
        }
    }

    public void Dispose() => http.Dispose();
}

/// <summary>A failure worth retrying: a dropped connection, a stalled or cut body, a 5xx answer.</summary>
sealed class HubTransientException(string message, Exception? inner = null, TimeSpan? retryAfter = null) : Exception(message, inner)
{
    /// <summary>How long the hub asked to be left alone (Retry-After on 429 and 503), if it said.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>The pause before the next attempt: the backoff, or longer where the hub asked for longer (up to 10 minutes).</summary>
    public TimeSpan Pause(TimeSpan backoff) => RetryAfter is { } asked && asked > backoff ? TimeSpan.FromTicks(Math.Min(asked.Ticks, TimeSpan.FromMinutes(10).Ticks)) : backoff;
}
