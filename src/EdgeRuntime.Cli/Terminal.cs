namespace EdgeRuntime.Cli;

/// <summary>
/// Where generate and chat read and write: the console when run, string readers and writers in tests. Interactive
/// is true when a person types the input (chat then shows a prompt).
/// </summary>
internal sealed record Terminal(TextReader In, TextWriter Out, TextWriter Error, GenerationInterrupt Interrupt, bool Interactive)
{
    public static Terminal FromConsole(GenerationInterrupt interrupt) =>
        new(Console.In, Console.Out, Console.Error, interrupt, !Console.IsInputRedirected);
}
