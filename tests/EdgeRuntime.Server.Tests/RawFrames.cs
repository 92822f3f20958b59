using System.Buffers;
using System.Net.Sockets;
using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

/// <summary>
/// A client that speaks frames byte by byte over a plain socket, as a tester writing from docs/protocol.md would:
/// it can send what the client library never would (half a header, a reused id) and see every frame the daemon sends.
/// </summary>
internal sealed class RawFrames : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly MemoryStream _received = new();
    private readonly List<(FrameHeader, string)> _frames = [];
    private long _parsed;

    public static async Task<RawFrames> ConnectAsync(string socketPath)
    {
        var raw = new RawFrames();
        await raw._socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        return raw;
    }

    /// <summary>Connects with a blocking call, for a client that runs on its own thread (see <see cref="SendAndRead"/>).</summary>
    public static RawFrames Connect(string socketPath)
    {
        var raw = new RawFrames();
        raw._socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        return raw;
    }

    public static byte[] Frame(MessageType type, ulong requestId, string json, ReadOnlySpan<byte> payload = default)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.Write(writer, type, FrameFlags.None, requestId, Encoding.UTF8.GetBytes(json), payload);
        return writer.WrittenSpan.ToArray();
    }

    public Task SendAsync(byte[] bytes) => _socket.SendAsync(bytes.AsMemory(), SocketFlags.None).AsTask();

    /// <summary>
    /// Sends and reads until <paramref name="count"/> frames have arrived with blocking calls on the caller's thread:
    /// a client on a dedicated thread then keeps its own pace even while the test run starves the thread pool.
    /// </summary>
    public List<(FrameHeader Header, string Json)> SendAndRead(byte[] bytes, int count, TimeSpan within)
    {
        _socket.Send(bytes);
        _socket.ReceiveTimeout = (int)within.TotalMilliseconds;
        var chunk = new byte[65536];
        while (ParseNew() < count)
        {
            int n = _socket.Receive(chunk);
            Assert.True(n > 0, "The daemon closed the connection.");
            _received.Write(chunk, 0, n);
        }

        return [.. _frames];
    }

    /// <summary>Sends the bytes with a file descriptor attached (SCM_RIGHTS), as a shared-memory client does.</summary>
    public void SendWithDescriptor(byte[] bytes, int descriptor) => EdgeRuntime.Transport.DescriptorPassing.Send(_socket, bytes, descriptor);

    /// <summary>Every frame the daemon sends until it closes the connection; fails if it has not closed within the time.</summary>
    public async Task<List<(FrameHeader Header, string Json)>> ReadUntilClosedAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var chunk = new byte[65536];
        try
        {
            int n;
            while ((n = await _socket.ReceiveAsync(chunk, SocketFlags.None, timeout.Token)) > 0)
            {
                _received.Write(chunk, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The daemon had not closed the connection after {within.TotalSeconds} s.");
        }
        catch (SocketException)
        {
            // Reset by the daemon: what arrived before is still read below.
        }

        return Parse();
    }

    /// <summary>The frames received until <paramref name="count"/> have arrived (the connection stays open).</summary>
    public async Task<List<(FrameHeader Header, string Json)>> ReadFramesAsync(int count, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var chunk = new byte[65536];
        while (ParseNew() < count)
        {
            int n = await _socket.ReceiveAsync(chunk, SocketFlags.None, timeout.Token);
            Assert.True(n > 0, "The daemon closed the connection.");
            _received.Write(chunk, 0, n);
        }

        return [.. _frames];
    }

    private List<(FrameHeader, string)> Parse()
    {
        ParseNew();
        return [.. _frames];
    }

    /// <summary>Parses the frames completed since the last call (each byte once, so a client reading 1 MiB answers keeps up).</summary>
    private int ParseNew()
    {
        var buffer = new ReadOnlySequence<byte>(_received.GetBuffer(), (int)_parsed, (int)(_received.Length - _parsed));
        long before = buffer.Length;
        while (FrameReader.TryReadFrame(ref buffer, int.MaxValue, out var frame, out _) == FrameStatus.Complete)
        {
            _frames.Add((frame.Header, Encoding.UTF8.GetString(frame.Json.ToArray())));
        }

        _parsed += before - buffer.Length;
        return _frames.Count;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _received.Dispose();
    }
}
