namespace EdgeRuntime.Conversion.Qdq;

/// <summary>How an activation's range is taken from the calibration samples.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen.</summary>
    MinMax,

    /// <summary>
    /// The values at the given percentile from each end (99.999 by default), so a few outliers do not stretch the step
    /// for every other value; from a 4096-bin histogram over the min-max range, in a second pass.
    /// </summary>
    Percentile,
}

/// <summary>A tensor's range over the calibration samples.</summary>
public readonly record struct ActivationRange(float Min, float Max);

/// <summary>Runs the float model over the calibration samples and takes each named tensor's range.</summary>
internal static class ActivationStatistics
{
    private const int Bins = 4096;

    public static Dictionary<string, ActivationRange> Ranges(byte[] model, IReadOnlyList<string> tensors, ISet<string> graphOutputs, IReadOnlyList<CalibrationSample> samples, CalibrationMethod method, double percentile)
    {
        using var runner = new SampleRunner(SampleRunner.WithOutputs(model, tensors, graphOutputs));
        var min = new float[tensors.Count];
        var max = new float[tensors.Count];
        Array.Fill(min, float.PositiveInfinity);
        Array.Fill(max, float.NegativeInfinity);
        foreach (var sample in samples)
        {
            var values = runner.Run(sample, tensors);
            for (int t = 0; t < tensors.Count; t++)
            {
                foreach (float v in values[t])
                {
                    if (float.IsFinite(v))
                    {
                        min[t] = MathF.Min(min[t], v);
                        max[t] = MathF.Max(max[t], v);
                    }
                }
            }
        }

        if (method == CalibrationMethod.Percentile)
        {
            Clip(runner, tensors, samples, min, max, percentile);
        }

        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        for (int t = 0; t < tensors.Count; t++)
        {
            ranges[tensors[t]] = float.IsFinite(min[t]) ? new ActivationRange(min[t], max[t]) : new ActivationRange(0, 0);
        }

        return ranges;
    }

    // The second pass: a histogram per tensor over its min-max range, then the values where the given share of the
    // samples lies below and above.
    private static void Clip(SampleRunner runner, IReadOnlyList<string> tensors, IReadOnlyList<CalibrationSample> samples, float[] min, float[] max, double percentile)
    {
        var histograms = new long[tensors.Count][];
        for (int t = 0; t < tensors.Count; t++)
        {
            histograms[t] = new long[Bins];
        }

        foreach (var sample in samples)
        {
            var values = runner.Run(sample, tensors);
            for (int t = 0; t < tensors.Count; t++)
            {
                float width = (max[t] - min[t]) / Bins;
                if (!(width > 0))
                {
                    continue;
                }

                foreach (float v in values[t])
                {
                    if (float.IsFinite(v))
                    {
                        histograms[t][Math.Clamp((int)((v - min[t]) / width), 0, Bins - 1)]++;
                    }
                }
            }
        }

        double tail = (100 - percentile) / 100;
        for (int t = 0; t < tensors.Count; t++)
        {
            long total = histograms[t].Sum();
            if (total == 0)
            {
                continue;
            }

            float width = (max[t] - min[t]) / Bins;
            long limit = (long)Math.Floor(total * tail);
            int low = 0, high = Bins - 1;
            for (long seen = histograms[t][0]; low < Bins - 1 && seen <= limit; seen += histograms[t][++low])
            {
            }

            for (long seen = histograms[t][Bins - 1]; high > 0 && seen <= limit; seen += histograms[t][--high])
            {
            }

            (min[t], max[t]) = (min[t] + (low * width), min[t] + ((high + 1) * width));
        }
    }
}
