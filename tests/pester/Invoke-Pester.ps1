# Runs the Pester suite with the Pester module restored from NuGet (build/tools/Tools.csproj), not the Gallery.
param([string]$ResultFile)
$ErrorActionPreference = 'Stop'
$packages = (dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
Import-Module (Join-Path $packages.Trim() 'pester/5.7.1/tools/Pester.psd1') -Force
$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$result = Invoke-Pester -Configuration $config
if ($ResultFile) { "$($result.PassedCount) $($result.FailedCount) $($result.SkippedCount)" | Set-Content $ResultFile }
exit ([int]($result.FailedCount -gt 0 -or $result.Result -ne 'Passed'))
