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
    /// With both lists empty: root and the daemon's own uid. Otherwise: a listed uid, or a listed gid among the
    /// peer's primary and supplementary groups (e.g. the packaged service allows the group edgeruntime).
    /// </summary>
    public static bool IsAllowed(PeerInfo peer, ReadOnlySpan<uint> supplementaryGroups, ServerOptions options, uint daemonUid)
    {
        if (options.AllowedUids.Length == 0 && options.AllowedGids.Length == 0)
        {
            return peer.Uid == 0 || peer.Uid == daemonUid;
        }

        if (options.AllowedUids.Contains(peer.Uid) || options.AllowedGids.Contains(peer.Gid))
        {
            return true;
        }

        foreach (uint gid in supplementaryGroups)
        {
            if (options.AllowedGids.Contains(gid))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reads the peer of a connected socket and judges it against this process's uid: the rule every socket edged
    /// listens on follows (the HTTP endpoint's too). Throws as <see cref="Read"/> does when the peer cannot be read.
    /// </summary>
    public static bool IsAllowed(Socket socket, ServerOptions options, out PeerInfo peer)
    {
        ArgumentNullException.ThrowIfNull(options);
        peer = Read(socket);
        uint[] groups = options.AllowedGids.Length > 0 ? SupplementaryGroups(socket, peer.Pid) : [];
        return IsAllowed(peer, groups, options, Native.GetUid());
    }

    /// <summary>
    /// The peer's supplementary groups as they were when it connected (SO_PEERGROUPS, Linux 4.13+); SO_PEERCRED
    /// carries only the primary gid. Falls back to /proc/PID/status on older kernels.
    /// </summary>
    public static uint[] SupplementaryGroups(Socket socket, int pid)
    {
        const int SoPeerGroups = 59;
        var buffer = new byte[4 * 1024];
        try
        {
            int length = socket.GetRawSocketOption(SolSocket, SoPeerGroups, buffer);
            var groups = new uint[length / 4];
            for (int i = 0; i < groups.Length; i++)
            {
                groups[i] = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i * 4));
            }

            return groups;
        }
        catch (SocketException)
        {
            return SupplementaryGroupsFromProc(pid);
        }
    }

    /// <summary>The groups /proc/PID/status lists for a process; empty when it is gone or unreadable.</summary>
    public static uint[] SupplementaryGroupsFromProc(int pid)
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
