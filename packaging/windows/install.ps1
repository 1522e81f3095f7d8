#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Installs the SeatGuard agent for every user of this PC.

.DESCRIPTION
    Copies the frozen agent (the PyInstaller folder built on Windows by scripts/build-agent.sh) to
    Program Files, creates the agent home in ProgramData, pre-seeds agent.toml, enrolls the PC with a
    one-time token, and registers the scheduled task "\SeatGuard\SeatGuard Agent". The task starts at
    every logon, in the session of the person who logged on and with their (limited) rights, never as
    SYSTEM: the sensors need that person's desktop. On first start in a session the person is shown
    what SeatGuard records. Re-running the script upgrades the program and keeps the enrollment.

    Exit codes: 0 installed, 64 bad usage, 69 missing prerequisite, 70 enrollment failed.

.PARAMETER Source
    Folder of the frozen agent (holds seatguard-agent.exe). Default: seatguard-agent next to this script.

.PARAMETER InstallDir
    Program folder. Default: "$env:ProgramFiles\SeatGuard".

.PARAMETER AgentHome
    Agent home: agent.toml, enrollment, sealed spool. Default: "$env:ProgramData\SeatGuard\agent".

.PARAMETER Collector
    Collector base URL for enrollment, e.g. https://seatguard.example.com.

.PARAMETER Token
    One-time enrollment token (seatguard-collector enroll-token). Needs -Collector.

.PARAMETER Name
    Agent id to ask for (default: user.hostname of the installing account).

.PARAMETER ConfigFile
    agent.toml to pre-seed into the agent home (settings: packaging/CONFIG.md).

.PARAMETER CaFile
    The collector's CA bundle or pinned certificate (PEM); copied to the agent home, sets tls_verify.

.PARAMETER AgentUser
    Run the agent for this one account only (DOMAIN\user). Default: every member of the local Users group.

.PARAMETER ExtensionId
    Force-install the browser extension in Chrome and Edge by policy and hand it the agent's port and
    per-PC secret (packaging/browser-policy/README.md).

.PARAMETER ExtensionUpdateUrl
    Update URL of the extension (your update manifest, or the store's). Default: the Chrome Web Store.

.PARAMETER ExtensionPort
    Loopback port of the agent's extension bridge (the collector policy's extension port). Default 47533.

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File install.ps1 -Collector https://seatguard.example.com -Token sgt_0123 -CaFile .\collector-ca.pem
#>
[CmdletBinding()]
param(
    [string]$Source = (Join-Path $PSScriptRoot 'seatguard-agent'),
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'SeatGuard'),
    [string]$AgentHome = (Join-Path $env:ProgramData 'SeatGuard\agent'),
    [string]$Collector = '',
    [string]$Token = '',
    [string]$Name = '',
    [string]$ConfigFile = '',
    [string]$CaFile = '',
    [string]$AgentUser = '',
    [string]$ExtensionId = '',
    [string]$ExtensionUpdateUrl = 'https://clients2.google.com/service/update2/crx',
    [int]$ExtensionPort = 47533
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$TaskPath = '\SeatGuard\'
$TaskName = 'SeatGuard Agent'
$Utf8 = New-Object System.Text.UTF8Encoding($false)  # agent.toml must have no byte-order mark

function Write-Step([string]$Message) {
    Write-Host "seatguard-install: $Message"
}

function Stop-Install([int]$Code, [string]$Message) {
    Write-Error "seatguard-install: $Message" -ErrorAction Continue
    exit $Code
}

function Set-ForcelistEntry([string]$Key, [string]$Entry, [string]$Id) {
    # ExtensionInstallForcelist holds values "1", "2", ...: reuse this extension's value or take a free one.
    New-Item -Path $Key -Force | Out-Null
    $values = Get-ItemProperty -Path $Key
    $names = @($values.PSObject.Properties | Where-Object { $_.Name -match '^\d+$' })
    $taken = @($names | ForEach-Object { $_.Name })
    $mine = @($names | Where-Object { "$($_.Value)".StartsWith("$Id;") })
    if ($mine.Count -gt 0) {
        $slot = $mine[0].Name
    } else {
        $slot = 1
        while ($taken -contains "$slot") { $slot++ }
    }
    New-ItemProperty -Path $Key -Name "$slot" -Value $Entry -PropertyType String -Force | Out-Null
}

