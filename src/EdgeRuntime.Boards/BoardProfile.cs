using EdgeRuntime.Inference.Providers;

namespace EdgeRuntime.Boards;

// boards/<board>/board.json. docs/boards.md documents every field; keep them in step.
// Settable rather than init: the source-generated reader would otherwise give absent members their CLR default.

/// <summary>What one board is and how edged runs on it: the build target, providers, threads, memory, GPIO, service.</summary>
public sealed record BoardProfile
{
    public string Name { get; set; } = string.Empty;

    public string Description { get; set; } = string.Empty;

    /// <summary>The .NET runtime identifier the board's binaries are built for: linux-x64 or linux-arm64.</summary>
    public string Rid { get; set; } = string.Empty;

    /// <summary>Native AOT's IlcInstructionSet: the CPU features the code may assume (null: the RID's baseline).</summary>
    public string? IlcInstructionSet { get; set; }

    public CpuInfo Cpu { get; set; } = new();

    /// <summary>Providers in order of preference; CPU is always last (added when absent).</summary>
    public ProviderSpec[] ExecutionProviders { get; set; } = [];

    /// <summary>fallback or fail (see MissingProviderAction).</summary>
    public string OnMissingProvider { get; set; } = MissingProviderActions.Fallback;

    /// <summary>auto, force or off: which nodes move onto our ai.edgeruntime kernels at load (docs/kernels.md).</summary>
    public string KernelFallback { get; set; } = "auto";

    /// <summary>Limits on the C# kernels' choice of instructions (absent: the best the CPU offers).</summary>
    public BoardKernels Kernels { get; set; } = new();

    public BoardThreads Threads { get; set; } = new();

    public BoardMemory Memory { get; set; } = new();

    public GpioInfo? Gpio { get; set; }

    /// <summary>The socket when the configuration and environment name none; null keeps the default rule.</summary>
    public string? SocketPath { get; set; }

    public ServiceInfo Service { get; set; } = new();

    public ProviderChoice ToProviderChoice()
    {
        MissingProviderActions.TryParse(OnMissingProvider, out var action);
        Inference.Onnx.KernelFallbackModes.TryParse(KernelFallback, out var kernels);
        return new ProviderChoice(ExecutionProviders, action) { KernelFallback = kernels };
    }
}

/// <summary>The board's CPU: used for documentation, the thread defaults, and the emulated board (qemu -cpu, /proc/cpuinfo).</summary>
public sealed record CpuInfo
{
    /// <summary>e.g. Cortex-A76.</summary>
    public string Model { get; set; } = string.Empty;

    public int Cores { get; set; } = 1;

    /// <summary>The qemu-user CPU model that emulates this core (cortex-a72, cortex-a76, ...); null for x64.</summary>
    public string? QemuCpu { get; set; }

    /// <summary>The ARM "CPU part" number as /proc/cpuinfo shows it (0xd08 for Cortex-A72).</summary>
    public string? Part { get; set; }

    /// <summary>The features /proc/cpuinfo lists for the core (asimddp means the dot-product instructions).</summary>
    public string[] Features { get; set; } = [];
}

/// <summary>
/// A ceiling on the kernels' path and switches for the dot-product extensions, for a board whose CPU runs a wider form
/// slower or wrongly. It can only narrow what the CPU offers (see KernelPaths.Choose).
/// </summary>
public sealed record BoardKernels
{
    /// <summary>Scalar, Vector128, Vector256, Vector512 (x64) or AdvSimd (arm64); null: the widest the CPU runs.</summary>
    public string? MaxPath { get; set; }

    /// <summary>Use AVX-VNNI's vpdpbusd where the CPU has it.</summary>
    public bool Vnni { get; set; } = true;

    /// <summary>Use arm64's SDOT where the CPU has it.</summary>
    public bool DotProduct { get; set; } = true;

    /// <summary>Use the native I8MM (USMMLA) batch kernels where the arm64 CPU has I8MM.</summary>
    public bool I8mm { get; set; } = true;

    /// <summary>The limits as the kernels take them (MaxPath already validated by the loader).</summary>
    public Kernels.KernelLimits ToLimits() =>
        new(MaxPath is null ? null : Enum.Parse<Kernels.KernelPath>(MaxPath), Vnni, DotProduct, I8mm);
}

public sealed record BoardThreads
{
    public int IntraOp { get; set; } = 1;

    public int InterOp { get; set; } = 1;

    /// <summary>Inference worker threads; 0 means one per processor.</summary>
    public int Workers { get; set; }
}

public sealed record BoardMemory
{
    /// <summary>Resident memory edged may reach by loading models; 0 means no limit. Also the unit's MemoryMax.</summary>
    public int BudgetMiB { get; set; }
}

public sealed record GpioInfo
{
    /// <summary>The GPIO character device the header pins are on (the Pi 5's RP1 is gpiochip4 on older kernels, gpiochip0 on newer).</summary>
    public string Chip { get; set; } = "/dev/gpiochip0";

    /// <summary>logical (the SoC's line offsets, what libgpiod uses) or board (physical header pin numbers).</summary>
    public string Numbering { get; set; } = "logical";
}

/// <summary>How the packaged systemd service runs on this board.</summary>
public sealed record ServiceInfo
{
    /// <summary>Groups the service user joins for device access (gpio, i2c, video, render, ...). Created by the package when missing.</summary>
    public string[] SupplementaryGroups { get; set; } = [];

    /// <summary>systemd DeviceAllow= entries (e.g. "char-gpiochip rw", "/dev/fastrpc-cdsp rw"); all other devices are closed.</summary>
    public string[] DeviceAllow { get; set; } = [];

    /// <summary>Extra Environment= lines for the unit (NAME=value), e.g. where QNN finds its Hexagon libraries.</summary>
    public string[] Environment { get; set; } = [];

    /// <summary>Seconds without a watchdog ping before systemd restarts edged.</summary>
    public int WatchdogSeconds { get; set; } = 30;
}
