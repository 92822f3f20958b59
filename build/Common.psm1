# What every build module shares: the repository's folders, step headers, checked native commands, board profiles.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$BuildRoot = Split-Path $PSScriptRoot -Parent
$Artifacts = Join-Path $BuildRoot 'artifacts'
$Assets = Join-Path $Artifacts 'assets'

# Each step says how far into the task it starts, so a slow step shows in any log.
$script:TaskClock = [System.Diagnostics.Stopwatch]::StartNew()

function Write-Step([string] $Message) {
    Write-Host ""
    Write-Host ("==> {0}  [{1:mm\:ss}]" -f $Message, $script:TaskClock.Elapsed) -ForegroundColor Cyan
}

# Runs a native command and stops the build with a clear message when it fails.
function Invoke-Checked([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE)."
    }
}

function Test-Root { return ((& id -u) -eq '0') }

function Get-Sha256([string] $Path) { return (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant() }

# The board profile (boards/<name>/board.json) as an object; the daemon validates the same file strictly.
function Get-Board([string] $Name) {
    $path = Join-Path $BuildRoot "boards/$Name/board.json"
    if (-not (Test-Path $path)) {
        $known = (Get-ChildItem (Join-Path $BuildRoot 'boards') -Directory | Where-Object { Test-Path (Join-Path $_.FullName 'board.json') }).Name -join ', '
        throw "Unknown board '$Name' (known: $known)."
    }
    return Get-Content $path -Raw | ConvertFrom-Json
}

# A profile field that may be absent (strict mode refuses to read a missing property).
function Get-Optional($Object, [string] $Property) {
    $member = $Object.PSObject.Properties[$Property]
    if ($member) { return $member.Value }
    return $null
}

function Get-PublishDir([string] $Name) { return Join-Path $Artifacts "publish/$Name" }

function Test-HostRid([string] $Rid) { return $Rid -eq [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier }

# Tasks that run the board's binaries here need a board of this machine's architecture.
function Assert-HostBoard([string] $Name) {
    if (-not (Test-HostRid (Get-Board $Name).rid)) { throw "Board '$Name' is not this machine's architecture; its binaries run here only under emulation, in the test suite (build.ps1 test)." }
}

function Write-UnixFile([string] $Path, [string] $Text, [string] $Mode) {
    New-Item -ItemType Directory -Force (Split-Path $Path) | Out-Null
    [System.IO.File]::WriteAllText($Path, ($Text -replace "`r`n", "`n"))
    & chmod $Mode $Path
}

Export-ModuleMember -Function * -Variable BuildRoot, Artifacts, Assets
