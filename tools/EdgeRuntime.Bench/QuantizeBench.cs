using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Conversion.Qdq;
using EdgeRuntime.Formats;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Bench;

/// <summary>
/// build.ps1 bench-quantize: edge-convert's static INT8 quantization (QDQ) on real exports, against the float model in
/// the same run on ONNX Runtime's CPU provider with two threads: output SQNR on samples not used for calibration, top-1
/// agreement (and accuracy where labels exist), model size, and time per inference.
/// </summary>
internal static class QuantizeBench
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>A model to quantize: its file, its input's name and the samples (calibration first, then held back).</summary>
    private sealed record Case(string Name, string Path, string Input, long[] Shape, float[][] Samples, int Calibration, byte[]? Labels, string Data);

    public static int Run(string modelsDir, string samplesDir, string assetsDir, string textLinesDir, string outDir, bool quick)
    {
        Directory.CreateDirectory(outDir);
        var cases = new List<Case>();
        var images = NpyFile.Read(System.IO.Path.Combine(samplesDir, "cbnet", "test_images_1000.npy"));
        byte[] pixels = images.Data.ToArray(), labels = NpyFile.Read(System.IO.Path.Combine(samplesDir, "cbnet", "test_labels_1000.npy")).Data.ToArray();
        int count = quick ? 300 : 1000;
        float[][] fashion = [.. Enumerable.Range(0, count).Select(i => pixels.AsSpan(i * 784, 784).ToArray().Select(p => p / 255f).ToArray())];
        cases.Add(new Case("cbnet-full", System.IO.Path.Combine(modelsDir, "cbnet", "full.onnx"), "image", [1, 1, 28, 28], fashion, 100, labels, "Fashion-MNIST test images (real)"));

        // PaddleOCR's direction classifier on what it classifies: text lines (tools/assets/text-lines.py renders verses
        // with the DejaVu typefaces), every other one turned 180 degrees, so accuracy is measured as well as SQNR.
        var random = new Random(11);
        string paddle = System.IO.Path.Combine(assetsDir, "models", "exports", "paddle-ocr-cls.onnx");
        var lines = NpyFile.Read(System.IO.Path.Combine(textLinesDir, "images.npy"));
        byte[] turned = NpyFile.Read(System.IO.Path.Combine(textLinesDir, "labels.npy")).Data.ToArray();
        int lineCount = Math.Min(quick ? 60 : turned.Length, turned.Length), lineFloats = 3 * 48 * 192;
        float[][] text = [.. Enumerable.Range(0, lineCount).Select(i => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(lines.Data.Span.Slice(i * lineFloats * 4, lineFloats * 4)).ToArray())];
        cases.Add(new Case("paddle-ocr-cls", paddle, "x", [1, 3, 48, 192], text, lineCount / 2, turned, "text lines rendered from King James verses in DejaVu typefaces, half turned 180 degrees"));

        // ML.NET's ResNet18 featurizer, exported by CNTK (opset 8, 22 convolutions): the Fashion-MNIST photographs again,
        // scaled to 224x224 and put through the package's own preprocessing model (RGB to BGR, mean image subtracted).
        string resnet = System.IO.Path.Combine(assetsDir, "models", "exports", "resnet18-cntk.onnx");
        int resnetCount = quick ? 20 : 50;
        cases.Add(new Case("resnet18-cntk", resnet, "Input247", [1, 3, 224, 224], ResNetInputs(System.IO.Path.Combine(assetsDir, "models", "exports", "resnet18-cntk-preprocess.onnx"), pixels, resnetCount), resnetCount / 2, null, "Fashion-MNIST test images (real) scaled to 224x224, through the package's ResNetPreprocess.onnx"));

        // MediaPipe's BlazeFace front-camera detector, exported by tf2onnx (NHWC input in [-1, 1], 4 outputs: boxes and
        // scores at two anchor grids). No face images are fetched, and the Fashion-MNIST photographs drive its
        // activations to 10^4 (their black fields are far from any face), so it runs on seeded noise in its input
        // range: the figures say how its graph quantizes, not how it finds faces.
        string blazeface = System.IO.Path.Combine(assetsDir, "models", "exports", "blazeface-front.onnx");
        float[][] faceNoise = [.. Enumerable.Range(0, quick ? 40 : 100).Select(_ => Enumerable.Range(0, 128 * 128 * 3).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray())];
        cases.Add(new Case("blazeface-tf2onnx", blazeface, "input:0", [1, 128, 128, 3], faceNoise, faceNoise.Length / 2, null, "seeded noise in [-1, 1] (no face images are fetched)"));

        var results = new List<BenchResult>();
        var speedups = new List<double>();
        var sqnrs = new List<(string Name, double Db)>();
        var w8a16 = new List<(string Name, double Db)>();
        var sizeRatios = new List<double>();
        foreach (var c in cases)
        {
            byte[] model = File.ReadAllBytes(c.Path);
            string folder = Directory.CreateTempSubdirectory("edgeruntime-quantize-").FullName;
            try
            {
                for (int i = 0; i < c.Calibration; i++)
                {
                    NpyFile.Write(System.IO.Path.Combine(folder, $"{i:D4}.npy"), Tensor.Float32(c.Input, c.Shape, c.Samples[i]));
                }

                // Everything past the calibration samples is held back: the quantizer's own split holds back a fifth
                // of the folder, and the bench measures on the rest too.
                var set = CalibrationSet.Load(folder, [new ModelInput(c.Input, TensorDType.Float32, c.Shape)]);
                var stopwatch = Stopwatch.StartNew();
                var int8 = QdqQuantizer.Quantize(model, System.IO.Path.GetDirectoryName(c.Path), set, new QdqOptions());
                double quantizeS = stopwatch.Elapsed.TotalSeconds;
                var wide = QdqQuantizer.Quantize(model, System.IO.Path.GetDirectoryName(c.Path), set, new QdqOptions(ActivationBits: 16));
                var fullRange = QdqQuantizer.Quantize(model, System.IO.Path.GetDirectoryName(c.Path), set, new QdqOptions(WeightBits: 8));
                var heldBack = c.Samples[c.Calibration..];
                var (sqnr, agree, correctFloat, correctInt8, cosine) = Compare(model, int8.Model, c, heldBack);
                var (wideSqnr, _, _, _, _) = Compare(model, wide.Model, c, heldBack);
                var (fullRangeSqnr, _, _, _, _) = Compare(model, fullRange.Model, c, heldBack);
                var (floatMs, int8Ms) = Time(model, int8.Model, c, quick);
                double size = (double)int8.Model.Length / model.Length;
                speedups.Add(floatMs / int8Ms);
                sqnrs.Add((c.Name, sqnr));
                w8a16.Add((c.Name, wideSqnr));
                sizeRatios.Add(size);
                string accuracy = c.Labels is null ? string.Empty : string.Create(C, $"; top-1 accuracy float {correctFloat * 100.0 / heldBack.Length:0.00}% vs int8 {correctInt8 * 100.0 / heldBack.Length:0.00}%");
                string note = string.Create(C, $"{c.Data}: calibrated on {set.Calibration.Count}, measured on {heldBack.Length} others; {int8.Layers.Count} layers, {int8.FoldedBatchNorms} BatchNormalization folded, {int8.QuantizedActivations} activations, {Equalization(int8)}; top-1 agreement {agree * 100.0 / heldBack.Length:0.0}%{accuracy}; mean cosine similarity of the outputs {cosine:0.0000}; quantized in {quantizeS:0.0} s");
                results.Add(new BenchResult($"{c.Name}_int8_output_sqnr_db", sqnr, "dB", 30, sqnr / 30, note + "; baseline is the target"));
                results.Add(new BenchResult($"{c.Name}_w8a16_output_sqnr_db", wideSqnr, "dB", 40, wideSqnr / 40, "uint16 activations; baseline is the target"));
                results.Add(new BenchResult($"{c.Name}_int8_full_range_weights_output_sqnr_db", fullRangeSqnr, "dB", sqnr, fullRangeSqnr / sqnr, "--weight-bits 8 on this machine's ORT kernels (saturating where the CPU has no VNNI); baseline is the default 7-bit weights"));
                results.Add(new BenchResult($"{c.Name}_int8_speedup_vs_fp32", floatMs / int8Ms, "x", 1.5, floatMs / int8Ms / 1.5, string.Create(C, $"ORT CPU, 2 threads, batch 1: float {floatMs:0.000} ms vs int8 QDQ {int8Ms:0.000} ms per inference, median of interleaved rounds; baseline is the target")));
                results.Add(new BenchResult($"{c.Name}_int8_size_ratio", size, "x", 0.3, size / 0.3, string.Create(C, $"{model.Length:N0} -> {int8.Model.Length:N0} bytes; baseline is the target (at most)")));
                Console.WriteLine(string.Create(C, $"{c.Name}: int8 {sqnr:0.0} dB (8-bit weights {fullRangeSqnr:0.0} dB), w8a16 {wideSqnr:0.0} dB, agreement {agree * 100.0 / heldBack.Length:0.0}%{accuracy}, float {floatMs:0.000} ms vs int8 {int8Ms:0.000} ms ({floatMs / int8Ms:0.00}x), size {size:0.00}"));
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        var worst = sqnrs.MinBy(s => s.Db);
        var worstWide = w8a16.MinBy(s => s.Db);
        double median = Statistics.Median(speedups);
        results.Add(new BenchResult("int8_qdq_output_sqnr_db", worst.Db, "dB", 30, worst.Db / 30, $"worst model ({worst.Name}), held-back samples; baseline is the target"));
        results.Add(new BenchResult("int8_qdq_speedup_vs_fp32", median, "x", 1.5, median / 1.5, "median over the vision models; baseline is the target"));
        results.Add(new BenchResult("int8_size_ratio", sizeRatios.Max(), "x", 0.3, sizeRatios.Max() / 0.3, "largest over the models; baseline is the target (at most)"));
        results.Add(new BenchResult("w8a16_output_sqnr_db", worstWide.Db, "dB", 40, worstWide.Db / 40, $"worst model ({worstWide.Name}); baseline is the target"));
        string jsonPath = System.IO.Path.Combine(outDir, "quantize.json");
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(results, BenchJsonContext.Default.ListBenchResult));
        Console.WriteLine($"wrote {jsonPath}");
        return 0;
    }

    private static string Equalization(QdqResult result) => result.OtherCandidateCalibrationSqnrDb is not { } other ? "no conv pair to equalize"
        : result.EqualizedPairs > 0 ? string.Create(C, $"{result.EqualizedPairs} conv pairs equalized ({result.Accuracy?.CalibrationSqnrDb:0.0} dB on the calibration samples, {other:0.0} dB without)")
        : string.Create(C, $"equalization not kept ({result.Accuracy?.CalibrationSqnrDb:0.0} dB on the calibration samples without it, {other:0.0} dB with)");

    /// <summary>Each 28x28 image repeated 8x8 per pixel into three 0-255 channels, then the featurizer's preprocessing model.</summary>
    private static float[][] ResNetInputs(string preprocessPath, byte[] pixels, int count)
    {
        using var preprocess = new InferenceSession(preprocessPath);
        var inputs = new float[count][];
        var rgb = new float[3 * 224 * 224];
        for (int i = 0; i < count; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                for (int y = 0; y < 224; y++)
                {
                    for (int x = 0; x < 224; x++)
                    {
                        rgb[(((c * 224) + y) * 224) + x] = pixels[(i * 784) + ((y / 8) * 28) + (x / 8)];
                    }
                }
            }

            using var input = OrtValue.CreateTensorValueFromMemory(rgb, [1, 3, 224, 224]);
            using var runOptions = new RunOptions();
            using var outputs = preprocess.Run(runOptions, ["OriginalInput"], [input], ["PreprocessedInput"]);
            inputs[i] = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        return inputs;
    }

    /// <summary>Output SQNR (dB) over the samples, top-1 agreement, and top-1 hits of each model against the labels.</summary>
    private static (double Sqnr, int Agree, int CorrectFloat, int CorrectInt8, double Cosine) Compare(byte[] exactModel, byte[] quantizedModel, Case c, float[][] samples)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        using var exact = new InferenceSession(exactModel, options);
        using var quantized = new InferenceSession(quantizedModel, options);
        int outputCount = exact.OutputMetadata.Count;
        var signal = new double[outputCount];
        var noise = new double[outputCount];
        int agree = 0, correctFloat = 0, correctInt8 = 0;
        double cosines = 0;
        for (int i = 0; i < samples.Length; i++)
        {
            float[][] all = Run(exact, c, samples[i]), allQuantized = Run(quantized, c, samples[i]);
            for (int o = 0; o < outputCount; o++)
            {
                for (int j = 0; j < all[o].Length; j++)
                {
                    signal[o] += (double)all[o][j] * all[o][j];
                    noise[o] += (double)(all[o][j] - allQuantized[o][j]) * (all[o][j] - allQuantized[o][j]);
                }
            }

            // Agreement and cosine on the first output (the class scores, or the features).
            float[] a = all[0], b = allQuantized[0];
            double dot = 0, aa = 0, bb = 0;
            for (int j = 0; j < a.Length; j++)
            {
                (dot, aa, bb) = (dot + ((double)a[j] * b[j]), aa + ((double)a[j] * a[j]), bb + ((double)b[j] * b[j]));
            }

            cosines += dot / Math.Sqrt(aa * bb);

            int ta = ArgMax(a), tb = ArgMax(b);
            agree += ta == tb ? 1 : 0;
            if (c.Labels is { } labels)
            {
                int label = labels[c.Calibration + i];
                correctFloat += ta == label ? 1 : 0;
                correctInt8 += tb == label ? 1 : 0;
            }
        }

        // The worst output, as edge-convert reports it.
        double worst = Enumerable.Range(0, outputCount).Min(o => 10 * Math.Log10(signal[o] / noise[o]));
        return (worst, agree, correctFloat, correctInt8, cosines / samples.Length);
    }

    /// <summary>Milliseconds per inference of each model: rounds alternate between them, and each figure is the median round.</summary>
    private static (double FloatMs, double Int8Ms) Time(byte[] exactModel, byte[] quantizedModel, Case c, bool quick)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 2 });
        using var exact = new InferenceSession(exactModel, options);
        using var quantized = new InferenceSession(quantizedModel, options);
        // Enough runs per round for about half a second of the float model (ResNet18 takes ~30 ms, the others < 1 ms).
        double warmMs = Round(exact, 5);
        Round(quantized, 5);
        int runs = (int)Math.Clamp((quick ? 200 : 500) / warmMs, 10, quick ? 50 : 200), rounds = quick ? 3 : 7;
        var floatMs = new List<double>();
        var int8Ms = new List<double>();
        Round(exact, Math.Min(runs, 20));
        Round(quantized, Math.Min(runs, 20));
        for (int r = 0; r < rounds; r++)
        {
            floatMs.Add(Round(exact, runs));
            int8Ms.Add(Round(quantized, runs));
        }

        return (Statistics.Median(floatMs), Statistics.Median(int8Ms));

        double Round(InferenceSession session, int n)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++)
            {
                Run(session, c, c.Samples[i % c.Samples.Length]);
            }

            return Stopwatch.GetElapsedTime(start).TotalMilliseconds / n;
        }
    }

    private static float[][] Run(InferenceSession session, Case c, float[] sample)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(sample, c.Shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [c.Input], [input], [.. session.OutputMetadata.Keys]);
        return [.. outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray())];
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }
}
