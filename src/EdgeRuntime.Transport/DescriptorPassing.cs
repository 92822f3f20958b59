using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EdgeRuntime.Transport;

/// <summary>
/// File descriptors sent over a UNIX socket as SCM_RIGHTS ancillary data: recvmsg(2) and sendmsg(2), which the
/// <see cref="Socket"/> API does not expose. Linux layouts (glibc, 64- and 32-bit alike: the size fields are size_t).
/// </summary>
public static unsafe partial class DescriptorPassing
{
    /// <summary>The most descriptors one receive accepts; more are closed by the kernel (MSG_CTRUNC).</summary>
    public const int MaxPerReceive = 4;

    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgNoSignal = 0x4000;
    private const int MsgCmsgCloexec = 0x40000000; // received descriptors must not leak into child processes
    private const int EInterrupted = 4;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// A blocking receive into <paramref name="buffer"/>; descriptors that came with the bytes are added to
    /// <paramref name="descriptors"/>. The kernel stops a receive after the bytes a descriptor was sent with, so the
    /// last byte returned belongs to the sender's sendmsg that carried them. Returns 0 at end of stream.
    /// </summary>
    /// <exception cref="SocketException">The receive failed.</exception>
    public static int Receive(Socket socket, Span<byte> buffer, List<int> descriptors)
    {
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            byte* control = stackalloc byte[ControlSpace(MaxPerReceive)];
            fixed (byte* data = buffer)
            {
                var vector = new IoVector { Base = data, Length = (nuint)buffer.Length };
                while (true)
                {
                    var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)ControlSpace(MaxPerReceive) };
                    nint received = ReceiveMessage(fd, &message, MsgCmsgCloexec);
                    if (received >= 0)
                    {
                        CollectDescriptors(&message, descriptors);
                        return (int)received;
                    }

                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != EInterrupted)
                    {
                        throw new SocketException((int)ErrnoToSocketError(errno));
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

    /// <summary>
    /// Sends <paramref name="bytes"/> with <paramref name="descriptor"/> attached to the first sendmsg, blocking until
    /// all are sent. The daemon takes the descriptor together with the frame these bytes begin.
    /// </summary>
    /// <exception cref="SocketException">The send failed (the peer is gone).</exception>
    public static void Send(Socket socket, ReadOnlySpan<byte> bytes, int descriptor)
    {
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            int space = ControlSpace(1);
            byte* control = stackalloc byte[space];
            new Span<byte>(control, space).Clear();
            var header = (ControlHeader*)control;
            header->Length = (nuint)(sizeof(ControlHeader) + sizeof(int));
            header->Level = SolSocket;
            header->Type = ScmRights;
            *(int*)(control + sizeof(ControlHeader)) = descriptor;
            fixed (byte* data = bytes)
            {
                int sent = 0;
                while (sent < bytes.Length)
                {
                    var vector = new IoVector { Base = data + sent, Length = (nuint)(bytes.Length - sent) };
                    bool first = sent == 0;
                    var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = first ? control : null, ControlLength = first ? (nuint)space : 0 };
                    nint result = SendMessage(fd, &message, MsgNoSignal);
                    if (result < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == EInterrupted)
                        {
                            continue;
                        }

                        throw new SocketException((int)ErrnoToSocketError(errno));
                    }

                    sent += (int)result;
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

    /// <summary>Closes a descriptor this process received and will not use.</summary>
    public static void Close(int descriptor) => _ = CloseDescriptor(descriptor);

    private static int ControlSpace(int descriptors) => sizeof(ControlHeader) + AlignUp(descriptors * sizeof(int));

    private static int AlignUp(int bytes) => (bytes + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    private static void CollectDescriptors(MessageHeader* message, List<int> descriptors)
    {
        byte* at = (byte*)message->Control;
        byte* end = at + (int)message->ControlLength;
        while (at + sizeof(ControlHeader) <= end)
        {
            var header = (ControlHeader*)at;
            int length = (int)header->Length;
            if (length < sizeof(ControlHeader) || at + length > end)
            {
                break;
            }

            if (header->Level == SolSocket && header->Type == ScmRights)
            {
                int count = (length - sizeof(ControlHeader)) / sizeof(int);
                for (int i = 0; i < count; i++)
                {
                    descriptors.Add(((int*)(at + sizeof(ControlHeader)))[i]);
                }
            }

            at += sizeof(ControlHeader) + AlignUp(length - sizeof(ControlHeader));
        }
    }

    private static SocketError ErrnoToSocketError(int errno) => errno switch
    {
        104 => SocketError.ConnectionReset, // ECONNRESET
        32 => SocketError.Shutdown, // EPIPE
        9 => SocketError.OperationAborted, // EBADF: the socket was closed under us
        11 => SocketError.WouldBlock, // EAGAIN: a send timeout (SO_SNDTIMEO)
        _ => SocketError.SocketError,
    };

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ControlHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessage(int socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptor(int descriptor);
}
