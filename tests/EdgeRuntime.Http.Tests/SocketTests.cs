using System.Net;
using EdgeRuntime.Server;

namespace EdgeRuntime.Http.Tests;

/// <summary>The endpoint's socket follows the main socket's rules: mode 0660, the peer checked, a live path never taken over.</summary>
public sealed class SocketTests
{
    [Fact]
    public async Task The_socket_file_is_mode_0660_and_is_removed_on_stop()
    {
        await using var http = await HttpHarness.StartAsync();

        Assert.Equal(
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
            File.GetUnixFileMode(http.SocketPath));
        await http.Server.StopAsync();
        Assert.False(File.Exists(http.SocketPath));
    }

    [Fact]
    public async Task A_peer_outside_the_allowed_uids_is_refused_with_a_403()
    {
        // A list that does not hold the test's own uid (nor root's): root is only special while both lists are empty.
        await using var http = await HttpHarness.StartAsync(options => options with { AllowedUids = [4_000_000_001] });

        using var response = await http.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var error = (await HttpHarness.JsonAsync(response)).GetProperty("error");
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
        Assert.Equal(EdgeRuntime.Protocol.ErrorCodes.PeerNotAllowed, error.GetProperty("code").GetString());
        Assert.Contains(http.Log.Lines, line => line.Contains("refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_daemons_own_uid_is_allowed_when_no_list_is_configured()
    {
        await using var http = await HttpHarness.StartAsync();

        using var response = await http.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_path_a_live_endpoint_serves_is_not_taken_over_but_a_stale_file_is_replaced()
    {
        await using var first = await HttpHarness.StartAsync();
        await using var second = new OpenAiHttpServer(new HttpServerOptions { SocketPath = first.SocketPath }, first.Generation, first.Log);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync());
        Assert.Contains(first.SocketPath, refused.Message, StringComparison.Ordinal);
        using (var stillServed = await first.Client.GetAsync("/v1/models"))
        {
            Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        }

        // A regular file at the path is not the daemon's to delete.
        await first.Server.StopAsync();
        await File.WriteAllTextAsync(first.SocketPath, "keep");
        await Assert.ThrowsAsync<SocketPathException>(() => second.StartAsync());
        Assert.Equal("keep", await File.ReadAllTextAsync(first.SocketPath));
        File.Delete(first.SocketPath);

        // What a crashed daemon leaves: a socket file at the path that nobody accepts on. .NET unlinks the path it
        // bound when the socket is closed, so the file is renamed into place first.
        using (var crashed = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            crashed.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(first.SocketPath + ".tmp"));
            File.Move(first.SocketPath + ".tmp", first.SocketPath);
        }

        Assert.True(File.Exists(first.SocketPath));
        await second.StartAsync();
        using var served = await first.NewClient().GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }
}
