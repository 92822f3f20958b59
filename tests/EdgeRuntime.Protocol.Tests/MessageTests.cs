using System.Text;

namespace EdgeRuntime.Protocol.Tests;

public sealed class MessageTests
{
    [Fact]
    public void Infer_request_round_trips_with_camel_case_names()
    {
        var request = new InferRequest("vad", [new TensorDescriptor("input", "float32", [1, 512], 0, 2048)], ["output"]);

        byte[] json = ProtocolJson.Serialize(request, ProtocolJsonContext.Default.InferRequest);
        var back = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InferRequest);

        Assert.Equal("""{"model":"vad","inputs":[{"name":"input","dtype":"float32","shape":[1,512],"offset":0,"length":2048}],"outputs":["output"]}""", Encoding.UTF8.GetString(json));
        Assert.Equal("vad", back.Model);
        Assert.Equal([1L, 512L], back.Inputs[0].Shape);
        Assert.Equal(["output"], back.Outputs!);
    }

    [Fact]
    public void A_caption_result_round_trips_and_a_plain_result_has_no_caption_field()
    {
        var at = new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
        var captioned = new ResultEvent(7, "door-camera", "gpio door rising", "vlm-fashion", at, at, [], new ResultTiming(100, 2, 140300, 12, 140500))
        {
            Window = new CaptureWindow("camera", 33.3, 100, 1, 784),
            Caption = new CaptionResult("a dark sneaker", 4, 61.2, 140.3),
        };

        byte[] json = ProtocolJson.Serialize(captioned, ProtocolJsonContext.Default.ResultEvent);
        Assert.Contains("\"caption\":{\"text\":\"a dark sneaker\",\"tokens\":4,\"firstTokenMs\":61.2,\"totalMs\":140.3}", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        var back = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.ResultEvent);
        Assert.Equal(captioned.Caption, back.Caption);
        Assert.Equal(captioned.Window, back.Window);

        byte[] plain = ProtocolJson.Serialize(captioned with { Caption = null }, ProtocolJsonContext.Default.ResultEvent);
        Assert.DoesNotContain("caption", Encoding.UTF8.GetString(plain), StringComparison.Ordinal);
        Assert.Null(ProtocolJson.Deserialize(plain, ProtocolJsonContext.Default.ResultEvent).Caption);
    }

    [Theory]
    [InlineData("{not json", "Malformed JSON")]
    [InlineData("""{"inputs":[]}""", "model")]
    [InlineData("null", "not null")]
    [InlineData("", "needs a JSON header")]
    public void Bad_headers_become_bad_request_errors_that_say_what_is_wrong(string json, string hint)
    {
        var error = Assert.Throws<EdgeRuntimeException>(() => ProtocolJson.Deserialize(Encoding.UTF8.GetBytes(json), ProtocolJsonContext.Default.InferRequest));
        Assert.Equal(ErrorCodes.BadRequest, error.Code);
        Assert.Contains(hint, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TensorDType.Float32, "float32", 4)]
    [InlineData(TensorDType.Float16, "float16", 2)]
    [InlineData(TensorDType.Int64, "int64", 8)]
    [InlineData(TensorDType.UInt8, "uint8", 1)]
    [InlineData(TensorDType.Bool, "bool", 1)]
    public void Dtype_names_and_sizes(TensorDType dtype, string name, int size)
    {
        Assert.Equal(name, dtype.Name());
        Assert.True(TensorDTypes.TryParse(name, out var parsed));
        Assert.Equal(dtype, parsed);
        Assert.Equal(size, dtype.ElementSize());
    }

    [Fact]
    public void Every_dtype_name_parses_back()
    {
        foreach (var dtype in Enum.GetValues<TensorDType>())
        {
            Assert.True(TensorDTypes.TryParse(dtype.Name(), out var parsed));
            Assert.Equal(dtype, parsed);
        }

        Assert.False(TensorDTypes.TryParse("float", out _));
    }

    [Fact]
    public void Element_counts_cover_scalars_zero_dims_and_overflow()
    {
        Assert.Equal(1, TensorDTypes.ElementCount([]));
        Assert.Equal(0, TensorDTypes.ElementCount([3, 0]));
        Assert.Equal(24, TensorDTypes.ElementCount([2, 3, 4]));
        Assert.Null(TensorDTypes.ElementCount([-1, 3]));
        Assert.Null(TensorDTypes.ElementCount([long.MaxValue, 2]));
    }

    [Fact]
    public void Alignment_rounds_up_to_eight()
    {
        Assert.Equal([0L, 8L, 8L, 16L], new long[] { 0, 1, 8, 9 }.Select(TensorLayout.AlignUp));
    }

    [Fact]
    public void A_pipeline_definition_that_leaves_fields_out_keeps_their_defaults()
    {
        var definition = ProtocolJson.Deserialize("{\"name\":\"d\",\"kind\":\"mmedge\",\"manifest\":\"m.json\"}"u8.ToArray(), ProtocolJsonContext.Default.PipelineDefinition);

        Assert.True(definition.Skip);
        Assert.True(definition.Gate);
        Assert.Equal("realtime", definition.Clock);
        Assert.Equal(0.5, definition.DriftTolerance);
        Assert.NotNull(definition.Inputs);
        Assert.Null(definition.BudgetMs);

        var given = ProtocolJson.Deserialize("{\"name\":\"d\",\"kind\":\"mmedge\",\"manifest\":\"m.json\",\"skip\":false,\"clock\":\"fast\",\"budgetMs\":12.5}"u8.ToArray(), ProtocolJsonContext.Default.PipelineDefinition);
        Assert.False(given.Skip);
        Assert.Equal("fast", given.Clock);
        Assert.Equal(12.5, given.BudgetMs);
    }
}
