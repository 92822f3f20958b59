using System.Runtime.InteropServices;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// Generation runs below the daemon's other work: the loop thread and ONNX Runtime's intra-op threads (which inherit
/// the nice value of the thread that creates the session) take nice <see cref="Nice"/>. A decode step keeps every
/// core busy for tens of milliseconds; at equal priority, a woken thread — a connection sending a token frame, a
/// sensor trigger, another model's request — waits for the scheduler's next slice (milliseconds). Below normal
/// priority, the scheduler lets it preempt at once, and generation gets all the time nothing else wants.
/// </summary>
internal static partial class ComputePriority
{
    public const int Nice = 10;

    /// <summary>Lowers the calling thread (Linux: nice is per thread); elsewhere, or if refused, nothing changes.</summary>
    public static bool LowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        return SetPriority(ProcessScope, GetThreadId(), Nice) == 0;
    }

    /// <summary>Runs <paramref name="create"/> on a new thread at the lowered priority, so threads it starts inherit it.</summary>
    public static T CreateLowered<T>(Func<T> create)
    {
        T? result = default;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            LowerCurrentThread();
            try
            {
                result = create();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { IsBackground = true, Name = "create session" };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return result!;
    }

    // setpriority(PRIO_PROCESS, tid, ...) on Linux sets one thread's nice value.
    private const int ProcessScope = 0;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();
}
