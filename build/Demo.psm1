# The demo: edged on its default configuration, driven through its socket by edgectl (Silero VAD on speech and
# silence, the headless triggers, the pipelines), then stopped with SIGTERM.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')
Import-Module (Join-Path $PSScriptRoot 'Publish.psm1')

function Invoke-Demo([string] $Board) {
    Assert-HostBoard $Board
    Invoke-Publish $Board
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

        Write-Step 'live pipelines: MMEdge on what the digit microphone and camera capture (from 500 ms back), CBNet on the camera''s next frame'
        Invoke-Checked 'edgectl run digits-live' { & $edgectl run digits-live --live --pre-ms 500 }
        $live = & $edgectl run digits-live --live --json | ConvertFrom-Json
        if ($LASTEXITCODE -ne 0) { throw "edgectl run digits-live --json failed (exit code $LASTEXITCODE)." }
        Invoke-Checked 'edgectl run fashion-live' { & $edgectl run fashion-live --live }
        $looked = & $edgectl watch digits-live fashion-live --since 0 --count 2 --timeout 30
        if ($LASTEXITCODE -ne 0) { throw "edgectl watch did not see the live results the press stored (exit code $LASTEXITCODE)." }
        $looked | Write-Host
        $liveAudio = $live.result.counts | Where-Object { $_.modality -eq 'audio' }
        $summary += ("pipeline digits-live (sensors digit-mic, digit-cam): prediction {0}, {1:0.0} ms after the last unit was sensed, audio units encoded {2} of {3}" -f $live.result.prediction, $live.result.postSensingMs, $liveAudio.encoded, ($liveAudio.sensed + $liveAudio.skipped))

        Write-Step 'language model: BitNet b1.58 (5.2M parameters, trained on the KJV Bible by tools/bitnet) streams a passage'
        Invoke-Checked 'edgectl info bitnet' { & $edgectl info bitnet }
        # Text goes to stdout as it is produced, the summary line to stderr; both reach the console.
        & $edgectl generate bitnet 'And God said' --max-tokens 80 --temperature 0.7 --top-p 0.9 --repetition-penalty 1.1 --seed 7 2>&1 | Tee-Object -Variable generated | Write-Host
        if ($LASTEXITCODE -ne 0) { throw "edgectl generate failed (exit code $LASTEXITCODE)." }
        $rate = @($generated | ForEach-Object { "$_" } | Where-Object { $_ -match '([0-9.]+) tok/s' } | ForEach-Object { $Matches[0] }) | Select-Object -Last 1
        $summary += ("language model bitnet: 80 tokens streamed, decode {0}" -f $rate)

        Write-Step 'hybrid language model: LFM2 (3.2M parameters, conv + attention layers, int4; trained by tools/lfm2) streams a passage'
        Invoke-Checked 'edgectl info lfm2' { & $edgectl info lfm2 }
        & $edgectl generate lfm2 'And God said' --max-tokens 80 --temperature 0.7 --top-p 0.9 --repetition-penalty 1.1 --seed 7 2>&1 | Tee-Object -Variable hybrid | Write-Host
        if ($LASTEXITCODE -ne 0) { throw "edgectl generate lfm2 failed (exit code $LASTEXITCODE)." }
        $hybridRate = @($hybrid | ForEach-Object { "$_" } | Where-Object { $_ -match '([0-9.]+) tok/s' } | ForEach-Object { $Matches[0] }) | Select-Object -Last 1
        $summary += ("language model lfm2: 80 tokens streamed, decode {0}" -f $hybridRate)

        Write-Step 'vision-language model: a Fashion-MNIST image captioned (W8A16 encoder + int4 LFM2; trained by tools/vlm), then the camera caption the button press stored'
        Invoke-Checked 'edgectl info vlm' { & $edgectl info vlm }
        $frame = Join-Path $publish 'samples/vlm/frames/000.pgm'
        & $edgectl generate vlm --image $frame --max-tokens 12 2>&1 | Tee-Object -Variable caption | Write-Host
        if ($LASTEXITCODE -ne 0) { throw "edgectl generate vlm --image failed (exit code $LASTEXITCODE)." }
        $captioned = & $edgectl watch caption --since 0 --count 1 --timeout 30
        if ($LASTEXITCODE -ne 0) { throw "edgectl watch did not see the camera caption (exit code $LASTEXITCODE)." }
        $captioned | Write-Host
        $summary += ("vision-language model vlm: {0} -> '{1}'; camera trigger stored: {2}" -f (Split-Path $frame -Leaf), (@($caption)[0]), (@($captioned)[0]))

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

Export-ModuleMember -Function Invoke-Demo
