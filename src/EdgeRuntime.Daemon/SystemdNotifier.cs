using System.Net.Sockets;
using System.Text;

namespace EdgeRuntime.Daemon;

/// <summary>sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. A no-op when not started by systemd.</summary>
internal static class SystemdNotifier
{
    public static void Notify(string state)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        // A leading '@' names a socket in the abstract namespace.
        if (path[0] == '@')
        {
            path = "\0" + path[1..];
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        socket.Send(Encoding.UTF8.GetBytes(state));
    }
}
