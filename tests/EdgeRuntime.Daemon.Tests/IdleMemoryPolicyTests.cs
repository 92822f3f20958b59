using EdgeRuntime.Daemon;

namespace EdgeRuntime.Daemon.Tests;

public sealed class IdleMemoryPolicyTests
{
    private const long Busy = 64L * 1024 * 1024; // bytes allocated per 1 s poll while serving
    private const long Idle = 4 * 1024; // timers and polls

    /// <summary>Feeds one poll a second from <paramref name="from"/> s for <paramref name="seconds"/> polls; returns the seconds at which a trim was asked for.</summary>
    private static List<int> Poll(IdleMemoryPolicy policy, ref long allocated, int from, int seconds, long perSecond)
    {
        var trims = new List<int>();
        for (int s = from; s < from + seconds; s++)
        {
            allocated += perSecond;
            if (policy.ShouldTrim(TimeSpan.FromSeconds(s), allocated))
            {
                trims.Add(s);
            }
        }

        return trims;
    }

    [Fact]
    public void A_daemon_that_never_worked_is_never_trimmed()
    {
        var policy = new IdleMemoryPolicy(TimeSpan.FromSeconds(5));
        long allocated = 0;
        Assert.Empty(Poll(policy, ref allocated, 0, 600, Idle));
    }

    [Fact]
    public void Nothing_is_trimmed_while_work_goes_on()
    {
        var policy = new IdleMemoryPolicy(TimeSpan.FromSeconds(5));
        long allocated = 0;
        Assert.Empty(Poll(policy, ref allocated, 0, 300, Busy));
    }

    [Fact]
    public void After_work_it_trims_once_quiet_for_the_set_time_and_once_more_after_the_pool_age()
    {
        var policy = new IdleMemoryPolicy(TimeSpan.FromSeconds(5));
        long allocated = 0;
        Assert.Empty(Poll(policy, ref allocated, 0, 30, Busy)); // work until second 29
        var trims = Poll(policy, ref allocated, 30, 300, Idle); // quiet from second 29's poll on
        Assert.Equal([34, 34 + (int)IdleMemoryPolicy.PoolAge.TotalSeconds], trims);
    }

    [Fact]
    public void Work_before_the_second_trim_starts_the_count_again()
    {
        var policy = new IdleMemoryPolicy(TimeSpan.FromSeconds(5));
        long allocated = 0;
        Poll(policy, ref allocated, 0, 10, Busy);
        Assert.Equal([14], Poll(policy, ref allocated, 10, 20, Idle));
        Assert.Empty(Poll(policy, ref allocated, 30, 3, Busy)); // a short burst: the late trim is not due yet
        var trims = Poll(policy, ref allocated, 33, 200, Idle);
        Assert.Equal([37, 37 + (int)IdleMemoryPolicy.PoolAge.TotalSeconds], trims);
    }

    [Fact]
    public void A_slow_trickle_of_allocation_counts_as_quiet()
    {
        var policy = new IdleMemoryPolicy(TimeSpan.FromSeconds(5));
        long allocated = 0;
        Poll(policy, ref allocated, 0, 5, Busy);
        Assert.Equal([9], Poll(policy, ref allocated, 5, 10, IdleMemoryPolicy.QuietBytesPerSecond / 2));
    }
}
