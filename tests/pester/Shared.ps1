# Dot-sourced by every *.Tests.ps1 BeforeAll: the module, a scratch folder, the running pwsh and a frame counter.
param([string]$WorkPrefix)
$script:Root = (Resolve-Path "$PSScriptRoot/../..").Path
Import-Module "$Root/FifoDiffusion.psd1" -Force
$script:Work = Join-Path ([IO.Path]::GetTempPath()) ($WorkPrefix + [guid]::NewGuid())
New-Item -ItemType Directory $Work | Out-Null
# The running pwsh, whether installed or run as a local dotnet tool ("dotnet pwsh.dll").
$script:Pwsh = [Environment]::ProcessPath
$script:PwshArgs = @()
if ([IO.Path]::GetFileNameWithoutExtension($Pwsh) -eq 'dotnet') { $script:PwshArgs = @([Reflection.Assembly]::GetEntryAssembly().Location) }
function script:FrameCount([string]$Path) {
    # An MPEG-TS lists its streams again under its program: the first count is the stream's.
    [int](@(& ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 $Path) | Where-Object { $_ } | Select-Object -First 1)
}

# A loopback TCP port nothing listens on now (for a server to take, or for a connection to be refused).
function script:FreePort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}
