using System.Net.Sockets;

namespace EdgeRuntime.Transport;

/// <summary>
/// Decides whether a receive thread polls before it sleeps in the kernel, and for how long. Waking a sleeping thread
/// costs tens of microseconds on small, power-managed or virtualised cores; polling for a while after sending hides
/// that when the answer comes soon. The policy learns how long answers usually take (the time from our last send to
/// the next bytes in) and polls for up to twice that, never past the cap; when answers usually take longer than the
/// cap it does not poll at all, so an idle or slow peer costs no CPU. Across the process at most half the cores poll
/// at once, so many connections under load do not spin against the work they wait for. Waits are measured, and polls
/// timed, in ticks of <paramref name="timeProvider"/> (the system clock for a connection; tests of the learning move a
/// fake one).
/// </summary>
public sealed class ReceiveSpinPolicy(TimeSpan cap, TimeProvider? timeProvider = null)
{
    private static readonly int MaxPollers = Math.Max(1, Environment.ProcessorCount / 2);
    private static int s_pollers;

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly long _capTicks = (long)(cap.TotalSeconds * (timeProvider ?? TimeProvider.System).TimestampFrequency);
    private long _lastSend;
    private double _typicalWaitTicks;

    /// <summary>Records that we just sent: the peer's answer is now awaited.</summary>
    public void MarkSent() => Volatile.Write(ref _lastSend, _time.GetTimestamp());

    /// <summary>Records that bytes arrived, learning how long the peer took since our last send.</summary>
    public void MarkReceived()
    {
        long sent = Interlocked.Exchange(ref _lastSend, 0);
        if (sent == 0)
        {
            return;
        }

        // One long pause (the app went quiet) must not stop polling for the next burst; a peer that is always slow
        // still converges above the cap and stops it.
        double wait = Math.Min(_time.GetTimestamp() - sent, 1.5 * _capTicks);
        _typicalWaitTicks = _typicalWaitTicks == 0 ? wait : (0.8 * _typicalWaitTicks) + (0.2 * wait);
    }

    /// <summary>Polls until <paramref name="socket"/> has bytes or the budget runs out, yielding the core meanwhile.</summary>
    public void PollUntilReadable(Socket socket)
    {
        long budget = Budget();
        if (budget <= 0)
        {
            return;
        }

        if (Interlocked.Increment(ref s_pollers) > MaxPollers)
        {
            Interlocked.Decrement(ref s_pollers);
            return;
        }

        try
        {
            long deadline = _time.GetTimestamp() + budget;
            while (socket.Available == 0 && _time.GetTimestamp() < deadline)
            {
                Thread.Yield();
            }
        }
        finally
        {
            Interlocked.Decrement(ref s_pollers);
        }
    }

    internal long Budget()
    {
        if (_capTicks <= 0)
        {
            return 0;
        }

        if (_typicalWaitTicks == 0)
        {
            return _capTicks;
        }

        return _typicalWaitTicks > _capTicks ? 0 : Math.Min(_capTicks, (long)(2 * _typicalWaitTicks));
    }
}
