using FifoPipes.Abstractions;
using FifoPipes.Hosting.Plugins;
using FifoPipes.Tests.Parity;
using Xunit;

namespace FifoPipes.Tests.Hosting;

public sealed class PluginHostTests
{
    [Fact]
    public void The_built_in_plugins_load_with_their_metadata()
    {
        var host = TestPlugins.Host;
        Assert.Empty(host.Errors);
        Assert.Contains(host.Plugins, p => p is { Kind: PluginKind.Model, Name: "analytic" });
        Assert.Contains(host.Plugins, p => p is { Kind: PluginKind.Sampler, Name: "fifo" });
        foreach (var sink in new[] { "png", "gif", "mp4", "webm", "mkv" })
            Assert.Contains(host.Plugins, p => p.Kind == PluginKind.Sink && p.Name == sink);
        var fifo = host.Require(PluginKind.Sampler, "fifo");
        Assert.False(string.IsNullOrWhiteSpace(fifo.Description));
        Assert.Matches(@"^\d+\.\d+\.\d+", fifo.Version);
        var lookahead = Assert.Single(fifo.Options, o => o.Name == "lookahead");
        Assert.Equal(true, lookahead.Default);
        Assert.Equal("boolean", lookahead.TypeName);
        Assert.Equal("mp4", host.SinkForExtension(".MP4")!.Name);
    }

    [Fact]
    public void Plugins_live_in_their_own_load_context_sharing_the_contracts()
    {
        var analytic = TestPlugins.Host.Require(PluginKind.Model, "analytic").Create<IModelAdapter>();
        var context = System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(analytic.GetType().Assembly);
        Assert.IsType<PluginLoadContext>(context);
        // The plugin's view of the contracts is the host's very assembly, or the cast above would have failed.
        Assert.Same(typeof(IModelAdapter).Assembly, analytic.GetType().GetInterface(nameof(IModelAdapter))!.Assembly);
    }

    [Fact]
    public void A_third_party_plugin_is_found_in_an_extra_folder()
    {
        var host = PluginHost.Load(TestPlugins.Folder, new[] { TestPlugins.BuildOutput("examples/plugins/ContactSheetSink") });
        Assert.Empty(host.Errors);
        var sheet = host.Require(PluginKind.Sink, "contact-sheet");
        Assert.EndsWith("ContactSheetSink.dll", sheet.Source);
        Assert.Contains(sheet.Options, o => o.Name == "every");
    }

    [Fact]
    public void A_listed_folder_is_loaded_once_it_holds_a_plugin_and_once_only()
    {
        var sheetFolder = TestPlugins.BuildOutput("examples/plugins/ContactSheetSink");
        var builtLater = Path.Combine(Path.GetTempPath(), $"fifo-built-later-{Guid.NewGuid():N}");
        try
        {
            var first = PluginHost.Load(TestPlugins.Folder, new[] { builtLater });
            Assert.Single(first.Errors, e => e.Source == builtLater && e.Message.Contains("does not exist"));

            // Listed during the session; the same folder written two ways is one folder.
            var second = first.WithFolders(new[] { builtLater, sheetFolder + Path.DirectorySeparatorChar, sheetFolder });
            var sheet = second.Require(PluginKind.Sink, "contact-sheet");
            Assert.Same(first.Require(PluginKind.Sink, "gif"), second.Require(PluginKind.Sink, "gif"));
            Assert.Null(first.Find(PluginKind.Sink, "contact-sheet"));   // the earlier host, held by a run, is left as it was
            Assert.Single(second.Errors, e => e.Source == builtLater);   // tried again, said once
            Assert.DoesNotContain(second.Errors, e => e.Message.Contains("already loaded"));
            // Asked again with nothing changed (every command asks many times): not read again.
            Assert.Same(second, second.WithFolders(new[] { builtLater, sheetFolder }));

            // The plugin is built into the listed folder afterwards: the next command loads it, and nothing twice.
            Directory.CreateDirectory(builtLater);
            foreach (var file in Directory.GetFiles(TestPlugins.BuildOutput("examples/plugins/GaussianModel")))
                File.Copy(file, Path.Combine(builtLater, Path.GetFileName(file)));
            var third = second.WithFolders(new[] { builtLater, sheetFolder });
            Assert.NotNull(third.Find(PluginKind.Model, "example-gaussian"));
            Assert.Same(sheet, third.Require(PluginKind.Sink, "contact-sheet"));
            Assert.Empty(third.Errors);
            Assert.Same(third, third.WithFolders(new[] { builtLater, sheetFolder }));

            // No longer listed: left out with its errors; listed again: back as it was, not loaded again.
            var fourth = third.WithFolders(new[] { builtLater });
            Assert.Null(fourth.Find(PluginKind.Sink, "contact-sheet"));
            Assert.Same(sheet, fourth.WithFolders(new[] { builtLater, sheetFolder }).Require(PluginKind.Sink, "contact-sheet"));
        }
        finally
        {
            if (Directory.Exists(builtLater)) Directory.Delete(builtLater, recursive: true);
        }
    }

