using System.Threading.Channels;

namespace EdgeRuntime.Store;

/// <summary>
/// The durable result store: an append-only journal of CRC-framed records in segment files. One writer thread takes
/// every append waiting at that moment, writes them in one go and flushes once (group commit), then completes them;
/// an append's task finishing therefore means its record is on disk. Ids start at 1 and have no gaps. Readers
/// (<see cref="OpenReader"/>) read only below each segment's committed length, so they never see a partial record,
/// and wait for new ones with <see cref="WaitForCommitAsync"/>.
/// </summary>
public sealed class ResultJournal : IDisposable
{
    private readonly JournalOptions _options;
    private readonly Action<string> _log;
    private readonly Lock _gate = new();
    private readonly List<JournalSegment> _segments = [];
    private readonly Channel<PendingAppend> _queue;
    private readonly Task _writer;
    private FileStream _active = null!;
    private long _lastId;
    private long _commits;
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[] _batch = new byte[64 * 1024];
    private readonly FileStream _lock;

    private ResultJournal(JournalOptions options, Action<string> log)
    {
        _options = options;
        _log = log;
        _queue = Channel.CreateBounded<PendingAppend>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true });
        System.IO.Directory.CreateDirectory(options.Directory);
        try
        {
            // One writer per store: .NET takes an exclusive flock for FileShare.None, so a second edged on the same
            // folder stops here instead of "recovering" the tail of a batch the first one is writing.
            _lock = new FileStream(Path.Combine(options.Directory, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The result store {options.Directory} is in use by another process (another edged?): {e.Message}", e);
        }

        Recover();
        _writer = Task.Factory.StartNew(WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Opens (creating if needed) the journal in options.Directory, discarding a torn tail left by a crash.</summary>
    public static ResultJournal Open(JournalOptions options, Action<string>? log = null) => new(options, log ?? (_ => { }));

    public string Directory => _options.Directory;

    /// <summary>The newest durable id; 0 when nothing has been stored.</summary>
    public long LastId => Volatile.Read(ref _lastId);

    /// <summary>
    /// The oldest id still retained; 0 when nothing was ever stored, LastId + 1 when retention has removed every
    /// stored result.
    /// </summary>
    public long FirstId
    {
        get
        {
            lock (_gate)
            {
                return _lastId == 0 ? 0 : _segments[0].FirstId;
            }
        }
    }

    public long Commits => Volatile.Read(ref _commits);

    public int SegmentCount
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _segments.Sum(s => s.CommittedLength);
            }
        }
    }

    /// <summary>
    /// Stores one record. <paramref name="buildJson"/> runs on the writer thread with the id and write time the record
    /// gets, so the stored JSON can carry both. The task completes once the record is on disk.
    /// </summary>
    public async ValueTask<JournalCommit> AppendAsync(string tag, Func<long, DateTimeOffset, byte[]> buildJson, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var pending = new PendingAppend(tag, buildJson, payload);
        await _queue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        return await pending.Done.Task.ConfigureAwait(false);
    }

    /// <summary>Completes when an id above <paramref name="afterId"/> is durable (at once if one already is).</summary>
    public Task WaitForCommitAsync(long afterId, CancellationToken cancellationToken)
    {
        Task next;
        lock (_gate)
        {
            if (_lastId > afterId)
            {
                return Task.CompletedTask;
            }

            next = _committed.Task;
        }

        return next.WaitAsync(cancellationToken);
    }

    /// <summary>A reader positioned after <paramref name="afterId"/> (0: from the oldest retained record).</summary>
    public JournalReader OpenReader(long afterId) => new(this, afterId);

    /// <summary>The first id of the oldest segment kept (LastId + 1 when only an empty segment is left).</summary>
    internal long OldestSegmentFirstId
    {
        get
        {
            lock (_gate)
            {
                return _segments[0].FirstId;
            }
        }
    }

    /// <summary>The segment holding <paramref name="id"/>, or the oldest one when retention has removed it; null when id is not stored yet.</summary>
    internal JournalSegment? FindSegment(long id)
    {
        lock (_gate)
        {
            for (int i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].FirstId <= id)
                {
                    return id <= _segments[i].LastId ? _segments[i] : null;
                }
            }

            return _segments.Count > 0 && _segments[0].LastId >= _segments[0].FirstId ? _segments[0] : null;
        }
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        try
        {
            _writer.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Already reported through the appends' tasks.
        }

        _active.Dispose();
        _lock.Dispose();
    }

    private void Recover()
    {
        System.IO.Directory.CreateDirectory(_options.Directory);
        var files = System.IO.Directory.GetFiles(_options.Directory, "*.journal")
            .Select(p => (Path: p, FirstId: long.TryParse(Path.GetFileNameWithoutExtension(p), out long id) ? id : -1))
            .Where(f => f.FirstId > 0)
            .OrderBy(f => f.FirstId)
            .ToList();
        long expected = files.Count > 0 ? files[0].FirstId : 1;
        for (int i = 0; i < files.Count; i++)
        {
            var segment = new JournalSegment(files[i].Path, files[i].FirstId);
            bool last = i == files.Count - 1;
            if (segment.FirstId != expected)
            {
                throw new InvalidDataException($"Journal segment {files[i].Path} starts at id {segment.FirstId}, but the previous one ends at {expected - 1}; the journal folder was altered.");
            }

            ScanSegment(segment, truncateTail: last);
            _segments.Add(segment);
            expected = segment.LastId + 1;
        }

        _lastId = expected - 1;
        if (_segments.Count == 0)
        {
            StartSegment(1);
        }
        else
        {
            var tail = _segments[^1];
            _active = new FileStream(tail.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.None);
            _active.Position = tail.CommittedLength;
        }
    }

    /// <summary>
    /// Walks a segment's records, checking each CRC. In the last segment a bad or short record is the torn tail of a
    /// crash: the file is cut there. In an earlier one it is damage: reading stops there and it is logged.
    /// </summary>
    private void ScanSegment(JournalSegment segment, bool truncateTail)
    {
        using var file = new FileStream(segment.Path, FileMode.Open, truncateTail ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        long length = file.Length;
        Span<byte> magic = stackalloc byte[RecordFormat.SegmentMagic.Length];
        if (length < magic.Length || file.Read(magic) != magic.Length || !magic.SequenceEqual(RecordFormat.SegmentMagic))
        {
            if (!truncateTail || length > magic.Length)
            {
                throw new InvalidDataException($"{segment.Path} is not an EdgeRuntime journal segment (bad magic).");
            }

            // A crash between creating the file and writing its magic.
            file.SetLength(0);
            file.Write(RecordFormat.SegmentMagic);
            file.Flush(true);
            return;
        }

        long position = magic.Length;
        long lastId = segment.FirstId - 1;
        long lastWrittenAt = 0;
        byte[] header = new byte[RecordFormat.FrameHeaderBytes];
        byte[] body = [];
        string? problem = null;
        while (position < length)
        {
            if (length - position < header.Length || RandomAccess.Read(file.SafeFileHandle, header, position) != header.Length)
            {
                problem = $"a record header cut short at byte {position}";
                break;
            }

            int bodyLength = RecordFormat.ReadBodyLength(header, out uint crc);
            if (bodyLength < 0 || position + header.Length + bodyLength > length)
            {
                problem = $"a record cut short at byte {position}";
                break;
            }

            if (body.Length < bodyLength)
            {
                body = new byte[bodyLength];
            }

            var span = body.AsSpan(0, bodyLength);
            RandomAccess.Read(file.SafeFileHandle, span, position + header.Length);
            long id = RecordFormat.ReadId(span);
            if (Crc32C.Compute(span) != crc || id != lastId + 1)
            {
                problem = $"a record failing its checksum at byte {position}";
                break;
            }

            lastId = id;
            lastWrittenAt = RecordFormat.ReadWrittenAt(span);
            position += header.Length + bodyLength;
        }

        if (problem is not null)
        {
            if (!truncateTail)
            {
                throw new InvalidDataException($"Journal segment {segment.Path} is damaged: {problem}.");
            }

            _log($"journal: {Path.GetFileName(segment.Path)} ends with {problem} (a write cut off by a crash); discarding its last {length - position} bytes");
            file.SetLength(position);
            file.Flush(true);
        }

        segment.LastWrittenAt = lastWrittenAt;
        segment.Commit(position, lastId);
    }

    private void StartSegment(long firstId)
    {
        string path = Path.Combine(_options.Directory, JournalSegment.FileName(firstId));
        var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.None);
        try
        {
            file.Write(RecordFormat.SegmentMagic);
            file.Flush(_options.Flush);
            DirectorySync.Flush(_options.Directory);
        }
        catch
        {
            // Leave no half-made segment behind: recovery would take it for a gap in the ids.
            file.Dispose();
            File.Delete(path);
            throw;
        }

        _active?.Dispose();
        _active = file;
        lock (_gate)
        {
            _segments.Add(new JournalSegment(path, firstId));
        }
    }

    private async Task WriteLoop()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < 1024 && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            WriteBatch(batch);
            batch.Clear();

            // Housekeeping after the commit: its failures are logged and retried next time, and never touch records
            // that have been acknowledged.
            try
            {
                if (CurrentSegment().CommittedLength >= _options.SegmentBytes)
                {
                    StartSegment(_lastId + 1);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log($"journal: cannot start a new segment ({e.Message}); appending to the current one");
            }

            TryEnforceRetention();
        }
    }

    private JournalSegment CurrentSegment()
    {
        lock (_gate)
        {
            return _segments[^1];
        }
    }

    /// <summary>
    /// Writes a batch and flushes it once. Each record's JSON is built here, with its id; one whose JSON cannot be
    /// built fails alone. If the write or the flush fails, the file is cut back to the last commit, so the next batch
    /// follows the last good record (garbage in between would make recovery discard everything after it).
    /// </summary>
    private void WriteBatch(List<PendingAppend> batch)
    {
        var segment = CurrentSegment();
        long start = segment.CommittedLength;
        long id = _lastId;
        int used = 0;
        long writtenAt = 0;
        var written = new List<(PendingAppend Item, long Id, DateTimeOffset At)>(batch.Count);
        foreach (var item in batch)
        {
            var now = _options.TimeProvider.GetUtcNow();
            byte[] json;
            try
            {
                json = item.BuildJson(id + 1, now);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                item.Done.TrySetException(new InvalidOperationException($"The result could not be encoded: {e.Message}", e));
                continue;
            }

            writtenAt = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            int size = RecordFormat.Size(System.Text.Encoding.UTF8.GetByteCount(item.Tag), json.Length, item.Payload.Length);
            if (used + size > _batch.Length)
            {
                Array.Resize(ref _batch, Math.Max(_batch.Length * 2, used + size));
            }

            used += RecordFormat.Write(_batch.AsSpan(used), ++id, writtenAt, item.Tag, json, item.Payload.Span);
            written.Add((item, id, now));
        }

        if (written.Count == 0)
        {
            return;
        }

        try
        {
            _active.Position = start;
            _active.Write(_batch, 0, used);
            _active.Flush(_options.Flush);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            try
            {
                _active.SetLength(start);
                _active.Position = start;
            }
            catch (Exception cut) when (cut is not OutOfMemoryException)
            {
                _log($"journal: cannot cut back a failed write: {cut.Message}");
            }

            foreach (var (item, _, _) in written)
            {
                item.Done.TrySetException(new IOException($"The result store could not write to {_options.Directory}: {e.Message}", e));
            }

            _log($"journal: write failed: {e.Message}");
            return;
        }

        lock (_gate)
        {
            segment.LastWrittenAt = writtenAt;
            segment.Commit(start + used, id);
            _lastId = id;
            _commits++;
            var done = _committed;
            _committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            done.SetResult();
        }

        foreach (var (item, itemId, at) in written)
        {
            item.Done.TrySetResult(new JournalCommit(itemId, at));
        }
    }

    /// <summary>Retention from the writer or a timer; a failure (a card remounted read-only) is logged, not thrown.</summary>
    public void TryEnforceRetention()
    {
        try
        {
            EnforceRetention();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log($"journal: retention could not delete a segment: {e.Message}");
        }
    }

    /// <summary>Deletes whole segments, oldest first, beyond the size or age limit. The active segment always stays.</summary>
    public void EnforceRetention()
    {
        var age = _options.TimeProvider.GetUtcNow() - DateTimeOffset.UnixEpoch;
        long cutoff = _options.MaxAge >= age ? long.MinValue : (age - _options.MaxAge).Ticks / 10;
        while (true)
        {
            JournalSegment oldest;
            lock (_gate)
            {
                if (_segments.Count < 2)
                {
                    return;
                }

                long total = _segments.Sum(s => s.CommittedLength);
                oldest = _segments[0];
                if (total <= _options.MaxBytes && oldest.LastWrittenAt >= cutoff)
                {
                    return;
                }

                _segments.RemoveAt(0);
            }

            // Readers holding it open keep reading it (POSIX unlink semantics); new readers start at the next segment.
            File.Delete(oldest.Path);
            DirectorySync.Flush(_options.Directory);
            _log($"journal: retention removed ids {oldest.FirstId}..{oldest.LastId} ({Path.GetFileName(oldest.Path)})");
        }
    }

    private sealed record PendingAppend(string Tag, Func<long, DateTimeOffset, byte[]> BuildJson, ReadOnlyMemory<byte> Payload)
    {
        public TaskCompletionSource<JournalCommit> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
