using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Client.Tests;

/// <summary>How the client lays tensors into an infer request and reads them back out of the response payload.</summary>
public sealed class InferTensorTests
{
    [Fact]
    public async Task Output_tensors_are_decoded_with_their_name_dtype_shape_and_values_from_their_payload_offsets()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.InferAsync("detector", [Tensor.Float32("x", [1], [0f])]);
        var request = await server.ReadAsync();

        // Outputs deliberately not in payload order, with padding filled with 0xEE rather than zeros, so reading
        // from the wrong offset or the wrong length yields visibly wrong values.
        byte[] payload = [.. Enumerable.Repeat((byte)0xEE, 48)];
        Wire.Bytes(7L, -3L).CopyTo(payload, 0);                 // labels: int64 [2] at 0
        Wire.Bytes(0.25f, 0.5f, -1.5f, 8f).CopyTo(payload, 16);  // scores: float32 [2,2] at 16
        payload[32] = 1;                                         // present: bool [] (a scalar) at 32
        Wire.Bytes<byte>(9, 0, 255).CopyTo(payload, 40);         // mask: uint8 [3] at 40
        await server.ReplyAsync(request, """
            {"model":"detector","outputs":[
              {"name":"scores","dtype":"float32","shape":[2,2],"offset":16,"length":16},
              {"name":"labels","dtype":"int64","shape":[2],"offset":0,"length":16},
              {"name":"present","dtype":"bool","shape":[],"offset":32,"length":1},
              {"name":"mask","dtype":"uint8","shape":[3],"offset":40,"length":3}],
             "timing":{"queuedUs":0.3,"inferenceUs":149.7,"totalUs":524.5}}
            """, payload);

        var result = await call.WaitAsync(ScriptedServer.Patience);
        Assert.Equal(["scores", "labels", "present", "mask"], result.Outputs.Select(o => o.Name));

        var scores = result["scores"];
        Assert.Equal(TensorDType.Float32, scores.DType);
        Assert.Equal([2L, 2L], scores.Shape);
        Assert.Equal([0.25f, 0.5f, -1.5f, 8f], scores.ToArray<float>());

        var labels = result["labels"];
        Assert.Equal(TensorDType.Int64, labels.DType);
        Assert.Equal([7L, -3L], labels.ToArray<long>());

        var present = result["present"];
        Assert.Equal(TensorDType.Bool, present.DType);
        Assert.Empty(present.Shape);
        Assert.Equal([(byte)1], present.Data.ToArray());

        var mask = result["mask"];
        Assert.Equal(TensorDType.UInt8, mask.DType);
        Assert.Equal([(byte)9, (byte)0, (byte)255], mask.Data.ToArray());

        Assert.Equal(new InferTiming(0.3, 149.7, 524.5), result.Timing);
        Assert.True(result.RoundTrip > TimeSpan.Zero);
        var missing = Assert.Throws<KeyNotFoundException>(() => result["boxes"]);
        Assert.Contains("scores, labels, present, mask", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inputs_travel_at_8_byte_aligned_offsets_with_zero_padding_exactly_as_the_request_describes()
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        Tensor[] inputs =
        [
            Tensor.Float32("audio", [3], [1f, 2f, 3f]),            // 12 bytes: the next input starts at 16
            Tensor.Int64("ids", [2], [long.MaxValue, -1L]),         // 16 bytes at 16
            Tensor.FromSpan<byte>("flag", TensorDType.Bool, [], [1]), // 1 byte at 32
        ];
        _ = client.InferAsync("kws", inputs, outputs: ["logits"]);
        var request = await server.ReadAsync();

        Assert.Equal(MessageType.Infer, request.Header.Type);
        var infer = ProtocolJson.Deserialize(request.Json, ProtocolJsonContext.Default.InferRequest);
        Assert.Equal("kws", infer.Model);
        Assert.Equal(["logits"], infer.Outputs!);
        Assert.Equal(["audio", "ids", "flag"], infer.Inputs.Select(d => d.Name));
        Assert.Equal(["float32", "int64", "bool"], infer.Inputs.Select(d => d.Dtype));
        Assert.Equal([0L, 16L, 32L], infer.Inputs.Select(d => d.Offset));
        Assert.Equal([12L, 16L, 1L], infer.Inputs.Select(d => d.Length));
        Assert.Equal(33, request.Payload.Length);

        for (int i = 0; i < inputs.Length; i++)
        {
            var d = infer.Inputs[i];
            Assert.Equal(inputs[i].Shape, d.Shape);
            Assert.Equal(inputs[i].Data.ToArray(), request.Payload[(int)d.Offset..(int)(d.Offset + d.Length)]);
        }

        Assert.All(request.Payload[12..16], b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData("""{"name":"y","dtype":"float32","shape":[4],"offset":8,"length":16}""")]   // runs past the 16-byte payload
    [InlineData("""{"name":"y","dtype":"float32","shape":[4],"offset":-8,"length":16}""")]  // before the payload
    [InlineData("""{"name":"y","dtype":"complex64","shape":[2],"offset":0,"length":16}""")] // a dtype the protocol lacks
    [InlineData("""{"name":"y","dtype":"float32","shape":[2,3],"offset":0,"length":16}""")] // 6 floats need 24 bytes
    public async Task An_output_described_inconsistently_is_refused_with_bad_frame_and_the_connection_stays_usable(string descriptor)
    {
        await using var server = new ScriptedServer();
        await using var client = await server.ConnectClientAsync();

        var call = client.InferAsync("m", [Tensor.Float32("x", [1], [0f])]);
        var request = await server.ReadAsync();
        await server.ReplyAsync(request, $$$"""{"model":"m","outputs":[{{{descriptor}}}],"timing":{"queuedUs":0,"inferenceUs":0,"totalUs":0}}""", new byte[16]);

        var error = await Assert.ThrowsAsync<EdgeRuntimeException>(() => call.WaitAsync(ScriptedServer.Patience));
        Assert.Equal(ErrorCodes.BadFrame, error.Code);
        Assert.Contains("'y'", error.Message, StringComparison.Ordinal);

        // The frame itself was whole: the next request on the same connection is answered normally.
        var next = client.UnloadAsync("m");
        await server.ReplyAsync(await server.ReadAsync(), """{"name":"m","unloaded":true}""");
        Assert.True((await next.WaitAsync(ScriptedServer.Patience)).Unloaded);
    }
}
