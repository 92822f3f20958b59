using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;

namespace EdgeRuntime.Daemon;

/// <summary>edged's flags, parsed by System.CommandLine. Flags override the configuration file.</summary>
internal sealed record CommandLine(string? ConfigPath, string? SocketPath, string? ModelDirectory, bool Verbose, bool ShowHelp, bool ShowVersion, bool CheckKernels = false)
{
    /// <summary>The help text (--help prints it; a usage error prints it to stderr).</summary>
    public static string Usage
    {
        get
        {
            var writer = new StringWriter();
            Definition.Create().Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = writer });
            return writer.ToString().TrimEnd();
        }
    }

    /// <summary>The flags in <paramref name="args"/>; <see cref="ConfigException"/> says what is wrong with them.</summary>
    public static CommandLine Parse(string[] args)
    {
        var definition = Definition.Create();
        var result = definition.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        bool help = result.GetResult(definition.Help) is not null;
        if (result.Errors.Count > 0 && !help)
        {
            throw new ConfigException(string.Join(" ", result.Errors.Select(e => Describe(e, result))));
        }

        return new CommandLine(
            result.GetValue(definition.Config),
            result.GetValue(definition.Socket),
            result.GetValue(definition.ModelDirectory),
            result.GetValue(definition.Verbose),
            help,
            result.GetValue(definition.Version),
            result.GetValue(definition.CheckKernels));
    }

    /// <summary>An unknown argument keeps the message edged always gave for it.</summary>
    private static string Describe(ParseError error, ParseResult result) =>
        result.UnmatchedTokens.FirstOrDefault(t => error.Message.Contains($"'{t}'", StringComparison.Ordinal)) is { } token
            ? $"Unknown argument '{token}'."
            : error.Message;

    /// <summary>edged's options; built per parse (System.CommandLine symbols belong to one tree).</summary>
    internal sealed class Definition
    {
        /// <summary>A flag given twice takes its last value, as edged always did.</summary>
        private static readonly ArgumentArity LastWins = new(1, 1000);

        private Definition()
        {
            Root = new RootCommand(
                "edged: the EdgeRuntime daemon. Loads ONNX models once and serves them to local apps over a UNIX socket; "
                + "runs the configured sensors, triggers and pipelines. Stops cleanly on SIGTERM or Ctrl-C.")
            {
                Config, Socket, ModelDirectory, Verbose, Version, CheckKernels,
            };
            Root.HelpName = "edged";

            // edged prints its own version line ("edged 0.1.0") and help (-h as well as --help).
            Root.Options.Remove(Root.Options.OfType<VersionOption>().Single());
            Root.Options.Remove(Root.Options.OfType<HelpOption>().Single());
            Root.Options.Add(Help);
        }

        public RootCommand Root { get; }

        public Option<string?> Config { get; } = new("--config")
        {
            Description = "the configuration file (default: $EDGED_CONFIG, edged.json beside edged, /etc/edgeruntime/edged.json)",
            HelpName = "FILE",
            Arity = LastWins,
            CustomParser = Last,
        };

        public Option<string?> Socket { get; } = new("--socket")
        {
            Description = "the UNIX socket to listen on (default: $EDGED_SOCKET, $RUNTIME_DIRECTORY/edged.sock, "
                + "$XDG_RUNTIME_DIR/edgeruntime/edged.sock, the board profile's socketPath, ./run/edged.sock)",
            HelpName = "PATH",
            Arity = LastWins,
            CustomParser = Last,
        };

        public Option<string?> ModelDirectory { get; } = new("--model-dir")
        {
            Description = "where relative model paths are found (overrides the configuration's modelDirectory)",
            HelpName = "DIR",
            Arity = LastWins,
            CustomParser = Last,
        };

        public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "debug logging" };

        public Option<bool> Version { get; } = new("--version") { Description = "print the version and exit" };

        public Option<bool> CheckKernels { get; } = new("--check-kernels")
        {
            Description = "run every C# kernel on every SIMD path this CPU has against its scalar reference, print the result "
                + "and exit (0: all agree, 1: a path disagrees)",
        };

        public HelpOption Help { get; } = new("--help", "-h") { Description = "print this help and exit" };

        public static Definition Create() => new();

        private static string Last(ArgumentResult result) => result.Tokens[^1].Value;
    }
}
