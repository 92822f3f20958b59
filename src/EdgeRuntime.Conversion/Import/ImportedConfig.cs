using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Generation.Tokenization;

namespace EdgeRuntime.Conversion.Import;

/// <summary>The sizes an importer reads from a checkpoint, before the user's options are applied.</summary>
internal sealed record CheckpointSizes(
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int Layers,
    int AttentionHeads,
    int KvHeads,
    int HeadDim,
    double RopeTheta,
    double RmsNormEps,
    int ContextLength,
    int? BosTokenId,
    int[] EosTokenIds);

/// <summary>Turns a checkpoint's sizes and the user's options into our folder's configuration.</summary>
internal static class ImportedConfig
{
    public static LanguageModelConfig Build(CheckpointSizes sizes, ImportOptions options, string? chatTemplateText, string source, string origin, string family = BitNetFolderWriter.Family)
    {
        Check(sizes, origin);
        int context = sizes.ContextLength;
        if (options.ContextLength is { } limit)
        {
            if (limit <= 0 || limit > sizes.ContextLength)
            {
                throw new ArgumentException($"--context is {limit}; it must be 1 to the {sizes.ContextLength} positions the model was trained for.");
            }

            context = limit;
        }

        if (!EmbeddingFormats.All.Contains(options.EmbeddingFormat))
        {
            throw new ArgumentException($"--embedding is '{options.EmbeddingFormat}'; it must be {string.Join(" or ", EmbeddingFormats.All)}.");
        }

        if (!ProjectionFormats.All.Contains(options.ProjectionFormat))
        {
            throw new ArgumentException($"--projections is '{options.ProjectionFormat}'; it must be {string.Join(" or ", ProjectionFormats.All)}.");
        }

        if (options.ProjectionFormat != ProjectionFormats.Float32 && family != Generation.Families.Lfm2.Lfm2FolderWriter.Family)
        {
            throw new ArgumentException($"--projections {options.ProjectionFormat} is for float checkpoints (LFM2); a {family} model's projections are ternary already.");
        }

        if (!ProjectionFormats.BlockSizes.Contains(options.ProjectionBlockSize))
        {
            throw new ArgumentException($"--block-size is {options.ProjectionBlockSize}; it must be one of {string.Join(", ", ProjectionFormats.BlockSizes)}.");
        }

        StaticShapes? shapes = null;
        if (options.StaticChunk is { } chunk)
        {
            if (family != Generation.Families.Lfm2.Lfm2FolderWriter.Family)
            {
                throw new ArgumentException($"--static-chunk exports static-shape graphs for LFM2 checkpoints; this is a {family} model.");
            }

            int capacity = options.StaticCapacity ?? context;
            if (chunk < 1 || capacity < chunk || capacity > context)
            {
                throw new ArgumentException($"--static-chunk {chunk} and --static-capacity {capacity}: they need 1 <= chunk <= capacity <= the context ({context}).");
            }

            shapes = new StaticShapes { PrefillChunk = chunk, Capacity = capacity };
        }
        else if (options.StaticCapacity is not null)
        {
            throw new ArgumentException("--static-capacity goes with --static-chunk (a static-shape export).");
        }

        if (options.CalibrationText is not null && options.ProjectionFormat == ProjectionFormats.Float32)
        {
            throw new ArgumentException("--calibration goes with --projections int4 (GPTQ rounding) or qdq; float32 projections are not rounded.");
        }

        if (options.ProjectionFormat == ProjectionFormats.Qdq && (shapes is null || options.CalibrationText is null))
        {
            throw new ArgumentException("--projections qdq is the NPU form: it needs --static-chunk (a static-shape export) and --calibration (text to calibrate the activations on).");
        }

        if (options.HeadFormat is { } head && (head != HeadFormats.Int4 || family != Generation.Families.Lfm2.Lfm2FolderWriter.Family || shapes is not null))
        {
            throw new ArgumentException($"--head is '{head}': an LFM2 folder with dynamic shapes takes --head {HeadFormats.Int4} (a static export quantizes its head with its projections).");
        }

        if (options.TernaryLayout is not null && family != BitNetFolderWriter.Family)
        {
            throw new ArgumentException("--ternary-layout is for BitNet checkpoints, whose projections are ternary; this checkpoint is " + family + ".");
        }

        if (options.DeltaAttention is { } delta && (delta.Window < 1 || !(delta.Threshold >= 0) || !double.IsFinite(delta.Threshold) || shapes is not null))
        {
            throw new ArgumentException($"--delta-window is {delta.Window} and --delta-threshold {delta.Threshold}: the window must be at least 1 and the threshold 0 or more, and delta attention is for the dynamic graph (not with --static-chunk).");
        }

        return new LanguageModelConfig
        {
            Format = LanguageModelConfig.FormatName,
            FormatVersion = LanguageModelConfig.CurrentFormatVersion,
            Family = family,
            VocabSize = sizes.VocabSize,
            HiddenSize = sizes.HiddenSize,
            IntermediateSize = sizes.IntermediateSize,
            Layers = sizes.Layers,
            AttentionHeads = sizes.AttentionHeads,
            KvHeads = sizes.KvHeads,
            HeadDim = sizes.HeadDim,
            RopeTheta = sizes.RopeTheta,
            RmsNormEps = sizes.RmsNormEps,
            ContextLength = context,
            BosTokenId = sizes.BosTokenId,
            EosTokenIds = [.. sizes.EosTokenIds.Distinct()],
            ChatTemplate = ChatTemplateName(options.ChatTemplate, chatTemplateText),
            EmbeddingFormat = options.EmbeddingFormat,
            ProjectionFormat = options.ProjectionFormat == ProjectionFormats.Float32 ? null : options.ProjectionFormat,
            ProjectionBlockSize = options.ProjectionFormat == ProjectionFormats.Float32 ? null : options.ProjectionBlockSize,
            Static = shapes,
            DeltaAttention = options.DeltaAttention,
            HeadFormat = options.HeadFormat,
            WeightsBytes = 0,
            Source = source,
        };
    }

