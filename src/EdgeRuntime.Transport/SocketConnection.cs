using System.IO.Pipelines;
using System.Net.Sockets;

namespace EdgeRuntime.Transport;

/// <summary>
/// A connected stream socket as an <see cref="IDuplexPipe"/>, built for latency on small boards. A dedicated thread
/// receives with blocking calls into a pipe whose reader runs inline, so a frame that arrives is parsed (and, if
/// the consumer chooses, served) on the thread that received it; writes are blocking sends. Compared with the async
/// socket engine this removes the epoll-thread and thread-pool hand-offs from each direction, which on a 2-core board
/// cost more than a small model's inference. The price is one thread per connection.
/// </summary>
public sealed class SocketConnection : IDuplexPipe, IReceivedDescriptors, IDisposable
{
    private const int ReceiveChunkBytes = 64 * 1024;
    private const int MaxHeldDescriptors = 8; // received and not yet claimed by a frame
    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly SocketWriter _output;
    private readonly Thread _receiver;
    private readonly ReceiveSpinPolicy _spin;
    private readonly bool _receiveDescriptors;
    private readonly List<int> _arrived = [];
    private readonly Queue<(long Position, int Descriptor)> _descriptors = new(); // under its own lock
    private long _received; // bytes received so far: the stream position descriptors are recorded at
    private int _disposed;

