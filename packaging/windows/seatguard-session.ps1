#Requires -Version 5.1
<#
.SYNOPSIS
    Runs the SeatGuard agent in the session of the person who logged on (started by the logon task).

.DESCRIPTION
    On the first start for this person, shows what SeatGuard records (the notice of
    "seatguard-agent status"), then runs the agent and waits for it, so that the task's
    restart-on-failure settings apply. Uses the windowless seatguard-agentw.exe when the build has it.

.PARAMETER AgentHome
    The agent home given to install.ps1.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string]$AgentHome
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$AppDir = Join-Path $PSScriptRoot 'agent'
$AgentExe = Join-Path $AppDir 'seatguard-agent.exe'
$WindowlessExe = Join-Path $AppDir 'seatguard-agentw.exe'

$Marker = Join-Path $env:LOCALAPPDATA 'SeatGuard\notice-shown'
$ShowNotice = -not (Test-Path -LiteralPath $Marker)
$Notice = ''
if ($ShowNotice) {
    $lines = @(& $AgentExe status --home $AgentHome 2>$null)
    $first = @()
    foreach ($line in $lines) {
        if ("$line" -eq '') { break }
        $first += "$line"
    }
    $Notice = $first -join "`r`n"
    if (-not $Notice) {
        $Notice = 'SeatGuard is installed on this PC for your employer''s customer-data protection policy.'
    }
}

$RunArgs = @('run', '--home', "`"$AgentHome`"")
if (Test-Path -LiteralPath $WindowlessExe) {
    $Agent = Start-Process -FilePath $WindowlessExe -ArgumentList $RunArgs -PassThru
} else {
    $Agent = Start-Process -FilePath $AgentExe -ArgumentList $RunArgs -WindowStyle Hidden -PassThru
}
$null = $Agent.Handle  # keeps the process handle, so that ExitCode is known after WaitForExit

if ($ShowNotice) {
    New-Item -ItemType Directory -Path (Split-Path -Parent $Marker) -Force | Out-Null
    Set-Content -LiteralPath $Marker -Value (Get-Date).ToUniversalTime().ToString('o')
    Add-Type -AssemblyName PresentationFramework
    [System.Windows.MessageBox]::Show($Notice, 'SeatGuard is running') | Out-Null
}

$Agent.WaitForExit()
exit $Agent.ExitCode
