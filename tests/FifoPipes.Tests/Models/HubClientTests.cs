using FifoPipes.Abstractions;
using FifoPipes.Hosting.Models;
using Xunit;

namespace FifoPipes.Tests.Models;

/// <summary>The hub client against <see cref="FakeHub"/> on loopback.</summary>
public sealed class HubClientTests : IDisposable
{
    const string Repo = "fifotest/tiny-model";
    readonly FakeHub hub = new();
    readonly string dir = Directory.CreateTempSubdirectory("fifo-hub-").FullName;

    public void Dispose()
    {
        hub.Dispose();
        Directory.Delete(dir, recursive: true);
    }

    HubClient Client(string? token = null) => new(hub.Endpoint, token) { RetryDelay = TimeSpan.FromMilliseconds(20), StallTimeout = TimeSpan.FromSeconds(20) };

    static async Task<T> Fails<T>(Func<Task> action) where T : Exception => await Assert.ThrowsAsync<T>(action);

    /// <summary>After success, nothing but the verified files: no .partial or .lock left.</summary>
    void AssertNoLeftovers() =>
        Assert.DoesNotContain(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories), f => f.EndsWith(".partial") || f.EndsWith(".lock"));

    /// <summary>
    /// After a failure, no partial data. The (empty) lock file stays on purpose: deleting it while another download
    /// waits on it could let two downloads hold "the" lock at once.
    /// </summary>
    void AssertNoPartialData() =>
        Assert.DoesNotContain(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories), f => !f.EndsWith(".lock") || new FileInfo(f).Length > 0);

    [Fact]
    public async Task A_hub_that_never_answers_fails_the_listing_after_its_attempts_instead_of_hanging()
    {
        hub.AddFile(Repo, "main", "config.json", "{}"u8.ToArray(), lfs: false);
        hub.InfoDelay = TimeSpan.FromSeconds(60);
        using var client = new HubClient(hub.Endpoint) { ResponseTimeout = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(20), MaxAttempts = 2 };

        var ex = await Fails<FifoInputException>(() => client.ListAsync(Repo, "main"));

        Assert.Equal("ModelDownloadFailed", ex.ErrorId);
        Assert.Contains("did not answer within 0.2 s", ex.Message);
        Assert.Contains("after 2 attempts", ex.Message);
    }

    [Fact]
    public async Task A_renamed_gated_repository_is_followed_with_the_token()
    {
        var weights = FakeHub.RandomBytes(40_000, 5);
        hub.AddFile("fifotest/new-name", "main", "weights.bin", weights);
        hub.RequiredToken = "secret";
        hub.Rename("fifotest/old-name", "fifotest/new-name");
        using var client = Client("secret");

        var listing = await client.ListAsync("fifotest/old-name", "main");
        await client.DownloadAsync("fifotest/old-name", "main", listing.Require("weights.bin"), Path.Combine(dir, "weights.bin"));

        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(dir, "weights.bin")));
        Assert.All(hub.Downloads, d => Assert.Equal("Bearer secret", d.Authorization));
    }

    [Fact]
    public async Task A_rate_limited_download_waits_as_long_as_the_hub_asks_then_resumes()
    {
        var weights = FakeHub.RandomBytes(50_000, 4);
        hub.AddFile(Repo, "main", "weights.bin", weights);
        using var client = Client();
        var listing = await client.ListAsync(Repo, "main");
        hub.RateLimitOnce("weights.bin", seconds: 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await client.DownloadAsync(Repo, "main", listing.Require("weights.bin"), Path.Combine(dir, "weights.bin"));

        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(dir, "weights.bin")));
        Assert.Equal(2, hub.Downloads.Count(d => d.Path == "weights.bin"));
        // The client's own backoff here is 20 ms; the second request waited for the hub's second.
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 60);
    }

    [SkippableFact]
    public async Task A_full_disk_is_reported_as_the_disks_and_not_retried_as_a_dropped_connection()
    {
        Skip.IfNot(File.Exists("/dev/full"), "needs /dev/full, where every write fails with ENOSPC");
        var weights = FakeHub.RandomBytes(300_000, 3);
        hub.AddFile(Repo, "main", "weights.bin", weights);
        using var client = Client();
        var listing = await client.ListAsync(Repo, "main");
        var destination = Path.Combine(dir, "weights.bin");
        File.CreateSymbolicLink(destination + ".partial", "/dev/full");

        var ex = await Fails<FifoInputException>(() => client.DownloadAsync(Repo, "main", listing.Require("weights.bin"), destination));

        Assert.Equal("ModelStoreWriteFailed", ex.ErrorId);
        Assert.Contains("Free some space", ex.Message);
        Assert.Single(hub.Downloads);   // one request: no retries of a connection that was fine
    }

    [Fact]
    public async Task Lists_sizes_and_sha256_then_downloads_a_verified_file()
    {
        var weights = FakeHub.RandomBytes(300_000, 1);
        hub.AddFile(Repo, "main", "unet/weights.bin", weights);
        hub.AddFile(Repo, "main", "config.json", "{\"a\": 1}"u8.ToArray(), lfs: false);
        using var client = Client();

        var listing = await client.ListAsync(Repo, "main");
        Assert.Equal(new[] { "config.json", "unet/weights.bin" }, listing.Files.Select(f => f.Path));
        Assert.Equal(new HubFile("unet/weights.bin", 300_000, FakeHub.Sha256(weights)), listing.Require("unet/weights.bin"));
        Assert.Null(listing.Require("config.json").Sha256);
        Assert.NotNull(listing.Commit);
        Assert.Contains("blobs=true", Assert.Single(hub.ApiCalls));

        var reports = new List<DownloadProgress>();
        var target = Path.Combine(dir, "unet", "weights.bin");
        var result = await client.DownloadAsync(Repo, "main", listing.Require("unet/weights.bin"), target, new ActionProgress<DownloadProgress>(reports.Add));
        Assert.True(result.Downloaded);
        Assert.Equal(weights, File.ReadAllBytes(target));
        Assert.Equal(300_000, reports[^1].BytesDone);
        Assert.True(reports.Select(r => r.BytesDone).SequenceEqual(reports.Select(r => r.BytesDone).Order()), "progress only grows");

        var small = await client.DownloadAsync(Repo, "main", listing.Require("config.json"), Path.Combine(dir, "config.json"));
        Assert.Equal("{\"a\": 1}", File.ReadAllText(small.LocalPath));
        AssertNoLeftovers();

        // A second call finds the verified file in place and fetches nothing.
        int before = hub.Downloads.Count;
        Assert.False((await client.DownloadAsync(Repo, "main", listing.Require("unet/weights.bin"), target)).Downloaded);
        Assert.Equal(before, hub.Downloads.Count);
    }

    [Fact]
    public async Task A_dropped_connection_is_resumed_with_a_range_request()
    {
        var weights = FakeHub.RandomBytes(400_000, 2);
        hub.AddFile(Repo, "main", "model.ckpt", weights);
        hub.DropOnce("model.ckpt", afterBytes: 128 * 1024);
        using var client = Client();
        var file = (await client.ListAsync(Repo, "main")).Require("model.ckpt");

        var result = await client.DownloadAsync(Repo, "main", file, Path.Combine(dir, "model.ckpt"));

        Assert.Equal(weights, File.ReadAllBytes(result.LocalPath));
        var requests = hub.Downloads.ToList();
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].Range);
        Assert.Matches(@"^bytes=\d+-$", requests[1].Range);
        Assert.True(long.Parse(requests[1].Range![6..^1]) > 0, "the retry starts where the partial file ends");
        Assert.True(result.BytesTransferred < weights.Length + 128 * 1024);
        AssertNoLeftovers();
    }

    [Fact]
    public async Task An_interrupted_partial_file_is_resumed_by_a_later_download()
    {
        var weights = FakeHub.RandomBytes(200_000, 3);
        hub.AddFile(Repo, "main", "model.ckpt", weights);
        var target = Path.Combine(dir, "model.ckpt");
        File.WriteAllBytes(target + ".partial", weights[..50_000]);
        using var client = Client();
        var file = (await client.ListAsync(Repo, "main")).Require("model.ckpt");

        var result = await client.DownloadAsync(Repo, "main", file, target);

        Assert.Equal(weights, File.ReadAllBytes(target));
        Assert.Equal(150_000, result.BytesTransferred);
        Assert.Equal("bytes=50000-", Assert.Single(hub.Downloads).Range);
    }

    [Fact]
    public async Task A_gated_model_needs_the_token_and_says_how_to_set_it()
    {
        hub.AddFile(Repo, "main", "model.ckpt", FakeHub.RandomBytes(1000, 4));
        hub.RequiredToken = "hf_secret";

        using (var anonymous = Client())
        {
            var denied = await Fails<FifoInputException>(() => anonymous.ListAsync(Repo, "main"));
            Assert.Equal("ModelAccessDenied", denied.ErrorId);
            Assert.Contains("HF_TOKEN", denied.Message);
            Assert.Contains("licence", denied.Message);
            var file = new HubFile("model.ckpt", 1000, null);
            var direct = await Fails<FifoInputException>(() => anonymous.DownloadAsync(Repo, "main", file, Path.Combine(dir, "model.ckpt")));
            Assert.Equal("ModelAccessDenied", direct.ErrorId);
            Assert.False(File.Exists(Path.Combine(dir, "model.ckpt")));
        }

        using var authorised = Client("hf_secret");
        var listing = await authorised.ListAsync(Repo, "main");
        await authorised.DownloadAsync(Repo, "main", listing.Require("model.ckpt"), Path.Combine(dir, "model.ckpt"));
        Assert.Equal(1000, new FileInfo(Path.Combine(dir, "model.ckpt")).Length);
        Assert.All(hub.Downloads.Where(d => d.Authorization is not null), d => Assert.Equal("Bearer hf_secret", d.Authorization));
    }

    [Fact]
    public async Task Missing_repositories_revisions_and_files_are_named()
    {
        hub.AddFile(Repo, "main", "unet/config.json", "{}"u8.ToArray(), lfs: false);
        using var client = Client();

        var noRepo = await Fails<FifoInputException>(() => client.ListAsync("fifotest/nothing-here", "main"));
        Assert.Equal("ModelFileNotFound", noRepo.ErrorId);
        Assert.Contains("fifotest/nothing-here", noRepo.Message);
        var noRevision = await Fails<FifoInputException>(() => client.ListAsync(Repo, "v9"));
        Assert.Contains("'v9'", noRevision.Message);

        var listing = await client.ListAsync(Repo, "main");
        var unlisted = Assert.Throws<FifoInputException>(() => listing.Require("unet/weights.bin"));
        Assert.Equal("ModelFileNotFound", unlisted.ErrorId);
        Assert.Contains(Repo, unlisted.Message);
        Assert.Contains("main", unlisted.Message);
        Assert.Contains("unet/weights.bin", unlisted.Message);
        Assert.Contains("unet/config.json", unlisted.Message);

        var gone = await Fails<FifoInputException>(() => client.DownloadAsync(Repo, "main", new HubFile("vae/gone.bin", 10, null), Path.Combine(dir, "gone.bin")));
        Assert.Equal("ModelFileNotFound", gone.ErrorId);
        Assert.Contains("vae/gone.bin", gone.Message);
        Assert.False(File.Exists(Path.Combine(dir, "gone.bin")));
    }

    [Fact]
    public async Task A_sha256_mismatch_is_rejected_and_nothing_looks_complete()
    {
        var weights = FakeHub.RandomBytes(100_000, 5);
        hub.AddFile(Repo, "main", "model.ckpt", weights, advertisedSha256: new string('a', 64));
        using var client = Client();
        var file = (await client.ListAsync(Repo, "main")).Require("model.ckpt");
        var target = Path.Combine(dir, "model.ckpt");

        var corrupt = await Fails<FifoInputException>(() => client.DownloadAsync(Repo, "main", file, target));

        Assert.Equal("ModelFileCorrupt", corrupt.ErrorId);
        Assert.Contains("sha256", corrupt.Message);
        Assert.Contains("removed", corrupt.Message);
        Assert.False(File.Exists(target));
        AssertNoPartialData();
    }

    [Fact]
    public async Task Two_downloads_of_one_file_at_once_both_succeed_with_an_intact_file()
    {
        var weights = FakeHub.RandomBytes(256 * 1024, 6);
        hub.AddFile(Repo, "main", "model.ckpt", weights);
        hub.ChunkDelay = TimeSpan.FromMilliseconds(10);
        using var first = Client();
        using var second = Client();
        var file = (await first.ListAsync(Repo, "main")).Require("model.ckpt");
        var target = Path.Combine(dir, "store", "model.ckpt");

        var results = await Task.WhenAll(
            Task.Run(() => first.DownloadAsync(Repo, "main", file, target)),
            Task.Run(() => second.DownloadAsync(Repo, "main", file, target)));

        Assert.Equal(weights, File.ReadAllBytes(target));
        Assert.All(results, r => Assert.Equal(target, r.LocalPath));
        // The lock lets one of them download; the other waits and finds the verified file.
        Assert.Single(results, r => r.Downloaded);
        Assert.Single(hub.Downloads);
        AssertNoLeftovers();
    }

    [Fact]
    public void Names_that_would_leave_the_store_are_refused()
    {
        Assert.Equal("InvalidModelFile", Assert.Throws<FifoInputException>(() => HubNames.CheckFilePath("../../etc/passwd")).ErrorId);
        Assert.Equal("InvalidModelFile", Assert.Throws<FifoInputException>(() => HubNames.CheckFilePath("/abs/path")).ErrorId);
        Assert.Equal("InvalidRepository", Assert.Throws<FifoInputException>(() => HubNames.CheckRepository("no-owner")).ErrorId);
        Assert.Equal("InvalidRepository", Assert.Throws<FifoInputException>(() => HubNames.CheckRepository("../x")).ErrorId);
        Assert.Equal("refs--pr--46", HubNames.RevisionFolder("refs/pr/46"));
        using var client = new HubClient("http://127.0.0.1:1/");
        Assert.Equal("http://127.0.0.1:1/a/b/resolve/refs%2Fpr%2F46/unet/x%20y.bin", client.FileUri("a/b", "refs/pr/46", "unet/x y.bin").AbsoluteUri);
    }
}
