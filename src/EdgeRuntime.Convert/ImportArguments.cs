using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using EdgeRuntime.Conversion.Import;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Convert;

/// <summary>What <c>edge-convert import</c> was asked to do.</summary>
internal sealed record ImportRequest(string Input, string Output, ImportOptions Options, bool Json);

/// <summary>
/// <c>edge-convert import</c>'s command line. <see cref="Parse"/> throws <see cref="ArgumentException"/> with what is
/// wrong (exit 2), and returns null when --help was asked for.
/// </summary>
internal static class ImportArguments
{
    public const string Name = "import";

    public static string Usage
    {
        get
        {
            var writer = new StringWriter();
            new Definition().Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = writer });
            return writer.ToString().TrimEnd();
        }
    }

    public static ImportRequest? Parse(string[] args)
    {
        var d = new Definition();
        var result = d.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (result.GetResult(d.Help) is not null)
        {
            return null;
        }

        if (result.Errors.Count > 0)
        {
            if (result.UnmatchedTokens.FirstOrDefault(t => t.StartsWith("--", StringComparison.Ordinal)) is { } flag)
            {
                throw new ArgumentException($"unknown option '{flag}'");
            }

            bool paths = result.UnmatchedTokens.Count > 0 || result.Errors.Any(e => e.SymbolResult is ArgumentResult { Parent: CommandResult });
            throw new ArgumentException(paths ? "give a checkpoint (a Hugging Face folder or a .gguf file) and an output folder" : result.Errors[0].Message);
        }

        var options = new ImportOptions
        {
            TokenizerPath = result.GetValue(d.Tokenizer),
            ContextLength = result.GetResult(d.Context) is { IdentifierTokenCount: > 0 } ? result.GetValue(d.Context) : null,
            ChatTemplate = result.GetValue(d.ChatTemplate),
            EmbeddingFormat = result.GetValue(d.Embedding) ?? EmbeddingFormats.Int8,
            ProjectionFormat = result.GetValue(d.Projections) ?? ProjectionFormats.Float32,
            ProjectionBlockSize = result.GetResult(d.BlockSize) is { IdentifierTokenCount: > 0 } ? result.GetValue(d.BlockSize) : 32,
            StaticChunk = result.GetResult(d.StaticChunk) is { IdentifierTokenCount: > 0 } ? result.GetValue(d.StaticChunk) : null,
            StaticCapacity = result.GetResult(d.StaticCapacity) is { IdentifierTokenCount: > 0 } ? result.GetValue(d.StaticCapacity) : null,
            CalibrationText = result.GetValue(d.Calibration),
            DeltaAttention = DeltaSettings(result, d),
            HeadFormat = result.GetValue(d.Head),
            VisionFormat = result.GetValue(d.Vision) ?? VisionFormats.W8A16,
            CalibrationImages = result.GetValue(d.CalibrationImages),
            TernaryLayout = result.GetValue(d.TernaryLayout),
        };
        return new ImportRequest(result.GetRequiredValue(d.Input), result.GetRequiredValue(d.Output), options, result.GetValue(d.Json));
    }

    /// <summary>--delta-threshold turns delta attention on (--delta-window defaults to 32); --delta-window alone is an error.</summary>
    private static DeltaAttentionSettings? DeltaSettings(ParseResult result, Definition d)
    {
        bool window = result.GetResult(d.DeltaWindow) is { IdentifierTokenCount: > 0 };
        if (result.GetResult(d.DeltaThreshold) is not { IdentifierTokenCount: > 0 })
        {
            return window ? throw new ArgumentException("--delta-window goes with --delta-threshold (delta attention).") : null;
        }

        return new DeltaAttentionSettings { Window = window ? result.GetValue(d.DeltaWindow) : 32, Threshold = result.GetValue(d.DeltaThreshold) };
    }

    private sealed class Definition
    {
        private static readonly ArgumentArity LastWins = new(1, 1000);

        public Definition()
        {
            Root = new RootCommand(
                "edge-convert import: turn a BitNet b1.58 or LFM2 checkpoint, as downloaded, into a language-model folder for "
                + "edged (graph, weights, config.json, tokenizer.json). Reads a Hugging Face checkpoint folder (config.json, "
                + "model.safetensors or its shards, tokenizer.json; for BitNet packed ternary weights with weight_scale, or "
                + "bf16 master weights) or bitnet.cpp's GGUF with I2_S weights (its vocabulary becomes the tokenizer.json). "
                + "Prints the model's sizes, the bytes read and written and the time; with int4 projections also each "
                + "projection's SQNR and the logits' SQNR against the float model. Exits 0, 2 on usage errors, 1 when the "
                + "checkpoint cannot be read or is not a supported model (the message names the file, tensor and sizes).")
            {
                Input, Output, Tokenizer, Context, ChatTemplate, Embedding, Projections, BlockSize, StaticChunk, StaticCapacity, Calibration, DeltaThreshold, DeltaWindow, Head, Vision, CalibrationImages, TernaryLayout, Json,
            };
            Root.HelpName = "edge-convert import";
            Root.Options.Remove(Root.Options.OfType<VersionOption>().Single());
            Root.Options.Remove(Root.Options.OfType<System.CommandLine.Help.HelpOption>().Single());
            Root.Options.Add(Help);
        }

        public RootCommand Root { get; }

        public Argument<string> Input { get; } = new("CHECKPOINT") { Description = "a Hugging Face checkpoint folder (or its config.json), or a .gguf file" };

        public Argument<string> Output { get; } = new("OUT-FOLDER") { Description = "the model folder to write (created; an earlier import's files are replaced)" };

        public Option<string?> Tokenizer { get; } = new("--tokenizer")
        {
            Description = "a tokenizer.json to use instead of the checkpoint's (for a GGUF whose vocabulary is not byte-level BPE)",
            HelpName = "PATH",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<int> Context { get; } = PositiveNumber("--context", "positions the folder is made for (the KV cache's most), at most the trained context; default: the trained context");

        public Option<string?> ChatTemplate { get; } = new("--chat-template")
        {
            Description = "the chat template: bitnet, llama3, chatml or none; default: recognised from the checkpoint's own template",
            HelpName = "NAME",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<string?> Embedding { get; } = new("--embedding")
        {
            Description = "how the folder stores the token embedding and tied head: int8 (a scale per row, a quarter of the bytes; the default) or float32",
            HelpName = "FORMAT",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<string?> Projections { get; } = new("--projections")
        {
            Description = "how an LFM2 folder stores its projections: float32 (the default), int4 (MatMulNBits, a scale per block, W4 with int8 activations inside the kernel) or qdq (the NPU form: int4 LPBQ weights, uint16 activations calibrated on --calibration text; with --static-chunk); BitNet's are always ternary",
            HelpName = "FORMAT",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<int> BlockSize { get; } = new("--block-size")
        {
            Description = "with --projections int4 or qdq: the weights one scale covers along the input, 16, 32, 64, 128 or 256; default 32",
            HelpName = "N",
            Arity = LastWins,
            CustomParser = result =>
            {
                string text = result.Tokens[^1].Value;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && ProjectionFormats.BlockSizes.Contains(value))
                {
                    return value;
                }

                result.AddError($"--block-size is '{text}'; it must be one of {string.Join(", ", ProjectionFormats.BlockSizes)}");
                return 0;
            },
        };

        public Option<int> StaticChunk { get; } = PositiveNumber("--static-chunk", "write a static-shape export for NPUs (LFM2): a prefill graph of N tokens and a one-token decode graph over a fixed cache");

        public Option<int> StaticCapacity { get; } = PositiveNumber("--static-capacity", "with --static-chunk: the fixed cache length, the most tokens a session holds; default: the folder's context");

        public Option<string?> Calibration { get; } = new("--calibration")
        {
            Description = "with --projections qdq (required) or int4: a UTF-8 text file whose first 4096 tokens calibrate GPTQ's rounding of the int4 weights (and, for qdq, the activation ranges)",
            HelpName = "TEXT-FILE",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<double> DeltaThreshold { get; } = new("--delta-threshold")
        {
            Description = "attention with temporal sparsity (DeltaAttention): keys older than --delta-window are scored against a reference query whose components follow the query only where they changed by more than this times its RMS; 0 is exact",
            HelpName = "T",
            Arity = LastWins,
            CustomParser = result =>
            {
                string text = result.Tokens[^1].Value;
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && double.IsFinite(value))
                {
                    return value;
                }

                result.AddError($"--delta-threshold is '{text}', not a number of 0 or more");
                return 0;
            },
        };

        public Option<string?> Head { get; } = new("--head")
        {
            Description = "an LFM2 folder's output head: int4 adds a 4-bit copy of the tied table (block: --block-size with int4 projections, else 32) that the head reads instead of the table, fewer bytes a decoded token; default: the table as stored",
            HelpName = "FORMAT",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<string?> Vision { get; } = new("--vision")
        {
            Description = "a vision-language checkpoint's image encoder: w8a16 (the default: int8 weights per channel, uint16 activations calibrated on --calibration-images, QDQ for NPUs) or float32",
            HelpName = "FORMAT",
            Arity = LastWins,
            CustomParser = result =>
            {
                string text = result.Tokens[^1].Value;
                if (VisionFormats.All.Contains(text))
                {
                    return text;
                }

                result.AddError($"--vision is '{text}'; it must be one of {string.Join(", ", VisionFormats.All)}");
                return null;
            },
        };

        public Option<Kernels.Ternary.TernaryLayout?> TernaryLayout { get; } = TernaryLayoutOption.Create();

        public Option<string?> CalibrationImages { get; } = new("--calibration-images")
        {
            Description = "with a W8A16 vision encoder: an IDX file of uint8 images (.gz allowed; the first 256 are used) to calibrate its activations on; default: the checkpoint's calibration-images-idx3-ubyte",
            HelpName = "IDX-FILE",
            Arity = LastWins,
            CustomParser = result => result.Tokens[^1].Value,
        };

        public Option<int> DeltaWindow { get; } = PositiveNumber("--delta-window", "with --delta-threshold: the recent positions attended exactly; default 32");

        public Option<bool> Json { get; } = new("--json") { Description = "print the report as JSON" };

        public System.CommandLine.Help.HelpOption Help { get; } = new("--help", "-h") { Description = "print this help and exit" };

        private static Option<int> PositiveNumber(string name, string description) => new(name)
        {
            Description = description,
            HelpName = "N",
            Arity = LastWins,
            CustomParser = result =>
            {
                string text = result.Tokens[^1].Value;
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0)
                {
                    return value;
                }

                result.AddError($"{name} is '{text}', not a positive number");
                return 0;
            },
        };
    }
}
