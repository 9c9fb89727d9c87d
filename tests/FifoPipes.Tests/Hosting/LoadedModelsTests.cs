using FifoPipes.Abstractions;
using FifoPipes.Hosting.Engine;
using FifoPipes.Hosting.Recipes;
using FifoPipes.Tests.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace FifoPipes.Tests.Hosting;

/// <summary>What a command of several runs keeps loaded, and where a kept model's messages go.</summary>
public sealed class LoadedModelsTests
{
    sealed class Log : IProgressSink
    {
        public List<string> Messages { get; } = new();
        public void Verbose(string message) => Messages.Add(message);
        public void Warning(string message) => Messages.Add(message);
    }

    sealed class Model(bool reusable = true) : IVideoModel, IReusableModel
    {
        public int Runs { get; private set; } = 1;
        public bool Disposed { get; private set; }
        public IProgressSink? LoadedWith { get; init; }
        public ModelInfo Info { get; } = DelegateVideoModel.Linear().Info;
        public Conditioning Encode(string prompt) => throw new NotSupportedException();
        public Tensor PredictNoise(Tensor x, Tensor timesteps, IReadOnlyList<Conditioning> conditioning) => throw new NotSupportedException();
        public IFrameDecoder CreateDecoder() => throw new NotSupportedException();
        public Tensor EncodeFrames(Tensor rgb) => throw new NotSupportedException();
        public void BeginRun() => Runs++;
        public bool CanServeAnotherRun => reusable;
        public void Dispose() => Disposed = true;
    }

    static PluginUse Use(int height) =>
        new RecipeReader(TestPlugins.Host).ReadText($"apiVersion: fifopipes/v1\nprompt: a\nframes: 1\nmodel: {{ use: analytic, with: {{ height: {height} }} }}\n", "/r/run.yaml")!.Model;

    [Fact]
    public void A_model_serves_the_next_run_with_the_same_settings_and_its_messages_reach_that_run()
    {
        using var models = new LoadedModels();
        var (first, second) = (new Log(), new Log());
        Model? loaded = null;
        using (var lease = models.Lease(Use(4), "/r", log => loaded = new Model { LoadedWith = log }, first)) { }
        loaded!.LoadedWith!.Verbose("during the first run");
        using (var lease = models.Lease(Use(4), "/r", _ => throw new InvalidOperationException("loaded twice"), second))
        {
            Assert.Same(loaded, lease.Model);
            loaded.LoadedWith.Verbose("during the second run");
        }
        Assert.Equal((2, false), (loaded.Runs, loaded.Disposed));
        Assert.Equal(new[] { "during the first run" }, first.Messages);
        Assert.Equal("during the second run", second.Messages[^1]);

        // Other settings, or another folder their paths resolve against: a model of its own, and the kept one goes.
        using (models.Lease(Use(6), "/r", _ => new Model(), second)) { }
        Assert.True(loaded.Disposed);
        Model? other = null;
        using (models.Lease(Use(6), "/elsewhere", _ => other = new Model(), second)) { }
        models.Dispose();
        Assert.True(other!.Disposed);
    }

    [Fact]
    public void The_kept_model_is_what_the_next_run_of_its_settings_is_checked_against_without_describing_it_again()
    {
        using var models = new LoadedModels();
        Assert.Null(models.KeptInfo(Use(4), "/r"));
        var kept = new Model();
        using (models.Lease(Use(4), "/r", _ => kept, new Log())) { }
        Assert.Same(kept.Info, models.KeptInfo(Use(4), "/r"));
        // Another setting or folder loads a model of its own: nothing kept describes it.
        Assert.Null(models.KeptInfo(Use(6), "/r"));
        Assert.Null(models.KeptInfo(Use(4), "/elsewhere"));
        // One that cannot serve another run is not kept, so the next run describes its model anew.
        using (models.Lease(Use(6), "/r", _ => new Model(reusable: false), new Log())) { }
        Assert.Null(models.KeptInfo(Use(6), "/r"));
        Assert.Null(models.KeptInfo(Use(4), "/r"));
    }

    [Fact]
    public void A_model_that_cannot_serve_another_run_goes_with_its_run()
    {
        using var models = new LoadedModels();
        var model = new Model(reusable: false);
        using (models.Lease(Use(4), "/r", _ => model, new Log())) { }
        Assert.True(model.Disposed);
    }

    [Fact]
    public void A_run_on_a_kept_model_checks_its_sampler_against_that_model_without_describing_it_again()
    {
        var reader = new RecipeReader(TestPlugins.With("tests/TestPlugins/FaultyPlugins"));
        Recipe Read(string sampler) => reader.ReadText($"apiVersion: fifopipes/v1\nmodel: reusable-described-model\nprompt: rain\nframes: 3\nsampler: {sampler}\n",
            Path.Combine(Path.GetTempPath(), "kept.yaml")) ?? throw new InvalidOperationException(string.Join("; ", reader.Diagnostics.Select(d => d.Message)));
        static bool Loaded(IEnumerable<RunEvent> events) => events.Any(e => e is RunMessage { Text: "reusable-described-model loaded" });
        using var models = new LoadedModels();
        var adapter = Read("fifo").Model.Plugin.Create<IModelAdapter>();
        int Descriptions() => (int)adapter.GetType().GetProperty("Descriptions")!.GetValue(null)!;

        int before = Descriptions();
        Assert.True(Loaded(new VideoRun(Read("fifo"), models: models).Events()));
        Assert.Equal(before + 1, Descriptions());
        Assert.False(Loaded(new VideoRun(Read("fifo"), models: models).Events()));
        Assert.Equal(before + 1, Descriptions());
        // The kept model's own window (4 frames) refuses the stride, as its description would have, before a frame.
        var events = new List<RunEvent>();
        var misfit = Assert.Throws<FifoInputException>(() => { foreach (var e in new VideoRun(Read("{ use: gen-l-video, with: { stride: 5 } }"), models: models).Events()) events.Add(e); });
        Assert.Equal("gen-l-video sampler option 'stride': 5 is outside 1..4 (the model's window frames); windows must overlap or touch.", misfit.Message);
        Assert.Equal(before + 1, Descriptions());
        Assert.DoesNotContain(events, e => e is RunStarted);
    }
}
