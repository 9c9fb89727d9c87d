# Reliability through the real pwsh: a run killed with SIGKILL resumes to the same frames, and runs in parallel
# runspaces give the frames they give one by one.
BeforeAll {
    . "$PSScriptRoot/Shared.ps1" -WorkPrefix 'fifo-reliability-'
    function script:NewRecipeFolder([string]$Name, [int]$Frames) {
        $folder = New-Item -ItemType Directory (Join-Path $Work $Name)
        @"
apiVersion: fifopipes/v1
model: { use: analytic, with: { height: 8, width: 8, channels: 2, frames: 4 } }
prompt: green aurora drifting slowly
frames: $Frames
seed: 11
sampler: { use: fifo, with: { partitions: 2 } }
snapshot: { path: run.snapshot, every: 10 }
sinks:
  - { path: frames, use: png }
  - path: video.mp4
"@ | Set-Content (Join-Path $folder 'run.yaml')
        $folder.FullName
    }
    function script:Hashes([string]$Folder) {
        Get-ChildItem $Folder -Filter *.png | Sort-Object Name | ForEach-Object { "$($_.Name) $((Get-FileHash $_.FullName -Algorithm SHA256).Hash)" }
    }
}

AfterAll {
    Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue
}

Describe 'A run killed with SIGKILL' {
    It 'resumes from its snapshot to the frames of an uninterrupted run' {
        $frames = 1000
        $whole = NewRecipeFolder 'whole' $frames
        Invoke-FifoRecipe (Join-Path $whole 'run.yaml') | Out-Null

        $crash = NewRecipeFolder 'crash' $frames
        $start = [Diagnostics.ProcessStartInfo]::new($Pwsh)
        foreach ($a in $PwshArgs + @('-NoProfile', '-NonInteractive', '-Command', "Import-Module '$Root/FifoDiffusion.psd1'; Invoke-FifoRecipe '$crash/run.yaml' | Out-Null")) { $start.ArgumentList.Add($a) }
        $start.RedirectStandardOutput = $true; $start.RedirectStandardError = $true
        $child = [Diagnostics.Process]::Start($start)
        # A slow start (pwsh and libtorch on a busy machine) gets time; a kill before the first snapshot would test nothing.
        $deadline = [DateTime]::UtcNow.AddSeconds(180)
        while (-not $child.HasExited -and [DateTime]::UtcNow -lt $deadline -and
               -not ((Test-Path "$crash/run.snapshot") -and @(Get-ChildItem "$crash/frames" -Filter *.png -ErrorAction SilentlyContinue).Count -ge 50)) {
            Start-Sleep -Milliseconds 10
        }
        $child.HasExited | Should -BeFalse -Because 'the run must still be going when it is killed'
        $child.Kill()   # SIGKILL: no finally block, no flush, no cleanup runs in the child
        $child.WaitForExit()
        $child.ExitCode | Should -Be 137
        "$crash/run.snapshot" | Should -Exist -Because 'the run is killed after its first snapshot, within 180 s'
        $written = @(Get-ChildItem "$crash/frames" -Filter *.png).Count
        $written | Should -BeLessThan $frames

        # ffmpeg outlives its parent, reads end-of-file on its stdin, flushes its encoder and closes the fragmented MP4.
        Get-Process ffmpeg -ErrorAction SilentlyContinue | Where-Object { $_.CommandLine -like "*$crash*" } |
            ForEach-Object { $_.WaitForExit(20000) | Out-Null }
        $interrupted = FrameCount "$crash/video.mp4"

        $files = Invoke-FifoRecipe (Join-Path $crash 'run.yaml') -Resume "$crash/run.snapshot" -Force
        $segment = $files | Where-Object Name -like 'video.from-*.mp4'
        $segment | Should -Not -BeNullOrEmpty -Because 'a resumed run continues the video in a new segment'
        $resumedFrom = [int]($segment.Name -replace '^video\.from-(\d+)\.mp4$', '$1')
        $resumedFrom | Should -BeGreaterThan 0
        $resumedFrom | Should -BeLessOrEqual $written

        Hashes "$crash/frames" | Should -Be (Hashes "$whole/frames")
        @(Get-ChildItem "$crash/frames" -Filter *.png).Count | Should -Be $frames
        Get-ChildItem $crash -Filter '*.staged' | Should -BeNullOrEmpty
        FrameCount $segment.FullName | Should -Be ($frames - $resumedFrom)
        $interrupted | Should -BeGreaterOrEqual $resumedFrom -Because 'the interrupted video keeps every frame it was sent before the snapshot'
        FrameCount "$whole/video.mp4" | Should -Be $frames
    }
}

Describe 'Runs in parallel runspaces' {
    It 'give the same frames as the same runs one by one' {
        $runs = 1..3 | ForEach-Object { @{ Seed = $_; Prompt = @('red fire rising', 'blue ocean moving right', 'purple nebula')[$_ - 1] } }
        $run = {
            param($Run, $Root)
            Import-Module "$Root/FifoDiffusion.psd1"
            New-FifoVideo $Run.Prompt -Frames 12 -Seed $Run.Seed -Partitions 2 -ModelOption @{ height = 8; width = 8; channels = 2; frames = 4 } |
                ForEach-Object { "$($Run.Seed):$($_.Index):" + [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($_.Pixels)) }
        }
        $oneByOne = foreach ($r in $runs) { & $run $r $Root }
        $runText = $run.ToString()   # script blocks are bound to their runspace; each parallel one rebuilds its own
        $parallel = $runs | ForEach-Object -Parallel {
            $body = [scriptblock]::Create($using:runText)
            & $body $_ $using:Root
        } -ThrottleLimit 3
        @($oneByOne).Count | Should -Be 36
        ($parallel | Sort-Object) | Should -Be ($oneByOne | Sort-Object)
        # Different seeds and prompts must differ, or the comparison above proves nothing.
        @($oneByOne | ForEach-Object { ($_ -split ':')[2] } | Sort-Object -Unique).Count | Should -Be 36
    }
}
