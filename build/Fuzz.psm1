# The fuzz task: afl-fuzz over the socket's input side (frame parsing, every request decoder, the generate request's
# checks), through SharpFuzz. tools/EdgeRuntime.Fuzz is the target; EdgeRuntime.Protocol.dll and
# EdgeRuntime.Generation.dll are instrumented so afl-fuzz sees their branches; the
# committed corpus (tests/fuzz/protocol) seeds the run. Results go to artifacts/bench/fuzz.json; a crash fails the task.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')

$Corpus = Join-Path $BuildRoot 'tests/fuzz/protocol'

# Runs afl-fuzz for $Seconds and returns its figures (executions, paths, coverage, crashes, hangs) as an ordered map.
function Invoke-Fuzz([int] $Seconds) {
    Assert-DebianPackages -For fuzz | Out-Host
    Write-Step "fuzz: afl-fuzz over the frame parser, the request decoders and the generate checks for $Seconds s"
    $out = Join-Path $Artifacts 'fuzz'
    $bin = Join-Path $out 'bin'
    $findings = Join-Path $out 'findings'
    Remove-Item -Recurse -Force $bin, $findings -ErrorAction SilentlyContinue
    Invoke-Checked 'building the fuzz target' { dotnet publish (Join-Path $BuildRoot 'tools/EdgeRuntime.Fuzz') -c Release -o $bin --nologo -v quiet }
    foreach ($assembly in 'EdgeRuntime.Protocol.dll', 'EdgeRuntime.Generation.dll') {
        Invoke-Checked "instrumenting $assembly" { dotnet tool run sharpfuzz (Join-Path $bin $assembly) | Out-Host }
    }

    # A managed program under afl-fuzz: no native instrumentation to find, no CPU governor or core-dump handler to
    # insist on in a container, and no screen.
    $env:AFL_SKIP_BIN_CHECK = '1'
    $env:AFL_NO_UI = '1'
    $env:AFL_SKIP_CPUFREQ = '1'
    $env:AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES = '1'
    $env:AFL_NO_AFFINITY = '1'
    $log = Join-Path $out 'afl-fuzz.log'
    & afl-fuzz -i $Corpus -o $findings -V $Seconds -t 10000 -m none -- dotnet (Join-Path $bin 'EdgeRuntime.Fuzz.dll') *> $log
    $aflExit = $LASTEXITCODE
    $statsFile = Join-Path $findings 'default/fuzzer_stats'
    if (-not (Test-Path $statsFile)) {
        Get-Content $log -Tail 30 | Out-Host
        throw "afl-fuzz did not run (exit code $aflExit); its output is in $log."
    }

    $stats = @{}
    foreach ($line in Get-Content $statsFile) {
        $key, $value = $line -split '\s*:\s*', 2
        $stats[$key.Trim()] = $value.Trim()
    }
    $crashes = @(Get-ChildItem (Join-Path $findings 'default/crashes') -File -ErrorAction SilentlyContinue | Where-Object Name -ne 'README.txt').Count
    $hangs = @(Get-ChildItem (Join-Path $findings 'default/hangs') -File -ErrorAction SilentlyContinue).Count
    $result = [ordered]@{
        target = 'tools/EdgeRuntime.Fuzz (FrameReader, every request decoder, the generate checks; EdgeRuntime.Protocol.dll and EdgeRuntime.Generation.dll instrumented)'
        seconds = $Seconds
        fuzz_execs = [long]$stats['execs_done']
        fuzz_execs_per_sec = [double]$stats['execs_per_sec']
        fuzz_paths = [int]$stats['corpus_count']
        fuzz_seed_inputs = @(Get-ChildItem $Corpus -File).Count
        fuzz_coverage_pct = [double]($stats['bitmap_cvg'] -replace '%', '')
        fuzz_edges_found = [int]$stats['edges_found']
        fuzz_crashes = $crashes
        fuzz_hangs = $hangs
        afl_version = $stats['afl_version']
        command = "dotnet pwsh ./build.ps1 fuzz -Seconds $Seconds"
    }
    $bench = Join-Path $Artifacts 'bench'
    New-Item -ItemType Directory -Force $bench | Out-Null
    $result | ConvertTo-Json | Set-Content (Join-Path $bench 'fuzz.json')
    Write-Host ("fuzz: {0} executions ({1}/s), {2} paths from {3} seeds, {4} edges ({5} % of the map), {6} crashes, {7} hangs" -f `
        $result.fuzz_execs, $result.fuzz_execs_per_sec, $result.fuzz_paths, $result.fuzz_seed_inputs, $result.fuzz_edges_found, $result.fuzz_coverage_pct, $crashes, $hangs)
    if ($crashes -gt 0) {
        Write-Host "fuzz: crashing inputs are in $(Join-Path $findings 'default/crashes'); replay one with: dotnet run --project tools/EdgeRuntime.Fuzz -- replay DIR" -ForegroundColor Red
    }
    return $result
}

Export-ModuleMember -Function Invoke-Fuzz
