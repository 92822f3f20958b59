using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Tests;

/// <summary>The queue's places: bounded by queueCapacity, given back once, and refused with shutting_down after a stop.</summary>
public sealed class InferenceSchedulerTests
{
    [Fact]
    public async Task Entering_waits_once_the_queue_holds_its_capacity_and_a_freed_place_lets_the_next_in()
    {
        using var scheduler = new InferenceScheduler(new InferenceOptions { Workers = 1, QueueCapacity = 2 });
        var first = await scheduler.EnterAsync();
        var second = await scheduler.EnterAsync();
        Assert.Equal(2, scheduler.Depth);

        var third = scheduler.EnterAsync().AsTask();
        await Task.Delay(50);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, scheduler.Depth);

        first.Dispose();
        first.Dispose(); // given back once, however often disposed
        (await third.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        second.Dispose();
        Assert.Equal(0, scheduler.Depth);
        (await scheduler.EnterAsync()).Dispose();
    }

    [Fact]
    public async Task Stopping_wakes_waiting_entries_and_refuses_new_ones_with_shutting_down()
    {
        var scheduler = new InferenceScheduler(new InferenceOptions { Workers = 1, QueueCapacity = 1 });
        using var held = await scheduler.EnterAsync();
        var waiting = scheduler.EnterAsync().AsTask();

        scheduler.Dispose();
        var woken = await Assert.ThrowsAsync<EdgeRuntimeException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(ErrorCodes.ShuttingDown, woken.Code);
        var refused = await Assert.ThrowsAsync<EdgeRuntimeException>(() => scheduler.EnterAsync().AsTask());
        Assert.Equal(ErrorCodes.ShuttingDown, refused.Code);

        held.Dispose(); // a request finishing after the stop releases its place without an ObjectDisposedException
    }

    [Fact]
    public async Task A_cancelled_entry_is_an_operation_cancelled_not_shutting_down()
    {
        using var scheduler = new InferenceScheduler(new InferenceOptions { Workers = 1, QueueCapacity = 1 });
        using var held = await scheduler.EnterAsync();
        using var cancel = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scheduler.EnterAsync(cancel.Token).AsTask());
        Assert.Equal(1, scheduler.Depth);
    }
}
