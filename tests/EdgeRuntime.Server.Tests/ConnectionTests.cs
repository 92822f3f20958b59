using System.Runtime.InteropServices;
using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Server.Tests;

/// <summary>The connection loop over in-memory pipes: framing, errors, pipelining, and what closes a connection.</summary>
public sealed class ConnectionTests : IDisposable
{
    private readonly ServerHarness _harness = new(options: new ServerOptions { SocketPath = "unused", MaxFrameBytes = 64 * 1024, MaxInFlightPerConnection = 8 });

    public void Dispose() => _harness.Dispose();

    private static string InferJson(string model, string name, string dtype, long[] shape, long length) =>
        $$"""{"model":"{{model}}","inputs":[{"name":"{{name}}","dtype":"{{dtype}}","shape":[{{string.Join(",", shape)}}],"offset":0,"length":{{length}}}]}""";

    private static byte[] Floats(params float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    private async Task<InMemoryConnection> ConnectWithAddModelAsync()
    {
        var connection = new InMemoryConnection(_harness);
        var load = await connection.RequestAsync(MessageType.Load, 1, """{"name":"add","path":"add.onnx"}""");
        Assert.False(load.Header.IsError, load.Json);
        return connection;
    }

    [Fact]
    public async Task Hello_reports_the_protocol_the_board_and_the_peer()
    {
        await using var connection = new InMemoryConnection(_harness);
        var reply = await connection.RequestAsync(MessageType.Hello, 9, """{"protocolVersions":[1],"client":"test"}""");

        var hello = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), ProtocolJsonContext.Default.HelloResponse);
        Assert.Equal(MessageType.Hello, reply.Header.Type);
        Assert.True(reply.Header.IsResponse);
        Assert.Equal(9UL, reply.Header.RequestId);
        Assert.Equal(1, hello.ProtocolVersion);
        Assert.Equal(1000U, hello.Peer.Uid);
        Assert.Contains("CPUExecutionProvider", hello.Providers);
    }

    [Fact]
    public async Task Hello_from_a_client_that_speaks_only_a_future_version_is_refused()
    {
        await using var connection = new InMemoryConnection(_harness);
        var reply = await connection.RequestAsync(MessageType.Hello, 1, """{"protocolVersions":[2,3]}""");
        Assert.Equal(ErrorCodes.UnsupportedVersion, reply.Error.Code);
    }

    [Fact]
    public async Task Infer_returns_the_models_answer_with_timing()
    {
        await using var connection = await ConnectWithAddModelAsync();
        var reply = await connection.RequestAsync(MessageType.Infer, 2, InferJson("add", "x", "float32", [2, 3], 24), Floats(10, 20, 30, 40, 50, 60));

        Assert.False(reply.Header.IsError, reply.Json);
        var response = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), ProtocolJsonContext.Default.InferResponse);
        var y = Assert.Single(response.Outputs);
        Assert.Equal("y", y.Name);
        Assert.Equal([2L, 3L], y.Shape);
        Assert.Equal([11f, 22f, 33f, 44f, 55f, 66f], reply.PayloadFloats(y));
        Assert.True(response.Timing.InferenceUs > 0);
        Assert.True(response.Timing.TotalUs >= response.Timing.InferenceUs);
    }

    [Fact]
    public async Task Many_pipelined_requests_are_each_answered_once_under_their_own_id()
    {
        await using var connection = await ConnectWithAddModelAsync();
        const int count = 200;
        for (int i = 0; i < count; i++)
        {
            await connection.SendAsync(MessageType.Infer, (ulong)(1000 + i), InferJson("add", "x", "float32", [2, 3], 24), Floats(i, i, i, i, i, i));
        }

        var seen = new Dictionary<ulong, float>();
        for (int i = 0; i < count; i++)
        {
            var reply = await connection.ReceiveAsync();
            Assert.NotNull(reply);
            Assert.False(reply.Header.IsError, reply.Json);
            var response = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), ProtocolJsonContext.Default.InferResponse);
            seen.Add(reply.Header.RequestId, reply.PayloadFloats(response.Outputs[0])[0]);
        }

        // Each answer belongs to its own request: request 1000+i sent x = i, so y[0] = i + 1.
        Assert.Equal(count, seen.Count);
        foreach (var (id, y0) in seen)
        {
            Assert.Equal((float)(id - 1000) + 1, y0);
        }
    }

    [Theory]
    [InlineData("nosuch", "x", "float32", new long[] { 2, 3 }, 24, ErrorCodes.UnknownModel, "No model named 'nosuch'")]
    [InlineData("add", "input", "float32", new long[] { 2, 3 }, 24, ErrorCodes.InvalidInput, "has no input named 'input'. Its inputs are: x")]
    [InlineData("add", "x", "int64", new long[] { 2, 3 }, 48, ErrorCodes.InvalidInput, "must be float32, got int64")]
    [InlineData("add", "x", "float32", new long[] { 3, 2 }, 24, ErrorCodes.InvalidInput, "must have shape [2,3], got [3,2]")]
    [InlineData("add", "x", "float32", new long[] { 6 }, 24, ErrorCodes.InvalidInput, "must have rank 2")]
    [InlineData("add", "x", "float32", new long[] { 2, 3 }, 20, ErrorCodes.InvalidInput, "is 24 bytes, but the request says 20")]
    [InlineData("add", "x", "float16", new long[] { 2, 3 }, 12, ErrorCodes.InvalidInput, "must be float32, got float16")]
    [InlineData("add", "x", "complex", new long[] { 2, 3 }, 24, ErrorCodes.InvalidInput, "unknown dtype 'complex'")]
    public async Task Bad_inputs_get_a_typed_error_that_names_the_problem_and_the_connection_stays_open(string model, string name, string dtype, long[] shape, long length, string code, string message)
    {
        await using var connection = await ConnectWithAddModelAsync();
        var reply = await connection.RequestAsync(MessageType.Infer, 5, InferJson(model, name, dtype, shape, length), new byte[48]);

        Assert.True(reply.Header.IsError);
        Assert.Equal(5UL, reply.Header.RequestId);
        Assert.Equal(code, reply.Error.Code);
        Assert.Contains(message, reply.Error.Message, StringComparison.Ordinal);

        var health = await connection.RequestAsync(MessageType.Health, 6, "{}");
        Assert.False(health.Header.IsError);
    }

    [Fact]
    public async Task A_missing_input_is_named_with_its_expected_type_and_shape()
    {
        await using var connection = await ConnectWithAddModelAsync();
        var reply = await connection.RequestAsync(MessageType.Infer, 3, """{"model":"add","inputs":[]}""");
        Assert.Equal(ErrorCodes.InvalidInput, reply.Error.Code);
        Assert.Contains("Input 'x' (float32 [2,3]) of model 'add' is missing", reply.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tensor_outside_the_payload_is_refused()
    {
        await using var connection = await ConnectWithAddModelAsync();
        string json = """{"model":"add","inputs":[{"name":"x","dtype":"float32","shape":[2,3],"offset":8,"length":24}]}""";
        var reply = await connection.RequestAsync(MessageType.Infer, 3, json, new byte[24]);
        Assert.Equal(ErrorCodes.InvalidInput, reply.Error.Code);
        Assert.Contains("outside the 24-byte payload", reply.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x7FFF_FFFF_FFFF_FFF8L, 24L)]
    [InlineData(8L, long.MaxValue)]
    [InlineData(-8L, 24L)]
    public async Task Offsets_and_lengths_that_would_overflow_are_refused_not_dereferenced(long offset, long length)
    {
        await using var connection = await ConnectWithAddModelAsync();
        string json = $$"""{"model":"add","inputs":[{"name":"x","dtype":"float32","shape":[2,3],"offset":{{offset}},"length":{{length}}}]}""";
        var reply = await connection.RequestAsync(MessageType.Infer, 3, json, new byte[32]);
        Assert.Equal(ErrorCodes.InvalidInput, reply.Error.Code);

        var health = await connection.RequestAsync(MessageType.Health, 4, "{}");
        Assert.False(health.Header.IsError);
    }

    [Theory]
    [InlineData("corrupt.onnx", ErrorCodes.ModelLoadFailed, "ONNX Runtime could not load")]
    [InlineData("text.onnx", ErrorCodes.ModelLoadFailed, "ONNX Runtime could not load")]
    [InlineData("absent.onnx", ErrorCodes.ModelNotFound, "does not exist")]
    public async Task A_model_that_cannot_be_loaded_gets_a_clear_error_and_the_daemon_keeps_serving(string file, string code, string message)
    {
        await using var connection = await ConnectWithAddModelAsync();
        var reply = await connection.RequestAsync(MessageType.Load, 2, $$"""{"name":"bad","path":"{{file}}"}""");
        Assert.Equal(code, reply.Error.Code);
        Assert.Contains(message, reply.Error.Message, StringComparison.Ordinal);

        var infer = await connection.RequestAsync(MessageType.Infer, 3, InferJson("add", "x", "float32", [2, 3], 24), new byte[24]);
        Assert.False(infer.Header.IsError, infer.Json);
    }

    [Fact]
    public async Task Loading_a_second_model_under_a_taken_name_is_refused()
    {
        await using var connection = await ConnectWithAddModelAsync();
        var reply = await connection.RequestAsync(MessageType.Load, 2, """{"name":"add","path":"mlp.onnx"}""");
        Assert.Equal(ErrorCodes.ModelExists, reply.Error.Code);
    }

    [Fact]
    public async Task An_oversized_frame_is_refused_and_skipped_and_the_next_frame_is_served()
    {
        await using var connection = await ConnectWithAddModelAsync();
        byte[] big = new byte[200 * 1024];
        await connection.SendAsync(MessageType.Infer, 7, "{}", big);
        await connection.SendAsync(MessageType.Health, 8, "{}");

        var refused = await connection.ReceiveAsync();
        var health = await connection.ReceiveAsync();

        Assert.Equal(7UL, refused!.Header.RequestId);
        Assert.Equal(ErrorCodes.FrameTooLarge, refused.Error.Code);
        Assert.Contains("at most 65536 bytes", refused.Error.Message, StringComparison.Ordinal);
        Assert.Equal(8UL, health!.Header.RequestId);
        Assert.False(health.Header.IsError);
    }

    [Fact]
    public async Task Garbage_bytes_get_a_bad_frame_error_and_the_connection_is_closed()
    {
        await using var connection = new InMemoryConnection(_harness);
        await connection.SendRawAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: edged\r\n\r\n"));

        var reply = await connection.ReceiveAsync();
        Assert.Equal(ErrorCodes.BadFrame, reply!.Error.Code);
        Assert.Null(await connection.ReceiveAsync());
        await connection.Running.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Malformed_json_is_a_bad_request_not_a_broken_connection()
    {
        await using var connection = new InMemoryConnection(_harness);
        var reply = await connection.RequestAsync(MessageType.Load, 1, "{\"name\": ");
        Assert.Equal(ErrorCodes.BadRequest, reply.Error.Code);
        var models = await connection.RequestAsync(MessageType.Models, 2, "{}");
        Assert.False(models.Header.IsError);
    }

    [Fact]
    public async Task An_unknown_message_type_is_answered_with_unknown_message()
    {
        await using var connection = new InMemoryConnection(_harness);
        var reply = await connection.RequestAsync((MessageType)77, 1, "{}");
        Assert.Equal(ErrorCodes.UnknownMessage, reply.Error.Code);
    }

    [Fact]
    public async Task A_client_that_vanishes_mid_frame_ends_the_connection_quietly()
    {
        var connection = new InMemoryConnection(_harness);
        byte[] frame = new byte[FrameHeader.Size + 100];
        new FrameHeader(MessageType.Infer, FrameFlags.None, 1, 50, 50).Write(frame);
        await connection.SendRawAsync(frame[..60]);
        await connection.ClientOutput.CompleteAsync();

        await connection.Running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(connection.Running.IsCompletedSuccessfully);
        Assert.Equal(0, _harness.Metrics.InFlight);
    }

    [Fact]
    public async Task Stats_count_requests_and_errors_per_model()
    {
        await using var connection = await ConnectWithAddModelAsync();
        for (int i = 0; i < 5; i++)
        {
            await connection.RequestAsync(MessageType.Infer, (ulong)(10 + i), InferJson("add", "x", "float32", [2, 3], 24), new byte[24]);
        }

        await connection.RequestAsync(MessageType.Infer, 20, InferJson("add", "x", "int64", [2, 3], 48), new byte[48]);
        var reply = await connection.RequestAsync(MessageType.Stats, 21, "{}");
        var stats = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), ProtocolJsonContext.Default.StatsResponse);

        var add = Assert.Single(stats.Models);
        Assert.Equal(5, add.Count);
        Assert.Equal(1, add.Errors);
        Assert.True(add.P50Us > 0 && add.P99Us >= add.P50Us);
    }

    [Fact]
    public async Task Info_describes_dynamic_dimensions_by_name()
    {
        await using var connection = new InMemoryConnection(_harness);
        await connection.RequestAsync(MessageType.Load, 1, """{"name":"mlp","path":"mlp.onnx"}""");
        var reply = await connection.RequestAsync(MessageType.Info, 2, """{"name":"mlp"}""");
        var info = ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(reply.Json), ProtocolJsonContext.Default.ModelInfo);

        var x = Assert.Single(info.Inputs);
        Assert.Equal([-1L, 64L], x.Shape);
        Assert.Equal("N", x.SymbolicShape[0]);
        Assert.Equal(["CPUExecutionProvider"], info.Providers);
    }
}
