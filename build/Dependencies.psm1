# Debian packages the build needs: installed with apt-get when run as root, otherwise the exact line to run is printed.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')

$script:AptUpdated = $false

# Makes sure a command from a Debian package is on PATH: installs it as root, else says exactly what to run.
function Assert-DebianPackage([string] $Command, [string] $Package) {
    if (Get-Command $Command -ErrorAction SilentlyContinue) { return }
    Install-DebianPackage $Package "'$Command'"
}

# Installs a Debian package as root, or stops with the line to run.
function Install-DebianPackage([string] $Package, [string] $What) {
    if (-not (Test-Root)) {
        throw "$What is missing. Install it with:  sudo apt-get install -y $Package"
    }
    Write-Host "installing Debian package $Package (for $What)"
    $env:DEBIAN_FRONTEND = 'noninteractive'
    if (-not $script:AptUpdated) {
        Invoke-Checked 'apt-get update' { apt-get update -qq }
        $script:AptUpdated = $true
    }
    Invoke-Checked "apt-get install $Package" { apt-get install -y -qq --no-install-recommends $Package }
}

# Makes sure a data file or folder from a Debian package is there, like Assert-DebianPackage.
function Assert-DebianData([string] $Path, [string] $Package) {
    if (Test-Path -LiteralPath $Path) { return }
    Install-DebianPackage $Package "'$Path'"
}

# Cross-compiling Native AOT for linux-arm64 needs clang, the aarch64 binutils and C library, and llvm-objcopy.
function Assert-CrossToolchain([string] $Rid) {
    if (Test-HostRid $Rid) { return }
    if ($Rid -ne 'linux-arm64') { throw "No cross toolchain recipe for $Rid." }
    Assert-DebianPackage 'clang' 'clang'
    Assert-DebianPackage 'aarch64-linux-gnu-gcc' 'gcc-aarch64-linux-gnu'
    Assert-DebianPackage 'llvm-objcopy' 'llvm'
    if (-not (Test-Path '/usr/aarch64-linux-gnu/lib/crt1.o')) { Assert-DebianPackage '/usr/aarch64-linux-gnu/lib/crt1.o' 'libc6-dev-arm64-cross' }
}

Export-ModuleMember -Function Assert-DebianPackage, Install-DebianPackage, Assert-DebianData, Assert-CrossToolchain
