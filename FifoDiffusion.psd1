@{
    RootModule           = 'artifacts/FifoDiffusion/FifoPipes.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0b6c1e-3f7a-4a39-9d61-2f1f4c0e7a11'
    Author               = 'FifoPipes'
    CompanyName          = 'FifoPipes'
    Copyright            = '(c) FifoPipes. MIT License.'
    Description          = 'Endless text-to-video with FIFO-Diffusion: stream generated frames through the PowerShell pipeline into MP4, GIF or PNG files. Built-in analytic model needs no download; VideoCrafter, zeroscope and Open-Sora Plan adapters load real checkpoints.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('module/FifoDiffusion.Format.ps1xml')
    CmdletsToExport      = @('New-FifoVideo', 'Export-FifoFrames', 'Invoke-FifoRecipe', 'Test-FifoRecipe', 'Get-FifoPlugin', 'Measure-FifoQuality', 'Save-FifoModel', 'Get-FifoModel', 'Remove-FifoModel', 'ConvertTo-FifoCheckpoint', 'Get-FifoProvenance')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('video', 'diffusion', 'FIFO-Diffusion', 'text-to-video', 'TorchSharp')
            ProjectUri = 'https://github.com/fifopipes/fifopipes'
        }
    }
}
