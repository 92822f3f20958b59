using System.Net.Sockets;

namespace EdgeRuntime.Transport.Tests;

internal static class UnixSocketPair
{
    /// <summary>A connected pair over a real UNIX socket in <paramref name="directory"/>: (accepted side, connecting side).</summary>
    public static (Socket Server, Socket Client) Create(string directory)
    {
        string path = Path.Combine(directory, $"{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        client.Connect(new UnixDomainSocketEndPoint(path));
        return (listener.Accept(), client);
    }
}
