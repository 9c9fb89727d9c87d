using System.Net;
using System.Net.Http.Headers;
using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using Xunit;

namespace FifoPipes.Tests.Models;

/// <summary>
/// How a download resumes a partial file against each answer a server may give its Range request, with the answers
/// scripted in process (no network): a 206 from the asked byte goes on, a 200 that ignores the range or a 206 from
/// another byte starts the file over, a 416 starts over, and a length that cannot be the listed file is refused.
/// </summary>
public sealed class FileDownloadRangeTests : IDisposable
{
    const string Repo = "fifotest/tiny-model";
    const int Resumed = 50_000;

    readonly string dir = Directory.CreateTempSubdirectory("fifo-range-").FullName;
    readonly byte[] content = FakeHub.RandomBytes(200_000, 11);
    readonly Script server = new();

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Target => Path.Combine(dir, "model.ckpt");
    HubFile Listed => new("model.ckpt", content.Length, FakeHub.Sha256(content));

    /// <summary>Answers each request with the next of its answers, recording the Range it was asked.</summary>
    sealed class Script : HttpMessageHandler
    {
        public Queue<Func<HttpRequestMessage, HttpResponseMessage>> Answers { get; } = new();
        public List<string?> Ranges { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Ranges.Add(request.Headers.Range?.ToString());
            var response = Answers.Count > 0 ? Answers.Dequeue()(request) : new HttpResponseMessage(HttpStatusCode.InternalServerError);
            response.RequestMessage = request;
            return Task.FromResult(response);
        }
    }

    HttpResponseMessage Whole() => new(HttpStatusCode.OK) { Content = new ByteArrayContent(content) };

    /// <summary>A 206 with the bytes from <paramref name="from"/> on, and a Content-Range saying so.</summary>
    HttpResponseMessage Partial(long from, int extra = 0)
    {
        var body = content[(int)from..].Concat(new byte[extra]).ToArray();
        var response = new HttpResponseMessage(HttpStatusCode.PartialContent) { Content = new ByteArrayContent(body) };
        response.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, from + body.Length - 1, content.Length + extra);
        return response;
    }

    /// <summary>A partial file of <see cref="Resumed"/> bytes: the file's own, or bytes that are not (from another revision).</summary>
    void PartialFile(bool right)
    {
        var bytes = right ? content[..Resumed] : FakeHub.RandomBytes(Resumed, 99);
        File.WriteAllBytes(Target + ".partial", bytes);
    }

    async Task<DownloadResult> Download()
    {
        using var client = new HubClient("https://hub.test", handler: server) { RetryDelay = TimeSpan.FromMilliseconds(1), StallTimeout = TimeSpan.FromSeconds(20) };
        return await client.DownloadAsync(Repo, "main", Listed, Target);
    }

    [Fact]
    public async Task A_206_from_the_asked_byte_appends_to_the_partial_file()
    {
        PartialFile(right: true);
        server.Answers.Enqueue(_ => Partial(Resumed));

        var result = await Download();

        Assert.Equal(content, File.ReadAllBytes(Target));
        Assert.Equal(content.Length - Resumed, result.BytesTransferred);
        Assert.Equal(new[] { $"bytes={Resumed}-" }, server.Ranges);
    }

    [Fact]
    public async Task A_200_that_ignores_the_range_restarts_the_file_from_its_first_byte()
    {
        // What the partial file held is not kept: the server sent the whole file, which replaces it.
        PartialFile(right: false);
        server.Answers.Enqueue(_ => Whole());

        var result = await Download();

        Assert.Equal(content, File.ReadAllBytes(Target));
        Assert.Equal(content.Length, result.BytesTransferred);
        Assert.Equal(new[] { $"bytes={Resumed}-" }, server.Ranges);
        Assert.False(File.Exists(Target + ".partial"));
    }

    [Fact]
    public async Task A_416_drops_the_partial_file_and_the_next_attempt_downloads_it_whole()
    {
        PartialFile(right: false);
        server.Answers.Enqueue(_ => new HttpResponseMessage(HttpStatusCode.RequestedRangeNotSatisfiable));
        server.Answers.Enqueue(request => request.Headers.Range is null ? Whole() : Partial(request.Headers.Range.Ranges.First().From!.Value));

        var result = await Download();

        Assert.Equal(content, File.ReadAllBytes(Target));
        Assert.Equal(new[] { $"bytes={Resumed}-", null }, server.Ranges);
        Assert.Equal(content.Length, result.BytesTransferred);
    }

    [Fact]
    public async Task A_206_from_another_byte_than_asked_is_not_appended_and_the_file_starts_over()
    {
        PartialFile(right: true);
        // The server answers from byte 0 though byte 50000 was asked.
        server.Answers.Enqueue(_ => Partial(0));
        server.Answers.Enqueue(request => request.Headers.Range is null ? Whole() : Partial(request.Headers.Range.Ranges.First().From!.Value));

        var result = await Download();

        Assert.Equal(content, File.ReadAllBytes(Target));
        Assert.Equal(new[] { $"bytes={Resumed}-", null }, server.Ranges);
        Assert.Equal(content.Length, result.BytesTransferred);
    }

    [Fact]
    public async Task A_resumed_answer_longer_than_the_listed_file_is_refused_as_a_moved_revision()
    {
        PartialFile(right: true);
        server.Answers.Enqueue(_ => Partial(Resumed, extra: 10));

        var ex = await Assert.ThrowsAsync<FifoInputException>(Download);

        Assert.Equal("ModelFileChanged", ex.ErrorId);
        Assert.Equal($"'model.ckpt' in '{Repo}' at 'main' is {content.Length + 10} bytes on the hub, but the listing said {content.Length}; " +
                     "the revision probably moved while downloading. Run the command again.", ex.Message);
        Assert.False(File.Exists(Target));
        // The bytes received before are kept for the next try.
        Assert.Equal(content[..Resumed], File.ReadAllBytes(Target + ".partial"));
    }
}
