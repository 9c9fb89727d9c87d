using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Hosting;
using Xunit;

namespace FifoPipes.Tests.Reliability;

/// <summary>
/// A resumed run's replayed latents (<see cref="LatentFrame.Replayed"/>) through the real engine: a decoder that held
/// latents at the resume point takes them up again, and a sampler or decoder that breaks the replay contract is told so
/// before a wrong frame is written. The misbehaving sampler resumes after 5 latents; the chunk decoder (chunks of 3) then holds latents 3 and 4.
/// </summary>
public sealed class DecoderReplayContractTests : IDisposable
{
    const string Project = "tests/TestPlugins/FaultyPlugins";
    const string Tiny = "{ use: analytic, with: { height: 4, width: 6, frames: 4 } }";

    readonly string folder = Directory.CreateTempSubdirectory("fifo-replay-contract-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>Runs the misbehaving sampler in <paramref name="mode"/> on <paramref name="model"/>, resuming from a file it never reads.</summary>
    List<RunEvent> Run(string model, string mode, bool resume, List<long> produced)
    {
        File.WriteAllText(Path.Combine(folder, "run.snapshot"), "the misbehaving sampler never reads it");
        var yaml = $"apiVersion: fifopipes/v1\nmodel: {model}\nprompt: rain\nframes: 8\nsampler: {{ use: misbehaving-sampler, with: {{ mode: {mode} }} }}\n" +
                   (resume ? "resume: run.snapshot\n" : "");
        var reader = new RecipeReader(TestPlugins.With(Project));
        var recipe = reader.ReadText(yaml, Path.Combine(folder, "run.yaml"));
        Assert.True(recipe is not null, string.Join(Environment.NewLine, reader.Diagnostics.Select(d => $"{d.Path}: {d.Message}")));
        var events = new List<RunEvent>();
        foreach (var e in new VideoRun(recipe!).Events())
        {
            events.Add(e);
            if (e is FrameProduced frame) produced.Add(frame.Frame.Index);
        }
        return events;
    }

    /// <summary>The message names the plugin (with its file, which differs by machine) and what it did.</summary>
    static void Names(string plugin, string what, PluginFailedException error)
    {
        Assert.StartsWith(plugin + " (", error.Message);
        Assert.EndsWith(") " + what, error.Message);
    }

    [Fact]
    public void Held_latents_replayed_before_the_new_ones_resume_with_the_frames_they_were_held_for()
    {
        var produced = new List<long>();
        Run("chunk-decoder-model", "replay-held", resume: true, produced);
        // Latents 3 and 4 were held at the resume point: their frames come again, with latent 5's, then 6 and 7 at the flush.
        Assert.Equal(new long[] { 3, 4, 5, 6, 7 }, produced);
    }

    [Fact]
    public void A_latent_replayed_after_new_ones_is_refused_saying_replays_come_first()
    {
        var produced = new List<long>();
        var ex = Assert.Throws<PluginFailedException>(() => Run(Tiny, "replay-late", resume: false, produced));
        Names("The sampler 'misbehaving-sampler'", "replayed latent 1 after new ones: a resumed sampler yields the latents it replays first", ex);
        Assert.Equal(new long[] { 0 }, produced);
    }

    [Fact]
    public void A_replay_that_leaves_out_a_held_latent_is_refused_naming_the_one_due()
    {
        var produced = new List<long>();
        var ex = Assert.Throws<PluginFailedException>(() => Run("chunk-decoder-model", "replay-last", resume: true, produced));
        Names("The sampler 'misbehaving-sampler'", "replayed latent 4 where 3 was due: a resumed sampler replays the latest latents, in order", ex);
        Assert.Empty(produced);
    }

    [Fact]
    public void A_resume_whose_snapshot_kept_no_held_latent_is_a_snapshot_mismatch_that_says_what_to_do()
    {
        var produced = new List<long>();
        var ex = Assert.Throws<FifoInputException>(() => Run("chunk-decoder-model", "replay-none", resume: true, produced));
        Assert.Equal("SnapshotMismatch", ex.ErrorId);
        Assert.Equal("At the resume point the decoder held latents 3 to 4, but the snapshot kept none from 3 on. " +
                     "Resume with the model and snapshot settings that wrote it, or start fresh.", ex.Message);
        Assert.Empty(produced);
    }

    [Fact]
    public void A_decoder_that_returns_frames_for_a_latent_it_held_is_named()
    {
        var produced = new List<long>();
        var ex = Assert.Throws<PluginFailedException>(() => Run("leaky-chunk-decoder-model", "replay-held", resume: true, produced));
        Names("The decoder LeakyChunkDecoder of the model 'leaky-chunk-decoder-model'", "returned frames for latent 3, which it held at the resume point: " +
              "a latent the decoder holds returns none when it is taken up again", ex);
        Assert.Empty(produced);
    }

    [Fact]
    public void A_replay_of_the_latent_at_the_resume_point_is_refused_and_not_left_as_a_gap()
    {
        // The sampler replays latent 5, then yields 5 as new: the engine must not take the replay for the frame.
        var produced = new List<long>();
        var ex = Assert.Throws<PluginFailedException>(() => Run("chunk-decoder-model", "replay-ahead", resume: true, produced));
        Names("The sampler 'misbehaving-sampler'", "replayed latent 5 where 3 was due: a resumed sampler replays the latest latents, in order", ex);
        Assert.Empty(produced);
    }
}
