using System.Collections.Concurrent;

namespace EdgeRuntime.Bench;

/// <summary>What became of every request a soak phase sent. Safe to count into from any thread.</summary>
internal sealed class SoakTally
{
    private long _correct;
    private long _wrong;
    private long _lost;
    private long _abandoned;
    private long _expectedErrors;

    public LatencyHistogram Latency { get; } = new();

    /// <summary>Error answers nobody asked for, by code (anything but the churned model's unknown_model).</summary>
    public ConcurrentDictionary<string, long> UnexpectedErrors { get; } = new();

    /// <summary>Answered with its own, correct outputs.</summary>
    public long Correct => Interlocked.Read(ref _correct);

    /// <summary>Answered with outputs that are not this request's: another request's answer, or a wrong one.</summary>
    public long Wrong => Interlocked.Read(ref _wrong);

    /// <summary>Never answered: timed out, or its connection failed under it without the bench closing it.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>In flight when the bench itself closed the connection on purpose (a reconnect in the middle of work).</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    /// <summary>unknown_model for the model being loaded and unloaded, while it was unloaded.</summary>
    public long ExpectedErrors => Interlocked.Read(ref _expectedErrors);

    public long UnexpectedErrorCount => UnexpectedErrors.Values.Sum();

    public void AddCorrect(TimeSpan roundTrip)
    {
        Interlocked.Increment(ref _correct);
        Latency.Add(roundTrip);
    }

    public void AddWrong() => Interlocked.Increment(ref _wrong);

    /// <summary>Why requests were lost, by the client's message (the first 100 characters), so a failure explains itself.</summary>
    public ConcurrentDictionary<string, long> LostReasons { get; } = new();

    public void AddLost(string reason)
    {
        Interlocked.Increment(ref _lost);
        LostReasons.AddOrUpdate(reason.Length > 100 ? reason[..100] : reason, 1, (_, n) => n + 1);
    }

    public void AddAbandoned() => Interlocked.Increment(ref _abandoned);

    public void AddExpectedError() => Interlocked.Increment(ref _expectedErrors);

    public void AddUnexpectedError(string code) => UnexpectedErrors.AddOrUpdate(code, 1, (_, n) => n + 1);

    public string Describe() =>
        $"{Correct} correct, {Wrong} wrong, {Lost} lost, {Abandoned} abandoned by reconnects, {ExpectedErrors} unknown_model on the churned model, "
        + $"unexpected errors: {(UnexpectedErrors.IsEmpty ? "none" : string.Join(", ", UnexpectedErrors.Select(e => $"{e.Key} {e.Value}")))}; "
        + (LostReasons.IsEmpty ? "" : $"lost because: {string.Join("; ", LostReasons.Select(e => $"{e.Key} ({e.Value})"))}; ")
        + $"p50 {Latency.PercentileUs(0.5) / 1000:0.00} ms, p99 {Latency.PercentileUs(0.99) / 1000:0.00} ms";
}
