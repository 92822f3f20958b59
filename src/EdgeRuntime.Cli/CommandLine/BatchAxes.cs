using System.CommandLine;
using System.Globalization;

namespace EdgeRuntime.Cli;

/// <summary><c>load --batch-axis PORT=AXIS</c>: one port's batch axis, repeated for each port.</summary>
internal static class BatchAxes
{
    public static Option<KeyValuePair<string, int>[]> Create() => new("--batch-axis")
    {
        Description = "a port's batch axis, e.g. state=1; repeat for each input and output. An input left out is shared: equal in every request of a batch. Default: every port's first dimension",
        HelpName = "PORT=AXIS",
        Arity = ArgumentArity.OneOrMore,
        CustomParser = ValueParsers.Each<KeyValuePair<string, int>>(TryParse, text => $"--batch-axis takes PORT=AXIS (e.g. state=1), not '{text}'."),
    };

    /// <summary>The load request's map, or null when none was given.</summary>
    /// <exception cref="UsageException">A port given twice.</exception>
    public static Dictionary<string, int>? ToMap(KeyValuePair<string, int>[]? axes)
    {
        if (axes is not { Length: > 0 })
        {
            return null;
        }

        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (port, axis) in axes)
        {
            if (!map.TryAdd(port, axis))
            {
                throw new UsageException($"--batch-axis names '{port}' twice.");
            }
        }

        return map;
    }

    private static bool TryParse(string text, out KeyValuePair<string, int> axis)
    {
        int equals = text.LastIndexOf('=');
        if (equals > 0 && int.TryParse(text.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int value))
        {
            axis = new(text[..equals], value);
            return true;
        }

        axis = default;
        return false;
    }
}
