using EdgeRuntime.Generation.Families.BitNet;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>How <see cref="BitNetGguf"/> writes the file.</summary>
public sealed record GgufOptions
{
    public string Architecture { get; init; } = "bitnet-b1.58";

    /// <summary>
    /// The embedding's ggml type: 0 F32, 1 F16 (bitnet.cpp's converters' default), 8 Q8_0 (blocks of 32: an fp16 scale
    /// d = max|x| / 127, then 32 int8 round(x / d), halves away from zero, as gguf-py quantizes), 30 BF16; others get
    /// dummy bytes.
    /// </summary>
    public uint EmbeddingType { get; init; } = 1;

    /// <summary>The projections' ggml type: 36 I2_S; others get dummy bytes.</summary>
    public uint ProjectionType { get; init; } = 36;

    /// <summary>
    /// Permute q/k rows as llama.cpp's LLaMA converter does for its interleaved RoPE (bitnet.cpp's BitNet converters do
    /// not): row h·d + 2j + i takes row h·d + i·d/2 + j of head h.
    /// </summary>
    public bool PermuteQueryKey { get; init; }

    /// <summary>Merges written as tokenizer.ggml.merges (pairs of plain text), after the 256 byte tokens.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; init; } = [];

    public string Pre { get; init; } = "llama-bpe";

    /// <summary>
    /// Fills the vocabulary to the configuration's size with tokens "&lt;|reserved_N|&gt;" (N the id) between the merges
    /// and the special tokens, so the specials take the last ids, where a configuration of 2B4T's shapes puts BOS and
    /// EOS (llama.cpp sizes the vocabulary from the token list). They are normal tokens that no merge produces, so
    /// llama.cpp prints a generated one as its text, which names its id.
    /// </summary>
    public bool FillVocabulary { get; init; }

    public string? ChatTemplate { get; init; }

    /// <summary>Changes a tensor's bytes before they are written (to make broken files): (name, bytes) → bytes.</summary>
    public Func<string, byte[], byte[]>? Tamper { get; init; }

    /// <summary>Writes output.weight: a copy of token_embd's bytes, or with <see cref="OutputDiffers"/> other bytes.</summary>
    public bool OutputHead { get; init; }

    public bool OutputDiffers { get; init; }

    /// <summary>Writes rope_freqs.weight (head size / 2 float32 factors) with this value; none when null.</summary>
    public float? RopeFactor { get; init; }
}

