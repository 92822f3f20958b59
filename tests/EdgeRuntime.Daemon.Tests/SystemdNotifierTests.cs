using System.Net.Sockets;
using System.Text;

namespace EdgeRuntime.Daemon.Tests;

public sealed class SystemdNotifierTests
{
    [Fact]
    public void A_state_is_one_datagram_to_the_notify_socket_and_notifying_without_one_is_a_no_op()
    {
        using var folder = new TempFolder("edged-notify-");
        string path = folder.File("notify.sock");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(path));
        systemd.ReceiveTimeout = 5000;

        string? before = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        try
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
            SystemdNotifier.Notify("STATUS=unseen");
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", path);
            SystemdNotifier.Notify("READY=1\nSTATUS=serving");
        }
        finally
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", before);
        }

        var buffer = new byte[256];
        int length = systemd.Receive(buffer);
        Assert.Equal("READY=1\nSTATUS=serving", Encoding.UTF8.GetString(buffer, 0, length));
        Assert.Equal(0, systemd.Available);
    }
}
