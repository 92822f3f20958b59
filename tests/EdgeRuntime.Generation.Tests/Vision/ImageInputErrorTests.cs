using System.Runtime.InteropServices;
using EdgeRuntime.Generation.Engine;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Vision;

/// <summary>An image the model cannot take is refused before anything is queued, with invalid_image naming the problem.</summary>
public sealed class ImageInputErrorTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly LanguageModel _model;

    public ImageInputErrorTests()
    {
        SeededVisionModel.Write(_folder.File("vlm"));
        _model = LanguageModel.Load("vlm", _folder.File("vlm"), new GenerationOptions { IntraOpThreads = 1, Sessions = 1 });
    }

    [Theory]
    [InlineData(new long[] { 28, 28 }, "[28, 28]")]
    [InlineData(new long[] { 3, 12, 12 }, "[3, 12, 12]")]
    [InlineData(new long[] { 144 }, "[144]")]
    [InlineData(new long[] { 2, 1, 12, 12 }, "[2, 1, 12, 12]")]
    public void An_image_of_the_wrong_size_is_refused_naming_both_sizes(long[] shape, string shown)
    {
        var pixels = new byte[shape.Aggregate(1L, (a, b) => a * b)];
        var e = Refused(new TensorDescriptor("image", "uint8", shape, 0, pixels.Length), pixels);
        Assert.Contains(shown, e.Message);
        Assert.Contains("12×12", e.Message);
    }

    [Fact]
    public void An_image_of_another_element_type_is_refused_naming_the_types_taken()
    {
        var pixels = new byte[12 * 12 * 2];
        var e = Refused(new TensorDescriptor("image", "int16", [12, 12], 0, pixels.Length), pixels);
        Assert.Contains("\"int16\"", e.Message);
        Assert.Contains("uint8", e.Message);
        Assert.Contains("float32", e.Message);
    }

    [Fact]
    public void Bytes_that_do_not_match_the_shape_are_refused()
    {
        var pixels = new byte[100];
        var e = Refused(new TensorDescriptor("image", "uint8", [12, 12], 0, 100), pixels);
        Assert.Contains("144 bytes", e.Message);
    }

    [Fact]
    public void A_float_image_outside_0_to_1_is_refused_naming_the_element()
    {
        var values = new float[144];
        values[7] = 255f;
        byte[] bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var e = Refused(new TensorDescriptor("image", "float32", [1, 1, 12, 12], 0, bytes.Length), bytes);
        Assert.Contains("element 7 is 255", e.Message);
    }

    [Fact]
    public void An_image_for_a_text_only_model_is_refused()
    {
        SeededLfm2.WriteFolder(_folder.File("text"), SeededLfm2.Tiny(contextLength: 64));
        using var text = LanguageModel.Load("text", _folder.File("text"), new GenerationOptions { IntraOpThreads = 1, Sessions = 1 });
        var pixels = new byte[144];
        var e = Assert.Throws<EdgeRuntimeException>(() => text.Start(new GenerateRequest("text") { Prompt = "a", Image = new TensorDescriptor("image", "uint8", [12, 12], 0, 144) }, pixels));
        Assert.Equal(ErrorCodes.InvalidImage, e.Code);
        Assert.Contains("text-only", e.Message);
    }

    [Fact]
    public void An_image_on_a_turn_that_continues_a_session_is_refused()
    {
        var pixels = SeededVisionModel.Image(seed: 1);
        var e = Refused(new TensorDescriptor("image", "uint8", [12, 12], 0, 144), pixels, session: "s-0123");
        Assert.Contains("starts a session", e.Message);
    }

    public void Dispose()
    {
        _model.Dispose();
        _folder.Dispose();
    }

    private EdgeRuntimeException Refused(TensorDescriptor image, byte[] payload, string? session = null)
    {
        var e = Assert.Throws<EdgeRuntimeException>(() => _model.Start(new GenerateRequest("vlm") { Prompt = "", Image = image, Session = session }, payload));
        Assert.Equal(ErrorCodes.InvalidImage, e.Code);
        return e;
    }
}
