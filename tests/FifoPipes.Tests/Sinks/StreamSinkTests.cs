using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.NetworkInformation;
using FifoPipes.Abstractions;
using FifoPipes.Core.Sinks;
using FifoPipes.Sinks.Ffmpeg;
using FifoPipes.Tests.Sampling;
using Xunit;

namespace FifoPipes.Tests.Sinks;

/// <summary>
/// Live streams sent to real ffmpeg servers on this machine (an RTMP listen, an SRT listener), recorded to a file and
/// read back with ffprobe. Serial with the other ffmpeg tests: some of them point FIFOPIPES_FFMPEG elsewhere.
/// </summary>
[Collection(SerialSinkTests.Name)]
public sealed class StreamSinkTests : SinkTestBase
{
    [Fact]
    public void A_file_sink_given_an_address_refuses_it_itself_without_a_file_named_after_the_key()
    {
        var target = new SinkTarget("rtmp://a.rtmp.youtube.com/live2/abcd-secret-key", 8, true);
        foreach (var factory in new ISinkFactory[] { new Mp4SinkFactory(), new HlsSinkFactory(), new FifoPipes.Sinks.Images.GifSinkFactory(), new FifoPipes.Sinks.Images.PngSequenceSinkFactory() })
        {
            var ex = Assert.Throws<FifoInputException>(() => factory.Check(null, target, Context));
            Assert.Equal(SinkFiles.OutputIsAddressErrorId, ex.ErrorId);
            Assert.Contains("is an address (rtmp://). Send to it with a sink that streams (use: stream in a recipe, -Format stream)", ex.Message);
            Assert.DoesNotContain("secret", ex.Message);
            Assert.Throws<FifoInputException>(() => factory.Create(null, target, Context));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(Dir));
    }

    const string Key = "live_4f9a-secret-key";

    [Theory]
    [InlineData("rtmp://a.rtmp.youtube.com/live2/" + Key, "rtmp://a.rtmp.youtube.com/live2/****")]
    [InlineData("rtmps://live-api-s.facebook.com:443/rtmp/" + Key + "?s_bl=1&a=" + Key, "rtmps://live-api-s.facebook.com:443/rtmp/****?s_bl=****&a=****")]
    [InlineData("srt://ingest.example.net:9000?streamid=" + Key + "&latency=200", "srt://ingest.example.net:9000?streamid=****&latency=200")]
    [InlineData("srt://[::1]:9000?passphrase=" + Key + "&mode=caller", "srt://[::1]:9000?passphrase=****&mode=caller")]
    [InlineData("rtmp://studio:" + Key + "@10.0.0.2/live/cam", "rtmp://studio:****@10.0.0.2/live/****")]
    [InlineData("rtmp://10.0.0.2/" + Key + "?access_token=" + Key, "rtmp://10.0.0.2/****?access_token=****")]
    [InlineData("rtmp://h/live/x?" + Key + "&listen", "rtmp://h/live/****?****&listen")]
    [InlineData("udp://239.0.0.1:5000", "udp://239.0.0.1:5000")]
    [InlineData("/videos/out.mp4", "/videos/out.mp4")]
    [InlineData(@"C:\videos\out.mp4", @"C:\videos\out.mp4")]
    public void An_address_is_shown_with_its_key_password_and_secret_parameters_masked(string target, string shown)
    {
        Assert.Equal(shown, StreamAddress.Display(target));
        Assert.Equal(target.Contains("://"), StreamAddress.IsAddress(target));
        Assert.Equal($"could not open {shown}: refused", StreamAddress.Hide($"could not open {target}: refused", target));
        // ffmpeg may name the address its own way: the secret parts are masked on their own too.
        if (target.Contains(Key)) Assert.DoesNotContain(Key, StreamAddress.Hide($"Connection to tcp://other?key={Key} failed", target));
    }

    /// <summary>The stream command for <paramref name="address"/> as one line, its protocol taken from the address.</summary>
    static string Command(StreamSinkOptions options, string address, FrameFormat? format = null, double soundFrom = 0) =>
        string.Join(' ', FfmpegCommand.BuildStream(options, StreamProtocol.Of(address).Protocol, format ?? new FrameFormat(320, 512, 8), address, soundFrom));

