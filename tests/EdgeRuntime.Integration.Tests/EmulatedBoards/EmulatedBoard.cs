using System.Globalization;
using System.Text;
using EdgeRuntime.Boards;

namespace EdgeRuntime.Integration.Tests.EmulatedBoards;

/// <summary>
/// One board's arm64 .deb, unpacked as dpkg would, and its edged running under qemu-user with the board's CPU
/// model (-cpu cortex-a72 for the Pi 4: no dot product). qemu gets a sysroot: the aarch64 C library plus a
/// /proc/cpuinfo describing the board's cores, because ONNX Runtime's CPU detection would otherwise read the
/// x86 host's and crash. <paramref name="qemuCpu"/> replaces the board's CPU model: "max" has I8MM, which no board
/// profile's core has, so the same package's native I8MM kernels run under it.
/// </summary>
public abstract class EmulatedBoard(string board, string? qemuCpu = null) : IAsyncLifetime
{
    private EdgedProcess? _edged;

    public static string? QemuPath { get; } = new[] { "/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static" }.FirstOrDefault(File.Exists);

    public string Board { get; } = board;

    public string Directory { get; private set; } = string.Empty;

    public string PackageRoot => Path.Combine(Directory, "root");

    public string Sysroot => Path.Combine(Directory, "sysroot");

    public string EdgedPath => Path.Combine(PackageRoot, "usr/lib/edgeruntime/edged");

    public BoardProfile Profile { get; private set; } = new();

    /// <summary>The qemu CPU model edged runs under: the board's, unless the fixture names another.</summary>
    public string Cpu => qemuCpu ?? Profile.Cpu.QemuCpu!;

    /// <summary>Whether that CPU has I8MM (qemu's "max" does; the boards' Cortex-A72/A76/A78 do not).</summary>
    public bool HasI8mm => Cpu == "max";

    internal EdgedProcess Edged => _edged ?? throw new InvalidOperationException($"the emulated {Board} did not start");

    public async Task InitializeAsync()
    {
        if (new EmulatedBoardFactAttribute().Skip is not null)
        {
            return; // Every test of the class is skipped; say why there, not here.
        }

        string deb = Paths.FindPackage(Board, "edgeruntime_*_{board}_arm64.deb")
            ?? throw new FileNotFoundException($"No arm64 package for {Board} in {Paths.PackagesDir}; run 'dotnet pwsh ./build.ps1 package -Board {Board}'.");
        string qemu = QemuPath ?? throw new FileNotFoundException("qemu-aarch64 is missing: sudo apt-get install -y qemu-user");
        Directory = System.IO.Directory.CreateTempSubdirectory($"edged-{Board}-").FullName;

        var unpack = await ProcessRunner.RunAsync("dpkg-deb", "-x", deb, PackageRoot);
        Assert.True(unpack.ExitCode == 0, unpack.All);
        Profile = BoardProfileLoader.Load(Path.Combine(PackageRoot, "usr/lib/edgeruntime/board.json"));
        await MakeSysrootAsync();

        // The package's own model (Silero VAD) and the test models, in a directory of the test's.
        // Headless too: a simulated button whose presses run the MLP on 32 ms of replayed speech, stored in the journal
        // (its CRC-32C computed by the arm64 CRC32 instructions).
        string headless = $$"""
            "store": { "path": "results" },
            "sensors": [
              { "name": "button", "type": "gpio", "pin": 17, "debounceMs": 0, "simulated": true },
              { "name": "speech", "type": "wav", "path": "{{Paths.SpeechWav}}", "loop": true, "bufferMs": 1000 }
            ],
            "triggers": [ { "name": "press", "on": { "gpio": "button" }, "run": { "model": "mlp", "window": { "sensor": "speech", "preMs": 32 } } } ]
            """;
        string daemonDirectory = EdgedProcess.Prepare(headless, preload: """{ "name": "add", "path": "add.onnx" }, { "name": "mlp", "path": "mlp.onnx" }, { "name": "vad", "path": "silero_vad_v5.onnx" }""");
        File.Copy(Path.Combine(PackageRoot, "usr/share/edgeruntime/models/silero_vad_v5.onnx"), Path.Combine(daemonDirectory, "models", "silero_vad_v5.onnx"), overwrite: true);
        _edged = await EdgedProcess.StartCommandAsync(daemonDirectory, qemu, QemuArguments(Cpu), TimeSpan.FromSeconds(120));
    }

    public async Task DisposeAsync()
    {
        if (_edged is not null)
        {
            await _edged.DisposeAsync();
        }

        if (Directory.Length > 0)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>qemu-aarch64's arguments before edged's own: the CPU model and the sysroot.</summary>
    public string[] QemuArguments(string cpu) => ["-cpu", cpu, "-L", Sysroot, EdgedPath];

    private async Task MakeSysrootAsync()
    {
        var copy = await ProcessRunner.RunAsync("cp", "-as", "/usr/aarch64-linux-gnu/.", Sysroot + "/");
        Assert.True(copy.ExitCode == 0, "the aarch64 C library (libc6-dev-arm64-cross) is needed: " + copy.All);
        System.IO.Directory.CreateDirectory(Path.Combine(Sysroot, "proc"));
        File.WriteAllText(Path.Combine(Sysroot, "proc", "cpuinfo"), CpuInfo(Profile.Cpu));
    }

    /// <summary>/proc/cpuinfo as an arm64 Linux kernel writes it, for the board's cores.</summary>
    public static string CpuInfo(CpuInfo cpu)
    {
        var text = new StringBuilder();
        for (int core = 0; core < cpu.Cores; core++)
        {
            text.Append(CultureInfo.InvariantCulture, $"processor\t: {core}\n")
                .Append("BogoMIPS\t: 108.00\n")
                .Append(CultureInfo.InvariantCulture, $"Features\t: {string.Join(' ', cpu.Features)}\n")
                .Append("CPU implementer\t: 0x41\n")
                .Append("CPU architecture: 8\n")
                .Append("CPU variant\t: 0x0\n")
                .Append(CultureInfo.InvariantCulture, $"CPU part\t: {cpu.Part}\n")
                .Append("CPU revision\t: 0\n\n");
        }

        return text.ToString();
    }
}

public sealed class Rpi4Board() : EmulatedBoard("rpi4");

public sealed class Rpi5Board() : EmulatedBoard("rpi5");

/// <summary>The rpi5 package on a core with I8MM (qemu's "max"), as on a board with a Cortex-A710 or newer.</summary>
public sealed class Rpi5I8mmBoard() : EmulatedBoard("rpi5", qemuCpu: "max");
