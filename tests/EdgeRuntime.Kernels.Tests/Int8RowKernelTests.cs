using EdgeRuntime.Inference;
using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Kernels.Ort;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>Int8 rows with a scale each (the tied head's table) and the Int8RowLinear kernel over them.</summary>
public sealed class Int8RowKernelTests
{
    public static TheoryData<KernelPath> Paths() => TernaryKernelTests.Paths();

    private static float[] Values(int count, int seed, float range = 1f)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1) * range)];
    }

    [Fact]
    public void A_row_quantizes_to_codes_of_its_largest_magnitude_over_127_rounding_half_to_even()
    {
        // Row 0's scale is exactly 1, so 0.5, 1.5 and -2.5 are exact ties: half to even gives 0, 2 and -2 (torch.round).
        float[] table = [127f, 0.5f, 1.5f, -2.5f, -254f, 1f, 0, 0, 0, 0, 0, 0];
        var codes = new sbyte[12];
        var scales = new float[3];
        Int8Rows.Quantize(table, 3, 4, codes, scales);
        Assert.Equal([1f, 2f, 0f], scales);
        Assert.Equal(new sbyte[] { 127, 0, 2, -2, -127, 0, 0, 0, 0, 0, 0, 0 }, codes);
    }

    [Fact]
    public void Dequantized_rows_are_within_half_a_step_of_the_table()
    {
        const int rows = 7, columns = 300;
        float[] table = Values(rows * columns, 4, 3f);
        var codes = new sbyte[table.Length];
        var scales = new float[rows];
        Int8Rows.Quantize(table, rows, columns, codes, scales);
        var row = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            Int8Rows.Dequantize(codes.AsSpan(r * columns, columns), scales[r], row);
            for (int k = 0; k < columns; k++)
            {
                Assert.InRange(Math.Abs(row[k] - table[(r * columns) + k]), 0, (scales[r] / 2) * 1.0001f);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public unsafe void Every_path_equals_the_scalar_sums_to_float_rounding(KernelPath path)
    {
        // K values around the unrolled steps (64, 32, 16, 8) and their tails; m = 1 to 5 covers pairs and a single.
        foreach (int k in new[] { 1, 15, 16, 33, 64, 100, 2560 })
        {
            const int n = 37;
            var weights = Values(n * k, k, 1f).Select(v => (sbyte)Math.Round(v * 127)).ToArray();
            float[] scales = Values(n, k + 1, 0.1f);
            foreach (int m in new[] { 1, 2, 5 })
            {
                float[] x = Values(m * k, m + k, 2f);
                float[] expected = Reference(x, m, k, weights, scales, n);
                var y = new float[m * n];
                fixed (float* xp = x, sp = scales, yp = y)
                fixed (sbyte* wp = weights)
                {
                    Int8RowLinear.ComputeRows(path, xp, m, k, wp, sp, yp, n, 0, n);
                }

                for (int i = 0; i < y.Length; i++)
                {
                    // |Σ| of k products each below 254: float error stays well under 1e-5 relative to Σ|w·x|.
                    double bound = 1e-5 * Magnitude(x, i / n, k, weights, i % n) * Math.Abs(scales[i % n]) + 1e-12;
                    Assert.True(Math.Abs(y[i] - expected[i]) <= bound, $"{path} k={k} m={m} [{i}]: {y[i]} vs {expected[i]} (bound {bound})");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Int8RowLinear_in_an_ort_session_equals_the_reference(int intraOpThreads)
    {
        const int n = 600, k = 96;
        var weights = Values(n * k, 1).Select(v => (sbyte)Math.Round(v * 127)).ToArray();
        float[] scales = Values(n, 2, 0.05f);
        byte[] model = new OnnxModelBuilder()
            .Opset(CustomOpDomain.Name, 1)
            .Input("x", TensorDType.Float32, "M", k)
            .Initializer("w", TensorDType.Int8, [n, k], weights.AsSpan())
            .Initializer("scales", TensorDType.Float32, [n], scales.AsSpan())
            .Node("Int8RowLinear", ["x", "w", "scales"], ["y"], CustomOpDomain.Name)
            .Output("y", TensorDType.Float32, "M", n)
            .Build();
        using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = intraOpThreads });
        using var session = new InferenceSession(model, options);
        foreach (int m in new[] { 1, 4 })
        {
            float[] x = Values(m * k, m);
            float[] expected = Reference(x, m, k, weights, scales, n);
            using var input = OrtValue.CreateTensorValueFromMemory(x, [m, k]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["x"], [input], ["y"]);
            var y = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            Assert.Equal(expected.Length, y.Length);
            for (int i = 0; i < y.Length; i++)
            {
                Assert.Equal(expected[i], y[i], 1e-4f);
            }
        }
    }

    [Fact]
    public void Rows_of_another_width_than_x_are_refused_by_name()
    {
        byte[] model = new OnnxModelBuilder()
            .Opset(CustomOpDomain.Name, 1)
            .Input("x", TensorDType.Float32, "M", 8)
            .Initializer("w", TensorDType.Int8, [3, 16], new sbyte[48].AsSpan())
            .Initializer("scales", TensorDType.Float32, [3], new float[3].AsSpan())
            .Node("Int8RowLinear", ["x", "w", "scales"], ["y"], CustomOpDomain.Name)
            .Output("y", TensorDType.Float32, "M", 3)
            .Build();
        using var options = SessionFactory.CreateOptions(new InferenceOptions());
        using var session = new InferenceSession(model, options);
        using var input = OrtValue.CreateTensorValueFromMemory(new float[8], [1, 8]);
        using var runOptions = new RunOptions();
        var error = Assert.Throws<OnnxRuntimeException>(() => session.Run(runOptions, ["x"], [input], ["y"]).Dispose());
        Assert.Contains("ai.edgeruntime.Int8RowLinear: W is [3, 16], but X's last dimension is K=8", error.Message, StringComparison.Ordinal);
    }

    private static float[] Reference(float[] x, int m, int k, sbyte[] w, float[] scales, int n)
    {
        var y = new float[m * n];
        for (int t = 0; t < m; t++)
        {
            for (int r = 0; r < n; r++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++)
                {
                    sum += (double)w[(r * k) + i] * x[(t * k) + i];
                }

                y[(t * n) + r] = (float)(sum * scales[r]);
            }
        }

        return y;
    }

    private static double Magnitude(float[] x, int t, int k, sbyte[] w, int r)
    {
        double sum = 0;
        for (int i = 0; i < k; i++)
        {
            sum += Math.Abs((double)w[(r * k) + i] * x[(t * k) + i]);
        }

        return sum;
    }
}