# ---- checks before anything is touched ------------------------------------------------------------
$InstallDir = $InstallDir.TrimEnd('\')  # a trailing backslash would escape the quote in the task's arguments
$AgentHome = $AgentHome.TrimEnd('\')
if ($Token -and -not $Collector) { Stop-Install 64 '-Token needs -Collector' }
if ($Collector -and -not $Token) { Stop-Install 64 '-Collector needs -Token' }
if ($ConfigFile -and -not (Test-Path -LiteralPath $ConfigFile -PathType Leaf)) { Stop-Install 64 "-ConfigFile ${ConfigFile}: no such file" }
if ($CaFile -and -not (Test-Path -LiteralPath $CaFile -PathType Leaf)) { Stop-Install 64 "-CaFile ${CaFile}: no such file" }
if ($CaFile -and $ConfigFile -and (Select-String -LiteralPath $ConfigFile -Pattern '^\s*tls_verify\s*=' -Quiet)) {
    Stop-Install 64 '-ConfigFile already sets tls_verify: give the CA in one place'
}
if ($ExtensionId -and $ExtensionId -notmatch '^[a-p]{32}$') { Stop-Install 64 '-ExtensionId must be 32 letters a-p' }
$SourceExe = Join-Path $Source 'seatguard-agent.exe'
if (-not (Test-Path -LiteralPath $SourceExe -PathType Leaf)) {
    Stop-Install 64 "$Source has no seatguard-agent.exe (build it on Windows with scripts/build-agent.sh)"
}

# ---- the program ------------------------------------------------------------------------------------
$AppDir = Join-Path $InstallDir 'agent'
$AgentExe = Join-Path $AppDir 'seatguard-agent.exe'
Get-Process -Name 'seatguard-agent', 'seatguard-agentw' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -and $_.Path.StartsWith($AppDir, [System.StringComparison]::OrdinalIgnoreCase) } |
    Stop-Process -Force
New-Item -ItemType Directory -Path $InstallDir -Force | Out-Null
$Staging = "$AppDir.new"
if (Test-Path -LiteralPath $Staging) { Remove-Item -LiteralPath $Staging -Recurse -Force }
Copy-Item -LiteralPath $Source -Destination $Staging -Recurse
if (Test-Path -LiteralPath $AppDir) { Remove-Item -LiteralPath $AppDir -Recurse -Force }
Move-Item -LiteralPath $Staging -Destination $AppDir
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'seatguard-session.ps1') -Destination $InstallDir -Force
Copy-Item -LiteralPath (Join-Path $PSScriptRoot 'uninstall.ps1') -Destination $InstallDir -Force
& $AgentExe --help | Out-Null
if ($LASTEXITCODE -ne 0) { Stop-Install 69 'the installed agent does not start' }
Write-Step "program installed in $InstallDir"

# ---- the agent home: owner-only for admins and SYSTEM, modify for the people it runs for -----------
if ($AgentUser) {
    $Grantee = $AgentUser
} else {
    $Grantee = '*S-1-5-32-545'  # BUILTIN\Users, by SID so that it works in every Windows language
}
New-Item -ItemType Directory -Path $AgentHome -Force | Out-Null
& icacls.exe $AgentHome /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' "${Grantee}:(OI)(CI)M" | Out-Null
if ($LASTEXITCODE -ne 0) { Stop-Install 69 "could not set permissions on $AgentHome" }

if ($ConfigFile -or $CaFile) {
    $toml = ''
    if ($ConfigFile) { $toml = [System.IO.File]::ReadAllText((Resolve-Path -LiteralPath $ConfigFile).Path) + "`n" }
    if ($CaFile) {
        $CaTarget = Join-Path $AgentHome 'collector-ca.pem'
        Copy-Item -LiteralPath $CaFile -Destination $CaTarget -Force
        $toml += "tls_verify = '$CaTarget'`n"  # TOML literal string: backslashes stay as they are
    }
    [System.IO.File]::WriteAllText((Join-Path $AgentHome 'agent.toml'), $toml, $Utf8)
    Write-Step "pre-seeded $AgentHome\agent.toml"
}

