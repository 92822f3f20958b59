using System.Buffers;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>Random and mutated bytes: the parser must never throw, never over-read, and agree across segmentations.</summary>
public sealed class FrameReaderFuzzTests
{
    [Fact]
    public void Random_and_mutated_input_never_throws_and_segmentation_never_changes_the_answer()
    {
        var random = new Random(20261126);
        var valid = new ArrayBufferWriter<byte>();
        FrameWriter.Write(valid, MessageType.Infer, FrameFlags.None, 3, "{\"model\":\"m\"}"u8, new byte[40]);
        byte[] template = valid.WrittenSpan.ToArray();

        for (int iteration = 0; iteration < 5000; iteration++)
        {
            byte[] bytes;
            if (iteration % 2 == 0)
            {
                // A valid frame with a few bytes flipped, truncated or extended.
                bytes = [.. template, .. new byte[random.Next(0, 8)]];
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                bytes = bytes[..random.Next(bytes.Length + 1)];
            }
            else
            {
                bytes = new byte[random.Next(0, 120)];
                random.NextBytes(bytes);
            }

            long limit = random.Next(0, 2) == 0 ? 1 << 20 : random.Next(24, 200);
            var whole = new ReadOnlySequence<byte>(bytes);
            var expected = FrameReader.TryReadFrame(ref whole, limit, out var frame, out _);
            long expectedLeft = whole.Length;

            var split = SegmentedBuffers.Chunked(bytes, random.Next(1, 9));
            var actual = FrameReader.TryReadFrame(ref split, limit, out var splitFrame, out _);

            Assert.Equal(expected, actual);
            Assert.Equal(expectedLeft, split.Length);
            if (expected == FrameStatus.Complete)
            {
                Assert.Equal(frame.Header, splitFrame.Header);
                Assert.Equal(frame.Payload.ToArray(), splitFrame.Payload.ToArray());
                Assert.True(frame.Header.FrameLength <= bytes.Length && frame.Header.FrameLength <= limit);
            }
            else
            {
                Assert.Equal(bytes.Length, expectedLeft);
            }
        }
    }
}
