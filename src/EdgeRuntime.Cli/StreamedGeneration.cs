using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>
/// One generation streamed to the terminal, for generate and each chat turn: every text piece is written and flushed
/// as it arrives (--json: every token event as a JSON line), then the summary (--json: as the last JSON line; else as
/// one line on stderr, so stdout holds the answer only). Ctrl+C meanwhile cancels the generation.
/// </summary>
internal static class StreamedGeneration
{
    public static async Task<(string Text, GenerateResponse Summary)> RunAsync(EdgeClient client, GenerateRequest request, Terminal terminal, bool json, Tensor? image = null)
    {
        await using var stream = await client.GenerateAsync(request, image).ConfigureAwait(false);
        var text = new StringBuilder();
        using (terminal.Interrupt.Watch(stream))
        {
            try
            {
                await foreach (var token in stream.ConfigureAwait(false))
                {
                    text.Append(token.Text);
                    if (json)
                    {
                        terminal.Out.WriteLine(JsonSerializer.Serialize(token, ProtocolJsonContext.Default.TokenEvent));
                    }
                    else if (token.Text.Length > 0)
                    {
                        terminal.Out.Write(token.Text);
                    }

                    // Console.Out flushes by itself; a redirected or wrapped writer may not, and a piece must show now.
                    await terminal.Out.FlushAsync().ConfigureAwait(false);
                }
            }
            catch (EdgeRuntimeException) when (!json && text.Length > 0)
            {
                // The error goes to stderr on a line of its own, not glued to the half answer.
                terminal.Out.WriteLine();
                throw;
            }
        }

        var summary = await stream.Summary.ConfigureAwait(false);
        if (json)
        {
            terminal.Out.WriteLine(JsonSerializer.Serialize(summary, ProtocolJsonContext.Default.GenerateResponse));
        }
        else
        {
            terminal.Out.WriteLine();
            terminal.Error.WriteLine(Describe(summary));
        }

        await terminal.Out.FlushAsync().ConfigureAwait(false);
        return (text.ToString(), summary);
    }

    /// <summary>The summary line: what went in and out, how fast, and why it stopped.</summary>
    public static string Describe(GenerateResponse s)
    {
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"[{s.PromptTokens} prompt tokens");
        if (s.CachedTokens > 0)
        {
            line.Append(CultureInfo.InvariantCulture, $" (+{s.CachedTokens} cached)");
        }

        line.Append(CultureInfo.InvariantCulture, $", {s.GeneratedTokens} generated; first token {s.TimeToFirstTokenMs:0.0} ms, {s.DecodeTokensPerSecond:0.0} tok/s; stop: {s.StopReason}");
        if (s.ContextLength > 0)
        {
            line.Append(CultureInfo.InvariantCulture, $"; context {s.ContextUsed}/{s.ContextLength}");
        }

        return line.Append(']').ToString();
    }
}
