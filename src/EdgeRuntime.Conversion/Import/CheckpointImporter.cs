using System.Diagnostics;
using System.Text.Json;
using EdgeRuntime.Generation.Evaluation;
using EdgeRuntime.Generation.Families;
using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Families.Lfm2;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Generation.Tokenization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// edge-convert import: reads a BitNet b1.58 checkpoint in either downloaded form (<see cref="CheckpointForm"/>), or a
/// Hugging Face LFM2 checkpoint, and writes one of our language-model folders from it. Problems with the input are <see cref="InvalidDataException"/>
/// (or <see cref="FileNotFoundException"/>) naming the file, the tensor and the numbers; bad options are
/// <see cref="ArgumentException"/>.
/// </summary>
public static class CheckpointImporter
{
    /// <summary>
    /// Which form <paramref name="input"/> is: a folder with config.json and safetensors (or a file in one) is a Hugging
    /// Face checkpoint; a file starting with "GGUF" is a GGUF.
    /// </summary>
    public static CheckpointForm Detect(string input)
    {
        if (Directory.Exists(input))
        {
            if (File.Exists(Path.Combine(input, HuggingFaceImporter.ConfigFile)) && SafeTensorsCheckpoint.HasWeights(input))
            {
                return CheckpointForm.HuggingFace;
            }

            throw new InvalidDataException($"{input} is a folder without config.json and {SafeTensorsCheckpoint.SingleFile} (or {SafeTensorsCheckpoint.IndexFile}): not a Hugging Face checkpoint.");
        }

        if (!File.Exists(input))
        {
            throw new FileNotFoundException($"{input} does not exist.", input);
        }

        if (GgufFile.HasMagic(input))
        {
            return CheckpointForm.Gguf;
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(input));
        if (folder is not null && Path.GetFileName(input) is HuggingFaceImporter.ConfigFile or SafeTensorsCheckpoint.SingleFile or SafeTensorsCheckpoint.IndexFile)
        {
            return Detect(folder);
        }

        throw new InvalidDataException($"{input} is neither a GGUF file (it does not start with \"GGUF\") nor a Hugging Face checkpoint folder.");
    }

    /// <summary>Reads the checkpoint without writing anything.</summary>
    public static ImportedBitNet Read(string input, ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.TokenizerPath is { } tokenizer && !File.Exists(tokenizer))
        {
            throw new FileNotFoundException($"The tokenizer {tokenizer} (--tokenizer) does not exist.", tokenizer);
        }

