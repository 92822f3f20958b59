# Compiling, publishing Native AOT binaries for a board, and packaging them (.deb and .tar.gz) with files filled from
# the templates in boards/package/.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'Common.psm1')
Import-Module (Join-Path $PSScriptRoot 'Dependencies.psm1')
Import-Module (Join-Path $PSScriptRoot 'Assets.psm1')

function Invoke-Build([string] $Configuration) {
    Write-Step "build ($Configuration)"
    # EdgeRuntime.Kernels compiles native/kernels (libedgekernels) with gcc.
    Assert-DebianPackages -Package gcc
    Invoke-Checked 'dotnet build' { dotnet build (Join-Path $BuildRoot 'EdgeRuntime.sln') -c $Configuration -nologo -clp:NoSummary }
}

function Invoke-Publish([string] $Name) {
    Invoke-FetchAssets
    $profile = Get-Board $Name
    $rid = $profile.rid
    $out = Get-PublishDir $Name
    # ilcInstructionSet is optional in a profile (the RID's baseline when absent).
    $profileIsa = Get-Optional $profile 'ilcInstructionSet'
    $isa = if ($profileIsa) { $profileIsa } else { 'the RID baseline' }
    Write-Step "publish: Native AOT edged, edgectl and edge-convert for board '$Name' ($rid, $isa) -> $out"
    if (Test-HostRid $rid) { Assert-DebianPackages -For aot } else { Assert-CrossToolchain $rid }
    if (Test-Path $out) { Remove-Item -Recurse -Force $out }
    New-Item -ItemType Directory -Force $out | Out-Null
    # One MSBuild run for the three programs (build/publish.proj): shared projects compile once and the Native AOT
    # compilations run side by side. Boards of one RID share the IL build (one intermediate folder per RID); only the
    # native compilation, which takes the board's instruction set, runs again for the second board.
    $isaProperty = if ($profileIsa) { $profileIsa -replace ',', '%2C' } else { '' }
    $properties = @("-p:RuntimeIdentifier=$rid", "-p:PublishDir=$out/", "-p:ArtifactsPivots=release_$rid", "-p:IlcInstructionSet=$isaProperty")
    Invoke-Checked 'dotnet msbuild build/publish.proj (edged, edgectl, edge-convert)' {
        dotnet msbuild (Join-Path $PSScriptRoot 'publish.proj') -restore -t:Publish -m -nologo -v:m -clp:NoSummary @properties
    }
    Copy-Item (Join-Path $BuildRoot 'boards/edged.json') (Join-Path $out 'edged.json') -Force
    Copy-Item (Join-Path $BuildRoot "boards/$Name/board.json") (Join-Path $out 'board.json') -Force
    New-Item -ItemType Directory -Force (Join-Path $out 'models') | Out-Null
    Copy-Item (Join-Path $Assets 'models/*') (Join-Path $out 'models') -Force
    # The pipeline models trained by tools/train-pipelines, the language models trained by tools/bitnet, tools/lfm2 and
    # tools/vlm (all committed) and the replay episodes the default pipelines and camera use.
    foreach ($pipeline in 'mmedge', 'cbnet', 'bitnet-kjv', 'lfm2-kjv', 'vlm-fashion') {
        Copy-Item (Join-Path $BuildRoot "models/$pipeline") (Join-Path $out 'models') -Recurse -Force
    }
    Copy-Item (Join-Path $BuildRoot 'samples') $out -Recurse -Force
    # The default configuration replays the sample speech as its simulated microphone.
    New-Item -ItemType Directory -Force (Join-Path $out 'audio') | Out-Null
    Copy-Item (Join-Path $Assets 'audio/speech.wav') (Join-Path $out 'audio') -Force
    Get-ChildItem $out -Filter '*.pdb' | Remove-Item
    Get-ChildItem $out -Filter '*.dbg' | Remove-Item
    $windows = @(Get-ChildItem $out -Filter '*.dll')
    if ($windows.Count -gt 0) { throw "Windows libraries leaked into the Linux publish folder: $($windows.Name -join ', ')" }
    foreach ($binary in 'edged', 'edgectl', 'edge-convert') {
        $size = (Get-Item (Join-Path $out $binary)).Length / 1MB
        Write-Host ("ok  {0,-8} {1,6:0.0} MB  {2}  ({3})" -f $binary, $size, (Join-Path $out $binary), ((& file -b (Join-Path $out $binary)) -split ',')[1].Trim())
    }
}