    /// <param name="spinBeforeBlock">
    /// The most the receive thread polls before it sleeps, see <see cref="ReceiveSpinPolicy"/>. Zero always sleeps at once.
    /// </param>
    /// <param name="receiveDescriptors">
    /// Receive file descriptors sent as SCM_RIGHTS (shared-memory regions) and keep them for <see cref="Take"/>.
    /// Without it the kernel closes any that arrive.
    /// </param>
    public SocketConnection(Socket socket, string name, long pauseInputBytes = 1024 * 1024, TimeSpan spinBeforeBlock = default, bool receiveDescriptors = false)
    {
        _socket = socket;
        _receiveDescriptors = receiveDescriptors && DescriptorPassing.IsSupported;
        _spin = new ReceiveSpinPolicy(spinBeforeBlock);
        _socket.Blocking = true;
        _input = new Pipe(new PipeOptions(
            readerScheduler: PipeScheduler.Inline,
            writerScheduler: PipeScheduler.Inline,
            pauseWriterThreshold: pauseInputBytes,
            resumeWriterThreshold: pauseInputBytes / 2,
            useSynchronizationContext: false));
        _output = new SocketWriter(socket, _spin, this);
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = name };
    }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output;

    /// <summary>True when called from the receive thread, i.e. from code the pipe's reader runs inline.</summary>
    public bool IsReceiveThread => Thread.CurrentThread == _receiver;

    /// <summary>Starts the receive thread. Call once the consumer is ready to read <see cref="Input"/>.</summary>
    public void Start() => _receiver.Start();

    /// <summary>
    /// Sends <paramref name="bytes"/> with <paramref name="descriptor"/> attached, blocking. The caller holds whatever
    /// serialises its writes and has flushed <see cref="Output"/>, so the bytes stay whole on the stream.
    /// </summary>
    /// <exception cref="IOException">The peer is gone.</exception>
    public void SendWithDescriptor(ReadOnlySpan<byte> bytes, int descriptor)
    {
        try
        {
            DescriptorPassing.Send(_socket, bytes, descriptor);
            _spin.MarkSent();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw new IOException($"The peer is gone: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public int[] Take(long frameStart, long frameEnd)
    {
        if (!_receiveDescriptors)
        {
            return [];
        }

        lock (_descriptors)
        {
            if (_descriptors.Count == 0)
            {
                return [];
            }

            var taken = new List<int>();
            while (_descriptors.TryPeek(out var next) && next.Position < frameEnd)
            {
                _descriptors.Dequeue();
                if (next.Position >= frameStart)
                {
                    taken.Add(next.Descriptor);
                }
                else
                {
                    DescriptorPassing.Close(next.Descriptor); // came with a frame already handled: nobody claims it
                }
            }

            return [.. taken];
        }
    }
    /// <summary>Shuts the socket down both ways; the receive thread then ends and completes <see cref="Input"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }

        if (_receiver.IsAlive && _receiver != Thread.CurrentThread)
        {
            _receiver.Join(TimeSpan.FromSeconds(5));
        }

        _socket.Dispose();
        lock (_descriptors)
        {
            while (_descriptors.TryDequeue(out var left))
            {
                DescriptorPassing.Close(left.Descriptor);
            }
        }
    }

    private int Receive(Span<byte> buffer)
    {
        if (!_receiveDescriptors)
        {
            return _socket.Receive(buffer);
        }

        int received = DescriptorPassing.Receive(_socket, buffer, _arrived);
        _received += received;
        if (_arrived.Count > 0)
        {
            lock (_descriptors)
            {
                foreach (int descriptor in _arrived)
                {
                    // A peer that sends descriptors faster than frames claim them gets the surplus closed at once:
                    // it cannot make this process hold more than a few of its files.
                    if (Volatile.Read(ref _disposed) != 0 || _descriptors.Count >= MaxHeldDescriptors)
                    {
                        DescriptorPassing.Close(descriptor);
                    }
                    else
                    {
                        // The kernel ends a receive with the bytes a descriptor was sent with: the last byte is theirs.
                        _descriptors.Enqueue((_received - 1, descriptor));
                    }
                }
            }

            _arrived.Clear();
        }

        return received;
    }

    private void ReceiveLoop()
    {
        var writer = _input.Writer;
        Exception? failure = null;
        try
        {
            while (true)
            {
                // One receive takes up to 64 KiB: a 64 KiB tensor costs one system call, not four (each is a user-kernel
                // round trip, dear on virtualised cores). Only the bytes received touch memory.
                var memory = writer.GetMemory(ReceiveChunkBytes);
                _spin.PollUntilReadable(_socket);
                int received = Receive(memory.Span);
                _spin.MarkReceived();
                if (received == 0)
                {
                    break;
                }

                writer.Advance(received);

                // Completes synchronously unless the reader is more than pauseInputBytes behind (back-pressure):
                // then this thread waits, and the peer's sends block in turn.
                var flush = writer.FlushAsync();
                var result = flush.IsCompleted ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.OperationAborted or SocketError.Interrupted)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }

        writer.Complete(failure);
    }

    /// <summary>
    /// A PipeWriter whose flush is a blocking send of everything buffered, except on the connection's own receive
    /// thread: there it sends what the socket takes at once and leaves the rest to a thread-pool thread. The receive
    /// thread must never wait for the peer to read, because the peer may itself be waiting in a send for this side to
    /// read (both socket buffers full): each side's receive thread blocked in a send is a deadlock that only the send
    /// timeout breaks. That happens whenever code run inline on the receive thread (a client's await continuation, the
    /// daemon's inline request) sends more than the buffer holds while the peer applies back-pressure.
    /// Flushes are not concurrent (the PipeWriter contract; both users hold a write gate across write and flush).
    /// </summary>
    private sealed class SocketWriter(Socket socket, ReceiveSpinPolicy spin, SocketConnection connection) : PipeWriter
    {
        private const int InitialCapacity = 64 * 1024;
        private System.Buffers.ArrayBufferWriter<byte> _buffer = new(InitialCapacity);
        private bool _completed;

        public override void Advance(int bytes) => _buffer.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

        public override void CancelPendingFlush()
        {
        }

        public override void Complete(Exception? exception = null)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            try
            {
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            if (_completed)
            {
                return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
            }

            int start = 0;
            if (connection.IsReceiveThread)
            {
                if (NonBlockingSend.IsSupported)
                {
                    start = Math.Max(0, NonBlockingSend.TrySend(socket, _buffer.WrittenSpan));
                }

                if (start < _buffer.WrittenCount)
                {
                    int from = start;
                    return new ValueTask<FlushResult>(Task.Run(() => SendRest(from)));
                }
            }

            try
            {
                return new ValueTask<FlushResult>(SendRest(start));
            }
            catch (IOException e)
            {
                return ValueTask.FromException<FlushResult>(e);
            }
        }

        /// <summary>Sends the buffer from <paramref name="start"/> on, blocking, and empties it.</summary>
        /// <exception cref="IOException">The peer is gone (or the send timed out).</exception>
        private FlushResult SendRest(int start)
        {
            try
            {
                var pending = _buffer.WrittenSpan[start..];
                while (!pending.IsEmpty)
                {
                    int sent = socket.Send(pending);
                    pending = pending[sent..];
                }

                spin.MarkSent();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _buffer.ResetWrittenCount();
                throw new IOException($"The peer is gone: {e.Message}", e);
            }

            // One large response must not pin a large buffer for the rest of the connection's life.
            if (_buffer.Capacity > 16 * InitialCapacity)
            {
                _buffer = new System.Buffers.ArrayBufferWriter<byte>(InitialCapacity);
            }
            else
            {
                _buffer.ResetWrittenCount();
            }

            return new FlushResult(isCanceled: false, isCompleted: false);
        }
    }
}
