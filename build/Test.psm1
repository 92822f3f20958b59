# The test tasks. 'unit' runs every test project that needs no published binary; 'test' publishes, packages the
# emulated boards and runs everything. Totals come from the runners' result files (TRX, the Python suite's JSON),
# never from console text; the last line is 'tests: N passed, N failed, N skipped' (CI reads it).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')
Import-Module (Join-Path $PSScriptRoot 'Assets.psm1')
Import-Module (Join-Path $PSScriptRoot 'Publish.psm1')
Import-Module (Join-Path $PSScriptRoot 'Fuzz.psm1')

# Test projects (tests/<name>/<name>.csproj) that start the published binaries or run the emulated boards under qemu.
# Every other test project is a unit suite.
$SuitesNeedingBinaries = @('EdgeRuntime.Integration.Tests')

$Solution = Join-Path $BuildRoot 'EdgeRuntime.sln'
$ResultsRoot = Join-Path $Artifacts 'test-results'

# The test projects of the solution, as tests/*/*.csproj paths relative to the repository; a project under tests/ that
# says <IsTestProject>false</IsTestProject> (the shared helpers) holds no tests and writes no TRX.
function Get-TestProjects {
    $listed = Get-Content $Solution -Raw
    return @(Get-ChildItem (Join-Path $BuildRoot 'tests') -Filter '*.csproj' -Recurse -Depth 1 |
        Where-Object { $listed.Contains($_.Name) -and -not (Select-String -Path $_.FullName -SimpleMatch '<IsTestProject>false</IsTestProject>' -Quiet) } |
        Sort-Object Name)
}

function Get-UnitTestProjects { return @(Get-TestProjects | Where-Object { $SuitesNeedingBinaries -notcontains $_.BaseName }) }

# Runs 'dotnet test' on a solution, solution filter or project with a TRX file per test project in a fresh folder;
# returns the exit code. The console output goes to the screen and to $Log.
function Invoke-DotnetTest([string] $Target, [string] $ResultsDir, [string] $Log, [string] $Configuration, [string[]] $Extra = @()) {
    Remove-Item $ResultsDir -Recurse -Force -ErrorAction SilentlyContinue
    New-Item -ItemType Directory -Force $ResultsDir | Out-Null
    dotnet test $Target -c $Configuration -nologo --logger trx --results-directory $ResultsDir @Extra 2>&1 |
        Tee-Object -FilePath $Log -Append | Out-Host
    return $LASTEXITCODE
}

# Sums the outcomes of the TRX files in $ResultsDir; a missing TRX (a test host that never reported) is a failure.
function Get-TrxTotals([string] $ResultsDir, [int] $ExpectedFiles, [string] $What) {
    $totals = [ordered]@{ passed = 0; failed = 0; skipped = 0 }
    $files = @(Get-ChildItem $ResultsDir -Filter '*.trx' -ErrorAction SilentlyContinue)
    foreach ($file in $files) {
        # -LiteralPath: the runner names a second TRX of the same second "...[1].trx", which a plain path reads as a wildcard.
        $counters = ([xml](Get-Content -LiteralPath $file.FullName -Raw)).TestRun.ResultSummary.Counters
        # Skipped tests are 'notExecuted', or, for a theory skipped as a whole, counted in 'total' but not 'executed'
        # (only trusted when nothing aborted or timed out); everything else that did not pass failed.
        $passed = [int]$counters.passed
        $clean = ([int]$counters.aborted + [int]$counters.error + [int]$counters.timeout) -eq 0
        $skipped = if ($clean) { [Math]::Max([int]$counters.notExecuted, [int]$counters.total - [int]$counters.executed) } else { [int]$counters.notExecuted }
        $totals.passed += $passed; $totals.skipped += $skipped; $totals.failed += [int]$counters.total - $passed - $skipped
    }
    if ($files.Count -ne $ExpectedFiles) {
        Write-Host "build.ps1: $What wrote $($files.Count) TRX file(s) for $ExpectedFiles test project(s) in $ResultsDir" -ForegroundColor Red
        $totals.failed += [Math]::Max(1, $ExpectedFiles - $files.Count)
    }
    return $totals
}

# The Python client's suite against the published edged; its counts come from the JSON the runner writes.
function Invoke-PythonTests([string] $Edged, [string] $Log) {
    $env:EDGERUNTIME_EDGED = $Edged
    $result = Join-Path $ResultsRoot 'python.json'
    Remove-Item $result -Force -ErrorAction SilentlyContinue
    Push-Location (Join-Path $BuildRoot 'clients/python')
    try { /usr/bin/python3 (Join-Path $PSScriptRoot 'python-unittest.py') tests $result 2>&1 | Tee-Object -FilePath $Log | Out-Host }
    finally { Pop-Location }
    $exit = $LASTEXITCODE
    if (-not (Test-Path $result)) {
        Write-Host "build.ps1: the Python suite wrote no result file (exit code $exit)" -ForegroundColor Red
        return [ordered]@{ passed = 0; failed = 1; skipped = 0; exit = [Math]::Max(1, $exit) }
    }
    $counts = Get-Content $result -Raw | ConvertFrom-Json
    if ($counts.ran -eq 0) { Write-Host 'build.ps1: the Python suite ran no test' -ForegroundColor Red }
    return [ordered]@{ passed = [int]$counts.passed; failed = [int]$counts.failed + $(if ($counts.ran -eq 0) { 1 } else { 0 }); skipped = [int]$counts.skipped; exit = $exit }
}