# Templates (boards/package/*.in, postinst): @name@ is a value from the context (a dotted path into it; a list gives
# its items separated by spaces), @name * 1.25@ a number times a factor rounded to an integer. A line @if name@,
# @else@, @end@ keeps the lines between when the value is set (not absent, empty or 0); @each name@, @else@, @end@
# repeats them for every item (as @item@), or keeps the @else@ lines when there is none. Lines starting with #@ are
# notes for the template's reader and are dropped.
function Expand-Template([string] $Path, [hashtable] $Context) {
    $lines = ((Get-Content $Path -Raw) -replace "`r`n", "`n") -split "`n"
    return (@(Expand-TemplateLines $Path $lines $Context) -join "`n")
}

function Get-TemplateValue($Context, [string] $Name) {
    $value = $Context
    foreach ($part in $Name -split '\.') {
        if ($null -eq $value) { return $null }
        if ($value -is [System.Collections.IDictionary]) { $value = $value[$part] }
        else {
            $member = $value.PSObject.Properties[$part]
            $value = if ($member) { $member.Value } else { $null }
        }
    }
    return , $value
}

function Test-TemplateValue($Value) {
    if ($null -eq $Value) { return $false }
    if ($Value -is [string]) { return $Value.Length -gt 0 }
    if ($Value -is [System.Collections.IEnumerable]) { return @($Value).Count -gt 0 }
    if ($Value -is [ValueType]) { return $Value -ne 0 }
    return $true
}

function Expand-TemplateLines([string] $Path, [string[]] $Lines, [hashtable] $Context) {
    $out = [System.Collections.Generic.List[string]]::new()
    $i = 0
    while ($i -lt $Lines.Count) {
        $line = $Lines[$i]
        if ($line.StartsWith('#@')) { $i++; continue }
        if ($line -match '^@(else|end)@$') { throw "Template $Path has an @$($Matches[1])@ without its @if@ or @each@." }
        if ($line -notmatch '^@(if|each) ([A-Za-z_][\w.]*)@$') {
            $out.Add((Expand-TemplateText $Path $line $Context))
            $i++
            continue
        }
        $kind, $name = $Matches[1], $Matches[2]
        $depth = 0; $else = -1; $end = -1
        for ($j = $i + 1; $j -lt $Lines.Count -and $end -lt 0; $j++) {
            if ($Lines[$j] -match '^@(if|each) ') { $depth++ }
            elseif ($Lines[$j] -eq '@else@' -and $depth -eq 0) { $else = $j }
            elseif ($Lines[$j] -eq '@end@') { if ($depth -eq 0) { $end = $j } else { $depth-- } }
        }
        if ($end -lt 0) { throw "Template $Path`: '$line' has no @end@." }
        $thenEnd = if ($else -ge 0) { $else } else { $end }
        $then = if ($thenEnd -gt $i + 1) { $Lines[($i + 1)..($thenEnd - 1)] } else { @() }
        $otherwise = if ($else -ge 0 -and $end -gt $else + 1) { $Lines[($else + 1)..($end - 1)] } else { @() }
        $value = Get-TemplateValue $Context $name
        if ($kind -eq 'each' -and (Test-TemplateValue $value)) {
            foreach ($item in @($value)) {
                $inner = $Context.Clone()
                $inner['item'] = $item
                foreach ($expanded in @(Expand-TemplateLines $Path $then $inner)) { $out.Add($expanded) }
            }
        }
        else {
            $chosen = if ($kind -eq 'if' -and (Test-TemplateValue $value)) { $then } else { $otherwise }
            foreach ($expanded in @(Expand-TemplateLines $Path $chosen $Context)) { $out.Add($expanded) }
        }
        $i = $end + 1
    }
    return $out.ToArray()
}

function Expand-TemplateText([string] $Path, [string] $Line, [hashtable] $Context) {
    $text = [System.Text.StringBuilder]::new()
    $at = 0
    foreach ($match in [regex]::Matches($Line, '@([A-Za-z_][\w.]*)(?:\s*\*\s*([0-9]+(?:\.[0-9]+)?))?@')) {
        $value = Get-TemplateValue $Context $match.Groups[1].Value
        if ($null -eq $value) { throw "Template $Path has an unfilled placeholder: $($match.Value)" }
        if ($match.Groups[2].Success) {
            $product = [double]$value * [double]::Parse($match.Groups[2].Value, [cultureinfo]::InvariantCulture)
            $value = [Math]::Round($product, [MidpointRounding]::ToEven).ToString([cultureinfo]::InvariantCulture)
        }
        elseif ($value -is [System.Collections.IEnumerable] -and $value -isnot [string]) { $value = @($value) -join ' ' }
        [void]$text.Append($Line, $at, $match.Index - $at).Append([string]$value)
        $at = $match.Index + $match.Length
    }
    [void]$text.Append($Line, $at, $Line.Length - $at)
    return $text.ToString()
}

