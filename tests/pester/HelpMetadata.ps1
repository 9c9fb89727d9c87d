# What a cmdlet's help must say about its parameters, read from the cmdlet itself. Shared by scripts/update-help.ps1
# (which writes it into the help file) and the Pester test that checks the help file against it.

$script:NotInHelp = [System.Management.Automation.PSCmdlet]::CommonParameters

function Get-HelpTypeName([type]$type) {
    if ($type.IsArray) { return (Get-HelpTypeName $type.GetElementType()) + '[]' }
    $underlying = [Nullable]::GetUnderlyingType($type)
    if ($underlying) { $type = $underlying }
    switch ($type.FullName) {
        'System.String' { 'string' } 'System.Int32' { 'int' } 'System.Int64' { 'long' } 'System.Double' { 'double' }
        'System.Boolean' { 'bool' } 'System.Collections.Hashtable' { 'hashtable' }
        'System.Management.Automation.SwitchParameter' { 'SwitchParameter' }
        default { $type.Name }
    }
}

function Get-HelpPipelineInput([bool]$byValue, [bool]$byName) {
    if ($byValue -and $byName) { 'True (ByValue, ByPropertyName)' }
    elseif ($byValue) { 'True (ByValue)' }
    elseif ($byName) { 'True (ByPropertyName)' }
    else { 'False' }
}

# Positional parameters first, by position, then the named ones in the cmdlet's order, as Get-Command -Syntax lists
# them (a parameter a base class declares would otherwise come last).
function Get-HelpOrder($parameters) {
    $parameters | Sort-Object -Stable { if ($_.Position -eq 'named') { [int]::MaxValue } else { [int]$_.Position } }
}

# One entry per parameter for the help's parameter list: required only where every parameter set requires it, the
# lowest position any set gives it, pipeline input if any set takes it.
function Get-HelpParameterMetadata($info) {
    Get-HelpOrder @(foreach ($parameter in $info.Parameters.Values) {
        if ($parameter.Name -in $script:NotInHelp) { continue }
        $sets = @($parameter.ParameterSets.Values)
        $positions = @($sets.Position | Where-Object { $_ -ge 0 } | Sort-Object)
        [pscustomobject]@{
            Name = $parameter.Name
            Required = [bool](@($sets | Where-Object { -not $_.IsMandatory }).Count -eq 0)
            Position = if ($positions.Count -gt 0) { [string]$positions[0] } else { 'named' }
            PipelineInput = Get-HelpPipelineInput ([bool]($sets.ValueFromPipeline -contains $true)) ([bool]($sets.ValueFromPipelineByPropertyName -contains $true))
            Globbing = Get-HelpGlobbing $parameter
            Type = Get-HelpTypeName $parameter.ParameterType
            HelpMessage = @($sets.HelpMessage | Where-Object { $_ })[0]
        }
    })
}

# The syntax: for each parameter set, its parameters as that set binds them.
function Get-HelpSyntaxMetadata($info) {
    foreach ($set in $info.ParameterSets) {
        , @(Get-HelpOrder @(foreach ($parameter in $set.Parameters) {
            if ($parameter.Name -in $script:NotInHelp) { continue }
            [pscustomobject]@{
                Name = $parameter.Name
                Required = [bool]$parameter.IsMandatory
                Position = if ($parameter.Position -ge 0) { [string]$parameter.Position } else { 'named' }
                PipelineInput = Get-HelpPipelineInput $parameter.ValueFromPipeline $parameter.ValueFromPipelineByPropertyName
                Globbing = Get-HelpGlobbing $parameter
                Type = Get-HelpTypeName $parameter.ParameterType
            }
        }))
    }
}

# Parameters marked [SupportsWildcards] say so in the help (globbing).
function Get-HelpGlobbing($parameter) {
    ([bool]($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })).ToString().ToLowerInvariant()
}

# INPUTS: what the pipeline can bind, one entry per type, naming the parameters that take it.
function Get-HelpInputTypes($info) {
    $inputs = [ordered]@{}
    foreach ($parameter in $info.Parameters.Values) {
        if ($parameter.Name -in $script:NotInHelp) { continue }
        $sets = @($parameter.ParameterSets.Values)
        $type = $parameter.ParameterType
        if ($type.IsArray) { $type = $type.GetElementType() }
        $underlying = [Nullable]::GetUnderlyingType($type)
        if ($underlying) { $type = $underlying }
        if ($sets.ValueFromPipeline -contains $true) {
            $inputs[$type.FullName] = @($inputs[$type.FullName]) + "-$($parameter.Name)" | Where-Object { $_ }
        }
        if ($sets.ValueFromPipelineByPropertyName -contains $true) {
            $names = @($parameter.Name) + @($parameter.Aliases)
            $key = 'System.Management.Automation.PSObject'
            $inputs[$key] = @($inputs[$key]) + "-$($parameter.Name) (from a property $($names -join ' or '))" | Where-Object { $_ }
        }
    }
    foreach ($key in $inputs.Keys) { [pscustomobject]@{ Type = $key; Description = 'Binds ' + ($inputs[$key] -join ', ') + '.' } }
    if ($inputs.Count -eq 0) { [pscustomobject]@{ Type = 'None'; Description = 'Nothing is taken from the pipeline.' } }
}

# OUTPUTS: the types the cmdlet declares with [OutputType].
function Get-HelpReturnTypes($info) {
    @($info.OutputType.Name | Select-Object -Unique)
}

# The defaults the cmdlet's own property initialisers set, by parameter, as the help's Default value writes them: a
# switch is False, a value its initialiser gives (-SnapshotEvery 100) is that value. A null, empty string or empty array
# says nothing (a mandatory parameter, or a default that depends on the model or recipe, which the help says in words).
function Get-HelpDefaultValues($info) {
    $defaults = [ordered]@{}
    $instance = [Activator]::CreateInstance($info.ImplementingType)
    try {
        foreach ($parameter in $info.Parameters.Values) {
            if ($parameter.Name -in $script:NotInHelp) { continue }
            $property = $info.ImplementingType.GetProperty($parameter.Name)
            $value = if ($property) { $property.GetValue($instance) }
            # -WhatIf and -Confirm are PowerShell's, no property of the cmdlet: off, as every switch not given.
            if ($parameter.ParameterType -eq [System.Management.Automation.SwitchParameter]) { $defaults[$parameter.Name] = [string][bool]$value.IsPresent; continue }
            if ($null -eq $value -or $value -is [System.Collections.IDictionary]) { continue }
            $text = @(foreach ($item in @($value)) { [System.Convert]::ToString($item, [cultureinfo]::InvariantCulture) }) -join ', '
            if ($text) { $defaults[$parameter.Name] = $text }
        }
    }
    finally { if ($instance -is [System.IDisposable]) { $instance.Dispose() } }
    $defaults
}

# Whether a Default value in the help says what the initialiser sets: it may say more ('100, or the recipe's
# snapshot.every'), but it begins with that value.
function Test-HelpDefaultValue([string]$written, [string]$expected) {
    $written -match "^$([regex]::Escape($expected))(\W|$)"
}
