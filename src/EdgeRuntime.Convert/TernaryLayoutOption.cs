using System.CommandLine;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Convert;

/// <summary>
/// --ternary-layout, shared by edge-convert (--to bitlinear) and edge-convert import (BitNet checkpoints). Null when not
/// given (2 bits), so a command can refuse it where it does not apply; the help names the default in words.
/// </summary>
internal static class TernaryLayoutOption
{
    public static Option<TernaryLayout?> Create() => new("--ternary-layout")
    {
        Description = "how ternary weights are packed: 2bit (the default, fastest where memory keeps up) or 1.6bit (five "
            + "weights a byte, up to 20 % smaller; more work per weight, so slower on a CPU with bandwidth to spare: see docs/kernels.md)",
        HelpName = "2bit|1.6bit",
        Arity = new ArgumentArity(1, 1000),
        CustomParser = result => result.Tokens[^1].Value switch
        {
            "2bit" => TernaryLayout.FourPerByte,
            "1.6bit" => TernaryLayout.FivePerByte,
            var other => Fail(result, $"--ternary-layout is '{other}'; it must be 2bit or 1.6bit"),
        },
    };

    private static TernaryLayout? Fail(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return null;
    }
}
