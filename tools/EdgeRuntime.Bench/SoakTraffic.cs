using System.Buffers;
using System.Runtime.InteropServices;
using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Bench;

/// <summary>One request of the soak's mix and how to check its answer.</summary>
internal sealed class SoakCall : IDisposable
{
    private readonly Func<InferResult, bool> _check;
    private byte[]? _rented;

    public SoakCall(string model, Tensor[] inputs, Func<InferResult, bool> check, byte[]? rented = null)
    {
        Model = model;
        Inputs = inputs;
        _check = check;
        _rented = rented;
    }

    public string Model { get; }

    public Tensor[] Inputs { get; }

    /// <summary>True when the answer is this request's answer, element for element.</summary>
    public bool Check(InferResult result) => result.Outputs.Count == 1 && _check(result);

    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }
}

/// <summary>
/// The soak's mix of models and sizes. Every answer is checkable: the perceptrons' answers were computed in this
/// process with ONNX Runtime on the same inputs (bit for bit, same thread settings), and the int64 doubler's input
/// starts at a tag unique to the request, so an answer sent to the wrong request cannot pass.
/// </summary>
internal sealed class SoakTraffic
{
    public const string SmallMlp = "mlp";
    public const string WideMlp = "wide";
    public const string Doubler = "double";

    private const int PoolPerBatch = 32;
    private static readonly int[] DoublerLengths = [16, 1024, 16384, 131072]; // 128 B to 1 MiB

    private readonly (Tensor Input, float[] Expected)[] _small;
    private readonly (Tensor Input, float[] Expected)[] _wide;

    private SoakTraffic(string smallPath, string widePath, string doublerPath, (Tensor, float[])[] small, (Tensor, float[])[] wide)
    {
        SmallPath = smallPath;
        WidePath = widePath;
        DoublerPath = doublerPath;
        _small = small;
        _wide = wide;
    }

    public string SmallPath { get; }

    public string WidePath { get; }

    public string DoublerPath { get; }

    public static SoakTraffic Create(string directory, InferenceOptions options)
    {
        string small = Path.Combine(directory, "soak-mlp.onnx");
        string wide = Path.Combine(directory, "soak-wide.onnx");
        string doubler = Path.Combine(directory, "soak-double.onnx");
        File.WriteAllBytes(small, SampleModels.Mlp(256, 256, 64));
        File.WriteAllBytes(wide, SampleModels.Mlp(1024, 1024, 256, seed: 11));
        File.WriteAllBytes(doubler, SampleModels.DoubleInt64());
        var random = new Random(5);
        return new SoakTraffic(small, wide, doubler, Expected(small, 256, [1, 4, 16], random, options), Expected(wide, 1024, [1, 4], random, options));
    }

    /// <summary>The next request: 50 % the small perceptron, 20 % the wide one, 30 % the doubler at 128 B to 1 MiB.</summary>
    public SoakCall Next(Random random, long tag)
    {
        int pick = random.Next(100);
        if (pick < 50)
        {
            return Perceptron(SmallMlp, _small[random.Next(_small.Length)]);
        }

        if (pick < 70)
        {
            return Perceptron(WideMlp, _wide[random.Next(_wide.Length)]);
        }

        int lengthPick = random.Next(100);
        int length = DoublerLengths[lengthPick < 40 ? 0 : lengthPick < 70 ? 1 : lengthPick < 95 ? 2 : 3];
        return DoublerCall(tag, length);
    }

    /// <summary>A request on the small perceptron under another name (the soak loads and unloads it).</summary>
    public SoakCall SmallUnder(string model, Random random) => Perceptron(model, _small[random.Next(_small.Length)]);

    private static SoakCall Perceptron(string model, (Tensor Input, float[] Expected) sample) =>
        new(model, [sample.Input], result => MemoryMarshal.Cast<byte, float>(result.Outputs[0].Data.Span).SequenceEqual(sample.Expected));

    private static SoakCall DoublerCall(long tag, int length)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(length * sizeof(long));
        var values = MemoryMarshal.Cast<byte, long>(rented.AsSpan(0, length * sizeof(long)));
        long first = tag << 20; // room for 2^20 elements after each tag, so no two requests share a value
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = first + i;
        }

        var input = new Tensor("x", TensorDType.Int64, [length], rented.AsMemory(0, length * sizeof(long)));
        return new SoakCall(Doubler, [input], result =>
        {
            var doubled = MemoryMarshal.Cast<byte, long>(result.Outputs[0].Data.Span);
            if (doubled.Length != length)
            {
                return false;
            }

            for (int i = 0; i < doubled.Length; i++)
            {
                if (doubled[i] != 2 * (first + i))
                {
                    return false;
                }
            }

            return true;
        }, rented);
    }

    private static (Tensor, float[])[] Expected(string path, int width, int[] batches, Random random, InferenceOptions options)
    {
        using var local = new InProcessModel(path, options);
        var pool = new List<(Tensor, float[])>();
        foreach (int batch in batches)
        {
            for (int i = 0; i < PoolPerBatch; i++)
            {
                var values = new float[batch * width];
                for (int j = 0; j < values.Length; j++)
                {
                    values[j] = (float)((random.NextDouble() * 2) - 1);
                }

                var input = Tensor.Float32("x", [batch, width], values);
                pool.Add((input, local.RunFirstOutput([input])));
            }
        }

        return [.. pool];
    }
}
