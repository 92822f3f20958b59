using System.Runtime.InteropServices;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Conversion.Tests;

/// <summary>
/// Weights wherever exporters put them: Constant nodes (Paddle2ONNX), Identity/Transpose/Cast chains, float16 and
/// bfloat16 storage, layers computing in float16, external data files, and initializers that old IR versions also list
/// as graph inputs. Each converted model is run by ONNX Runtime against the float model, and must shrink.
/// </summary>
public sealed class WeightDiscoveryTests : IDisposable
{
    private const int K = 64, N = 48, Rows = 3;

    private readonly string _directory = Directory.CreateTempSubdirectory("edgeruntime-weights-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // Seeded noise: sinusoids would let x·W cancel and the quantization noise, which does not cancel, dominate.
    private static readonly float[] W = Uniform(K * N, 0.25f, seed: 1);

    private static readonly float[] X = Uniform(Rows * K, 1f, seed: 2);

    private static float[] Uniform(int count, float scale, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale)];
    }

    /// <summary>y = x·W in double, the float model's answer.</summary>
    private static float[] Expected(float[] w)
    {
        var y = new float[Rows * N];
        for (int r = 0; r < Rows; r++)
        {
            for (int n = 0; n < N; n++)
            {
                double sum = 0;
                for (int k = 0; k < K; k++)
                {
                    sum += (double)X[(r * K) + k] * w[(k * N) + n];
                }

                y[(r * N) + n] = (float)sum;
            }
        }

        return y;
    }

    private static float[] Run(byte[] model, bool half = false)
    {
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        if (half)
        {
            var x16 = X.Select(v => (Float16)v).ToArray();
            using var input16 = OrtValue.CreateTensorValueFromMemory(x16, [Rows, K]);
            using var outputs16 = session.Run(runOptions, ["x"], [input16], ["y"]);
            return [.. outputs16[0].GetTensorDataAsSpan<Float16>().ToArray().Select(v => (float)v)];
        }

        using var input = OrtValue.CreateTensorValueFromMemory(X, [Rows, K]);
        using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double SqnrDb(float[] exact, float[] approximate)
    {
        double signal = exact.Sum(v => (double)v * v), noise = exact.Zip(approximate, (a, b) => (double)(a - b) * (a - b)).Sum();
        return 10 * Math.Log10(signal / noise);
    }

    /// <summary>Converts to INT4 (float activations, so the error is the weights'), checks the layer, the output and the size.</summary>
    private static ConversionResult ConvertAndCheck(byte[] model, string? directory = null, bool half = false, double minimumSqnrDb = 18)
    {
        var result = ModelConverter.Convert(model, new ConversionOptions(Target: ConversionTarget.Int4, AccuracyLevel: 0), directory);
        var layer = Assert.Single(result.Layers);
        Assert.Equal((K, N), (layer.K, layer.N));
        Assert.Empty(result.Skipped);
        Assert.Null(ConvertedModelCheck.Problem(result.Model));
        double sqnr = SqnrDb(Expected(W), Run(result.Model, half));
        Assert.True(sqnr > minimumSqnrDb, $"output SQNR {sqnr:F1} dB");
        return result;
    }

    private static string[] OpTypes(byte[] model) => [.. OnnxModelSummary.Read(model).Nodes.Select(n => n.OpType)];

    private static ProtoWriter FloatTensor(string name, long[] shape, float[] values) => OnnxModelBuilder.TensorProto(name, TensorDType.Float32, shape, values.AsSpan());

    [Fact]
    public void Weights_in_a_Constant_node_convert_and_the_Constant_goes()
    {
        // Paddle2ONNX writes MatMul weights as Constant nodes rather than initializers.
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Node("Constant", [], ["w"], "", new NodeAttribute("value", Tensor: FloatTensor("w", [K, N], W)))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        var result = ConvertAndCheck(model);
        Assert.Equal(["MatMulNBits"], OpTypes(result.Model));
        Assert.True(result.ModelBytesAfter < result.ModelBytesBefore / 4, $"{result.ModelBytesBefore} -> {result.ModelBytesAfter}");
    }

    [Fact]
    public void A_chain_of_Identity_and_Transpose_over_an_initializer_is_folded_and_dropped()
    {
        // Stored [N, K] and transposed in the graph, then passed through an Identity: exporters write both.
        var stored = new float[N * K];
        for (int k = 0; k < K; k++)
        {
            for (int n = 0; n < N; n++)
            {
                stored[(n * K) + k] = W[(k * N) + n];
            }
        }

        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer("w.stored", TensorDType.Float32, [N, K], stored.AsSpan())
            .Node("Transpose", ["w.stored"], ["w.t"], "", new NodeAttribute("perm", Ints: [1, 0]))
            .Node("Identity", ["w.t"], ["w"])
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        var result = ConvertAndCheck(model);
        Assert.Equal(["MatMulNBits"], OpTypes(result.Model));
        Assert.True(result.ModelBytesAfter < result.ModelBytesBefore / 4, $"{result.ModelBytesBefore} -> {result.ModelBytesAfter}");
    }

    [Fact]
    public void A_carrier_something_else_still_reads_stays()
    {
        // The stored weight is also read by a ReduceSum: the initializer stays (only the Identity, now unread, goes).
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer("w.stored", TensorDType.Float32, [K, N], W.AsSpan())
            .Node("Identity", ["w.stored"], ["w"])
            .Node("MatMul", ["x", "w"], ["y"])
            .Node("ReduceSum", ["w.stored"], ["total"], "", new NodeAttribute("keepdims", 0))
            .Output("y", TensorDType.Float32, "N", N)
            .Output("total", TensorDType.Float32)
            .Build();
        var result = ConvertAndCheck(model);
        Assert.Equal(["MatMulNBits", "ReduceSum"], OpTypes(result.Model));
        Assert.Contains("w.stored", InitializerNames(result.Model));
    }

    private static string[] InitializerNames(byte[] model)
    {
        var names = new List<string>();
        var reader = new ProtoReader(ProtoReader.FirstBytes(model, OnnxFields.Model.Graph));
        while (reader.Next())
        {
            if (reader.Is(OnnxFields.Graph.Initializer, WireType.LengthDelimited))
            {
                names.Add(ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.Tensor.Name));
            }
            else
            {
                reader.Skip();
            }
        }

        return [.. names];
    }

    [Fact]
    public void Float16_weights_behind_a_Cast_to_float_convert_and_count_their_stored_bytes()
    {
        var half = W.Select(v => (Half)v).ToArray();
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer("w.f16", TensorDType.Float16, [K, N], half.AsSpan())
            .Node("Cast", ["w.f16"], ["w"], "", new NodeAttribute("to", OnnxDataType.Float))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        var result = ConvertAndCheck(model);
        Assert.Equal(["MatMulNBits"], OpTypes(result.Model));
        Assert.Equal(K * N * 2L, result.Layers[0].BytesBefore);
    }

    [Fact]
    public void Bfloat16_weights_in_int32_data_convert()
    {
        // bfloat16 has no name in the wire protocol's dtypes: the TensorProto is written by hand, its values as 16-bit
        // patterns in int32_data (the typed field ONNX uses for them).
        var tensor = new ProtoWriter().Varint(OnnxFields.Tensor.Dims, K).Varint(OnnxFields.Tensor.Dims, N)
            .Varint(OnnxFields.Tensor.DataType, OnnxDataType.BFloat16).String(OnnxFields.Tensor.Name, "w.bf16");
        foreach (float v in W)
        {
            tensor.Varint(OnnxFields.Tensor.Int32Data, (ushort)(BitConverter.SingleToUInt32Bits(Weights.TensorValue.RoundToBFloat16(v)) >> 16));
        }

        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer(tensor)
            .Node("Cast", ["w.bf16"], ["w"], "", new NodeAttribute("to", OnnxDataType.Float))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        var result = ConvertAndCheck(model);
        Assert.Equal(K * N * 2L, result.Layers[0].BytesBefore);
    }

    [Fact]
    public void A_layer_computing_in_float16_runs_in_float_between_two_casts()
    {
        var half = W.Select(v => (Half)v).ToArray();
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float16, "N", K)
            .Initializer("w", TensorDType.Float16, [K, N], half.AsSpan())
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float16, "N", N)
            .Build();
        var result = ConvertAndCheck(model, half: true);
        Assert.Equal(["Cast", "MatMulNBits", "Cast"], OpTypes(result.Model));
    }

    [Fact]
    public void Weights_in_an_external_data_file_are_read_and_the_converted_model_holds_what_stays()
    {
        // One weight to convert and one (the bias of an Add) that stays: both external in the input.
        var bias = Enumerable.Range(0, N).Select(i => i * 0.01f).ToArray();
        byte[] inline = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer("w", TensorDType.Float32, [K, N], W.AsSpan())
            .Initializer("b", TensorDType.Float32, [N], bias.AsSpan())
            .Node("MatMul", ["x", "w"], ["xw"])
            .Node("Add", ["xw", "b"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        byte[] model;
        using (var data = File.Create(Path.Combine(_directory, "model.onnx.data")))
        {
            model = ExternalDataWriter.Externalize(inline, "model.onnx.data", data, threshold: 64);
        }

        Assert.Equal(2, ExternalInitializers.Read(model).Count);
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4, AccuracyLevel: 0), _directory);
        Assert.True(result.ReadExternalData);
        Assert.Single(result.Layers);
        Assert.Empty(ExternalInitializers.Read(result.Model));
        var expected = Expected(W).Select((v, i) => v + bias[i % N]).ToArray();
        double sqnr = SqnrDb(expected, Run(result.Model));
        Assert.True(sqnr > 18, $"output SQNR {sqnr:F1} dB");

        // Without the folder, or with a location outside it, the data is not read.
        Assert.Contains("folder is not known", Assert.Throws<InvalidDataException>(() => ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4))).Message);
        byte[] escaping = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .ExternalInitializer("w", TensorDType.Float32, [K, N], "../elsewhere.data", 0, K * N * 4L)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        Assert.Contains("not inside the model's folder", Assert.Throws<InvalidDataException>(() => ModelConverter.Convert(escaping, new ConversionOptions(ConversionTarget.Int4), _directory)).Message);
        byte[] short_ = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .ExternalInitializer("w", TensorDType.Float32, [K, N], "model.onnx.data", 1 << 20, K * N * 4L)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        Assert.Contains("which holds", Assert.Throws<InvalidDataException>(() => ModelConverter.Convert(short_, new ConversionOptions(ConversionTarget.Int4), _directory)).Message);
    }

    [Fact]
    public void Weights_that_are_not_constants_are_left_alone_with_the_reason_for_each_layer()
    {
        byte[] model = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Input("w.fed", TensorDType.Float32, K, N)
            .Initializer("w.flat", TensorDType.Float32, [K * N], W.AsSpan())
            .Initializer("w.shape", TensorDType.Int64, [2], new long[] { K, N }.AsSpan())
            .Node("Reshape", ["w.flat", "w.shape"], ["w.reshaped"])
            .Node("MatMul", ["x", "w.reshaped"], ["a"])
            .Node("MatMul", ["x", "w.fed"], ["b"])
            .Node("MatMul", ["x", "w.flat"], ["c"])
            .Output("a", TensorDType.Float32, "N", N)
            .Output("b", TensorDType.Float32, "N", N)
            .Output("c", TensorDType.Float32, "N")
            .Build();
        var result = ModelConverter.Convert(model, new ConversionOptions(ConversionTarget.Int4));
        Assert.Empty(result.Layers);
        Assert.Equal(model, result.Model);
        Assert.Collection(
            result.Skipped,
            s => Assert.EndsWith("its weights 'w.reshaped' are computed by a Reshape node, not a constant", s, StringComparison.Ordinal),
            s => Assert.EndsWith("its weights 'w.fed' are a graph input fed at run time, not a constant", s, StringComparison.Ordinal),
            s => Assert.EndsWith("weights 'w.flat' have rank 1, not 2", s, StringComparison.Ordinal));
    }

    [Fact]
    public void ORT_refusing_a_model_is_reported_with_its_reason()
    {
        byte[] broken = new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Node("MatMul", ["x", "missing"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build();
        Assert.Contains("missing", ConvertedModelCheck.Problem(broken), StringComparison.Ordinal);
        Assert.Null(ConvertedModelCheck.Problem(new OnnxModelBuilder()
            .Input("x", TensorDType.Float32, "N", K)
            .Initializer("w", TensorDType.Float32, [K, N], W.AsSpan())
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorDType.Float32, "N", N)
            .Build()));
    }

    [Fact]
    public void A_transpose_of_any_rank_moves_each_value_where_perm_says()
    {
        float[] values = [.. Enumerable.Range(0, 24).Select(i => (float)i)];
        var (t, dims) = Weights.WeightCatalog.Transpose(values, [2, 3, 4], [2, 0, 1]);
        Assert.Equal([4L, 2, 3], dims);
        for (int a = 0; a < 2; a++)
        {
            for (int b = 0; b < 3; b++)
            {
                for (int c = 0; c < 4; c++)
                {
                    Assert.Equal(values[(a * 12) + (b * 4) + c], t[(c * 6) + (a * 3) + b]);
                }
            }
        }
    }
}
