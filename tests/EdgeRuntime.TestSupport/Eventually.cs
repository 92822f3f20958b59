using System.Diagnostics;

namespace EdgeRuntime.TestSupport;

/// <summary>
/// Waits for a condition the code under test will make true, failing with what was awaited after a generous timeout.
/// For waits on another process or thread; time the code itself reads should be moved with a FakeTimeProvider instead.
/// </summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every few milliseconds until it holds or <paramref name="seconds"/> pass.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what, double seconds = 15)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>The same for a condition that must be asked asynchronously (a request to a daemon).</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, double seconds = 30, int pollMilliseconds = 20)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed.TotalSeconds > seconds)
            {
                Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
            }

            await Task.Delay(pollMilliseconds);
        }
    }
}
