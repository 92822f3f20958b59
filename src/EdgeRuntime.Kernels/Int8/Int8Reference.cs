namespace EdgeRuntime.Kernels.Int8;

/// <summary>
/// ONNX MatMulInteger and QLinearMatMul written out plainly: the specification for the SIMD paths.
/// acc[t,n] = Σ_k (a[t,k] − a_zp[t]) · (b[k,n] − b_zp[n]) in int32 (a_zp per tensor or per row, b_zp per tensor or per
/// column); QLinearMatMul then gives saturate(round_half_even(acc · (a_scale · b_scale[n] / y_scale)) + y_zp).
/// </summary>
public static class Int8Reference
{
    public static int[] MatMulInteger(Int8Matrix a, int m, int k, Int8Matrix b, int n, ReadOnlySpan<int> aZeroPoints, ReadOnlySpan<int> bZeroPoints)
    {
        var y = new int[m * n];
        for (int t = 0; t < m; t++)
        {
            int za = aZeroPoints.Length == 1 ? aZeroPoints[0] : aZeroPoints.IsEmpty ? 0 : aZeroPoints[t];
            for (int col = 0; col < n; col++)
            {
                int zb = bZeroPoints.Length == 1 ? bZeroPoints[0] : bZeroPoints.IsEmpty ? 0 : bZeroPoints[col];
                int acc = 0;
                for (int i = 0; i < k; i++)
                {
                    acc += (a[(t * k) + i] - za) * (b[(i * n) + col] - zb);
                }

                y[(t * n) + col] = acc;
            }
        }

        return y;
    }

    public static byte[] QLinearMatMul(Int8Matrix a, int m, int k, float aScale, int aZeroPoint, Int8Matrix b, int n, ReadOnlySpan<float> bScales, ReadOnlySpan<int> bZeroPoints, float yScale, int yZeroPoint, bool ySigned)
    {
        var acc = MatMulInteger(a, m, k, b, n, [aZeroPoint], bZeroPoints);
        var y = new byte[m * n];
        for (int i = 0; i < acc.Length; i++)
        {
            float scale = bScales.Length == 1 ? bScales[0] : bScales[i % n];
            y[i] = Requantize.ToByte(acc[i], Requantize.Multiplier(aScale, scale, yScale), yZeroPoint, ySigned);
        }

        return y;
    }
}

/// <summary>An 8-bit matrix given as bytes and whether they hold int8 or uint8 values.</summary>
public readonly ref struct Int8Matrix(ReadOnlySpan<byte> data, bool signed)
{
    public ReadOnlySpan<byte> Data { get; } = data;

    public bool Signed { get; } = signed;

    public int this[int index] => Signed ? (sbyte)Data[index] : Data[index];
}

/// <summary>QLinearMatMul's output step, shared by the reference and the kernels so both round alike.</summary>
public static class Requantize
{
    public static float Multiplier(float aScale, float bScale, float yScale) => aScale * bScale / yScale;

    /// <summary>round_half_even(acc · multiplier) + zp, saturated to uint8 or int8 (returned as its byte).</summary>
    public static byte ToByte(int acc, float multiplier, int zeroPoint, bool signed)
    {
        float scaled = MathF.Round(acc * multiplier, MidpointRounding.ToEven);
        float shifted = scaled + zeroPoint;
        return signed
            ? (byte)(sbyte)Math.Clamp(shifted, -128f, 127f)
            : (byte)Math.Clamp(shifted, 0f, 255f);
    }
}
