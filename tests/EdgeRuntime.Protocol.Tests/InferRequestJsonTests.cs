using System.Text;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>
/// The hand-written infer reader against the generated one: whenever it accepts a header, it must read exactly what
/// the generated reader reads; whatever it declines goes to the generated reader, errors and all.
/// </summary>
public sealed class InferRequestJsonTests
{
    public static TheoryData<string> Plain => new()
    {
        """{"model":"mlp","inputs":[{"name":"x","dtype":"float32","shape":[1,1024],"offset":0,"length":4096}]}""",
        """{"model":"vad","inputs":[{"name":"input","dtype":"float32","shape":[1,512],"offset":0,"length":2048},{"name":"state","dtype":"float32","shape":[2,1,128],"offset":2048,"length":1024},{"name":"sr","dtype":"int64","shape":[],"offset":3072,"length":8}],"outputs":["output","stateN"]}""",
        """{"model":"cam","inputs":[{"name":"frame","dtype":"uint8","shape":[1,480,640,3],"offset":0,"length":921600,"region":"camera"}],"outputRegion":{"region":"camera","offset":921600,"length":4096}}""",
        """ { "inputs" : [ ] , "model" : "caf\u00e9 \"quoted\"" } """,
        """{"model":"m","inputs":[{"length":-1,"offset":-8,"shape":[-1,9223372036854775807],"dtype":"x","name":""}],"outputs":[]}""",
    };

    public static TheoryData<string> Declined => new()
    {
        """{"model":"m","inputs":[],"extra":1}""",
        """{"model":"m","model":"n","inputs":[]}""",
        """{"model":null,"inputs":[]}""",
        """{"model":"m","inputs":[null]}""",
        """{"model":"m","inputs":[{"name":"x","dtype":"float32","shape":[1.5],"offset":0,"length":4}]}""",
        """{"model":"m","inputs":[{"name":"x","dtype":"float32","shape":[1,1,1,1,1,1,1,1,1],"offset":0,"length":4}]}""",
        """{"model":"m","inputs":[{"name":"x","dtype":"float32","shape":[1],"offset":0}]}""",
        """{"model":"m","inputs":[],"outputs":null}""",
        """{"model":"m","inputs":[],"outputRegion":{"region":"r","offset":0}}""",
        """{"model":"m"}""",
        """{"model":"m","inputs":[]} trailing""",
        """{"model":"m","inputs":[],}""",
        """[1,2]""",
        "",
    };

    [Theory]
    [MemberData(nameof(Plain))]
    public void A_plain_header_is_read_exactly_as_the_generated_reader_reads_it(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        Assert.True(InferRequestJson.TryParse(bytes, out var fast));
        var general = ProtocolJson.Deserialize(bytes, ProtocolJsonContext.Default.InferRequest);
        Assert.Equal(Canonical(general), Canonical(fast));
    }

    [Theory]
    [MemberData(nameof(Declined))]
    public void Anything_unusual_is_left_to_the_generated_reader(string json)
    {
        Assert.False(InferRequestJson.TryParse(Encoding.UTF8.GetBytes(json), out _));
    }

    [Fact]
    public void Text_that_is_not_utf8_is_declined_not_thrown()
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes("{\"model\":\""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\",\"inputs\":[]}")];
        Assert.False(InferRequestJson.TryParse(bytes, out _));
        Assert.Equal(ErrorCodes.BadRequest, Assert.Throws<EdgeRuntimeException>(() => ProtocolJson.Deserialize(bytes, ProtocolJsonContext.Default.InferRequest)).Code);
    }

    private static string Canonical(InferRequest request) =>
        Encoding.UTF8.GetString(ProtocolJson.Serialize(request, ProtocolJsonContext.Default.InferRequest));
}
