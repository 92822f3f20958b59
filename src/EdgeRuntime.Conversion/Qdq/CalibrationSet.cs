using EdgeRuntime.Formats;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>What a model input takes: its element type and dimensions (-1 where the model leaves one free).</summary>
public sealed record ModelInput(string Name, TensorDType DType, long[] Dims)
{
    public string Describe() => $"{DType.Name()} [{string.Join(", ", Dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";

    public bool Takes(Tensor tensor) =>
        tensor.DType == DType && tensor.Shape.Length == Dims.Length && tensor.Shape.Zip(Dims).All(p => p.Second < 0 || p.First == p.Second);
}

/// <summary>One calibration sample: a tensor for every model input.</summary>
public sealed record CalibrationSample(string Name, IReadOnlyList<Tensor> Inputs);

/// <summary>
/// The samples a static quantization is calibrated on, and those held back to measure it on data it has not seen.
/// A folder holds one .npy file per sample for a one-input model, or one sub-folder per sample with INPUT-NAME.npy for
/// each input. Samples are taken in name order; the last fifth (at least one, once there are two) is held back.
/// </summary>
public sealed record CalibrationSet(IReadOnlyList<CalibrationSample> Calibration, IReadOnlyList<CalibrationSample> HeldBack)
{
    public static CalibrationSet Load(string folder, IReadOnlyList<ModelInput> inputs)
    {
        if (!Directory.Exists(folder))
        {
            throw new InvalidDataException($"The calibration folder '{folder}' does not exist.");
        }

        var samples = new List<CalibrationSample>();
        string[] files = [.. Directory.GetFiles(folder, "*.npy").Order(StringComparer.Ordinal)];
        string[] folders = [.. Directory.GetDirectories(folder).Order(StringComparer.Ordinal)];
        if (files.Length > 0)
        {
            if (inputs.Count != 1)
            {
                throw new InvalidDataException($"'{folder}' holds .npy files directly, which suits a model with one input; this one has {inputs.Count} ({string.Join(", ", inputs.Select(i => i.Name))}): put each sample in a sub-folder with one NAME.npy per input.");
            }

            samples.AddRange(files.Select(file => new CalibrationSample(Path.GetFileName(file), [Checked(NpyFile.Read(file, inputs[0].Name), inputs[0], file)])));
        }
        else
        {
            foreach (string sample in folders)
            {
                var tensors = inputs.Select(input =>
                {
                    string file = Path.Combine(sample, input.Name + ".npy");
                    return File.Exists(file)
                        ? Checked(NpyFile.Read(file, input.Name), input, file)
                        : throw new InvalidDataException($"Calibration sample '{Path.GetFileName(sample)}' has no {input.Name}.npy for input '{input.Name}' ({input.Describe()}).");
                }).ToArray();
                samples.Add(new CalibrationSample(Path.GetFileName(sample), tensors));
            }
        }

        if (samples.Count == 0)
        {
            throw new InvalidDataException($"'{folder}' holds no calibration samples (.npy files, or sub-folders of them).");
        }

        int heldBack = samples.Count >= 2 ? Math.Max(1, samples.Count / 5) : 0;
        return new CalibrationSet(samples[..^heldBack], samples[^heldBack..]);
    }

    private static Tensor Checked(Tensor tensor, ModelInput input, string file) => input.Takes(tensor)
        ? tensor
        : throw new InvalidDataException($"Calibration file '{file}' is {tensor.DType.Name()} {tensor.DescribeShape()}, but input '{input.Name}' takes {input.Describe()}.");
}
