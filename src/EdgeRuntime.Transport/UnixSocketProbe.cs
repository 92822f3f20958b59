using System.Net.Sockets;

namespace EdgeRuntime.Transport;

/// <summary>Answers "is something accepting connections on this UNIX socket path right now?".</summary>
public static class UnixSocketProbe
{
    public static bool IsAccepting(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
