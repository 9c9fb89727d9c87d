# Brings en-US/FifoPipes.PowerShell.dll-Help.xml in line with the cmdlets themselves: every parameter's required,
# position, pipeline input, wildcard support and type, a syntax block per parameter set, and the INPUTS (what the
# pipeline binds) and OUTPUTS ([OutputType]) sections, read from the loaded module's metadata. Parameter descriptions,
# examples and related links stay as written by hand. A Default value is the cmdlet's where a property initialiser sets
# one (a switch: False) and the hand-written one does not begin with it; a parameter with neither says None. Pester's
# help tests fail until this runs.
#   dotnet pwsh -NoProfile -File scripts/update-help.ps1        (after scripts/setup.sh has built the module)
param([string]$HelpFile = "$PSScriptRoot/../en-US/FifoPipes.PowerShell.dll-Help.xml")
$ErrorActionPreference = 'Stop'
Import-Module "$PSScriptRoot/../FifoDiffusion.psd1" -Force
. "$PSScriptRoot/../tests/pester/HelpMetadata.ps1"

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$doc = [xml](Get-Content -Raw $HelpFile)
$ns = [System.Xml.XmlNamespaceManager]::new($doc.NameTable)
$ns.AddNamespace('maml', $maml)
$ns.AddNamespace('command', $command)
$ns.AddNamespace('dev', $dev)

# The ShouldProcess parameters every cmdlet that writes files has, described once.
$StandardDescriptions = @{
    WhatIf  = 'Shows what would be written, and where, without writing anything.'
    Confirm = 'Asks before each output is written.'
}

function New-Element([string]$prefix, [string]$name, [string]$text) {
    $element = $doc.CreateElement($prefix, $name, $(switch ($prefix) { 'maml' { $maml } 'dev' { $dev } default { $command } }))
    if ($text) { $element.InnerText = $text }
    $element
}

function Set-ParameterAttributes($element, $expected) {
    $element.SetAttribute('required', $expected.Required.ToString().ToLowerInvariant())
    $element.SetAttribute('position', $expected.Position)
    $element.SetAttribute('pipelineInput', $expected.PipelineInput)
    $element.SetAttribute('globbing', $expected.Globbing)
}

foreach ($entry in $doc.SelectNodes('//command:command', $ns)) {
    $name = $entry.SelectSingleNode('command:details/command:name', $ns).InnerText
    $info = Get-Command $name
    $defaults = Get-HelpDefaultValues $info
    # Rebuilt in the cmdlet's own order: a parameter's hand-written description is carried over, a removed one's dropped.
    $parameters = $entry.SelectSingleNode('command:parameters', $ns)
    $written = @{}
    foreach ($node in @($parameters.SelectNodes('command:parameter', $ns))) {
        $written[$node.SelectSingleNode('maml:name', $ns).InnerText] = $node
        $parameters.RemoveChild($node) | Out-Null
    }
    foreach ($expected in Get-HelpParameterMetadata $info) {
        $node = $written[$expected.Name]
        if (-not $node) {
            $node = New-Element command parameter
            $node.AppendChild((New-Element maml name $expected.Name)) | Out-Null
            $description = New-Element maml description
            $text = $expected.HelpMessage ?? $StandardDescriptions[$expected.Name] ?? ''
            $description.AppendChild((New-Element maml para $text)) | Out-Null
            $node.AppendChild($description) | Out-Null
        }
        Set-ParameterAttributes $node $expected
        $value = $node.SelectSingleNode('command:parameterValue', $ns)
        if ($expected.Type -eq 'SwitchParameter') { if ($value) { $node.RemoveChild($value) | Out-Null } }
        else {
            if (-not $value) { $value = $node.AppendChild((New-Element command parameterValue)) }
            $value.SetAttribute('required', 'true')
            $value.InnerText = $expected.Type
        }
        # A hand-written Default value may say more than the initialiser ('100, or the recipe's snapshot.every') or say
        # what no initialiser can ('the model's'); one the initialiser contradicts is stale and replaced.
        $default = $node.SelectSingleNode('dev:defaultValue', $ns)
        $initialised = $defaults[$expected.Name]
        if ($initialised -and -not ($default -and (Test-HelpDefaultValue $default.InnerText $initialised))) {
            if ($default) { $node.RemoveChild($default) | Out-Null }
            $default = New-Element dev defaultValue $initialised
        }
        # As PowerShell's own help says it of a parameter that defaults to nothing, rather than a blank line.
        if (-not $default) { $default = New-Element dev defaultValue 'None' }
        # Last, after the parameterValue, where MAML readers look for it.
        $node.AppendChild($default) | Out-Null
        $parameters.AppendChild($node) | Out-Null
    }

    # INPUTS and OUTPUTS, after the parameters: what the pipeline binds, and the [OutputType]s.
    foreach ($section in 'inputTypes', 'returnValues') {
        $old = $entry.SelectSingleNode("command:$section", $ns)
        if ($old) { $entry.RemoveChild($old) | Out-Null }
    }
    $inputs = New-Element command inputTypes
    foreach ($type in Get-HelpInputTypes $info) {
        $item = New-Element command inputType
        $devType = $item.AppendChild((New-Element dev type))
        $devType.AppendChild((New-Element maml name $type.Type)) | Out-Null
        $description = $item.AppendChild((New-Element maml description))
        $description.AppendChild((New-Element maml para $type.Description)) | Out-Null
        $inputs.AppendChild($item) | Out-Null
    }
    $outputs = New-Element command returnValues
    foreach ($type in Get-HelpReturnTypes $info) {
        $item = New-Element command returnValue
        $devType = $item.AppendChild((New-Element dev type))
        $devType.AppendChild((New-Element maml name $type)) | Out-Null
        $outputs.AppendChild($item) | Out-Null
    }
    $entry.InsertAfter($outputs, $entry.InsertAfter($inputs, $parameters)) | Out-Null

    # One syntax item per parameter set, in the order PowerShell lists them.
    $old = $entry.SelectSingleNode('command:syntax', $ns)
    if ($old) { $entry.RemoveChild($old) | Out-Null }
    $syntax = New-Element command syntax
    foreach ($set in Get-HelpSyntaxMetadata $info) {
        $item = New-Element command syntaxItem
        $item.AppendChild((New-Element maml name $name)) | Out-Null
        foreach ($expected in $set) {
            $parameter = New-Element command parameter
            Set-ParameterAttributes $parameter $expected
            $parameter.AppendChild((New-Element maml name $expected.Name)) | Out-Null
            if ($expected.Type -ne 'SwitchParameter') {
                $value = New-Element command parameterValue $expected.Type
                $value.SetAttribute('required', 'true')
                $parameter.AppendChild($value) | Out-Null
            }
            $item.AppendChild($parameter) | Out-Null
        }
        $syntax.AppendChild($item) | Out-Null
    }
    $entry.InsertAfter($syntax, $entry.SelectSingleNode('maml:description', $ns)) | Out-Null

    # Related links are written by hand (which cmdlets and docs belong together is no metadata); they end the entry.
    $links = $entry.SelectSingleNode('maml:relatedLinks', $ns)
    if ($links) { $entry.AppendChild($links) | Out-Null }
    else { Write-Warning "$name has no maml:relatedLinks; write them by hand (Pester's help tests fail without them)." }
}

$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; Encoding = [System.Text.UTF8Encoding]::new($false) }
$writer = [System.Xml.XmlWriter]::Create((Resolve-Path $HelpFile).Path, $settings)
try { $doc.Save($writer) } finally { $writer.Dispose() }
Write-Host "Updated $HelpFile"
