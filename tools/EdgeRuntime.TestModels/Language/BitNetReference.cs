using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.TestModels.Language;

/// <summary>
/// BitNet b1.58's forward pass written as plainly as possible, recomputing every position from scratch (no cache):
/// the specification the ONNX graph, its KV cache and the engine are tested against.
/// </summary>
public sealed class BitNetReference(LanguageModelConfig config, BitNetWeights weights)
{
    // The table as the folder stores it (int8 rows dequantized): the model computes with exactly these values.
    private readonly float[] _embedding = EmbeddingFormats.AsStored(config.EmbeddingFormat, weights.Embedding, config.VocabSize, config.HiddenSize);

    /// <summary>Next-token logits after each position of <paramref name="tokens"/>: [positions][vocab].</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count;
        int hidden = config.HiddenSize;
        var h = new float[n][];
        for (int t = 0; t < n; t++)
        {
            h[t] = _embedding.AsSpan(tokens[t] * hidden, hidden).ToArray();
        }

        foreach (var layer in weights.Layers)
        {
            var x = h.Select(row => RmsNorm(row, layer.AttentionNorm)).ToArray();
            var q = x.Select(row => Linear(row, layer.Query)).ToArray();
            var k = x.Select(row => Linear(row, layer.Key)).ToArray();
            var v = x.Select(row => Linear(row, layer.Value)).ToArray();
            for (int t = 0; t < n; t++)
            {
                Rope(q[t], t, config.AttentionHeads);
                Rope(k[t], t, config.KvHeads);
            }

            for (int t = 0; t < n; t++)
            {
                var attention = RmsNorm(Attend(q, k, v, t), layer.AttentionSubNorm);
                var o = Linear(attention, layer.Output);
                for (int i = 0; i < hidden; i++)
                {
                    h[t][i] += o[i];
                }
            }

            for (int t = 0; t < n; t++)
            {
                var y = RmsNorm(h[t], layer.FeedForwardNorm);
                var gate = Linear(y, layer.Gate);
                var up = Linear(y, layer.Up);
                var inner = new float[gate.Length];
                for (int i = 0; i < inner.Length; i++)
                {
                    float r = MathF.Max(gate[i], 0);
                    inner[i] = r * r * up[i];
                }

                var down = Linear(RmsNorm(inner, layer.FeedForwardSubNorm), layer.Down);
                for (int i = 0; i < hidden; i++)
                {
                    h[t][i] += down[i];
                }
            }
        }

        var logits = new float[n][];
        for (int t = 0; t < n; t++)
        {
            var final = RmsNorm(h[t], weights.FinalNorm);
            logits[t] = new float[config.VocabSize];
            for (int token = 0; token < config.VocabSize; token++)
            {
                double sum = 0;
                for (int i = 0; i < hidden; i++)
                {
                    sum += (double)final[i] * _embedding[((long)token * hidden) + i];
                }

                logits[t][token] = (float)sum;
            }
        }

        return logits;
    }

    /// <summary>The greedy continuation of <paramref name="prompt"/>, <paramref name="count"/> tokens long (end-of-sequence ids included).</summary>
    public int[] Greedy(IEnumerable<int> prompt, int count)
    {
        var sequence = prompt.ToList();
        var generated = new List<int>();
        for (int i = 0; i < count; i++)
        {
            var logits = Logits(sequence)[^1];
            int next = Array.IndexOf(logits, logits.Max());
            generated.Add(next);
            sequence.Add(next);
        }

        return [.. generated];
    }

    private float[] RmsNorm(float[] x, float[] weight)
    {
        double squares = 0;
        foreach (float v in x)
        {
            squares += (double)v * v;
        }

        float inverse = (float)(1 / Math.Sqrt((squares / x.Length) + config.RmsNormEps));
        return x.Select((v, i) => v * inverse * weight[i]).ToArray();
    }

    private static float[] Linear(float[] x, TernaryMatrix matrix)
    {
        var unpacked = new sbyte[matrix.Rows * matrix.Columns];
        for (int r = 0; r < matrix.Rows; r++)
        {
            for (int c = 0; c < matrix.Columns; c++)
            {
                unpacked[(r * matrix.Columns) + c] = (sbyte)matrix.WeightAt(r, c);
            }
        }

        return BitLinearReference.Compute(x, 1, matrix.Columns, unpacked, matrix.Rows, matrix.Beta);
    }

    /// <summary>Rotates pairs (i, i + d/2) of every head by position · θ^(-2i/d).</summary>
    private void Rope(float[] x, int position, int heads)
    {
        int d = config.HeadDim;
        for (int head = 0; head < heads; head++)
        {
            for (int i = 0; i < d / 2; i++)
            {
                double angle = position * Math.Pow(config.RopeTheta, -2.0 * i / d);
                int a = (head * d) + i;
                int b = a + (d / 2);
                double x1 = x[a];
                double x2 = x[b];
                x[a] = (float)((x1 * Math.Cos(angle)) - (x2 * Math.Sin(angle)));
                x[b] = (float)((x2 * Math.Cos(angle)) + (x1 * Math.Sin(angle)));
            }
        }
    }

    /// <summary>Causal attention of position <paramref name="t"/>; query head h reads KV head h / (heads / kvHeads).</summary>
    private float[] Attend(float[][] q, float[][] k, float[][] v, int t)
    {
        int d = config.HeadDim;
        int group = config.AttentionHeads / config.KvHeads;
        var output = new float[config.AttentionHeads * d];
        for (int head = 0; head < config.AttentionHeads; head++)
        {
            int kvHead = head / group;
            var scores = new double[t + 1];
            for (int s = 0; s <= t; s++)
            {
                double dot = 0;
                for (int i = 0; i < d; i++)
                {
                    dot += (double)q[t][(head * d) + i] * k[s][(kvHead * d) + i];
                }

                scores[s] = dot / Math.Sqrt(d);
            }

            double max = scores.Max();
            double total = scores.Sum(score => Math.Exp(score - max));
            for (int s = 0; s <= t; s++)
            {
                double weight = Math.Exp(scores[s] - max) / total;
                for (int i = 0; i < d; i++)
                {
                    output[(head * d) + i] += (float)(weight * v[s][(kvHead * d) + i]);
                }
            }
        }

        return output;
    }
}