function Invoke-Package([string] $Name, [string] $LibraryDir) {
    Invoke-Publish $Name
    $profile = Get-Board $Name
    $publish = Get-PublishDir $Name
    $version = (Select-Xml -Path (Join-Path $BuildRoot 'Directory.Build.props') -XPath '//Version').Node.InnerText
    $debArch = @{ 'linux-arm64' = 'arm64'; 'linux-x64' = 'amd64' }[$profile.rid]
    $packages = Join-Path $Artifacts 'packages'
    $stage = Join-Path $Artifacts "package-stage/$Name"
    Write-Step "package: edgeruntime $version for board '$Name' ($debArch) -> $packages"
    Assert-DebianPackages -For package
    if (Test-Path $stage) { Remove-Item -Recurse -Force $stage }
    $lib = Join-Path $stage 'usr/lib/edgeruntime'
    New-Item -ItemType Directory -Force $lib, (Join-Path $stage 'usr/bin'), (Join-Path $stage 'usr/share/edgeruntime/models'), (Join-Path $stage 'usr/share/doc/edgeruntime') | Out-Null

    foreach ($file in 'edged', 'edgectl', 'edge-convert') { Copy-Item (Join-Path $publish $file) $lib; & chmod 0755 (Join-Path $lib $file) }
    Copy-Item (Join-Path $publish 'board.json') $lib
    foreach ($tool in 'edgectl', 'edge-convert') { & ln -s "/usr/lib/edgeruntime/$tool" (Join-Path $stage "usr/bin/$tool") }
    Copy-Item (Join-Path $publish 'models/*') (Join-Path $stage 'usr/share/edgeruntime/models') -Recurse
    Copy-Item (Join-Path $BuildRoot 'README.md') (Join-Path $stage 'usr/share/doc/edgeruntime/README.md')

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

    # The systemd unit: boards/package/edged.service.in holds its text and the rules that fill it from the profile.
    $groups = @($profile.service.supplementaryGroups)
    Write-UnixFile (Join-Path $stage 'usr/lib/systemd/system/edged.service') (Expand-Template (Join-Path $BuildRoot 'boards/package/edged.service.in') @{ name = $Name; profile = $profile }) '0644'
    Write-UnixFile (Join-Path $stage 'etc/edgeruntime/edged.json') (Get-Content (Join-Path $BuildRoot 'boards/package/edged.json') -Raw) '0640'

    # The .tar.gz: the same tree, to unpack at / (or anywhere, running usr/lib/edgeruntime/edged by hand).
    New-Item -ItemType Directory -Force $packages | Out-Null
    $tarball = Join-Path $packages "edgeruntime-$version-$Name-$($profile.rid).tar.gz"
    Invoke-Checked 'tar' { tar --owner=0 --group=0 --numeric-owner -C $stage -czf $tarball etc usr }

    # The .deb: the tree plus maintainer scripts that create the user and the device groups.
    $debian = Join-Path $stage 'DEBIAN'
    $installedKb = [int]((Get-ChildItem $stage -Recurse -File | Measure-Object Length -Sum).Sum / 1KB)
    $providers = (@($profile.executionProviders | ForEach-Object { $_.name }) -join ', ')
    Write-UnixFile (Join-Path $debian 'control') (Expand-Template (Join-Path $BuildRoot 'boards/package/control.in') @{
        VERSION = $version; DEB_ARCH = $debArch; INSTALLED_KB = $installedKb; BOARD = $profile.description; PROVIDERS = $providers
        RID = $profile.rid; ISA = $(if (Get-Optional $profile 'ilcInstructionSet') { $profile.ilcInstructionSet } else { 'baseline ISA' })
    }) '0644'
    Write-UnixFile (Join-Path $debian 'conffiles') "/etc/edgeruntime/edged.json`n" '0644'
    Write-UnixFile (Join-Path $debian 'postinst') (Expand-Template (Join-Path $BuildRoot 'boards/package/postinst') @{ SUPPLEMENTARY_GROUPS = ($groups -join ' ') }) '0755'
    foreach ($script in 'prerm', 'postrm') { Write-UnixFile (Join-Path $debian $script) (Get-Content (Join-Path $BuildRoot "boards/package/$script") -Raw) '0755' }
    $deb = Join-Path $packages "edgeruntime_$($version)_$($Name)_$debArch.deb"
    Invoke-Checked 'dpkg-deb' { dpkg-deb --root-owner-group -Zxz --build $stage $deb | Out-Null }
    foreach ($file in $deb, $tarball) { Write-Host ("ok  {0,6:0.0} MB  {1}" -f ((Get-Item $file).Length / 1MB), $file) }
}

Export-ModuleMember -Function Invoke-Build, Invoke-Publish, Invoke-Package, Expand-Template
