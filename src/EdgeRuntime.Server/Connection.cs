using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Server;

/// <summary>
/// One client. The read loop parses frames and starts each request without waiting for the previous one, so many
/// requests run in flight and are answered by request id as they finish. A per-connection limit stops the loop from
/// reading further (back-pressure through the socket) rather than buffering without bound.
/// </summary>
public sealed class Connection
{
    private readonly IDuplexPipe _pipe;
    private readonly RequestHandler _handler;
    private readonly ServerOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly IServerLog _log;
    private readonly PeerInfo _peer;
    private readonly string _name;
    private readonly SemaphoreSlim _inFlight;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _outstanding = 1; // the read loop itself counts as one, so "drained" means loop done and requests answered
    private volatile bool _writeFailed; // also set once the output is closed: nothing more may be written

    private readonly ByteBudget _budget;
    private readonly IReceivedDescriptors? _descriptors; // null unless shared memory is enabled
    private readonly ConnectionRegions _regions;
    private readonly Dictionary<ulong, int[]> _arrivedDescriptors = []; // region-register id -> its memfd, under _subscriptions
    private readonly Dictionary<ulong, Subscription> _subscriptions = [];
    private readonly Dictionary<ulong, RunningGeneration> _generations = [];
    private readonly Dictionary<ulong, MessageType> _unanswered = []; // requests read whose final answer is not yet sent
    private long _lastActivity = Stopwatch.GetTimestamp(); // a frame received or a request finished
    private bool _closing; // under the _subscriptions lock: no subscription may start once the connection is ending

    /// <param name="descriptors">Where descriptors sent with frames wait (the transport); null: none are accepted.</param>
    public Connection(IDuplexPipe pipe, RequestHandler handler, ServerOptions options, ServerMetrics metrics, IServerLog log, PeerInfo peer, string name, ByteBudget? budget = null, IReceivedDescriptors? descriptors = null)
    {
        _descriptors = options.SharedMemoryEnabled ? descriptors : null;
        _regions = new ConnectionRegions(options);
        _budget = budget ?? new ByteBudget(Math.Max(options.MaxPendingBytes, options.MaxFrameBytes));
        _pipe = pipe;
        _handler = handler;
        _options = options;
        _metrics = metrics;
        _log = log;
        _peer = peer;
        _name = name;
        _inFlight = new SemaphoreSlim(options.MaxInFlightPerConnection, options.MaxInFlightPerConnection);
    }

    /// <summary>
    /// Serves the connection until the client closes it, the framing breaks, a deadline passes, or
    /// <paramref name="stopReading"/> fires. Every request read is answered before this returns: with its result, or,
    /// when it has not finished within <paramref name="drainTimeout"/>, with shutting_down.
    /// </summary>
    public async Task RunAsync(CancellationToken stopReading, TimeSpan drainTimeout)
    {
        try
        {
            await ReadLoopAsync(stopReading).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
            await RefuseReceivedAsync(_pipe.Input).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            _log.Write(LogLevel.Info, "connection", $"{_name}: transport closed: {e.Message}");
        }
        finally
        {
            FinishOne();
        }

        // Nothing more will be asked; subscriptions end here, so the drain below waits only for real requests.
        CancelSubscriptions();
        bool drained = await WaitDrainedAsync(drainTimeout).ConfigureAwait(false);
        ReleaseRegions(); // a request still running holds its own lease
        if (stopReading.IsCancellationRequested)
        {
            // Whole frames that arrived during the drain are answered too.
            await RefuseReceivedAsync(_pipe.Input).ConfigureAwait(false);
        }

        // Anything still unanswered gets shutting_down; a response mid-send on another thread finishes whole first.
        int unanswered = await CloseOutputAsync($"The connection is closing and the request did not finish within {drainTimeout.TotalSeconds:0.#} s (limits.shutdownTimeoutSeconds).").ConfigureAwait(false);
        if (!drained)
        {
            _log.Write(LogLevel.Warning, "connection", $"{_name}: closing with requests still running after {drainTimeout.TotalSeconds:0.#} s; {unanswered} answered shutting_down");
        }

        await LingeringClose.DrainAsync(_pipe.Input).ConfigureAwait(false);
        await _pipe.Input.CompleteAsync().ConfigureAwait(false);
    }

