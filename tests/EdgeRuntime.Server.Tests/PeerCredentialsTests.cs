using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

public sealed class PeerCredentialsTests
{
    private const uint DaemonUid = 998;
    private const uint DaemonGid = 997;

    private static bool Allowed(PeerInfo peer, uint[] uids, uint[] gids, params uint[] supplementary) =>
        PeerCredentials.IsAllowed(peer, new ServerOptions { SocketPath = "/unused", AllowedUids = uids, AllowedGids = gids }, DaemonUid, DaemonGid, _ => supplementary);

    [Fact]
    public void With_empty_lists_root_the_daemon_user_and_members_of_its_group_may_connect()
    {
        Assert.True(Allowed(new PeerInfo(1, 0, 0), [], []));
        Assert.True(Allowed(new PeerInfo(1, DaemonUid, 5), [], []));
        Assert.True(Allowed(new PeerInfo(1, 1000, DaemonGid), [], []));
        Assert.True(Allowed(new PeerInfo(1, 1000, 1000), [], [], 27, DaemonGid));
        Assert.False(Allowed(new PeerInfo(1, 1000, 1000), [], [], 27, 100));
    }

    [Fact]
    public void With_lists_a_listed_uid_or_a_listed_primary_or_supplementary_gid_may_connect()
    {
        Assert.True(Allowed(new PeerInfo(1, 1000, 1000), [1000], []));
        Assert.True(Allowed(new PeerInfo(1, 1001, 50), [], [50]));
        Assert.True(Allowed(new PeerInfo(1, 1001, 1001), [], [50], 20, 50));
        Assert.False(Allowed(new PeerInfo(1, 0, 0), [1000], [50], 4));
        Assert.False(Allowed(new PeerInfo(1, DaemonUid, DaemonGid), [1000], []));
    }

    [Fact]
    public void Supplementary_groups_are_read_from_proc()
    {
        uint[] mine = PeerCredentials.SupplementaryGroups(Environment.ProcessId);
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        Assert.Equal(line["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Length, mine.Length);
        Assert.Empty(PeerCredentials.SupplementaryGroups(int.MaxValue));
    }
}
