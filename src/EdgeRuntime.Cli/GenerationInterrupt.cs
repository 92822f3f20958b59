using EdgeRuntime.Client;

namespace EdgeRuntime.Cli;

/// <summary>
/// What Ctrl+C means while edgectl streams a generation: stop that generation, not the program. The daemon is told to
/// cancel (it stops decoding and frees the session at once) and the answer so far and its summary still print. A second
/// Ctrl+C, or one while no generation runs, ends edgectl as usual.
/// </summary>
internal sealed class GenerationInterrupt : IDisposable
{
    private GenerationStream? _current;
    private bool _console;

    /// <summary>One that Ctrl+C in the console drives; dispose it to give Ctrl+C back.</summary>
    public static GenerationInterrupt FromConsole()
    {
        var interrupt = new GenerationInterrupt { _console = true };
        Console.CancelKeyPress += interrupt.OnCancelKeyPress;
        return interrupt;
    }

    /// <summary>Makes the next interrupt cancel <paramref name="stream"/>, until the returned scope is disposed.</summary>
    public Scope Watch(GenerationStream stream)
    {
        Volatile.Write(ref _current, stream);
        return new Scope(this, stream);
    }

    /// <summary>
    /// One Ctrl+C: true when it cancelled the running generation (the program carries on); false when there was none
    /// to cancel, or it was already cancelled (then the program should end).
    /// </summary>
    public bool Interrupt()
    {
        var stream = Interlocked.Exchange(ref _current, null);
        if (stream is null)
        {
            return false;
        }

        _ = stream.CancelAsync();
        return true;
    }

    public void Dispose()
    {
        if (_console)
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
            _console = false;
        }
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Interrupt();

    /// <summary>While open, an interrupt cancels its stream; closing it (the stream ended) makes Ctrl+C end the program again.</summary>
    internal readonly struct Scope(GenerationInterrupt owner, GenerationStream stream) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref owner._current, null, stream);
    }
}
