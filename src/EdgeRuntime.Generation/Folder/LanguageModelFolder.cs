using System.Text.Json;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Generation.Folder;

/// <summary>
/// An opened language-model folder: its configuration, checked for consistency, and the paths of its files. Opening
/// reads only config.json and the files' sizes; the weights are mapped later by <see cref="WeightMap"/>.
/// </summary>
public sealed class LanguageModelFolder
{
    public const string ConfigFile = "config.json";

    private LanguageModelFolder(string path, LanguageModelConfig config, Decoding.DecoderIo io)
    {
        Path = path;
        Config = config;
        Io = io;
    }

    /// <summary>The graph's input and output names: ours, or ONNX Runtime GenAI's for a folder its model builder wrote.</summary>
    public Decoding.DecoderIo Io { get; }

    public string Path { get; }

    public LanguageModelConfig Config { get; }

    /// <summary>The decoder graph; for a static-shape folder, its one-token decode graph.</summary>
    public string GraphPath => System.IO.Path.Combine(Path, Config.Static?.DecodeGraph ?? Config.Graph);

    /// <summary>A static-shape folder's prefill graph; null for any other folder.</summary>
    public string? PrefillGraphPath => Config.Static is { } shapes ? System.IO.Path.Combine(Path, shapes.PrefillGraph) : null;

    public string WeightsPath => System.IO.Path.Combine(Path, Config.Weights);

    /// <summary>A vision-language folder's image encoder graph; null for a text-only folder.</summary>
    public string? VisionGraphPath => Config.Vision is { } vision ? System.IO.Path.Combine(Path, vision.Graph) : null;

    public string TokenizerPath => System.IO.Path.Combine(Path, Config.Tokenizer);

    /// <summary>True when <paramref name="path"/> is a folder with a config.json (or GenAI's genai_config.json), or that file itself.</summary>
    public static bool IsLanguageModelPath(string path) =>
        (Directory.Exists(path) && (File.Exists(System.IO.Path.Combine(path, ConfigFile)) || File.Exists(System.IO.Path.Combine(path, GenAiFolder.ConfigFile))))
        || (File.Exists(path) && System.IO.Path.GetFileName(path) is ConfigFile or GenAiFolder.ConfigFile);

