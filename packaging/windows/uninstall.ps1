#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Removes the SeatGuard agent that install.ps1 installed.

.DESCRIPTION
    Unregisters the logon task, stops running agents, removes the program folder and the browser
    extension policy. The agent home (enrollment and the sealed spool) is kept unless -Purge is given:
    events still in the spool have not reached the collector yet ("seatguard-agent status" shows how
    many), and -Purge deletes them.

.PARAMETER InstallDir
    Program folder given to install.ps1. Default: "$env:ProgramFiles\SeatGuard".

.PARAMETER AgentHome
    Agent home given to install.ps1. Default: "$env:ProgramData\SeatGuard\agent".

.PARAMETER ExtensionId
    The extension whose policy install.ps1 wrote (-ExtensionId); its entries are removed.

.PARAMETER Purge
    Also delete the agent home.

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File uninstall.ps1 -ExtensionId abcdefghijklmnopabcdefghijklmnop
#>
[CmdletBinding()]
param(
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'SeatGuard'),
    [string]$AgentHome = (Join-Path $env:ProgramData 'SeatGuard\agent'),
    [string]$ExtensionId = '',
    [switch]$Purge
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$TaskPath = '\SeatGuard\'
$TaskName = 'SeatGuard Agent'

function Write-Step([string]$Message) {
    Write-Host "seatguard-uninstall: $Message"
}

$Task = Get-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -ErrorAction SilentlyContinue
if ($Task) {
    Stop-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -ErrorAction SilentlyContinue
    Unregister-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Confirm:$false
    Write-Step "logon task $TaskPath$TaskName removed"
}

$AppDir = Join-Path $InstallDir 'agent'
Get-Process -Name 'seatguard-agent', 'seatguard-agentw' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -and $_.Path.StartsWith($AppDir, [System.StringComparison]::OrdinalIgnoreCase) } |
    Stop-Process -Force

if ($ExtensionId) {
    foreach ($Browser in @('Google\Chrome', 'Microsoft\Edge')) {
        $Base = "HKLM:\SOFTWARE\Policies\$Browser"
        $Forcelist = "$Base\ExtensionInstallForcelist"
        if (Test-Path -LiteralPath $Forcelist) {
            $values = Get-ItemProperty -Path $Forcelist
            foreach ($property in @($values.PSObject.Properties | Where-Object { $_.Name -match '^\d+$' })) {
                if ("$($property.Value)".StartsWith("$ExtensionId;")) {
                    Remove-ItemProperty -Path $Forcelist -Name $property.Name
                }
            }
        }
        $PolicyKey = "$Base\3rdparty\extensions\$ExtensionId"
        if (Test-Path -LiteralPath $PolicyKey) { Remove-Item -LiteralPath $PolicyKey -Recurse -Force }
    }
    Write-Step "browser policy for extension $ExtensionId removed"
}

if (Test-Path -LiteralPath $InstallDir) {
    Remove-Item -LiteralPath $InstallDir -Recurse -Force
    Write-Step "removed $InstallDir"
}
if ($Purge) {
    if (Test-Path -LiteralPath $AgentHome) { Remove-Item -LiteralPath $AgentHome -Recurse -Force }
    Write-Step "removed the agent home $AgentHome (enrollment and unsent events)"
} else {
    Write-Step "kept the agent home $AgentHome; -Purge removes it"
}
exit 0
