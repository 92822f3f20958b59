using System.Text.RegularExpressions;

namespace EdgeRuntime.Integration.Tests.EmulatedBoards;

/// <summary>What the rpi5 board package holds: files, modes, maintainer scripts and a unit systemd accepts.</summary>
public sealed partial class PackageTests
{
    private static string Deb => Paths.FindPackage("rpi5", "edgeruntime_*_{board}_arm64.deb") ?? throw new FileNotFoundException("no rpi5 .deb; run 'dotnet pwsh ./build.ps1 package -Board rpi5'");

    private static string Tarball => Paths.FindPackage("rpi5", "edgeruntime-*-{board}-linux-arm64.tar.gz") ?? throw new FileNotFoundException("no rpi5 .tar.gz");

    /// <summary>path → mode string (e.g. -rwxr-xr-x) from a tar-style listing.</summary>
    private static Dictionary<string, string> Listing(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[5].TrimStart('.').TrimEnd('/'), f => f[0], StringComparer.Ordinal);

    [EmulatedBoardFact]
    public async Task The_deb_holds_the_binaries_the_library_the_configuration_and_the_unit_with_their_modes()
    {
        var list = await ProcessRunner.RunAsync("dpkg-deb", "-c", Deb);
        Assert.True(list.ExitCode == 0, list.All);
        var files = Listing(list.Stdout);
        Assert.Equal("-rwxr-xr-x", files["/usr/lib/edgeruntime/edged"]);
        Assert.Equal("-rwxr-xr-x", files["/usr/lib/edgeruntime/edgectl"]);
        Assert.Equal("-rwxr-xr-x", files["/usr/lib/edgeruntime/edge-convert"]);
        Assert.Equal("-rw-r--r--", files["/usr/lib/edgeruntime/libonnxruntime.so"]);
        Assert.Equal("-rw-r--r--", files["/usr/lib/edgeruntime/board.json"]);
        Assert.Equal("-rw-r-----", files["/etc/edgeruntime/edged.json"]);
        Assert.Equal("-rw-r--r--", files["/usr/lib/systemd/system/edged.service"]);
        Assert.Equal("-rw-r--r--", files["/usr/share/edgeruntime/models/silero_vad_v5.onnx"]);
        Assert.StartsWith("l", files["/usr/bin/edgectl"], StringComparison.Ordinal);
        Assert.StartsWith("l", files["/usr/bin/edge-convert"], StringComparison.Ordinal);
        Assert.DoesNotContain(files.Keys, f => f.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase));
        Assert.All(list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains(" root/root ", line, StringComparison.Ordinal));

