# The Debian packages the build needs, as listed in build/debian-packages.txt (also read by .ci/run and quoted by
# README.md): checked per task, installed with apt-get when run as root, otherwise the exact line to run is printed.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')

$ManifestPath = Join-Path $PSScriptRoot 'debian-packages.txt'
$script:AptUpdated = $false
$script:Manifest = $null

# The concerns a package can be for (the manifest's third column), and the tasks that need them.
$Concerns = [ordered]@{
    assets    = 'fetch-assets and every task that publishes'
    aot       = 'publish (Native AOT for this machine)'
    cross     = 'publish, package for an arm64 board; test'
    package   = 'package; test'
    unit      = 'unit, test'
    emulation = 'test (the emulated boards)'
    python    = 'test (the Python client)'
    reference = 'unit, test (the PyTorch reference in tools/bitnet)'
    fuzz      = 'fuzz; test (the bounded fuzz run)'
    bench     = 'bench-quantize (text lines for the OCR classifier)'
    retrain   = 'retraining the pipeline models'
}

# The manifest's rows: Package, Check ('command:NAME' or 'path:/file'), For (concerns), Why.
function Get-DebianPackages {
    if ($script:Manifest) { return $script:Manifest }
    $rows = foreach ($line in Get-Content $ManifestPath) {
        if ($line -match '^\s*(#|$)') { continue }
        $fields = $line.Trim() -split '\s+', 4
        if ($fields.Count -lt 4 -or $fields[1] -notmatch '^(command|path):\S+$') {
            throw "build/debian-packages.txt: cannot read '$line' (want: package command:NAME|path:/file concerns why)."
        }
        $for = @($fields[2] -split ',')
        foreach ($concern in $for) {
            if (-not $Concerns.Contains($concern)) { throw "build/debian-packages.txt: '$($fields[0])' is for '$concern', which is none of: $($Concerns.Keys -join ', ')." }
        }
        [pscustomobject]@{ Package = $fields[0]; Check = $fields[1]; For = $for; Why = $fields[3] }
    }
    $script:Manifest = @($rows)
    return $script:Manifest
}

function Test-DebianPackage($Row) {
    $kind, $target = $Row.Check -split ':', 2
    if ($kind -eq 'command') { return [bool](Get-Command $target -CommandType Application -ErrorAction SilentlyContinue) }
    return (Test-Path -LiteralPath $target)
}

# Installs Debian packages as root, or stops with the line to run.
function Install-DebianPackage([string[]] $Package, [string] $What) {
    if (-not (Test-Root)) {
        throw "$What $(if (@($Package).Count -gt 1) { 'are' } else { 'is' }) missing. Install with:  sudo apt-get install -y $($Package -join ' ')"
    }
    Write-Host "installing Debian package $($Package -join ' ') (for $What)"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    if (-not $script:AptUpdated) {
        Invoke-Checked 'apt-get update' { apt-get update -qq } | Out-Host
        $script:AptUpdated = $true
    }
    # apt's progress goes to the console, not to the caller's pipeline: a function that installs a package and then
    # returns a value (Build-BitNetCppPeer returns a path) would otherwise return apt's lines with it.
    Invoke-Checked "apt-get install $($Package -join ' ')" { apt-get install -y -qq --no-install-recommends @Package } | Out-Host
}

# Makes sure the named packages (-Package) or every package of the named concerns (-For) are installed.
function Assert-DebianPackages([string[]] $Package = @(), [string[]] $For = @()) {
    $all = Get-DebianPackages
    $rows = @($all | Where-Object { $Package -contains $_.Package -or @($_.For | Where-Object { $For -contains $_ }).Count -gt 0 })
    foreach ($name in $Package) {
        if (-not ($all.Package -contains $name)) { throw "Debian package '$name' is not in build/debian-packages.txt; add it there (and to README.md)." }
    }
    foreach ($concern in $For) {
        if (-not $Concerns.Contains($concern)) { throw "No Debian package concern '$concern' (known: $($Concerns.Keys -join ', '))." }
    }
    $missing = @($rows | Where-Object { -not (Test-DebianPackage $_) })
    if ($missing.Count -eq 0) { return }
    Install-DebianPackage $missing.Package (($missing | ForEach-Object { "'$($_.Check -replace '^(command|path):', '')'" }) -join ', ')
    $still = @($missing | Where-Object { -not (Test-DebianPackage $_) })
    if ($still.Count -gt 0) { throw "apt-get installed $($still.Package -join ', ') but $($still.Check -join ', ') is still missing: fix build/debian-packages.txt." }
}

# Cross-compiling Native AOT for linux-arm64 needs clang, the aarch64 binutils and C library, and llvm-objcopy.
function Assert-CrossToolchain([string] $Rid) {
    if (Test-HostRid $Rid) { return }
    if ($Rid -ne 'linux-arm64') { throw "No cross toolchain recipe for $Rid." }
    Assert-DebianPackages -For cross
}

# README.md's table of Debian packages as the manifest gives it.
function Get-ReadmePackageTable {
    $lines = @('| package | why | needed by |', '|---|---|---|')
    foreach ($row in Get-DebianPackages) { $lines += "| ``$($row.Package)`` | $($row.Why) | $(($row.For | ForEach-Object { $Concerns[$_] }) -join '; ') |" }
    return $lines -join "`n"
}

# Fails when README.md's table between its debian-packages markers differs from the manifest (the expected table
# is written to artifacts/ to paste in).
function Assert-ReadmeListsDebianPackages {
    $readme = (Get-Content (Join-Path $BuildRoot 'README.md') -Raw) -replace "`r`n", "`n"
    $expected = Get-ReadmePackageTable
    if ($readme -notmatch '(?s)<!-- debian-packages[^>]*-->\n(.*?)\n<!-- /debian-packages -->') {
        throw 'README.md has no <!-- debian-packages --> ... <!-- /debian-packages --> table; build/debian-packages.txt is quoted there.'
    }
    if ($Matches[1] -ne $expected) {
        $out = Join-Path $Artifacts 'README-debian-packages.md'
        New-Item -ItemType Directory -Force $Artifacts | Out-Null
        [System.IO.File]::WriteAllText($out, "$expected`n")
        throw "README.md's table of Debian packages differs from build/debian-packages.txt; the table it should have is in $out."
    }
}

Export-ModuleMember -Function Get-DebianPackages, Test-DebianPackage, Install-DebianPackage, Assert-DebianPackages, Assert-CrossToolchain, Get-ReadmePackageTable, Assert-ReadmeListsDebianPackages
