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

    /// <summary>
    /// With both lists empty: root, the daemon's own uid, and members of the daemon's group (the group that owns the
    /// socket, e.g. edgeruntime under the packaged service). Otherwise: a listed uid, or a listed gid among the peer's
    /// primary and supplementary groups.
    /// </summary>
    public static bool IsAllowed(PeerInfo peer, ServerOptions options, uint daemonUid, uint daemonGid, Func<int, uint[]>? supplementaryGroups = null)
    {
        supplementaryGroups ??= SupplementaryGroups;
        if (options.AllowedUids.Length == 0 && options.AllowedGids.Length == 0)
        {
            return peer.Uid == 0 || peer.Uid == daemonUid || peer.Gid == daemonGid || supplementaryGroups(peer.Pid).Contains(daemonGid);
        }

        return options.AllowedUids.Contains(peer.Uid)
            || options.AllowedGids.Contains(peer.Gid)
            || supplementaryGroups(peer.Pid).Any(options.AllowedGids.Contains);
    }

    /// <summary>The peer's supplementary groups from /proc/PID/status (SO_PEERCRED carries only the primary gid).</summary>
    public static uint[] SupplementaryGroups(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Groups:", StringComparison.Ordinal))
                {
                    return [.. line["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(g => uint.Parse(g, System.Globalization.CultureInfo.InvariantCulture))];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // The peer is gone or its status unreadable: judge it by the kernel's credentials alone.
        }

        return [];
    }
}