        var control = await ProcessRunner.RunAsync("dpkg-deb", "-f", Deb);
        Assert.Contains("Package: edgeruntime", control.Stdout, StringComparison.Ordinal);
        Assert.Contains("Architecture: arm64", control.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"Depends: .*adduser", control.Stdout);
    }

    [EmulatedBoardFact]
    public async Task The_binaries_and_library_are_aarch64()
    {
        string root = Directory.CreateTempSubdirectory("edgeruntime-deb-").FullName;
        try
        {
            Assert.Equal(0, (await ProcessRunner.RunAsync("dpkg-deb", "-x", Deb, root)).ExitCode);
            foreach (string file in new[] { "edged", "edgectl", "edge-convert", "libonnxruntime.so" })
            {
                byte[] header = File.ReadAllBytes(Path.Combine(root, "usr/lib/edgeruntime", file))[..20];
                Assert.Equal("\x7f" + "ELF", System.Text.Encoding.ASCII.GetString(header, 0, 4));
                Assert.Equal(183, BitConverter.ToUInt16(header, 18)); // e_machine EM_AARCH64
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [EmulatedBoardFact]
    public async Task The_maintainer_scripts_create_the_user_and_the_device_groups()
    {
        string control = Directory.CreateTempSubdirectory("edgeruntime-control-").FullName;
        try
        {
            Assert.Equal(0, (await ProcessRunner.RunAsync("dpkg-deb", "-e", Deb, control)).ExitCode);
            Assert.Equal("/etc/edgeruntime/edged.json", File.ReadAllText(Path.Combine(control, "conffiles")).Trim());
            string postinst = File.ReadAllText(Path.Combine(control, "postinst"));
            Assert.Contains("adduser --system --ingroup edgeruntime", postinst, StringComparison.Ordinal);
            Assert.Contains("addgroup --system edgeruntime", postinst, StringComparison.Ordinal);
            Assert.Contains("for group in gpio i2c audio video; do", postinst, StringComparison.Ordinal);
            foreach (string script in new[] { "postinst", "prerm", "postrm" })
            {
                string path = Path.Combine(control, script);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(path));
                var syntax = await ProcessRunner.RunAsync("sh", "-n", path);
                Assert.True(syntax.ExitCode == 0, $"{script}: {syntax.All}");
            }
        }
        finally
        {
            Directory.Delete(control, recursive: true);
        }
    }

    [EmulatedBoardFact]
    public async Task The_unit_is_hardened_and_systemd_accepts_it()
    {
        string root = Directory.CreateTempSubdirectory("edgeruntime-unit-").FullName;
        try
        {
            Assert.Equal(0, (await ProcessRunner.RunAsync("dpkg-deb", "-x", Deb, root)).ExitCode);
            string unit = File.ReadAllText(Path.Combine(root, "usr/lib/systemd/system/edged.service"));
            Assert.Contains("\"allowedGroups\": [ \"edgeruntime\" ]", File.ReadAllText(Path.Combine(root, "etc/edgeruntime/edged.json")), StringComparison.Ordinal);
            foreach (string line in new[]
            {
                "Type=notify", "WatchdogSec=30", "User=edgeruntime", "Group=edgeruntime", "SupplementaryGroups=gpio i2c audio video",
                "RuntimeDirectory=edgeruntime", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX",
                "DevicePolicy=closed", "DeviceAllow=char-gpiochip rw", "MemoryMax=2560M", "CapabilityBoundingSet=", "TimeoutStartSec=10min",
                "ExecStart=/usr/lib/edgeruntime/edged --config /etc/edgeruntime/edged.json",
            })
            {
                Assert.Contains("\n" + line + "\n", unit, StringComparison.Ordinal);
            }

            if (!File.Exists("/usr/bin/systemd-analyze"))
            {
                return; // Checked above line by line; systemd's own parser is checked where it is installed (CI has it).
            }

            // systemd-analyze verify wants ExecStart to exist: point it at the unpacked binary.
            string verifiable = Path.Combine(root, "edged.service");
            File.WriteAllText(verifiable, unit.Replace("ExecStart=/usr/lib/edgeruntime/edged", $"ExecStart={root}/usr/lib/edgeruntime/edged", StringComparison.Ordinal));
            var verify = await ProcessRunner.RunAsync("systemd-analyze", "verify", "--man=no", verifiable);
            Assert.True(verify.ExitCode == 0 && verify.Stderr.Trim().Length == 0, $"systemd-analyze verify: {verify.All}");
            var security = await ProcessRunner.RunAsync("systemd-analyze", "security", "--offline=yes", verifiable);
            var exposure = ExposurePattern().Match(security.All);
            Assert.True(exposure.Success, security.All);
            Assert.True(double.Parse(exposure.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) <= 3.0, $"exposure {exposure.Groups[1].Value}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [EmulatedBoardFact]
    public async Task The_tarball_holds_the_same_tree()
    {
        var deb = Listing((await ProcessRunner.RunAsync("dpkg-deb", "-c", Deb)).Stdout);
        var tar = await ProcessRunner.RunAsync("tar", "-tvzf", Tarball);
        Assert.True(tar.ExitCode == 0, tar.All);
        var files = Listing(tar.Stdout).Keys.Select(k => "/" + k.TrimStart('/')).Where(k => k != "/etc" && k != "/usr").ToHashSet(StringComparer.Ordinal);
        Assert.Superset(deb.Keys.Where(k => k.Length > 0 && k != "/etc" && k != "/usr").ToHashSet(StringComparer.Ordinal), files);
    }

    [GeneratedRegex(@"Overall exposure level for edged\.service: ([0-9.]+)")]
    private static partial Regex ExposurePattern();
}
