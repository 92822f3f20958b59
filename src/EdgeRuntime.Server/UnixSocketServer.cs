using System.Net.Sockets;
using EdgeRuntime.Protocol;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Server;

/// <summary>
/// Listens on a UNIX domain socket and runs a <see cref="Connection"/> per client. Each connection's peer credentials are
/// read from the kernel, logged, and checked against the allowed uids/gids before a single frame is read.
/// </summary>
public sealed class UnixSocketServer : IAsyncDisposable
{
    private readonly ServerOptions _options;
    private readonly RequestHandler _handler;
    private readonly ServerMetrics _metrics;
    private readonly IServerLog _log;
    private readonly uint _daemonUid;
    private readonly CancellationTokenSource _stopReading = new();
    private readonly List<Task> _connections = [];
    private readonly Lock _connectionsGate = new();
    private readonly ByteBudget _budget;
    private readonly Dictionary<uint, int> _connectionsPerUid = [];
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _connectionIds;

    public UnixSocketServer(ServerOptions options, RequestHandler handler, ServerMetrics metrics, IServerLog log)
    {
        _options = options;
        _handler = handler;
        _metrics = metrics;
        _log = log;
        _daemonUid = Native.GetUid();
        _budget = new ByteBudget(Math.Max(options.MaxPendingBytes, options.MaxFrameBytes));
    }

    public string SocketPath => _options.SocketPath;

