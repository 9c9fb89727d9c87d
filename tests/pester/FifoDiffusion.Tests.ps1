# The module through the real pwsh: manifest, formats, help, plugins, the cmdlets end to end.
BeforeAll {
    . "$PSScriptRoot/Shared.ps1" -WorkPrefix 'fifo-pester-'
    $script:Tiny = @{ ModelOption = @{ height = 8; width = 8; channels = 2; frames = 4 }; Partitions = 2; Seed = 5 }
}

BeforeDiscovery {
    # The cmdlets whose help is checked, once each test: -ForEach is expanded before BeforeAll imports the module.
    $HelpCmdlets = @(
        @{ Name = 'New-FifoVideo' }, @{ Name = 'Export-FifoFrames' }, @{ Name = 'Invoke-FifoRecipe' },
        @{ Name = 'Test-FifoRecipe' }, @{ Name = 'Get-FifoPlugin' }, @{ Name = 'Save-FifoModel' }, @{ Name = 'Get-FifoModel' }, @{ Name = 'Remove-FifoModel' }, @{ Name = 'Get-FifoProvenance' },
        @{ Name = 'ConvertTo-FifoCheckpoint' }, @{ Name = 'Measure-FifoQuality' })
}

AfterAll {
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'The FifoDiffusion module' {
    It 'exports its cmdlets from the manifest' {
        $commands = (Get-Module FifoDiffusion).ExportedCmdlets.Keys | Sort-Object
        $commands | Should -Be @('ConvertTo-FifoCheckpoint', 'Export-FifoFrames', 'Get-FifoModel', 'Get-FifoPlugin', 'Get-FifoProvenance', 'Invoke-FifoRecipe', 'Measure-FifoQuality', 'New-FifoVideo', 'Remove-FifoModel', 'Save-FifoModel', 'Test-FifoRecipe')
    }

    It 'has help with examples for every cmdlet' -ForEach $HelpCmdlets {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match '^\s*New-|^\s*Export-|^\s*Invoke-|^\s*Test-|^\s*Get-|^\s*Save-|^\s*Remove-|^\s*ConvertTo-'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
    }

    It 'has help whose syntax and parameters match the cmdlets (scripts/update-help.ps1 rewrites them)' -ForEach $HelpCmdlets {
        . "$PSScriptRoot/HelpMetadata.ps1"
        $doc = [xml](Get-Content -Raw "$PSScriptRoot/../../en-US/FifoPipes.PowerShell.dll-Help.xml")
        $ns = [System.Xml.XmlNamespaceManager]::new($doc.NameTable)
        $ns.AddNamespace('maml', 'http://schemas.microsoft.com/maml/2004/10')
        $ns.AddNamespace('command', 'http://schemas.microsoft.com/maml/dev/command/2004/10')
        $entry = $doc.SelectSingleNode("//command:command[command:details/command:name='$Name']", $ns)
        function Described($node) {
            $value = $node.SelectSingleNode('command:parameterValue', $ns)
            '{0} required={1} position={2} pipeline={3} globbing={4} type={5}' -f $node.SelectSingleNode('maml:name', $ns).InnerText, $node.required,
                $node.position, $node.pipelineInput, $node.globbing, $(if ($value) { $value.InnerText } else { 'SwitchParameter' })
        }
        function Expected($p) { '{0} required={1} position={2} pipeline={3} globbing={4} type={5}' -f $p.Name, $p.Required.ToString().ToLowerInvariant(), $p.Position, $p.PipelineInput, $p.Globbing, $p.Type }
        $info = Get-Command $Name
        @($entry.SelectNodes('command:parameters/command:parameter', $ns) | ForEach-Object { Described $_ }) |
            Should -Be @(Get-HelpParameterMetadata $info | ForEach-Object { Expected $_ })
        $syntax = @($entry.SelectNodes('command:syntax/command:syntaxItem', $ns) | ForEach-Object { (@($_.SelectNodes('command:parameter', $ns) | ForEach-Object { Described $_ })) -join '; ' })
        $syntax | Should -Be @(Get-HelpSyntaxMetadata $info | ForEach-Object { (@($_ | ForEach-Object { Expected $_ })) -join '; ' })
        $ns.AddNamespace('dev', 'http://schemas.microsoft.com/maml/dev/2004/10')
        @($entry.SelectNodes('command:inputTypes/command:inputType/dev:type/maml:name', $ns).InnerText) | Should -Be @((Get-HelpInputTypes $info).Type)
        @($entry.SelectNodes('command:returnValues/command:returnValue/dev:type/maml:name', $ns).InnerText) | Should -Be @(Get-HelpReturnTypes $info)
        @(Get-HelpReturnTypes $info) | Should -Not -Contain 'System.Object' -Because "OutputType names what comes out"
    }

    It 'has help that describes every parameter of <Name> and its default (scripts/update-help.ps1 writes those the cmdlet sets)' -ForEach $HelpCmdlets {
        . "$PSScriptRoot/HelpMetadata.ps1"
        $initialised = Get-HelpDefaultValues (Get-Command $Name)
        foreach ($parameter in (Get-Help $Name -Full).parameters.parameter) {
            -join $parameter.description.Text | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a description"
            $parameter.defaultValue | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a Default value (None where it has none)"
            if ($initialised[$parameter.name]) {
                Test-HelpDefaultValue $parameter.defaultValue $initialised[$parameter.name] |
                    Should -BeTrue -Because "-$($parameter.name)'s Default value '$($parameter.defaultValue)' must begin with the $($initialised[$parameter.name]) its initialiser sets"
            }
        }
    }

    It 'has help whose related links for <Name> name cmdlets of the module, its about topic or docs that exist' -ForEach $HelpCmdlets {
        $root = "$PSScriptRoot/../.."
        $links = @((Get-Help $Name -Full).relatedLinks.navigationLink)
        $links | Should -Not -BeNullOrEmpty -Because 'every cmdlet names its related cmdlets'
        $others = (Get-Module FifoDiffusion).ExportedCmdlets.Keys | Where-Object { $_ -ne $Name }
        foreach ($link in $links) {
            if ($link.uri) { [uri]::IsWellFormedUriString($link.uri, 'Absolute') | Should -BeTrue -Because "'$($link.uri)' is opened by Get-Help -Online" }
            elseif ($link.linkText -like 'about_*') { "$root/en-US/$($link.linkText).help.txt" | Should -Exist }
            elseif ($link.linkText -like 'docs/*') { "$root/$($link.linkText)" | Should -Exist }
            else { $link.linkText | Should -BeIn $others -Because 'a related link names another cmdlet of this module' }
        }
    }

    It 'names every cmdlet in about_FifoDiffusion' {
        $about = Get-Content -Raw "$PSScriptRoot/../../en-US/about_FifoDiffusion.help.txt"
        foreach ($name in (Get-Module FifoDiffusion).ExportedCmdlets.Keys) { $about | Should -Match ([regex]::Escape($name)) }
    }

    It 'keeps its dependencies out of the default load context' {
        Get-FifoPlugin | Out-Null
        $default = [System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies.GetName().Name
        $default | Should -Not -Contain 'YamlDotNet'
        $default | Should -Not -Contain 'TorchSharp'
        $default | Should -Not -Contain 'FifoPipes.Hosting'
        [System.Runtime.Loader.AssemblyLoadContext]::All.Name | Should -Contain 'FifoDiffusion dependencies'
    }
}

Describe 'Tab completion' {
    It 'completes <Line> with <Expected>' -ForEach @(
        @{ Line = 'New-FifoVideo x -Model ana'; Expected = @('analytic') }
        @{ Line = 'New-FifoVideo x -Model videocrafter'; Expected = @('videocrafter', 'videocrafter1-1024', 'videocrafter1-512', 'videocrafter2') }
        @{ Line = 'New-FifoVideo x -Sampler f'; Expected = @('fifo', 'freenoise') }
        @{ Line = 'New-FifoVideo x -Device cu'; Expected = @('cuda', 'cuda:0', "'cuda:0,cuda:1'", 'cuda:1') }
        @{ Line = 'Export-FifoFrames x -Format m'; Expected = @('mkv', 'mp4') }
        @{ Line = 'Get-FifoPlugin -Kind Sink -Name '; Expected = @('gif', 'hls', 'mkv', 'mp4', 'png', 'stream', 'webm') }
        @{ Line = 'Save-FifoModel -Name zero'; Expected = @('zeroscope-576w', 'zeroscope-xl') }
        @{ Line = 'Measure-FifoQuality -Study '; Expected = @('analytic-quality') }
    ) {
        $completions = (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
        $completions.CompletionText | Should -Be $Expected
        $completions | ForEach-Object { $_.ToolTip | Should -Not -BeNullOrEmpty }
    }
}

Describe 'Get-FifoPlugin' {
    It 'lists the built-in plugins with metadata and options' {
        $plugins = Get-FifoPlugin
        $plugins.Name | Should -Contain 'analytic'
        $plugins.Name | Should -Contain 'fifo'
        foreach ($sink in 'png', 'gif', 'mp4', 'webm') { $plugins.Name | Should -Contain $sink }
        $fifo = Get-FifoPlugin fifo
        $fifo.Kind | Should -Be 'Sampler'
        $fifo.Version | Should -Match '^\d+\.\d+\.\d+'
        ($fifo.Options | Where-Object Name -eq 'lookahead').Default | Should -Be 'true'
    }

    It 'finds a third-party plugin through FIFOPIPES_PLUGIN_PATH' {
        $plugin = "$Root/examples/plugins/ContactSheetSink/bin/Debug/net8.0"
        Test-Path "$plugin/ContactSheetSink.dll" | Should -BeTrue
        $env:FIFOPIPES_PLUGIN_PATH = $plugin
        try {
            # A fresh process: a plugin once loaded stays for the process.
            $out = & $Pwsh @PwshArgs -NoProfile -Command "Import-Module '$Root/FifoDiffusion.psd1'; Get-FifoPlugin contact-sheet | ForEach-Object { `$_.Name + '|' + `$_.Source }"
        } finally { Remove-Item Env:FIFOPIPES_PLUGIN_PATH }
        $out | Should -Match '^contact-sheet\|.*ContactSheetSink\.dll$'
    }

    It 'warns that a model which does not describe itself leaves the sampler unchecked by Test-FifoRecipe -Model' {
        $faulty = "$Root/tests/TestPlugins/FaultyPlugins/bin/Debug/net8.0"
        Test-Path "$faulty/FaultyPlugins.dll" | Should -BeTrue
        $recipe = Join-Path $Work 'undescribed.yaml'
        Set-Content $recipe "apiVersion: fifopipes/v1`nmodel: broken-decoder-model`nprompt: rain`nframes: 4`n"
        $env:FIFOPIPES_PLUGIN_PATH = $faulty
        try {
            $out = & $Pwsh @PwshArgs -NoProfile -Command "Import-Module '$Root/FifoDiffusion.psd1'; `$ok = Test-FifoRecipe '$recipe' -Model -Quiet -WarningVariable w 3>`$null; 'ok:' + `$ok; `$w | ForEach-Object Message"
        } finally { Remove-Item Env:FIFOPIPES_PLUGIN_PATH }
        $out[0] | Should -Be 'ok:True'
        # FaultyPlugins.dll is built against Ghost.dll and ships without it: said first, as every command that uses its plugins says it.
        $out[1] | Should -BeLike "The model 'broken-decoder-model' (*FaultyPlugins.dll) references Ghost 1.0.0.0, which is neither in its folder nor shared by FifoPipes*EnableDynamicLoading*"
        $out[2] | Should -BeLike "The model 'broken-decoder-model' did not describe itself for these options before it loads*options of the sampler 'fifo' were not checked*"
    }

    It 'loads a folder added to FIFOPIPES_PLUGIN_PATH after the session''s first command' {
        $plugin = "$Root/examples/plugins/ContactSheetSink/bin/Debug/net8.0"
        $out = & $Pwsh @PwshArgs -NoProfile -Command "`$env:FIFOPIPES_PLUGIN_PATH = `$null; Import-Module '$Root/FifoDiffusion.psd1'; `$before = @(Get-FifoPlugin -Kind Sink).Name -contains 'contact-sheet'; `$env:FIFOPIPES_PLUGIN_PATH = '$plugin'; 'before:' + `$before; 'after:' + (Get-FifoPlugin contact-sheet).Name"
        $out | Should -Be @('before:False', 'after:contact-sheet')
    }

    It 'builds the example <Example> outside any checkout against the module''s own copies' -ForEach @(
        @{ Example = 'ContactSheetSink'; Name = 'contact-sheet' }
        @{ Example = 'ClipSampler'; Name = 'example-clips' }
        @{ Example = 'GaussianModel'; Name = 'example-gaussian' }
    ) {
        # As the README tells an author without a FifoPipes checkout: the example's sources alone, FifoModule set.
        $standalone = Join-Path $Work "standalone-$Example"
        New-Item -ItemType Directory $standalone | Out-Null
        Copy-Item "$Root/examples/plugins/$Example/*.cs", "$Root/examples/plugins/$Example/*.csproj" $standalone
        $built = & dotnet build $standalone "-p:FifoModule=$Root/artifacts/FifoDiffusion" -v q -nologo -clp:ErrorsOnly 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($built -join "`n")
        $plugin = Join-Path $standalone 'bin/Debug/net8.0'
        # Nothing of the host's is copied beside the plugin: the host's own copies are the ones loaded.
        @(Get-ChildItem $plugin -Filter *.dll).Name | Should -Be @("$Example.dll")
        $env:FIFOPIPES_PLUGIN_PATH = $plugin
        try {
            $out = & $Pwsh @PwshArgs -NoProfile -Command "Import-Module '$Root/FifoDiffusion.psd1'; Get-FifoPlugin $Name | ForEach-Object { `$_.Name + '|' + `$_.Source }"
        } finally { Remove-Item Env:FIFOPIPES_PLUGIN_PATH }
        $out | Should -Match "^$Name\|$([regex]::Escape((Join-Path $plugin "$Example.dll")))$"
    }

    It 'says once what to give when the example <Example> is built outside any checkout without FifoModule' -ForEach @(
        @{ Example = 'ContactSheetSink' }
        @{ Example = 'ClipSampler' }
        @{ Example = 'GaussianModel' }
    ) {
        # Not one compiler error per use of the contracts, as a copy without the setting gave.
        $standalone = Join-Path $Work "bare-$Example"
        New-Item -ItemType Directory $standalone | Out-Null
        Copy-Item "$Root/examples/plugins/$Example/*.cs", "$Root/examples/plugins/$Example/*.csproj" $standalone
        $built = @(& dotnet build $standalone -v q -nologo -clp:ErrorsOnly 2>&1 | Where-Object { $_ -cmatch ': error ' })
        $LASTEXITCODE | Should -Not -Be 0
        $built | Should -HaveCount 1 -Because ($built -join "`n")
        $built[0] | Should -Match "$Example is built outside a FifoPipes checkout.*-p:FifoModule="
    }
}

Describe 'Recipes' {
    # Broadcast recipes take their stream key from the environment, as a user sets it.
    BeforeAll {
        $script:savedStreamKey = $env:YOUTUBE_STREAM_KEY
        $env:YOUTUBE_STREAM_KEY = 'stand-in-key'
    }
    AfterAll { $env:YOUTUBE_STREAM_KEY = $script:savedStreamKey }

    It 'reports a typo with its line, the key and the valid keys' {
        $recipe = Join-Path $Work 'typo.yaml'
        "apiVersion: fifopipes/v1`nprompt: clouds`nframes: 10`nsampler: {use: fifo, with: {partitons: 4}}" | Set-Content $recipe
        $d = Test-FifoRecipe $recipe
        $d.Line | Should -Be 4
        $d.Path | Should -Be 'sampler.with.partitons'
        $d.ValidChoices | Should -Contain 'partitions'
        $d.Message | Should -Match "Did you mean 'partitions'"
        Test-FifoRecipe $recipe -Quiet | Should -BeFalse
        { Invoke-FifoRecipe $recipe -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidRecipe*'
        # PowerShell paths (a drive of the session's own) resolve as for any other cmdlet.
        New-PSDrive -Name fifotest -PSProvider FileSystem -Root $Work | Out-Null
        try { (Test-FifoRecipe fifotest:/typo.yaml).Line | Should -Be 4 }
        finally { Remove-PSDrive fifotest }
    }

    It 'asks the sinks of a valid recipe whether they could write, with -Sinks' {
        $folder = Join-Path $Work 'sink-check'
        New-Item -ItemType Directory $folder -Force | Out-Null
        Set-Content (Join-Path $folder 'taken.mp4') 'an earlier video'
        $port = FreePort
        $recipe = Join-Path $folder 'broadcast.yaml'
        "apiVersion: fifopipes/v1`nprompt: calm`nframes: 3`nsinks:`n  - path: taken.mp4`n  - path: fresh.gif`n  - path: rtmp://127.0.0.1:$port/live/check-secret" | Set-Content $recipe
        Test-FifoRecipe $recipe | Should -BeNullOrEmpty
        $problems = Test-FifoRecipe $recipe -Sinks
        $problems.Path | Should -Be @('sinks[0]', 'sinks[2]')
        $problems.Line | Should -Be @(5, 7)
        $problems[0].Message | Should -Match 'already exists'
        $problems[1].Message | Should -Match "Nothing accepts the stream at 127\.0\.0\.1:$port"
        ($problems.Message -join ' ') | Should -Not -Match 'check-secret'
        Test-FifoRecipe $recipe -Sinks -Quiet | Should -BeFalse
        Join-Path $folder 'fresh.gif' | Should -Not -Exist
    }

    It 'validates every example recipe' -ForEach (Get-ChildItem "$PSScriptRoot/../../examples/recipes/*.yaml" | ForEach-Object { @{ File = $_.FullName } }) {
        # Recipes for models whose weights are not here still must be valid up to their files.
        $problems = Test-FifoRecipe $File | Where-Object { $_.Message -notmatch 'does not exist' }
        $problems | Should -BeNullOrEmpty
    }

    It 'validates the recipe in <Source>' -ForEach (& {
        # Whole recipes (those with apiVersion) in the README, docs/ and about_FifoDiffusion; fragments are not recipes.
        $root = "$PSScriptRoot/../.."
        foreach ($file in @(Get-Item "$root/README.md") + @(Get-ChildItem "$root/docs" -Recurse -Filter *.md)) {
            $n = 0
            foreach ($block in [regex]::Matches((Get-Content -Raw $file.FullName), '(?ms)^```yaml\r?\n(.*?)^```')) {
                $n++
                if ($block.Groups[1].Value -match '(?m)^apiVersion:') { @{ Source = "$($file.Name) yaml block $n"; Yaml = $block.Groups[1].Value } }
            }
        }
        $about = Get-Content -Raw "$root/en-US/about_FifoDiffusion.help.txt"
        if ($about -match '(?ms)^RECIPES\r?\n(.*?)^\S') { @{ Source = 'about_FifoDiffusion RECIPES'; Yaml = $Matches[1] -replace '(?m)^    ', '' } }
    }) {
        $path = Join-Path $Work "documented-$([guid]::NewGuid()).yaml"
        Set-Content $path $Yaml
        # Models whose weights are not here are valid up to their files.
        $problems = Test-FifoRecipe $path | Where-Object { $_.Message -notmatch 'does not exist' }
        $problems | Should -BeNullOrEmpty
    }

    It 'runs a recipe into its sinks' {
        $recipe = Join-Path $Work 'run.yaml'
        @"
apiVersion: fifopipes/v1
model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
prompt: green aurora
frames: 6
sampler: { use: fifo, with: { partitions: 2 } }
sinks:
  - path: run.mp4
  - path: run.gif
"@ | Set-Content $recipe
        $files = Invoke-FifoRecipe $recipe
        $files.Name | Should -Be @('run.mp4', 'run.gif')
        FrameCount (Join-Path $Work 'run.mp4') | Should -Be 6
        FrameCount (Join-Path $Work 'run.gif') | Should -Be 6
    }

    It 'checks every recipe a wildcard matches, and takes a literal path as written' {
        $folder = New-Item -ItemType Directory (Join-Path $Work 'wild')
        'apiVersion: fifopipes/v1' + "`nframes: 0" | Set-Content (Join-Path $folder 'a.yaml')
        'apiVersion: fifopipes/v1' + "`nframes: 0" | Set-Content (Join-Path $folder 'b.yaml')
        'apiVersion: fifopipes/v1' + "`nprompt: fine`nframes: 4" | Set-Content -LiteralPath (Join-Path $folder '[odd].yaml')
        $results = Test-FifoRecipe (Join-Path $folder '*.yaml') -Quiet
        $results.Count | Should -Be 3
        @((Test-FifoRecipe (Join-Path $folder '?.yaml')).File | Select-Object -Unique | Split-Path -Leaf) | Should -Be @('a.yaml', 'b.yaml')
        Test-FifoRecipe -LiteralPath (Join-Path $folder '[odd].yaml') -Quiet | Should -BeTrue
        Get-Item -LiteralPath (Join-Path $folder '[odd].yaml') | Test-FifoRecipe -Quiet | Should -BeTrue
        Test-FifoRecipe (Join-Path $folder 'none*.yaml') -ErrorAction SilentlyContinue -ErrorVariable missing | Should -BeNullOrEmpty
        $missing[0].FullyQualifiedErrorId | Should -BeLike 'PathNotFound,*'
    }

    It 'runs the recipes piped to it one after another' {
        $folder = New-Item -ItemType Directory (Join-Path $Work 'piped')
        foreach ($name in 'one', 'two') {
            "apiVersion: fifopipes/v1`nmodel: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }`nprompt: $name`nframes: 3`nsampler: { use: fifo, with: { partitions: 2 } }`nsinks: [ { path: $name.gif } ]" |
                Set-Content (Join-Path $folder "$name.yaml")
        }
        $files = Get-ChildItem $folder -Filter *.yaml | Invoke-FifoRecipe
        $files.Name | Should -Be @('one.gif', 'two.gif')

        # A snapshot belongs to one recipe: the second piped recipe is refused, not resumed from it.
        Add-Content (Join-Path $folder 'one.yaml') "snapshot: { path: one.snapshot, every: 2 }"
        Invoke-FifoRecipe (Join-Path $folder 'one.yaml') -Force | Out-Null
        { Get-ChildItem $folder -Filter *.yaml | Invoke-FifoRecipe -Resume (Join-Path $folder 'one.snapshot') -Force } |
            Should -Throw -ErrorId 'ResumeWithSeveralRecipes,FifoPipes.PowerShell.Commands.InvokeFifoRecipeCommand'
        # -Resume is taken from the current location, as cmdlets take paths, and a missing one is the parameter's problem.
        { Invoke-FifoRecipe (Join-Path $folder 'one.yaml') -Resume 'no-such.snapshot' -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidParameter,FifoPipes.PowerShell.Commands.InvokeFifoRecipeCommand' -ExpectedMessage "*-Resume: *$(Join-Path (Get-Location) 'no-such.snapshot')*"
    }

    It 'reports a recipe that fails and still runs the rest, unless told to stop' {
        $folder = New-Item -ItemType Directory (Join-Path $Work 'batch')
        $valid = "apiVersion: fifopipes/v1`nmodel: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }`nframes: 3`nsampler: { use: fifo, with: { partitions: 2 } }"
        "$valid`nprompt: one`nsinks: [ { path: one.gif } ]`nseeed: 4" | Set-Content (Join-Path $folder 'one.yaml')
        "$valid`nprompt: two`nsinks: [ { path: two.gif } ]" | Set-Content (Join-Path $folder 'two.yaml')

        $files = Get-ChildItem $folder -Filter *.yaml | Invoke-FifoRecipe -ErrorAction SilentlyContinue -ErrorVariable failed
        $files.Name | Should -Be @('two.gif')
        $failed.Count | Should -Be 1
        $failed[0].FullyQualifiedErrorId | Should -BeLike 'InvalidRecipe*'
        $failed[0].TargetObject | Should -BeLike '*one.yaml'

        Remove-Item (Join-Path $folder 'two.gif')
        { Get-ChildItem $folder -Filter *.yaml | Invoke-FifoRecipe -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidRecipe*'
        Join-Path $folder 'two.gif' | Should -Not -Exist
    }
}

Describe 'New-FifoVideo | Export-FifoFrames' {
    It 'streams frames that format as one table row each' {
        $frames = New-FifoVideo 'slow purple nebula' -Frames 3 @Tiny
        $frames.Count | Should -Be 3
        $frames[2].Index | Should -Be 2
        $table = $frames | Out-String
        $table | Should -Match 'Index\s+Time\s+Size\s+Prompt'
        $table | Should -Match '\b2\s+00:00\.25\s+64x64\s+slow purple nebula'
    }

    It 'writes MP4 and GIF files with every frame' {
        $mp4 = Join-Path $Work 'out.mp4'; $gif = Join-Path $Work 'out.gif'
        $written = New-FifoVideo 'fire rising up' -Frames 7 @Tiny | Export-FifoFrames $mp4, $gif
        $written.FullName | Should -Be @($mp4, $gif)
        FrameCount $mp4 | Should -Be 7
        FrameCount $gif | Should -Be 7
        # They are the provider's items, as Get-Item gives them: the file view shows their size, and their folder heads it.
        $written[0].PSProvider.Name | Should -Be 'FileSystem'
        $table = $written | Out-String -Width 160
        $table | Should -Match "Directory: $([regex]::Escape($Work))"
        $table | Should -Match "\s$((Get-Item $gif).Length)\s+out\.gif"
        # So from another provider's location, and with wildcard characters in its name.
        Push-Location Env:
        try { $odd = New-FifoVideo 'fire rising up' -Frames 2 @Tiny | Export-FifoFrames ([IO.Path]::Combine($Work, 'a[1].gif')) }
        finally { Pop-Location }
        ($odd.PSProvider.Name, $odd.Name) | Should -Be @('FileSystem', 'a[1].gif')
    }

    It 'records in every written file how it was made, and Get-FifoProvenance reads it back' {
        $folder = Join-Path $Work 'provenance'
        New-FifoVideo 'fire rising up' -Frames 2 @Tiny | Export-FifoFrames (Join-Path $folder 'p.webm'), (Join-Path $folder 'frames') | Out-Null
        $records = Get-ChildItem $folder | Get-FifoProvenance
        $records.Count | Should -Be 2
        @($records.RunHash | Select-Object -Unique).Count | Should -Be 1
        $records[0].Settings['prompts[0]'] | Should -Be 'fire rising up|2'
        $records[0].Recipe | Should -Match "(?m)^seed: 5$"
        # The prompt shows in a console 80 columns wide.
        $table = $records | Out-String -Width 80
        $table | Should -Match 'File\s+Model\s+Seed\s+Frames\s+Prompt'
        $table | Should -Match "p\.webm\s+analytic\s+5\s+0-1 of 2\s+fire rising up"
        ($records | Format-List | Out-String) | Should -Match "RunHash\s+: $($records[0].RunHash)"
        # The table's columns are properties, for Select-Object and Where-Object.
        $picked = @($records | Where-Object File -eq 'p.webm' | Select-Object File, Model, Seed, Prompt, Frames)
        $picked.Count | Should -Be 1
        $picked[0].File, $picked[0].Model, $picked[0].Seed, $picked[0].Prompt, $picked[0].Frames | Should -Be 'p.webm', 'analytic', 5, 'fire rising up', 2
        @($records | Where-Object Seed -eq 5).Count | Should -Be 2
    }

    It 'shows in its provenance table the frames a file holds of those its run planned, and how far a snapshot got' {
        $folder = Join-Path $Work 'provenance-stopped'
        $snapshot = Join-Path $folder 's.snapshot'
        New-FifoVideo 'fire rising up' -Frames 16 @Tiny -SnapshotPath $snapshot -SnapshotEvery 2 | Select-Object -First 3 | Export-FifoFrames (Join-Path $folder 's.mp4') | Out-Null
        $table = Get-FifoProvenance (Join-Path $folder 's.mp4'), $snapshot | Out-String -Width 140
        $table | Should -Match 's\.mp4\s+analytic\s+5\s+0-2 of 16\s+fire rising up'
        # The snapshot after frame 3 waits for frames the stopped run never handed over.
        $table | Should -Match 's\.snapshot\s+analytic\s+5\s+after 2 of 16\s+fire rising up'
    }

    It 'shows a PNG sequence in its provenance table as its folder, with the frames it lacks' {
        $folder = Join-Path $Work 'provenance-gaps'
        New-FifoVideo 'fire rising up' -Frames 12 @Tiny | Export-FifoFrames $folder | Out-Null
        ((Get-FifoProvenance $folder | Out-String -Width 140) -split "`n") -match 'analytic' | Should -Match '^provenance-gaps\s+analytic\s+5\s+0-11 of 12\s+fire rising up'
        Remove-Item (Join-Path $folder 'frame_00000[3-5].png')
        $table = Get-FifoProvenance $folder -WarningVariable w 3>$null | Out-String -Width 140
        $table | Should -Match 'provenance-gaps\s+analytic\s+5\s+9 of 12, gaps\s+fire rising up'
        $w.Message | Should -BeLike "*Frames 3-5 are missing*"
    }

    It 'shows in its provenance table how many frames a file holds where where they start cannot be read' {
        $folder = Join-Path $Work 'provenance-window'
        $playlist = Join-Path $folder 'w.m3u8'
        New-FifoVideo 'fire rising up' -Frames 24 @Tiny | Export-FifoFrames $playlist -Option @{ segment = 1; keep = 2 } | Out-Null
        (Get-FifoProvenance $playlist | Out-String -Width 140) | Should -Match 'w\.m3u8\s+analytic\s+5\s+8-23 of 24\s+fire rising up'
        # The first listed segment's decode time made a box readers skip: its frames still count, their place in the run is unknown.
        $segment = Join-Path $folder (Get-Content $playlist | Where-Object { $_ -like '*.m4s' } | Select-Object -First 1)
        $bytes = [IO.File]::ReadAllBytes($segment)
        [Text.Encoding]::ASCII.GetBytes('free').CopyTo($bytes, [Text.Encoding]::ASCII.GetString($bytes).IndexOf('tfdt'))
        [IO.File]::WriteAllBytes($segment, $bytes)
        $record = Get-FifoProvenance $playlist
        $record.FirstFrame | Should -BeNullOrEmpty
        ($record | Out-String -Width 140) | Should -Match 'w\.m3u8\s+analytic\s+5\s+16 frames of 24\s+fire rising up'
    }

    It 'restyles a video frame by frame, at a size given in pixels' {
        $source = Join-Path $Work 'restyle-source.gif'
        New-FifoVideo 'red fire rising' -Frames 6 -Fps 12 @Tiny | Export-FifoFrames $source | Out-Null
        $frames = New-FifoVideo 'calm blue ocean' -Source $source -Strength 0.5 -Width 96 -Height 32 -ModelOption @{ channels = 2; frames = 4 } -Partitions 2 -Seed 5
        # Without -Frames the prompt covers the source's 6 frames, at its rate and the size asked for.
        $frames.Count | Should -Be 6
        $frames[0].Width, $frames[0].Height | Should -Be 96, 32
        [math]::Round($frames[0].Fps) | Should -Be 12
        { New-FifoVideo 'calm blue ocean' -Source $source -Frames 7 @Tiny } | Should -Throw -ErrorId 'InvalidParameter*'
    }

    It 'turns the video to a prompt written to its -LivePrompt file while it runs' {
        $file = Join-Path $Work 'steer.txt'
        # Taken once it has read the same for 0.2 s: the pipeline takes its time after writing it, as a viewer would.
        $frames = New-FifoVideo 'calm blue ocean' -Frames 60 @Tiny -LivePrompt $file | ForEach-Object {
            if ($_.Index -eq 10) { "# the stream's prompt`nred fire rising" | Set-Content $file }
            if ($_.Index -ge 10) { Start-Sleep -Milliseconds 30 }
            $_
        }
        $frames.Count | Should -Be 60
        $frames[0].Prompt | Should -Be 'calm blue ocean'
        $frames[-1].Prompt | Should -Be 'red fire rising'
        # The frames made before the file changed keep their prompt.
        $frames[0..10].Prompt | Should -Not -Contain 'red fire rising'
    }

    It 'keeps every frame made so far when the pipeline is stopped early' {
        $gif = Join-Path $Work 'first.gif'
        # Select-Object -First stops New-FifoVideo upstream of the sink, as Ctrl+C would stop the run.
        New-FifoVideo 'ocean' -Frames 100000 @Tiny | Select-Object -First 4 | Export-FifoFrames $gif | Out-Null
        FrameCount $gif | Should -Be 4
    }

    It 'finishes the file of a -PassThru export that a command further on stops early' {
        $gif = Join-Path $Work 'passed-on.gif'
        $kept = New-FifoVideo 'ocean' -Frames 100000 @Tiny | Export-FifoFrames $gif -PassThru | Select-Object -First 3
        $kept.Index | Should -Be @(0, 1, 2)
        FrameCount $gif | Should -Be 3
    }

    It 'lets a break downstream end its loop, not fail the run, and still finishes the file' {
        $gif = Join-Path $Work 'broken-off.gif'
        $seen = 0
        $Error.Clear()
        # A break in a ForEach-Object script block leaves the enclosing loop through the pipeline, as PowerShell's own commands let it.
        do { New-FifoVideo 'ocean' -Frames 100000 @Tiny | Export-FifoFrames $gif -PassThru | ForEach-Object { if (++$seen -ge 3) { break } } } while ($false)
        $seen | Should -Be 3
        FrameCount $gif | Should -Be 3
        do { New-FifoVideo 'ocean' -Frames 100000 @Tiny | ForEach-Object { break } } while ($false)
        $Error | Should -BeNullOrEmpty
    }

    It 'stops the frames coming under -WhatIf, which writes none' {
        $script:made = 0
        $written = New-FifoVideo 'ocean' -Frames 50 @Tiny | ForEach-Object { $script:made++; $_ } | Export-FifoFrames (Join-Path $Work 'whatif.gif') -WhatIf
        $written | Should -BeNullOrEmpty
        $script:made | Should -Be 1
        Join-Path $Work 'whatif.gif' | Should -Not -Exist
    }

    It 'streams live to an address, which no provider path resolves, with its key masked in every message' {
        $recorded = Join-Path $Work 'received.ts'
        $listener = [System.Net.Sockets.UdpClient]::new(0); $port = $listener.Client.LocalEndPoint.Port; $listener.Dispose()
        $server = Start-Process ffmpeg -ArgumentList '-v', 'error', '-i', "srt://127.0.0.1:${port}?mode=listener&tlpktdrop=0", '-c', 'copy', $recorded -PassThru -RedirectStandardError (Join-Path $Work 'server.log')
        $deadline = [DateTime]::Now.AddSeconds(20)
        while (-not ([System.Net.NetworkInformation.IPGlobalProperties]::GetIPGlobalProperties().GetActiveUdpListeners().Port -contains $port)) {
            if ([DateTime]::Now -gt $deadline) { throw "ffmpeg is not listening on $port" }
            Start-Sleep -Milliseconds 20
        }
        try {
            $messages = New-FifoVideo 'calm sea' -Frames 12 @Tiny | Export-FifoFrames "srt://127.0.0.1:${port}?streamid=pester-secret&tlpktdrop=0" -Option @{ silentAudio = $false } -Verbose 4>&1
            $server.WaitForExit(20000) | Should -BeTrue
        }
        finally { if (-not $server.HasExited) { $server.Kill() } }
        FrameCount $recorded | Should -Be 12
        # A stream leaves no file to emit, and its key shows in no message.
        @($messages | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }) | Should -BeNullOrEmpty
        ($messages.Message -join "`n") | Should -Match 'streamid=\*\*\*\*'
        ($messages.Message -join "`n") | Should -Not -Match 'pester-secret'
        # A server that takes no connection is refused before the run, in words that keep the key.
        $closedPort = FreePort
        $refused = { New-FifoVideo 'ocean' -Frames 2 @Tiny | Export-FifoFrames "rtmp://127.0.0.1:$closedPort/live2/pester-secret" } |
            Should -Throw -ErrorId 'StreamUnreachable*' -PassThru
        $refused.Exception.Message | Should -Match "127\.0\.0\.1:$closedPort/live2/\*\*\*\*"
        $refused.Exception.Message | Should -Not -Match 'pester-secret'

        # A recipe's stream, its key from the environment: -Verbose names the target of every output masked.
        $env:FIFO_PESTER_KEY = 'pester-secret'
        $recipe = Join-Path $Work 'udp.yaml'
        "apiVersion: fifopipes/v1`nmodel: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }`nprompt: calm`nframes: 3`n" +
            "sampler: { use: fifo, with: { partitions: 2 } }`nsinks:`n  - { path: 'udp://127.0.0.1:9/live/`${FIFO_PESTER_KEY}', with: { realtime: false } }" | Set-Content $recipe
        try { $said = Invoke-FifoRecipe $recipe -Verbose 4>&1 | Out-String }
        finally { Remove-Item Env:FIFO_PESTER_KEY }
        $said | Should -Match 'udp://127\.0\.0\.1:9/live/\*\*\*\*'
        $said | Should -Not -Match 'pester-secret'
    }

    It 'says with -Verbose how many windows it puts in each model call, measured from free memory' {
        $records = New-FifoVideo 'calm sea' -Frames 2 @Tiny -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($records.Message -join "`n") | Should -Match 'fifo: a call of 1 window took \d+ MiB at its peak with \d+ MiB available on cpu: 4 of 4 windows per model call'
    }

    It 'saves a frame as PNG, a relative path from the session''s location' {
        $png = Join-Path $Work 'one.png'
        (New-FifoVideo 'marble' -Frames 1 @Tiny).Save($png).Length | Should -BeGreaterThan 100
        Push-Location $Work
        try { $relative = (New-FifoVideo 'marble' -Frames 1 @Tiny).Save('relative.png') }
        finally { Pop-Location }
        $relative.FullName | Should -Be (Join-Path $Work 'relative.png')
        Test-Path (Join-Path $Work 'relative.png') | Should -BeTrue
        $savedHome = $env:HOME
        $env:HOME = $Work
        try { $tilde = (New-FifoVideo 'marble' -Frames 1 @Tiny).Save('~/tilde.png') }
        finally { $env:HOME = $savedHome }
        $tilde.FullName | Should -Be (Join-Path $Work 'tilde.png')
    }
}

Describe 'Output formats' {
    It 'shows quality points and stored models as one table row each' {
        $points = Measure-FifoQuality -Sampler fifo -Frames 16 -Option @{ streams = 2; height = 4; width = 4; windowFrames = 4; partitions = 2 }
        $table = $points | Out-String -Width 120
        $table | Should -Match 'Sampler\s+Position\s+Frechet\s+Power\s+Lag1Err\s+SeamErr\s+ms/frame'
        $table | Should -Match 'fifo\s+0\s+\d\.\d{4}\s+\d\.\d{3}'
        $models = Get-FifoModel -ListAvailable -Name videocrafter2 | Out-String -Width 120
        $models | Should -Match 'Name\s+Plugin\s+Complete\s+GB\s+Path'
        $models | Should -Match 'videocrafter2\s+videocrafter\s+(True|False)'
        # A preset not saved yet has no size to show (its files were never listed), rather than 0.00 GB.
        $stored = Get-FifoModel -ListAvailable -Name videocrafter2
        if (-not $stored.Complete -and @($stored.Files | Where-Object { $null -eq $_.Size }).Count -gt 0) { $stored.Size | Should -BeNullOrEmpty; $models | Should -Match 'videocrafter2\s+videocrafter\s+False\s+\?' }
    }

    It 'shows recipe problems under the recipe they are in' {
        $a = Join-Path $Work 'bad-a.yaml'; $b = Join-Path $Work 'bad-b.yaml'
        "apiVersion: fifopipes/v1`nprompt: a`nframes: 0`n" | Set-Content $a
        "apiVersion: fifopipes/v1`nprompt: b`nframes: 2`nseed: x`n" | Set-Content $b
        $table = Test-FifoRecipe $a, $b | Out-String -Width 160
        $table | Should -Match "Recipe: $([regex]::Escape($a))[\s\S]+frames must be at least 1[\s\S]+Recipe: $([regex]::Escape($b))[\s\S]+seed"
        # A problem of the whole file sits under that file, with no line 0; choices follow the message once, after a full stop.
        $missing = Join-Path $Work 'no-such.yaml'; $choice = Join-Path $Work 'choice.yaml'
        "apiVersion: fifopipes/v1`nprompt: a`nframes: 2`nsampler: { use: fifo, with: { step: euler } }`n" | Set-Content $choice
        $table = Test-FifoRecipe $missing, $choice | Out-String -Width 200
        $table | Should -Match "Recipe: $([regex]::Escape($missing))\s+Line\s+Col\s+Path\s+Message\s+-+\s+-+\s+-+\s+-+\s+\(file\)\s+recipe file"
        $table | Should -Match "'euler' is not one of the allowed values\. Valid: ddim, ddpm\."
        $table | Should -Not -Match 'ddim, ddpm Valid'
    }

    It 'shows plugin options and model files as one table row each' {
        $options = (Get-FifoPlugin fifo).Options | Out-String -Width 160
        $options | Should -Match 'Name\s+Type\s+Default\s+Allowed\s+Description'
        $options | Should -Match 'partitions\s+integer\?\s+unset\s+1\.\.64\s'
        # An integer option's limits are integers.
        $partitions = (Get-FifoPlugin fifo).Options | Where-Object Name -eq 'partitions'
        $partitions.Min, $partitions.Max | Should -Be 1, 64
        $partitions.Max | Should -BeOfType [long]
        ((Get-FifoPlugin fifo).Options | Where-Object Name -eq 'eta').Max | Should -BeOfType [double]
        $files = (Get-FifoModel -ListAvailable -Name videocrafter2).Files | Out-String -Width 160
        $files | Should -Match 'Present\s+MB\s+Repository\s+Name'
        $files | Should -Match '(True|False)\s+\S+\s+VideoCrafter/VideoCrafter2@main\s+model\.ckpt'
    }
}

Describe 'ConvertTo-FifoCheckpoint' {
    It 'converts a checkpoint in the module layout, where its engine loads from Dependencies/' {
        $source = Join-Path $Work 'tiny-vae.safetensors'
        $parity = if ($env:FIFOPIPES_PARITY_DIR) { $env:FIFOPIPES_PARITY_DIR } else { "$PSScriptRoot/../../../shared/parity" }
        Copy-Item (Join-Path $parity 'videocrafter/vae_decode_tiny/weights.safetensors') $source
        $converted = ConvertTo-FifoCheckpoint $source -Destination (Join-Path $Work 'tiny-vae-bf16.safetensors') -DType bfloat16
        $converted.Length | Should -BeGreaterThan 1000
        $converted.Length | Should -BeLessThan (Get-Item $source).Length
    }

    It 'names the copy of a safetensors source after its new precision, and asks for one when none is given' {
        $source = Join-Path $Work 'tiny-vae-copy.safetensors'
        $parity = if ($env:FIFOPIPES_PARITY_DIR) { $env:FIFOPIPES_PARITY_DIR } else { "$PSScriptRoot/../../../shared/parity" }
        Copy-Item (Join-Path $parity 'videocrafter/vae_decode_tiny/weights.safetensors') $source
        (ConvertTo-FifoCheckpoint $source -DType float16).Name | Should -Be 'tiny-vae-copy.float16.safetensors'
        { ConvertTo-FifoCheckpoint $source -ErrorAction Stop } | Should -Throw -ErrorId 'ConversionInPlace,FifoPipes.PowerShell.Commands.ConvertToFifoCheckpointCommand'
    }
}

Describe 'The module beside other versions of its dependencies' {
    It 'works in a session that already loaded another YamlDotNet and ImageSharp' {
        # Stand-ins with the real assembly names (version 0.0.0.0), loaded into the default context first, as another
        # module shipping its own YamlDotNet would. The module must use its private copies, not these.
        $fake = New-Item -ItemType Directory (Join-Path $Work 'other-module')
        Add-Type -TypeDefinition 'public static class RoslynLoaded { }'   # brings pwsh's own C# compiler in
        foreach ($name in 'YamlDotNet', 'SixLabors.ImageSharp') {
            $tree = [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree]::ParseText('[assembly: System.Reflection.AssemblyVersion("0.0.0.0")] namespace OtherModule { public static class Marker { } }')
            $references = [Microsoft.CodeAnalysis.MetadataReference[]]@([Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile([object].Assembly.Location))
            $options = [Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions]::new([Microsoft.CodeAnalysis.OutputKind]::DynamicallyLinkedLibrary)
            $file = [IO.File]::Create((Join-Path $fake "$name.dll"))
            try { $emitted = [Microsoft.CodeAnalysis.CSharp.CSharpCompilation]::Create($name, [Microsoft.CodeAnalysis.SyntaxTree[]]@($tree), $references, $options).Emit($file) }
            finally { $file.Dispose() }
            $emitted.Success | Should -BeTrue
        }
        $recipe = Join-Path $Work 'coexist.yaml'
        @"
apiVersion: fifopipes/v1
model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
prompt: calm blue ocean
frames: 3
sampler: { use: fifo, with: { partitions: 2 } }
sinks:
  - path: coexist.gif
"@ | Set-Content $recipe
        $script = @"
Add-Type -Path '$fake/YamlDotNet.dll'; Add-Type -Path '$fake/SixLabors.ImageSharp.dll'
Import-Module '$Root/FifoDiffusion.psd1'
`$null = Invoke-FifoRecipe '$recipe' -Force
[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'YamlDotNet', 'SixLabors.ImageSharp' } |
    ForEach-Object { `$_.GetName().Name + ' ' + `$_.GetName().Version + ' ' + [Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$_).Name }
"@
        $out = & $Pwsh @PwshArgs -NoProfile -NonInteractive -Command $script 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out | Out-String)
        FrameCount (Join-Path $Work 'coexist.gif') | Should -Be 3
        # Both versions of each are loaded, each in its own context.
        ($out | Where-Object { $_ -match '^YamlDotNet 0\.0\.0\.0 Default$' }) | Should -Not -BeNullOrEmpty
        ($out | Where-Object { $_ -match '^YamlDotNet [1-9]' -and $_ -notmatch 'Default$' }) | Should -Not -BeNullOrEmpty
        ($out | Where-Object { $_ -match '^SixLabors.ImageSharp [1-9]' -and $_ -notmatch 'Default$' }) | Should -Not -BeNullOrEmpty
    }
}
