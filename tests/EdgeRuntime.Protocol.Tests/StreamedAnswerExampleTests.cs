using System.Buffers;
using System.Globalization;
using System.Text.RegularExpressions;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>
/// docs/protocol.md's byte dumps of a streamed answer ("On the wire: a short streamed answer"), decoded with
/// <see cref="FrameReader"/>: each is one whole frame with the header the text says, and its JSON is exactly what this
/// code writes for the same record, so the page and the code cannot drift apart.
/// </summary>
public sealed partial class StreamedAnswerExampleTests
{
    private static readonly byte[][] Dumps = ReadDumps();

    [Fact]
    public void The_page_holds_the_request_two_tokens_and_the_final_frame()
    {
        Assert.Equal([112, 75, 69, 284], Dumps.Select(d => d.Length));
    }

    [Fact]
    public void The_request_decodes_to_a_generate_that_keeps_its_session()
    {
        var (header, json) = Decode(Dumps[0]);
        Assert.Equal(new FrameHeader(MessageType.Generate, FrameFlags.None, 9, 88, 0), header);

        var request = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.GenerateRequest);
        Assert.Equal("bitnet", request.Model);
        Assert.Equal([new ChatMessage("user", "Hi")], request.Messages!);
        Assert.True(request.Keep);
        Assert.Equal(2, request.MaxTokens);
        Assert.Equal(json, ProtocolJson.Serialize(request, ProtocolJsonContext.Default.GenerateRequest));
    }

    [Fact]
    public void The_tokens_decode_as_responses_under_the_generates_request_id()
    {
        TokenEvent[] expected = [new(0, 9906, "Hello", 91234.5), new(1, 0, "!", 152010.7)];
        for (int i = 0; i < expected.Length; i++)
        {
            var (header, json) = Decode(Dumps[1 + i]);
            Assert.Equal((MessageType.Token, FrameFlags.Response, 9UL, 0), (header.Type, header.Flags, header.RequestId, header.PayloadLength));
            var token = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.TokenEvent);
            Assert.Equal(expected[i], token);
            Assert.Equal(json, ProtocolJson.Serialize(token, ProtocolJsonContext.Default.TokenEvent));
        }
    }

    [Fact]
    public void The_final_frame_decodes_to_the_summary_the_text_describes()
    {
        var (header, json) = Decode(Dumps[3]);
        Assert.Equal(new FrameHeader(MessageType.Generate, FrameFlags.Response, 9, 260, 0), header);

        var summary = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.GenerateResponse);
        Assert.Equal(new GenerateResponse("bitnet", StopReasons.MaxTokens, 12, 2, 91.2, 131.6, 16.4, 152.3) { Session = "9c1e0a4b", CachedTokens = 0, ContextUsed = 14, ContextLength = 4096 }, summary);
        Assert.Equal(json, ProtocolJson.Serialize(summary, ProtocolJsonContext.Default.GenerateResponse));
    }

    [Fact]
    public void The_answer_read_as_one_stream_gives_three_frames_in_order()
    {
        var stream = new ReadOnlySequence<byte>([.. Dumps[1], .. Dumps[2], .. Dumps[3]]);
        var types = new List<MessageType>();
        while (FrameReader.TryReadFrame(ref stream, 1 << 20, out var frame, out _) == FrameStatus.Complete)
        {
            types.Add(frame.Header.Type);
        }

        Assert.Equal([MessageType.Token, MessageType.Token, MessageType.Generate], types);
        Assert.True(stream.IsEmpty);
    }

    private static (FrameHeader Header, byte[] Json) Decode(byte[] bytes)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(FrameStatus.Complete, FrameReader.TryReadFrame(ref buffer, 1 << 20, out var frame, out _));
        Assert.True(buffer.IsEmpty, "one dump, one frame: no bytes left over");
        Assert.True(frame.Payload.IsEmpty);
        return (frame.Header, frame.Json.ToArray());
    }

    /// <summary>The dumps' bytes, one array per code block, checking each line's offset as it goes.</summary>
    private static byte[][] ReadDumps()
    {
        string page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "protocol.md"));
        int start = page.IndexOf("#### On the wire: a short streamed answer", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/protocol.md has no section 'On the wire: a short streamed answer'");
        int end = page.IndexOf("\n### ", start, StringComparison.Ordinal);
        string section = page[start..end];

        var dumps = new List<byte[]>();
        foreach (Match block in CodeBlock().Matches(section))
        {
            var bytes = new List<byte>();
            foreach (string line in block.Groups[1].Value.Split('\n'))
            {
                var row = DumpLine().Match(line);
                if (!row.Success)
                {
                    continue;
                }

                Assert.Equal(bytes.Count, int.Parse(row.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                bytes.AddRange(Convert.FromHexString(row.Groups[2].Value.Replace(" ", "", StringComparison.Ordinal)));
            }

            dumps.Add([.. bytes]);
        }

        return [.. dumps];
    }

    [GeneratedRegex(@"```\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ?)+)")]
    private static partial Regex DumpLine();
}