    [Fact]
    public void Rtmp_goes_as_flv_paced_without_lookahead_with_keyframes_a_bitrate_cap_and_silent_audio()
    {
        var text = Command(new StreamSinkOptions { Bitrate = "2500k", Keyframes = 3 }, "rtmp://h/live/k");
        Assert.StartsWith("-hide_banner -nostats -loglevel warning -re -thread_queue_size 64 -f rawvideo -pix_fmt rgb24 -s 320x512 -r 8 -i - " +
                          "-f lavfi -i anullsrc=channel_layout=stereo:sample_rate=44100 -map 0:v -map 1:a:0 -c:v libx264 -crf 18 -preset veryfast -pix_fmt yuv420p " +
                          "-tune zerolatency -maxrate 2500k -bufsize 5000000 -force_key_frames expr:gte(t,n_forced*3) -c:a aac -b:a 128k -shortest " +
                          "-flvflags no_duration_filesize -rw_timeout 15000000 -flush_packets 1", text);
        Assert.EndsWith("-f flv rtmp://h/live/k", text);

        var plain = Command(new StreamSinkOptions { Realtime = false, SilentAudio = false, Codec = "libvpx-vp9", ExtraArgs = "-g 16" }, "udp://239.0.0.1:5000");
        Assert.DoesNotContain("-re ", plain);
        Assert.DoesNotContain("anullsrc", plain);
        Assert.DoesNotContain("-tune", plain);
        Assert.DoesNotContain("-maxrate", plain);
        Assert.DoesNotContain("-rw_timeout", plain); // UDP sends without a connection to stall
        Assert.EndsWith("-g 16 -f mpegts udp://239.0.0.1:5000", plain);
        Assert.Contains("-c:v libvpx-vp9 -crf 31 -b:v 0 -row-mt 1 -pix_fmt yuv420p", plain);

        var srt = Command(new StreamSinkOptions(), "srt://h:9000");
        Assert.EndsWith("-rw_timeout 15000000 -linger 2 -flush_packets 1 -f mpegts srt://h:9000", srt);
    }

