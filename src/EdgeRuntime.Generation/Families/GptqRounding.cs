namespace EdgeRuntime.Generation.Families;

/// <summary>
/// GPTQ's rounding (Frantar et al., 2022): a row of weights is rounded one input at a time, and each rounding error is
/// spread over the inputs not yet rounded in proportion to how the calibration activations correlate them, so that
/// the layer's output on those activations, not the weights themselves, stays closest to the float layer's. Uses the
/// inputs' Gram matrix H = XᵀX / rows (with 1% of its mean diagonal added, as the paper damps it) through the upper
/// Cholesky factor U of H⁻¹: after rounding input k, the inputs j &gt; k move by −(w_k − q_k) / U_kk · U_kj.
/// </summary>
internal sealed class GptqRounding
{
    private const double Damping = 0.01;

    private readonly double[] _factor;

    private GptqRounding(double[] factor, int inputs)
    {
        _factor = factor;
        Inputs = inputs;
    }

    public int Inputs { get; }

    /// <summary>Prepares the rounding for inputs whose Gram matrix (row-major, [inputs, inputs]) is <paramref name="gram"/>.</summary>
    public static GptqRounding FromGram(ReadOnlySpan<double> gram, int inputs)
    {
        if (gram.Length != (long)inputs * inputs)
        {
            throw new ArgumentException($"A Gram matrix of {gram.Length} values for {inputs} inputs.", nameof(gram));
        }

        var h = gram.ToArray();
        double meanDiagonal = 0;
        for (int i = 0; i < inputs; i++)
        {
            meanDiagonal += h[(i * inputs) + i];
        }

        meanDiagonal = Math.Max(meanDiagonal / inputs, 1e-12);
        for (int i = 0; i < inputs; i++)
        {
            // An input that never fired carries no information; unit weight keeps H invertible.
            ref double diagonal = ref h[(i * inputs) + i];
            diagonal = diagonal == 0 ? 1 : diagonal + (Damping * meanDiagonal);
        }

        var inverse = Invert(CholeskyLower(h, inputs), inputs);
        return new GptqRounding(UpperCholesky(inverse, inputs), inputs);
    }

    /// <summary>
    /// Rounds <paramref name="row"/> in place, input by input: <paramref name="round"/>(k, value) returns input k's
    /// rounded value (given the row as updated so far, so a block's scale may be chosen when its first input is reached:
    /// <paramref name="blockStart"/> is called with the row before each block of <paramref name="block"/> inputs).
    /// </summary>
    public void Round(Span<float> row, int block, Action<int, ReadOnlySpan<float>> blockStart, Func<int, float, float> round)
    {
        int n = Inputs;
        for (int k = 0; k < n; k++)
        {
            if (k % block == 0)
            {
                blockStart(k / block, row);
            }

            float rounded = round(k, row[k]);
            double error = (row[k] - rounded) / _factor[(k * n) + k];
            row[k] = rounded;
            for (int j = k + 1; j < n; j++)
            {
                row[j] -= (float)(error * _factor[(k * n) + j]);
            }
        }
    }

    /// <summary>L with L·Lᵀ = A (A symmetric positive definite).</summary>
    private static double[] CholeskyLower(double[] a, int n)
    {
        var l = new double[a.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[(i * n) + j];
                for (int k = 0; k < j; k++)
                {
                    sum -= l[(i * n) + k] * l[(j * n) + k];
                }

                if (i == j)
                {
                    if (sum <= 0)
                    {
                        throw new ArgumentException("The calibration Gram matrix is not positive definite even after damping.");
                    }

                    l[(i * n) + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[(i * n) + j] = sum / l[(j * n) + j];
                }
            }
        }

        return l;
    }

    /// <summary>A⁻¹ from A's lower Cholesky factor: (L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹.</summary>
    private static double[] Invert(double[] l, int n)
    {
        // L⁻¹ by forward substitution, column by column.
        var li = new double[l.Length];
        for (int c = 0; c < n; c++)
        {
            for (int i = c; i < n; i++)
            {
                double sum = i == c ? 1 : 0;
                for (int k = c; k < i; k++)
                {
                    sum -= l[(i * n) + k] * li[(k * n) + c];
                }

                li[(i * n) + c] = sum / l[(i * n) + i];
            }
        }

        var inverse = new double[l.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = 0;
                for (int k = i; k < n; k++)
                {
                    sum += li[(k * n) + i] * li[(k * n) + j];
                }

                inverse[(i * n) + j] = sum;
                inverse[(j * n) + i] = sum;
            }
        }

        return inverse;
    }

    /// <summary>U with Uᵀ·U = A: the transpose of A's lower Cholesky factor.</summary>
    private static double[] UpperCholesky(double[] a, int n)
    {
        var l = CholeskyLower(a, n);
        var u = new double[l.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                u[(j * n) + i] = l[(i * n) + j];
            }
        }

        return u;
    }
}
