using System.Net.Sockets;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

public sealed class PeerCredentialsTests
{
    private const uint DaemonUid = 998;

    private static bool Allowed(PeerInfo peer, uint[] uids, uint[] gids, params uint[] supplementary) =>
        PeerCredentials.IsAllowed(peer, supplementary, new ServerOptions { SocketPath = "/unused", AllowedUids = uids, AllowedGids = gids }, DaemonUid);

    [Fact]
    public void With_empty_lists_only_root_and_the_daemon_user_may_connect()
    {
        Assert.True(Allowed(new PeerInfo(1, 0, 0), [], []));
        Assert.True(Allowed(new PeerInfo(1, DaemonUid, 5), [], []));
        Assert.False(Allowed(new PeerInfo(1, 1000, 997), [], [], 997));
    }

    [Fact]
    public void With_lists_a_listed_uid_or_a_listed_primary_or_supplementary_gid_may_connect()
    {
        Assert.True(Allowed(new PeerInfo(1, 1000, 1000), [1000], []));
        Assert.True(Allowed(new PeerInfo(1, 1001, 50), [], [50]));
        Assert.True(Allowed(new PeerInfo(1, 1001, 1001), [], [50], 20, 50));
        Assert.False(Allowed(new PeerInfo(1, 1001, 1001), [], [50], 20, 51));
        Assert.False(Allowed(new PeerInfo(1, 0, 0), [1000], [50], 4));
        Assert.False(Allowed(new PeerInfo(1, DaemonUid, 0), [1000], []));
    }

    [Fact]
    public void The_peer_groups_from_the_socket_are_the_connecting_process_groups()
    {
        string path = Path.Combine(Path.GetTempPath(), $"peergroups-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        try
        {
            using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            client.Connect(new UnixDomainSocketEndPoint(path));
            using var server = listener.Accept();

            // This process is the peer: the kernel's answer must match what /proc says about this process.
            uint[] fromSocket = PeerCredentials.SupplementaryGroups(server, Environment.ProcessId);
            uint[] fromProc = PeerCredentials.SupplementaryGroupsFromProc(Environment.ProcessId);
            Assert.Equal(fromProc.Order(), fromSocket.Order());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Proc_groups_are_parsed_and_a_vanished_process_has_none()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        uint[] expected = [.. line["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(uint.Parse)];
        Assert.Equal(expected, PeerCredentials.SupplementaryGroupsFromProc(Environment.ProcessId));
        Assert.Empty(PeerCredentials.SupplementaryGroupsFromProc(int.MaxValue));
    }
}
