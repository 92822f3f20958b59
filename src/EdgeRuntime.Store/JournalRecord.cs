namespace EdgeRuntime.Store;

/// <summary>One stored result as read back: its id, when it was written, its tag (the trigger), JSON and payload.</summary>
public sealed record JournalRecord(long Id, DateTimeOffset WrittenAt, string Tag, byte[] Json, byte[] Payload);

/// <summary>What an append cost: the id it got, when it was written, and the microseconds until it was durable.</summary>
public readonly record struct JournalCommit(long Id, DateTimeOffset WrittenAt, double CommitUs, int BatchSize);
