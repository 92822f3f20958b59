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
    unit          the test suites that need no published binary (every test project but the integration one), in
                  about a minute once built
    build         compile everything (Release)
    publish       Native AOT edged, edgectl and edge-convert for -Board (boards/<board>/board.json: RID and instruction set) into
                  artifacts/publish/<board>/, with the board profile, a configuration and the sample models
    package       publish, then a .deb and a .tar.gz for -Board in artifacts/packages/: edged, edgectl,
                  edge-convert, libonnxruntime.so (or those in -OrtLibraryDir), /etc/edgeruntime/edged.json, the systemd unit
    bench         publish, then measure edged against in-process ONNX Runtime; JSON into artifacts/bench/
                  (-Quick for a short smoke run, -ClientSpinUs N to set the client's receive poll)
    bench-soak    publish, then 64 connections x 10,000 requests (16 in flight each, three models, 128 B to 1 MiB, every
                  answer checked), -Minutes (30) of mixed traffic with reconnects, cut-off clients and a model loaded and
                  unloaded under load, then 64 stalled clients on default limits; lost/misrouted answers, p99, RSS
                  at start, after warm-up and at the end; artifacts/bench/soak.json and soak-rss.csv (-Quick: 500
                  requests per connection, 1 minute)
    bench-kernels publish the kernel benchmark with Native AOT for -Board's instruction set and run it: our C# kernels
                  as ORT custom ops vs ORT's own kernels, and BitLinear vs bitnet.cpp's I2_S kernel when -PeerSource
                  names a microsoft/BitNet checkout (built here with clang++, never committed); artifacts/bench/kernels.json
                  (-Quick: two shapes, two threads)
    bench-triggers publish, then GPIO edge -> stored result at a subscriber vs an infer round trip, journal commit vs
                  write+fsync, and the sustained trigger rate; artifacts/bench/triggers.json (-Quick: shorter)
    bench-llm     publish, then BitNet b1.58 2B4T's shapes (seeded weights, written once to ~/.cache/edgeruntime/bench-llm)
                  served by edged on 2 threads: decode at context 128 and 1024, prefill, TTFT, 4-session batching,
                  RSS, stream overhead, against bitnet.cpp on the same weights when -PeerBin names its binaries;
                  then LFM2-350M's shapes (int4) against ONNX Runtime GenAI 0.20 on GenAI's layout of the same
                  weights, and edged on that folder; then DeltaAttention on the trained BitNet and LFM2 (held-out
                  perplexity and q·k work skipped at three thresholds); then the vision-language model; artifacts/bench/llm.json (-Quick: fewer
                  repetitions; -HybridOnly: the LFM2 part alone; -DeltaOnly: the DeltaAttention part alone;
                  -VlmOnly: the vision-language model's caption accuracy and image-to-first-token time;
                  -LayoutOnly: the 2B4T-shaped model with 2-bit and with 1.6-bit projections, in process)
    bench-pipelines MMEdge post-sensing latency (sequential vs pipelined vs skipping), accuracy, the optimizer under
                  three budgets, CBNet vs full model vs early exit; artifacts/bench/pipelines.json and
                  mmedge-timeline.svg (-Quick: shorter)
    bench-quantize  edge-convert's static INT8 (QDQ) and W8A16 quantization on the trained CBNet CNN (real Fashion-MNIST
                  images) and PaddleOCR's classifier, against the float models in the same run (ORT CPU, 2 threads):
                  held-back output SQNR, top-1 agreement, size, speed; artifacts/bench/quantize.json (-Quick: fewer)
    fetch-assets  fetch the pinned sample models and make the sample audio (idempotent)
    fuzz          afl-fuzz (SharpFuzz) over the frame parser, every request decoder and the generate request's checks
                  (sampling, chat templates), seeded with tests/fuzz/protocol,
                  for -Seconds (600); executions, paths, coverage and crashes into artifacts/bench/fuzz.json; fails on a
                  crash (test runs it for 120 s)

    Every task is idempotent. A missing Debian package (build/debian-packages.txt) is installed when run as root,
    otherwise the exact apt-get line is printed. The tasks' code is in build/*.psm1, one module per concern.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('demo', 'test', 'unit', 'build', 'publish', 'package', 'bench', 'bench-soak', 'bench-kernels', 'bench-triggers', 'bench-pipelines', 'bench-quantize', 'bench-llm', 'fetch-assets', 'fuzz')]
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
    [int] $ClientSpinUs = -1,

    # bench-llm: a folder with a built bitnet.cpp's llama-bench and llama-batched-bench (and their shared libraries),
    # the peer measured in the same run; without it only our figures are measured. The build never builds the peer.
    [string] $PeerBin = '',

    # bench-kernels: a microsoft/BitNet checkout whose I2_S kernel (src/ggml-bitnet-mad.cpp) is built and measured
    # against our BitLinear in the same run; without it those figures are written as skipped.
    [string] $PeerSource = '',

    # bench-llm: measure only the hybrid (LFM2) part.
    [switch] $HybridOnly,

    # bench-llm: measure only the DeltaAttention part (in process, no publish).
    [switch] $DeltaOnly,

    # bench-llm: measure only the vision-language model (in process, no publish).
    [switch] $VlmOnly,

    # bench-llm: measure only the 2-bit against the 1.6-bit ternary layout on the 2B4T-shaped model (in process, no publish).
    [switch] $LayoutOnly,

    # bench-soak: how long the mixed-traffic phase runs, in minutes (30; -Quick: 1).
    [double] $Minutes = 0,

    # fuzz: how long afl-fuzz runs (test runs it for 120 s).
    [int] $Seconds = 600
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# Common (paths, steps, board profiles), Dependencies (Debian packages), Assets, Publish (build, publish, package),
# Fuzz, Test, Bench, Demo.
foreach ($module in 'Common', 'Dependencies', 'Assets', 'Publish', 'Fuzz', 'Test', 'Bench', 'Demo') {
    Import-Module (Join-Path $PSScriptRoot "build/$module.psm1")
}

try {
    Push-Location $PSScriptRoot
    switch ($Task) {
        'fetch-assets' { Invoke-FetchAssets }
        'build' { Invoke-Build $Configuration }
        'publish' { Invoke-Publish $Board }
        'package' { Invoke-Package $Board $OrtLibraryDir }
        # The test tasks end with their 'tests: ...' line and exit with their own code.
        'test' { exit (@(Invoke-Test $Board $Configuration)[-1]) }
        'unit' { exit (@(Invoke-UnitTests $Configuration)[-1]) }
        'bench' { Invoke-Bench $Board -Quick:$Quick -ClientSpinUs $ClientSpinUs }
        'bench-soak' { Invoke-BenchSoak $Board -Quick:$Quick -Minutes $Minutes }
        'bench-kernels' { Invoke-BenchKernels $Board -Quick:$Quick -PeerSource $PeerSource }
        'bench-triggers' { Invoke-BenchTriggers $Board -Quick:$Quick }
        'bench-pipelines' { Invoke-BenchPipelines -Quick:$Quick }
        'bench-quantize' { Invoke-BenchQuantize -Quick:$Quick }
        'bench-llm' { Invoke-BenchLlm $Board -Quick:$Quick -PeerBin $PeerBin -HybridOnly:$HybridOnly -DeltaOnly:$DeltaOnly -VlmOnly:$VlmOnly -LayoutOnly:$LayoutOnly }
        'demo' { Invoke-Demo $Board }
        'fuzz' { if ((Invoke-Fuzz $Seconds).fuzz_crashes -gt 0) { throw 'the fuzzer found crashing inputs.' } }
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