/// <summary>
/// Writes a BitNet b1.58 model as bitnet.cpp's GGUF with I2_S weights (microsoft/bitnet-b1.58-2B-4T-gguf's layout):
/// architecture "bitnet-b1.58" and its keys, a byte-level "gpt2" vocabulary (tokens, token types, merges, pre
/// "llama-bpe"), token_embd in F16, the norms in F32, and every projection as I2_S — 128-weight blocks of 32 bytes,
/// weight j of a block in byte j % 32 at bits 6 − 2·(j / 32) as w + 1, the float32 scale after the n/4 bytes, padded
/// to n/4 + 32 bytes (microsoft/BitNet src/ggml-bitnet-mad.cpp quantize_i2_s).
/// </summary>
public static class BitNetGguf
{
    /// <summary>Writes the file; returns the weights as it holds them (the embedding rounded to its type).</summary>
    public static BitNetWeights Write(string path, LanguageModelConfig config, BitNetWeights weights, GgufOptions? options = null)
    {
        options ??= new GgufOptions();
        string a = options.Architecture;
        var gguf = new GgufWriter()
            .String("general.architecture", a)
            .String("general.name", "bitnet2b")
            .UInt32($"{a}.vocab_size", (uint)config.VocabSize)
            .UInt32($"{a}.context_length", (uint)config.ContextLength)
            .UInt32($"{a}.embedding_length", (uint)config.HiddenSize)
            .UInt32($"{a}.block_count", (uint)config.Layers)
            .UInt32($"{a}.feed_forward_length", (uint)config.IntermediateSize)
            .UInt32($"{a}.rope.dimension_count", (uint)config.HeadDim)
            .UInt32($"{a}.attention.head_count", (uint)config.AttentionHeads)
            .UInt32($"{a}.attention.head_count_kv", (uint)config.KvHeads)
            .Bool("tokenizer.ggml.add_bos_token", true)
            .Float32($"{a}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps)
            .Float32($"{a}.rope.freq_base", (float)config.RopeTheta)
            .UInt32("general.file_type", 40);
        WriteVocabulary(gguf, config, options);

        void Add(string name, long[] dims, uint type, byte[] data) => gguf.Tensor(name, dims, type, options.Tamper?.Invoke(name, data) ?? data);

        float[] Norm(string name, float[] values)
        {
            Add(name, [values.Length], 0, GgufWriter.F32(values));
            return values;
        }

        TernaryMatrix Projection(string name, TernaryMatrix matrix, int heads)
        {
            var stored = options.PermuteQueryKey && heads > 0 ? PermuteRows(matrix, heads) : matrix;
            long n = (long)matrix.Rows * matrix.Columns;
            Add(name, [matrix.Columns, matrix.Rows], options.ProjectionType, options.ProjectionType == 36 ? EncodeI2s(stored) : new byte[(n / 4) + 32]);
            return matrix;
        }

        var embedding = EncodeEmbedding(weights.Embedding, options.EmbeddingType, out byte[] embeddingBytes);
        Add("token_embd.weight", [config.HiddenSize, config.VocabSize], options.EmbeddingType, embeddingBytes);
        var layers = new BitNetLayer[weights.Layers.Length];
        for (int l = 0; l < layers.Length; l++)
        {
            var layer = weights.Layers[l];
            string p = $"blk.{l}.";
            layers[l] = new BitNetLayer(
                Norm(p + "attn_norm.weight", layer.AttentionNorm),
                Projection(p + "attn_q.weight", layer.Query, config.AttentionHeads),
                Projection(p + "attn_k.weight", layer.Key, config.KvHeads),
                Projection(p + "attn_v.weight", layer.Value, 0),
                Norm(p + "attn_sub_norm.weight", layer.AttentionSubNorm),
                Projection(p + "attn_output.weight", layer.Output, 0),
                Norm(p + "ffn_norm.weight", layer.FeedForwardNorm),
                Projection(p + "ffn_gate.weight", layer.Gate, 0),
                Projection(p + "ffn_up.weight", layer.Up, 0),
                Norm(p + "ffn_sub_norm.weight", layer.FeedForwardSubNorm),
                Projection(p + "ffn_down.weight", layer.Down, 0));
        }

        var norm = Norm("output_norm.weight", weights.FinalNorm);
        if (options.OutputHead)
        {
            var head = (byte[])embeddingBytes.Clone();
            head[^1] ^= (byte)(options.OutputDiffers ? 1 : 0);
            Add("output.weight", [config.HiddenSize, config.VocabSize], options.EmbeddingType, head);
        }

        if (options.RopeFactor is { } factor)
        {
            Add("rope_freqs.weight", [config.HeadDim / 2], 0, GgufWriter.F32([.. Enumerable.Repeat(factor, config.HeadDim / 2)]));
        }

        gguf.Write(path);
        return new BitNetWeights(embedding, layers, norm);
    }

    /// <summary>I2_S: codes w + 1 in 128-weight blocks of 32 bytes (shift 6 − 2·(j / 32)), then the float32 scale.</summary>
    public static byte[] EncodeI2s(TernaryMatrix matrix)
    {
        long n = (long)matrix.Rows * matrix.Columns;
        var data = new byte[(n / 4) + 32];
        for (long k = 0; k < n; k++)
        {
            int code = matrix.WeightAt((int)(k / matrix.Columns), (int)(k % matrix.Columns)) + 1;
            long block = k / 128;
            int j = (int)(k % 128);
            data[(block * 32) + (j % 32)] |= (byte)(code << (6 - (2 * (j / 32))));
        }

        BitConverter.TryWriteBytes(data.AsSpan((int)(n / 4), 4), matrix.Beta);
        return data;
    }

    /// <summary>llama.cpp convert's permute(weights, n_head): reshape(n_head, 2, d/2, in).swapaxes(1, 2).</summary>
    public static TernaryMatrix PermuteRows(TernaryMatrix matrix, int heads)
    {
        int d = matrix.Rows / heads;
        var weights = new sbyte[matrix.Rows * matrix.Columns];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < 2; i++)
            {
                for (int j = 0; j < d / 2; j++)
                {
                    int target = (h * d) + (2 * j) + i;
                    int source = (h * d) + (i * (d / 2)) + j;
                    for (int c = 0; c < matrix.Columns; c++)
                    {
                        weights[(target * matrix.Columns) + c] = (sbyte)matrix.WeightAt(source, c);
                    }
                }
            }
        }