    /// <summary>Binds and starts accepting. Throws when another live daemon owns the path.</summary>
    public void Start()
    {
        SocketFile.PrepareForBind(_options.SocketPath);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(_options.SocketPath));
            File.SetUnixFileMode(_options.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            listener.Listen(128);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
        _log.Write(LogLevel.Notice, "server", $"listening on {_options.SocketPath} (mode 0660, max frame {_options.MaxFrameBytes} bytes, {_options.MaxInFlightPerConnection} in flight per connection, {_options.MaxConnections} connections, {_options.EffectiveMaxConnectionsPerUid} per uid, frame timeout {_options.FrameTimeout.TotalSeconds:0.#} s, idle timeout {(_options.IdleTimeout > TimeSpan.Zero ? $"{_options.IdleTimeout.TotalSeconds:0.#} s" : "off")})");
    }

    /// <summary>Stops accepting, lets in-flight requests finish (bounded), closes every connection and removes the socket file.</summary>
    public async Task StopAsync()
    {
        if (_listener is null)
        {
            return;
        }

        _listener.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }

        _stopReading.Cancel();
        Task[] running;
        lock (_connectionsGate)
        {
            running = [.. _connections];
        }

        try
        {
            // The drain, then the last answers and each connection's lingering close.
            await Task.WhenAll(running).WaitAsync(_options.ShutdownTimeout + LingeringClose.Limit + TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _log.Write(LogLevel.Warning, "server", "some connections did not close in time");
        }

        TryDeleteSocketFile();
        _listener = null;
        _log.Write(LogLevel.Notice, "server", "stopped");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopReading.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of file descriptors or buffers, a peer that aborted: not a reason to stop serving.
                _log.Write(LogLevel.Warning, "server", $"accept failed ({e.SocketErrorCode}: {e.Message}); retrying");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            var task = ServeAsync(client);
            lock (_connectionsGate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(task);
            }
        }
    }

    private async Task ServeAsync(Socket client)
    {
        await Task.Yield();
        long id = Interlocked.Increment(ref _connectionIds);
        PeerInfo peer;
        uint[] groups;
        try
        {
            peer = PeerCredentials.Read(client);
            groups = _options.AllowedGids.Length > 0 ? PeerCredentials.SupplementaryGroups(client, peer.Pid) : [];
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            _log.Write(LogLevel.Warning, "server", $"conn#{id}: cannot read peer credentials ({e.Message}); closing");
            client.Dispose();
            return;
        }

        string name = $"conn#{id} pid={peer.Pid} uid={peer.Uid} gid={peer.Gid}";
        client.SendTimeout = (int)_options.SendTimeout.TotalMilliseconds;
        using var transport = new SocketConnection(client, $"edged-conn-{id}", _options.MaxFrameBytes + FrameHeader.Size, _options.ReceiveSpin, receiveDescriptors: _options.SharedMemoryEnabled);
        try
        {
            if (!PeerCredentials.IsAllowed(peer, groups, _options, _daemonUid))
            {
                _log.Write(LogLevel.Warning, "server", $"{name}: refused, uid/groups not in allowedUids/allowedGids");
                await RefuseAsync(transport, ErrorCodes.PeerNotAllowed, $"uid {peer.Uid} / gid {peer.Gid} may not use this daemon; add it to allowedUids or allowedGids in the daemon's configuration.").ConfigureAwait(false);
                return;
            }

            _metrics.ConnectionOpened();
            int ofThisUid = CountConnection(peer.Uid, +1);
            string? refusal = _metrics.Connections > _options.MaxConnections
                ? $"The daemon already serves {_options.MaxConnections} connections (limits.maxConnections); try again later."
                : ofThisUid > _options.EffectiveMaxConnectionsPerUid
                ? $"uid {peer.Uid} already holds {_options.EffectiveMaxConnectionsPerUid} connections (limits.maxConnectionsPerUid; the rest are kept for other users); close one or try again later."
                : null;
            if (refusal is not null)
            {
                // Uncounted before the refusal's lingering close, so refused connections never hold slots themselves.
                CountConnection(peer.Uid, -1);
                _metrics.ConnectionClosed();
                _log.Write(LogLevel.Warning, "server", $"{name}: refused: {refusal}");
                await RefuseAsync(transport, ErrorCodes.Busy, refusal).ConfigureAwait(false);
                return;
            }

            try
            {

                _log.Write(LogLevel.Info, "server", $"{name}: connected");
                var connection = new Connection(transport, _handler, _options, _metrics, _log, peer, name, _budget, transport);
                var running = connection.RunAsync(_stopReading.Token, _options.ShutdownTimeout);
                transport.Start();
                await running.ConfigureAwait(false);
                _log.Write(LogLevel.Info, "server", $"{name}: closed");
            }
            finally
            {
                CountConnection(peer.Uid, -1);
                _metrics.ConnectionClosed();
            }
        }
        catch (Exception e)
        {
            _log.Write(LogLevel.Error, "server", $"{name}: {e}");
        }
    }

    /// <summary>Adds <paramref name="change"/> to the uid's open connections and returns the new count.</summary>
    private int CountConnection(uint uid, int change)
    {
        lock (_connectionsPerUid)
        {
            int count = _connectionsPerUid.GetValueOrDefault(uid) + change;
            if (count == 0)
            {
                _connectionsPerUid.Remove(uid);
            }
            else
            {
                _connectionsPerUid[uid] = count;
            }

            return count;
        }
    }

    private static async Task RefuseAsync(SocketConnection pipe, string code, string message)
    {
        var json = ProtocolJson.Serialize(new ErrorResponse(code, message), ProtocolJsonContext.Default.ErrorResponse);
        FrameWriter.Write(pipe.Output, 0, FrameFlags.Response | FrameFlags.Error, 0, json, []);
        try
        {
            await pipe.Output.FlushAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
        }

        await pipe.Output.CompleteAsync().ConfigureAwait(false);

        pipe.Start();
        await LingeringClose.DrainAsync(pipe.Input).ConfigureAwait(false);
    }

    private void TryDeleteSocketFile()
    {
        try
        {
            File.Delete(_options.SocketPath);
        }
        catch (IOException e)
        {
            _log.Write(LogLevel.Warning, "server", $"could not remove {_options.SocketPath}: {e.Message}");
        }
    }
}
