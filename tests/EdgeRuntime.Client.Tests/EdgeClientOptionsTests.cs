namespace EdgeRuntime.Client.Tests;

/// <summary>Where the code after an awaited response runs, which <see cref="EdgeClientOptions"/> decides.</summary>
public sealed class EdgeClientOptionsTests
{
    // The name EdgeClient gives its receive thread; code that runs inline runs there.
    private const string ReceiveThread = "edgeclient-receive";

    [Fact]
    public void The_defaults_favour_latency_inline_continuations_and_a_short_spin()
    {
        Assert.True(EdgeClientOptions.Default.InlineContinuations);
        Assert.Equal(TimeSpan.FromMicroseconds(500), EdgeClientOptions.Default.SpinBeforeBlock);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_caller_resumes_on_the_receive_thread_only_when_continuations_are_inline(bool inlineContinuations)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync(new EdgeClientOptions { InlineContinuations = inlineContinuations });

        var call = client.UnloadAsync("m");

        // Attached before the answer is sent, and run by whichever thread completes the call.
        var resumedOn = call.ContinueWith(_ => Thread.CurrentThread.Name, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        await server.ReplyAsync(await server.ReadAsync(), """{"name":"m","unloaded":true}""");

        string? thread = await resumedOn.WaitAsync(ScriptedServer.Patience);
        if (inlineContinuations)
        {
            Assert.Equal(ReceiveThread, thread);
        }
        else
        {
            Assert.NotEqual(ReceiveThread, thread);
        }
    }
}
