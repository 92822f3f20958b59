using System.Buffers;
using System.Text;

namespace EdgeRuntime.Protocol.Tests;

public sealed class FrameReaderTests
{
    private const long Limit = 1 << 20;

    public static TheoryData<int> Chunkings => new() { 0, 1, 2, 7, 24, 25, 4096 };

    private static byte[] MakeFrame(MessageType type, ulong id, string json, byte[] payload)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.Write(writer, type, FrameFlags.None, id, Encoding.UTF8.GetBytes(json), payload);
        return writer.WrittenSpan.ToArray();
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes, int chunk) =>
        chunk == 0 ? SegmentedBuffers.Single(bytes) : SegmentedBuffers.Chunked(bytes, chunk);

    [Theory]
    [MemberData(nameof(Chunkings))]
    public void Reads_a_whole_frame_from_any_segmentation(int chunk)
    {
        byte[] payload = [.. Enumerable.Range(0, 300).Select(i => (byte)i)];
        byte[] bytes = MakeFrame(MessageType.Infer, 42, """{"model":"m"}""", payload);
        var buffer = Split(bytes, chunk);

        var status = FrameReader.TryReadFrame(ref buffer, Limit, out var frame, out var header);

        Assert.Equal(FrameStatus.Complete, status);
        Assert.Equal(MessageType.Infer, header.Type);
        Assert.Equal(42UL, header.RequestId);
        Assert.Equal("""{"model":"m"}""", Encoding.UTF8.GetString(frame.Json.ToArray()));
        Assert.Equal(payload, frame.Payload.ToArray());
        Assert.Equal(0, buffer.Length);
    }

    [Theory]
    [MemberData(nameof(Chunkings))]
    public void Reports_incomplete_for_every_proper_prefix_and_consumes_nothing(int chunk)
    {
        byte[] bytes = MakeFrame(MessageType.Hello, 1, "{}", [1, 2, 3]);
        for (int length = 0; length < bytes.Length; length++)
        {
            var buffer = Split(bytes[..length], chunk);
            var status = FrameReader.TryReadFrame(ref buffer, Limit, out _, out _);
            Assert.Equal(FrameStatus.Incomplete, status);
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void Fed_byte_at_a_time_like_a_slow_socket_yields_each_frame_once_it_is_whole()
    {
        byte[] first = MakeFrame(MessageType.Models, 1, "{}", []);
        byte[] second = MakeFrame(MessageType.Infer, 2, "{}", [9, 8, 7, 6, 5]);
        byte[] stream = [.. first, .. second];
        var received = new List<ulong>();
        int consumed = 0;
        for (int end = 1; end <= stream.Length; end++)
        {
            var buffer = SegmentedBuffers.Chunked(stream[consumed..end], 1);
            while (FrameReader.TryReadFrame(ref buffer, Limit, out var frame, out _) == FrameStatus.Complete)
            {
                received.Add(frame.Header.RequestId);
            }

            consumed = end - (int)buffer.Length;
            if (received.Count == 1)
            {
                Assert.True(end >= first.Length, "frame 1 must not complete early");
            }
        }

        Assert.Equal([1UL, 2UL], received);
        Assert.Equal(stream.Length, consumed);
    }

    [Fact]
    public void Reads_back_to_back_frames_in_one_buffer()
    {
        byte[] bytes = [.. MakeFrame(MessageType.Stats, 7, "{}", []), .. MakeFrame(MessageType.Health, 8, "{}", [1])];
        var buffer = SegmentedBuffers.Chunked(bytes, 5);

        Assert.Equal(FrameStatus.Complete, FrameReader.TryReadFrame(ref buffer, Limit, out var a, out _));
        Assert.Equal(FrameStatus.Complete, FrameReader.TryReadFrame(ref buffer, Limit, out var b, out _));
        Assert.Equal(FrameStatus.Incomplete, FrameReader.TryReadFrame(ref buffer, Limit, out _, out _));
        Assert.Equal((7UL, MessageType.Stats), (a.Header.RequestId, a.Header.Type));
        Assert.Equal((8UL, MessageType.Health), (b.Header.RequestId, b.Header.Type));
    }

    [Fact]
    public void Refuses_an_oversized_frame_from_its_header_alone()
    {
        // Only the 24 header bytes have arrived; the 10 MB payload has not.
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Infer, FrameFlags.None, 5, 10, 10_000_000).Write(header);
        var buffer = SegmentedBuffers.Single(header);

        var status = FrameReader.TryReadFrame(ref buffer, Limit, out _, out var parsed);

        Assert.Equal(FrameStatus.TooLarge, status);
        Assert.Equal(5UL, parsed.RequestId);
        Assert.Equal(FrameHeader.Size + 10 + 10_000_000L, parsed.FrameLength);
        Assert.Equal(FrameHeader.Size, buffer.Length);
    }

    [Fact]
    public void A_frame_exactly_at_the_limit_is_accepted()
    {
        byte[] bytes = MakeFrame(MessageType.Infer, 1, "{}", new byte[100]);
        var buffer = SegmentedBuffers.Single(bytes);
        Assert.Equal(FrameStatus.Complete, FrameReader.TryReadFrame(ref buffer, bytes.Length, out _, out _));

        buffer = SegmentedBuffers.Single(bytes);
        Assert.Equal(FrameStatus.TooLarge, FrameReader.TryReadFrame(ref buffer, bytes.Length - 1, out _, out _));
    }

    [Fact]
    public void Lengths_above_two_gigabytes_are_malformed_not_an_overflow()
    {
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Infer, FrameFlags.None, 1, 0, 0).Write(header);
        header.AsSpan(16, 8).Fill(0xFF);
        var buffer = SegmentedBuffers.Single(header);
        Assert.Equal(FrameStatus.Malformed, FrameReader.TryReadFrame(ref buffer, long.MaxValue, out _, out _));
    }

    [Fact]
    public void Garbage_is_reported_as_bad_magic()
    {
        byte[] garbage = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        var buffer = SegmentedBuffers.Single(garbage);
        Assert.Equal(FrameStatus.BadMagic, FrameReader.TryReadFrame(ref buffer, Limit, out _, out _));
    }

    [Fact]
    public void Another_protocol_version_is_reported()
    {
        byte[] bytes = MakeFrame(MessageType.Hello, 1, "{}", []);
        bytes[4] = 2;
        var buffer = SegmentedBuffers.Single(bytes);
        Assert.Equal(FrameStatus.UnsupportedVersion, FrameReader.TryReadFrame(ref buffer, Limit, out _, out _));
    }

    [Fact]
    public void Header_layout_matches_the_specification_byte_for_byte()
    {
        byte[] bytes = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Infer, FrameFlags.Response, 0x0102030405060708, 0x11, 0x22).Write(bytes);

        byte[] expected =
        [
            0x45, 0x44, 0x47, 0x52,                         // "EDGR"
            0x01,                                           // version
            0x06,                                           // type: infer
            0x01, 0x00,                                     // flags: response
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // request id
            0x11, 0x00, 0x00, 0x00,                         // JSON length
            0x22, 0x00, 0x00, 0x00,                         // payload length
        ];
        Assert.Equal(expected, bytes);
    }
}
