using System.Net.Sockets;
using EdgeRuntime.Protocol;
using EdgeRuntime.Server;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using ServerLogLevel = EdgeRuntime.Server.LogLevel;

namespace EdgeRuntime.Http;

/// <summary>
/// The main socket's access rule on this one too: the peer's uid and groups, read from the kernel, must be allowed by
/// allowedUids/allowedGids (root and the daemon's own uid when both are empty). File mode 0660 already keeps others
/// out; this check is what lets the configuration, not only the file system, say who may generate.
/// </summary>
internal sealed class PeerCheck(ServerOptions access, IServerLog log)
{
    public Func<RequestDelegate, RequestDelegate> Middleware => next => context =>
    {
        var socket = context.Features.Get<IConnectionSocketFeature>()?.Socket;
        PeerInfo? peer = null;
        bool allowed = false;
        try
        {
            allowed = socket is not null && PeerCredentials.IsAllowed(socket, access, out peer);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or ObjectDisposedException)
        {
            // The peer cannot be identified: refused like a peer that is not allowed.
        }

        if (allowed)
        {
            return next(context);
        }

        string who = peer is null ? "a peer whose credentials cannot be read" : $"pid {peer.Pid} uid {peer.Uid} gid {peer.Gid}";
        log.Write(ServerLogLevel.Warning, "http", $"{who}: refused, uid/groups not in allowedUids/allowedGids");
        throw new HttpApiException(
            StatusCodes.Status403Forbidden,
            ErrorTypes.Permission,
            ErrorCodes.PeerNotAllowed,
            peer is null
                ? "edged cannot read this connection's peer credentials."
                : $"uid {peer.Uid} / gid {peer.Gid} may not use this daemon; add it to allowedUids or allowedGids in the daemon's configuration.");
    };
}
