using System.Text.Json;
using EdgeRuntime.Inference.Providers;

namespace EdgeRuntime.Boards;

/// <summary>A board profile that cannot be used; the message names the file and the field.</summary>
public sealed class BoardProfileException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads and checks board profiles.</summary>
public static class BoardProfileLoader
{
    public const string FileName = "board.json";

    private static readonly string[] Rids = ["linux-x64", "linux-arm64"];

    /// <summary>The host profile compiled into edged: CPU provider, thread defaults, no budget.</summary>
    public static BoardProfile BuiltInHost()
    {
        using var stream = typeof(BoardProfileLoader).Assembly.GetManifestResourceStream("host.board.json")
            ?? throw new InvalidOperationException("The built-in host board profile is missing from the assembly.");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return Parse(memory.ToArray(), "built-in host profile");
    }

    public static BoardProfile Load(string path)
    {
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new BoardProfileException($"Board profile '{fullPath}' does not exist.");
        }

        return Parse(File.ReadAllBytes(fullPath), fullPath);
    }

    public static BoardProfile Parse(ReadOnlySpan<byte> json, string source)
    {
        BoardProfile? profile;
        try
        {
            profile = JsonSerializer.Deserialize(json, BoardJsonContext.Default.BoardProfile);
        }
        catch (JsonException e)
        {
            // The reader's message names the JSON path of the offending field ($.threads.intraOp).
            throw new BoardProfileException($"{source}: not a valid board profile: {e.Message}", e);
        }

        if (profile is null)
        {
            throw new BoardProfileException($"{source}: holds null, not a board profile.");
        }

        Validate(profile, source);
        return profile;
    }

    public static void Validate(BoardProfile profile, string source)
    {
        void Require(bool condition, string field, string rule)
        {
            if (!condition)
            {
                throw new BoardProfileException($"{source}: '{field}' {rule}.");
            }
        }

        Require(!string.IsNullOrWhiteSpace(profile.Name) && profile.Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'), "name", "must be lower-case letters, digits and '-'");
        Require(Rids.Contains(profile.Rid), "rid", $"is '{profile.Rid}'; must be one of {string.Join(", ", Rids)}");
        Require(profile.IlcInstructionSet is null || (profile.IlcInstructionSet.Length > 0 && !profile.IlcInstructionSet.Contains(' ', StringComparison.Ordinal)), "ilcInstructionSet", "must be a comma-separated list without spaces, or absent");
        Require(profile.Cpu.Cores >= 1, "cpu.cores", "must be at least 1");
        bool arm = profile.Rid == "linux-arm64";
        Require(!arm || profile.Cpu.QemuCpu is not null, "cpu.qemuCpu", "is required for an arm64 board (the emulated board runs with it)");
        Require(!arm || profile.Cpu.Part is not null, "cpu.part", "is required for an arm64 board");
        Require(MissingProviderActions.TryParse(profile.OnMissingProvider, out _), "onMissingProvider", $"is '{profile.OnMissingProvider}'; must be '{MissingProviderActions.Fallback}' or '{MissingProviderActions.Fail}'");
        Require(profile.Kernels.MaxPath is null || (Enum.TryParse<Kernels.KernelPath>(profile.Kernels.MaxPath, out var maxPath) && Enum.IsDefined(maxPath) && !char.IsAsciiDigit(profile.Kernels.MaxPath[0])), "kernels.maxPath", $"is '{profile.Kernels.MaxPath}'; must be one of {string.Join(", ", Enum.GetNames<Kernels.KernelPath>())}, or absent");
        Require(Inference.Onnx.KernelFallbackModes.TryParse(profile.KernelFallback, out _), "kernelFallback", $"is '{profile.KernelFallback}'; must be 'auto', 'force' or 'off'");
        Require(profile.ExecutionProviders.Length > 0, "executionProviders", "must list at least the cpu provider");
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < profile.ExecutionProviders.Length; i++)
        {
            var spec = profile.ExecutionProviders[i];
            if (spec.Validate() is { } problem)
            {
                throw new BoardProfileException($"{source}: 'executionProviders[{i}].{problem.Field}' {problem.Problem}.");
            }

            Require(names.Add(spec.Name), $"executionProviders[{i}].name", $"repeats provider '{spec.Name}'");
            Require(spec.Kind != ProviderKind.Cpu || i == profile.ExecutionProviders.Length - 1, $"executionProviders[{i}].name", "is cpu, which must be the last entry");
        }

        Require(profile.ExecutionProviders[^1].Kind == ProviderKind.Cpu, "executionProviders", "must end with the cpu provider (every model can run there)");
        Require(profile.Threads.IntraOp >= 1, "threads.intraOp", "must be at least 1");
        Require(profile.Threads.InterOp >= 1, "threads.interOp", "must be at least 1");
        Require(profile.Threads.Workers >= 0, "threads.workers", "must be 0 (one per processor) or more");
        Require(profile.Memory.BudgetMiB >= 0, "memory.budgetMiB", "must be 0 (no limit) or more");
        if (profile.Gpio is { } gpio)
        {
            Require(gpio.Chip.StartsWith("/dev/gpiochip", StringComparison.Ordinal), "gpio.chip", $"is '{gpio.Chip}'; must be a /dev/gpiochipN path");
            Require(gpio.Numbering is "logical" or "board", "gpio.numbering", $"is '{gpio.Numbering}'; must be 'logical' or 'board'");
        }

        Require(profile.SocketPath is null || Path.IsPathFullyQualified(profile.SocketPath), "socketPath", "must be an absolute path");
        Require(profile.Service.WatchdogSeconds is >= 0 and <= 3600, "service.watchdogSeconds", "must be between 0 (off) and 3600");
        for (int i = 0; i < profile.Service.Environment.Length; i++)
        {
            string entry = profile.Service.Environment[i];
            int equals = entry.IndexOf('=', StringComparison.Ordinal);
            Require(equals > 0 && entry[..equals].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !entry.Any(char.IsControl), $"service.environment[{i}]", $"is '{entry}'; must be NAME=value");
        }

        for (int i = 0; i < profile.Service.SupplementaryGroups.Length; i++)
        {
            string group = profile.Service.SupplementaryGroups[i];
            Require(group.Length > 0 && group.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'), $"service.supplementaryGroups[{i}]", $"is '{group}'; must be a group name");
        }
    }
}