    /// <summary>Reads and checks config.json; every problem is an <see cref="EdgeRuntimeException"/> naming it.</summary>
    public static LanguageModelFolder Open(string path)
    {
        string folder = File.Exists(path) && System.IO.Path.GetFileName(path) is ConfigFile or GenAiFolder.ConfigFile ? System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))! : path;
        string configPath = System.IO.Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath) && File.Exists(System.IO.Path.Combine(folder, GenAiFolder.ConfigFile)))
        {
            var genAi = new LanguageModelFolder(folder, GenAiFolder.Read(folder), Decoding.DecoderIo.GenAi);
            CheckFiles(genAi);
            return genAi;
        }

        if (!File.Exists(configPath))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"{folder} is not a language-model folder: it has no {ConfigFile}.");
        }

        LanguageModelConfig config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllBytes(configPath), GenerationJsonContext.Default.LanguageModelConfig)
                ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath} is not a valid language-model configuration: {e.Message}", e);
        }

        // Fields a folder may leave out take their documented meaning here: the source-generated reader leaves an absent
        // string empty rather than applying the property's initializer.
        if (string.IsNullOrEmpty(config.EmbeddingFormat) || string.IsNullOrEmpty(config.ProjectionFormat))
        {
            config = config with
            {
                EmbeddingFormat = string.IsNullOrEmpty(config.EmbeddingFormat) ? EmbeddingFormats.Float32 : config.EmbeddingFormat,
                ProjectionFormat = string.IsNullOrEmpty(config.ProjectionFormat) ? null : config.ProjectionFormat,
            };
        }

        Check(config, configPath);
        var opened = new LanguageModelFolder(folder, config, Decoding.DecoderIo.EdgeRuntime);
        CheckFiles(opened);
        return opened;
    }

    /// <summary>The graph, weights and tokenizer exist, and the weights file has the length config.json says.</summary>
    private static void CheckFiles(LanguageModelFolder opened)
    {
        var config = opened.Config;
        var files = new List<(string File, string What)> { (opened.GraphPath, "graph"), (opened.WeightsPath, "weights"), (opened.TokenizerPath, "tokenizer") };
        if (opened.PrefillGraphPath is { } prefill)
        {
            files.Add((prefill, "prefill graph"));
        }

        if (opened.VisionGraphPath is { } vision)
        {
            files.Add((vision, "vision encoder"));
        }

        // The files config.json names are held to the same rules as a load path, with the folder as the root: a
        // folder may not point the daemon at files elsewhere (through "..", an absolute name or a symlink), nor at a FIFO.
        var inside = new Inference.Paths.ModelPaths(opened.Path);
        foreach (var (file, what) in files)
        {
            try
            {
                inside.Resolve(file, Inference.Paths.PathTarget.File);
            }
            catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.PathNotAllowed)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"The model's {what} file {file} (named in {ConfigFile}) lies outside the folder {opened.Path}; a model folder's files must be inside it.");
            }
            catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.ModelNotFound)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelNotFound, $"The model's {what} file {file} (named in {ConfigFile}) does not exist or is not a regular file.");
            }
        }

        long weightsLength = new FileInfo(opened.WeightsPath).Length;
        if (weightsLength != config.WeightsBytes)
        {
            string how = weightsLength < config.WeightsBytes ? "truncated" : "longer than written";
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{opened.WeightsPath} is {how}: it has {weightsLength} bytes; {ConfigFile} says {config.WeightsBytes}.");
        }
    }

    private static void Check(LanguageModelConfig config, string configPath)
    {
        if (config.Format != LanguageModelConfig.FormatName)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath} has format \"{config.Format}\"; an EdgeRuntime model folder says \"{LanguageModelConfig.FormatName}\". (A Hugging Face checkpoint is imported with edge-convert first.)");
        }

        if (config.FormatVersion != LanguageModelConfig.CurrentFormatVersion)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath} is format version {config.FormatVersion}; this edged reads version {LanguageModelConfig.CurrentFormatVersion}.");
        }

        if (config.Family is not (Families.BitNet.BitNetFolderWriter.Family or Families.Lfm2.Lfm2FolderWriter.Family))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: family is \"{config.Family}\"; this edged serves \"{Families.BitNet.BitNetFolderWriter.Family}\" and \"{Families.Lfm2.Lfm2FolderWriter.Family}\".");
        }

        Positive(config.VocabSize, "vocabSize");
        Positive(config.HiddenSize, "hiddenSize");
        Positive(config.IntermediateSize, "intermediateSize");
        Positive(config.Layers, "layers");
        Positive(config.AttentionHeads, "attentionHeads");
        Positive(config.KvHeads, "kvHeads");
        Positive(config.HeadDim, "headDim");
        Positive(config.ContextLength, "contextLength");
        if (config.AttentionHeads % config.KvHeads != 0)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: attentionHeads ({config.AttentionHeads}) must be a multiple of kvHeads ({config.KvHeads}).");
        }

        if (!EmbeddingFormats.All.Contains(config.EmbeddingFormat))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: embeddingFormat is \"{config.EmbeddingFormat}\"; this edged reads {string.Join(" or ", EmbeddingFormats.All)}.");
        }

        if (config.LayerTypes is { } types)
        {
            if (types.Length != config.Layers)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: layerTypes names {types.Length} layers; layers is {config.Layers}.");
            }

            int unknown = Array.FindIndex(types, t => !LayerKinds.All.Contains(t));
            if (unknown >= 0)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: layerTypes[{unknown}] is \"{types[unknown]}\"; a layer is {string.Join(" or ", LayerKinds.All)}.");
            }

            if (types.Contains(LayerKinds.Conv) && config.ConvKernel is not >= 2)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: the model has conv layers, so convKernel must be 2 or more (it is {config.ConvKernel?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "absent"}).");
            }
        }

        if (!ProjectionFormats.All.Contains(config.Projections))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: projectionFormat is \"{config.ProjectionFormat}\"; this edged reads {string.Join(" or ", ProjectionFormats.All)}.");
        }

        if (config.Projections != ProjectionFormats.Float32 && (config.ProjectionBlockSize is not { } block || !ProjectionFormats.BlockSizes.Contains(block)))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: {config.Projections} projections need projectionBlockSize {string.Join(", ", ProjectionFormats.BlockSizes)}; it is {config.ProjectionBlockSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "absent"}.");
        }

        if (config.Projections == ProjectionFormats.Qdq && config.Static is null)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: qdq projections are written for static-shape folders only, and this folder has no \"static\" section.");
        }

        if (config.HeadFormat is { } head && (head != HeadFormats.Int4 || config.Family != Families.Lfm2.Lfm2FolderWriter.Family || config.Static is not null))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: headFormat is \"{head}\"; an {Families.Lfm2.Lfm2FolderWriter.Family} folder with dynamic shapes may say \"{HeadFormats.Int4}\" (or leave it out).");
        }

        if (config.DeltaAttention is { } delta && (delta.Window < 1 || !(delta.Threshold >= 0) || !double.IsFinite(delta.Threshold) || config.Static is not null))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: deltaAttention needs a window of at least 1 (it is {delta.Window}), a finite threshold of 0 or more (it is {delta.Threshold}), and a dynamic-shape folder (no static section).");
        }

        if (config.Vision is { } image && (image.ImageHeight < 1 || image.ImageWidth < 1 || image.Channels < 1 || image.ImageTokens < 1 || config.Static is not null || (image.Quantization is { } q && !VisionFormats.All.Contains(q))))
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: vision needs a positive imageHeight, imageWidth, channels and imageTokens, a quantization of {string.Join(" or ", VisionFormats.All)} (or none), and a dynamic-shape folder (no static section).");
        }

        if (config.Static is { } shapes)
        {
            if (config.Family != Families.Lfm2.Lfm2FolderWriter.Family)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: static-shape graphs are exported for the {Families.Lfm2.Lfm2FolderWriter.Family} family; this folder's family is \"{config.Family}\".");
            }

            if (shapes.PrefillChunk < 1 || shapes.Capacity < shapes.PrefillChunk || shapes.Capacity > config.ContextLength)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: static.prefillChunk is {shapes.PrefillChunk} and static.capacity {shapes.Capacity}; they need 1 <= prefillChunk <= capacity <= contextLength ({config.ContextLength}).");
            }
        }

        foreach (int id in config.EosTokenIds.Append(config.BosTokenId ?? 0))
        {
            if (id < 0 || id >= config.VocabSize)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: special token id {id} is outside the vocabulary (0..{config.VocabSize - 1}).");
            }
        }

        void Positive(int value, string name)
        {
            if (value <= 0)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelInvalid, $"{configPath}: {name} is {value}; it must be positive.");
            }
        }
    }
}
