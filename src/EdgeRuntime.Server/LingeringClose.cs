using System.IO.Pipelines;

namespace EdgeRuntime.Server;

/// <summary>
/// The end of a connection the daemon closes while the client may still be sending. Closing a UNIX socket with bytes
/// unread makes the kernel reset the connection, and the client can then lose the answers already sent to it (a
/// refusal, or the shutting_down answers of a stop). So, after the last answer and the write side's shutdown (the
/// client sees end of stream), input is read and discarded until the client hangs up, for a bounded time.
/// </summary>
internal static class LingeringClose
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(1);

    public static async Task DrainAsync(PipeReader input)
    {
        using var linger = new CancellationTokenSource(Limit);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(linger.Token).ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            // Out of time, or the input had already failed or ended: nothing more to wait for.
        }
    }
}
