using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeRuntime.Conversion;

namespace EdgeRuntime.Convert;

/// <summary>
/// edge-convert's command line, parsed by System.CommandLine. <see cref="Parse"/> throws <see cref="ArgumentException"/>
/// with what is wrong (exit 2), and returns null when --help was asked for.
/// </summary>
internal static class Arguments
{
    /// <summary>The help text: printed for --help, and to stderr after a usage error.</summary>
    public static string Usage
    {
        get
        {
            var writer = new StringWriter();
            new Definition().Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = writer });
            return writer.ToString().TrimEnd();
        }
    }

    public static (string Input, string Output, ConversionOptions Options, bool Json, bool ExternalData)? Parse(string[] args)
    {
        var d = new Definition();
        var result = d.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (result.GetResult(d.Help) is not null)
        {
            return null;
        }

        if (result.Errors.Count > 0)
        {
            throw new ArgumentException(Describe(result, d));
        }

        var target = result.GetValue(d.Target);
        var layout = result.GetValue(d.TernaryLayout);
        if (layout is not null && target != ConversionTarget.BitLinear)
        {
            throw new ArgumentException("--ternary-layout goes with --to bitlinear (it says how the ternary weights are packed)");
        }

        bool qdqOptionGiven = result.GetResult(d.Calibration) is { Implicit: false } || result.GetResult(d.Activations) is { Implicit: false } || result.GetResult(d.Calibrate) is { Implicit: false } || result.GetResult(d.Percentile) is { Implicit: false } || result.GetResult(d.WeightBits) is { Implicit: false };
        if (qdqOptionGiven && target != ConversionTarget.Int8)
        {
            throw new ArgumentException("--calibration, --activations, --weight-bits, --calibrate and --percentile go with --to int8");
        }

        if (result.GetResult(d.Percentile) is { Implicit: false } && result.GetValue(d.Calibrate) != Conversion.Qdq.CalibrationMethod.Percentile)
        {
            throw new ArgumentException("--percentile goes with --calibrate percentile");
        }

        if (target == ConversionTarget.Int8 && result.GetValue(d.Calibration) is null)
        {
            throw new ArgumentException("--to int8 needs --calibration FOLDER (samples of the model's inputs as .npy)");
        }

        var options = new ConversionOptions(target, result.GetValue(d.Block), !result.GetValue(d.Symmetric), result.GetValue(d.AccuracyLevel), layout ?? Kernels.Ternary.TernaryLayout.FourPerByte)
        {
            Calibration = result.GetValue(d.Calibration),
            Qdq = new Conversion.Qdq.QdqOptions(result.GetValue(d.Activations), result.GetValue(d.Calibrate), result.GetValue(d.Percentile), result.GetValue(d.WeightBits)),
        };
        return (result.GetRequiredValue(d.Input), result.GetRequiredValue(d.Output), options, result.GetValue(d.Json), result.GetValue(d.ExternalData));
    }

    /// <summary>The first problem, in edge-convert's words where it had its own.</summary>
    private static string Describe(ParseResult result, Definition d)
    {
        if (result.UnmatchedTokens.FirstOrDefault(t => t.StartsWith("--", StringComparison.Ordinal)) is { } flag)
        {
            return $"unknown option '{flag}'";
        }

        // A missing or an extra model path.
        if (result.UnmatchedTokens.Count > 0 || result.Errors.Any(e => e.SymbolResult is ArgumentResult { Parent: CommandResult }))
        {
            return "give an input and an output model";
        }

        return result.GetResult(d.Target) is not { IdentifierTokenCount: > 0 } ? "--to is required (bitlinear, int4, int8 or int8-packed)" : result.Errors[0].Message;
    }

    private sealed class Definition
    {
        /// <summary>An option given twice takes its last value, as edge-convert always did.</summary>
        private static readonly ArgumentArity LastWins = new(1, 1000);

        public Definition()
        {
            Root = new RootCommand(
                "edge-convert: pack a float ONNX model's linear layers (MatMul/Gemm with constant 2-D weights) into quantized "
                + "ops for edged, or an 8-bit model's weights into the layout edged's kernel reads in place (--to int8-packed). Prints, per converted layer, the weight shape, the quantization error (SQNR in dB: "
                + "10·log10(Σw²/Σ(w−ŵ)²)) and the weight bytes before and after, then the model sizes; layers that cannot be "
                + "converted are listed with the reason. Weights are found in initializers (inline or in external data files), Constant "
                + "nodes and Identity/Cast/Transpose chains over them, as float, float16, bfloat16 or double. Exits 0, 3 when no layer "
                + "was converted (the output equals the input), 2 on usage errors, 1 when a file cannot be read or written, 4 when ONNX "
                + "Runtime refuses the converted model (nothing is written). 'edge-convert import CHECKPOINT OUT-FOLDER' imports a "
                + "BitNet b1.58 checkpoint (Hugging Face or bitnet.cpp GGUF) into a language-model folder: see edge-convert import --help.")
            {
                Input, Output, Target, TernaryLayout, Block, Symmetric, AccuracyLevel, Calibration, Activations, WeightBits, Calibrate, Percentile, ExternalData, Json,
            };
            Root.HelpName = "edge-convert";
            Root.Options.Remove(Root.Options.OfType<VersionOption>().Single());
            Root.Options.Remove(Root.Options.OfType<System.CommandLine.Help.HelpOption>().Single());
            Root.Options.Add(Help);
        }

        public RootCommand Root { get; }

        public Argument<string> Input { get; } = new("IN.onnx") { Description = "the float model (an 8-bit one for --to int8-packed)" };

        public Argument<string> Output { get; } = new("OUT.onnx") { Description = "the converted model to write" };

        public Option<ConversionTarget> Target { get; } = new("--to")
        {
            Description = "bitlinear: every MatMul with float weights W [K, N] becomes ai.edgeruntime::BitLinear, ternary weights "
                + "with BitNet b1.58's absmean scale (runs on edged's C# kernel); int4: com.microsoft::MatMulNBits, 4-bit "
                + "round-to-nearest per block along K; int8-packed: not a quantization, MatMulInteger and QLinearMatMul nodes "
                + "with constant 8-bit weights move to ai.edgeruntime with the weights stored in the kernel's packed layout, "
                + "so edged holds them once (outputs bit for bit the same); int8: static quantization to QDQ, int8 weights per output "
                + "channel for Conv, ConvTranspose, MatMul and Gemm (BatchNormalization folded first), activations calibrated on "
                + "--calibration samples, the form ORT's CPU kernels and QNN's HTP run as integers",
            HelpName = "bitlinear|int4|int8|int8-packed",
            Required = true,
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value switch
            {
                "bitlinear" => ConversionTarget.BitLinear,
                "int4" => ConversionTarget.Int4,
                "int8-packed" => ConversionTarget.Int8Packed,
                "int8" => ConversionTarget.Int8,
                var other => Fail<ConversionTarget>(result, $"--to is '{other}'; it must be bitlinear, int4, int8 or int8-packed"),
            },
        };

        public Option<Kernels.Ternary.TernaryLayout?> TernaryLayout { get; } = TernaryLayoutOption.Create();

        public Option<int> Block { get; } = new("--block")
        {
            Description = "INT4 block size, a power of two from 16 to 256",
            HelpName = "N",
            Arity = LastWins,
            DefaultValueFactory = _ => 32,
            CustomParser = result => Number(result),
        };

        public Option<bool> Symmetric { get; } = new("--symmetric") { Description = "INT4 without zero points (default: asymmetric, with zero points)" };

        public Option<int> AccuracyLevel { get; } = new("--accuracy-level")
        {
            Description = "MatMulNBits accuracy_level: 4 uses int8 activations, 0 keeps float activations",
            HelpName = "L",
            Arity = LastWins,
            DefaultValueFactory = _ => 4,
            CustomParser = result =>
            {
                int level = Number(result);
                return level is >= 0 and <= 4 ? level : Fail<int>(result, $"--accuracy-level is {level}; it must be 0 to 4");
            },
        };

        public Option<string?> Calibration { get; } = new("--calibration")
        {
            Description = "int8: a folder of calibration samples, one .npy per sample for a one-input model or one sub-folder per "
                + "sample holding INPUT-NAME.npy for each input; the last fifth is held back and only measured on",
            HelpName = "FOLDER",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<int> Activations { get; } = new("--activations")
        {
            Description = "int8: activation bits, 8 (uint8) or 16 (uint16: the W8A16 form NPUs run)",
            HelpName = "8|16",
            Arity = LastWins,
            DefaultValueFactory = _ => 8,
            CustomParser = result =>
            {
                int bits = Number(result);
                return bits is 8 or 16 ? bits : Fail<int>(result, $"--activations is {bits}; it must be 8 or 16");
            },
        };

        public Option<int?> WeightBits { get; } = new("--weight-bits")
        {
            Description = "int8: the weights' code range, 7 (-63..63) or 8 (-127..127). The default is 7 beside 8-bit activations, "
                + "because ONNX Runtime's x64 kernels without VNNI saturate on full 8-bit weights; give 8 for arm64, VNNI or an "
                + "NPU. Beside 16-bit activations the default is 8",
            HelpName = "7|8",
            Arity = LastWins,
            CustomParser = result =>
            {
                int bits = Number(result);
                return bits is 7 or 8 ? bits : Fail<int?>(result, $"--weight-bits is {bits}; it must be 7 or 8");
            },
        };

        public Option<Conversion.Qdq.CalibrationMethod> Calibrate { get; } = new("--calibrate")
        {
            Description = "int8: how an activation's range is taken from the samples: minmax (the extremes seen) or percentile "
                + "(the values at --percentile from each end, so rare outliers do not widen the step)",
            HelpName = "minmax|percentile",
            Arity = LastWins,
            DefaultValueFactory = _ => Conversion.Qdq.CalibrationMethod.MinMax,
            CustomParser = result => result.Tokens[^1].Value switch
            {
                "minmax" => Conversion.Qdq.CalibrationMethod.MinMax,
                "percentile" => Conversion.Qdq.CalibrationMethod.Percentile,
                var other => Fail<Conversion.Qdq.CalibrationMethod>(result, $"--calibrate is '{other}'; it must be minmax or percentile"),
            },
        };

        public Option<double> Percentile { get; } = new("--percentile")
        {
            Description = "int8 with --calibrate percentile: the percentile kept at each end, above 50 and at most 100",
            HelpName = "P",
            Arity = LastWins,
            DefaultValueFactory = _ => 99.999,
            CustomParser = result =>
            {
                string text = result.Tokens[^1].Value;
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && p > 50 && p <= 100
                    ? p
                    : Fail<double>(result, $"--percentile is '{text}'; it must be a number above 50 and at most 100");
            },
        };

        public Option<bool> Json { get; } = new("--json") { Description = "print the report as JSON" };

        public Option<bool> ExternalData { get; } = new("--external-data")
        {
            Description = "write initializers of 1 KiB or more to OUT.onnx.data beside the model, each on a 4 KiB page boundary, "
                + "so ONNX Runtime maps the weights from the file instead of reading them into memory",
        };

        public System.CommandLine.Help.HelpOption Help { get; } = new("--help", "-h") { Description = "print this help and exit" };

        private static int Number(ArgumentResult result)
        {
            string text = result.Tokens[^1].Value;
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                ? value
                : Fail<int>(result, $"{((OptionResult)result.Parent!).Option.Name} is '{text}', not a number");
        }

        private static T Fail<T>(ArgumentResult result, string message)
        {
            result.AddError(message);
            return default!;
        }
    }
}
