using System.CommandLine;
using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli;

/// <summary>The command lines of tensor and wav2npy, which write .npy files and need no daemon.</summary>
internal static class FileCommands
{
    public static Command Tensor()
    {
        var output = new Argument<string>("OUT.npy") { Description = "the .npy file to write" };
        var dtype = new Option<TensorDType>("--dtype")
        {
            Description = "element type: float32 (default), float16, float64, int8, uint8, int16, uint16, int32, uint32, int64, uint64 or bool",
            HelpName = "DTYPE",
            DefaultValueFactory = _ => TensorDType.Float32,
            CustomParser = ValueParsers.Single<TensorDType>(TensorDTypes.TryParse, text => $"Unknown dtype '{text}'."),
        };
        var shape = new Option<long[]>("--shape")
        {
            Description = "dimensions separated by commas, e.g. 2,1,128; \"\" for a scalar",
            HelpName = "D0,D1,...",
            Required = true,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                if (text.Length == 0)
                {
                    return [];
                }

                string[] parts = text.Split(',');
                var dims = new long[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                {
                    if (!long.TryParse(parts[i], NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out dims[i]))
                    {
                        result.AddError($"Bad dimension '{parts[i]}' in --shape.");
                        return null;
                    }
                }

                return dims;
            },
        };
        var value = new Option<double>("--value")
        {
            Description = "the value of every element (default 0)",
            HelpName = "V",
            CustomParser = ValueParsers.Single<double>(ValueParsers.Number, text => $"--value takes a number, not '{text}'."),
        };
        var command = new Command("tensor", "Write a .npy file filled with one value: an initial recurrent state, a sample-rate scalar.") { output, dtype, shape, value };
        command.SetAction(parseResult => EdgeCtl.TensorFile(
            parseResult.GetRequiredValue(output), parseResult.GetValue(dtype), parseResult.GetRequiredValue(shape), parseResult.GetValue(value)));
        return command;
    }

    public static Command Wav2Npy()
    {
        var input = new Argument<string>("IN.wav") { Description = "a PCM WAV file (mixed down to mono)" };
        var output = new Argument<string>("OUT.npy") { Description = "the float32 [frames, N] .npy file to write" };
        var rate = PositiveInt("--rate", "HZ", "the sample rate to resample to", 16000);
        var frame = PositiveInt("--frame", "N", "samples per frame; the last frame is padded with zeros", 512);
        var command = new Command("wav2npy", "Turn a WAV file into float32 frames for a model that takes audio (e.g. Silero VAD: --rate 16000 --frame 512).") { input, output, rate, frame };
        command.SetAction(parseResult => EdgeCtl.Wav2Npy(
            parseResult.GetRequiredValue(input), parseResult.GetRequiredValue(output), parseResult.GetValue(rate), parseResult.GetValue(frame)));
        return command;
    }

    /// <summary>An option taking a whole number > 0 (absent: <paramref name="fallback"/>, shown in help unless 0).</summary>
    public static Option<int> PositiveInt(string name, string helpName, string description, int fallback)
    {
        var option = new Option<int>(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = ValueParsers.Single<int>(ValueParsers.PositiveInt, text => $"{name} takes a positive whole number, not '{text}'."),
        };
        if (fallback != 0)
        {
            option.DefaultValueFactory = _ => fallback;
        }

        return option;
    }
}
