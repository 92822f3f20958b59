namespace EdgeRuntime.Generation.Families.BitNet;

/// <summary>
/// RoPE's cos and sin tables, [positions, headDim / 2]: angle(p, i) = p · θ^(-2i / headDim), the half-rotation form
/// (pairs i and i + headDim/2) that Llama-style checkpoints, BitNet b1.58 included, use.
/// </summary>
public static class RotaryTables
{
    public static (float[] Cos, float[] Sin) Compute(int positions, int headDim, double theta)
    {
        int half = headDim / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int i = 0; i < half; i++)
        {
            double frequency = Math.Pow(theta, -2.0 * i / headDim);
            for (int p = 0; p < positions; p++)
            {
                double angle = p * frequency;
                cos[(p * half) + i] = (float)Math.Cos(angle);
                sin[(p * half) + i] = (float)Math.Sin(angle);
            }
        }

        return (cos, sin);
    }
}
