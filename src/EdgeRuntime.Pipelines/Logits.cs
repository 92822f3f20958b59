using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>From a classifier's logits to its answer, the same way for every pipeline.</summary>
internal static class Logits
{
    /// <summary>
    /// The first index of the largest logit, as numpy's argmax: taken on the logits rather than the probabilities,
    /// because two logits a hair apart can round to the same float probability.
    /// </summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Class probabilities (computed in double, shifted by the largest logit so exp cannot overflow) and their maximum.</summary>
    public static (float[] Probabilities, double Confidence) Softmax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
        {
            throw new EdgeRuntimeException(ErrorCodes.Internal, "A model returned no logits.");
        }

        double max = logits[ArgMax(logits)];
        var exp = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            exp[i] = Math.Exp(logits[i] - max);
            sum += exp[i];
        }

        var probabilities = new float[logits.Length];
        for (int i = 0; i < logits.Length; i++)
        {
            probabilities[i] = (float)(exp[i] / sum);
        }

        // The largest logit's exp is exactly 1.
        return (probabilities, 1 / sum);
    }
}
