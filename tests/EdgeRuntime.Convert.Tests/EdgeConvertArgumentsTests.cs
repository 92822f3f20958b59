using EdgeRuntime.Conversion;

namespace EdgeRuntime.Convert.Tests;

/// <summary>edge-convert's arguments: the documented lines, --help, and its error messages.</summary>
public sealed class EdgeConvertArgumentsTests
{
    [Fact]
    public void The_documented_lines_parse()
    {
        var (input, output, options, json, externalData) = Arguments.Parse(["model.onnx", "model-int4.onnx", "--to", "int4", "--block", "64", "--symmetric", "--accuracy-level", "0", "--json"])!.Value;
        Assert.Equal(("model.onnx", "model-int4.onnx"), (input, output));
        Assert.Equal(new ConversionOptions(ConversionTarget.Int4, 64, false, 0), options);
        Assert.True(json);
        Assert.False(externalData);

        var packed = Arguments.Parse(["model.onnx", "model-packed.onnx", "--to", "int8-packed", "--external-data"])!.Value;
        Assert.Equal(ConversionTarget.Int8Packed, packed.Options.Target);
        Assert.True(packed.ExternalData);

        var bitlinear = Arguments.Parse(["--to", "bitlinear", "model.onnx", "model-b158.onnx"])!.Value;
        Assert.Equal(new ConversionOptions(ConversionTarget.BitLinear, 32, true, 4), bitlinear.Options);
        Assert.False(bitlinear.Json);

        var small = Arguments.Parse(["--to", "bitlinear", "--ternary-layout", "1.6bit", "model.onnx", "model-b158.onnx"])!.Value;
        Assert.Equal(Kernels.Ternary.TernaryLayout.FivePerByte, small.Options.TernaryLayout);
        Assert.Equal(Kernels.Ternary.TernaryLayout.FourPerByte, Arguments.Parse(["--to", "bitlinear", "--ternary-layout", "2bit", "a.onnx", "b.onnx"])!.Value.Options.TernaryLayout);

        var int8 = Arguments.Parse(["model.onnx", "model-w8a16.onnx", "--to", "int8", "--calibration", "samples", "--activations", "16", "--calibrate", "percentile", "--percentile", "99.99", "--weight-bits", "8"])!.Value;
        Assert.Equal(ConversionTarget.Int8, int8.Options.Target);
        Assert.Equal("samples", int8.Options.Calibration);
        Assert.Equal(new Conversion.Qdq.QdqOptions(16, Conversion.Qdq.CalibrationMethod.Percentile, 99.99, 8), int8.Options.Qdq);
        var defaults = Arguments.Parse(["a.onnx", "b.onnx", "--to", "int8", "--calibration", "c"])!.Value.Options.Qdq;
        Assert.Equal(new Conversion.Qdq.QdqOptions(), defaults);
        Assert.Equal(7, defaults.EffectiveWeightBits);
        Assert.Equal(8, (defaults with { ActivationBits = 16 }).EffectiveWeightBits);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("a.onnx", "--help")]
    public void Help_returns_no_arguments(params string[] args) => Assert.Null(Arguments.Parse(args));

    [Fact]
    public void The_help_describes_every_option()
    {
        foreach (string option in new[] { "--to", "--ternary-layout", "2bit|1.6bit", "--block", "--symmetric", "--accuracy-level", "--calibration", "--activations", "--weight-bits", "--calibrate", "--percentile", "--external-data", "--json", "int8-packed", "IN.onnx", "OUT.onnx" })
        {
            Assert.Contains(option, Arguments.Usage, StringComparison.Ordinal);
        }

        // Defaults are named in the option's words, not by C# names.
        Assert.DoesNotContain("FourPerByte", Arguments.Usage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("give an input and an output model", "a.onnx", "--to", "int4")]
    [InlineData("give an input and an output model", "a.onnx", "b.onnx", "c.onnx", "--to", "int4")]
    [InlineData("--to is required (bitlinear, int4, int8 or int8-packed)", "a.onnx", "b.onnx")]
    [InlineData("--to is 'int16'; it must be bitlinear, int4, int8 or int8-packed", "a.onnx", "b.onnx", "--to", "int16")]
    [InlineData("--to int8 needs --calibration FOLDER (samples of the model's inputs as .npy)", "a.onnx", "b.onnx", "--to", "int8")]
    [InlineData("--calibration, --activations, --weight-bits, --calibrate and --percentile go with --to int8", "a.onnx", "b.onnx", "--to", "int4", "--activations", "16")]
    [InlineData("--percentile goes with --calibrate percentile", "a.onnx", "b.onnx", "--to", "int8", "--calibration", "c", "--percentile", "99.9")]
    [InlineData("--weight-bits is 6; it must be 7 or 8", "a.onnx", "b.onnx", "--to", "int8", "--calibration", "c", "--weight-bits", "6")]
    [InlineData("--activations is 4; it must be 8 or 16", "a.onnx", "b.onnx", "--to", "int8", "--calibration", "c", "--activations", "4")]
    [InlineData("--calibrate is 'entropy'; it must be minmax or percentile", "a.onnx", "b.onnx", "--to", "int8", "--calibration", "c", "--calibrate", "entropy")]
    [InlineData("--percentile is '40'; it must be a number above 50 and at most 100", "a.onnx", "b.onnx", "--to", "int8", "--calibration", "c", "--calibrate", "percentile", "--percentile", "40")]
    [InlineData("--block is 'big', not a number", "a.onnx", "b.onnx", "--to", "int4", "--block", "big")]
    [InlineData("--accuracy-level is 5; it must be 0 to 4", "a.onnx", "b.onnx", "--to", "int4", "--accuracy-level", "5")]
    [InlineData("unknown option '--bits'", "a.onnx", "b.onnx", "--to", "int4", "--bits", "4")]
    [InlineData("--ternary-layout is '1bit'; it must be 2bit or 1.6bit", "a.onnx", "b.onnx", "--to", "bitlinear", "--ternary-layout", "1bit")]
    [InlineData("--ternary-layout goes with --to bitlinear (it says how the ternary weights are packed)", "a.onnx", "b.onnx", "--to", "int4", "--ternary-layout", "1.6bit")]
    public void Bad_arguments_say_what_is_wrong(string message, params string[] args) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => Arguments.Parse(args)).Message);
}
