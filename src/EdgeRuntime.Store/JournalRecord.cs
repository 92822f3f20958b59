namespace EdgeRuntime.Store;

/// <summary>One stored result as read back: its id, when it was written, its tag (the trigger), JSON and payload.</summary>
public sealed record JournalRecord(long Id, DateTimeOffset WrittenAt, string Tag, byte[] Json, byte[] Payload);

/// <summary>A durable append: the id it got and when it was written.</summary>
public readonly record struct JournalCommit(long Id, DateTimeOffset WrittenAt);