    [Fact]
    public void The_example_sink_leaves_the_interrupted_runs_sheet_to_a_resumed_run()
    {
        var host = PluginHost.Load(TestPlugins.Folder, new[] { TestPlugins.BuildOutput("examples/plugins/ContactSheetSink") });
        var factory = host.Require(PluginKind.Sink, "contact-sheet").Create<ISinkFactory>();
        var folder = Directory.CreateTempSubdirectory("fifo-sheet-").FullName;
        try
        {
            var sheet = Path.Combine(folder, "sheet.png");
            File.WriteAllText(sheet, "the interrupted run's sheet");
            var log = new Sampling.RecordingSink();
            // Resumed at frame 96, with -Force to get past the files the interrupted run left.
            using var sink = factory.Create(null, new SinkTarget(sheet, 8, Overwrite: true), new PluginContext(log, folder));
            for (long i = 96; i < 100; i++) sink.Write(new VideoFrame(i, 4, 2, new byte[24], "rain", 8, Guid.Empty));
            var written = Assert.Single(sink.Complete());

            Assert.Equal(Path.Combine(folder, "sheet.from-000096.png"), written);
            Assert.Equal("the interrupted run's sheet", File.ReadAllText(sheet));
            Assert.Contains(log.Warnings, w => w.Contains("starts at frame 96") && w.Contains("left as it is"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Failing_plugins_are_reported_by_name_and_the_rest_still_work()
    {
        // The faulty plugins' build output, without Ghost.dll: the ghostly model's dependency is missing.
        var folder = Directory.CreateTempSubdirectory("fifo-faulty-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TestPlugins.BuildOutput("tests/TestPlugins/FaultyPlugins")).Where(f => !f.Contains("Ghost")))
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            // A dangling link that looks like a plugin cannot even be opened; it is recorded, not fatal.
            var dangling = Path.Combine(folder, "Broken.dll");
            File.CreateSymbolicLink(dangling, Path.Combine(folder, "gone", "Broken.dll"));
            var host = PluginHost.Load(TestPlugins.Folder, new[] { folder, "/nonexistent/plugins" });

            Assert.NotNull(host.Find(PluginKind.Sink, "healthy-sink"));
            Assert.NotNull(host.Find(PluginKind.Model, "analytic"));
            Assert.Contains("FifoPipes.Sinks.Images", host.Require(PluginKind.Sink, "gif").Source);

            Assert.Contains(host.Errors, e => e.Name == "throwing-sink" && e.Message.Contains("refuses to start"));
            Assert.Contains(host.Errors, e => e.Name == "gif" && e.Message.Contains("already loaded"));
            Assert.Contains(host.Errors, e => e.Name == "ghostly-model" && e.Message.Contains("Ghost"));
            Assert.Contains(host.Errors, e => e.Source == "/nonexistent/plugins" && e.Message.Contains("does not exist"));
            Assert.Contains(host.Errors, e => e.Name == "mislabelled-sink" && e.Message.Contains("declare it PluginKind.Sink"));
            Assert.Null(host.Find(PluginKind.Sampler, "mislabelled-sink"));
            Assert.Contains(host.Errors, e => e.Name == "timed-sink" && e.Message.Contains("option 'duration' is a TimeSpan"));
            Assert.Contains(host.Errors, e => e.Source == dangling && e.Message.Contains("cannot be read"));
            // Exports written wrong cost only their own plugin, each with the attribute to write.
            Assert.Contains(host.Errors, e => e.Name == "product-exporting-sampler" &&
                e.Message.Contains("exports typeof(ISampler), which ProductExportingSamplerFactory does not implement; write [FifoPlugin(PluginKind.Sampler, \"product-exporting-sampler\", typeof(ISamplerFactory))]"));
            Assert.Contains(host.Errors, e => e.Message.Contains("FaultyPlugins.UnexportedSinkFactory implements ISinkFactory but is not exported, so it is not loaded; add [FifoPlugin(PluginKind.Sink, \"name\", typeof(ISinkFactory))]"));
            Assert.Contains(host.Errors, e => e.Message.Contains("FaultyPlugins.PlainExportModelAdapter has a plain [Export], which gives the host no kind or name; write [FifoPlugin(PluginKind.Model, \"name\", typeof(IModelAdapter))]"));
            Assert.NotNull(host.Find(PluginKind.Sampler, "misbehaving-sampler"));
            Assert.DoesNotContain(host.Errors, e => e.Message.Contains("SharedClock"));
            Assert.Contains(host.Errors, e => e.Name == "Contact Sheet!" && e.Message.Contains("use letters, digits, '-', '_' and '.'"));
            Assert.Contains(host.Errors, e => e.Name == "read-only-sink" && e.Message.Contains("its option 'Count' has no public setter"));

            var ex = Assert.Throws<FifoInputException>(() => host.Require(PluginKind.Model, "ghostly-model"));
            Assert.Contains("failed to load", ex.Message);
            Assert.Contains("analytic", ex.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    const string Faulty = "tests/TestPlugins/FaultyPlugins";

    [Fact]
    public void A_plugin_referencing_an_assembly_nothing_gives_it_is_reported_at_load_naming_it_and_the_fix()
    {
        // FaultyPlugins is built against Ghost, which its build output leaves out, as a build without EnableDynamicLoading leaves out NuGet packages.
        var host = TestPlugins.With(Faulty);
        var faulty = Path.Combine(TestPlugins.BuildOutput(Faulty), "FaultyPlugins.dll");
        var lacking = Assert.Single(host.Errors, e => e.Loaded);
        Assert.Equal((faulty, null), (lacking.Source, lacking.Name));
        Assert.Equal("references Ghost 1.0.0.0, which is neither in its folder nor shared by FifoPipes, so its code that uses it fails: " +
                     "build the plugin with <EnableDynamicLoading>true</EnableDynamicLoading>, which puts its NuGet dependencies into its build output, or copy Ghost.dll beside it",
            lacking.Message);
        // Its plugins still load (most never touch Ghost), and a recipe that uses one warns; one that loaded is no reason another is missing.
        var model = host.Require(PluginKind.Model, "ghost-loading-model");
        Assert.Equal($"The model 'ghost-loading-model' ({faulty}) {lacking.Message}.", Assert.Single(host.Warnings(model)));
        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(host);
        Assert.NotNull(reader.ReadText("apiVersion: fifopipes/v1\nmodel: ghost-loading-model\nprompt: rain\nframes: 5\n", Path.Combine(Path.GetTempPath(), "ghost.yaml")));
        Assert.Equal(host.Warnings(model), reader.Warnings);
        Assert.DoesNotContain("Ghost", host.WhyMissing("nowhere"));
    }

    [Fact]
    public void A_plugin_whose_dependencies_are_beside_it_shared_or_part_of_dotnet_is_not_reported()
    {
        var folder = Directory.CreateTempSubdirectory("fifo-with-ghost-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TestPlugins.BuildOutput(Faulty)).Append(Path.Combine(TestPlugins.BuildOutput("tests/TestPlugins/Ghost"), "Ghost.dll")))
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            var host = PluginHost.LoadFolders(new[] { folder });
            Assert.DoesNotContain(host.Errors, e => e.Loaded);
            Assert.Empty(host.Warnings(host.Require(PluginKind.Model, "ghost-loading-model")));
        }
        finally { Directory.Delete(folder, recursive: true); }
        // Every plugin that ships and every example references only the host's assemblies and .NET's.
        var all = PluginHost.Load(TestPlugins.Folder, new[] { "examples/plugins/ContactSheetSink", "examples/plugins/GaussianModel", "examples/plugins/ClipSampler" }.Select(TestPlugins.BuildOutput));
        Assert.Empty(all.Errors);
        Assert.All(all.Plugins, p => Assert.Empty(all.Warnings(p)));
    }

    [Fact]
    public void A_recipe_using_a_plugin_whose_namesake_was_ignored_warns_once_naming_both_and_the_fix()
    {
        var host = TestPlugins.With(Faulty);
        var gif = host.Require(PluginKind.Sink, "gif");
        var ignored = Path.Combine(TestPlugins.BuildOutput(Faulty), "FaultyPlugins.dll");
        var warning = $"The sink plugin 'gif' is the one loaded from {gif.Source}; another of that name, in {ignored}, is ignored. " +
                      "To use that one, rename it in its [FifoPlugin] attribute, or remove its folder from FIFOPIPES_PLUGIN_PATH if it is not meant to be used.";
        Assert.Equal(new[] { warning }, host.Warnings(gif));
        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(host);
        Assert.NotNull(reader.ReadText("apiVersion: fifopipes/v1\nprompt: rain\nframes: 5\nsinks: [ { path: a.gif }, { path: b.gif, use: gif } ]\n",
            Path.Combine(Path.GetTempPath(), "dup.yaml")));
        Assert.Equal(new[] { warning }, reader.Warnings);
        // A plugin without a namesake warns of nothing.
        reader = new FifoPipes.Hosting.Recipes.RecipeReader(host);
        Assert.NotNull(reader.ReadText("apiVersion: fifopipes/v1\nprompt: rain\nframes: 5\nsinks: [ { path: a.png } ]\n", Path.Combine(Path.GetTempPath(), "png.yaml")));
        Assert.Empty(reader.Warnings);
    }

    [Fact]
    public void A_folder_without_plugin_assemblies_points_at_its_build_output()
    {
        // The project folder of a plugin instead of the folder its build writes to.
        var project = Directory.CreateTempSubdirectory("fifo-project-").FullName;
        try
        {
            var output = Directory.CreateDirectory(Path.Combine(project, "bin", "Debug", "net8.0")).FullName;
            foreach (var file in Directory.GetFiles(TestPlugins.BuildOutput("tests/TestPlugins/FaultyPlugins"), "FaultyPlugins.dll"))
                File.Copy(file, Path.Combine(output, Path.GetFileName(file)));
            var host = PluginHost.LoadFolders(new[] { project });
            var error = Assert.Single(host.Errors);
            Assert.Contains("holds no plugin assembly", error.Message);
            Assert.Contains($"point FIFOPIPES_PLUGIN_PATH at the build output, '{output}'", error.Message);
        }
        finally { Directory.Delete(project, recursive: true); }
    }

    [Fact]
    public void A_plugin_path_entry_that_is_a_file_or_a_windows_list_says_what_to_give()
    {
        var dll = Path.Combine(TestPlugins.BuildOutput("tests/TestPlugins/FaultyPlugins"), "FaultyPlugins.dll");
        var host = PluginHost.LoadFolders(new[] { dll, "/one;/two" });
        Assert.Contains(host.Errors, e => e.Source == dll && e.Message.Contains($"is a file, not a plugin folder: give FIFOPIPES_PLUGIN_PATH the folder that holds it, '{Path.GetDirectoryName(dll)}'"));
        if (Path.PathSeparator != ';')
            Assert.Contains(host.Errors, e => e.Message.Contains($"separate the folders in FIFOPIPES_PLUGIN_PATH with '{Path.PathSeparator}' here, not ';'"));
    }

    [Fact]
    public void An_unknown_plugin_names_the_available_ones()
    {
        var ex = Assert.Throws<FifoInputException>(() => TestPlugins.Host.Require(PluginKind.Sampler, "magic"));
        Assert.Equal("UnknownPlugin", ex.ErrorId);
        Assert.Contains("fifo", ex.Message);
        Assert.Contains(PluginHost.PluginPathVariable, ex.Message);
        Assert.DoesNotContain("Did you mean", ex.Message);
        // Export-FifoFrames -Format, Measure-FifoQuality -Sampler and Get-FifoPlugin ask here too.
        Assert.Contains("No sink plugin named 'mp5'. Did you mean 'mp4'?", Assert.Throws<FifoInputException>(() => TestPlugins.Host.Require(PluginKind.Sink, "mp5")).Message);
        Assert.Contains("Did you mean 'fifo'?", Assert.Throws<FifoInputException>(() => TestPlugins.Host.Require(PluginKind.Sampler, "fifoo")).Message);
        // A name held whole in one plugin's (a third party's prefix), and a plugin given in another role.
        Assert.Contains("Did you mean 'gen-l-video'?", Assert.Throws<FifoInputException>(() => TestPlugins.Host.Require(PluginKind.Sampler, "l-video")).Message);
        var sampler = Assert.Throws<FifoInputException>(() => TestPlugins.Host.Require(PluginKind.Model, "fifo")).Message;
        Assert.StartsWith("No model plugin named 'fifo'. 'fifo' is a sampler plugin, not a model one.", sampler);
        Assert.DoesNotContain("Did you mean", sampler);
    }
}

/// <summary>A plugin built against other contracts is refused at load, saying which versions meet, not mid-run.</summary>
public sealed class PluginContractVersionTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("fifo-contract-version-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>A copy of the example sink whose reference to FifoPipes.Abstractions says <paramref name="major"/>.<paramref name="minor"/>.</summary>
    string SinkBuiltAgainst(ushort major, ushort minor) => SinkBuiltAgainst("FifoPipes.Abstractions", major, minor);

    /// <summary>A copy of the example sink whose reference to <paramref name="assembly"/> says <paramref name="major"/>.<paramref name="minor"/>.</summary>
    string SinkBuiltAgainst(string assembly, ushort major, ushort minor)
    {
        var source = Path.Combine(ParityCase.RepoRoot, "examples", "plugins", "ContactSheetSink", "bin", "Debug", "net8.0", "ContactSheetSink.dll");
        var plugin = Directory.CreateDirectory(Path.Combine(folder, $"{assembly}-v{major}.{minor}")).FullName;
        File.WriteAllBytes(Path.Combine(plugin, "ContactSheetSink.dll"), AssemblyReferences.Rewritten(File.ReadAllBytes(source), assembly, major, minor));
        return plugin;
    }

    /// <summary>The contracts this host has (FifoPipes.Abstractions' assembly version), so the cases follow a bump.</summary>
    static Version Host => typeof(PluginKind).Assembly.GetName().Version!;

    public static TheoryData<ushort, ushort, string> OtherContracts => new()
    {
        { (ushort)Host.Major, (ushort)(Host.Minor + 1), $"update FifoPipes, or build the plugin against FifoPipes.Abstractions {Host.Major}.{Host.Minor}" },
        { (ushort)(Host.Major + 1), 0, $"update FifoPipes, or build the plugin against FifoPipes.Abstractions {Host.Major}.{Host.Minor}" },
        { (ushort)(Host.Major - 1), 9, $"build the plugin against FifoPipes.Abstractions {Host.Major}.{Host.Minor}" },
    };

    [Theory]
    [MemberData(nameof(OtherContracts))]
    public void A_plugin_built_against_other_contracts_is_refused_naming_both_versions(ushort major, ushort minor, string fix)
    {
        var host = PluginHost.LoadFolders(new[] { SinkBuiltAgainst(major, minor) });
        Assert.Null(host.Find(PluginKind.Sink, "contact-sheet"));
        var error = Assert.Single(host.Errors);
        Assert.Contains($"was built against FifoPipes.Abstractions {major}.{minor}, and this FifoPipes has {Host.Major}.{Host.Minor}", error.Message);
        Assert.Contains(fix, error.Message);
    }

    [Fact]
    public void A_missing_plugin_points_at_the_files_that_did_not_load()
    {
        var host = PluginHost.LoadFolders(new[] { SinkBuiltAgainst((ushort)Host.Major, (ushort)(Host.Minor + 1)) });
        var ex = Assert.Throws<FifoInputException>(() => host.Require(PluginKind.Sink, "contact-sheet"));
        Assert.Contains($"ContactSheetSink.dll declares it and did not load: was built against FifoPipes.Abstractions {Host.Major}.{Host.Minor + 1}", ex.Message);

        var reader = new FifoPipes.Hosting.Recipes.RecipeReader(host);
        reader.ReadText("apiVersion: fifopipes/v1\nprompt: x\nframes: 2\nsampler: fifo\n", Path.Combine(folder, "r.yaml"));
        Assert.Contains(reader.Diagnostics, d => d.Path == "sampler.use" && d.Message.Contains("unknown sampler plugin 'fifo'. A plugin file or folder did not load"));
        // A sink named by 'use:' says the same, and where third-party plugins are looked for.
        reader = new FifoPipes.Hosting.Recipes.RecipeReader(host);
        reader.ReadText("apiVersion: fifopipes/v1\nprompt: x\nframes: 2\nsinks:\n  - { use: contact-sheet, path: s.png }\n", Path.Combine(folder, "r.yaml"));
        var sink = Assert.Single(reader.Diagnostics, d => d.Path == "sinks[0].use");
        Assert.Contains("unknown sink plugin 'contact-sheet'. /", sink.Message);
        Assert.Contains("ContactSheetSink.dll declares it and did not load: was built against", sink.Message);
        Assert.EndsWith("Third-party plugins are found in folders listed in FIFOPIPES_PLUGIN_PATH.", sink.Message);
    }

    [Fact]
    public void A_missing_plugin_names_the_file_that_declares_it_first_and_every_other_that_did_not_load_up_to_five()
    {
        var refused = SinkBuiltAgainst((ushort)Host.Major, (ushort)(Host.Minor + 1));
        var gone = Enumerable.Range(1, 3).Select(i => Path.Combine(folder, $"gone{i}")).ToList();
        var host = PluginHost.LoadFolders(gone.Take(2).Append(refused).Append(gone[2]));
        var message = Assert.Throws<FifoInputException>(() => host.Require(PluginKind.Sink, "contact-sheet")).Message;
        var declared = Path.Combine(refused, "ContactSheetSink.dll");
        Assert.Contains($"No sink plugin named 'contact-sheet'. {declared} declares it and did not load: was built against FifoPipes.Abstractions {Host.Major}.{Host.Minor + 1}", message);
        Assert.Contains($". 3 more plugin files or folders did not load: {gone[0]}: plugin folder does not exist (check FIFOPIPES_PLUGIN_PATH; a relative entry is taken from the process's working folder); " +
                        $"{gone[1]}: plugin folder does not exist", message);
        Assert.Contains($"{gone[2]}: plugin folder does not exist", message);

        // A name none declares: every one, in load order, up to five.
        var many = PluginHost.LoadFolders(Enumerable.Range(1, 7).Select(i => Path.Combine(folder, $"missing{i}")));
        var unknown = Assert.Throws<FifoInputException>(() => many.Require(PluginKind.Model, "newer")).Message;
        Assert.Contains($"7 plugin files or folders did not load, and it may be in one: {Path.Combine(folder, "missing1")}: ", unknown);
        Assert.Contains($"{Path.Combine(folder, "missing5")}: plugin folder does not exist (check FIFOPIPES_PLUGIN_PATH; a relative entry is taken from the process's working folder); and 2 more (Get-FifoPlugin lists them).", unknown);
        Assert.DoesNotContain("missing6", unknown);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 1)]
    [InlineData(1, 0)]
    public void A_plugin_built_against_the_hosts_contracts_or_an_older_minor_loads(ushort major, ushort minor) =>
        Assert.NotNull(PluginHost.LoadFolders(new[] { SinkBuiltAgainst(major, minor) }).Find(PluginKind.Sink, "contact-sheet"));

    /// <summary>The version of the host's copy of <paramref name="assembly"/>, the one a plugin gets.</summary>
    static Version HostCopy(string assembly) =>
        System.Reflection.AssemblyName.GetAssemblyName(Path.Combine(Path.GetDirectoryName(typeof(PluginKind).Assembly.Location)!, assembly + ".dll")).Version!;

    [Fact]
    public void A_plugin_built_against_a_newer_core_is_refused_as_one_built_against_newer_contracts()
    {
        var core = HostCopy("FifoPipes.Core");
        var host = PluginHost.LoadFolders(new[] { SinkBuiltAgainst("FifoPipes.Core", (ushort)core.Major, (ushort)(core.Minor + 1)) });
        Assert.Null(host.Find(PluginKind.Sink, "contact-sheet"));
        Assert.Contains($"was built against FifoPipes.Core {core.Major}.{core.Minor + 1}, and this FifoPipes has {core.ToString(2)}; update FifoPipes, or build the plugin against FifoPipes.Core {core.ToString(2)}",
            Assert.Single(host.Errors).Message);
    }

    [Fact]
    public void A_plugin_built_against_a_newer_library_than_the_host_ships_is_refused_naming_it()
    {
        // ImageSharp's assembly version is its major alone (2.0 for every 2.x): 3.0 is the next that can differ.
        var shipped = HostCopy("SixLabors.ImageSharp");
        var host = PluginHost.LoadFolders(new[] { SinkBuiltAgainst("SixLabors.ImageSharp", (ushort)(shipped.Major + 1), 0) });
        Assert.Null(host.Find(PluginKind.Sink, "contact-sheet"));
        Assert.Equal($"was built against SixLabors.ImageSharp {shipped.Major + 1}.0, and this FifoPipes ships {shipped.ToString(2)}, which its plugins share; " +
                     $"build the plugin against SixLabors.ImageSharp {shipped.ToString(2)}, or update FifoPipes to one that ships {shipped.Major + 1}.0",
            Assert.Single(host.Errors).Message);
    }

    [Fact]
    public void A_plugin_beside_a_library_built_against_a_newer_torchsharp_is_not_loaded_and_says_which()
    {
        // A library the plugin brings along (here the host's own TorchSharp.PyBridge, its reference rewritten) is held to the host's copies too.
        var plugin = SinkBuiltAgainst((ushort)Host.Major, (ushort)Host.Minor);
        var torch = HostCopy("TorchSharp");
        var bridge = Path.Combine(Path.GetDirectoryName(typeof(PluginKind).Assembly.Location)!, "TorchSharp.PyBridge.dll");
        File.WriteAllBytes(Path.Combine(plugin, "TorchSharp.PyBridge.dll"), AssemblyReferences.Rewritten(File.ReadAllBytes(bridge), "TorchSharp", (ushort)torch.Major, (ushort)(torch.Minor + 1)));
        var host = PluginHost.LoadFolders(new[] { plugin });
        Assert.Null(host.Find(PluginKind.Sink, "contact-sheet"));
        Assert.Contains(host.Errors, e => e.Source.EndsWith("TorchSharp.PyBridge.dll") && e.Message.StartsWith($"was built against TorchSharp {torch.Major}.{torch.Minor + 1}, and this FifoPipes ships {torch.ToString(2)}"));
        Assert.Contains(host.Errors, e => e.Source.EndsWith("ContactSheetSink.dll") && e.Message.StartsWith("not loaded: the library TorchSharp.PyBridge.dll beside it was refused"));
    }

    [Fact]
    public void A_plugin_built_against_an_older_major_of_a_library_the_host_ships_is_refused_naming_it()
    {
        var shipped = HostCopy("SixLabors.ImageSharp");
        var host = PluginHost.LoadFolders(new[] { SinkBuiltAgainst("SixLabors.ImageSharp", (ushort)(shipped.Major - 1), 0) });
        Assert.Equal($"was built against SixLabors.ImageSharp {shipped.Major - 1}.0, and this FifoPipes ships {shipped.ToString(2)}, which its plugins share; " +
                     $"build the plugin against SixLabors.ImageSharp {shipped.ToString(2)} (its new major may have dropped what the plugin calls)",
            Assert.Single(host.Errors).Message);
    }

    [Theory]
    [InlineData("TorchSharp", 0, 107, 0, 107, true)]
    [InlineData("TorchSharp", 0, 107, 0, 105, false)]
    [InlineData("TorchSharp", 0, 107, 0, 108, false)]
    [InlineData("SixLabors.ImageSharp", 2, 0, 3, 0, false)]
    [InlineData("SixLabors.ImageSharp", 2, 0, 1, 0, false)]
    [InlineData("System.Composition.Hosting", 10, 0, 8, 0, true)]
    [InlineData("System.Composition.Hosting", 10, 0, 10, 1, false)]
    [InlineData("YamlDotNet", 16, 0, 15, 0, true)]
    [InlineData("YamlDotNet", 16, 0, 17, 0, false)]
    [InlineData("FifoPipes.Core", 1, 0, 1, 1, false)]
    [InlineData("FifoPipes.Torch", 2, 0, 1, 0, false)]
    [InlineData("FifoPipes.Torch", 1, 4, 1, 2, true)]
    public void Libraries_plugins_build_against_keep_semantic_versioning_and_the_others_are_no_newer_than_the_hosts(string assembly, int hostMajor, int hostMinor, int major, int minor, bool compatible) =>
        Assert.Equal(compatible, ContractVersions.Compatible(assembly, new Version(hostMajor, hostMinor), new Version(major, minor)));

    [Theory]
    [InlineData(1, 0, 1, 0, true)]
    [InlineData(1, 3, 1, 2, true)]
    [InlineData(1, 2, 1, 3, false)]
    [InlineData(2, 0, 1, 0, false)]
    [InlineData(1, 0, 2, 0, false)]
    public void Contracts_keep_their_major_version_and_only_grow_within_it(int hostMajor, int hostMinor, int major, int minor, bool compatible) =>
        Assert.Equal(compatible, ContractVersions.Compatible(new Version(hostMajor, hostMinor), new Version(major, minor)));
}

/// <summary>Plugins "built against" other versions, made by rewriting a built one's reference instead of keeping old builds.</summary>
public static class AssemblyReferences
{
    /// <summary><paramref name="image"/> with its reference to <paramref name="assembly"/> saying <paramref name="major"/>.<paramref name="minor"/>.</summary>
    public static byte[] Rewritten(byte[] image, string assembly, ushort major, ushort minor)
    {
        var bytes = (byte[])image.Clone();
        using var pe = new System.Reflection.PortableExecutable.PEReader(new MemoryStream(image));
        var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var reference = metadata.AssemblyReferences.Single(h => metadata.GetString(metadata.GetAssemblyReference(h).Name) == assembly);
        // An AssemblyRef row starts with its major and minor version, two little-endian ushorts each.
        int row = System.Reflection.Metadata.Ecma335.MetadataTokens.GetRowNumber(reference);
        int offset = pe.PEHeaders.MetadataStartOffset
                     + System.Reflection.Metadata.Ecma335.MetadataReaderExtensions.GetTableMetadataOffset(metadata, System.Reflection.Metadata.Ecma335.TableIndex.AssemblyRef)
                     + (row - 1) * System.Reflection.Metadata.Ecma335.MetadataReaderExtensions.GetTableRowSize(metadata, System.Reflection.Metadata.Ecma335.TableIndex.AssemblyRef);
        BitConverter.TryWriteBytes(bytes.AsSpan(offset, 2), major);
        BitConverter.TryWriteBytes(bytes.AsSpan(offset + 2, 2), minor);
        return bytes;
    }
}