    private async Task<bool> WaitDrainedAsync(TimeSpan timeout)
    {
        try
        {
            await _drained.Task.WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>True when the client has nothing in flight, no subscription and no generation on this connection.</summary>
    private bool IsIdle
    {
        get
        {
            lock (_subscriptions)
            {
                return Volatile.Read(ref _outstanding) == 1 && _subscriptions.Count == 0 && _generations.Count == 0;
            }
        }
    }

    /// <summary>
    /// True when bytes (or the client's end) wait in the pipe unread: a frame that arrived as the idle timer fired, on a
    /// daemon too loaded to have read it yet, is activity and must not get the connection closed. The bytes stay for
    /// the next read, which returns at once.
    /// </summary>
    private static bool HasUnreadInput(PipeReader reader)
    {
        if (!reader.TryRead(out var pending))
        {
            return false;
        }

        bool any = !pending.Buffer.IsEmpty || pending.IsCompleted;
        reader.AdvanceTo(pending.Buffer.Start);
        return any;
    }

    private async Task ReadLoopAsync(CancellationToken stopReading)
    {
        var reader = _pipe.Input;
        using var deadline = new ReadDeadline(stopReading);
        long skip = 0;
        long frameStarted = 0; // Stopwatch timestamp of the first byte of the frame still incomplete; 0 when none
        long consumed = 0; // stream position of the read's first byte: what descriptors are matched to frames by
        while (true)
        {
            ReadResult result;
            var timeout = frameStarted != 0 ? ReadDeadline.Remaining(_options.FrameTimeout, frameStarted)
                : _options.IdleTimeout > TimeSpan.Zero ? ReadDeadline.Remaining(_options.IdleTimeout, Volatile.Read(ref _lastActivity))
                : Timeout.InfiniteTimeSpan;
            try
            {
                result = await reader.ReadAsync(deadline.For(timeout)).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stopReading.IsCancellationRequested)
            {
                if (frameStarted != 0 && ReadDeadline.Remaining(_options.FrameTimeout, frameStarted) <= TimeSpan.Zero)
                {
                    _log.Write(LogLevel.Warning, "connection", $"{_name}: a frame did not arrive whole within {_options.FrameTimeout.TotalSeconds:0.#} s, closing");
                    await SendAsync(0, Response.Error(0, ErrorCodes.FrameTimeout, $"A frame did not arrive whole within {_options.FrameTimeout.TotalSeconds:0.#} s of its first byte (limits.frameTimeoutSeconds); the connection is closed.")).ConfigureAwait(false);
                    return;
                }

                if (frameStarted == 0 && _options.IdleTimeout > TimeSpan.Zero && ReadDeadline.Remaining(_options.IdleTimeout, Volatile.Read(ref _lastActivity)) <= TimeSpan.Zero)
                {
                    if (IsIdle && !HasUnreadInput(reader))
                    {
                        _log.Write(LogLevel.Info, "connection", $"{_name}: idle for {_options.IdleTimeout.TotalSeconds:0.#} s (limits.idleTimeoutSeconds), closing");
                        return;
                    }

                    // Work in flight (a long request, a subscription, a generation) is activity: count afresh from now.
                    Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
                }

                continue; // activity since the timer was set, or a timer that fired late: wait again
            }

            var buffer = result.Buffer;
            bool close = false;
            bool stopping = false;
            try
            {
                while (!close)
                {
                    if (skip > 0)
                    {
                        long dropped = Math.Min(skip, buffer.Length);
                        buffer = buffer.Slice(dropped);
                        skip -= dropped;
                        if (skip > 0)
                        {
                            break;
                        }

                        frameStarted = 0;
                    }

                    long frameStart = consumed + (result.Buffer.Length - buffer.Length);
                    var status = FrameReader.TryReadFrame(ref buffer, _options.MaxFrameBytes, out var frame, out var header);
                    switch (status)
                    {
                        case FrameStatus.Incomplete:
                            goto NeedMoreData;
                        case FrameStatus.Complete:
                            frameStarted = 0; // the next frame's clock starts when its first byte is seen below
                            Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
                            int[] descriptors = _descriptors is null ? [] : ForFrame(header, _descriptors.Take(frameStart, consumed + (result.Buffer.Length - buffer.Length)));
                            if (!await StartRequestAsync(frame, pipelined: buffer.Length > 0, stopReading, descriptors).ConfigureAwait(false))
                            {
                                // The daemon is stopping: this frame was answered; so are the whole frames behind it.
                                await RefuseFramesAsync(buffer).ConfigureAwait(false);
                                buffer = buffer.Slice(buffer.End);
                                stopping = close = true;
                            }

                            break;
                        case FrameStatus.TooLarge when header.FrameLength <= _options.MaxSkippedFrameBytes:
                            // Refused from the header alone; the payload is discarded as it arrives, never buffered.
                            skip = header.FrameLength;
                            _log.Write(LogLevel.Warning, "connection", $"{_name}: frame of {header.FrameLength} bytes refused (limit {_options.MaxFrameBytes})");
                            await SendAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.FrameTooLarge, $"The frame is {header.FrameLength} bytes; this daemon accepts at most {_options.MaxFrameBytes} bytes per frame (limits.maxFrameBytes).")).ConfigureAwait(false);
                            break;
                        case FrameStatus.TooLarge:
                            _log.Write(LogLevel.Warning, "connection", $"{_name}: frame of {header.FrameLength} bytes refused and connection closed (skipping is limited to {_options.MaxSkippedFrameBytes})");
                            await SendAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.FrameTooLarge, $"The frame is {header.FrameLength} bytes; this daemon accepts at most {_options.MaxFrameBytes} bytes per frame (limits.maxFrameBytes), and skips at most {_options.MaxSkippedFrameBytes}, so the connection is closed.")).ConfigureAwait(false);
                            close = true;
                            break;
                        case FrameStatus.Malformed:
                            _log.Write(LogLevel.Warning, "connection", $"{_name}: frame lengths beyond any frame, closing");
                            await SendAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.BadFrame, "The frame header announces lengths above 2 GiB; the stream cannot be trusted and the connection is closed.")).ConfigureAwait(false);
                            close = true;
                            break;
                        case FrameStatus.UnsupportedVersion:
                            _log.Write(LogLevel.Warning, "connection", $"{_name}: unsupported protocol version, closing");
                            await SendAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.UnsupportedVersion, $"This daemon speaks protocol version {FrameHeader.CurrentVersion} only.")).ConfigureAwait(false);
                            close = true;
                            break;
                        default:
                            _log.Write(LogLevel.Warning, "connection", $"{_name}: bytes that are not a protocol frame, closing");
                            await SendAsync(0, Response.Error(0, ErrorCodes.BadFrame, "The bytes received are not an EdgeRuntime frame (bad magic); the connection is closed.")).ConfigureAwait(false);
                            close = true;
                            break;
                    }
                }

            NeedMoreData:
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (buffer.Length > 0 || skip > 0)
                    {
                        string what = skip > 0 ? $"{skip} bytes of a refused frame still to come" : $"{buffer.Length} bytes of an incomplete frame received";
                        _log.Write(LogLevel.Info, "connection", $"{_name}: client went away in the middle of a frame ({what})");
                    }

                    return;
                }

                bool partial = buffer.Length > 0 || skip > 0;
                frameStarted = !partial ? 0 : frameStarted != 0 ? frameStarted : Stopwatch.GetTimestamp();
            }
            finally
            {
                consumed += result.Buffer.Length - buffer.Length;
                reader.AdvanceTo(buffer.Start, buffer.End);
            }

            if (stopping)
            {
                await RefuseReceivedAsync(reader).ConfigureAwait(false);
            }

            if (close)
            {
                return;
            }
        }
    }

    /// <summary>
    /// After the stop: answers shutting_down to every whole frame the transport has received but the loop has not
    /// read yet, so no request that reached the daemon goes unanswered.
    /// </summary>
    private async Task RefuseReceivedAsync(PipeReader reader)
    {
        ReadResult result;
        try
        {
            if (!reader.TryRead(out result))
            {
                return;
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            return; // the transport failed or ended: nothing more can be read, so nothing is left to answer
        }

        int refused = await RefuseFramesAsync(result.Buffer).ConfigureAwait(false);
        reader.AdvanceTo(result.Buffer.End);
        if (refused > 0)
        {
            _log.Write(LogLevel.Info, "connection", $"{_name}: {refused} request(s) received while stopping answered shutting_down");
        }
    }

    private async Task<int> RefuseFramesAsync(ReadOnlySequence<byte> buffer)
    {
        int refused = 0;
        while (FrameReader.TryReadFrame(ref buffer, _options.MaxFrameBytes, out var frame, out _) == FrameStatus.Complete)
        {
            await SendAsync(frame.Header.RequestId, Stopping(frame.Header.Type)).ConfigureAwait(false);
            refused++;
        }

        return refused;
    }

    private static Response Stopping(MessageType type) =>
        Response.Error(type, ErrorCodes.ShuttingDown, "The daemon is stopping; the request was not run.");

    /// <summary>
    /// Copies the frame out of the pipe's buffer (it is reused once advanced) and starts the request. A lone request
    /// runs right here on the read loop's thread, saving a thread hand-off on the latency path; when more frames are
    /// already waiting or others are in flight, it goes to the thread pool so requests overlap. An infer first takes
    /// its place in the inference queue, so a full queue holds the client back here, before its payload is copied.
    /// </summary>
    /// <returns>False when the daemon stopped while the request waited to start; it has been answered shutting_down.</returns>
    /// <param name="descriptors">The memfd that came with a region-register frame (else empty): kept for its handler, or closed here.</param>
    private async Task<bool> StartRequestAsync(Frame frame, bool pipelined, CancellationToken stopReading, int[] descriptors)
    {
        var header = frame.Header;
        string? refusal = null;
        lock (_subscriptions)
        {
            if (_subscriptions.ContainsKey(header.RequestId) || !_unanswered.TryAdd(header.RequestId, header.Type))
            {
                refusal = $"Request id {header.RequestId} is already in use on this connection (a request not yet answered, or an open subscription); the request was not run. Give each outstanding request its own id.";
            }
            else if (descriptors.Length > 0)
            {
                _arrivedDescriptors[header.RequestId] = descriptors; // the id is this request's alone until answered
            }
        }

        if (refusal is not null)
        {
            CloseAll(descriptors);
            await SendAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.BadRequest, refusal)).ConfigureAwait(false);
            return true;
        }

        int payloadLength = (int)frame.Payload.Length;
        InferenceScheduler.QueuePlace? place = null;
        bool haveSlot = false;
        bool haveBudget = false;
        try
        {
            // The queue place first: a request held back by a full queue holds no share of the payload budget, which
            // requests of every kind on every connection wait for in turn.
            await _inFlight.WaitAsync(stopReading).ConfigureAwait(false);
            haveSlot = true;
            if (header.Type == MessageType.Infer)
            {
                place = await _handler.EnterQueueAsync(stopReading).ConfigureAwait(false);
            }

            await _budget.AcquireAsync(payloadLength, stopReading).ConfigureAwait(false);
            haveBudget = true;
        }
        catch (Exception e) when (e is OperationCanceledException || e is EdgeRuntimeException { Code: ErrorCodes.ShuttingDown })
        {
            place?.Dispose();
            if (haveBudget)
            {
                _budget.Release(payloadLength);
            }

            if (haveSlot)
            {
                _inFlight.Release();
            }

            await SendFinalAsync(header.RequestId, Stopping(header.Type)).ConfigureAwait(false);
            return false;
        }

        byte[] json = frame.Json.ToArray();
        byte[] payload = payloadLength == 0 ? [] : ArrayPool<byte>.Shared.Rent(payloadLength);
        frame.Payload.CopyTo(payload);
        int outstanding = Interlocked.Increment(ref _outstanding); // the read loop, this request, and any others
        bool overlap = pipelined || outstanding > 2;

        _metrics.RequestStarted();
        // Inline on a dedicated receive thread, with nothing else in flight, the request may wait for a worker right
        // there: the thread would only go back to wait for bytes the client is not sending.
        _ = overlap
            ? Task.Run(() => ProcessAsync(header, json, payload, payloadLength, place, onOwnThread: false), CancellationToken.None)
            : ProcessAsync(header, json, payload, payloadLength, place, onOwnThread: _pipe is SocketConnection { IsReceiveThread: true });
        return true;
    }

    private async Task ProcessAsync(FrameHeader header, byte[] json, byte[] payload, int payloadLength, InferenceScheduler.QueuePlace? place, bool onOwnThread)
    {
        try
        {
            // Requests already read are finished even while the daemon stops; only new reads are refused.
            if (header.Type == MessageType.Subscribe)
            {
                await SubscribeAsync(header.RequestId, json).ConfigureAwait(false);
                return;
            }

            if (header.Type == MessageType.Generate)
            {
                await GenerateAsync(header.RequestId, json, payload.AsMemory(0, payloadLength)).ConfigureAwait(false);
                return;
            }

            var response = header.Type switch
            {
                MessageType.Unsubscribe => await UnsubscribeAsync(json).ConfigureAwait(false),
                MessageType.Cancel => await CancelAsync(json).ConfigureAwait(false),
                MessageType.RegionRegister => HandleRegion(header.Type, () => Response.Ok(header.Type, _regions.Register(json, TakeDescriptors(header.RequestId)), ProtocolJsonContext.Default.RegionRegisterResponse)),
                MessageType.RegionUnregister => HandleRegion(header.Type, () => Response.Ok(header.Type, _regions.Unregister(json), ProtocolJsonContext.Default.RegionUnregisterResponse)),
                _ => await _handler.HandleAsync(header.Type, json, payload.AsMemory(0, payloadLength), _peer, CancellationToken.None, place, _regions, onOwnThread).ConfigureAwait(false),
            };
            await SendFinalAsync(header.RequestId, response).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.Write(LogLevel.Error, "connection", $"{_name}: request {header.RequestId} failed unexpectedly: {e}");
            await SendFinalAsync(header.RequestId, Response.Error(header.Type, ErrorCodes.Internal, $"Internal error: {e.Message}")).ConfigureAwait(false);
        }
        finally
        {
            place?.Dispose();
            Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            if (payload.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(payload);
            }

            _budget.Release(payloadLength);

            _metrics.RequestFinished();
            _inFlight.Release();
            FinishOne();
        }
    }

    private static Response HandleRegion(MessageType type, Func<Response> handle)
    {
        try
        {
            return handle();
        }
        catch (EdgeRuntimeException e)
        {
            return Response.Error(type, e.Code, e.Message);
        }
    }

    /// <summary>
    /// The descriptors a frame may keep: those of a region-register frame, for its handler. Any that came with another
    /// frame are closed, so a client cannot make the daemon hold descriptors it never uses.
    /// </summary>
    private static int[] ForFrame(FrameHeader header, int[] descriptors)
    {
        if (descriptors.Length == 0 || header.Type == MessageType.RegionRegister)
        {
            return descriptors;
        }

        CloseAll(descriptors);
        return [];
    }

    private int[] TakeDescriptors(ulong requestId)
    {
        lock (_subscriptions)
        {
            return _arrivedDescriptors.Remove(requestId, out var descriptors) ? descriptors : [];
        }
    }

    private void ReleaseRegions()
    {
        _regions.Dispose();
        lock (_subscriptions)
        {
            foreach (var descriptors in _arrivedDescriptors.Values)
            {
                CloseAll(descriptors);
            }

            _arrivedDescriptors.Clear();
        }
    }

    private static void CloseAll(int[] descriptors)
    {
        foreach (int descriptor in descriptors)
        {
            DescriptorPassing.Close(descriptor);
        }
    }

    /// <summary>What a frame is to the request it answers, which decides whether it may still be sent.</summary>
    private enum FrameRole
    {
        /// <summary>A subscription's event, or an answer to no request (a refusal, a framing error).</summary>
        Other,

        /// <summary>The request's one final answer: sent only if the request is still unanswered, which it then is not.</summary>
        Final,

        /// <summary>A generation's token: sent only while its generate is still unanswered.</summary>
        Stream,
    }

    /// <summary>
    /// Sends a request's one final answer (its result or error). A request the connection already answered with
    /// shutting_down (it outlasted the drain) is not answered again.
    /// </summary>
    private Task SendFinalAsync(ulong requestId, Response response) => SendAsync(requestId, response, FrameRole.Final);

    /// <summary>
    /// At the end of the drain: answers every request not yet answered with shutting_down and closes the output, all
    /// in one hold of the write gate, so no answer can slip in between or be cut off. Returns how many were answered.
    /// </summary>
    private async Task<int> CloseOutputAsync(string message)
    {
        await _writeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            KeyValuePair<ulong, MessageType>[] pending;
            lock (_subscriptions)
            {
                pending = [.. _unanswered];
                _unanswered.Clear();
            }

            foreach (var (requestId, type) in pending)
            {
                if (!await TryWriteAsync(requestId, Response.Error(type, ErrorCodes.ShuttingDown, message)).ConfigureAwait(false))
                {
                    break;
                }
            }

            _writeFailed = true;
            await _pipe.Output.CompleteAsync().ConfigureAwait(false);
            return pending.Length;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private async Task SendAsync(ulong requestId, Response response, FrameRole role = FrameRole.Other)
    {
        try
        {
            await _writeGate.WaitAsync().ConfigureAwait(false);
            try
            {
                // Decided under the gate: the close takes it too, so an answer is either written whole before the
                // output closes or known to have been answered shutting_down.
                lock (_subscriptions)
                {
                    bool pending = role == FrameRole.Final ? _unanswered.Remove(requestId) : role != FrameRole.Stream || _unanswered.ContainsKey(requestId);
                    if (!pending)
                    {
                        return;
                    }
                }

                await TryWriteAsync(requestId, response).ConfigureAwait(false);
            }
            finally
            {
                _writeGate.Release();
            }
        }
        finally
        {
            response.Owner?.Dispose();
        }
    }

    /// <summary>Writes one frame; the caller holds the write gate. False once the client can take no more.</summary>
    private async Task<bool> TryWriteAsync(ulong requestId, Response response)
    {
        // Another response may have failed (timed out), or the output closed, while this one waited for the gate.
        if (_writeFailed)
        {
            return false;
        }

        try
        {
            var output = _pipe.Output;
            FrameWriter.WriteHeader(output, new FrameHeader(response.Type, response.Flags, requestId, response.Json.Length, response.Payload.Length));
            output.Write(response.Json);
            output.Write(response.Payload.Span);
            var flush = await output.FlushAsync().ConfigureAwait(false);
            if (flush.IsCompleted)
            {
                _writeFailed = true;
            }

            return !_writeFailed;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The client is gone or stopped reading; its remaining answers have nowhere to go. Stop reading from it too,
            // so the connection closes and its thread and buffers are freed. Nothing else is affected.
            _log.Write(LogLevel.Info, "connection", $"{_name}: could not send response {requestId}: {e.Message}");
            _writeFailed = true;
            _pipe.Input.CancelPendingRead();
            return false;
        }
    }

    /// <summary>
    /// Acknowledges a subscription, then streams stored results under its request id from a task of its own, so the
    /// request's in-flight slot is freed at once. The stream reads the journal at the subscriber's pace: results stored
    /// while it is slow are not queued here but read when it gets to them, so a slow app costs memory for one frame.
    /// </summary>
    private async Task SubscribeAsync(ulong requestId, byte[] json)
    {
        SubscribeRequest request;
        try
        {
            request = ProtocolJson.Deserialize(json.Length == 0 ? "{}"u8.ToArray() : json, ProtocolJsonContext.Default.SubscribeRequest);
        }
        catch (EdgeRuntimeException e)
        {
            await SendFinalAsync(requestId, Response.Error(MessageType.Subscribe, e.Code, e.Message)).ConfigureAwait(false);
            return;
        }

        var journal = _handler.Journal;
        if (journal is null)
        {
            await SendFinalAsync(requestId, Response.Error(MessageType.Subscribe, ErrorCodes.BadRequest, "This daemon keeps no result store (no \"store\" in its configuration), so there is nothing to subscribe to.")).ConfigureAwait(false);
            return;
        }

        if (request.Since is < 0)
        {
            await SendFinalAsync(requestId, Response.Error(MessageType.Subscribe, ErrorCodes.BadRequest, $"since is {request.Since}; it must be 0 or a result id.")).ConfigureAwait(false);
            return;
        }

        var subscription = new Subscription();
        string? refusal = null;
        lock (_subscriptions)
        {
            if (_closing)
            {
                refusal = "The connection is closing.";
            }
            else if (_subscriptions.Count >= _options.MaxInFlightPerConnection)
            {
                refusal = $"This connection already has {_subscriptions.Count} subscriptions (limits.maxInFlightPerConnection); use the triggers filter of one, or another connection.";
            }
            else if (!_subscriptions.TryAdd(requestId, subscription))
            {
                refusal = $"Request id {requestId} already names a subscription on this connection.";
            }
            else
            {
                // Counted while still under the lock, so the connection's drain cannot finish before this stream.
                Interlocked.Increment(ref _outstanding);
            }
        }

        if (refusal is not null)
        {
            subscription.Cancel.Dispose();
            await SendFinalAsync(requestId, Response.Error(MessageType.Subscribe, ErrorCodes.BadRequest, refusal)).ConfigureAwait(false);
            return;
        }

        long last = journal.LastId;
        long after = request.Since ?? last;
        await SendFinalAsync(requestId, Response.Ok(MessageType.Subscribe, new SubscribeResponse(journal.FirstId, last), ProtocolJsonContext.Default.SubscribeResponse)).ConfigureAwait(false);
        _ = Task.Run(() => StreamAsync(requestId, journal, after, request.Triggers, subscription), CancellationToken.None);
    }

    /// <summary>A running subscription: cancelled to end it; Ended completes once it will send nothing more.</summary>
    private sealed class Subscription
    {
        public CancellationTokenSource Cancel { get; } = new();

        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private async Task StreamAsync(ulong requestId, Store.ResultJournal journal, long after, string[]? triggers, Subscription subscription)
    {
        var cancel = subscription.Cancel;
        try
        {
            using var reader = journal.OpenReader(after);
            while (!_writeFailed && !cancel.IsCancellationRequested)
            {
                while (!cancel.IsCancellationRequested && reader.TryRead(out var record))
                {
                    if (triggers is not null && !triggers.Contains(record.Tag))
                    {
                        continue;
                    }

                    await SendAsync(requestId, new Response(MessageType.Event, FrameFlags.Response, record.Json, record.Payload)).ConfigureAwait(false);
                }

                await journal.WaitForCommitAsync(reader.NextId - 1, cancel.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _log.Write(LogLevel.Error, "connection", $"{_name}: subscription {requestId} stopped: {e.Message}");
            await SendAsync(requestId, Response.Error(MessageType.Subscribe, ErrorCodes.Internal, $"The result store could not be read: {e.Message}")).ConfigureAwait(false);
        }
        finally
        {
            lock (_subscriptions)
            {
                _subscriptions.Remove(requestId);
            }

            cancel.Dispose();
            subscription.Ended.TrySetResult();
            FinishOne();
        }
    }

    /// <summary>Ends a subscription and answers only once its stream has stopped, so no event follows the answer.</summary>
    private async Task<Response> UnsubscribeAsync(byte[] json)
    {
        UnsubscribeRequest request;
        try
        {
            request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.UnsubscribeRequest);
        }
        catch (EdgeRuntimeException e)
        {
            return Response.Error(MessageType.Unsubscribe, e.Code, e.Message);
        }

        Subscription? subscription;
        lock (_subscriptions)
        {
            _subscriptions.TryGetValue(request.RequestId, out subscription);
            subscription?.Cancel.Cancel();
        }

        if (subscription is null)
        {
            return Response.Error(MessageType.Unsubscribe, ErrorCodes.BadRequest, $"No subscription with request id {request.RequestId} is open on this connection.");
        }

        await subscription.Ended.Task.ConfigureAwait(false);
        return Response.Ok(MessageType.Unsubscribe, new UnsubscribeResponse(request.RequestId, true), ProtocolJsonContext.Default.UnsubscribeResponse);
    }

    private void CancelSubscriptions()
    {
        lock (_subscriptions)
        {
            _closing = true;
            foreach (var subscription in _subscriptions.Values)
            {
                subscription.Cancel.Cancel();
            }

            // A client that went away wants no more tokens: its generations stop at their next step and free their
            // sessions, rather than decoding for nobody.
            foreach (var generation in _generations.Values)
            {
                generation.Run.Cancel();
            }
        }
    }

    /// <summary>
    /// Starts a generation and streams it under the request's id: one <see cref="MessageType.Token"/> frame per token
    /// as the engine produces it, then the summary as the generate response. The request keeps its in-flight place
    /// until the summary is sent. A failed send (the client gone) cancels the generation.
    /// </summary>
    /// <param name="payload">The frame's payload (an image for a vision-language model), valid until this returns.</param>
    private async Task GenerateAsync(ulong requestId, byte[] json, ReadOnlyMemory<byte> payload)
    {
        RunningGeneration running;
        try
        {
            if (!System.Text.Unicode.Utf8.IsValid(json))
            {
                throw new EdgeRuntimeException(ErrorCodes.InvalidPrompt, "The generate request is not valid UTF-8: prompts and messages must be UTF-8 text.");
            }

            var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.GenerateRequest);
            var generation = _handler.Generation;
            if (generation is null || !generation.TryGetInfo(request.Model, out _))
            {
                throw _handler.IsTensorModel(request.Model)
                    ? new EdgeRuntimeException(ErrorCodes.WrongModelKind, $"'{request.Model}' is a tensor model: send infer (tensors in, tensors out), not generate.")
                    : new EdgeRuntimeException(ErrorCodes.UnknownModel, $"No model named '{request.Model}' is loaded.");
            }

            lock (_subscriptions)
            {
                if (_closing)
                {
                    throw new EdgeRuntimeException(ErrorCodes.ShuttingDown, "The connection is closing.");
                }

                if (_generations.ContainsKey(requestId))
                {
                    throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Request id {requestId} already names a generation on this connection.");
                }

                running = new RunningGeneration(generation.Start(request, payload));
                _generations.Add(requestId, running);
            }
        }
        catch (EdgeRuntimeException e)
        {
            await SendFinalAsync(requestId, Response.Error(MessageType.Generate, e.Code, e.Message)).ConfigureAwait(false);
            return;
        }

        try
        {
            await foreach (var token in running.Run.Tokens.ReadAllAsync().ConfigureAwait(false))
            {
                if (_writeFailed)
                {
                    running.Run.Cancel();
                    continue; // drain: the engine ends the run at its next step
                }

                await SendAsync(requestId, Response.Ok(MessageType.Token, token, ProtocolJsonContext.Default.TokenEvent), FrameRole.Stream).ConfigureAwait(false);
            }

            var summary = await running.Run.Summary.ConfigureAwait(false);
            await SendFinalAsync(requestId, Response.Ok(MessageType.Generate, summary, ProtocolJsonContext.Default.GenerateResponse)).ConfigureAwait(false);
        }
        catch (EdgeRuntimeException e)
        {
            await SendFinalAsync(requestId, Response.Error(MessageType.Generate, e.Code, e.Message)).ConfigureAwait(false);
        }
        finally
        {
            lock (_subscriptions)
            {
                _generations.Remove(requestId);
            }

            running.Ended.TrySetResult();
        }
    }

    /// <summary>Cancels a generation; answers once its stream has ended, so no token of it follows the answer.</summary>
    private async Task<Response> CancelAsync(byte[] json)
    {
        CancelRequest request;
        try
        {
            request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.CancelRequest);
        }
        catch (EdgeRuntimeException e)
        {
            return Response.Error(MessageType.Cancel, e.Code, e.Message);
        }

        RunningGeneration? running;
        lock (_subscriptions)
        {
            _generations.TryGetValue(request.RequestId, out running);
        }

        if (running is null)
        {
            // Not an error: a client's cancel often races the generation's own end.
            return Response.Ok(MessageType.Cancel, new CancelResponse(request.RequestId, false), ProtocolJsonContext.Default.CancelResponse);
        }

        running.Run.Cancel();
        await running.Ended.Task.ConfigureAwait(false);
        return Response.Ok(MessageType.Cancel, new CancelResponse(request.RequestId, true), ProtocolJsonContext.Default.CancelResponse);
    }

    /// <summary>A generation streaming on this connection; Ended completes once its last frame has been sent.</summary>
    private sealed class RunningGeneration(IGeneration run)
    {
        public IGeneration Run { get; } = run;

        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private void FinishOne()
    {
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _drained.TrySetResult();
        }
    }
}
