using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Globalization;

namespace EdgeRuntime.Cli;

/// <summary>
/// edgectl's command tree, parsed by System.CommandLine. <see cref="Create"/> builds it (tests parse with it in-process);
/// <see cref="UsageErrors"/> turns a parse's problems into the messages edgectl prints before exiting 2.
/// </summary>
internal static class EdgectlCommandLine
{
    /// <summary>No response files: an argument starting with '@' is a name or a path, as it always was.</summary>
    public static ParserConfiguration Parsing { get; } = new() { ResponseFileTokenReplacer = null };

    public static RootCommand Create()
    {
        var global = new GlobalOptions();
        var root = new RootCommand(
            "edgectl: talk to edged, the EdgeRuntime daemon, from a shell. Exits 0 on success, 1 with the daemon's error "
            + "code and message on failure, 2 on usage errors. 'edgectl COMMAND --help' describes a command.")
        {
            global.Socket,
            global.Json,
            ModelCommands.Status(global),
            ModelCommands.Models(global),
            ModelCommands.Load(global),
            ModelCommands.Unload(global),
            ModelCommands.Info(global),
            ModelCommands.Stats(global),
            InferCommand.Create(global),
            GenerationCommands.Generate(global),
            GenerationCommands.Chat(global),
            WatchCommand.Create(global),
            WatchCommand.CreateInject(global),
            PipelineCommands.CreateList(global),
            PipelineCommands.CreateLoad(global),
            PipelineCommands.CreateRun(global),
            TimelineCommand.Create(global),
            FileCommands.Tensor(),
            FileCommands.Wav2Npy(),
        };
        root.HelpName = "edgectl";

        // No command: the overview on stdout, and exit 2 as before (a script that forgot the command fails).
        root.SetAction(parseResult =>
        {
            new HelpAction().Invoke(parseResult);
            return 2;
        });

        LastValueWins(root);
        foreach (var command in root.Subcommands)
        {
            RejectOptionLikeArguments(command);
            LastValueWins(command);
        }

        return root;
    }

    public static ParseResult Parse(params string[] args) => Create().Parse(args, Parsing);

    /// <summary>What is wrong with the command line, one message each; empty when it can run.</summary>
    public static IReadOnlyList<string> UsageErrors(ParseResult result)
    {
        var messages = new List<string>();
        var unmatched = result.UnmatchedTokens;
        if (unmatched.Count > 0)
        {
            if (result.CommandResult.Command is RootCommand && !LooksLikeOption(unmatched[0]))
            {
                messages.Add($"Unknown command '{unmatched[0]}'.");
            }
            else if (unmatched.Where(LooksLikeOption).ToArray() is { Length: > 0 } options)
            {
                // "--bogus 1": the value after an unknown option is not a second problem.
                messages.AddRange(options.Select(o => $"Unknown option {o}."));
            }
            else
            {
                messages.AddRange(unmatched.Select(t => $"Unexpected argument '{t}'."));
            }
        }

        // System.CommandLine's own message for each unmatched token ("Unrecognized command or argument 'X'.") is
        // replaced by the ones above.
        messages.AddRange(result.Errors
            .Where(e => !(e.SymbolResult is CommandResult && unmatched.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal))))
            .Select(e => e.Message)
            .Where(m => !messages.Contains(m)));
        return messages;
    }

    /// <summary>The command the user meant, for "Run 'edgectl run --help'": the deepest one that parsed.</summary>
    public static string CommandPath(ParseResult result) =>
        result.CommandResult.Command is RootCommand ? "edgectl" : $"edgectl {result.CommandResult.Command.Name}";

    /// <summary>An argument such as --bogus that a command took as a positional value (watch TRIGGER...) is an unknown option.</summary>
    private static void RejectOptionLikeArguments(Command command)
    {
        if (command.Arguments.Count == 0)
        {
            return;
        }

        command.Validators.Add(result =>
        {
            foreach (var argument in command.Arguments)
            {
                if (result.GetResult(argument) is { } values)
                {
                    foreach (var token in values.Tokens.Where(t => LooksLikeOption(t.Value)))
                    {
                        result.AddError($"Unknown option {token.Value}.");
                    }
                }
            }
        });
    }

    /// <summary>
    /// A single-valued option given twice takes its last value, as edgectl always did (a wrapper passes --socket and the
    /// user overrides it). Every custom parser here reads the last token; plain text options get one that does.
    /// </summary>
    private static void LastValueWins(Command command)
    {
        foreach (var option in command.Options.Where(o => o.Arity.Equals(ArgumentArity.ExactlyOne)))
        {
            option.Arity = ValueParsers.Repeatable;
            if (option is Option<string?> { CustomParser: null } text)
            {
                text.CustomParser = result => result.Tokens[^1].Value;
            }
        }
    }

    /// <summary>The old rule: a dash and more, unless it is a number (-1, -0.5 are values).</summary>
    private static bool LooksLikeOption(string token) =>
        token.Length > 1 && token[0] == '-' && !double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