$Secret = ''
if ($ExtensionId) {
    $SecretFile = Join-Path $AgentHome 'extension-secret'
    if (Test-Path -LiteralPath $SecretFile) {
        $Secret = ([System.IO.File]::ReadAllText($SecretFile)).Trim()
    }
    if (-not $Secret) {
        $bytes = New-Object byte[] 32
        [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)
        $Secret = -join ($bytes | ForEach-Object { $_.ToString('x2') })
        [System.IO.File]::WriteAllText($SecretFile, "$Secret`n", $Utf8)
    }
}

if ($Collector) {
    if (Test-Path -LiteralPath (Join-Path $AgentHome 'enrollment.json')) {
        Write-Step "$AgentHome is already enrolled; keeping that enrollment (the token was not used)"
    } else {
        $enrollArgs = @('enroll', '--home', $AgentHome, '--collector', $Collector, '--token', $Token)
        if ($Name) { $enrollArgs += @('--name', $Name) }
        & $AgentExe @enrollArgs
        if ($LASTEXITCODE -ne 0) { Stop-Install 70 "enrollment with $Collector failed (see the message above)" }
    }
}
if (Test-Path -LiteralPath (Join-Path $AgentHome 'enrollment.json')) {
    & $AgentExe status --home $AgentHome
    if ($LASTEXITCODE -ne 0) { Stop-Install 69 "the installed agent cannot read $AgentHome" }
} else {
    Write-Step "not enrolled yet: run `"$AgentExe`" enroll --home `"$AgentHome`" --collector URL --token TOKEN"
}

# ---- the logon task: every user's own session, limited rights ----------------------------------------
$Session = Join-Path $InstallDir 'seatguard-session.ps1'
$Action = New-ScheduledTaskAction -Execute 'powershell.exe' -WorkingDirectory $InstallDir `
    -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -File `"$Session`" -AgentHome `"$AgentHome`""
if ($AgentUser) {
    $Trigger = New-ScheduledTaskTrigger -AtLogOn -User $AgentUser
    $Principal = New-ScheduledTaskPrincipal -UserId $AgentUser -LogonType Interactive -RunLevel Limited
} else {
    $Trigger = New-ScheduledTaskTrigger -AtLogOn
    $UsersGroup = (New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-545')).Translate(
        [System.Security.Principal.NTAccount]).Value
    $Principal = New-ScheduledTaskPrincipal -GroupId $UsersGroup -RunLevel Limited
}
$Settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -StartWhenAvailable `
    -ExecutionTimeLimit ([TimeSpan]::Zero) -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -MultipleInstances IgnoreNew
Register-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Action $Action -Trigger $Trigger `
    -Principal $Principal -Settings $Settings -Force `
    -Description 'SeatGuard agent: records work activity for the customer-data protection policy. Never hidden: run seatguard-agent status.' |
    Out-Null
Write-Step "logon task $TaskPath$TaskName registered; the agent starts at the next logon"

# ---- browser extension policy (Chrome and Edge) ---------------------------------------------------------
if ($ExtensionId) {
    foreach ($Browser in @('Google\Chrome', 'Microsoft\Edge')) {
        $Base = "HKLM:\SOFTWARE\Policies\$Browser"
        Set-ForcelistEntry -Key "$Base\ExtensionInstallForcelist" -Entry "$ExtensionId;$ExtensionUpdateUrl" -Id $ExtensionId
        $PolicyKey = "$Base\3rdparty\extensions\$ExtensionId\policy"
        New-Item -Path $PolicyKey -Force | Out-Null
        New-ItemProperty -Path $PolicyKey -Name 'port' -Value $ExtensionPort -PropertyType DWord -Force | Out-Null
        New-ItemProperty -Path $PolicyKey -Name 'secret' -Value $Secret -PropertyType String -Force | Out-Null
    }
    Write-Step "browser policy written for extension $ExtensionId (Chrome, Edge)"
}

Write-Step "installed; agent home $AgentHome"
exit 0
