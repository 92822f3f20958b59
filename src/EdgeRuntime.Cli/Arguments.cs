namespace EdgeRuntime.Cli;

/// <summary>A command line split into positionals and --options; options may repeat (--input a=x --input b=y).</summary>
internal sealed class Arguments
{
    private static readonly HashSet<string> Switches = ["--json", "--help", "-h", "--quiet", "--nodes", "--skip", "--no-skip"];
    private readonly List<string> _positionals = [];
    private readonly List<KeyValuePair<string, string>> _options = [];

    public Arguments(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg.StartsWith('-') && arg.Length > 1 && !double.TryParse(arg, out _))
            {
                int equals = arg.IndexOf('=', StringComparison.Ordinal);
                if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 0)
                {
                    _options.Add(new(arg[..equals], arg[(equals + 1)..]));
                }
                else if (Switches.Contains(arg))
                {
                    _options.Add(new(arg, "true"));
                }
                else if (i + 1 < args.Length)
                {
                    _options.Add(new(arg, args[++i]));
                }
                else
                {
                    throw new UsageException($"{arg} needs a value.");
                }
            }
            else
            {
                _positionals.Add(arg);
            }
        }
    }

    public IReadOnlyList<string> Positionals => _positionals;

    public bool Has(string name) => _options.Any(o => o.Key == name);

    public string? Get(string name) => _options.LastOrDefault(o => o.Key == name).Value;

    public IEnumerable<string> GetAll(string name) => _options.Where(o => o.Key == name).Select(o => o.Value);

    public int GetInt(string name, int fallback)
    {
        string? text = Get(name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, out int value) && value > 0 ? value : throw new UsageException($"{name} takes a positive whole number, not '{text}'.");
    }

    public string Positional(int index, string what) =>
        index < _positionals.Count ? _positionals[index] : throw new UsageException($"Missing {what}.");

    /// <summary>Fails on options the command does not know, so a typo is not silently ignored.</summary>
    public void AllowOnly(params string[] names)
    {
        foreach (var option in _options)
        {
            if (!names.Contains(option.Key) && option.Key is not ("--socket" or "--json" or "--help" or "-h"))
            {
                throw new UsageException($"Unknown option {option.Key}.");
            }
        }
    }
}

internal sealed class UsageException(string message) : Exception(message);
