using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>
/// A stand-in for edged that does only what the test tells it: it accepts one client on a UNIX socket in a temporary
/// folder, hands the test each frame the client sends, and writes back whatever frames the test scripts, in whatever
/// order. Every wait is bounded by <see cref="Patience"/> so a client bug fails the test instead of hanging it.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    /// <summary>How long any one wait may take. Generous: the machine is shared, and only a bug should reach it.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TempFolder _folder = new("edgeclient-test-");
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private Socket? _connection;
    private PipeReader? _reader;

    public ScriptedServer()
    {
        SocketPath = _folder.File("edged.sock");
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(1);
    }

    public string SocketPath { get; }

    /// <summary>Connects an <see cref="EdgeClient"/> and accepts its connection; the caller disposes the client.</summary>
    public async Task<EdgeClient> ConnectClientAsync(EdgeClientOptions? options = null)
    {
        var client = await EdgeClient.ConnectAsync(SocketPath, options ?? EdgeClientOptions.Default);
        _connection = await _listener.AcceptAsync().WaitAsync(Patience);
        _reader = PipeReader.Create(new NetworkStream(_connection, ownsSocket: false));
        return client;
    }

    /// <summary>The next frame the client sent.</summary>
    public async Task<Request> ReadAsync()
    {
        var reader = _reader ?? throw new InvalidOperationException("No client is connected.");
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var status = FrameReader.TryReadFrame(ref buffer, int.MaxValue, out var frame, out _);
            if (status == FrameStatus.Complete)
            {
                var request = new Request(frame.Header, frame.Json.ToArray(), frame.Payload.ToArray());
                reader.AdvanceTo(buffer.Start);
                return request;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            Assert.True(status == FrameStatus.Incomplete, $"The client sent bytes that are not a frame: {status}.");
            Assert.False(result.IsCompleted, "The client closed the connection instead of sending a frame.");
        }
    }

    /// <summary>The next <paramref name="count"/> frames, in the order the client sent them.</summary>
    public async Task<Request[]> ReadAsync(int count)
    {
        var requests = new Request[count];
        for (int i = 0; i < count; i++)
        {
            requests[i] = await ReadAsync();
        }

        return requests;
    }

    /// <summary>One frame's bytes, so that a test can send several in a single write.</summary>
    public static byte[] Frame(MessageType type, FrameFlags flags, ulong requestId, string json, byte[]? payload = null)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.Write(writer, type, flags, requestId, Encoding.UTF8.GetBytes(json), payload ?? []);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A successful answer to <paramref name="request"/>, as edged frames one.</summary>
    public static byte[] Answer(Request request, string json, byte[]? payload = null) =>
        Frame(request.Header.Type, FrameFlags.Response, request.Header.RequestId, json, payload);

    /// <summary>An error frame under <paramref name="requestId"/> (0: a refusal that concerns the whole connection).</summary>
    public static byte[] Error(MessageType type, ulong requestId, string code, string message) =>
        Frame(type, FrameFlags.Response | FrameFlags.Error, requestId, Encoding.UTF8.GetString(ProtocolJson.Serialize(new ErrorResponse(code, message), ProtocolJsonContext.Default.ErrorResponse)));

    /// <summary>Writes the bytes of one or more frames (or deliberately broken bytes) in one send.</summary>
    public async Task SendAsync(params byte[][] frames)
    {
        var connection = _connection ?? throw new InvalidOperationException("No client is connected.");
        byte[] bytes = [.. frames.SelectMany(f => f)];
        int sent = 0;
        while (sent < bytes.Length)
        {
            sent += await connection.SendAsync(bytes.AsMemory(sent)).AsTask().WaitAsync(Patience);
        }
    }

    public Task ReplyAsync(Request request, string json, byte[]? payload = null) => SendAsync(Answer(request, json, payload));

    /// <summary>Closes the client's connection, as edged does when it stops or the framing breaks.</summary>
    public void CloseConnection()
    {
        if (_connection is { } connection)
        {
            connection.Shutdown(SocketShutdown.Both);
            connection.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_reader is not null)
        {
            await _reader.CompleteAsync();
        }

        _connection?.Dispose();
        _listener.Dispose();
        _folder.Dispose();
    }

    /// <summary>A frame the client sent, copied out of the server's buffer.</summary>
    internal sealed record Request(FrameHeader Header, byte[] Json, byte[] Payload)
    {
        public ulong Id => Header.RequestId;

        public string JsonText => Encoding.UTF8.GetString(Json);
    }
}