    [Theory]
    [InlineData("http://example.net/live", "does not send to 'http://' addresses")]
    [InlineData("out.ts", "sends to an address (rtmp://, rtmps://, srt://, udp://, tcp://), not to a file")]
    [InlineData("RTMP://", "is not an address ffmpeg can send to")]
    [InlineData("srt://example.net?streamid=" + Key, "names no port")]
    [InlineData("tcp://example.net", "names no port")]
    [InlineData("rtmp://", "is not an address ffmpeg can send to")]
    public void A_bad_address_is_refused_before_the_run_naming_the_form_it_takes(string address, string expected)
    {
        var ex = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(null, new SinkTarget(address, 8, false), Context));
        Assert.Equal(StreamProtocol.AddressErrorId, ex.ErrorId);
        Assert.Contains(expected, ex.Message);
        Assert.DoesNotContain(Key, ex.Message);
    }

    [Fact]
    public void Bad_options_are_refused_naming_the_option()
    {
        var ex = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(
            new StreamSinkOptions { Bitrate = "fast", Keyframes = 0, Reconnect = -1 }, new SinkTarget("udp://127.0.0.1:5000", 8, false), Context));
        Assert.Contains("bitrate 'fast'", ex.Message);
        Assert.Contains("keyframes is 0 s", ex.Message);
        Assert.Contains("reconnect is -1", ex.Message);
    }

    [SkippableFact]
    public void A_server_that_accepts_no_connection_is_refused_before_the_run_with_the_key_masked()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int port = FreePort();
        var ex = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(null, new SinkTarget($"rtmp://127.0.0.1:{port}/live/{Key}", 8, false), Context));
        Assert.Equal(StreamProtocol.UnreachableErrorId, ex.ErrorId);
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
        Assert.Contains("live/****", ex.Message);
        Assert.DoesNotContain(Key, ex.Message);
    }

    [SkippableFact]
    public void A_tcp_address_of_this_machine_where_nothing_listens_is_refused_before_the_run()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int closed = FreePort();
        var ex = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(null, new SinkTarget($"tcp://127.0.0.1:{closed}", 8, false), Context));
        Assert.Equal(StreamProtocol.UnreachableErrorId, ex.ErrorId);
        Assert.StartsWith($"Nothing accepts the stream at 127.0.0.1:{closed} ('tcp://127.0.0.1:{closed}')", ex.Message);
        Assert.Contains("Start the server or player", ex.Message);
        // Where ffmpeg listens itself, nothing need be there yet.
        new StreamSinkFactory().Check(null, new SinkTarget($"tcp://127.0.0.1:{closed}?listen=1", 8, false), Context);
        new StreamSinkFactory().Check(new StreamSinkOptions { ExtraArgs = "-listen 1" }, new SinkTarget($"tcp://127.0.0.1:{closed}", 8, false), Context);
    }

    [SkippableFact]
    public void A_player_listening_at_a_tcp_address_keeps_its_one_connection_through_the_check()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        // Like ffplay 'tcp://...?listen': it takes one connection and plays what comes on it; a try would be that one.
        var player = new TcpListener(IPAddress.Loopback, 0);
        player.Start();
        try
        {
            int port = ((IPEndPoint)player.LocalEndpoint).Port;
            new StreamSinkFactory().Check(null, new SinkTarget($"tcp://127.0.0.1:{port}", 8, false), Context);
            Assert.False(player.Pending(), "the check connected to the player");
        }
        finally { player.Stop(); }
    }

    [SkippableFact]
    public void An_srt_address_of_this_machine_where_nothing_listens_is_refused_and_a_listener_gets_no_datagram()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int closed;
        using (var gone = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0))) closed = ((IPEndPoint)gone.Client.LocalEndPoint!).Port;
        var options = new StreamSinkOptions { SilentAudio = false };
        var ex = Assert.Throws<FifoInputException>(() => new StreamSinkFactory().Check(options, new SinkTarget($"srt://127.0.0.1:{closed}?streamid={Key}", 8, false), Context));
        Assert.Equal(StreamProtocol.UnreachableErrorId, ex.ErrorId);
        Assert.Contains($"Nothing accepts the stream at 127.0.0.1:{closed}", ex.Message);
        Assert.DoesNotContain(Key, ex.Message);
        new StreamSinkFactory().Check(options, new SinkTarget($"srt://127.0.0.1:{closed}?mode=listener", 8, false), Context);

        using var listener = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)listener.Client.LocalEndPoint!).Port;
        new StreamSinkFactory().Check(options, new SinkTarget($"srt://127.0.0.1:{port}", 8, false), Context);
        // Not even an empty datagram: the table of listening sockets said it was there.
        Assert.False(listener.Client.Poll(100_000, SelectMode.SelectRead), "the check sent the listener a datagram");
    }

    [SkippableFact]
    public void An_rtmp_server_receives_every_frame_as_h264_with_a_silent_aac_track()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int port = FreePort();
        var address = $"rtmp://127.0.0.1:{port}/live/{Key}";
        var recorded = Path.Combine(Dir, "received.flv");
        using var server = Receive($"-listen 1 -i {address}", recorded);
        var log = new RecordingSink();
        using (var sink = new StreamSinkFactory().Create(null, new SinkTarget(address, 8, false), new PluginContext(log, Dir)))
        {
            foreach (var frame in Frames(16)) sink.Write(frame);
            Assert.Empty(sink.Complete()); // a stream leaves no file
        }
        server.Finished();
        var video = Ffprobe.Probe(recorded);
        Assert.Equal(("h264", 64, 48, 16), (video.Codec, video.Width, video.Height, video.Frames));
        Assert.Equal(new[] { "video", "audio" }, Ffprobe.StreamTypes(recorded));
        Assert.DoesNotContain(log.Messages.Concat(log.Warnings), m => m.Contains(Key));
        Assert.Contains(log.Messages, m => m.Contains("live/****") && m.Contains("-f flv"));
    }

    [Fact]
    public void An_audio_file_takes_the_place_of_the_silence()
    {
        var text = Command(new StreamSinkOptions { Audio = "/music/bed.mp3" }, "rtmp://h/live/k", new FrameFormat(64, 48, 8));
        Assert.Contains("-i - -stream_loop -1 -i /music/bed.mp3 -map 0:v -map 1:a:0 -c:v libx264", text);
        var later = Command(new StreamSinkOptions { Audio = "/music/bed.mp3" }, "rtmp://h/live/k", new FrameFormat(64, 48, 8), soundFrom: 12.5);
        // Trimmed after the loop: a looped input seeked with -ss starts its later turns early.
        Assert.Contains("-stream_loop -1 -i /music/bed.mp3", later);
        Assert.Contains("-af atrim=start=12.5,asetpts=PTS-STARTPTS -c:a aac", later);
        Assert.DoesNotContain("atrim", text);
        // A user's own audio filter takes the trim first: ffmpeg keeps only the last -af.
        var own = Command(new StreamSinkOptions { Audio = "/music/bed.mp3", ExtraArgs = "-af volume=0.3" }, "rtmp://h/live/k", new FrameFormat(64, 48, 8), soundFrom: 12.5);
        Assert.Contains("-af atrim=start=12.5,asetpts=PTS-STARTPTS,volume=0.3", own);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(own, "-af "));
        Assert.DoesNotContain("anullsrc", text);
        Assert.Contains("-c:a aac -b:a 128k -shortest", text);
    }

    [Fact]
    public void An_srt_connection_stays_up_after_the_last_frame_for_twice_its_latency_and_at_least_a_second()
    {
        TimeSpan Hold(string address) => StreamProtocol.Of(address).Protocol.HoldAfterLastFrame(StreamProtocol.Of(address).Address);
        Assert.Equal(TimeSpan.FromSeconds(1), Hold("srt://h:9000?streamid=k"));
        // ffmpeg's srt latencies are microseconds; the largest of those given counts.
        Assert.Equal(TimeSpan.FromSeconds(4), Hold("srt://h:9000?latency=200000&peerlatency=2000000"));
        Assert.Equal(TimeSpan.Zero, Hold("rtmp://h/live/k"));
        Assert.Equal(TimeSpan.Zero, Hold("udp://239.0.0.1:5000"));
    }

    [SkippableFact]
    public void An_srt_listener_receives_every_frame_as_mpeg_ts_after_the_check()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int port = FreePort();
        var recorded = Path.Combine(Dir, "received.ts");
        // No too-late drops: a starved receiver on a busy machine must not lose frames the test counts. The last frame
        // arrives only because the sink holds the connection for the receiver's latency (it lost it in two of three runs before).
        using var server = Receive($"-i srt://127.0.0.1:{port}?mode=listener&tlpktdrop=0", recorded);
        var target = new SinkTarget($"srt://127.0.0.1:{port}?streamid={Key}&tlpktdrop=0", 8, false);
        var options = new StreamSinkOptions { SilentAudio = false };
        new StreamSinkFactory().Check(options, target, Context);
        using (var sink = new StreamSinkFactory().Create(options, target, Context))
        {
            foreach (var frame in Frames(16)) sink.Write(frame);
            sink.Complete();
        }
        server.Finished();
        Assert.Equal(16, Ffprobe.Probe(recorded).Frames);
        Assert.Equal(new[] { "video" }, Ffprobe.StreamTypes(recorded));
    }

    [SkippableFact]
    public void A_listening_srt_stream_whose_player_comes_late_still_delivers_its_last_frames()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int port = FreePort();
        var recorded = Path.Combine(Dir, "late.ts");
        // ffmpeg reads the first frames before its player is there, and paces the rest after: the hold waits for its
        // report of the last frame, not for the writes (which lost the last frame in one run of three).
        var player = Task.Run(() =>
        {
            Thread.Sleep(1500);
            return Receive($"-i srt://127.0.0.1:{port}?tlpktdrop=0", recorded);
        });
        using (var sink = new StreamSinkFactory().Create(new StreamSinkOptions { SilentAudio = false },
                   new SinkTarget($"srt://127.0.0.1:{port}?mode=listener&tlpktdrop=0", 8, false), Context))
        {
            foreach (var frame in Frames(16)) sink.Write(frame);
            sink.Complete();
        }
        using var server = player.Result;
        server.Finished();
        Assert.Equal(16, Ffprobe.Probe(recorded).Frames);
    }

    [SkippableFact]
    public void A_dropped_connection_is_made_again_and_the_stream_goes_on()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        int port = FreePort();
        var address = $"rtmp://127.0.0.1:{port}/live/{Key}";
        // The first server hangs up after 8 frames; the second takes the rest. Frames large enough that the pipe holds
        // about one, so the sink learns of the drop at once.
        var first = Path.Combine(Dir, "first.flv");
        var second = Path.Combine(Dir, "second.flv");
        using var server = Receive($"-listen 1 -i {address}", first, "-frames:v 8");
        Receiver? next = null;
        var log = new RecordingSink();
        var restart = Task.Run(() =>
        {
            server.Finished();
            next = Receive($"-listen 1 -i {address}", second);
        });
        // The sink pauses until the second server listens, however long a loaded machine takes to start it.
        using (var sink = Direct(address, new StreamSinkOptions { Realtime = false, SilentAudio = false }, log,
                   pauseBeforeTry: _ => restart.Wait(TimeSpan.FromSeconds(30)) ? TimeSpan.Zero : throw new TimeoutException("the second server did not start")))
        {
            long index = 0;
            while (sink.Reconnects == 0 && index < 400) sink.Write(Frame(index++, 192, 160));
            Assert.True(restart.Wait(TimeSpan.FromSeconds(30)), "the second server did not start");
            foreach (var frame in Frames(24, 192, 160, first: index)) sink.Write(frame);
            sink.Complete();
            Assert.Equal(1, sink.Reconnects);
        }
        next!.Finished();
        next.Dispose();
        Assert.Equal(8, Ffprobe.Probe(first).Frames);
        // The frame that found the connection dropped goes on the new one with the 24 after it.
        Assert.Equal(25, Ffprobe.Probe(second).Frames);
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("ffmpeg stopped taking frames for", warning);
        Assert.Contains("connecting again in 0 s (try 1 of 30)", warning);
        Assert.Contains("live/****", warning);
        Assert.DoesNotContain(Key, warning);
    }

    [SkippableFact]
    public void A_connection_that_cannot_be_made_again_ends_the_run_with_ffmpegs_reason_and_the_key_masked()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var address = $"rtmp://127.0.0.1:{FreePort()}/live/{Key}";
        var log = new RecordingSink();
        using var sink = Direct(address, new StreamSinkOptions { Realtime = false, Reconnect = 2 }, log, pauseBeforeTry: _ => TimeSpan.Zero);
        var ex = Assert.Throws<FifoInputException>(() => { foreach (var frame in Frames(200, 192, 160)) sink.Write(frame); });
        Assert.Equal(StreamSink.FailedErrorId, ex.ErrorId);
        Assert.Contains("2 tries in a row", ex.Message);
        Assert.Contains("Connection refused", ex.Message);
        Assert.DoesNotContain(Key, ex.Message);
        Assert.Equal(2, log.Warnings.Count);
        Assert.All(log.Warnings, w => Assert.Contains("Connection refused", w));
        Assert.Same(ex, Assert.Throws<FifoInputException>(() => sink.Write(Frame(200, 192, 160))));
    }

    [SkippableFact]
    public void A_stop_while_it_pauses_to_connect_again_ends_the_stream_at_once()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var address = $"rtmp://127.0.0.1:{FreePort()}/live/{Key}";
        var log = new RecordingSink();
        using var stop = new CancellationTokenSource();
        using var sink = Direct(address, new StreamSinkOptions { Realtime = false }, log, pauseBeforeTry: _ => { stop.CancelAfter(200); return TimeSpan.FromMinutes(5); },
            stopping: stop.Token);
        var clock = Stopwatch.StartNew();
        foreach (var frame in Frames(100, 192, 160)) sink.Write(frame);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the frames took {clock.Elapsed} after the stop");
        Assert.Equal(0, sink.Reconnects);                 // stopped before ffmpeg was started again
        Assert.Contains(log.Warnings, w => w.Contains("stopped while waiting to connect to") && !w.Contains(Key));
        Assert.Empty(sink.Complete());
    }

    [SkippableFact]
    public void A_stop_while_a_listener_waits_for_its_player_ends_the_stream_at_once()
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        var address = $"tcp://127.0.0.1:{FreePort()}?listen=1";
        var log = new RecordingSink();
        using var stop = new CancellationTokenSource();
        using var sink = Direct(address, new StreamSinkOptions { SilentAudio = false }, log, stopping: stop.Token);
        // No player comes: the writes fill ffmpeg's queue and the pipe, and then wait.
        stop.CancelAfter(TimeSpan.FromSeconds(1));
        var clock = Stopwatch.StartNew();
        foreach (var frame in Frames(400, 192, 160)) sink.Write(frame);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the writes took {clock.Elapsed} after the stop");
        Assert.Contains(log.Messages, m => m.Contains("waiting at tcp://127.0.0.1:"));
        Assert.Contains(log.Warnings, w => w.Contains("stopped while waiting to connect to"));
        Assert.Equal(0, sink.Reconnects);
    }

    [SkippableTheory]
    [InlineData(0.25, 0.01, "frames are made at 4 per second")]               // a run making 4 frames a second for an 8 fps stream
    [InlineData(0.01, 0.25, "ffmpeg takes 3.85 frames a second")]             // an encoder taking 4 a second
    [InlineData(0.1, 0.01, null)]                                              // 10 a second and quickly taken: ahead of it
    public void A_run_or_an_encoder_slower_than_the_stream_plays_is_told_once_the_rate_it_keeps_up_with(double secondsPerFrame, double secondsInSink, string? warned)
    {
        Skip.IfNot(Ffprobe.Available, "ffmpeg/ffprobe are not installed");
        long ticks = 0;
        bool leaving = true;
        // The sink reads the clock as a frame arrives and as it leaves: each arrives secondsPerFrame after the last one
        // left, and the sink takes secondsInSink (waiting on ffmpeg).
        long Clock() => ticks += (long)(Stopwatch.Frequency * ((leaving = !leaving) ? secondsInSink : secondsPerFrame));
        var log = new RecordingSink();
        using (var sink = Direct($"udp://127.0.0.1:{FreePort()}", new StreamSinkOptions { Realtime = false, SilentAudio = false }, log, clock: Clock))
        {
            foreach (var frame in Frames(40)) sink.Write(frame);
            sink.Complete();
        }
        if (warned is null) { Assert.Empty(log.Warnings); return; }
        var warning = Assert.Single(log.Warnings);
        Assert.Contains(warned, warning);
        Assert.Contains("-Fps 3.", warning);
    }

    /// <summary>A stream sink made as its factory makes one, with the tests' own pauses, clock and stop.</summary>
    static StreamSink Direct(string address, StreamSinkOptions options, IProgressSink log, Func<int, TimeSpan>? pauseBeforeTry = null,
        Func<long>? clock = null, CancellationToken stopping = default)
    {
        var (protocol, uri) = StreamProtocol.Of(address);
        return new StreamSink(FifoPipes.Core.Media.FfmpegLocator.Locate(), new SinkTarget(address, 8, false), protocol, options, log,
            StreamProtocol.Listens(uri), pauseBeforeTry, clock, stopping);
    }

    static int FreePort() => FifoPipes.Tests.Models.FakeHub.FreePort();

    /// <summary>An ffmpeg that takes a stream in and records it as it came (no re-encoding).</summary>
    static Receiver Receive(string input, string recorded, string outputOptions = "")
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in $"-v error {input} {outputOptions} -c copy -y".Split(' ', StringSplitOptions.RemoveEmptyEntries).Append(recorded))
            info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync();
        // It must be listening before anything connects, and ffmpeg does not say when it is: watch for its port.
        int port = new Uri(input.Split(' ').Last()).Port;
        var properties = IPGlobalProperties.GetIPGlobalProperties();
        var waited = Stopwatch.StartNew();
        while (!properties.GetActiveTcpListeners().Concat(properties.GetActiveUdpListeners()).Any(e => e.Port == port))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited, $"the receiving ffmpeg is not listening on {port}: {(process.HasExited ? errors.Result : "")}");
            Thread.Sleep(20);
        }
        return new Receiver(process, errors, recorded);
    }

    sealed class Receiver(Process process, Task<string> errors, string recorded) : IDisposable
    {
        /// <summary>Waits until the server has written what it received (its stream ended).</summary>
        public void Finished()
        {
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the receiving ffmpeg did not finish");
            Assert.True(File.Exists(recorded), $"the receiving ffmpeg wrote nothing: {errors.Result}");
        }

        public void Dispose()
        {
            if (!process.HasExited) process.Kill();
            process.Dispose();
        }
    }
}
