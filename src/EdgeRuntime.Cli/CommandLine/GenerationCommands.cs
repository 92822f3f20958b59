using System.CommandLine;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>The command lines of generate and chat, which talk to a language model; the work is in <see cref="GenerateCommand"/> and <see cref="ChatCommand"/>.</summary>
internal static class GenerationCommands
{
    public static Command Generate(GlobalOptions global)
    {
        var model = new Argument<string>("MODEL") { Description = "a loaded language model" };
        var prompt = new Argument<string?>("PROMPT") { Description = "the text to continue, sent as is (no chat template); may be left out with --image", Arity = ArgumentArity.ZeroOrOne };
        var image = new Option<string?>("--image") { Description = "a binary PGM/PPM image for a vision-language model (edgectl info shows the size it takes); it goes before the prompt", HelpName = "FILE" };
        var options = new GenerationOptions();
        var command = new Command(
            "generate",
            "Generate text from a prompt: the answer is printed as it is produced, then a summary on stderr (prompt and generated "
            + "tokens, time to first token, decode speed, why it stopped); --json prints every token event and the summary as JSON "
            + "lines instead. Ctrl+C stops the generation (exit 130).")
        {
            model, prompt, image,
        };
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        // Only an image lets the prompt be left out (the model describes what it sees).
        command.Validators.Add(result =>
        {
            if (result.GetValue(prompt) is null && result.GetValue(image) is null)
            {
                result.AddError("Required argument 'PROMPT' missing for command: 'generate'.");
            }
        });

        global.SetConnectedAction(command, parseResult =>
        {
            var request = options.Apply(new GenerateRequest(parseResult.GetRequiredValue(model)) { Prompt = parseResult.GetValue(prompt) ?? "" }, parseResult);
            bool json = parseResult.GetValue(global.Json);
            string? imagePath = parseResult.GetValue(image);
            return async client =>
            {
                var picture = imagePath is null ? null : GenerateCommand.ReadImage(imagePath);
                using var interrupt = GenerationInterrupt.FromConsole();
                return await GenerateCommand.RunAsync(client, request, Terminal.FromConsole(interrupt), json, picture).ConfigureAwait(false);
            };
        });
        return command;
    }

    public static Command Chat(GlobalOptions global)
    {
        var model = new Argument<string>("MODEL") { Description = "a loaded language model" };
        var system = new Option<string?>("--system") { Description = "a system message that starts the conversation (and every one after /reset)", HelpName = "TEXT" };
        var options = new GenerationOptions();
        var command = new Command(
            "chat",
            "Chat with a language model: each line read from stdin is a message, answered as it is produced. The daemon keeps the "
            + "conversation's session, so each turn sends only the new message. /reset starts a new conversation, /exit or end of "
            + "input ends. Ctrl+C stops an answer; a second Ctrl+C ends edgectl.")
        {
            model, system,
        };
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        global.SetConnectedAction(command, parseResult =>
        {
            var template = options.Apply(new GenerateRequest(parseResult.GetRequiredValue(model)), parseResult);
            string? systemText = parseResult.GetValue(system);
            bool json = parseResult.GetValue(global.Json);
            return async client =>
            {
                using var interrupt = GenerationInterrupt.FromConsole();
                return await ChatCommand.RunAsync(client, new ChatConversation(template, systemText), Terminal.FromConsole(interrupt), json).ConfigureAwait(false);
            };
        });
        return command;
    }
}
