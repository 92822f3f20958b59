using System.Buffers.Binary;
using System.Net.Sockets;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server;

/// <summary>Reads who is on the other end of a UNIX socket from the kernel (SO_PEERCRED), and decides if they may talk.</summary>
public static class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>struct ucred { pid_t pid; uid_t uid; gid_t gid; } — three 32-bit fields on every Linux ABI.</summary>
    public static PeerInfo Read(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length < 12)
        {
            throw new InvalidOperationException($"SO_PEERCRED returned {length} bytes, expected 12.");
        }

        return new PeerInfo(
            BinaryPrimitives.ReadInt32LittleEndian(ucred),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }

    public static bool IsAllowed(PeerInfo peer, ServerOptions options, uint daemonUid)
    {
        if (options.AllowedUids.Length == 0 && options.AllowedGids.Length == 0)
        {
            return peer.Uid == daemonUid;
        }

        return options.AllowedUids.Contains(peer.Uid) || options.AllowedGids.Contains(peer.Gid);
    }
}
