using EdgeRuntime.Inference.Batching;

namespace EdgeRuntime.Inference.Tests;

/// <summary>The batched model's turn: one holder, handed on in arrival order to blocking and awaiting waiters alike.</summary>
public sealed class FairTurnTests
{
    [Fact]
    public async Task Waiters_get_the_turn_in_the_order_they_came_whether_they_block_or_await()
    {
        var turn = new FairTurn();
        await turn.EnterAsync(blockThread: false, CancellationToken.None);
        var order = new List<string>();
        var waiters = new List<Task>();
        string[] names = ["async-1", "block-2", "async-3", "block-4"];
        foreach (string name in names)
        {
            bool block = name.StartsWith("block", StringComparison.Ordinal);
            waiters.Add(block
                ? Task.Factory.StartNew(() => Take(turn, name, order, block: true).AsTask().GetAwaiter().GetResult(), TaskCreationOptions.LongRunning)
                : Task.Run(() => Take(turn, name, order, block: false).AsTask()));
            await QueuedAsync(turn, waiters.Count); // queued before the next one comes
        }

        turn.Exit();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(names, order);
        await turn.EnterAsync(blockThread: true, CancellationToken.None); // free again: taken at once
        turn.Exit();
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_the_turn_goes_to_the_next()
    {
        var turn = new FairTurn();
        await turn.EnterAsync(blockThread: false, CancellationToken.None);
        using var cancelAsync = new CancellationTokenSource();
        using var cancelBlocked = new CancellationTokenSource();
        var gaveUpAwaiting = turn.EnterAsync(blockThread: false, cancelAsync.Token).AsTask();
        var gaveUpBlocking = Task.Factory.StartNew(() => turn.EnterAsync(blockThread: true, cancelBlocked.Token).AsTask().GetAwaiter().GetResult(), TaskCreationOptions.LongRunning);
        await QueuedAsync(turn, 2);
        var next = turn.EnterAsync(blockThread: false, CancellationToken.None).AsTask();

        cancelAsync.Cancel();
        cancelBlocked.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUpAwaiting.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUpBlocking.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(next.IsCompleted);

        turn.Exit();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        turn.Exit();
    }

    private static async Task QueuedAsync(FairTurn turn, int count)
    {
        for (int i = 0; i < 2000 && turn.Waiting < count; i++)
        {
            await Task.Delay(5);
        }

        Assert.Equal(count, turn.Waiting);
    }

    private static async ValueTask Take(FairTurn turn, string name, List<string> order, bool block)
    {
        await turn.EnterAsync(block, CancellationToken.None);
        lock (order)
        {
            order.Add(name);
        }

        turn.Exit();
    }
}
