using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeRuntime.Server;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Http.Tests;

/// <summary>
/// The real endpoint (Kestrel on a UNIX socket in a temporary folder) over a scripted generation service, and an
/// HttpClient that reaches it through the socket as curl --unix-socket or an httpx transport would.
/// </summary>
internal sealed class HttpHarness : IAsyncDisposable
{
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempFolder _folder = new("edged-http-");

    private HttpHarness(Func<HttpServerOptions, HttpServerOptions>? configure)
    {
        SocketPath = _folder.File("openai.sock");
        var options = new HttpServerOptions { SocketPath = SocketPath, ShutdownTimeout = TimeSpan.FromSeconds(2) };
        Server = new OpenAiHttpServer(configure?.Invoke(options) ?? options, Generation, Log, new FakeTimeProvider(Now));
        Client = NewClient();
    }

    public string SocketPath { get; }

    public ScriptedGenerationServices Generation { get; } = new();

    public CollectingLog Log { get; } = new();

    public OpenAiHttpServer Server { get; }

    public HttpClient Client { get; }

    public static async Task<HttpHarness> StartAsync(Func<HttpServerOptions, HttpServerOptions>? configure = null)
    {
        var harness = new HttpHarness(configure);
        await harness.Server.StartAsync();
        return harness;
    }

    /// <summary>A client whose every connection is the endpoint's UNIX socket; a dropped response closes its connection.</summary>
    public HttpClient NewClient()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            MaxResponseDrainSize = 0,
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://localhost"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, CancellationToken cancellationToken = default) =>
        Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") }, completion, cancellationToken);

    /// <summary>Posts, lets <paramref name="script"/> play the generation the request starts, and returns the answer.</summary>
    public async Task<HttpResponseMessage> PostScriptedAsync(string path, string json, Action<ScriptedRun> script)
    {
        var answer = PostAsync(path, json);
        script(await Generation.NextAsync());
        return await answer;
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>The data of each server-sent event of a finished stream, in order.</summary>
    public static async Task<List<string>> EventsAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n\n", body, StringComparison.Ordinal);
        var events = new List<string>();
        foreach (string block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", block, StringComparison.Ordinal);
            events.Add(block["data: ".Length..]);
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        _folder.Dispose();
    }
}

internal sealed class CollectingLog : IServerLog
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public void Write(LogLevel level, string component, string message) => Lines.Enqueue($"{level} {component}: {message}");
}
