using System.CommandLine;

namespace EdgeRuntime.Cli;

/// <summary>The command lines of status, models, load, unload, info and stats; the work is in <see cref="EdgeCtl"/>.</summary>
internal static class ModelCommands
{
    public static Command Status(GlobalOptions global)
    {
        var command = new Command("status", "Daemon version, board, platform, providers, health and warnings; each sensor's state and last reading, each trigger's counts, the result store.");
        global.SetConnectedAction(command, parseResult =>
        {
            bool json = parseResult.GetValue(global.Json);
            return client => EdgeCtl.StatusAsync(client, json);
        });
        return command;
    }

    public static Command Models(GlobalOptions global)
    {
        var command = new Command("models", "The loaded models: name, providers, path.");
        global.SetConnectedAction(command, parseResult =>
        {
            bool json = parseResult.GetValue(global.Json);
            return client => EdgeCtl.ModelsAsync(client, json);
        });
        return command;
    }

    public static Command Load(GlobalOptions global)
    {
        var name = new Argument<string>("NAME") { Description = "the name requests will use" };
        var path = new Argument<string>("PATH") { Description = "an .onnx file; a relative path that exists from here is sent absolute, any other is taken from the daemon's model directory" };
        var providers = new Option<string?>("--providers")
        {
            Description = "execution providers in order of preference, e.g. qnn,cpu (default: the board profile's)",
            HelpName = "LIST",
        };
        var onMissing = new Option<string?>("--on-missing")
        {
            Description = "when a listed provider is not available: fallback to the next one, or fail the load (default: the board profile's)",
            HelpName = "fallback|fail",
        };
        var kernels = new Option<string?>("--kernels")
        {
            Description = "which nodes move onto EdgeRuntime's C# kernels: auto (those the providers lack), force (every node a kernel covers) or off",
            HelpName = "auto|force|off",
        };
        var maxBatch = new Option<int?>("--max-batch")
        {
            Description = "run up to N requests that arrive while the model is busy as one batch (only for models whose rows do not mix; docs/protocol.md, Batching)",
            HelpName = "N",
            CustomParser = ValueParsers.Single<int?>(
                (string text, out int? n) => (n = ValueParsers.PositiveInt(text, out int v) ? v : null) is not null,
                text => $"--max-batch takes a positive whole number, not '{text}'."),
        };
        var batchAxes = BatchAxes.Create();
        var nodes = Nodes();
        var command = new Command("load", "Load an ONNX model into the daemon and print its description (as info does).") { name, path, providers, onMissing, kernels, maxBatch, batchAxes, nodes };
        global.SetConnectedAction(command, parseResult =>
        {
            var request = new Protocol.LoadRequest(
                parseResult.GetRequiredValue(name),
                LocalPaths.AbsoluteIfHere(parseResult.GetRequiredValue(path)),
                parseResult.GetValue(providers)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                parseResult.GetValue(onMissing))
            {
                KernelFallback = parseResult.GetValue(kernels),
                MaxBatch = parseResult.GetValue(maxBatch),
                BatchAxes = BatchAxes.ToMap(parseResult.GetValue(batchAxes)),
            };
            bool json = parseResult.GetValue(global.Json), showNodes = parseResult.GetValue(nodes);
            return client => EdgeCtl.LoadAsync(client, request, json, showNodes);
        });
        return command;
    }

    public static Command Unload(GlobalOptions global)
    {
        var name = new Argument<string>("NAME") { Description = "a loaded model" };
        var command = new Command("unload", "Unload a model; requests already running finish first.") { name };
        global.SetConnectedAction(command, parseResult =>
        {
            string model = parseResult.GetRequiredValue(name);
            return client => EdgeCtl.UnloadAsync(client, model);
        });
        return command;
    }

    public static Command Info(GlobalOptions global)
    {
        var name = new Argument<string>("NAME") { Description = "a loaded model" };
        var nodes = Nodes();
        var command = new Command("info", "A model's inputs, outputs, providers, warnings and the number of nodes each provider runs.") { name, nodes };
        global.SetConnectedAction(command, parseResult =>
        {
            string model = parseResult.GetRequiredValue(name);
            bool json = parseResult.GetValue(global.Json), showNodes = parseResult.GetValue(nodes);
            return client => EdgeCtl.InfoAsync(client, model, json, showNodes);
        });
        return command;
    }

    public static Command Stats(GlobalOptions global)
    {
        var command = new Command("stats", "Per model: requests, errors, mean, p50 and p99 latency.");
        global.SetConnectedAction(command, parseResult =>
        {
            bool json = parseResult.GetValue(global.Json);
            return client => EdgeCtl.StatsAsync(client, json);
        });
        return command;
    }

    private static Option<bool> Nodes() => new("--nodes") { Description = "list every node with the provider or kernel that runs it" };
}
