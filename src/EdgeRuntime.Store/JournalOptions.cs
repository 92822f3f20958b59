namespace EdgeRuntime.Store;

/// <summary>Where the journal lives and how much it keeps.</summary>
public sealed record JournalOptions(string Directory)
{
    /// <summary>A segment is closed and a new one started beyond this size; retention deletes whole segments.</summary>
    public long SegmentBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>Oldest segments are deleted while the journal is larger than this.</summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Segments whose newest record is older than this are deleted.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>
    /// fsync each batch before acknowledging it. Off only for benchmarks that measure the cost of the flush itself;
    /// without it a power cut can lose acknowledged results.
    /// </summary>
    public bool Flush { get; init; } = true;

    /// <summary>Appends waiting for the writer beyond this make AppendAsync wait (back-pressure).</summary>
    public int QueueCapacity { get; init; } = 4096;

    /// <summary>
    /// The clock that stamps records and ages them for retention; tests pass a fake one so age retention is checked
    /// by moving the clock instead of waiting for it.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