        return TernaryMatrix.FromTernary(weights, matrix.Rows, matrix.Columns, matrix.Beta);
    }

    private static float[] EncodeEmbedding(float[] values, uint type, out byte[] bytes)
    {
        switch (type)
        {
            case 0:
                bytes = GgufWriter.F32(values);
                return values;
            case 1:
                bytes = new byte[values.Length * 2];
                var rounded = new float[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    var half = (Half)values[i];
                    BitConverter.TryWriteBytes(bytes.AsSpan(i * 2), half);
                    rounded[i] = (float)half;
                }

                return rounded;
            case 8:
                return EncodeQ8Zero(values, out bytes);
            case 30:
                bytes = Bf16.Encode(values);
                return Bf16.Round(values);
            default:
                // Q6_K and the like: blocks of 256 values in 210 bytes; the bytes are never decoded.
                bytes = new byte[values.Length / 256 * 210];
                return values;
        }
    }

    /// <summary>Q8_0 (ggml type 8): per 32 values an fp16 d = max|x| / 127 and 32 int8 round(x / d); returns d·q.</summary>
    public static float[] EncodeQ8Zero(ReadOnlySpan<float> values, out byte[] bytes)
    {
        const int Block = 32;
        if (values.Length % Block != 0)
        {
            throw new ArgumentException($"Q8_0 needs a multiple of {Block} values, not {values.Length}.", nameof(values));
        }

        bytes = new byte[values.Length / Block * (2 + Block)];
        var rounded = new float[values.Length];
        for (int b = 0; b < values.Length / Block; b++)
        {
            var block = values.Slice(b * Block, Block);
            float max = 0;
            foreach (float v in block)
            {
                max = MathF.Max(max, MathF.Abs(v));
            }

            float d = max / 127;
            var half = (Half)d;
            var output = bytes.AsSpan(b * (2 + Block), 2 + Block);
            BitConverter.TryWriteBytes(output, half);
            for (int j = 0; j < Block; j++)
            {
                int q = d == 0 ? 0 : (int)MathF.Round(block[j] / d, MidpointRounding.AwayFromZero);
                output[2 + j] = (byte)(sbyte)q;
                rounded[(b * Block) + j] = q * (float)half;
            }
        }

        return rounded;
    }

    private static void WriteVocabulary(GgufWriter gguf, LanguageModelConfig config, GgufOptions options)
    {
        var map = ByteTokenizerJson.ByteToChar();
        var tokens = new List<string>();
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(map[b].ToString());
        }

        tokens.AddRange(options.Merges.Select(m => ByteTokenizerJson.Spell(m.Left) + ByteTokenizerJson.Spell(m.Right)));
        var types = Enumerable.Repeat(1, tokens.Count).ToList();
        int fill = options.FillVocabulary ? config.VocabSize - tokens.Count - SeededBitNet.SpecialTokens.Length : 0;
        for (int i = 0; i < fill; i++)
        {
            tokens.Add($"<|reserved_{tokens.Count}|>");
            types.Add(1);
        }

        tokens.AddRange(SeededBitNet.SpecialTokens);
        types.AddRange(SeededBitNet.SpecialTokens.Select(_ => 3));
        if (tokens.Count != config.VocabSize)
        {
            throw new ArgumentException($"The vocabulary has {tokens.Count} tokens; the configuration says {config.VocabSize}.", nameof(config));
        }

        gguf.String("tokenizer.ggml.model", "gpt2")
            .String("tokenizer.ggml.pre", options.Pre)
            .Strings("tokenizer.ggml.tokens", tokens)
            .Float32s("tokenizer.ggml.scores", [.. tokens.Select(_ => 0f)])
            .Int32s("tokenizer.ggml.token_type", types)
            .Strings("tokenizer.ggml.merges", [.. options.Merges.Select(m => $"{ByteTokenizerJson.Spell(m.Left)} {ByteTokenizerJson.Spell(m.Right)}")]);
        if (config.BosTokenId is { } bos)
        {
            gguf.UInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        }

        if (config.EosTokenIds.Length > 0)
        {
            gguf.UInt32("tokenizer.ggml.eos_token_id", (uint)config.EosTokenIds[0]);
        }

        if (config.EosTokenIds.Length > 1)
        {
            gguf.UInt32("tokenizer.ggml.eot_token_id", (uint)config.EosTokenIds[1]);
        }

        if (options.ChatTemplate is { } template)
        {
            gguf.String("tokenizer.chat_template", template);
        }
    }
}