    /// <summary>
    /// The template the user named, or the one the checkpoint's own Jinja template is recognised as: Llama 3's
    /// header tokens, ChatML's im_start, or BitNet b1.58 2B4T's "Role: content&lt;|eot_id|&gt;" turns that end
    /// in "Assistant: ". Anything else gives no template (the folder then serves raw prompts only).
    /// </summary>
    public static string? ChatTemplateName(string? requested, string? text)
    {
        if (requested is not null)
        {
            if (requested == "none")
            {
                return null;
            }

            if (!ChatTemplate.Names.Contains(requested))
            {
                throw new ArgumentException($"--chat-template is '{requested}'; it must be one of {string.Join(", ", ChatTemplate.Names)} or none.");
            }

            return requested;
        }

        if (text is null)
        {
            return null;
        }

        if (text.Contains("<|start_header_id|>", StringComparison.Ordinal))
        {
            return ChatTemplate.Llama3Name;
        }

        if (text.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            return ChatTemplate.ChatMLName;
        }

        return text.Contains("Assistant: ", StringComparison.Ordinal) && text.Contains("<|eot_id|>", StringComparison.Ordinal) ? ChatTemplate.BitNetName : null;
    }

    private static void Check(CheckpointSizes s, string origin)
    {
        foreach (var (value, name) in new[] { (s.VocabSize, "vocabulary size"), (s.HiddenSize, "hidden size"), (s.IntermediateSize, "intermediate size"), (s.Layers, "layer count"), (s.AttentionHeads, "attention heads"), (s.KvHeads, "key/value heads"), (s.HeadDim, "head size"), (s.ContextLength, "context length") })
        {
            if (value <= 0)
            {
                throw new InvalidDataException($"{origin}: the {name} is {value}.");
            }
        }

        if (s.AttentionHeads % s.KvHeads != 0 || s.HeadDim % 2 != 0)
        {
            throw new InvalidDataException($"{origin}: {s.AttentionHeads} attention heads are not a multiple of {s.KvHeads} key/value heads, or the head size {s.HeadDim} is odd.");
        }

        foreach (int id in s.EosTokenIds.Append(s.BosTokenId ?? 0))
        {
            if (id < 0 || id >= s.VocabSize)
            {
                throw new InvalidDataException($"{origin}: the special token id {id} is outside the vocabulary of {s.VocabSize}.");
            }
        }

        if (!(s.RopeTheta > 0) || !(s.RmsNormEps > 0))
        {
            throw new InvalidDataException($"{origin}: RoPE theta ({s.RopeTheta}) and the RMSNorm epsilon ({s.RmsNormEps}) must be positive.");
        }
    }
}
