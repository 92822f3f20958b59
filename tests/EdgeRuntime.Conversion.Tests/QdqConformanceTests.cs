using EdgeRuntime.Conversion.Qdq;
using EdgeRuntime.Formats;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestSupport;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>
/// ONNX's conformance models exported by PyTorch (Debian libonnx-testdata, pytorch-converted: IR 3, opset 6, one
/// layer each) through edge-convert --to int8: each moves to opset 10, is calibrated on its own test input, and the
/// quantized model's output is held against the output ONNX stores for that input, not against our float run.
/// </summary>
public sealed class QdqConformanceTests(ITestOutputHelper output)
{
    private const string Root = "/usr/share/libonnx-testdata/data/pytorch-converted";

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        string[] names =
        [
            "test_Conv1d", "test_Conv1d_dilated", "test_Conv1d_groups", "test_Conv1d_pad2", "test_Conv1d_stride",
            "test_Conv2d", "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded", "test_Conv2d_depthwise_strided",
            "test_Conv2d_depthwise_with_multiplier", "test_Conv2d_dilated", "test_Conv2d_groups", "test_Conv2d_no_bias",
            "test_Conv2d_padding", "test_Conv2d_strided", "test_Conv3d", "test_Conv3d_groups", "test_ConvTranspose2d",
            "test_ConvTranspose2d_no_bias", "test_Linear", "test_Linear_no_bias",
        ];
        foreach (string name in names)
        {
            data.Add(name, 8);
            data.Add(name, 16);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_pytorch_converted_layer_quantizes_and_tracks_the_stored_expected_output(string name, int activationBits)
    {
        string folder = Path.Combine(Root, name);
        Assert.True(Directory.Exists(folder), $"{folder} is missing: install the Debian package libonnx-testdata.");
        byte[] model = File.ReadAllBytes(Path.Combine(folder, "model.onnx"));
        var input = TensorFile.Read(Path.Combine(folder, "test_data_set_0", "input_0.pb"));
        float[] expected = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(TensorFile.Read(Path.Combine(folder, "test_data_set_0", "output_0.pb")).Raw).ToArray();
        string inputName = QdqQuantizer.InputsOf(model, null)[0].Name;
        var sample = Tensor.Float32(inputName, input.Dims, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(input.Raw).ToArray());
        var samples = new CalibrationSet([new CalibrationSample("input_0", [sample])], []);

        var result = QdqQuantizer.Quantize(model, null, samples, new QdqOptions(ActivationBits: activationBits));
        Assert.Single(result.Layers);
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        Assert.Equal(10, OnnxModelSummary.Read(result.Model).Opsets[""]);

        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(result.Model, options);
        using var value = input.ToOrtValue();
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [value], [session.OutputMetadata.Keys.First()]);
        var actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        double signal = expected.Sum(v => (double)v * v), noise = expected.Zip(actual, (a, b) => (double)(a - b) * (a - b)).Sum();
        double sqnr = 10 * Math.Log10(signal / noise);
        output.WriteLine($"{name} W8A{activationBits}: {sqnr:F1} dB against the stored output, weights {result.Layers[0].SqnrDb:F1} dB");
        // Measured 38.2-43.2 dB at W8A8 (7-bit weight codes) and 47.3-51.0 dB at W8A16 over these cases.
        Assert.True(sqnr > (activationBits == 8 ? 35 : 44), $"{name} W8A{activationBits}: {sqnr:F1} dB against the stored output");
    }
}
