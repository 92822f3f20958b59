# The benchmarks: edged over its socket, the C# kernels, triggers and pipelines, each against a peer in the same run;
# JSON into artifacts/bench/.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')
Import-Module (Join-Path $PSScriptRoot 'Publish.psm1')
Import-Module (Join-Path $PSScriptRoot 'Assets.psm1')

function Invoke-Bench([string] $Board, [switch] $Quick, [int] $ClientSpinUs = -1) {
    Assert-HostBoard $Board
    Invoke-Publish $Board
    Write-Step 'bench: edged over the socket vs the same ONNX Runtime call in-process'
    $out = Join-Path $Artifacts 'bench'
    $benchArgs = @('--publish-dir', (Get-PublishDir $Board), '--models-dir', (Join-Path $Assets 'models'), '--out', $out)
    if ($Quick) { $benchArgs += '--quick' }
    if ($ClientSpinUs -ge 0) { $benchArgs += @('--client-spin-us', "$ClientSpinUs") }
    Invoke-Checked 'benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchSoak([string] $Board, [switch] $Quick, [double] $Minutes = 0) {
    Assert-HostBoard $Board
    Invoke-Publish $Board
    Write-Step 'bench-soak: 64 connections x 10,000 checked requests, then mixed traffic with reconnects and model churn, then 64 stalled clients'
    $benchArgs = @('--soak', '--publish-dir', (Get-PublishDir $Board), '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    if ($Minutes -gt 0) { $benchArgs += @('--soak-minutes', "$Minutes") }
    Invoke-Checked 'soak benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchTriggers([string] $Board, [switch] $Quick) {
    Assert-HostBoard $Board
    Invoke-Publish $Board
    Write-Step 'bench-triggers: GPIO edge -> stored result at a subscriber, journal commits, sustained trigger rate'
    $benchArgs = @('--triggers', '--publish-dir', (Get-PublishDir $Board), '--speech', (Join-Path $Assets 'audio/speech.wav'), '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'trigger benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchPipelines([switch] $Quick) {
    Write-Step 'bench-pipelines: MMEdge sequential vs pipelined vs skipping, the optimizer under budgets, CBNet vs full vs early exit'
    # The CBNet figures use the whole Fashion-MNIST test set from Debian; without it, the committed 1000 images.
    if (-not (Test-Path '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz')) {
        if (Test-Root) { Assert-DebianPackages -Package dataset-fashion-mnist }
        else { Write-Host 'dataset-fashion-mnist is not installed (sudo apt-get install dataset-fashion-mnist): CBNet runs on the committed 1000 test images' }
    }
    $benchArgs = @('--pipelines', '--models-dir', (Join-Path $BuildRoot 'models'), '--samples-dir', (Join-Path $BuildRoot 'samples'), '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'pipeline benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

function Invoke-BenchQuantize([switch] $Quick) {
    Write-Step 'bench-quantize: static INT8 (QDQ) and W8A16 against the float models, ORT CPU, 2 threads'
    Invoke-FetchAssets | Out-Host
    # The OCR direction classifier's samples: text lines rendered with Debian's DejaVu fonts, half turned 180 degrees.
    Assert-DebianPackages -For bench
    $textLines = Join-Path $Artifacts 'cache/text-lines'
    Invoke-Checked 'text-lines.py' { /usr/bin/python3 (Join-Path $BuildRoot 'tools/assets/text-lines.py') (Join-Path $BuildRoot 'tools/bitnet/heldout-sample.txt') $textLines 200 }
    $benchArgs = @('--quantize', '--models-dir', (Join-Path $BuildRoot 'models'), '--samples-dir', (Join-Path $BuildRoot 'samples'), '--assets-dir', $Assets, '--text-lines', $textLines, '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    Invoke-Checked 'quantization benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

# bitnet.cpp's I2_S kernel (src/ggml-bitnet-mad.cpp of a microsoft/BitNet checkout) compiled into our timing harness
# tools/peers/bitnet-i2s with clang++ -O3 -march=native, as bitnet.cpp builds itself; nothing of it is kept in the tree.
function Build-BitNetCppPeer([string] $PeerSource) {
    $mad = Join-Path $PeerSource 'src/ggml-bitnet-mad.cpp'
    $include = Join-Path $PeerSource 'include'
    if (-not (Test-Path $mad) -or -not (Test-Path (Join-Path $include 'gemm-config.h'))) {
        throw "-PeerSource $PeerSource has no src/ggml-bitnet-mad.cpp and include/gemm-config.h: point it at a microsoft/BitNet checkout."
    }
    Assert-DebianPackages -Package clang
    $harness = Join-Path $BuildRoot 'tools/peers/bitnet-i2s'
    $outDir = Join-Path $Artifacts 'peers'
    New-Item -ItemType Directory -Force $outDir | Out-Null
    $exe = Join-Path $outDir 'bitnet-i2s'
    $madPath = (Resolve-Path $mad).Path
    Write-Step "bench-kernels: building bitnet.cpp's I2_S kernel from $PeerSource -> $exe"
    Invoke-Checked 'clang++ bitnet.cpp peer' {
        clang++ -O3 -march=native -std=c++17 -pthread -w -I (Join-Path $harness 'shim') -I (Resolve-Path $include).Path "-DPEER_MAD=`"$madPath`"" (Join-Path $harness 'i2s_peer.cpp') -o $exe
    } | Out-Host
    return $exe
}

function Invoke-BenchKernels([string] $Board, [switch] $Quick, [string] $PeerSource = '') {
    $profile = Get-Board $Board
    if (-not (Test-HostRid $profile.rid)) { throw "bench-kernels runs on the machine it is built for; board '$Board' is $($profile.rid)." }
    $out = Join-Path $Artifacts "publish/kernelbench-$Board"
    Assert-DebianPackages -For aot
    $profileIsa = Get-Optional $profile 'ilcInstructionSet'
    Write-Step "bench-kernels: Native AOT, $($profile.rid) $(if ($profileIsa) { $profileIsa } else { 'baseline ISA' }) -> $out"
    $properties = @("-p:ArtifactsPivots=release_kernelbench_$Board")
    if ($profileIsa) { $properties += "-p:IlcInstructionSet=$($profileIsa -replace ',', '%2C')" }
    Invoke-Checked 'dotnet publish KernelBench' {
        dotnet publish (Join-Path $BuildRoot 'tools/EdgeRuntime.KernelBench') -c Release -r $profile.rid -o $out -nologo -clp:NoSummary @properties
    }
    $benchArgs = @('--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $benchArgs += '--quick' }
    if ($PeerSource) { $benchArgs += @('--peer-i2s', (Build-BitNetCppPeer $PeerSource)) }
    else { Write-Host 'bench-kernels: no -PeerSource, so the figures against bitnet.cpp are written as skipped' }
    Invoke-Checked 'kernel benchmark' { & (Join-Path $out 'EdgeRuntime.KernelBench') @benchArgs }
}

# One in-process part of the language-model benchmark on its own (nothing published, no peer built); its figures are
# merged into llm.json.
function Invoke-BenchLlmPart([string] $Board, [string] $Part, [string] $Cache, [string] $What, [string] $Name, [switch] $Quick) {
    Write-Step "bench-llm: $What"
    $partArgs = @('--llm', $Part, '--repo', $BuildRoot, '--publish-dir', (Get-PublishDir $Board), '--cache', $Cache, '--out', (Join-Path $Artifacts 'bench'))
    if ($Quick) { $partArgs += '--quick' }
    Invoke-Checked $Name { dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @partArgs }
}

function Invoke-BenchLlm([string] $Board, [switch] $Quick, [string] $PeerBin = '', [switch] $HybridOnly, [switch] $DeltaOnly, [switch] $VlmOnly, [switch] $LayoutOnly) {
    Assert-HostBoard $Board
    $cache = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.cache/edgeruntime/bench-llm'
    if ($VlmOnly) {
        # In process: the committed vision-language model's caption accuracy and image-to-first-token time.
        Invoke-BenchLlmPart $Board '--vlm-only' $cache 'the vision-language model (caption accuracy, image to first token)' 'vision-language benchmark' -Quick:$Quick
        return
    }
    if ($LayoutOnly) {
        # In process: the seeded 2B4T-shaped model with 2-bit and with 1.6-bit projections (decode speed, memory, same tokens).
        Invoke-BenchLlmPart $Board '--layout-only' $cache 'the ternary layouts on the 2B4T-shaped model (decode speed, weights, resident memory)' 'ternary-layout benchmark' -Quick:$Quick
        return
    }
    if ($DeltaOnly) {
        # In process: the trained models' held-out perplexity and attention sparsity, dense and with DeltaAttention.
        Invoke-BenchLlmPart $Board '--delta-only' $cache 'DeltaAttention on the trained BitNet and LFM2 (held-out perplexity, q·k work skipped)' 'DeltaAttention benchmark' -Quick:$Quick
        return
    }

    Invoke-Publish $Board
    Write-Step 'bench-llm: BitNet b1.58 2B4T shapes through edged, against bitnet.cpp on the same weights'
    $benchArgs = @('--llm', '--repo', $BuildRoot, '--publish-dir', (Get-PublishDir $Board), '--cache', $cache, '--out', (Join-Path $Artifacts 'bench'))
    if ($PeerBin) {
        if (-not (Test-Path (Join-Path $PeerBin 'llama-bench'))) { throw "-PeerBin $PeerBin has no llama-bench: point it at a built bitnet.cpp's bin folder." }
        $benchArgs += @('--peer-bin', (Resolve-Path $PeerBin).Path)
    }
    # The hybrid part's peer, ONNX Runtime GenAI 0.20, runs in a process of its own (it brings ONNX Runtime 1.32.0).
    Invoke-Checked 'build the GenAI peer' { dotnet build (Join-Path $BuildRoot 'tools/EdgeRuntime.GenAiPeer') -c Release --nologo -v quiet }
    $benchArgs += @('--genai-peer', (Join-Path $Artifacts 'bin/EdgeRuntime.GenAiPeer/release/EdgeRuntime.GenAiPeer.dll'))
    if ($Quick) { $benchArgs += '--quick' }
    if ($HybridOnly) { $benchArgs += '--hybrid-only' }
    Invoke-Checked 'language-model benchmark' {
        dotnet run --project (Join-Path $BuildRoot 'tools/EdgeRuntime.Bench') -c Release -- @benchArgs
    }
}

Export-ModuleMember -Function Invoke-Bench, Invoke-BenchSoak, Invoke-BenchTriggers, Invoke-BenchPipelines, Invoke-BenchQuantize, Invoke-BenchKernels, Invoke-BenchLlm
