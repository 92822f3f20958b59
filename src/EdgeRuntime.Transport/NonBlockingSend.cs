using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EdgeRuntime.Transport;

/// <summary>
/// send(2) with MSG_DONTWAIT on a socket left in blocking mode: as many bytes as fit in the socket's buffer now, and
/// never a wait. Toggling the socket's O_NONBLOCK instead would cost two more system calls and would change the mode
/// under the other direction's blocking receive.
/// </summary>
internal static partial class NonBlockingSend
{
    private const int MsgDontWait = 0x40; // Linux
    private const int MsgNoSignal = 0x4000; // a closed peer is an error, not SIGPIPE
    private const int EAgain = 11;
    private const int EInterrupted = 4;

    /// <summary>Whether this platform's flag values are the ones above; elsewhere callers send from another thread.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Sends what fits without waiting. Returns the bytes sent (0 when the buffer is full), or -1 when the socket has
    /// failed, so that the caller's blocking send raises the proper <see cref="SocketException"/>.
    /// </summary>
    public static unsafe int TrySend(Socket socket, ReadOnlySpan<byte> bytes)
    {
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* data = bytes)
            {
                while (true)
                {
                    nint sent = Send((int)handle.DangerousGetHandle(), data, (nuint)bytes.Length, MsgDontWait | MsgNoSignal);
                    if (sent >= 0)
                    {
                        return (int)sent;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != EInterrupted)
                    {
                        return errno == EAgain ? 0 : -1;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int socket, byte* buffer, nuint length, int flags);
}
