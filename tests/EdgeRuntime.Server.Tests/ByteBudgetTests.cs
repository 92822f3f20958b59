namespace EdgeRuntime.Server.Tests;

public sealed class ByteBudgetTests
{
    [Fact]
    public async Task Grants_within_capacity_at_once_and_makes_the_rest_wait_in_order()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(60, CancellationToken.None);

        var second = budget.AcquireAsync(50, CancellationToken.None);
        var third = budget.AcquireAsync(10, CancellationToken.None); // fits, but must not overtake the second
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        budget.Release(60);
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        await third.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(40, budget.Available);
    }

    [Fact]
    public async Task A_cancelled_waiter_gives_nothing_away_and_blocks_no_one()
    {
        var budget = new ByteBudget(100);
        await budget.AcquireAsync(100, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var waiting = budget.AcquireAsync(80, cancel.Token);
        var behind = budget.AcquireAsync(20, CancellationToken.None);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        budget.Release(100);
        await behind.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(80, budget.Available);
    }

    [Fact]
    public async Task A_request_larger_than_the_budget_is_a_programming_error()
    {
        var budget = new ByteBudget(10);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.AcquireAsync(11, CancellationToken.None));
    }
}
