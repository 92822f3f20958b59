using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace EdgeRuntime.Store.Tests;

public sealed class ResultJournalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("journal-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ResultJournal Open(long segmentBytes = 4096, long maxBytes = 1 << 30, TimeSpan? maxAge = null, List<string>? log = null, bool flush = true, TimeProvider? time = null) =>
        ResultJournal.Open(new JournalOptions(_dir) { SegmentBytes = segmentBytes, MaxBytes = maxBytes, MaxAge = maxAge ?? TimeSpan.FromDays(1), Flush = flush, TimeProvider = time ?? TimeProvider.System }, m => log?.Add(m));

    private static Task<JournalCommit> Append(ResultJournal journal, string tag, int n) =>
        journal.AppendAsync(tag, (id, at) => Encoding.UTF8.GetBytes($"{{\"id\":{id},\"n\":{n}}}"), new byte[] { (byte)n, (byte)(n >> 8), 7 }).AsTask();

    private static List<JournalRecord> ReadAll(ResultJournal journal, long after = 0)
    {
        using var reader = journal.OpenReader(after);
        var records = new List<JournalRecord>();
        while (reader.TryRead(out var r))
        {
            records.Add(r);
        }

        return records;
    }

    [Fact]
    public async Task Records_come_back_in_id_order_with_their_tag_json_and_payload()
    {
        using var journal = Open(segmentBytes: 1024);
        for (int i = 0; i < 50; i++)
        {
            var commit = await Append(journal, i % 2 == 0 ? "even" : "odd", i);
            Assert.Equal(i + 1, commit.Id);
        }

        var records = ReadAll(journal);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), records.Select(r => r.Id));
        Assert.Equal("odd", records[1].Tag);
        Assert.Equal("{\"id\":2,\"n\":1}", Encoding.UTF8.GetString(records[1].Json));
        Assert.Equal(new byte[] { 1, 0, 7 }, records[1].Payload);
        Assert.True(journal.SegmentCount > 1, "1 KiB segments should have rotated");
        Assert.Equal(1, journal.FirstId);
        Assert.Equal(50, journal.LastId);
    }

    [Fact]
    public async Task A_reader_starts_after_the_given_id_across_segments()
    {
        using var journal = Open(segmentBytes: 512);
        for (int i = 0; i < 40; i++)
        {
            await Append(journal, "t", i);
        }

        Assert.Equal(Enumerable.Range(18, 23).Select(i => (long)i), ReadAll(journal, after: 17).Select(r => r.Id));
        Assert.Empty(ReadAll(journal, after: 40));
    }

    [Fact]
    public async Task Concurrent_appends_get_unique_gapless_ids_and_all_are_durable()
    {
        using (var journal = Open())
        {
            var tasks = Enumerable.Range(0, 400).Select(i => Task.Run(() => Append(journal, "c", i))).ToArray();
            var commits = await Task.WhenAll(tasks);
            Assert.Equal(Enumerable.Range(1, 400).Select(i => (long)i), commits.Select(c => c.Id).Order());
            Assert.True(journal.Commits < 400, $"group commit should batch concurrent appends; {journal.Commits} flushes for 400 appends");
        }

        using var reopened = Open();
        var records = ReadAll(reopened);
        Assert.Equal(400, records.Count);
        Assert.Equal(Enumerable.Range(0, 400), records.Select(r => r.Payload[0] | (r.Payload[1] << 8)).Order());
    }

    [Fact]
    public async Task A_torn_tail_is_cut_at_open_and_ids_continue_after_the_last_good_record()
    {
        using (var journal = Open(segmentBytes: 1 << 20))
        {
            for (int i = 0; i < 10; i++)
            {
                await Append(journal, "t", i);
            }
        }

        string segment = Directory.GetFiles(_dir, "*.journal").Single();
        long goodLength = new FileInfo(segment).Length;
        // A crash in the middle of writing record 11: its header promises more bytes than reached the disk.
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(BitConverter.GetBytes(100));
            file.Write(BitConverter.GetBytes(0xDEADBEEF));
            file.Write(new byte[30]);
        }

        var log = new List<string>();
        using var reopened = Open(segmentBytes: 1 << 20, log: log);
        Assert.Equal(10, reopened.LastId);
        Assert.Equal(goodLength, new FileInfo(segment).Length);
        Assert.Contains(log, m => m.Contains("cut short", StringComparison.Ordinal));
        Assert.Equal(11, (await Append(reopened, "t", 99)).Id);
        Assert.Equal(11, ReadAll(reopened).Count);
    }

    [Fact]
    public async Task A_tail_record_with_a_bad_checksum_is_discarded()
    {
        using (var journal = Open(segmentBytes: 1 << 20))
        {
            for (int i = 0; i < 3; i++)
            {
                await Append(journal, "t", i);
            }
        }

        string segment = Directory.GetFiles(_dir, "*.journal").Single();
        byte[] bytes = File.ReadAllBytes(segment);
        bytes[^2] ^= 0xFF; // flip a payload byte of record 3
        File.WriteAllBytes(segment, bytes);

        using var reopened = Open(segmentBytes: 1 << 20);
        Assert.Equal(2, reopened.LastId);
        Assert.Equal([1L, 2L], ReadAll(reopened).Select(r => r.Id));
    }

    [Fact]
    public async Task Size_retention_removes_the_oldest_segments_and_readers_skip_to_what_is_left()
    {
        using var journal = Open(segmentBytes: 1024, maxBytes: 4096);
        for (int i = 0; i < 200; i++)
        {
            await Append(journal, "t", i);
        }

        Assert.True(journal.Bytes <= 4096 + 1024, $"{journal.Bytes} bytes kept");
        Assert.True(journal.FirstId > 1);
        var records = ReadAll(journal, after: 0);
        Assert.Equal(journal.FirstId, records[0].Id);
        Assert.Equal(200, records[^1].Id);
        Assert.Equal(records.Count, records.Select(r => r.Id).Distinct().Count());
    }

    [Fact]
    public async Task Age_retention_removes_segments_whose_newest_record_is_too_old()
    {
        // The journal's clock is a fake one: records are stamped and aged by it, so ages are exact and nothing waits.
        var clock = new FakeTimeProvider();
        using var journal = Open(segmentBytes: 512, maxAge: TimeSpan.FromMinutes(10), time: clock);
        for (int i = 0; i < 30; i++)
        {
            await Append(journal, "old", i);
        }

        long lastOld = journal.LastId;
        int oldSegments = journal.SegmentCount;
        Assert.True(oldSegments > 2, $"{oldSegments} segments");
        clock.Advance(TimeSpan.FromMinutes(5));
        var newAt = clock.GetUtcNow();
        for (int i = 0; i < 30; i++)
        {
            await Append(journal, "new", i); // retention runs after each commit too: five minutes is within the age
        }

        Assert.Equal(1, journal.FirstId);

        clock.Advance(TimeSpan.FromMinutes(5)); // the old records are exactly the maximum age: still kept
        journal.EnforceRetention();
        Assert.Equal(1, journal.FirstId);

        clock.Advance(TimeSpan.FromMilliseconds(1)); // now older than it
        journal.EnforceRetention();
        var kept = ReadAll(journal);
        // Segments holding only old records are gone; the one where the new records began keeps its old ones.
        Assert.InRange(journal.FirstId, 2, lastOld + 1);
        Assert.Equal(30, kept.Count(r => r.Tag == "new"));
        Assert.All(kept.Where(r => r.Tag == "new"), r => Assert.Equal(newAt, r.WrittenAt)); // stamped by the journal's clock
        Assert.InRange(kept.Count(r => r.Tag == "old"), 0, 29);
        Assert.Equal(journal.FirstId, kept[0].Id);

        clock.Advance(TimeSpan.FromMinutes(5)); // and now the new records are too old as well
        journal.EnforceRetention();
        Assert.Equal(1, journal.SegmentCount); // the active segment always stays
    }

    [Fact]
    public async Task WaitForCommit_wakes_when_a_newer_record_is_durable()
    {
        using var journal = Open();
        await Append(journal, "t", 1);
        Assert.True(journal.WaitForCommitAsync(0, default).IsCompleted);
        var wait = journal.WaitForCommitAsync(1, default);
        Assert.False(wait.IsCompleted);
        await Append(journal, "t", 2);
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Crc32C_matches_the_standard_check_value_on_every_path()
    {
        byte[] check = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, Crc32C.Compute(check));
        Assert.Equal(0xE3069283u, ~Crc32C.AppendScalar(~0u, check));
        byte[] data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 31)).ToArray();
        Assert.Equal(~Crc32C.AppendScalar(~0u, data), Crc32C.Compute(data));
    }

    [Fact]
    public void A_second_writer_on_the_same_folder_is_refused()
    {
        using var first = Open();
        var error = Assert.Throws<IOException>(() => Open());
        Assert.Contains("in use by another process", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_result_whose_json_cannot_be_built_fails_alone_and_the_rest_of_its_batch_is_stored()
    {
        using var journal = Open();
        var tasks = new List<Task<JournalCommit>>();
        for (int i = 0; i < 20; i++)
        {
            int n = i;
            tasks.Add(journal.AppendAsync("t", (id, _) => n == 7 ? throw new InvalidOperationException("NaN") : Encoding.UTF8.GetBytes($"{{\"id\":{id}}}"), new byte[] { 1 }).AsTask());
        }

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => tasks[7]);
        Assert.Contains("could not be encoded", failed.Message, StringComparison.Ordinal);
        var stored = tasks.Where((_, i) => i != 7).Select(t => t.Result.Id).Order().ToArray();
        Assert.Equal(Enumerable.Range(1, 19).Select(i => (long)i), stored);
        Assert.Equal(stored, ReadAll(journal).Select(r => r.Id));
    }

    [Fact]
    public async Task A_reader_behind_removed_segments_skips_to_what_is_kept_even_when_only_an_empty_segment_is_left()
    {
        var clock = new FakeTimeProvider();
        using var journal = Open(segmentBytes: 16, maxAge: TimeSpan.FromMilliseconds(200), time: clock); // every commit starts a new segment
        for (int i = 0; i < 10; i++)
        {
            await Append(journal, "t", i);
        }

        Assert.True(journal.SegmentCount >= 10, $"{journal.SegmentCount} segments, ids {journal.FirstId}..{journal.LastId}");
        clock.Advance(TimeSpan.FromMilliseconds(300));
        journal.EnforceRetention();
        // Age retention leaves only the segment being written, which may be empty.
        using var reader = journal.OpenReader(0);
        while (reader.TryRead(out _))
        {
        }

        Assert.Equal(journal.LastId + 1, reader.NextId);
        Assert.False(journal.WaitForCommitAsync(reader.NextId - 1, default).IsCompleted, "a caught-up reader must wait, not spin");
    }
}
