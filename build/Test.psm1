# The test task: publish, package the emulated boards, run every suite and print the totals as the last line.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')
Import-Module (Join-Path $PSScriptRoot 'Publish.psm1')

function Invoke-Test([string] $Board, [string] $Configuration) {
    Assert-ReadmeListsDebianPackages
    # (Everything but the result goes to the host: the task's exit code is this function's only output.)
    Invoke-Publish $Board | Out-Host
    # The emulated boards: the arm64 packages as a user would get them, run under qemu-user by the tests.
    foreach ($emulated in 'rpi4', 'rpi5') { Invoke-Package $emulated '' | Out-Host }
    # qemu and the arm64 C++ library; ONNX's conformance cases, ALSA and Fashion-MNIST for the unit suites; Debian's
    # python3 with NumPy for the Python client's suite (build/debian-packages.txt says why each is needed).
    Assert-DebianPackages -For emulation, unit, python | Out-Host
    Write-Step 'test: unit, server, integration and emulated-board suites'
    $env:EDGERUNTIME_PUBLISH_DIR = Get-PublishDir $Board
    $env:EDGERUNTIME_ASSETS_DIR = $Assets
    $env:EDGERUNTIME_PACKAGES_DIR = Join-Path $Artifacts 'packages'
    $env:EDGERUNTIME_REQUIRE_EMULATION = '1'
    $log = Join-Path $Artifacts 'test-output.log'
    dotnet test (Join-Path $BuildRoot 'EdgeRuntime.sln') -c $Configuration -nologo 2>&1 | Tee-Object -FilePath $log | Out-Host
    $exit = $LASTEXITCODE
    # The kernel suite once more with every hardware intrinsic off: the scalar and software-vector fallbacks.
    Write-Step 'test: kernel suite with DOTNET_EnableHWIntrinsic=0'
    $env:DOTNET_EnableHWIntrinsic = '0'
    dotnet test (Join-Path $BuildRoot 'tests/EdgeRuntime.Kernels.Tests') -c $Configuration -nologo --no-build 2>&1 | Tee-Object -FilePath $log -Append | Out-Host
    if ($LASTEXITCODE -ne 0) { $exit = $LASTEXITCODE }
    Remove-Item Env:DOTNET_EnableHWIntrinsic
    # The Python client against the same published edged (stdlib unittest; its counts join the total below).
    Write-Step 'test: Python client (clients/python) against the published edged'
    $env:EDGERUNTIME_EDGED = Join-Path (Get-PublishDir $Board) 'edged'
    $pythonLog = Join-Path $Artifacts 'test-python.log'
    Push-Location (Join-Path $BuildRoot 'clients/python')
    try { /usr/bin/python3 -m unittest discover -s tests 2>&1 | Tee-Object -FilePath $pythonLog | Out-Host }
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
    if ($exit -ne 0 -or $failed -gt 0 -or $passed -eq 0) { return 1 }
    return 0
}

Export-ModuleMember -Function Invoke-Test