# Prints the totals as the last line and returns the task's exit code (1 when any suite failed or nothing ran).
function Complete-TestRun([System.Collections.IDictionary[]] $Parts, [int] $Exit, [string] $Task) {
    $passed = ($Parts | ForEach-Object { $_.passed } | Measure-Object -Sum).Sum
    $failed = ($Parts | ForEach-Object { $_.failed } | Measure-Object -Sum).Sum
    $skipped = ($Parts | ForEach-Object { $_.skipped } | Measure-Object -Sum).Sum
    if ($Exit -ne 0 -or $failed -gt 0) { Write-Host "build.ps1 $Task`: tests failed (test runner exit code $Exit)" -ForegroundColor Red }
    if ($passed -eq 0) { Write-Host "build.ps1 $Task`: no test ran" -ForegroundColor Red }
    # The summary is the last line printed, in the plain form CI reads.
    Write-Host ""
    Write-Host "tests: $passed passed, $failed failed, $skipped skipped"
    if ($Exit -ne 0 -or $failed -gt 0 -or $passed -eq 0) { return 1 }
    return 0
}

# The test projects that need no published binary, in one 'dotnet test' over a generated solution filter.
function Invoke-UnitTests([string] $Configuration) {
    Assert-ReadmeListsDebianPackages
    # The unit suites' data, and python3-torch for the comparison with tools/bitnet/reference.py (Generation.Tests).
    Assert-DebianPackages -For unit, reference | Out-Host
    Invoke-FetchAssets | Out-Host
    $projects = Get-UnitTestProjects
    Write-Step "unit: $(($projects.BaseName) -join ', ')"
    New-Item -ItemType Directory -Force $ResultsRoot | Out-Null
    $filter = Join-Path $ResultsRoot 'unit.slnf'
    $relative = @($projects | ForEach-Object { [System.IO.Path]::GetRelativePath($BuildRoot, $_.FullName) })
    @{ solution = @{ path = $Solution; projects = $relative } } | ConvertTo-Json -Depth 4 | Set-Content $filter
    $env:EDGERUNTIME_ASSETS_DIR = $Assets
    $log = Join-Path $Artifacts 'test-output.log'
    Remove-Item $log -Force -ErrorAction SilentlyContinue
    $exit = Invoke-DotnetTest $filter (Join-Path $ResultsRoot 'unit') $log $Configuration
    $totals = Get-TrxTotals (Join-Path $ResultsRoot 'unit') $projects.Count 'the unit suites'
    return Complete-TestRun @($totals) $exit 'unit'
}

function Invoke-Test([string] $Board, [string] $Configuration) {
    Assert-ReadmeListsDebianPackages
    # (Everything but the result goes to the host: the task's exit code is this function's only output.)
    Invoke-Publish $Board | Out-Host
    # The emulated boards: the arm64 packages as a user would get them, run under qemu-user by the tests.
    foreach ($emulated in 'rpi4', 'rpi5') { Invoke-Package $emulated '' | Out-Host }
    # qemu and the arm64 C++ library; ONNX's conformance cases, ALSA and Fashion-MNIST for the unit suites; python3-torch
    # for the PyTorch reference; Debian's python3 with NumPy for the Python client's suite (build/debian-packages.txt
    # says why each is needed).
    Assert-DebianPackages -For emulation, unit, reference, python | Out-Host
    Write-Step 'test: unit, server, integration and emulated-board suites'
    $env:EDGERUNTIME_PUBLISH_DIR = Get-PublishDir $Board
    $env:EDGERUNTIME_ASSETS_DIR = $Assets
    $env:EDGERUNTIME_PACKAGES_DIR = Join-Path $Artifacts 'packages'
    $env:EDGERUNTIME_REQUIRE_EMULATION = '1'
    $log = Join-Path $Artifacts 'test-output.log'
    Remove-Item $log -Force -ErrorAction SilentlyContinue
    $exit = Invoke-DotnetTest $Solution (Join-Path $ResultsRoot 'solution') $log $Configuration
    $parts = @(Get-TrxTotals (Join-Path $ResultsRoot 'solution') (Get-TestProjects).Count 'the solution')
    # The kernel suite once more with every hardware intrinsic off: the scalar and software-vector fallbacks.
    Write-Step 'test: kernel suite with DOTNET_EnableHWIntrinsic=0'
    $env:DOTNET_EnableHWIntrinsic = '0'
    $kernelExit = Invoke-DotnetTest (Join-Path $BuildRoot 'tests/EdgeRuntime.Kernels.Tests') (Join-Path $ResultsRoot 'kernels-no-intrinsics') $log $Configuration @('--no-build')
    if ($kernelExit -ne 0) { $exit = $kernelExit }
    Remove-Item Env:DOTNET_EnableHWIntrinsic
    $parts += Get-TrxTotals (Join-Path $ResultsRoot 'kernels-no-intrinsics') 1 'the kernel suite without intrinsics'
    # The Python client against the same published edged (stdlib unittest; its counts join the total below).
    Write-Step 'test: Python client (clients/python) against the published edged'
    $python = Invoke-PythonTests (Join-Path (Get-PublishDir $Board) 'edged') (Join-Path $Artifacts 'test-python.log')
    if ($python.exit -ne 0) { $exit = $python.exit }
    $parts += $python
    # The bounded fuzz run: two minutes of afl-fuzz over the socket's input side; a crash counts as a failed test.
    $fuzz = Invoke-Fuzz 120
    $parts += [ordered]@{ passed = $(if ($fuzz.fuzz_crashes -eq 0) { 1 } else { 0 }); failed = $(if ($fuzz.fuzz_crashes -eq 0) { 0 } else { 1 }); skipped = 0; exit = 0 }
    return Complete-TestRun $parts $exit 'test'
}

Export-ModuleMember -Function Get-TestProjects, Get-UnitTestProjects, Get-TrxTotals, Invoke-UnitTests, Invoke-Test
