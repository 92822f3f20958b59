using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json.Serialization.Metadata;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;
using EdgeRuntime.Formats;

namespace EdgeRuntime.Client;

/// <summary>
/// A connection to edged. Thread-safe: any number of requests may be in flight at once from any threads; each is
/// matched to its response by request id, in whatever order the daemon answers. Daemon errors are raised as
/// <see cref="EdgeRuntimeException"/> with the daemon's code and message.
/// </summary>
public sealed partial class EdgeClient : IAsyncDisposable, IDisposable
{
    private readonly SocketConnection _transport;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly EdgeClientOptions _options;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ReceivedFrame>> _pending = new();
    private readonly ConcurrentDictionary<ulong, System.Threading.Channels.Channel<ReceivedFrame>> _streams = new();
    private readonly ConcurrentDictionary<ulong, GenerationStream> _generations = new();
    private readonly Task _readLoop;
    private long _nextRequestId;
    private volatile Exception? _failure;

    private EdgeClient(Socket socket, EdgeClientOptions options)
    {
        _options = options;
        _transport = new SocketConnection(socket, "edgeclient-receive", pauseInputBytes: long.MaxValue, spinBeforeBlock: options.SpinBeforeBlock);
        _reader = _transport.Input;
        _writer = _transport.Output;
        _readLoop = ReadLoopAsync();
        _transport.Start();
    }

    /// <summary>The socket path used when none is given: see <see cref="DefaultSocketPath.ResolveForClient"/>.</summary>
    public static string DefaultPath => DefaultSocketPath.ResolveForClient();

    /// <summary>Connects to edged. A UNIX-socket connect completes at once or fails at once, so this does not block.</summary>
    public static Task<EdgeClient> ConnectAsync(string? socketPath = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(socketPath, EdgeClientOptions.Default, cancellationToken);

    public static Task<EdgeClient> ConnectAsync(string? socketPath, EdgeClientOptions options, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string path = socketPath ?? DefaultPath;
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            string hint = e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused => "is edged running? Start it, or pass --socket PATH",
                SocketError.AccessDenied => "permission denied: your user must be in the daemon's group",
                _ => e.Message,
            };
            throw new EdgeRuntimeException("connect_failed", $"Cannot connect to edged at {path}: {hint}.", e);
        }

