namespace EdgeRuntime.Store;

/// <summary>
/// One segment file. Its committed length only grows, and only after the bytes below it have been flushed, so a
/// reader that stays below it never sees a half-written record.
/// </summary>
internal sealed class JournalSegment(string path, long firstId)
{
    private long _committedLength = RecordFormat.SegmentMagic.Length;
    private long _lastId = firstId - 1;

    public string Path { get; } = path;

    /// <summary>The id of the first record (also the file's name), even before that record is written.</summary>
    public long FirstId { get; } = firstId;

    public long LastId => Volatile.Read(ref _lastId);

    public long CommittedLength => Volatile.Read(ref _committedLength);

    /// <summary>Unix µs of the newest record; 0 when empty.</summary>
    public long LastWrittenAt { get; set; }

    public void Commit(long length, long lastId)
    {
        Volatile.Write(ref _lastId, lastId);
        Volatile.Write(ref _committedLength, length);
    }

    public static string FileName(long firstId) => $"{firstId:D20}.journal";
}
