using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using FifoPipes.PowerShell;
using FifoPipes.PowerShell.Commands;
using Xunit;

namespace FifoPipes.Tests.PowerShell;

/// <summary>The cmdlets run in-process in a real PowerShell runspace, with the real plugins.</summary>
[Collection("PowerShell")]
public sealed class CmdletTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("fifo-ps-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    List<object> Run(string script) => InProcessShell.Run(dir, script);

    ErrorRecord RunFailing(string script) => InProcessShell.RunFailing(dir, script);

    [Fact]
    public void New_FifoVideo_streams_frames_in_order()
    {
        var frames = Run($"New-FifoVideo 'calm blue ocean' -Frames 5 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, frames.Select(f => f.Index));
        Assert.All(frames, f => Assert.Equal((64, 64, 64 * 64 * 3), (f.Width, f.Height, f.Pixels.Length)));
        Assert.All(frames, f => Assert.Equal("calm blue ocean", f.Prompt));
        Assert.Equal(TimeSpan.FromSeconds(4 / 8.0), frames[4].Timestamp);
    }

    [Fact]
    public void A_prompt_schedule_switches_at_the_stated_frames()
    {
        var frames = Run($"New-FifoVideo 'fire','ocean','smoke' -Frames 3,1,2 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        Assert.Equal(new[] { "fire", "fire", "fire", "ocean", "smoke", "smoke" }, frames.Select(f => f.Prompt));
    }

    [Fact]
    public void The_same_seed_gives_the_same_frames_and_another_seed_other_ones()
    {
        var a = Run($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        var b = Run($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        Assert.Equal(a.Select(f => f.Pixels), b.Select(f => f.Pixels));
        // -Seed reaches the noise, not only the record of the run.
        var other = Run($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny.Replace("-Seed 3", "-Seed 4")}").Cast<FifoFrame>().ToList();
        Assert.All(a.Zip(other), pair => Assert.NotEqual(pair.First.Pixels, pair.Second.Pixels));
    }

    [Fact]
    public void A_negative_prompt_steers_guidance_and_is_named_when_guidance_cannot_use_it()
    {
        var plain = Run($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        var negative = Run($"New-FifoVideo 'lava' -Frames 3 -NegativePrompt 'calm blue ocean' {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        Assert.NotEqual(plain.Select(f => f.Pixels), negative.Select(f => f.Pixels));

        var unguided = Run($"New-FifoVideo 'lava' -Frames 3 -Guidance 1 -NegativePrompt 'calm blue ocean' {InProcessShell.Tiny} 3>&1").ToList();
        Assert.Contains(unguided.OfType<WarningRecord>(), w => w.Message.Contains("'calm blue ocean' has no effect at guidance 1"));
        var unguidedPlain = Run($"New-FifoVideo 'lava' -Frames 3 -Guidance 1 {InProcessShell.Tiny}").Cast<FifoFrame>();
        Assert.Equal(unguidedPlain.Select(f => f.Pixels), unguided.OfType<FifoFrame>().Select(f => f.Pixels));
    }

    [Fact]
    public void Every_written_file_gives_back_the_recipe_that_makes_its_frames_again()
    {
        var original = Run($"$f = New-FifoVideo 'lava, \"slow\"' -Frames 3 -NegativePrompt 'it''s blurry' {InProcessShell.Tiny} -Guidance 2.5 -Eta 0.5 -Fps 12 -SnapshotPath s.snapshot -SnapshotEvery 2; " +
                           "$f | Export-FifoFrames out.mp4, out.gif, frames, live/out.m3u8 | Out-Null; $f").Cast<FifoFrame>().ToList();
        var records = Run("'out.mp4', 'out.gif', 'frames', 'live/out.m3u8' | Get-FifoProvenance").Cast<FifoProvenance>().ToList();
        Assert.Equal(4, records.Count);
        Assert.Single(records.Select(r => r.RunHash).Distinct());
        Assert.Equal(records.Take(2).Select(r => r.Path), Run("Get-FifoProvenance out.mp4, out.gif").Cast<FifoProvenance>().Select(r => r.Path));
        Assert.All(records, r => Assert.True(r.Complete));
        Assert.Equal("'it''s blurry'", records[0].Recipe.Split('\n').Single(l => l.StartsWith("negativePrompt:")).Split(": ", 2)[1]);
        Assert.Equal("3", records[0].Settings["seed"]);
        // The rate it plays at is recorded too, though it is not what the frames are.
        Assert.Equal("12", records[0].Settings["fps"]);

        File.WriteAllText(Path.Combine(dir, "again.yaml"), records[1].Recipe);
        var again = Run("New-FifoVideo -Recipe again.yaml").Cast<FifoFrame>().ToList();
        Assert.Equal(original.Select(f => f.Pixels), again.Select(f => f.Pixels));
        Assert.All(again, f => Assert.Equal(12, f.Fps));
        Assert.Equal($"FifoPipes run {records[0].RunHash}", again[0].Provenance!.Split('\n')[0]);

        // A snapshot records its run too (the last one was taken after its last frame): its recipe, made longer with
        // -Frames, goes on from it with the frames of a run planned that long.
        var snapshot = Assert.IsType<FifoProvenance>(Assert.Single(Run("Get-FifoProvenance s.snapshot")));
        Assert.Equal(records[0].RunHash, snapshot.RunHash);
        // With the plugins' versions, as the frames' files have them.
        Assert.Equal(records[0].Settings["plugins"], snapshot.Settings["plugins"]);
        Assert.Contains($"# Made with {records[0].Settings["plugins"]}: other versions", snapshot.Recipe);
        Assert.Contains($"resume: '{Path.Combine(dir, "s.snapshot")}'", snapshot.Recipe);
        File.WriteAllText(Path.Combine(dir, "resume.yaml"), snapshot.Recipe);
        var rest = Run("New-FifoVideo -Recipe resume.yaml -Frames 5").Cast<FifoFrame>().ToList();
        Assert.Equal(new long[] { 3, 4 }, rest.Select(f => f.Index));
        var planned = Run($"New-FifoVideo 'lava, \"slow\"' -Frames 5 -NegativePrompt 'it''s blurry' {InProcessShell.Tiny} -Guidance 2.5 -Eta 0.5").Cast<FifoFrame>().ToList();
        Assert.Equal(planned.Skip(3).Select(f => f.Pixels), rest.Select(f => f.Pixels));
        var counts = RunFailing("New-FifoVideo -Recipe resume.yaml -Frames 5,6");
        Assert.Contains("-Frames", counts.Exception.Message);
        Assert.Contains("one frame count for all of the recipe's prompts or one each: it has 1, and 2 counts were given", counts.Exception.Message);

        var none = RunFailing("Get-FifoProvenance again.yaml -ErrorAction Stop");
        Assert.Equal("ProvenanceUnsupported", none.FullyQualifiedErrorId.Split(',')[0]);
        Assert.EndsWith("Give a PNG frame, a GIF, an MP4, WebM or MKV video, an HLS playlist or a snapshot.", none.Exception.Message);
        // A snapshot cut short is named as damaged, not as a kind of file that records no runs.
        var whole = File.ReadAllBytes(Path.Combine(dir, "s.snapshot"));
        File.WriteAllBytes(Path.Combine(dir, "cut.snapshot"), whole[..(whole.Length - 50)]);
        var cut = RunFailing("Get-FifoProvenance cut.snapshot -ErrorAction Stop");
        Assert.Equal("ProvenanceUnreadable", cut.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("is a damaged safetensors file", cut.Exception.Message);
    }

    [Fact]
    public void Export_FifoFrames_writes_every_format_and_emits_the_files()
    {
        var files = Run($"New-FifoVideo 'aurora' -Frames 6 {InProcessShell.Tiny} | Export-FifoFrames out.mp4, out.gif, out.webm").Cast<FileInfo>().ToList();
        Assert.Equal(new[] { "out.mp4", "out.gif", "out.webm" }, files.Select(f => f.Name));
        foreach (var file in files) Assert.Equal(6, Media.FrameCount(file.FullName));
        var pngs = Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames frames -Format png");
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "frames"), "*.png").Length);
        Assert.NotEmpty(pngs);
    }

    [Fact]
    public void Export_FifoFrames_PassThru_hands_each_written_frame_on_and_no_files()
    {
        var frames = Run($"New-FifoVideo 'aurora' -Frames 5 {InProcessShell.Tiny} | Export-FifoFrames first.gif -PassThru | Export-FifoFrames second.gif -PassThru");
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, frames.Cast<FifoFrame>().Select(f => f.Index));
        Assert.Equal(5, Media.FrameCount(Path.Combine(dir, "first.gif")));
        Assert.Equal(5, Media.FrameCount(Path.Combine(dir, "second.gif")));

        // (A command further on that stops early: in Pester, where Select-Object is.)
        var told = Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames told.gif -PassThru -Verbose 4>&1 | Where-Object {{ $_ -is [System.Management.Automation.VerboseRecord] }} | ForEach-Object Message");
        Assert.Contains(told, m => m.ToString() == $"Wrote {Path.Combine(dir, "told.gif")}");
        // And for scripts, on the information stream.
        var files = Run($"$null = New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames kept.gif, kept.mp4 -PassThru -InformationVariable written; $written | Where-Object Tags -Contains FifoWrittenFile | ForEach-Object MessageData");
        Assert.Equal(new[] { Path.Combine(dir, "kept.gif"), Path.Combine(dir, "kept.mp4") }, files.Select(f => f.ToString()));
    }

    [Fact]
    public void Export_FifoFrames_given_no_frames_says_it_wrote_nothing()
    {
        var warned = Run("@() | Export-FifoFrames none.gif -WarningVariable w 3>$null; $w | ForEach-Object Message");
        Assert.Equal("No frames came down the pipeline, so nothing was written to 'none.gif'.", Assert.Single(warned).ToString());
        Assert.False(File.Exists(Path.Combine(dir, "none.gif")));
    }

    [Fact]
    public void New_FifoVideo_WhatIf_makes_no_frame_and_says_what_would_stop_the_run()
    {
        // The run would write a snapshot after its last frame: under -WhatIf there is none, and no frame.
        Assert.Empty(Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} -SnapshotPath new.snapshot -WhatIf"));
        Assert.False(File.Exists(Path.Combine(dir, "new.snapshot")));
        File.WriteAllBytes(Path.Combine(dir, "held.snapshot"), FakeSnapshot);
        var warned = Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} -SnapshotPath held.snapshot -WhatIf -WarningVariable w 3>$null; $w | ForEach-Object Message");
        Assert.StartsWith("What if: the run would stop before its first frame: ", Assert.Single(warned).ToString());
        Assert.Contains("held.snapshot' holds an earlier snapshot", warned[0].ToString());
        Assert.Equal(FakeSnapshot, File.ReadAllBytes(Path.Combine(dir, "held.snapshot")));
        // -Force would replace it: nothing to warn of.
        Assert.Empty(Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} -SnapshotPath held.snapshot -Force -WhatIf -WarningVariable w 3>$null; $w"));
    }

    [Fact]
    public void Export_FifoFrames_refuses_to_overwrite_without_Force_and_honours_WhatIf()
    {
        File.WriteAllText(Path.Combine(dir, "taken.gif"), "keep me");
        var error = RunFailing($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames taken.gif");
        Assert.Equal("OutputExists", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("-Force", error.Exception.Message);
        // Resuming is not replacing: the user who resumes is told that -Force leaves the video as it is.
        Assert.EndsWith("or choose another path. A run resumed from a snapshot, given -Force, leaves it as it is and writes its frames to a new segment beside it.", error.Exception.Message);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(dir, "taken.gif")));

        Assert.Empty(Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames new.gif -WhatIf"));
        Assert.False(File.Exists(Path.Combine(dir, "new.gif")));
        // -WhatIf says what it would do even where a file is in the way, warns that the run would stop there, and touches nothing.
        var warned = Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames taken.gif, other.gif -WhatIf -WarningVariable w 3>$null; $w | ForEach-Object Message");
        var warning = Assert.Single(warned);
        Assert.Contains("taken.gif' already exists", warning.ToString());
        Assert.Contains("-Force", warning.ToString());
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(dir, "taken.gif")));
        Assert.Empty(Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames taken.gif -Force -WhatIf -WarningVariable w 3>$null; $w"));
        // -Option goes where it would in the real run: each key to the sink that has it (it was refused under -WhatIf),
        // and a key no sink has is refused under -WhatIf too.
        Assert.Empty(Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames a.mp4, a.gif -Option @{{ crf = 18; colors = 16 }} -WhatIf"));
        var misspelt = RunFailing($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames a.gif -Option @{{ colours = 16 }} -WhatIf");
        Assert.Contains("colors", misspelt.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "a.mp4")) || File.Exists(Path.Combine(dir, "a.gif")));

        var twice = RunFailing($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames same.mp4, ./same.mp4");
        Assert.Equal("DuplicateOutputPath", twice.FullyQualifiedErrorId.Split(',')[0]);
        Assert.False(File.Exists(Path.Combine(dir, "same.mp4")));

        Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames taken.gif -Force");
        Assert.Equal(2, Media.FrameCount(Path.Combine(dir, "taken.gif")));
    }

    [Fact]
    public void Stopping_the_pipeline_leaves_playable_files_with_the_frames_made_so_far()
    {
        using var shell = InProcessShell.New(dir);
        // The counter sees each frame just before the sink does: the files must hold all of them but possibly the last.
        shell.AddScript($"$global:passed = 0; New-FifoVideo 'smoke drifting left' -Frames 100000 {InProcessShell.Tiny} | ForEach-Object {{ $global:passed++; $_ }} | Export-FifoFrames stopped.gif, stopped.mp4");
        var running = shell.BeginInvoke();
        var gif = Path.Combine(dir, "stopped.gif");
        var clock = Stopwatch.StartNew();
        // Wait until a handful of frames went out (each 64x64 GIF frame adds well over 500 bytes).
        while (!(File.Exists(gif) && new FileInfo(gif).Length > 8_000) && clock.Elapsed < TimeSpan.FromMinutes(2) && !running.IsCompleted)
            Thread.Sleep(50);
        shell.Stop();
        Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);

        int gifFrames = Media.FrameCount(gif);
        int mp4Frames = Media.FrameCount(Path.Combine(dir, "stopped.mp4"));
        int passed = Convert.ToInt32(shell.Runspace.SessionStateProxy.GetVariable("passed"));
        Assert.InRange(gifFrames, 3, 99_999);
        Assert.InRange(gifFrames, passed - 1, passed);
        Assert.Equal(gifFrames, mp4Frames);
    }

    [Fact]
    public void Invoke_FifoRecipe_runs_a_recipe_into_its_sinks()
    {
        File.WriteAllText(Path.Combine(dir, "r.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompts:
              - { prompt: fire, frames: 2 }
              - { prompt: ocean, frames: 2 }
            sampler: { use: fifo, with: { partitions: 2 } }
            sinks:
              - path: out/r.gif
              - path: out/frames
                use: png
            """);
        var output = Run("Invoke-FifoRecipe r.yaml");
        Assert.Contains(output, o => o is FileInfo { Name: "r.gif" });
        Assert.Equal(4, Media.FrameCount(Path.Combine(dir, "out", "r.gif")));
        Assert.Equal(4, Directory.GetFiles(Path.Combine(dir, "out", "frames")).Length);

        var again = RunFailing("Invoke-FifoRecipe r.yaml");
        Assert.Equal("OutputExists", again.FullyQualifiedErrorId.Split(',')[0]);
        var warned = Run("Invoke-FifoRecipe r.yaml -WhatIf -WarningVariable w 3>$null; $w | ForEach-Object Message");
        Assert.Equal(2, warned.Count);
        Assert.All(warned, w => Assert.Contains("already exists", w.ToString()));
        // -PassThru hands the frames on, and only them: a file after them would be input Export-FifoFrames cannot bind.
        var passed = Run("Invoke-FifoRecipe r.yaml -Force -PassThru");
        Assert.Equal(4, passed.Count);
        Assert.All(passed, o => Assert.IsType<FifoFrame>(o));
    }

    [Fact]
    public void Invoke_FifoRecipe_overrides_settings_by_key_and_names_outputs_by_seed_and_run()
    {
        File.WriteAllText(Path.Combine(dir, "sweep.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 2
            sampler: { use: fifo, with: { partitions: 3 } }
            snapshot: { path: "runs/{hash}.snapshot", every: 1 }
            sinks:
              - path: "out/fire-{seed}.gif"
            """);
        var files = Run("1, 2 | ForEach-Object { Invoke-FifoRecipe sweep.yaml -Override @{ seed = $_; 'Sampler.With.partitions' = 2; 'snapshot.every' = 2 } }")
            .Cast<FileInfo>().Select(f => f.Name).ToList();
        Assert.Equal(new[] { "fire-1.gif", "fire-2.gif" }, files);
        // The run hash follows the overridden seed and partitions: two runs, two snapshots.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "runs"), "*.snapshot").Length);
        Assert.All(Directory.GetFiles(Path.Combine(dir, "runs")), f => Assert.Matches("^[0-9a-f]{16}\\.snapshot$", Path.GetFileName(f)));

        // Several tables in one command: one run each, the model loaded once, the frames those of separate commands.
        var separate = new[] { "fire-1.gif", "fire-2.gif" }.Select(f => File.ReadAllBytes(Path.Combine(dir, "out", f))).ToList();
        var swept = Run("Invoke-FifoRecipe sweep.yaml -Force -Override @{ seed = 1; 'Sampler.With.partitions' = 2; 'snapshot.every' = 2 }, @{ seed = 2; 'sampler.with.partitions' = 2; 'snapshot.every' = 2 } -Verbose 4>&1");
        Assert.Equal(new[] { "fire-1.gif", "fire-2.gif" }, swept.OfType<FileInfo>().Select(f => f.Name));
        Assert.Single(swept.OfType<VerboseRecord>(), v => v.Message.Contains("loaded for the previous run"));
        Assert.Equal(separate, new[] { "fire-1.gif", "fire-2.gif" }.Select(f => File.ReadAllBytes(Path.Combine(dir, "out", f))));

        // A prompt alone keeps the file's frame count.
        Assert.Equal(new[] { "fire-3.gif" }, Run("Invoke-FifoRecipe sweep.yaml -Override @{ prompt = 'ocean'; seed = 3 }").Cast<FileInfo>().Select(f => f.Name));
        Assert.Equal(2, Media.FrameCount(Path.Combine(dir, "out", "fire-3.gif")));
        // Several replace the schedule and share the file's frames, as New-FifoVideo -Recipe gives them without -Frames.
        Assert.Equal(new[] { "fire-4.gif" }, Run("$p = 'ice'; Invoke-FifoRecipe sweep.yaml -Override @{ prompt = 'ocean', $p; seed = 4 }").Cast<FileInfo>().Select(f => f.Name));
        Assert.Equal(2, Media.FrameCount(Path.Combine(dir, "out", "fire-4.gif")));
        // With frames beside them, the count goes with the prompts: one for all, or one each.
        Run("Invoke-FifoRecipe sweep.yaml -Override @{ prompt = 'ocean', 'ice'; frames = 3; seed = 5 }, @{ prompt = 'ocean', 'ice'; frames = 1, 2; seed = 6 }");
        Assert.Equal(6, Media.FrameCount(Path.Combine(dir, "out", "fire-5.gif")));
        Assert.Equal(3, Media.FrameCount(Path.Combine(dir, "out", "fire-6.gif")));
        // A schedule with its counts, as 'prompts' holds one, is taken under 'prompt' too.
        Run("Invoke-FifoRecipe sweep.yaml -Override @{ prompt = @(@{ prompt = 'ocean'; frames = 2 }, @{ prompt = 'ice'; frames = 1 }); seed = 9 }");
        Assert.Equal(3, Media.FrameCount(Path.Combine(dir, "out", "fire-9.gif")));
        // 'frames' over a file's prompt list: one count for all its prompts, or one each, as New-FifoVideo -Recipe -Frames.
        File.WriteAllText(Path.Combine(dir, "list.yaml"), File.ReadAllText(Path.Combine(dir, "sweep.yaml"))
            .Replace("prompt: fire\nframes: 2\n", "prompts:\n  - { prompt: fire, frames: 2 }\n  - { prompt: ice, frames: 2 }\n"));
        Run("Invoke-FifoRecipe list.yaml -Override @{ frames = 3; seed = 10 }, @{ frames = 1, 2; seed = 11 }");
        Assert.Equal((6, 3), (Media.FrameCount(Path.Combine(dir, "out", "fire-10.gif")), Media.FrameCount(Path.Combine(dir, "out", "fire-11.gif"))));
        Assert.Contains("give one frame count for all of the recipe's prompts or one each: it has 2, and 3 counts were given",
            RunFailing("Invoke-FifoRecipe list.yaml -Override @{ frames = 1, 2, 3; seed = 12 }").Exception.Message);

        // A sink path that does not name the run: the second run would replace the first's file, -Force or not.
        using (var shell = InProcessShell.New(dir))
        {
            var written = shell.AddScript("Invoke-FifoRecipe sweep.yaml -Force -Override @{ seed = 7; sinks = @(@{ path = 'same.gif' }) }, @{ seed = 8; sinks = @(@{ path = 'same.gif' }) }").Invoke();
            Assert.Equal(new[] { "same.gif" }, written.Select(f => f.BaseObject).OfType<FileInfo>().Select(f => f.Name));
            var clash = Assert.Single(shell.Streams.Error);
            Assert.Equal("DuplicateOutputPath", clash.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Contains("is written by run 1 of this command, so run 2 would replace it. Put {seed} or {hash} in the sink path", clash.Exception.Message);
        }
        Assert.Contains("seed=7", FifoPipes.Core.Media.ProvenanceReader.Read(Path.Combine(dir, "same.gif")));
        // A run refused before it writes (the file is in the way, no -Force) takes nothing from the next.
        using (var shell = InProcessShell.New(dir))
        {
            shell.AddScript("Invoke-FifoRecipe sweep.yaml -Override @{ seed = 7; sinks = @(@{ path = 'same.gif' }) }, @{ seed = 8; sinks = @(@{ path = 'same.gif' }) }").Invoke();
            Assert.Equal(new[] { "OutputExists", "OutputExists" }, shell.Streams.Error.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        }
        var whatIf = Run("Invoke-FifoRecipe sweep.yaml -WhatIf -Override @{ seed = 7; sinks = @(@{ path = 'same.gif' }) }, @{ seed = 8; sinks = @(@{ path = 'same.gif' }) } 3>&1");
        Assert.Contains(whatIf.OfType<WarningRecord>(), w => w.Message.Contains("is written by run 1 of this command, so run 2 would stop at it"));

        var typo = RunFailing("Invoke-FifoRecipe sweep.yaml -Override @{ 'sampler.with.partitons' = 2 }");
        Assert.Equal("InvalidParameter", typo.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("-Override sampler.with.partitons", typo.Exception.Message);
        Assert.Contains("partitions", typo.Exception.Message);
        var shape = RunFailing("Invoke-FifoRecipe sweep.yaml -Override @{ 'model.height.width' = 2 }");
        Assert.Equal("InvalidOverrideKey", shape.FullyQualifiedErrorId.Split(',')[0]);
        var item = RunFailing("Invoke-FifoRecipe sweep.yaml -Override @{ 'sinks[0].path' = 'z.gif' }");
        Assert.Equal("InvalidOverrideKey", item.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("-Override key 'sinks[0].path' names an item of the list 'sinks'; -Override replaces a list whole: @{ sinks = @(@{ ... }, ...) }", item.Exception.Message);
        var span = RunFailing("Invoke-FifoRecipe sweep.yaml -Override @{ 'prompts[0].frames' = 4 }");
        Assert.Contains("to change only the counts, @{ frames = 64 } (all) or @{ frames = 64, 32 } (each).", span.Exception.Message);
        Assert.DoesNotContain("sink", span.Exception.Message);
    }

    [Fact]
    public void A_swapped_sampler_keeps_the_options_both_samplers_have_and_names_the_others()
    {
        File.WriteAllText(Path.Combine(dir, "swap.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 4
            seed: 2
            sampler: { use: fifo, with: { partitions: 2, guidance: 3, eta: 0 } }
            sinks:
              - path: "{hash}.png"
            """);
        var output = Run("$f = Invoke-FifoRecipe swap.yaml -Override @{ 'sampler.use' = 'chunked' } -WarningVariable w 3>$null; $w | ForEach-Object Message; Get-FifoProvenance -LiteralPath $f.FullName");
        var warning = Assert.Single(output.OfType<string>());
        Assert.Contains("sampler 'chunked' takes the place of 'fifo', and the recipe's sampler.with partitions is not 'chunked''s, so it is left out", warning);
        // Its steps would be the model's partitions', not fifo's 2·4: the warning says how to compare at the same steps.
        Assert.EndsWith("so give 'sampler.with.steps' = n·f to compare at the same steps.", warning);
        var record = Assert.Single(output.OfType<FifoPipes.PowerShell.FifoProvenance>());
        Assert.Equal(("chunked", "3", "0"), (record.Settings["sampler"], record.Settings["sampler.guidance"], record.Settings["sampler.eta"]));
    }

    [Fact]
    public void A_bad_recipe_is_one_error_listing_every_problem_with_locations()
    {
        File.WriteAllText(Path.Combine(dir, "bad.yaml"), "apiVersion: fifopipes/v1\nprompt: a\nframes: 3\nsampler: {use: fifo, with: {partitons: 4}}\n");
        var diagnostics = Run("Test-FifoRecipe bad.yaml").Cast<FifoRecipeDiagnostic>().ToList();
        var d = Assert.Single(diagnostics);
        Assert.Equal((4, "sampler.with.partitons"), (d.Line, d.Path));
        Assert.Contains("partitions", d.ValidChoices);
        Assert.Equal(new object[] { false }, Run("Test-FifoRecipe bad.yaml -Quiet"));
        Assert.Equal(new object[] { false, false }, Run("Test-FifoRecipe bad.yaml, ./bad.yaml -Quiet"));

        // Several problems come in the file's order, however the reader found them; each message ends before its valid list.
        File.WriteAllText(Path.Combine(dir, "worse.yaml"), "apiVersion: fifopipes/v1\nframes: 3\nsampler: {use: fifo, with: {partitons: 4}}\nseeed: 2\n");
        var ordered = Run("Test-FifoRecipe worse.yaml").Cast<FifoRecipeDiagnostic>().ToList();
        Assert.True(ordered.Count >= 3, string.Join("; ", ordered.Select(o => o.Text)));
        Assert.Equal(ordered.Select(o => (o.Line, o.Column)).Order(), ordered.Select(o => (o.Line, o.Column)));
        Assert.All(ordered.Where(o => o.ValidChoices.Length > 0), o => Assert.Matches(@"[.?!] Valid: ", o.Text));

        var error = RunFailing("Invoke-FifoRecipe bad.yaml");
        Assert.Equal("InvalidRecipe", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("bad.yaml:4:29", error.Exception.Message);

        // A file that is a list, not a mapping, is located too and names the keys a recipe has.
        File.WriteAllText(Path.Combine(dir, "list.yaml"), "- prompt: a\n- frames: 3\n");
        var notAMap = Assert.Single(Run("Test-FifoRecipe list.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal((Path.Combine(dir, "list.yaml"), 1), (notAMap.File, notAMap.Line));
        Assert.Contains("apiVersion", notAMap.Problem);
        Assert.Equal(1, notAMap.Text.Split("apiVersion").Length - 1);
    }

    [Fact]
    public void A_parameter_for_an_option_the_chosen_sampler_lacks_names_the_sampler_not_an_unknown_option()
    {
        var message = RunFailing("New-FifoVideo x -Frames 2 -Sampler gen-l-video -Partitions 2").Exception.Message;
        Assert.Contains("-Partitions: the sampler 'gen-l-video' takes no option 'partitions' (its options: ", message);
        Assert.Contains("leave -Partitions out, or choose a sampler that takes it", message);
        // A key of the user's own (-SamplerOption) keeps its spelling hint.
        Assert.Contains("Did you mean 'stride'", RunFailing("New-FifoVideo x -Frames 2 -Sampler gen-l-video -SamplerOption @{ strid = 2 }").Exception.Message);
    }

    [Fact]
    public void Frame_counts_that_match_neither_one_nor_each_prompt_are_counted_in_words()
    {
        Assert.EndsWith("Give one -Frames value for all prompts or one per prompt: 3 prompts, 2 frame counts.",
            RunFailing("New-FifoVideo a, b, c -Frames 1, 2").Exception.Message);
        Assert.EndsWith("Give one -Frames value for all prompts or one per prompt: 1 prompt, 2 frame counts.",
            RunFailing("New-FifoVideo a -Frames 1, 2").Exception.Message);
    }

    [Fact]
    public void A_model_without_weights_names_ModelPath_and_the_preset_to_save_and_no_recipe_where_none_was_given()
    {
        var error = RunFailing("New-FifoVideo 'x' -Model zeroscope");
        Assert.StartsWith("The run's settings are not valid:", error.Exception.Message);
        // Named as New-FifoVideo takes it: its user never wrote model.with.path.
        Assert.Contains("-ModelPath: path is empty: give the downloaded diffusers folder (see docs/models/zeroscope.md)", error.Exception.Message);
        Assert.DoesNotContain("model.with.path", error.Exception.Message);
        Assert.Contains("Save-FifoModel zeroscope-576w, then use the model zeroscope-576w (a recipe's model: zeroscope-576w, New-FifoVideo -Model zeroscope-576w)", error.Exception.Message);

        // A folder given as the recipe names the recipes in it.
        Directory.CreateDirectory(Path.Combine(dir, "recipes"));
        WriteTinyRecipe(Path.Combine("recipes", "b.yaml"), "prompt: fire\nframes: 2");
        var folder = RunFailing("Invoke-FifoRecipe recipes");
        Assert.Contains($"'{Path.Combine(dir, "recipes")}' is a folder, not a recipe file; give one of its recipes (b.yaml), or all of them as '{Path.Combine(dir, "recipes", "*.yaml")}'",
            folder.Exception.Message);
        // Words that suit the command that met it: testing the folder's recipes must not be told to run them.
        var tested = Assert.Single(Run("Test-FifoRecipe recipes").Cast<FifoRecipeDiagnostic>());
        Assert.DoesNotContain("Invoke-FifoRecipe", tested.Message);
        Assert.Equal(new object[] { true }, Run($"Test-FifoRecipe '{Path.Combine(dir, "recipes", "*.yaml")}' -Quiet"));
    }

    [Fact]
    public void An_override_of_null_takes_the_key_out_of_the_recipe()
    {
        const string Common = "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { height: 4, width: 6, channels: 2, frames: 4 } }\nprompt: fire\nframes: 2\nseed: 3\n";
        File.WriteAllText(Path.Combine(dir, "set.yaml"), Common + "sampler: { use: fifo, with: { partitions: 3 } }\nsnapshot: { path: run.snapshot, every: 1 }\n");
        File.WriteAllText(Path.Combine(dir, "left-out.yaml"), Common + "sampler: fifo\n");
        byte[][] Frames(string command) => Run(command).OfType<FifoFrame>().Select(f => f.Pixels).ToArray();
        var overridden = Frames("Invoke-FifoRecipe set.yaml -PassThru -Override @{ 'sampler.with.partitions' = $null; snapshot = $null; sinks = @(@{ path = 'o.gif' }) }");
        Assert.Equal(Frames("New-FifoVideo -Recipe left-out.yaml"), overridden);
        Assert.NotEqual(Frames("New-FifoVideo -Recipe set.yaml -SnapshotPath other.snapshot"), overridden);
        Assert.False(File.Exists(Path.Combine(dir, "run.snapshot")));
    }

    [Fact]
    public void A_broken_recipe_file_in_a_sweep_is_reported_once_not_once_per_table()
    {
        File.WriteAllText(Path.Combine(dir, "broken.yaml"), "apiVersion: fifopipes/v1\nprompt: [fire\n");
        using var shell = InProcessShell.New(dir);
        shell.AddScript("Invoke-FifoRecipe broken.yaml -Override @{ seed = 1 }, @{ seed = 2 }, @{ seed = 3 }").Invoke();
        Assert.Equal("InvalidRecipe", Assert.Single(shell.Streams.Error).FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(shell.Streams.Warning, w => w.Message.Contains("came again with -Override tables 2, 3"));
    }

    [Fact]
    public void An_engine_warning_under_WarningAction_Stop_stops_the_command_as_PowerShell_does()
    {
        // warmupIterations 0 warns that the first frames start short of steps.
        var error = RunFailing($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny} -Sampler fifo -SamplerOption @{{ start = 'noise'; warmupIterations = 0 }} -WarningAction Stop");
        Assert.StartsWith("ActionPreferenceStop,", error.FullyQualifiedErrorId);
        Assert.Contains("warmupIterations", error.Exception.Message);
    }

    [Theory]
    [InlineData("fifo")]
    [InlineData("chunked")]
    [InlineData("gen-l-video")]
    [InlineData("freenoise")]
    public void Every_sampler_runs_end_to_end_through_the_cmdlets(string sampler)
    {
        var frames = Run($"New-FifoVideo 'drifting smoke' -Frames 6 -Sampler {sampler} -ModelOption @{{ height = 8; width = 8; channels = 2; frames = 4 }} -Seed 2")
            .Cast<FifoFrame>().ToList();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), frames.Select(f => f.Index));
        // -Sampler reached the run (not the default FIFO), and the frames are a moving picture, not one repeated image.
        Assert.Contains($"\nsampler={sampler}\n", frames[0].Provenance);
        Assert.True(frames.Select(f => Convert.ToHexString(f.Pixels)).Distinct().Count() > 1, "every frame has the same pixels");
        Assert.True(frames[0].Pixels.Distinct().Count() > 8, "the first frame is nearly flat");
    }

    [Theory]
    [InlineData("chunked", "{ steps: 6 }")]
    [InlineData("gen-l-video", "{ stride: 2, weighting: triangle }")]
    [InlineData("freenoise", "{ stride: 1, fusion: auto }")]
    [InlineData("freenoise", "{ stride: 2, step: ddpm }")]
    public void Every_baseline_runs_from_a_recipe_with_its_options_into_a_sink(string sampler, string with)
    {
        File.WriteAllText(Path.Combine(dir, $"{sampler}.yaml"), $$"""
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompts:
              - { prompt: drifting smoke, frames: 5 }
              - { prompt: red fire rising, frames: 4 }
            sampler: { use: {{sampler}}, with: {{with}} }
            sinks:
              - path: {{sampler}}.gif
            """);
        var output = Run($"Invoke-FifoRecipe {sampler}.yaml -PassThru");
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), output.OfType<FifoFrame>().Select(f => f.Index));
        Assert.Equal(new[] { "drifting smoke", "red fire rising" }, output.OfType<FifoFrame>().Select(f => f.Prompt).Distinct());
        Assert.Equal(9, Media.FrameCount(Path.Combine(dir, $"{sampler}.gif")));
    }

    [Fact]
    public void Width_and_height_are_pixels_whatever_the_model_counts()
    {
        const string small = "-ModelOption @{ channels = 2; frames = 4 } -Partitions 2 -Seed 3";
        var frame = Run($"New-FifoVideo 'dunes' -Frames 1 -Width 96 -Height 32 {small}").Cast<FifoFrame>().Single();
        Assert.Equal((96, 32), (frame.Width, frame.Height));

        var error = RunFailing($"New-FifoVideo 'dunes' -Frames 1 -Width 99 -Height 32 {small}");
        Assert.Equal("InvalidParameter", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("-Width", error.Exception.Message);
        Assert.Contains("in steps of 8, as its latents have one cell per 8 pixels; the nearest is 96", error.Exception.Message);

        // -Width replaces the recipe file's model.with.width; the file's other settings stay.
        File.WriteAllText(Path.Combine(dir, "narrow.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { width: 4, height: 4, channels: 2, frames: 4 } }\nprompt: a\nframes: 1\nsampler: { use: fifo, with: { partitions: 2 } }\n");
        var wide = Run("New-FifoVideo -Recipe narrow.yaml -Width 64").Cast<FifoFrame>().Single();
        Assert.Equal((64, 32), (wide.Width, wide.Height));
        // -Frames without -Prompt gives the recipe's own prompt another length; a mistake in the file's prompts stays
        // the file's, at its line, not taken for one of -Frames.
        Assert.Equal(new long[] { 0, 1 }, Run("New-FifoVideo -Recipe narrow.yaml -Frames 2").Cast<FifoFrame>().Select(f => f.Index));
        File.WriteAllText(Path.Combine(dir, "typo.yaml"), File.ReadAllText(Path.Combine(dir, "narrow.yaml")).Replace("prompt: a\nframes: 1\n", "prompts:\n  - { prompt: a, frams: 1 }\n"));
        var typo = RunFailing("New-FifoVideo -Recipe typo.yaml -Frames 2").Exception.Message;
        Assert.Contains("typo.yaml:4:", typo);
        Assert.Contains("frams", typo);
        Assert.DoesNotContain("-Frames", typo);
    }

    [Fact]
    public void Restyling_a_video_follows_it_frame_by_frame_and_its_record_remakes_it()
    {
        const string small = "-Width 64 -Height 32 -ModelOption @{ channels = 2; frames = 4 } -Partitions 2";
        var source = Run($"New-FifoVideo 'red fire rising' -Frames 12 -Seed 1 -Fps 12 {small} | Export-FifoFrames src.mp4 | Out-Null; New-FifoVideo 'red fire rising' -Frames 12 -Seed 1 {small}")
            .Cast<FifoFrame>().ToList();
        List<FifoFrame> Restyle(string extra) => Run($"New-FifoVideo 'calm blue ocean' -Seed 2 {small} {extra}").Cast<FifoFrame>().ToList();
        double Distance(IReadOnlyList<FifoFrame> frames) =>
            frames.Zip(source, (a, b) => a.Pixels.Zip(b.Pixels, (x, y) => Math.Abs(x - y)).Average()).Average();

        // One prompt and no -Frames: the prompt covers the whole source.
        var gentle = Restyle("-Source src.mp4 -Strength 0.2");
        Assert.Equal(12, gentle.Count);
        // It plays at the source's rate (12 fps, not the analytic model's 8).
        Assert.Equal(12, gentle[0].Fps, 3);
        // Several prompts and no -Frames share the source's 12 frames in order: 3, 3, 2, 2, 2.
        var shared = Run($"New-FifoVideo a, b, c, d, e -Seed 2 {small} -Source src.mp4").Cast<FifoFrame>().Select(f => f.Prompt).ToList();
        Assert.Equal(new[] { "a", "a", "a", "b", "b", "b", "c", "c", "d", "d", "e", "e" }, shared);
        var strong = Restyle("-Source src.mp4 -Strength 0.95");
        var unrelated = Restyle("-Frames 12");
        double near = Distance(gentle), far = Distance(strong), none = Distance(unrelated);
        Assert.True(near < far && near < none, $"mean pixel distance to the source: {near:F1} at strength 0.2, {far:F1} at 0.95, {none:F1} without it");
        // The analytic model's look is its prompt's palette: a restyle takes the new prompt's colours, not the source's.
        static double[] MeanColour(IReadOnlyList<FifoFrame> frames) =>
            Enumerable.Range(0, 3).Select(c => frames.Average(f => f.Pixels.Where((_, i) => i % 3 == c).Average(b => (double)b))).ToArray();
        double ColourDistance(double[] a, double[] b) => Math.Sqrt(a.Zip(b, (x, y) => (x - y) * (x - y)).Sum());
        var look = MeanColour(gentle);
        Assert.True(ColourDistance(look, MeanColour(unrelated)) < ColourDistance(look, MeanColour(source)),
            $"mean colour {string.Join("/", look.Select(v => v.ToString("F0")))}: prompt's {string.Join("/", MeanColour(unrelated).Select(v => v.ToString("F0")))}, source's {string.Join("/", MeanColour(source).Select(v => v.ToString("F0")))}");

        // The frames' record names the source and strength, and its recipe makes the same frames again.
        var recipe = Run("$f = New-FifoVideo 'calm blue ocean' -Seed 2 -Width 64 -Height 32 -ModelOption @{ channels = 2; frames = 4 } -Partitions 2 -Source src.mp4 -Strength 0.2; " +
                         "(Get-FifoProvenance ($f | Export-FifoFrames again.gif)).Recipe").Cast<string>().Single();
        Assert.Contains("source: { path: ", recipe);
        Assert.Contains("strength: 0.2 }", recipe);
        File.WriteAllText(Path.Combine(dir, "again.yaml"), recipe);
        var remade = Run("New-FifoVideo -Recipe again.yaml").Cast<FifoFrame>().ToList();
        Assert.Equal(gentle.Select(f => f.Pixels), remade.Select(f => f.Pixels));

        // -Strength over a recipe's short form, source: src.mp4.
        File.WriteAllText(Path.Combine(dir, "restyle.yaml"), "apiVersion: fifopipes/v1\nmodel: { use: analytic, with: { channels: 2, frames: 4 } }\nwidth: 64\nheight: 32\n" +
            "prompt: calm blue ocean\nframes: 12\nseed: 2\nsampler: { use: fifo, with: { partitions: 2 } }\nsource: src.mp4\n");
        Assert.Equal(strong.Select(f => f.Pixels), Run("New-FifoVideo -Recipe restyle.yaml -Strength 0.95").Cast<FifoFrame>().Select(f => f.Pixels));
        // The same through -Override, its key in any case.
        Assert.Equal(strong.Select(f => f.Pixels), Run("Invoke-FifoRecipe restyle.yaml -PassThru -Override @{ 'Source.Strength' = 0.95; sinks = @(@{ path = 'restyled.gif' }) }")
            .OfType<FifoFrame>().Select(f => f.Pixels));

        var error = RunFailing($"New-FifoVideo 'calm blue ocean' -Frames 3 -Strength 0.5 {small}");
        Assert.Equal("StrengthWithoutSource", error.FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void A_source_can_be_resampled_and_started_later_and_its_record_keeps_both()
    {
        const string small = "-Width 64 -Height 32 -ModelOption @{ channels = 2; frames = 4 } -Partitions 2";
        Run($"New-FifoVideo 'red fire rising' -Frames 12 -Seed 1 -Fps 12 {small} | Export-FifoFrames src.mp4 | Out-Null");
        List<FifoFrame> Restyle(string extra) => Run($"New-FifoVideo 'calm blue ocean' -Seed 2 {small} -Source src.mp4 -Strength 0.3 {extra}").Cast<FifoFrame>().ToList();

        // 12 frames at 12 fps: at 6 fps from 0.5 s on, 3 frames remain, and the output plays at 6 fps.
        var resampled = Restyle("-SourceFps 6 -SourceStart 0.5");
        Assert.Equal(3, resampled.Count);
        Assert.Equal(6, resampled[0].Fps, 3);
        var whole = Restyle("");
        Assert.Equal(12, whole.Count);
        Assert.NotEqual(whole.Take(3).Select(f => f.Pixels), resampled.Select(f => f.Pixels));

        var recipe = Run("$f = New-FifoVideo 'calm blue ocean' -Seed 2 -Width 64 -Height 32 -ModelOption @{ channels = 2; frames = 4 } -Partitions 2 " +
                         "-Source src.mp4 -Strength 0.3 -SourceFps 6 -SourceStart 0.5; (Get-FifoProvenance ($f | Export-FifoFrames again.gif)).Recipe").Cast<string>().Single();
        Assert.Contains("strength: 0.3, fps: 6, start: 0.5 }", recipe);
        File.WriteAllText(Path.Combine(dir, "again.yaml"), recipe);
        Assert.Equal(resampled.Select(f => f.Pixels), Run("New-FifoVideo -Recipe again.yaml").Cast<FifoFrame>().Select(f => f.Pixels));

        // Prompts without -Frames share the frames selected, whether the selection comes from parameters or the recipe.
        Assert.Equal(new[] { "a", "a", "b" }, Run($"New-FifoVideo a, b -Seed 2 {small} -Source src.mp4 -SourceFps 6 -SourceStart 0.5").Cast<FifoFrame>().Select(f => f.Prompt));
        File.WriteAllText(Path.Combine(dir, "six.yaml"), "apiVersion: fifopipes/v1\nprompt: unused\nframes: 1\nsource: { path: src.mp4, fps: 6 }\n");
        Assert.Equal(new[] { "x", "x", "x", "y", "y", "y" }, Run($"New-FifoVideo x, y -Recipe six.yaml -Seed 2 {small}").Cast<FifoFrame>().Select(f => f.Prompt));
        // One prompt keeps the file's frame count, unless -Source names a video of its own (the file's rate still applies).
        Assert.Single(Run($"New-FifoVideo x -Recipe six.yaml -Seed 2 {small}"));
        Assert.Equal(6, Run($"New-FifoVideo x -Recipe six.yaml -Source src.mp4 -Seed 2 {small}").Count);

        // A looping source restyles as many frames as asked; its record says so and remakes them.
        var looped = Run($"$f = New-FifoVideo 'calm blue ocean' -Frames 30 -Seed 2 {small} -Source src.mp4 -SourceLoop; $f; (Get-FifoProvenance ($f | Export-FifoFrames looped.gif)).Recipe").ToList();
        Assert.Equal(30, looped.OfType<FifoFrame>().Count());
        var loopRecipe = looped.OfType<string>().Single();
        Assert.Contains("loop: true }", loopRecipe);
        File.WriteAllText(Path.Combine(dir, "looped.yaml"), loopRecipe);
        Assert.Equal(looped.OfType<FifoFrame>().Select(f => f.Pixels), Run("New-FifoVideo -Recipe looped.yaml").Cast<FifoFrame>().Select(f => f.Pixels));
        // -SourceLoop:$false turns the recipe's loop off: 30 frames are then more than the source has.
        var unlooped = RunFailing("New-FifoVideo -Recipe looped.yaml -SourceLoop:$false");
        Assert.Contains("the source video has 12 frames, and the prompts ask for 30", unlooped.Exception.Message);
        Assert.Equal("SourceLoopWithoutSource", RunFailing($"New-FifoVideo 'calm blue ocean' -Frames 3 -SourceLoop {small}").FullyQualifiedErrorId.Split(',')[0]);

        var error = RunFailing($"New-FifoVideo 'calm blue ocean' -Frames 3 -SourceFps 6 {small}");
        Assert.Equal("SourceFpsWithoutSource", error.FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void Fps_sets_the_frame_times_and_Export_can_override_it_for_the_video()
    {
        var frames = Run($$"""
            $frames = New-FifoVideo 'slow clouds' -Frames 6 -Fps 12 {{InProcessShell.Tiny}}
            $null = $frames | Export-FifoFrames at12.mp4
            $null = $frames | Export-FifoFrames at3.mp4 -Fps 3
            $frames
            """).Cast<FifoFrame>().ToList();
        Assert.Equal(TimeSpan.FromSeconds(5 / 12.0), frames[5].Timestamp);
        Assert.Equal(0.5, FifoPipes.Tests.Sinks.Ffprobe.Probe(Path.Combine(dir, "at12.mp4")).Duration, 2);
        Assert.Equal(2.0, FifoPipes.Tests.Sinks.Ffprobe.Probe(Path.Combine(dir, "at3.mp4")).Duration, 2);
    }

    [Fact]
    public void Option_keys_go_to_the_sinks_that_have_them_and_a_key_none_has_is_refused()
    {
        var files = Run($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames both.mp4, both.gif -Option @{{ crf = 30; colors = 16 }}").Cast<FileInfo>();
        Assert.Equal(new[] { "both.mp4", "both.gif" }, files.Select(f => f.Name));

        var error = RunFailing($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames typo.mp4, typo.gif -Option @{{ crff = 30 }}");
        Assert.Equal("InvalidParameter", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("crff: none of the mp4, gif sinks takes it. Did you mean 'crf' (mp4)?", error.Exception.Message);

        var wrongType = RunFailing($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames typed.mp4 -Option @{{ crf = 'high' }}");
        Assert.Contains("crf: expected an integer, got 'high'", wrongType.Exception.Message);
    }

    [Fact]
    public void An_output_in_the_way_is_refused_before_the_first_frame_is_made()
    {
        Run($"New-FifoVideo 'aurora' -Frames 1 {InProcessShell.Tiny} | Export-FifoFrames clip.png, out/frames");
        var (exported, framesMade, _) = Refused($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | ForEach-Object {{ $global:made++; $_ }} | Export-FifoFrames clip.png");
        Assert.Equal("OutputExists", exported.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("clip_000000.png", exported.Exception.Message);
        Assert.Equal(0, framesMade);
        // A file of the frame's name that FifoPipes did not write is the user's: refused by name, -Force or not, and kept.
        File.WriteAllText(Path.Combine(dir, "mine_000000.png"), "the user's own picture");
        var (theirs, _, _) = Refused($"New-FifoVideo 'aurora' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames mine.png -Force");
        Assert.Equal("SinkFileNotAFrame", theirs.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal("the user's own picture", File.ReadAllText(Path.Combine(dir, "mine_000000.png")));
        Assert.Equal(new[] { "mine_000000.png" }, Directory.GetFiles(dir, "mine_*").Select(Path.GetFileName));

        File.WriteAllText(Path.Combine(dir, "r.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 2
            sinks: [ { path: out/frames, use: png } ]
            """);
        var (invoked, _, progress) = Refused("Invoke-FifoRecipe r.yaml");
        Assert.Equal("OutputExists", invoked.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(Path.Combine(dir, "r.yaml"), invoked.TargetObject);   // which recipe, when several are piped in
        // The run never started: it reports progress from the model's loading on.
        Assert.Equal(0, progress);
    }

    [Fact]
    public void A_sampler_is_refused_an_input_it_does_not_take_before_the_run_starts()
    {
        File.WriteAllText(Path.Combine(dir, "steer.txt"), "red fire rising");
        var (error, _, progress) = Refused($"New-FifoVideo 'aurora' -Frames 6 -Sampler chunked -LivePrompt steer.txt {InProcessShell.Tiny}");
        Assert.Contains("the chunked sampler does not take prompts given while it runs; drop 'livePrompt' (-LivePrompt)", error.Exception.Message);
        Assert.Equal(0, progress);
        var chunked = Assert.Single(Run("Get-FifoPlugin -Kind Sampler -Name chunked").Cast<FifoPipes.PowerShell.Commands.FifoPluginInfo>());
        Assert.Equal(new[] { "init", "source", "livePrompt", "snapshot" }, chunked.Refuses);
    }

    [Fact]
    public void A_run_whose_snapshot_path_holds_an_earlier_snapshot_is_refused_unless_it_resumes_from_it_or_is_forced()
    {
        Run($"New-FifoVideo 'lava' -Frames 6 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 2 | Out-Null");
        var earlier = File.ReadAllBytes(Path.Combine(dir, "run.snapshot"));
        // Another run at the path: refused before its model loads, the earlier run's resume point as it was.
        var refused = RunFailing($"New-FifoVideo 'fire' -Frames 6 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 4");
        Assert.Equal("SnapshotExists,FifoPipes.PowerShell.Commands.NewFifoVideoCommand", refused.FullyQualifiedErrorId);
        Assert.Contains("holds an earlier snapshot, which this run's first snapshot would replace, and it may be an interrupted run's resume point", refused.Exception.Message);
        Assert.Contains("resume from it (-Resume", refused.Exception.Message);
        Assert.Contains("use -Force (overwrite: true in the recipe)", refused.Exception.Message);
        Assert.Equal(earlier, File.ReadAllBytes(Path.Combine(dir, "run.snapshot")));
        // Test-FifoRecipe -Sinks finds it where the recipe names the path.
        File.WriteAllText(Path.Combine(dir, "snap.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 6
            snapshot:
              path: run.snapshot
            sinks:
              - path: snap.gif
            """);
        var problem = Assert.Single(Run("Test-FifoRecipe snap.yaml -Sinks").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("snapshot.path", 6), (problem.Path, problem.Line));
        Assert.Contains("holds an earlier snapshot", problem.Message);
        Assert.Empty(Run("Test-FifoRecipe snap.yaml -Model"));

        // -Force replaces it, and says so; a resume from the very file is its own run going on, and needs none.
        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'fire' -Frames 6 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 4 -Force -Verbose 4>&1; " +
                        $"New-FifoVideo 'fire' -Frames 8 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 4 -Resume run.snapshot");
        var output = shell.Invoke();
        Assert.False(shell.HadErrors);
        // The resume makes the run longer from its snapshot at its end, frame 6: 6 + 2 frames.
        Assert.Equal(8, output.Count(o => o.BaseObject is FifoPipes.PowerShell.FifoFrame));
        Assert.Single(output, o => o.BaseObject is VerboseRecord v && v.Message.Contains("replaces the earlier one at") && v.Message.Contains("run.snapshot"));
        Assert.NotEqual(earlier, File.ReadAllBytes(Path.Combine(dir, "run.snapshot")));

        // A path that names the run holds this same run's snapshot: another path would not help, resuming would.
        Run($"New-FifoVideo 'ash' -Frames 4 {InProcessShell.Tiny} -SnapshotPath 'run-{{hash}}.snapshot' -SnapshotEvery 2 | Out-Null");
        var same = RunFailing($"New-FifoVideo 'ash' -Frames 4 {InProcessShell.Tiny} -SnapshotPath 'run-{{hash}}.snapshot' -SnapshotEvery 2");
        Assert.Contains("holds an earlier snapshot of this same run", same.Exception.Message);
        Assert.Contains("To go on from it, resume from it (-Resume", same.Exception.Message);
        Assert.DoesNotContain("{hash} in it", same.Exception.Message);
        // Made longer, the run has another hash: the resume names the file that is there.
        var written = Path.GetFileName(Assert.Single(Directory.GetFiles(dir, "run-*.snapshot")));
        var longer = RunFailing($"New-FifoVideo 'ash' -Frames 8 {InProcessShell.Tiny} -Resume 'run-{{hash}}.snapshot'");
        Assert.Contains("does not exist; {hash} is this run's hash, which its frame count, prompts and settings decide", longer.Exception.Message);
        Assert.Contains($"give the file's own name ('{written}')", longer.Exception.Message);
    }

    /// <summary>What a snapshot begins with (a safetensors header's length, then the header), as far as a check before a run reads it.</summary>
    static readonly byte[] FakeSnapshot = [.. BitConverter.GetBytes(32L), .. """{"__metadata__":{"runHash":"x"}}"""u8];

    [Fact]
    public void A_snapshot_path_that_holds_a_video_or_is_a_sinks_output_is_refused_and_the_video_kept()
    {
        // (C) A video at the snapshot path is no earlier snapshot: refused, -Force or not, naming what it is.
        Run($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny} | Export-FifoFrames keep.gif");
        var video = File.ReadAllBytes(Path.Combine(dir, "keep.gif"));
        foreach (var force in new[] { "", "-Force" })
        {
            var refused = RunFailing($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny} -SnapshotPath keep.gif {force}");
            Assert.Equal("SnapshotPathHoldsOtherFile,FifoPipes.PowerShell.Commands.NewFifoVideoCommand", refused.FullyQualifiedErrorId);
            Assert.Contains("keep.gif' is a GIF, not a snapshot", refused.Exception.Message);
            Assert.Contains("keep.snapshot", refused.Exception.Message);
        }
        Assert.Equal(video, File.ReadAllBytes(Path.Combine(dir, "keep.gif")));

        // (A) The snapshot path given to New-FifoVideo is the file Export-FifoFrames writes: refused before a frame is written.
        var same = RunFailing($"New-FifoVideo 'lava' -Frames 3 {InProcessShell.Tiny} -SnapshotPath same.gif | Export-FifoFrames same.gif");
        Assert.Contains("same.gif' is where New-FifoVideo writes the run's snapshots (-SnapshotPath)", same.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "same.gif")));

        // (B) In a recipe, the snapshot path is a sink's: Test-FifoRecipe names it at the snapshot's line.
        File.WriteAllText(Path.Combine(dir, "rs.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 6
            snapshot:
              path: rs.gif
            sinks:
              - path: rs.gif
            """);
        var problem = Assert.Single(Run("Test-FifoRecipe rs.yaml").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("snapshot.path", 6), (problem.Path, problem.Line));
        Assert.Contains("rs.gif' is where the sink 'gif' writes (sinks[0].path)", problem.Message);
        Assert.Contains("rs.snapshot", problem.Message);
    }

    [Fact]
    public void The_snapshot_commit_does_not_rename_over_a_file_that_is_no_snapshot()
    {
        var video = Path.Combine(dir, "late.mp4");
        File.WriteAllBytes(video, [0, 0, 0, 24, .. "ftypisom"u8]);
        var stage = new FifoPipes.Abstractions.SnapshotPolicy(video, 10).Stage(10);
        File.WriteAllBytes(stage.StagedPath, FakeSnapshot);
        var ex = Assert.Throws<IOException>(() => stage.TryCommit());
        Assert.Contains("is a file that is not a snapshot", ex.Message);
        Assert.Equal([0, 0, 0, 24, .. "ftypisom"u8], File.ReadAllBytes(video));
        Assert.False(File.Exists(stage.StagedPath));
        // Over a snapshot, or where none is, it commits.
        File.WriteAllBytes(video, FakeSnapshot);
        var next = new FifoPipes.Abstractions.SnapshotPolicy(video, 10).Stage(20);
        File.WriteAllBytes(next.StagedPath, [.. FakeSnapshot, 1]);
        Assert.True(next.TryCommit());
        Assert.Equal([.. FakeSnapshot, 1], File.ReadAllBytes(video));
    }

    [Fact]
    public void A_run_made_longer_goes_on_in_the_outputs_its_hash_named()
    {
        Run($"New-FifoVideo 'lava' -Frames 6 {InProcessShell.Tiny} -SnapshotPath run.snapshot | Export-FifoFrames 'fr-{{hash}}'");
        var folder = Assert.Single(Directory.GetDirectories(dir, "fr-*"));
        File.Copy(Path.Combine(dir, "run.snapshot"), Path.Combine(dir, "first.snapshot"));
        Run($"New-FifoVideo 'lava' -Frames 9 {InProcessShell.Tiny} -Resume run.snapshot | Export-FifoFrames 'fr-{{hash}}' -Force");
        Assert.Equal(folder, Assert.Single(Directory.GetDirectories(dir, "fr-*")));
        Assert.Equal(9, Directory.GetFiles(folder, "frame_*.png").Length);

        // The recipe form too (from the first run's snapshot: the resumed run's snapshots record the longer run, whose outputs its hash names).
        File.WriteAllText(Path.Combine(dir, "longer.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            sampler: { use: fifo, with: { partitions: 2 } }
            prompt: lava
            frames: 12
            seed: 3
            resume: first.snapshot
            sinks:
              - path: fr-{hash}
            """);
        Run("Invoke-FifoRecipe longer.yaml -Force");
        Assert.Equal(folder, Assert.Single(Directory.GetDirectories(dir, "fr-*")));
        Assert.Equal(12, Directory.GetFiles(folder, "frame_*.png").Length);
    }

    [Fact]
    public void A_sweep_whose_runs_share_a_snapshot_path_is_refused_at_the_second_run()
    {
        File.WriteAllText(Path.Combine(dir, "shared.yaml"), """
            apiVersion: fifopipes/v1
            model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
            prompt: fire
            frames: 2
            snapshot: { path: sweep.snapshot, every: 1 }
            sinks:
              - path: "out-{seed}.gif"
            """);
        using var shell = InProcessShell.New(dir);
        shell.AddScript("Invoke-FifoRecipe shared.yaml -Force -Override @{ seed = 1 }, @{ seed = 2 }");
        var written = shell.Invoke().Select(o => o.BaseObject).OfType<FileInfo>().Select(f => f.Name);
        Assert.Equal(new[] { "out-1.gif" }, written);
        var error = Assert.Single(shell.Streams.Error);
        Assert.Contains("sweep.snapshot' is written by run 1 of this command, so run 2 would replace it", error.Exception.Message);
        Assert.Contains("Put {hash} in the snapshot path", error.Exception.Message);
    }

    [Fact]
    public void A_snapshot_of_a_run_steered_live_says_no_run_can_resume_it()
    {
        File.WriteAllText(Path.Combine(dir, "steer.txt"), "");
        Run($"New-FifoVideo 'tide' -Frames 6 {InProcessShell.Tiny} -LivePrompt steer.txt -SnapshotPath live.snapshot -SnapshotEvery 2 | Out-Null");
        var refused = RunFailing($"New-FifoVideo 'tide' -Frames 8 {InProcessShell.Tiny} -Resume live.snapshot");
        Assert.Contains("was written by a run steered with the live prompt file", refused.Exception.Message);
        Assert.Contains("no run can resume it", refused.Exception.Message);
    }

    [Fact]
    public void A_resume_of_a_finished_run_says_it_makes_nothing_and_a_file_that_is_no_snapshot_is_named_so()
    {
        Run($"New-FifoVideo 'lava' -Frames 6 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 2 | Out-Null");
        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'lava' -Frames 6 {InProcessShell.Tiny} -Resume run.snapshot");
        Assert.Empty(shell.Invoke());
        Assert.Contains(shell.Streams.Warning, w => w.Message.Contains("is at the run's end: all 6 frames were output before it, so this run makes none"));

        File.WriteAllText(Path.Combine(dir, "story.yaml"), "apiVersion: fifopipes/v1\nprompt: lava\n");
        var notSnapshot = RunFailing($"New-FifoVideo 'lava' -Frames 6 {InProcessShell.Tiny} -Resume story.yaml");
        Assert.Contains("is not a snapshot a run wrote (", notSnapshot.Exception.Message);
        Assert.DoesNotContain("checkpoint", notSnapshot.Exception.Message);
    }

    [Fact]
    public void Two_parameters_that_set_one_option_must_agree()
    {
        var error = RunFailing($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -SamplerOption @{{ partitions = 3 }}");
        Assert.Contains("-Partitions and -SamplerOption partitions both set it and disagree (2, 3); keep one", error.Exception.Message);
        Assert.Equal(4, Run($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -SamplerOption @{{ partitions = [long]2 }}").Count);
        Assert.Equal(4, Run($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -SamplerOption @{{ partitions = '2'; lookahead = 'False' }} -NoLookahead").Count);
        var loop = RunFailing($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -Source nowhere.mp4 -SourceLoop:$false -SourcePingPong");
        Assert.Contains("-SourceLoop and -SourcePingPong both set it and disagree (False, pingpong); keep one", loop.Exception.Message);
        var eta = RunFailing($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -Eta 0.5 -SamplerOption @{{ eta = 0.25 }}");
        Assert.Contains("-Eta and -SamplerOption eta both set it and disagree (0.5, 0.25); keep one", eta.Exception.Message);
    }

    [Fact]
    public void A_live_prompt_in_a_folder_that_does_not_exist_is_refused()
    {
        var error = RunFailing($"New-FifoVideo 'koi' -Frames 4 {InProcessShell.Tiny} -LivePrompt nope/steer.txt");
        Assert.Contains("-LivePrompt: the folder of '" + Path.Combine(dir, "nope", "steer.txt") + "' does not exist", error.Exception.Message);
    }

    [Fact]
    public void Test_FifoRecipe_with_sinks_finds_a_recipe_without_any_as_Invoke_FifoRecipe_would()
    {
        File.WriteAllText(Path.Combine(dir, "nosinks.yaml"), "apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\n");
        Assert.True(Assert.IsType<bool>(Assert.Single(Run("Test-FifoRecipe nosinks.yaml -Quiet"))));
        var problem = Assert.Single(Run("Test-FifoRecipe nosinks.yaml -Sinks").Cast<FifoRecipeDiagnostic>());
        Assert.Contains("the recipe has no sinks, so nothing would be written", problem.Message);
        Assert.False(Assert.IsType<bool>(Assert.Single(Run("Test-FifoRecipe nosinks.yaml -Sinks -Quiet"))));
    }

    [SkippableFact]
    public void Test_FifoRecipe_with_sinks_warns_of_options_the_sinks_file_kind_does_not_use()
    {
        Skip.IfNot(FifoPipes.Tests.Sinks.Ffprobe.Available, "the mp4 sink's check needs ffmpeg");
        File.WriteAllText(Path.Combine(dir, "keep.yaml"), "apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nsinks:\n  - { path: k.mp4, with: { keep: 30 } }\n");
        var said = Run("Test-FifoRecipe keep.yaml -Sinks 3>&1");
        Assert.Equal("mp4: keep is an option of hls; this mp4 file does not use it.", Assert.IsType<WarningRecord>(Assert.Single(said)).Message);
        // A warning, not a problem: the run would go.
        Assert.True(Assert.IsType<bool>(Assert.Single(Run("Test-FifoRecipe keep.yaml -Sinks -Quiet 3>$null"))));
    }

    [Fact]
    public void Export_FifoFrames_names_outputs_by_the_runs_seed_and_hash_as_recipes_do()
    {
        var tiny = InProcessShell.Tiny.Replace("-Seed 3", "");
        var files = Run($"1, 2 | ForEach-Object {{ New-FifoVideo 'koi' -Frames 2 -Seed $_ {tiny} | Export-FifoFrames 'out/koi-{{seed}}.gif', 'out/{{hash}}' }}")
            .Cast<FileSystemInfo>().ToList();
        var hashes = Run("'out/koi-1.gif', 'out/koi-2.gif' | Get-FifoProvenance").Cast<FifoProvenance>().Select(p => p.RunHash).ToList();
        Assert.Equal(new[] { "koi-1.gif", hashes[0], "koi-2.gif", hashes[1] }, files.Select(f => f.Name));
        Assert.NotEqual(hashes[0], hashes[1]);
        Assert.All(hashes, h => Assert.True(Directory.Exists(Path.Combine(dir, "out", h))));
        Assert.False(File.Exists(Path.Combine(dir, "out", "koi-{seed}.gif")));

        var misspelt = RunFailing($"New-FifoVideo 'koi' -Frames 2 {tiny} | Export-FifoFrames 'out/koi-{{seeed}}.gif'");
        Assert.Contains("'{seeed}' would be written into the name as it is", misspelt.Exception.Message);
        Assert.Contains("Did you mean '{seed}'?", misspelt.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "out", "koi-{seeed}.gif")));

        // Several runs piped into one export: a file each, each recording its own run (it was one file of 2 + 3 frames, recorded as the first run).
        var piped = Run($"& {{ New-FifoVideo 'carp' -Frames 2 -Seed 7 {tiny}; New-FifoVideo 'carp' -Frames 3 -Seed 8 {tiny} }} | Export-FifoFrames 'piped/carp-{{seed}}.gif'")
            .Cast<FileInfo>().Select(f => f.Name);
        Assert.Equal(new[] { "carp-7.gif", "carp-8.gif" }, piped);
        var runs = Run("'piped/carp-7.gif', 'piped/carp-8.gif' | Get-FifoProvenance").Cast<FifoProvenance>().ToList();
        Assert.Equal(new object?[] { "7", 2L, "8", 3L }, runs.SelectMany(r => new object?[] { r.Settings["seed"], r.FramesWritten }));
        // Two runs of one seed would share the file: the second is refused, the first's file finished.
        var shared = RunFailing($"& {{ New-FifoVideo 'carp' -Frames 2 -Seed 9 {tiny}; New-FifoVideo 'trout' -Frames 2 -Seed 9 {tiny} }} | Export-FifoFrames 'piped/fish-{{seed}}.gif'");
        Assert.Contains("was written by the run before (seed 9), and the run now coming (seed 9) would replace it. Put {hash} in the path", shared.Exception.Message);
        Assert.Equal(2, Media.FrameCount(Path.Combine(dir, "piped", "fish-9.gif")));
        // A path that does not name the run takes both runs' frames, and says whose record the file keeps.
        using var both = InProcessShell.New(dir);
        both.AddScript($"& {{ New-FifoVideo 'carp' -Frames 2 -Seed 7 {tiny}; New-FifoVideo 'carp' -Frames 3 -Seed 8 {tiny} }} | Export-FifoFrames 'piped/both.gif'").Invoke();
        Assert.Equal(5, Media.FrameCount(Path.Combine(dir, "piped", "both.gif")));
        var followed = Assert.Single(both.Streams.Warning);
        Assert.Contains("Frames of another run (seed 8) follow those of the run before (seed 7)", followed.Message);
        Assert.Contains("To write a file per run, name the path by the run ('clip-{seed}.mp4', quoted).", followed.Message);
    }

    [Fact]
    public void A_frame_saves_in_the_format_its_extension_names_and_refuses_one_it_has_none_for()
    {
        var saved = Run($"$f = New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}; 'a.png', 'a.jpg', 'a.webp', 'a.bmp' | ForEach-Object {{ $f.Save($_) }}").Cast<FileInfo>().ToList();
        Assert.Equal(new[] { "a.png", "a.jpg", "a.webp", "a.bmp" }, saved.Select(f => f.Name));
        Assert.Equal(new[] { "PNG", "JPEG", "Webp", "BMP" }, saved.Select(f => SixLabors.ImageSharp.Image.DetectFormat(f.FullName).Name));
        Assert.Single(Run("Get-FifoProvenance a.png"));
        var refused = RunFailing($"(New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}).Save('a.tif')");
        Assert.Contains("'" + Path.Combine(dir, "a.tif") + "' names no image format a frame is saved in: use .png", refused.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "a.tif")));
        RunFailing($"(New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}).Save('new/a.tif')");
        Assert.False(Directory.Exists(Path.Combine(dir, "new")), "a refused name made its folder");

        // A folder that is not there yet is made; one given as the file is refused with a name to use in it.
        Assert.False(Directory.Exists(Path.Combine(dir, "stills")));
        var inNewFolder = Assert.IsType<FileInfo>(Assert.Single(Run($"(New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}).Save('stills/day 1/a.png')")));
        Assert.Equal(Path.Combine(dir, "stills", "day 1", "a.png"), inNewFolder.FullName);
        Assert.True(inNewFolder.Exists);
        var folder = RunFailing($"(New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}).Save('stills')");
        Assert.Contains($"'{Path.Combine(dir, "stills")}' is a folder; give a file name in it, e.g. '{Path.Combine(dir, "stills", "frame_0.png")}'", folder.Exception.Message);
        File.WriteAllText(Path.Combine(dir, "plain"), "a file where a folder would go");
        var underFile = RunFailing($"(New-FifoVideo 'marble' -Frames 1 {InProcessShell.Tiny}).Save('plain/a.png')");
        Assert.Contains($"Frame 0 could not be saved to '{Path.Combine(dir, "plain", "a.png")}' (", underFile.Exception.Message);
        Assert.Contains("Give a path in a folder this user can write", underFile.Exception.Message);
    }

    [Fact]
    public void Test_FifoRecipe_with_model_finds_missing_weights_and_devices_without_loading_anything()
    {
        void Recipe(string name, string model) =>
            File.WriteAllText(Path.Combine(dir, name), $"apiVersion: fifopipes/v1\nmodel: {model}\nprompt: lava\nframes: 4\n");
        Recipe("vc.yaml", "{ use: videocrafter, with: { path: missing/model.ckpt } }");
        Recipe("cuda.yaml", "{ use: videocrafter, with: { path: missing/model.ckpt, device: cuda } }");
        Recipe("zs.yaml", "{ use: zeroscope, with: { path: missing-folder } }");
        Recipe("os.yaml", "{ use: opensora, with: { path: missing-folder } }");
        Recipe("analytic.yaml", "analytic");
        Recipe("analytic-cuda.yaml", "{ use: analytic, with: { device: 'cuda:99' } }");
        // Bytes where a checkpoint should be, beside a tokenizer that is sound: found by reading the file's index.
        File.WriteAllBytes(Path.Combine(dir, "noise.ckpt"), Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Recipe("corrupt.yaml", $"{{ use: videocrafter, with: {{ path: noise.ckpt, tokenizer: '{FifoPipes.Tests.VideoCrafter.TinyVideoCrafterCheckpoint.Vocab}' }} }}");
        // Without -Model the recipes are only read: all valid.
        Assert.All(Run("Test-FifoRecipe vc.yaml, cuda.yaml, zs.yaml, os.yaml, analytic.yaml -Quiet"), ok => Assert.True(Assert.IsType<bool>(ok)));
        Assert.Empty(Run("Test-FifoRecipe analytic.yaml -Model"));
        string Problem(string file) => Assert.Single(Run($"Test-FifoRecipe {file} -Model").Cast<FifoRecipeDiagnostic>(), d => d.Path == "model").Message;
        Assert.Contains($"The checkpoint '{Path.Combine(dir, "missing", "model.ckpt")}' does not exist", Problem("vc.yaml"));
        // Found at the model's line of its recipe, so a table of many recipes puts it under the right one.
        var located = Assert.Single(Run("Test-FifoRecipe vc.yaml -Model").Cast<FifoRecipeDiagnostic>());
        Assert.Equal((Path.Combine(dir, "vc.yaml"), 2), (located.File, located.Line));
        if (!TorchSharp.torch.cuda.is_available()) Assert.Contains("cuda", Problem("cuda.yaml"));
        Assert.Contains(Path.Combine(dir, "missing-folder"), Problem("zs.yaml"));
        Assert.Contains("missing-folder", Problem("os.yaml"));
        Assert.Contains($"'{Path.Combine(dir, "noise.ckpt")}' cannot be loaded as a torch checkpoint", Problem("corrupt.yaml"));
        // A model without weights still checks its device (no machine has a hundred GPUs).
        Assert.Contains("device 'cuda:99'", Problem("analytic-cuda.yaml"));
    }

    [Fact]
    public void Frames_exported_at_another_rate_record_it_so_their_recipe_plays_as_the_file_does()
    {
        var recipe = Run($"$f = New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny}; (Get-FifoProvenance ($f | Export-FifoFrames played.gif -Fps 24)).Recipe")
            .Cast<string>().Single();
        Assert.Contains("\nfps: 24\n", recipe);
        // Without -Fps the record keeps the run's own rate, which a run that set none does not name (the model's own option aside).
        Assert.DoesNotContain("\nfps:", Run($"$f = New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny}; (Get-FifoProvenance ($f | Export-FifoFrames plain.gif)).Recipe")
            .Cast<string>().Single());
    }

    [Fact]
    public void Test_FifoRecipe_with_model_finds_sampler_options_the_model_cannot_take_at_the_options_line()
    {
        // 64 partitions of the analytic model's 16-frame window are 1,024 steps, past its 1,000 training timesteps:
        // each number alone is in range, so only the model's description shows it.
        File.WriteAllText(Path.Combine(dir, "steps.yaml"),
            "apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nsampler:\n  use: fifo\n  with: { Partitions: 64 }\n");
        File.WriteAllText(Path.Combine(dir, "window.yaml"),
            "apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nmodel: { use: analytic, with: { frames: 1 } }\nsampler: { use: gen-l-video, with: { stride: 2 } }\n");
        // The analytic model describes itself from its options alone: found without -Model as well (a test of its own below).
        Assert.Equal(2, Run("Test-FifoRecipe steps.yaml, window.yaml").Count);

        var steps = Assert.Single(Run("Test-FifoRecipe steps.yaml -Model").Cast<FifoRecipeDiagnostic>());
        // At the option the sampler names, where the recipe sets it (its key in any case), by its own name.
        Assert.Equal(("sampler.with.partitions", Path.Combine(dir, "steps.yaml"), 6), (steps.Path, steps.File, steps.Line));
        Assert.Equal("fifo sampler option 'partitions': 64 partitions x 16 frames = 1024 steps exceed the model's 1000 training timesteps; use fewer partitions.", steps.Message);
        var window = Assert.Single(Run("Test-FifoRecipe window.yaml -Model").Cast<FifoRecipeDiagnostic>());
        Assert.Equal("gen-l-video sampler option 'stride': 2 is outside 1..1 (the model's window frames); windows must overlap or touch.", window.Message);
        Assert.Equal(("sampler.with.stride", 5), (window.Path, window.Line));

        // What only describing the model finds is the model's: the tiny zeroscope folder's VAE halves the frame, and 15 pixels do not halve.
        var folder = FifoPipes.Tests.Parity.ParityCase.Load("zeroscope/diffusers_folder").File("model");
        File.WriteAllText(Path.Combine(dir, "odd.yaml"), $"apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nmodel: {{ use: zeroscope, with: {{ path: '{folder}', width: 15, height: 16 }} }}\n");
        var odd = Assert.Single(Run("Test-FifoRecipe odd.yaml -Model").Cast<FifoRecipeDiagnostic>());
        Assert.Equal(("model", 4), (odd.Path, odd.Line));
        Assert.Equal("zeroscope model: the frame size 15x16 must be a multiple of the VAE's scale 2; change width/height.", odd.Message);
    }

    [Fact]
    public void Test_FifoRecipe_finds_a_videocrafter_size_or_override_its_networks_cannot_take_at_that_options_line()
    {
        // The preset describes the model with no checkpoint there: these are the recipe's problems, found without -Model.
        const string head = "apiVersion: fifopipes/v1\nprompt: lava\nframes: 4\nmodel:\n  use: videocrafter\n  with:\n    path: none.ckpt\n";
        File.WriteAllText(Path.Combine(dir, "wide.yaml"), head + "    width: 520\n");
        File.WriteAllText(Path.Combine(dir, "typed.yaml"), head + "    configOverrides: [ 'vae.ch=32', 'vae.ch_mult=[1,2' ]\n");
        File.WriteAllText(Path.Combine(dir, "unfit.yaml"), head + "    configOverrides: [ 'text.width=24' ]\n");
        FifoRecipeDiagnostic Problem(string file) => Assert.Single(Run($"Test-FifoRecipe {file}").Cast<FifoRecipeDiagnostic>());

        var wide = Problem("wide.yaml");
        Assert.Equal(("model.with.width", 8), (wide.Path, wide.Line));
        Assert.Contains("multiple of 64", wide.Message);
        var typed = Problem("typed.yaml");
        Assert.Equal(("model.with.configOverrides", 8), (typed.Path, typed.Line));
        Assert.Contains("'vae.ch_mult=[1,2': the value has the wrong type for vae.ch_mult", typed.Message);
        var unfit = Problem("unfit.yaml");
        Assert.Equal(("model.with.configOverrides", 8), (unfit.Path, unfit.Line));
        Assert.Contains("context_dim", unfit.Message);
    }

    [Fact]
    public void An_hls_segment_under_a_second_is_refused_as_its_playlist_would_promise_segments_of_none()
    {
        // ffmpeg states the longest segment in whole seconds, half to even: half-second segments made #EXT-X-TARGETDURATION:0.
        var half = RunFailing($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames live/h.m3u8 -Option @{{ segment = 0.5 }}");
        Assert.Contains("segment: 0.5 is below the minimum 1", half.Exception.Message);
        Assert.False(Directory.Exists(Path.Combine(dir, "live")));
        // Options set in code skip the binder: the sink's own check says the range and why.
        var problem = Assert.Single(new FifoPipes.Sinks.Ffmpeg.FfmpegSinkOptions { Segment = 0.5 }.Validate());
        Assert.Equal("segment", problem.Option);
        Assert.Contains("use 1 to 60 seconds", problem.Message);
        Assert.Empty(new FifoPipes.Sinks.Ffmpeg.FfmpegSinkOptions { Segment = 1 }.Validate());
    }

    [Fact]
    public void An_option_no_sink_of_the_paths_takes_names_the_sink_that_has_it_or_the_nearest_name()
    {
        var bitrate = RunFailing($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames o.mp4 -Option @{{ bitrate = '1M' }}");
        Assert.Contains("bitrate: the mp4 sink does not take it; it is an option of the stream sink.", bitrate.Exception.Message);
        var colours = RunFailing($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames o.mp4, o.gif -Option @{{ colours = 64 }}");
        Assert.Contains("colours: none of the mp4, gif sinks takes it. Did you mean 'colors' (gif)?", colours.Exception.Message);
        var unknown = RunFailing($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames o.mp4 -Option @{{ zebra = 1 }}");
        Assert.Contains("zebra: unknown option 'zebra'. Valid: ", unknown.Exception.Message);
        Assert.Empty(Directory.EnumerateFiles(dir, "o.*"));

        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames k.mp4 -Option @{{ keep = 3; segment = 4 }}; " +
                        $"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames y.mp4 -Format gif");
        shell.Invoke();
        // Said once, before the run computes a frame.
        Assert.Single(shell.Streams.Warning, w => w.Message.Contains("mp4: segment and keep are options of hls; this mp4 file does not use them."));
        Assert.Contains(shell.Streams.Warning, w => w.Message.Contains("-Format gif writes '" + Path.Combine(dir, "y.mp4") + "' as gif, though its extension is mp4's; players go by the extension, so name it .gif."));

        // A folder of frames named like a video is a slip of -Format: refused before the run, with no warning that it writes one.
        using var frames = InProcessShell.New(dir);
        frames.AddScript($"New-FifoVideo 'koi' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames z.mp4 -Format png");
        frames.Invoke();
        var refused = Assert.Single(frames.Streams.Error);
        Assert.Contains("names a .mp4 file, and the png sink writes one PNG file per frame into a folder", refused.Exception.Message);
        Assert.Empty(frames.Streams.Warning);
        Assert.False(Directory.Exists(Path.Combine(dir, "z.mp4")));
    }

    /// <summary>Runs a script that must stop with an error; counts what it put in $made and the progress it reported on the way.</summary>
    (ErrorRecord Error, int Made, int Progress) Refused(string script)
    {
        using var shell = InProcessShell.New(dir);
        shell.AddScript("$global:made = 0; " + script);
        ErrorRecord? error = null;
        try { shell.Invoke(); }
        catch (RuntimeException ex) { error = ex.ErrorRecord; }
        error ??= shell.Streams.Error.FirstOrDefault() ?? throw new Xunit.Sdk.XunitException("expected the script to fail");
        return (error, Convert.ToInt32(shell.Runspace.SessionStateProxy.GetVariable("made")), shell.Streams.Progress.Count);
    }

    [Fact]
    public void Sink_messages_reach_the_warning_and_verbose_streams()
    {
        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'fast sparks' -Frames 2 {InProcessShell.Tiny} | Export-FifoFrames fast.gif, fast.mp4 -Fps 60 -Verbose");
        shell.Invoke();

        Assert.False(shell.HadErrors, string.Join(" | ", shell.Streams.Error));
        Assert.Contains(shell.Streams.Warning, w => w.Message.Contains("gif: 60 fps") && w.Message.Contains("use an mp4 or webm sink"));
        Assert.Contains(shell.Streams.Verbose, v => v.Message.StartsWith("mp4: ") && v.Message.Contains("ffmpeg"));
    }

    [Fact]
    public void Long_runs_report_progress_with_the_frame_rate_and_complete_it()
    {
        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'slow clouds' -Frames 40 {InProcessShell.Tiny} | Out-Null");
        shell.Invoke();
        var records = shell.Streams.Progress.ToList();
        Assert.Contains(records, r => r.StatusDescription.Contains("frames/s") && r.StatusDescription.Contains("of 40 frames"));
        Assert.Equal(ProgressRecordType.Completed, records[^1].RecordType);
        Assert.Contains(records, r => r.PercentComplete == 100);
        // Before the first frame: the model's loading, then the queue's first window, with no rate or time left to guess.
        Assert.Equal("loading the model", records[0].StatusDescription);
        Assert.StartsWith("analytic: filling the queue", records[1].StatusDescription);
        Assert.Equal(("1 of 40 frames", -1), (records[2].StatusDescription, records[2].SecondsRemaining));
    }

    [Fact]
    public void A_resumed_run_reports_progress_of_the_whole_video()
    {
        // An 8-frame run made 12 long: the resume makes frames 8..11.
        Run($"New-FifoVideo 'slow clouds' -Frames 8 {InProcessShell.Tiny} -SnapshotPath run.snapshot -SnapshotEvery 8 | Out-Null");
        using var shell = InProcessShell.New(dir);
        shell.AddScript($"New-FifoVideo 'slow clouds' -Frames 12 {InProcessShell.Tiny} -Resume run.snapshot | Out-Null");
        shell.Invoke();

        Assert.False(shell.HadErrors, string.Join(" | ", shell.Streams.Error));
        // 4 frames made, 12 of 12 done.
        var last = shell.Streams.Progress[^1];
        Assert.StartsWith("12 of 12 frames", last.StatusDescription);
        Assert.Equal(100, last.PercentComplete);
    }

    /// <summary>A recipe for the tiny analytic model and FIFO with two partitions; <paramref name="rest"/> adds its own lines.</summary>
    void WriteTinyRecipe(string file, string rest) => File.WriteAllText(Path.Combine(dir, file), """
        apiVersion: fifopipes/v1
        model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
        sampler: { use: fifo, with: { partitions: 2 } }

        """ + rest + "\n");

    [Fact]
    public void Snapshot_parameters_override_only_their_own_entry_of_a_recipes_snapshot()
    {
        WriteTinyRecipe("s.yaml", "prompt: fire\nframes: 12\nsnapshot: { path: recipe.snapshot, every: 5 }");
        long Emitted(string file) => long.Parse(FifoPipes.Torch.Checkpoints.SafetensorsFile.ReadMetadata(Path.Combine(dir, file))["emitted"]);

        // The last snapshot is after the last frame whatever the interval; a second run, forced, names the interval it kept.
        string Twice(string command) => string.Join("\n", Run($"{command} | Out-Null; {command} -Force -Verbose 4>&1 | Where-Object {{ $_ -is [System.Management.Automation.VerboseRecord] }} | ForEach-Object Message"));
        Assert.Contains("moved.snapshot' within 5 frames (overwrite is on)", Twice("New-FifoVideo -Recipe s.yaml -SnapshotPath moved.snapshot"));
        Assert.Equal(12, Emitted("moved.snapshot"));
        Assert.False(File.Exists(Path.Combine(dir, "recipe.snapshot")));

        Assert.Contains("within 3 frames (overwrite is on)", Twice("New-FifoVideo -Recipe s.yaml -SnapshotEvery 3"));
        Assert.Equal(12, Emitted("recipe.snapshot"));

        var error = RunFailing($"New-FifoVideo 'fire' -Frames 4 {InProcessShell.Tiny} -SnapshotEvery 3");
        Assert.Equal("SnapshotEveryWithoutPath", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("-SnapshotPath", error.Exception.Message);
    }

    [Fact]
    public void A_prompt_over_a_recipe_keeps_its_frame_count_and_its_sinks_are_named_as_not_written()
    {
        WriteTinyRecipe("long.yaml", "prompt: fire\nframes: 6\nsinks: [ { path: long.gif } ]");
        using var shell = InProcessShell.New(dir);
        shell.AddScript("New-FifoVideo -Recipe long.yaml -Prompt 'rain'");
        var frames = shell.Invoke().Select(o => o.BaseObject).Cast<FifoFrame>().ToList();

        Assert.Equal(6, frames.Count);
        Assert.All(frames, f => Assert.Equal("rain", f.Prompt));
        Assert.Contains(shell.Streams.Warning, w => w.Message.Contains("not to the recipe's sinks") && w.Message.Contains("long.gif"));
        Assert.False(File.Exists(Path.Combine(dir, "long.gif")));

        // Piped on (to Export-FifoFrames, as the README shows), the frames go where the user sent them: no warning.
        using var piped = InProcessShell.New(dir);
        piped.AddScript("New-FifoVideo -Recipe long.yaml -Verbose | Export-FifoFrames other.gif");
        piped.Invoke();
        Assert.Empty(piped.Streams.Warning);
        Assert.Contains(piped.Streams.Verbose, v => v.Message.Contains("not to the recipe's sinks"));
    }

    [Fact]
    public void A_start_image_pulls_the_first_frames_towards_it()
    {
        var red = Path.Combine(dir, "red.png");
        FifoPipes.Core.ImageFiles.SaveImage(FifoPipes.Tests.Sinks.SinkTestBase.Solid(0, 230, 20, 20, 64, 64), red);
        double Redness(FifoFrame frame)
        {
            double r = 0, gb = 0;
            for (int i = 0; i < frame.Pixels.Length; i += 3) { r += frame.Pixels[i]; gb += frame.Pixels[i + 1] + frame.Pixels[i + 2]; }
            return (r - gb / 2) / (frame.Pixels.Length / 3);
        }
        var plain = Run($"New-FifoVideo 'calm blue ocean' -Frames 2 {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        var started = Run($"New-FifoVideo 'calm blue ocean' -Frames 2 -InitImage red.png {InProcessShell.Tiny}").Cast<FifoFrame>().ToList();
        Assert.Equal(2, started.Count);
        Assert.True(Redness(started[0]) > Redness(plain[0]) + 20, $"redness {Redness(started[0]):F1} with the red start image, {Redness(plain[0]):F1} without");
    }

    [Fact]
    public void Measure_FifoQuality_reports_every_sampler_and_writes_the_report()
    {
        var points = Run("Measure-FifoQuality -Sampler fifo,chunked -Frames 64 -Every 32 -Option @{ streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 } -OutputFolder report")
            .Cast<FifoPipes.Abstractions.QualityPoint>().ToList();
        Assert.Equal(new[] { "exact prior", "fifo", "chunked" }, points.Select(p => p.Sampler).Distinct());
        Assert.Equal(new long[] { 0, 32 }, points.Where(p => p.Sampler == "fifo").Select(p => p.Position));
        // Independent chunks break the correlation at their seams; FIFO does not.
        Assert.True(points.Where(p => p.Sampler == "chunked").Average(p => p.LagOneSeamError) >
                    points.Where(p => p.Sampler == "fifo").Average(p => p.LagOneSeamError) + 0.2);
        foreach (var file in new[] { "frechet.png", "lag1.png", "quality-tables.md", "quality.csv" })
            Assert.True(File.Exists(Path.Combine(dir, "report", file)), file);

        // Fewer frames than the default stretch (256) and no -Every: the run is measured as one stretch.
        var oneStretch = Run("Measure-FifoQuality -Sampler fifo -Frames 32 -Option @{ streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 }")
            .Cast<FifoPipes.Abstractions.QualityPoint>().ToList();
        Assert.Equal(new long[] { 0 }, oneStretch.Where(p => p.Sampler == "fifo").Select(p => p.Position));
        // The same with the frame count given in -Option, and per-sampler options in an ordered dictionary.
        var viaOption = Run("Measure-FifoQuality -Sampler fifo -Option @{ frames = 32; streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 } " +
                            "-SamplerOption @{ fifo = [ordered]@{ lookahead = $false } }")
            .Cast<FifoPipes.Abstractions.QualityPoint>().ToList();
        Assert.Equal(new long[] { 0 }, viaOption.Where(p => p.Sampler == "fifo").Select(p => p.Position));

        var stray = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 32 -SamplerOption @{ chunked = @{ clipBatch = 2 } }");
        Assert.Contains("-SamplerOption names 'chunked', which is not measured here", stray.Exception.Message);
        var wrong = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 32 -SamplerOption @{ fifo = @{ partitions = 'many' } }");
        Assert.Contains("Invalid -SamplerOption fifo", wrong.Exception.Message);
        var longer = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 32 -Every 40");
        Assert.Contains("-Every 40 is more than the run's 32 frames", longer.Exception.Message);
        // A value the cmdlet's own parameter set is that parameter's problem, not -Option's.
        var tooShort = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 8");
        Assert.Contains("Invalid -Frames:", tooShort.Exception.Message);
        Assert.Contains("frames: 8 frames is too short to measure windows of 8 (measureFrames) in; give at least 9.", tooShort.Exception.Message);
        Assert.DoesNotContain("-Option", tooShort.Exception.Message);
        // Variants of one sampler, measured side by side under their own names.
        var variants = Run("Measure-FifoQuality -Sampler fifo -Option @{ frames = 16; streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 } " +
                           "-SamplerOption @{ 'fifo-nolookahead' = @{ use = 'fifo'; lookahead = $false } }").Cast<FifoPipes.Abstractions.QualityPoint>().ToList();
        Assert.Equal(new[] { "exact prior", "fifo", "fifo-nolookahead" }, variants.Select(p => p.Sampler).Distinct().Order());
        Assert.NotEqual(variants.Single(p => p.Sampler == "fifo").Frechet, variants.Single(p => p.Sampler == "fifo-nolookahead").Frechet);
        var guided = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 32 -SamplerOption @{ fifo = @{ Guidance = 3 } }");
        Assert.Contains("-SamplerOption fifo guidance: the study measures how far a sampler's video is from the prior it samples", guided.Exception.Message);
        Assert.NotEmpty(Run("Measure-FifoQuality -Sampler fifo -Option @{ frames = 16; streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 } -SamplerOption @{ fifo = @{ guidance = 1 } }"));
    }

    [Fact]
    public void Measure_FifoQuality_measures_whole_stretches_and_refuses_one_shorter_than_a_window()
    {
        const string tiny = "-Option @{ streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 }";
        // 40 frames in stretches of 16: the last 8 would be a short stretch on fewer windows, so they get no point, and a warning says so.
        var output = Run($"Measure-FifoQuality -Sampler fifo -Frames 40 -Every 16 {tiny} 3>&1");
        var fifo = output.OfType<FifoPipes.Abstractions.QualityPoint>().Where(p => p.Sampler == "fifo").ToList();
        Assert.Equal(new long[] { 0, 16 }, fifo.Select(p => p.Position));
        Assert.All(fifo, p => Assert.Equal(16, p.Frames));
        Assert.Contains(output.OfType<WarningRecord>(), w => w.Message.Contains("the points are the 2 whole stretches (frames 0-31); the last 8 frames are too few"));

        // Below the measured window (8 frames by default), the last stretches would hold no window at all.
        var shorter = RunFailing($"Measure-FifoQuality -Sampler fifo -Frames 100 -Every 6 {tiny}");
        Assert.Contains("Invalid -Every:", shorter.Exception.Message);
        Assert.Contains("a point every 6 frames is shorter than the measured window of 8 frames (measureFrames); give every at least 8", shorter.Exception.Message);
        // A short run without -Every is one stretch of the run, so its frames are the parameter to blame.
        var tooShort = RunFailing($"Measure-FifoQuality -Sampler fifo -Frames 5 {tiny}");
        Assert.Contains("Invalid -Frames:", tooShort.Exception.Message);
        Assert.Contains("give at least 9", tooShort.Exception.Message);
    }

    [Fact]
    public void Measure_FifoQuality_refuses_an_OutputFolder_that_is_a_file_before_it_measures()
    {
        File.WriteAllText(Path.Combine(dir, "report.txt"), "an earlier report");

        // A point passed down the pipeline would mean the study ran, and its time was lost to the report's error.
        var error = RunFailing("Measure-FifoQuality -Sampler fifo -Frames 16 -Option @{ streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 } " +
                               "-OutputFolder report.txt | ForEach-Object { Set-Content measured.txt 'a point' }");

        Assert.Equal("OutputFolderIsFile", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains($"-OutputFolder '{Path.Combine(dir, "report.txt")}' is a file", error.Exception.Message);
        Assert.Contains("give a folder", error.Exception.Message);
        Assert.False(File.Exists(Path.Combine(dir, "measured.txt")), "the study ran before the folder was checked");
        Assert.Equal("an earlier report", File.ReadAllText(Path.Combine(dir, "report.txt")));
    }

    [Fact]
    public void Get_FifoPlugin_lists_plugins_with_options()
    {
        var plugins = Run("Get-FifoPlugin").Cast<FifoPluginInfo>().ToList();
        Assert.Contains(plugins, p => p.Name == "analytic" && p.Kind == "Model");
        var fifo = Assert.Single(Run("Get-FifoPlugin fi* -Kind Sampler").Cast<FifoPluginInfo>());
        Assert.Contains(fifo.Options, o => o.Name == "partitions" && o.Type == "integer?");
        Assert.Equal("analytic-quality", Assert.Single(Run("Get-FifoPlugin -Kind Study").Cast<FifoPluginInfo>()).Name);
        // A plain name that matches nothing is an error, as for Get-Command; a pattern may match nothing.
        var missing = RunFailing("Get-FifoPlugin nonesuch");
        Assert.Equal("PluginNotFound", missing.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("analytic", missing.Exception.Message);
        var near = RunFailing("Get-FifoPlugin fifoo -Kind Sampler");
        Assert.Contains("There is no sampler plugin 'fifoo'. Did you mean 'fifo'? Plugins: ", near.Exception.Message);
        Assert.DoesNotContain("analytic", near.Exception.Message);
        Assert.Empty(Run("Get-FifoPlugin nothing*"));
    }

    [Fact]
    public void Parameter_mistakes_are_errors_that_name_the_fix()
    {
        var unknownOption = RunFailing("New-FifoVideo 'a' -Frames 2 -SamplerOption @{ partitons = 2 }");
        Assert.Contains("Did you mean 'partitions'", unknownOption.Exception.Message);
        Assert.Contains("-SamplerOption partitons", unknownOption.Exception.Message);
        var unknownModel = RunFailing("New-FifoVideo 'a' -Frames 2 -Model nonesuch");
        Assert.Contains("unknown model plugin 'nonesuch'", unknownModel.Exception.Message);
        // A problem with what a parameter said is that parameter's invalid argument, not a recipe's.
        var missingImage = RunFailing("New-FifoVideo 'a' -Frames 2 -InitImage nowhere.png");
        Assert.Equal(("InvalidParameter", ErrorCategory.InvalidArgument), (missingImage.FullyQualifiedErrorId.Split(',')[0], missingImage.CategoryInfo.Category));
        Assert.Contains("-InitImage:", missingImage.Exception.Message);
        Assert.Contains("nowhere.png", missingImage.Exception.Message);
        File.WriteAllText(Path.Combine(dir, "fine.yaml"), "apiVersion: fifopipes/v1\nprompt: a\nframes: 2\n");
        var withRecipe = RunFailing("New-FifoVideo -Recipe fine.yaml -InitImage nowhere.png");
        Assert.Equal("InvalidParameter", withRecipe.FullyQualifiedErrorId.Split(',')[0]);
        var badSinkOption = RunFailing($"New-FifoVideo 'a' -Frames 1 {InProcessShell.Tiny} | Export-FifoFrames o.mp4 -Option @{{ crff = 3 }}");
        Assert.Equal("InvalidParameter", badSinkOption.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("Did you mean 'crf'", badSinkOption.Exception.Message);
        var mismatched = RunFailing("New-FifoVideo 'a','b','c' -Frames 2,3");
        Assert.Contains("one per prompt", mismatched.Exception.Message);
        // Out-of-range numbers are refused by the parameter binder, naming the parameter, before any work.
        foreach (var (parameter, value) in new[] { ("Partitions", "0"), ("Fps", "0"), ("Eta", "2"), ("Guidance", "-1") })
        {
            var refused = RunFailing($"New-FifoVideo 'a' -Frames 2 -{parameter} {value}");
            Assert.StartsWith("ParameterArgumentValidationError", refused.FullyQualifiedErrorId);
            Assert.Contains(parameter, refused.Exception.Message);
        }
    }
}

[CollectionDefinition("PowerShell", DisableParallelization = true)]
public sealed class PowerShellCollection { }

/// <summary>Frame counts read back with ffprobe, the way a user's player would see the file.</summary>
static class Media
{
    public static int FrameCount(string path)
    {
        var info = new ProcessStartInfo("ffprobe", $"-v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 \"{path}\"")
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0 && int.TryParse(output.Split('\n')[0].Trim().TrimEnd(','), out _), $"ffprobe could not read {path}: {errors}");
        return int.Parse(output.Split('\n')[0].Trim().TrimEnd(','));
    }
}