        return Detect(input) switch
        {
            CheckpointForm.HuggingFace => HuggingFaceImporter.Read(Directory.Exists(input) ? input : Path.GetDirectoryName(Path.GetFullPath(input))!, options),
            _ => GgufImporter.Read(input, options),
        };
    }

    /// <summary>
    /// Imports <paramref name="input"/> into the folder <paramref name="output"/> (created; files of an earlier import
    /// are replaced) and checks that the folder's tokenizer loads, so a folder that cannot serve is never left
    /// looking finished.
    /// </summary>
    public static ImportReport Import(string input, string output, ImportOptions options)
    {
        long started = Stopwatch.GetTimestamp();
        RefuseForeignFolder(output);
        if (Detect(input) == CheckpointForm.HuggingFace && ReadLfm2(input, options) is { } lfm2)
        {
            return WriteLfm2(input, output, lfm2, options, started);
        }

        var imported = Read(input, options);
        Directory.CreateDirectory(output);
        string tokenizer = imported.TokenizerPath ?? Path.Combine(output, imported.Config.Tokenizer);
        if (imported.GeneratedTokenizer is { } json)
        {
            File.WriteAllBytes(tokenizer, json);
        }

        var written = BitNetFolderWriter.Write(output, imported.Config, imported.Weights, tokenizer, options.TernaryLayout ?? Kernels.Ternary.TernaryLayout.FourPerByte);
        CheckTokenizer(output, written);

        var matrices = imported.Weights.Layers.SelectMany(l => new[] { l.Query, l.Key, l.Value, l.Output, l.Gate, l.Up, l.Down }).Select(m => (m.Rows, m.Columns));
        string form = imported.Form == CheckpointForm.HuggingFace ? "Hugging Face safetensors" : "bitnet.cpp GGUF";
        string projections = options.TernaryLayout == Kernels.Ternary.TernaryLayout.FivePerByte ? "ternary (1.6-bit, five weights a byte)" : "ternary";
        return Report(input, output, form, written, matrices, projections, null, (imported.InputFiles, imported.InputBytes), imported.ScaleNote, imported.TokenizerNote, started);
    }

    /// <summary>The report's fields every import fills the same way, from the written configuration and the projections' sizes.</summary>
    private static ImportReport Report(string input, string output, string form, LanguageModelConfig c, IEnumerable<(int Rows, int Columns)> projections, string projectionFormat, string? mixers, (int Files, long Bytes) read, string? scale, string tokenizer, long started)
    {
        var sizes = projections.ToArray();
        return new ImportReport(
            input,
            output,
            form,
            c.Family,
            c.Layers,
            c.HiddenSize,
            c.IntermediateSize,
            c.AttentionHeads,
            c.KvHeads,
            c.HeadDim,
            c.VocabSize,
            c.ContextLength,
            sizes.Length,
            sizes.Sum(m => (long)m.Rows * m.Columns),
            projectionFormat,
            mixers,
            read.Files,
            read.Bytes,
            c.WeightsBytes,
            scale,
            tokenizer,
            c.ChatTemplate,
            c.EmbeddingFormat,
            Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// Reads a Hugging Face folder as LFM2 when its config.json says lfm2 (model_type, or Lfm2ForCausalLM); null for any
    /// other model.
    /// </summary>
    public static ImportedLfm2? ReadLfm2(string input, ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string folder = Directory.Exists(input) ? input : Path.GetDirectoryName(Path.GetFullPath(input))!;
        string configPath = Path.Combine(folder, HuggingFaceImporter.ConfigFile);
        using var document = JsonFields.Parse(configPath);
        var json = new JsonFields(configPath, document.RootElement);
        if (!Lfm2HfConfig.IsLfm2(json))
        {
            return null;
        }

        if (options.TokenizerPath is { } tokenizer && !File.Exists(tokenizer))
        {
            throw new FileNotFoundException($"The tokenizer {tokenizer} (--tokenizer) does not exist.", tokenizer);
        }

        return Lfm2Importer.Read(folder, json, options);
    }

    private static ImportReport WriteLfm2(string input, string output, ImportedLfm2 imported, ImportOptions options, long started)
    {
        Directory.CreateDirectory(output);

        // The encoder first: config.json, written last, names it, so a failed import never leaves a folder that looks whole.
        var vision = WriteVisionEncoder(output, imported.Config, imported);
        var errors = new List<ProjectionError>();
        LanguageModelConfig c;
        int? calibrationTokens = null;
        if (imported.Config.Static is null)
        {
            // With calibration text, int4 projections are rounded by GPTQ over the calibration run's activations; the
            // run uses the static graph's builder, so it gets a static section of its own (one chunk from position 0).
            ActivationCalibration.Result? gptq = null;
            if (options.CalibrationText is { } text)
            {
                int chunk = CalibrationChunk(imported.Config);
                var tokens = CalibrationTokens(text, imported, chunk);
                calibrationTokens = tokens.Length;
                var calibrationConfig = imported.Config with { Static = new StaticShapes { PrefillChunk = chunk, Capacity = chunk }, Vision = null };
                gptq = ActivationCalibration.Run(calibrationConfig, imported.Weights, imported.TokenizerPath, [tokens], Path.Combine(Path.GetTempPath(), $"edge-convert-calibration-{Environment.ProcessId}-{Guid.NewGuid():N}"));
            }

            c = Lfm2FolderWriter.Write(output, imported.Config, imported.Weights, imported.TokenizerPath, errors, gptq);
        }
        else
        {
            ActivationCalibration.Result? ranges = null;
            if (imported.Config.Projections == ProjectionFormats.Qdq)
            {
                var tokens = CalibrationTokens(options.CalibrationText!, imported, imported.Config.Static.PrefillChunk);
                calibrationTokens = tokens.Length;
                ranges = ActivationCalibration.Run(imported.Config, imported.Weights, imported.TokenizerPath, [tokens], Path.Combine(Path.GetTempPath(), $"edge-convert-calibration-{Environment.ProcessId}-{Guid.NewGuid():N}"));
            }

            c = Lfm2FolderWriter.WriteStatic(output, imported.Config, imported.Weights, imported.TokenizerPath, errors, ranges);
        }

        CheckTokenizer(output, c);
        var logits = c.Projections == ProjectionFormats.Float32 && c.Static is null && c.HeadFormat is null ? null : LogitsAgainstFloat(output, imported);
        var matrices = imported.Weights.Layers.SelectMany(l => l.Mixer switch
        {
            Lfm2Attention a => new[] { a.Query, a.Key, a.Value, a.Output, l.W1, l.W2, l.W3 },
            Lfm2Conv v => [v.InProjection, v.OutProjection, l.W1, l.W2, l.W3],
            _ => [],
        }).Select(m => (m.Rows, m.Columns));
        int conv = LayerKinds.Layers(c, LayerKinds.Conv).Length;
        string projectionFormat = c.Projections switch
        {
            ProjectionFormats.Int4 => $"int4 (block {c.ProjectionBlockSize}{(c.HeadFormat is null ? "" : ", int4 head")})",
            ProjectionFormats.Qdq => $"QDQ (int4 LPBQ block {c.ProjectionBlockSize}, uint16 activations)",
            _ => c.Projections,
        };
        return Report(input, output, "Hugging Face safetensors", c, matrices, projectionFormat, $"{conv} conv (kernel {c.ConvKernel}) + {c.Layers - conv} attention", (imported.InputFiles, imported.InputBytes), null, imported.TokenizerNote, started) with
        {
            ProjectionErrors = errors.Count == 0 ? null : [.. errors],
            LogitsSqnrDb = logits?.SqnrDb,
            LogitsTokens = logits?.Positions,
            LogitsSameArgMax = logits?.SameArgMax,
            Static = c.Static,
            HtpCheck = c.Static is { } shapes ? HtpCheck(output, shapes) : null,
            CalibrationTokens = calibrationTokens,
            Vision = vision,
            VisionHtpCheck = c.Vision is { } v ? Inference.Providers.QnnOptions.HtpWholeGraphUnsuitability(Onnx.OnnxModelSummary.ReadFile(Path.Combine(output, v.Graph))) ?? "accepted" : null,
        };
    }

    /// <summary>A vision-language checkpoint's encoder graph, float32 or W8A16 (calibrated on the images given or the checkpoint's own).</summary>
    private static Generation.Families.Vision.VisionEncoderWriter.Report? WriteVisionEncoder(string output, LanguageModelConfig written, ImportedLfm2 imported)
    {
        if (written.Vision is not { } settings || imported.VisionWeights is not { } weights)
        {
            return null;
        }

        List<float[]>? images = null;
        if (settings.Quantization == VisionFormats.W8A16)
        {
            string path = imported.CalibrationImages ?? throw new ArgumentException($"A W8A16 vision encoder is calibrated on images: give --calibration-images (an IDX file of uint8 images), or --vision float32.");
            images = VisionCheckpoint.ReadImages(path, settings);
        }

        return Generation.Families.Vision.VisionEncoderWriter.Write(output, settings, written.HiddenSize, weights, images);
    }

    private static string HtpCheck(string output, StaticShapes shapes)
    {
        var rejected = new[] { shapes.PrefillGraph, shapes.DecodeGraph }
            .Select(graph => (graph, reason: Inference.Providers.QnnOptions.HtpWholeGraphUnsuitability(Onnx.OnnxModelSummary.ReadFile(Path.Combine(output, graph)))))
            .Where(r => r.reason is not null)
            .Select(r => $"{r.graph}: {r.reason}")
            .ToArray();
        return rejected.Length == 0 ? "accepted" : string.Join(" | ", rejected);
    }

    /// <summary>At most this many tokens of the calibration text are run (the activation ranges settle well before).</summary>
    private const int MaxCalibrationTokens = 4096;

    /// <summary>The chunk a dynamic folder's calibration runs in: 32 tokens, or the whole context when shorter.</summary>
    private static int CalibrationChunk(LanguageModelConfig config) => Math.Min(32, config.ContextLength);

    private static long[] CalibrationTokens(string path, ImportedLfm2 imported, int chunk)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The calibration text {path} (--calibration) does not exist.", path);
        }

        var tokenizer = ModelTokenizer.Load(imported.TokenizerPath, imported.Config.VocabSize);
        var ids = tokenizer.Encode(File.ReadAllText(path));
        if (ids.Count < chunk)
        {
            throw new InvalidDataException($"{path} has {ids.Count} tokens; calibration needs at least one chunk ({chunk}).");
        }

        return [.. ids.Take(MaxCalibrationTokens).Select(id => (long)id)];
    }

    /// <summary>
    /// The quantized folder's logits against the same model with float32 projections (written to a scratch folder, the
    /// embedding format the same), over the float model's own greedy continuation of its first token.
    /// </summary>
    private static LogitsComparison LogitsAgainstFloat(string quantized, ImportedLfm2 imported)
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"edge-convert-float-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            // A static export's head is quantized with its projections, so its reference is the whole float model.
            var floatConfig = imported.Config with { ProjectionFormat = null, ProjectionBlockSize = null, Static = null, HeadFormat = null, Vision = null };
            if (imported.Config.Static is not null)
            {
                floatConfig = floatConfig with { EmbeddingFormat = EmbeddingFormats.Float32 };
            }

            Lfm2FolderWriter.Write(scratch, floatConfig, imported.Weights, imported.TokenizerPath);
            return LogitsComparison.Run(scratch, quantized, positions: Math.Min(128, imported.Config.ContextLength - 1));
        }
        finally
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
    }

    /// <summary>A folder that cannot serve is never left looking finished: its tokenizer must load.</summary>
    private static void CheckTokenizer(string output, LanguageModelConfig written)
    {
        try
        {
            ModelTokenizer.Load(Path.Combine(output, written.Tokenizer), written.VocabSize);
        }
        catch (EdgeRuntimeException e)
        {
            throw new InvalidDataException($"The imported folder's tokenizer does not load: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writing a model folder replaces config.json: refuse a folder whose config.json is not one of ours (the
    /// checkpoint's own folder, most likely), so an import never overwrites what it reads.
    /// </summary>
    private static void RefuseForeignFolder(string output)
    {
        string config = Path.Combine(output, LanguageModelFolder.ConfigFile);
        if (!File.Exists(config))
        {
            return;
        }

        bool ours;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(config));
            ours = document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("format", out var format) && format.ValueKind == JsonValueKind.String
                && format.GetString() == LanguageModelConfig.FormatName;
        }
        catch (JsonException)
        {
            ours = false;
        }

        if (!ours)
        {
            throw new ArgumentException($"{output} holds a config.json that is not a language-model folder's (a Hugging Face checkpoint?); importing would overwrite it. Choose another output folder.");
        }
    }
}
