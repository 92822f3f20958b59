using System.CommandLine;
using EdgeRuntime.Cli;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli.Tests;

/// <summary>edgectl's command tree, parsed in-process: help everywhere, the values commands get, and usage errors.</summary>
public sealed class EdgectlParserTests
{
    public static TheoryData<string> Commands() => [.. EdgectlCommandLine.Create().Subcommands.Select(c => c.Name)];

    [Fact]
    public void Every_documented_command_is_there()
    {
        string[] expected = ["status", "models", "load", "unload", "info", "stats", "infer", "generate", "chat", "watch", "inject", "pipelines", "pipeline-load", "run", "timeline", "tensor", "wav2npy"];
        Assert.Equal(expected.Order(), EdgectlCommandLine.Create().Subcommands.Select(c => c.Name).Order());
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_command_has_help_that_describes_it_and_each_of_its_options(string name)
    {
        var command = EdgectlCommandLine.Create().Subcommands.Single(c => c.Name == name);
        Assert.False(string.IsNullOrWhiteSpace(command.Description));
        Assert.All(command.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{name} {o.Name}"));
        Assert.All(command.Arguments, a => Assert.False(string.IsNullOrWhiteSpace(a.Description), $"{name} {a.Name}"));

        string help = Help(name, "--help");
        Assert.Contains($"edgectl {name}", help, StringComparison.Ordinal);
        Assert.Contains(command.Description!, help, StringComparison.Ordinal);
        Assert.Contains("--socket", help, StringComparison.Ordinal);
        foreach (var option in command.Options)
        {
            Assert.Contains(option.Name, help, StringComparison.Ordinal);
        }

        // -h works too, and help wins over an incomplete line.
        Assert.Equal(help, Help(name, "-h"));
        Assert.True(EdgectlCommandLine.Parse(name, "--help").Action is { ClearsParseErrors: true });
    }

    [Fact]
    public void The_overview_lists_every_command_and_the_socket_default()
    {
        string help = Help("--help");
        foreach (var command in EdgectlCommandLine.Create().Subcommands)
        {
            Assert.Contains(command.Name, help, StringComparison.Ordinal);
        }

        Assert.Contains("$EDGED_SOCKET", help, StringComparison.Ordinal);
        Assert.DoesNotContain("additional arguments", help, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--socket", "/tmp/s", "--json", "status")]
    [InlineData("status", "--socket", "/tmp/s", "--json")]
    [InlineData("--json", "status", "--socket", "/tmp/s")]
    [InlineData("--socket", "/tmp/other", "status", "--json", "--socket", "/tmp/s")]
    public void Global_options_go_before_or_after_the_command_and_the_last_socket_wins(params string[] args)
    {
        var result = Parsed(args);
        Assert.Equal("status", result.CommandResult.Command.Name);
        Assert.Equal("/tmp/s", result.GetValue<string>("--socket"));
        Assert.True(result.GetValue<bool>("--json"));
    }

    [Fact]
    public void Infer_gets_repeated_inputs_carries_and_numbers()
    {
        var result = Parsed("infer", "vad", "--input", "input=frames.npy", "--input", "state=s.npy", "--split", "input", "--carry", "stateN=state", "--repeat", "3", "--quiet", "--output", "output");
        Assert.Equal("vad", result.GetValue<string>("NAME"));
        Assert.Equal([new NamedValue("input", "frames.npy"), new NamedValue("state", "s.npy")], result.GetValue<NamedValue[]>("--input")!);
        Assert.Equal([new NamedValue("stateN", "state")], result.GetValue<NamedValue[]>("--carry")!);
        Assert.Equal("input", result.GetValue<string>("--split"));
        Assert.Equal(3, result.GetValue<int>("--repeat"));
        Assert.True(result.GetValue<bool>("--quiet"));
        Assert.Equal(["output"], result.GetValue<string[]>("--output")!);
        Assert.Equal(1, Parsed("infer", "vad").GetValue<int>("--repeat"));
    }

    [Fact]
    public void Run_builds_the_request_the_daemon_gets()
    {
        var run = new RunOptions();
        var root = new RootCommand { run.Command };
        var result = root.Parse(["run", "digits", "--input", "audio=/a.wav", "--input", "vision=frames/", "--index", "0", "--mode", "sequential", "--no-skip", "--budget", "5.5", "--config", "audio=large:100,vision=small:/2", "--clock", "fast"], EdgectlCommandLine.Parsing);
        Assert.Empty(result.Errors);
        var request = run.Request(result);
        Assert.Equal("digits", request.Pipeline);
        Assert.Equal(PipelineInput.FromPath("/a.wav"), request.Inputs!["audio"]);
        Assert.Equal(PipelineInput.FromPath("frames/"), request.Inputs["vision"]);
        Assert.Equal(0, request.Index);
        Assert.Equal("sequential", request.Mode);
        Assert.False(request.Skip);
        Assert.Equal(5.5, request.BudgetMs);
        Assert.Equal("fast", request.Clock);
        Assert.Equal(["audio", "vision"], request.Configuration!.Modalities.Select(m => m.Modality));
        Assert.Equal(2, request.Configuration.Modalities[1].Stride);

        var plain = run.Request(root.Parse(["run", "digits"], EdgectlCommandLine.Parsing));
        Assert.Null(plain.Inputs);
        Assert.Null(plain.Skip);
        Assert.Null(plain.Index);
        Assert.Null(plain.Configuration);
        Assert.Null(plain.Live);
        Assert.Null(plain.PreMs);
    }

    [Fact]
    public void A_live_run_names_sensors_and_its_window()
    {
        var run = new RunOptions();
        var root = new RootCommand { run.Command };
        var request = run.Request(root.Parse(["run", "digits-live", "--input", "audio=sensor:mic", "--input", "vision=frames/", "--live", "--pre-ms", "500"], EdgectlCommandLine.Parsing));
        Assert.Equal(PipelineInput.FromSensor("mic"), request.Inputs!["audio"]);
        Assert.Equal(PipelineInput.FromPath("frames/"), request.Inputs["vision"]);
        Assert.True(request.Live);
        Assert.Equal(500, request.PreMs);

        Assert.Contains("--input audio=sensor: names no sensor.", root.Parse(["run", "x", "--input", "audio=sensor:"], EdgectlCommandLine.Parsing).Errors.Select(e => e.Message));
        Assert.Contains("--pre-ms takes milliseconds > 0, not '-5'.", root.Parse(["run", "x", "--pre-ms", "-5"], EdgectlCommandLine.Parsing).Errors.Select(e => e.Message));
    }

    [Fact]
    public void Watch_inject_timeline_tensor_and_wav2npy_get_their_values()
    {
        var watch = Parsed("watch", "speech", "press", "--since", "0", "--count", "2", "--timeout", "30", "--output-dir", "out");
        Assert.Equal(["speech", "press"], watch.GetValue<string[]>("TRIGGER")!);
        Assert.Equal(0L, watch.GetValue<long?>("--since"));
        Assert.Equal(2, watch.GetValue<int>("--count"));
        Assert.Equal(30.0, watch.GetValue<double>("--timeout"));

        var inject = Parsed("inject", "env", "--value", "temperature=31.5", "--value", "humidity=-2");
        Assert.Equal([new SensorValue("temperature", 31.5), new SensorValue("humidity", -2)], inject.GetValue<SensorValue[]>("--value")!);
        Assert.Equal("rising", Parsed("inject", "button", "--edge", "rising").GetValue<string>("--edge"));

        Assert.Equal(7L, Parsed("timeline", "digits", "--id", "7", "--out", "x.svg").GetValue<long?>("--id"));

        var tensor = Parsed("tensor", "sr.npy", "--dtype", "int64", "--shape", "", "--value", "-1");
        Assert.Equal(TensorDType.Int64, tensor.GetValue<TensorDType>("--dtype"));
        Assert.Empty(tensor.GetValue<long[]>("--shape")!);
        Assert.Equal(-1.0, tensor.GetValue<double>("--value"));
        Assert.Equal([2L, 1L, 128L], Parsed("tensor", "s.npy", "--shape", "2,1,128").GetValue<long[]>("--shape")!);
        Assert.Equal(TensorDType.Float32, Parsed("tensor", "s.npy", "--shape", "1").GetValue<TensorDType>("--dtype"));

        var wav = Parsed("wav2npy", "a.wav", "a.npy", "--rate=8000");
        Assert.Equal(8000, wav.GetValue<int>("--rate"));
        Assert.Equal(512, wav.GetValue<int>("--frame"));
    }

    [Fact]
    public void Generate_builds_the_request_the_daemon_gets_with_every_sampling_option()
    {
        var options = new GenerationOptions();
        var root = new RootCommand();
        foreach (var option in options.All)
        {
            root.Options.Add(option);
        }

        var result = root.Parse(["--max-tokens", "32", "--temperature", "0.7", "--top-k", "40", "--top-p", "0.9", "--min-p", "0.05", "--repetition-penalty", "1.1", "--seed", "18446744073709551615", "--stop", "\n", "--stop", "END"], EdgectlCommandLine.Parsing);
        Assert.Empty(result.Errors);
        var request = options.Apply(new GenerateRequest("bitnet") { Prompt = "Hi" }, result);
        Assert.Equal("Hi", request.Prompt);
        Assert.Equal(32, request.MaxTokens);
        Assert.Equal(["\n", "END"], request.Stop!);
        Assert.Equal(new SamplingSpec { Temperature = 0.7f, TopK = 40, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.1f, Seed = ulong.MaxValue }, request.Sampling);

        // Nothing given: the daemon's defaults, so nothing is sent.
        var plain = options.Apply(new GenerateRequest("bitnet") { Prompt = "Hi" }, root.Parse([], EdgectlCommandLine.Parsing));
        Assert.Null(plain.Sampling);
        Assert.Null(plain.MaxTokens);
        Assert.Null(plain.Stop);
    }

    [Fact]
    public void Generate_and_chat_take_their_arguments_and_options()
    {
        var generate = Parsed("generate", "bitnet", "Once upon a time", "--max-tokens", "5", "--json");
        Assert.Equal("bitnet", generate.GetValue<string>("MODEL"));
        Assert.Equal("Once upon a time", generate.GetValue<string>("PROMPT"));
        Assert.Equal(5, generate.GetValue<int?>("--max-tokens"));
        Assert.True(generate.GetValue<bool>("--json"));

        // As everywhere in edgectl, a single-valued option given twice takes its last value.
        var chat = Parsed("chat", "bitnet", "--system", "Be brief.", "--temperature", "0.2", "--temperature", "0.8", "--seed", "7");
        Assert.Equal("Be brief.", chat.GetValue<string>("--system"));
        Assert.Equal(0.8f, chat.GetValue<float?>("--temperature"));
        Assert.Equal(7UL, chat.GetValue<ulong?>("--seed"));
    }

    [Theory]
    [InlineData("--top-p takes a number in (0, 1], not '1.5'.", "--top-p", "1.5")]
    [InlineData("--top-p takes a number in (0, 1], not '0'.", "--top-p", "0")]
    [InlineData("--min-p takes a number in [0, 1), not '1'.", "--min-p", "1")]
    [InlineData("--temperature takes a number >= 0 (0 is greedy), not '-0.5'.", "--temperature", "-0.5")]
    [InlineData("--temperature takes a number >= 0 (0 is greedy), not 'NaN'.", "--temperature", "NaN")]
    [InlineData("--temperature takes a number >= 0 (0 is greedy), not 'hot'.", "--temperature", "hot")]
    [InlineData("--top-k takes a whole number >= 0 (0 is off), not '-1'.", "--top-k", "-1")]
    [InlineData("--repetition-penalty takes a number > 0 (1 is off), not '0'.", "--repetition-penalty", "0")]
    [InlineData("--seed takes a whole number from 0 to 18446744073709551615, not '-1'.", "--seed", "-1")]
    [InlineData("--seed takes a whole number from 0 to 18446744073709551615, not '18446744073709551616'.", "--seed", "18446744073709551616")]
    [InlineData("--max-tokens takes a positive whole number, not '0'.", "--max-tokens", "0")]
    [InlineData("--stop takes a non-empty text.", "--stop", "")]
    public void Generate_and_chat_refuse_sampling_values_out_of_range(string message, params string[] option)
    {
        Assert.Contains(message, EdgectlCommandLine.UsageErrors(EdgectlCommandLine.Parse(["generate", "bitnet", "Hi", .. option])));
        Assert.Contains(message, EdgectlCommandLine.UsageErrors(EdgectlCommandLine.Parse(["chat", "bitnet", .. option])));
    }

    [Theory]
    [InlineData("Unknown command 'nosuch'.", "nosuch")]
    [InlineData("Unknown option --bogus.", "infer", "add", "--bogus", "1")]
    [InlineData("Unknown option --bogus.", "watch", "--bogus", "1")]
    [InlineData("Unknown option --bogus.", "--bogus", "status")]
    [InlineData("Unexpected argument 'extra'.", "pipelines", "extra")]
    [InlineData("Unexpected argument 'c'.", "load", "a", "b", "c")]
    [InlineData("Required argument 'PATH' missing for command: 'load'.", "load", "a")]
    [InlineData("--max-batch takes a positive whole number, not '0'.", "load", "a", "b", "--max-batch", "0")]
    [InlineData("--batch-axis takes PORT=AXIS (e.g. state=1), not 'state'.", "load", "a", "b", "--max-batch", "4", "--batch-axis", "state")]
    [InlineData("--batch-axis takes PORT=AXIS (e.g. state=1), not 'state=-1'.", "load", "a", "b", "--max-batch", "4", "--batch-axis", "state=-1")]
    [InlineData("--input takes INPUT=FILE.npy, not 'x.npy'.", "infer", "add", "--input", "x.npy")]
    [InlineData("--carry takes OUTPUT=INPUT, not 'state'.", "infer", "add", "--carry", "state")]
    [InlineData("--repeat takes a positive whole number, not '0'.", "infer", "add", "--repeat", "0")]
    [InlineData("--since takes a result id (0 for everything kept), not '-1'.", "watch", "--since", "-1")]
    [InlineData("--count takes a positive whole number, not 'x'.", "watch", "--count", "x")]
    [InlineData("--timeout takes seconds, not '0'.", "watch", "--timeout", "0")]
    [InlineData("inject takes --edge rising|falling or one or more --value CHANNEL=NUMBER.", "inject", "button")]
    [InlineData("inject takes --edge rising|falling or one or more --value CHANNEL=NUMBER.", "inject", "button", "--edge", "rising", "--value", "t=1")]
    [InlineData("--value takes CHANNEL=NUMBER, not 't=warm'.", "inject", "env", "--value", "t=warm")]
    [InlineData("Give --skip or --no-skip, not both.", "run", "digits", "--skip", "--no-skip")]
    [InlineData("--clock takes realtime or fast, not 'slow'.", "run", "digits", "--clock", "slow")]
    [InlineData("--budget takes milliseconds > 0, not '-5'.", "run", "digits", "--budget", "-5")]
    [InlineData("--index takes a whole number >= 0, not 'first'.", "run", "digits", "--index", "first")]
    [InlineData("--input audio is given twice.", "run", "digits", "--input", "audio=a.wav", "--input", "audio=b.wav")]
    [InlineData("--input takes NAME=PATH or NAME=sensor:SENSOR (a modality, or \"image\", and a replay file or a sensor), not 'audio='.", "run", "digits", "--input", "audio=")]
    [InlineData("--id takes a result id >= 1, not '0'.", "timeline", "digits", "--id", "0")]
    [InlineData("Unknown dtype 'float8'.", "tensor", "x.npy", "--dtype", "float8", "--shape", "1")]
    [InlineData("Bad dimension '-1' in --shape.", "tensor", "x.npy", "--shape", "2,-1")]
    [InlineData("Option '--shape' is required.", "tensor", "x.npy")]
    [InlineData("--frame takes a positive whole number, not '-512'.", "wav2npy", "a.wav", "a.npy", "--frame", "-512")]
    [InlineData("Required argument missing for option: '--socket'.", "status", "--socket")]
    [InlineData("Required argument 'PROMPT' missing for command: 'generate'.", "generate", "bitnet")]
    [InlineData("Unknown option --top-q.", "generate", "bitnet", "Hi", "--top-q", "1")]
    public void Bad_input_is_a_usage_error_that_says_what_is_wrong(string message, params string[] args)
    {
        var errors = EdgectlCommandLine.UsageErrors(EdgectlCommandLine.Parse(args));
        Assert.Contains(message, errors);
    }

    [Fact]
    public void The_config_spec_error_names_the_option()
    {
        var errors = EdgectlCommandLine.UsageErrors(EdgectlCommandLine.Parse("run", "digits", "--config", "audio=enormous"));
        Assert.StartsWith("--config: ", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2, "nosuch")]
    [InlineData(2, "run", "digits", "--clock", "slow")]
    [InlineData(2, "tensor", "x.npy")]
    [InlineData(2, "generate", "bitnet", "Hi", "--top-p", "1.5")]
    [InlineData(2, "chat", "bitnet", "--temperature", "-1")]
    [InlineData(2)]
    [InlineData(0, "--help")]
    [InlineData(0, "run", "--help")]
    public async Task Usage_errors_exit_2_before_connecting_and_help_exits_0(int exitCode, params string[] args)
    {
        // No daemon at this socket: a usage error must be found before connecting (which would exit 1).
        Assert.Equal(exitCode, await Quietly(() => EdgeCtl.RunAsync(["--socket", "/nonexistent/edged.sock", .. args])));
    }

    [Fact]
    public async Task A_valid_line_with_no_daemon_exits_1()
    {
        Assert.Equal(1, await Quietly(() => EdgeCtl.RunAsync(["--socket", "/nonexistent/edged.sock", "status"])));
    }

    private static ParseResult Parsed(params string[] args)
    {
        var result = EdgectlCommandLine.Parse(args);
        Assert.Empty(EdgectlCommandLine.UsageErrors(result));
        return result;
    }

    private static string Help(params string[] args)
    {
        var output = new StringWriter();
        var result = EdgectlCommandLine.Parse(args);
        Assert.Equal(0, result.Invoke(new InvocationConfiguration { Output = output, EnableDefaultExceptionHandler = false }));
        return output.ToString();
    }

    /// <summary>Runs edgectl with stdout and stderr captured (tests in this class do not run in parallel with each other).</summary>
    private static async Task<int> Quietly(Func<Task<int>> run)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        Console.SetOut(TextWriter.Null);
        Console.SetError(TextWriter.Null);
        try
        {
            return await run();
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
