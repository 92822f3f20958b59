using System.Net.Sockets;
using System.Text;

namespace EdgeRuntime.Integration.Tests;

/// <summary>The datagram socket systemd would hold for a Type=notify service, and the environment that points edged at it.</summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly byte[] _buffer = new byte[256];

    public NotifySocket(string directory, int watchdogMicroseconds)
    {
        string path = Path.Combine(directory, "notify.sock");
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        Environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path, ["WATCHDOG_USEC"] = watchdogMicroseconds.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    public IReadOnlyDictionary<string, string> Environment { get; }

    public async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        int length = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cancellationToken);
        return Encoding.UTF8.GetString(_buffer, 0, length);
    }

    /// <summary>Every message until <paramref name="pings"/> WATCHDOG=1 have arrived; fails after <paramref name="timeout"/>.</summary>
    public async Task<List<string>> ReceiveUntilPingsAsync(int pings, TimeSpan timeout)
    {
        var messages = new List<string>();
        using var window = new CancellationTokenSource(timeout);
        while (messages.Count(m => m == "WATCHDOG=1") < pings)
        {
            messages.Add(await ReceiveAsync(window.Token));
        }

        return messages;
    }

    public void Dispose() => _socket.Dispose();
}
