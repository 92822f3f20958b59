using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

/// <summary>A <see cref="Connection"/> over in-memory pipes: the test plays the client, byte for byte.</summary>
internal sealed class InMemoryConnection : IAsyncDisposable
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();
    private readonly CancellationTokenSource _stop = new();

    public InMemoryConnection(ServerHarness harness)
    {
        var connection = new Connection(new DuplexPipe(_toServer.Reader, _toClient.Writer), harness.Handler, harness.Options, harness.Metrics, NullServerLog.Instance, new PeerInfo(1, 1000, 1000), "test");
        Running = Task.Run(() => connection.RunAsync(_stop.Token, TimeSpan.FromSeconds(10)));
    }

    public Task Running { get; }

    public PipeWriter ClientOutput => _toServer.Writer;

    public async Task SendAsync(MessageType type, ulong id, string json, byte[]? payload = null)
    {
        FrameWriter.Write(_toServer.Writer, type, FrameFlags.None, id, Encoding.UTF8.GetBytes(json), payload ?? []);
        await _toServer.Writer.FlushAsync();
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _toServer.Writer.WriteAsync(bytes);
    }

    /// <summary>The next response, or null when the server closed the connection.</summary>
    public async Task<Reply?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var result = await _toClient.Reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var status = FrameReader.TryReadFrame(ref buffer, int.MaxValue, out var frame, out _);
            if (status == FrameStatus.Complete)
            {
                var reply = new Reply(frame.Header, Encoding.UTF8.GetString(frame.Json.ToArray()), frame.Payload.ToArray());
                _toClient.Reader.AdvanceTo(buffer.Start);
                return reply;
            }

            _toClient.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return null;
            }
        }
    }

    public async Task<Reply> RequestAsync(MessageType type, ulong id, string json, byte[]? payload = null)
    {
        await SendAsync(type, id, json, payload);
        return await ReceiveAsync() ?? throw new InvalidOperationException("connection closed");
    }

    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await Running.WaitAsync(TimeSpan.FromSeconds(20));
        _stop.Dispose();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

internal sealed record Reply(FrameHeader Header, string Json, byte[] Payload)
{
    public ErrorResponse Error => ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(Json), ProtocolJsonContext.Default.ErrorResponse);

    public float[] PayloadFloats(TensorDescriptor tensor) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Payload.AsSpan((int)tensor.Offset, (int)tensor.Length)).ToArray();
}
