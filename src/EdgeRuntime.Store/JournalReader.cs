using Microsoft.Win32.SafeHandles;

namespace EdgeRuntime.Store;

/// <summary>
/// Reads records in id order from a starting point, never past what is durable. Not thread-safe: one per subscriber.
/// A subscriber that falls behind costs nothing but its position; the journal holds the records, not a queue.
/// </summary>
public sealed class JournalReader : IDisposable
{
    private readonly ResultJournal _journal;
    private readonly byte[] _header = new byte[RecordFormat.FrameHeaderBytes];
    private JournalSegment? _segment;
    private SafeFileHandle? _file;
    private long _position;
    private byte[] _body = new byte[4096];

    internal JournalReader(ResultJournal journal, long afterId)
    {
        _journal = journal;
        NextId = afterId + 1;
    }

    /// <summary>The id the next record read will have (or a later one, when retention removed it meanwhile).</summary>
    public long NextId { get; private set; }

    /// <summary>Reads the next durable record, or returns false when the reader has caught up.</summary>
    public bool TryRead(out JournalRecord record)
    {
        while (true)
        {
            if (_segment is null || NextId > _segment.LastId)
            {
                if (!Advance())
                {
                    record = null!;
                    return false;
                }
            }

            if (_position + _header.Length > _segment!.CommittedLength)
            {
                record = null!;
                return false;
            }

            if (RandomAccess.Read(_file!, _header, _position) != _header.Length)
            {
                throw new InvalidDataException($"Journal segment {_segment.Path} is shorter than its committed length.");
            }

            int bodyLength = RecordFormat.ReadBodyLength(_header, out uint crc);
            if (bodyLength < 0 || _position + _header.Length + bodyLength > _segment.CommittedLength)
            {
                throw new InvalidDataException($"Journal segment {_segment.Path} has a bad record header at byte {_position}.");
            }

            if (_body.Length < bodyLength)
            {
                _body = new byte[Math.Max(bodyLength, _body.Length * 2)];
            }

            var body = _body.AsSpan(0, bodyLength);
            if (RandomAccess.Read(_file!, body, _position + _header.Length) != bodyLength)
            {
                throw new InvalidDataException($"Journal segment {_segment.Path} is shorter than its committed length.");
            }

            if (Crc32C.Compute(body) != crc)
            {
                throw new InvalidDataException($"Journal segment {_segment.Path} has a record failing its checksum at byte {_position}.");
            }

            _position += _header.Length + bodyLength;
            long id = RecordFormat.ReadId(body);
            if (id < NextId)
            {
                continue; // seeking forward inside the segment to the first wanted id
            }

            record = RecordFormat.Decode(body) ?? throw new InvalidDataException($"Journal segment {_segment.Path} has a malformed record {id}.");
            NextId = id + 1;
            return true;
        }
    }

    /// <summary>Moves to the segment holding NextId (or the oldest retained one, if NextId is gone).</summary>
    private bool Advance()
    {
        var segment = _journal.FindSegment(NextId);
        if (segment is null || ReferenceEquals(segment, _segment))
        {
            // Ids up to LastId exist but no segment holds NextId: retention removed them. Skip to what is kept, or a
            // caller waiting for "a commit after NextId - 1" would be woken at once, forever.
            long oldest = _journal.OldestSegmentFirstId;
            if (NextId < oldest)
            {
                NextId = oldest;
            }

            return false;
        }

        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false; // deleted by retention between the lookup and the open; the next call moves past it
        }

        _file?.Dispose();
        _file = file;
        _segment = segment;
        _position = RecordFormat.SegmentMagic.Length;
        if (NextId < segment.FirstId)
        {
            NextId = segment.FirstId; // removed by retention before this reader got to it
        }

        return true;
    }

    public void Dispose() => _file?.Dispose();
}