        return Task.FromResult(new EdgeClient(socket, options));
    }

    public Task<HelloResponse> HelloAsync(string? clientName = null, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Hello, new HelloRequest([FrameHeader.CurrentVersion], clientName), ProtocolJsonContext.Default.HelloRequest, ProtocolJsonContext.Default.HelloResponse, cancellationToken);

    public async Task<ModelSummary[]> ModelsAsync(CancellationToken cancellationToken = default) =>
        (await RequestJsonAsync(MessageType.Models, new EmptyRequest(), ProtocolJsonContext.Default.EmptyRequest, ProtocolJsonContext.Default.ModelsResponse, cancellationToken).ConfigureAwait(false)).Models;

    /// <summary>Loads a model. A relative path is taken from the daemon's model directory.</summary>
    public Task<ModelInfo> LoadAsync(string name, string path, CancellationToken cancellationToken = default) =>
        LoadAsync(new LoadRequest(name, path), cancellationToken);

    /// <summary>Loads a model with its own provider list or onMissingProvider rule instead of the board profile's.</summary>
    public Task<ModelInfo> LoadAsync(LoadRequest request, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Load, request, ProtocolJsonContext.Default.LoadRequest, ProtocolJsonContext.Default.ModelInfo, cancellationToken);

    public Task<UnloadResponse> UnloadAsync(string name, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Unload, new NameRequest(name), ProtocolJsonContext.Default.NameRequest, ProtocolJsonContext.Default.UnloadResponse, cancellationToken);

    public Task<ModelInfo> InfoAsync(string name, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Info, new NameRequest(name), ProtocolJsonContext.Default.NameRequest, ProtocolJsonContext.Default.ModelInfo, cancellationToken);

    public async Task<ModelStats[]> StatsAsync(CancellationToken cancellationToken = default) =>
        (await RequestJsonAsync(MessageType.Stats, new EmptyRequest(), ProtocolJsonContext.Default.EmptyRequest, ProtocolJsonContext.Default.StatsResponse, cancellationToken).ConfigureAwait(false)).Models;

    public Task<HealthResponse> HealthAsync(CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Health, new EmptyRequest(), ProtocolJsonContext.Default.EmptyRequest, ProtocolJsonContext.Default.HealthResponse, cancellationToken);

    /// <summary>Runs a model. Tensors travel as raw bytes in the frame payload, each at an 8-byte aligned offset.</summary>
    public async Task<InferResult> InferAsync(string model, IReadOnlyList<Tensor> inputs, IReadOnlyList<string>? outputs = null, CancellationToken cancellationToken = default)
    {
        var descriptors = new TensorDescriptor[inputs.Count];
        long offset = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            offset = TensorLayout.AlignUp(offset);
            descriptors[i] = new TensorDescriptor(input.Name, input.DType.Name(), input.Shape, offset, input.Data.Length);
            offset += input.Data.Length;
        }

        byte[] json = ProtocolJson.Serialize(new InferRequest(model, descriptors, outputs is null ? null : [.. outputs]), ProtocolJsonContext.Default.InferRequest);
        long start = Stopwatch.GetTimestamp();
        var frame = await SendAsync(MessageType.Infer, json, (int)offset, inputs, descriptors, cancellationToken).ConfigureAwait(false);
        var roundTrip = Stopwatch.GetElapsedTime(start);
        var response = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.InferResponse);
        return new InferResult(ReadTensors(response.Outputs, frame.Payload), response.Timing, roundTrip);
    }

    /// <summary>Feeds a simulated sensor: an edge ("rising"/"falling") or channel values.</summary>
    public Task<InjectResponse> InjectAsync(InjectRequest request, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Inject, request, ProtocolJsonContext.Default.InjectRequest, ProtocolJsonContext.Default.InjectResponse, cancellationToken);

    /// <summary>The pipelines the daemon runs, each with its run counts, last configuration and latency table.</summary>
    public async Task<PipelineStatus[]> PipelinesAsync(CancellationToken cancellationToken = default) =>
        (await RequestJsonAsync(MessageType.Pipelines, new EmptyRequest(), ProtocolJsonContext.Default.EmptyRequest, ProtocolJsonContext.Default.PipelineListResponse, cancellationToken).ConfigureAwait(false)).Pipelines;

    /// <summary>Declares a pipeline (as a "pipelines" entry of the configuration would); paths are the daemon's.</summary>
    public Task<PipelineStatus> LoadPipelineAsync(PipelineDefinition definition, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.PipelineLoad, definition, ProtocolJsonContext.Default.PipelineDefinition, ProtocolJsonContext.Default.PipelineStatus, cancellationToken);

    /// <summary>
    /// Runs a pipeline once over replayed input and returns its result (also stored and sent to subscribers). Under
    /// the realtime clock this takes as long as the recording lasts.
    /// </summary>
    public Task<PipelineRunResponse> RunPipelineAsync(PipelineRunRequest request, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.PipelineRun, request, ProtocolJsonContext.Default.PipelineRunRequest, ProtocolJsonContext.Default.PipelineRunResponse, cancellationToken);

    /// <summary>
    /// Starts generating text with a language model and returns once the request is sent. Enumerate the returned
    /// stream for the tokens as the daemon produces them, then await <see cref="GenerationStream.Summary"/>. Cancelling
    /// <paramref name="cancellationToken"/> (or leaving the enumeration early) sends <c>cancel</c> for this request, so
    /// the daemon stops decoding and frees the session at once. Tokens are read off the socket as they arrive, so
    /// other requests on the connection never wait behind a slow reader; at most
    /// <see cref="EdgeClientOptions.MaxBufferedTokens"/> unread tokens are held (beyond that the generation is cancelled
    /// and its enumeration fails with <c>stream_overrun</c>).
    /// </summary>
    public Task<GenerationStream> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken = default) =>
        GenerateAsync(request, image: null, cancellationToken);

    /// <summary>
    /// As <see cref="GenerateAsync(GenerateRequest, CancellationToken)"/>, with an image for a vision-language model
    /// (uint8 or float32, shaped as the model's info says), sent in the frame's payload; it starts the session.
    /// </summary>
    public async Task<GenerationStream> GenerateAsync(GenerateRequest request, Tensor? image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        TensorDescriptor[] layout = image is null ? [] : [new TensorDescriptor(image.Name, image.DType.Name(), image.Shape, 0, image.Data.Length)];
        if (image is not null)
        {
            request = request with { Image = layout[0] };
        }

        byte[] json = ProtocolJson.Serialize(request, ProtocolJsonContext.Default.GenerateRequest);
        ThrowIfFailed();

        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var stream = new GenerationStream(this, id, _options.MaxBufferedTokens);

        // Registered before the request is sent: the first token may arrive before the send returns.
        _generations[id] = stream;
        try
        {
            // The read loop may have failed between the check above and the registration: it would not see us.
            ThrowIfFailed();
            await WriteRequestAsync(new FrameHeader(MessageType.Generate, FrameFlags.None, id, json.Length, image is null ? 0 : image.Data.Length), json, image is null ? [] : [image], layout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Cancelled while waiting for the write gate (nothing was sent), or the connection is gone: either way no
            // frame will come under this id.
            _generations.TryRemove(id, out _);
            throw;
        }

        stream.CancelWhen(cancellationToken);
        return stream;
    }

    /// <summary>
    /// Asks the daemon to stop the generate request <paramref name="requestId"/> of this connection. Its stream then
    /// ends with its final frame, stop reason <c>cancelled</c>; <see cref="CancelResponse.Cancelled"/> is false when
    /// it had already ended. <see cref="GenerationStream.CancelAsync"/> is the usual way in.
    /// </summary>
    public Task<CancelResponse> CancelAsync(ulong requestId, CancellationToken cancellationToken = default) =>
        RequestJsonAsync(MessageType.Cancel, new CancelRequest(requestId), ProtocolJsonContext.Default.CancelRequest, ProtocolJsonContext.Default.CancelResponse, cancellationToken);

    /// <summary>
    /// Starts receiving stored results: those after <see cref="SubscribeRequest.Since"/> first (when given), then
    /// each new one. Dispose the subscription to end it (sends unsubscribe). Events are read off the socket as they
    /// arrive and held until the app reads them, so other requests on the connection never wait behind a slow reader;
    /// to replay a large store in bounded memory, read it in slices (since, unsubscribe, since again).
    /// </summary>
    public async Task<ResultSubscription> SubscribeAsync(SubscribeRequest request, CancellationToken cancellationToken = default)
    {
        var events = System.Threading.Channels.Channel.CreateUnbounded<ReceivedFrame>(new() { SingleReader = true, SingleWriter = true });
        byte[] json = ProtocolJson.Serialize(request, ProtocolJsonContext.Default.SubscribeRequest);
        ulong id = 0;
        ReceivedFrame frame;
        try
        {
            frame = await SendAsync(MessageType.Subscribe, json, 0, [], [], cancellationToken, events, assigned => id = assigned).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (id != 0)
        {
            // The request may have reached the daemon: end the subscription there too, or it streams to nobody.
            _ = UnsubscribeAsync(id);
            throw;
        }

        var ack = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.SubscribeResponse);
        return new ResultSubscription(this, id, ack, events.Reader);
    }

    internal async Task UnsubscribeAsync(ulong id)
    {
        try
        {
            if (_failure is null)
            {
                await RequestJsonAsync(MessageType.Unsubscribe, new UnsubscribeRequest(id), ProtocolJsonContext.Default.UnsubscribeRequest, ProtocolJsonContext.Default.UnsubscribeResponse, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (EdgeRuntimeException)
        {
            // The connection is gone or the daemon already ended it: either way nothing more will arrive.
        }
        finally
        {
            if (_streams.TryRemove(id, out var stream))
            {
                stream.Writer.TryComplete();
            }
        }
    }

    /// <param name="region">Where outputs that name a region are read from (copied when <paramref name="copyFromRegion"/>).</param>
    internal static Tensor[] ReadTensors(TensorDescriptor[] descriptors, byte[] payload, SharedMemoryRegion? region = null, bool copyFromRegion = true)
    {
        var tensors = new Tensor[descriptors.Length];
        for (int i = 0; i < tensors.Length; i++)
        {
            var d = descriptors[i];
            if (d.Region is not null)
            {
                tensors[i] = ReadRegionTensor(d, region, copyFromRegion);
                continue;
            }

            // The length must also be what the shape and dtype need: otherwise the tensor's bytes and shape disagree.
            if (!TensorDTypes.TryParse(d.Dtype, out var dtype) || d.Offset < 0 || d.Length < 0 || d.Offset > payload.Length || d.Length > payload.Length - d.Offset
                || TensorDTypes.ElementCount(d.Shape) is not { } count || d.Length % dtype.ElementSize() != 0 || d.Length / dtype.ElementSize() != count)
            {
                throw new EdgeRuntimeException(ErrorCodes.BadFrame, $"The daemon described output '{d.Name}' inconsistently.");
            }

            tensors[i] = new Tensor(d.Name, dtype, d.Shape, payload.AsMemory((int)d.Offset, (int)d.Length));
        }

        return tensors;
    }

    public async ValueTask DisposeAsync()
    {
        // Disposing from a continuation that runs inline on the receive thread: the read loop is further down this very
        // stack and ends once we return, so waiting for it here would wait forever.
        bool onReceiveThread = _transport.IsReceiveThread;
        _failure ??= new EdgeRuntimeException("connection_closed", "This client has been disposed.");

        // Closing is best effort: the daemon may already have gone.
        _transport.Dispose();
        try
        {
            if (!onReceiveThread)
            {
                await _readLoop.ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }

        // _writeGate is not disposed: a request racing with Dispose must fail with connection_closed, not with
        // ObjectDisposedException from the semaphore.
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<TResponse> RequestJsonAsync<TRequest, TResponse>(MessageType type, TRequest request, JsonTypeInfo<TRequest> requestInfo, JsonTypeInfo<TResponse> responseInfo, CancellationToken cancellationToken)
    {
        byte[] json = ProtocolJson.Serialize(request, requestInfo);
        var frame = await SendAsync(type, json, 0, [], [], cancellationToken).ConfigureAwait(false);
        return ProtocolJson.Deserialize(frame.Json, responseInfo);
    }

    /// <param name="descriptor">A file descriptor to send with the frame (SCM_RIGHTS), or -1.</param>
    private async Task<ReceivedFrame> SendAsync(MessageType type, byte[] json, int payloadLength, IReadOnlyList<Tensor> tensors, TensorDescriptor[] layout, CancellationToken cancellationToken, System.Threading.Channels.Channel<ReceivedFrame>? stream = null, Action<ulong>? assigned = null, int descriptor = -1)
    {
        ThrowIfFailed();

        ulong id = (ulong)Interlocked.Increment(ref _nextRequestId);
        var completion = new TaskCompletionSource<ReceivedFrame>(_options.InlineContinuations ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        assigned?.Invoke(id);
        if (stream is not null)
        {
            // Registered before the request is sent: events may follow the acknowledgement at once.
            _streams[id] = stream;
        }

        bool streaming = false;
        try
        {
            // The read loop may have failed between the check above and the registration: it would not see us.
            ThrowIfFailed();
            var header = new FrameHeader(type, FrameFlags.None, id, json.Length, payloadLength);
            if (descriptor >= 0)
            {
                await WriteWithDescriptorAsync(header, json, descriptor, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await WriteRequestAsync(header, json, tensors, layout, cancellationToken).ConfigureAwait(false);
            }

            var frame = await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (frame.Header.IsError)
            {
                var error = ProtocolJson.Deserialize(frame.Json, ProtocolJsonContext.Default.ErrorResponse);
                throw new EdgeRuntimeException(error.Code, error.Message);
            }

            streaming = stream is not null;
            return frame;
        }
        finally
        {
            _pending.TryRemove(id, out _);
            if (stream is not null && !streaming)
            {
                _streams.TryRemove(id, out _);
            }
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw failure as EdgeRuntimeException ?? new EdgeRuntimeException("connection_lost", $"The connection to edged is closed: {failure.Message}", failure);
        }
    }

    /// <summary>
    /// Writes one request frame: the header, the JSON, then each tensor at its offset with zero padding between. Only
    /// the wait for the write gate observes <paramref name="cancellationToken"/>, so a cancelled write sent nothing.
    /// </summary>
    private async Task WriteRequestAsync(FrameHeader header, byte[] json, IReadOnlyList<Tensor> tensors, TensorDescriptor[] layout, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            FrameWriter.WriteHeader(_writer, header);
            _writer.Write(json);
            long written = 0;
            for (int i = 0; i < tensors.Count; i++)
            {
                long padding = layout[i].Offset - written;
                if (padding > 0)
                {
                    _writer.Write(new byte[padding]);
                }

                _writer.Write(tensors[i].Data.Span);
                written = layout[i].Offset + tensors[i].Data.Length;
            }

            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw _failure as EdgeRuntimeException ?? new EdgeRuntimeException("connection_lost", $"Cannot send to edged: {e.Message}", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Writes a bodiless frame with a file descriptor attached to its bytes, under the write gate.</summary>
    private async Task WriteWithDescriptorAsync(FrameHeader header, byte[] json, int descriptor, CancellationToken cancellationToken)
    {
        byte[] frame = new byte[FrameHeader.Size + json.Length];
        header.Write(frame);
        json.CopyTo(frame, FrameHeader.Size);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Every earlier write was flushed under the gate. The send blocks, so never on the receive thread (a
            // continuation may run there): that thread must keep reading, or both sides could wait on full buffers.
            if (_transport.IsReceiveThread)
            {
                await Task.Run(() => _transport.SendWithDescriptor(frame, descriptor)).ConfigureAwait(false);
            }
            else
            {
                _transport.SendWithDescriptor(frame, descriptor);
            }
        }
        catch (IOException e)
        {
            throw _failure as EdgeRuntimeException ?? new EdgeRuntimeException("connection_lost", $"Cannot send to edged: {e.Message}", e);
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (true)
                    {
                        var status = FrameReader.TryReadFrame(ref buffer, int.MaxValue, out var frame, out _);
                        if (status == FrameStatus.Incomplete)
                        {
                            break;
                        }

                        if (status != FrameStatus.Complete)
                        {
                            throw new EdgeRuntimeException(ErrorCodes.BadFrame, $"The daemon sent bytes that are not a frame ({status}).");
                        }

                        Deliver(frame);
                    }

                    if (result.IsCompleted)
                    {
                        throw new EdgeRuntimeException("connection_lost", "edged closed the connection.");
                    }
                }
                finally
                {
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (Exception e)
        {
            // A refusal the daemon explained (peer not allowed, busy) outranks the closed connection that follows it.
            _failure ??= e is EdgeRuntimeException ? e : new EdgeRuntimeException("connection_lost", $"The connection to edged broke: {e.Message}", e);
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(_failure);
            }

            foreach (var stream in _streams.Values)
            {
                stream.Writer.TryComplete(_failure);
            }

            foreach (var generation in _generations.Values)
            {
                generation.Fail(_failure);
            }

            _generations.Clear();

            await _reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void Deliver(Frame frame)
    {
        var received = new ReceivedFrame(frame.Header, frame.Json.ToArray(), frame.Payload.ToArray());

        // Request id 0 is the daemon speaking before any request (peer refused, too many connections, bad framing):
        // it concerns every request in flight.
        if (frame.Header.RequestId == 0)
        {
            var error = frame.Header.IsError
                ? ProtocolJson.Deserialize(received.Json, ProtocolJsonContext.Default.ErrorResponse)
                : new ErrorResponse("connection_refused", "The daemon refused the connection.");
            _failure = new EdgeRuntimeException(error.Code, error.Message);

            foreach (var pending in _pending.Values)
            {
                pending.TrySetResult(received);
            }

            return;
        }

        // A subscription's acknowledgement goes to its pending request; what follows under its id goes to its stream.
        if (_pending.TryGetValue(frame.Header.RequestId, out var completion) && completion.TrySetResult(received))
        {
            return;
        }

        // A generation has no acknowledgement: its tokens, then its final frame or an error, all go to its stream.
        if (_generations.TryGetValue(frame.Header.RequestId, out var generation))
        {
            if (generation.Deliver(received))
            {
                _generations.TryRemove(frame.Header.RequestId, out _);
            }

            return;
        }

        if (_streams.TryGetValue(frame.Header.RequestId, out var events))
        {
            if (frame.Header.Type == MessageType.Event && !frame.Header.IsError)
            {
                events.Writer.TryWrite(received);
            }
            else if (frame.Header.IsError)
            {
                var error = ProtocolJson.Deserialize(received.Json, ProtocolJsonContext.Default.ErrorResponse);
                events.Writer.TryComplete(new EdgeRuntimeException(error.Code, error.Message));
            }
        }
    }
}

/// <summary>A response frame copied out of the connection's buffer.</summary>
public sealed record ReceivedFrame(FrameHeader Header, byte[] Json, byte[] Payload);
