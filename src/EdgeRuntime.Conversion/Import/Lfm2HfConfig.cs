using System.Text.Json;
using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.Conversion.Import;

/// <summary>An LFM2 checkpoint's sizes, layer kinds and conv kernel, as its config.json gives them.</summary>
internal sealed record Lfm2CheckpointConfig(CheckpointSizes Sizes, string[] LayerTypes, int ConvKernel, bool AutoAdjustedFeedForward);

/// <summary>
/// A Hugging Face LFM2 checkpoint's config.json (transformers <c>Lfm2Config</c>): the sizes, each layer's mixer from
/// <c>layer_types</c> (or the older <c>full_attn_idxs</c>), the conv kernel (<c>conv_L_cache</c>), RoPE θ under any of
/// the names it has had, and the feed-forward width after <c>block_auto_adjust_ff_dim</c>. What our graph does not
/// compute (conv biases, RoPE scaling, an untied head) is refused with the reason.
/// </summary>
internal static class Lfm2HfConfig
{
    /// <summary>Whether config.json describes an LFM2 model (model_type lfm2, or Lfm2ForCausalLM).</summary>
    public static bool IsLfm2(JsonFields json) =>
        json.OptionalString("model_type") == "lfm2"
        || (json.Root.TryGetProperty("architectures", out var architectures) && architectures.ValueKind == JsonValueKind.Array
            && architectures.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString() == "Lfm2ForCausalLM"));

    public static Lfm2CheckpointConfig Read(string folder, JsonFields json)
    {
        if (json.OptionalBool("conv_bias") == true)
        {
            throw new InvalidDataException($"{json.Path}: conv_bias is true; LFM2's released models have no biases in their conv blocks and our graph adds none.");
        }

        if (json.Has("rope_scaling") || json.Object("rope_parameters")?.OptionalString("rope_type") is { } type && type != "default")
        {
            throw new InvalidDataException($"{json.Path} sets RoPE scaling; the importer supports plain RoPE only.");
        }

        if ((json.OptionalBool("tie_embedding") ?? json.OptionalBool("tie_word_embeddings")) == false)
        {
            throw new InvalidDataException($"{json.Path}: the embedding is not tied to the head (tie_embedding false); our LFM2 graph reads the head from the embedding.");
        }

        int hidden = json.Int("hidden_size");
        int heads = json.Int("num_attention_heads");
        int layers = json.Int("num_hidden_layers");
        var eos = json.Ids("eos_token_id").ToList();
        string generation = Path.Combine(folder, "generation_config.json");
        if (File.Exists(generation))
        {
            using var document = JsonFields.Parse(generation);
            eos.AddRange(new JsonFields(generation, document.RootElement).Ids("eos_token_id"));
        }

        var (intermediate, adjusted) = FeedForwardWidth(json);
        var sizes = new CheckpointSizes(
            json.Int("vocab_size"),
            hidden,
            intermediate,
            layers,
            heads,
            json.OptionalInt("num_key_value_heads") ?? heads,
            json.OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            RopeTheta(json),
            json.Has("norm_eps") ? json.Double("norm_eps") : 1e-5,
            json.Int("max_position_embeddings"),
            json.OptionalInt("bos_token_id"),
            [.. eos]);
        int kernel = json.OptionalInt("conv_L_cache") ?? 3;
        if (kernel < 2)
        {
            throw new InvalidDataException($"{json.Path}: conv_L_cache is {kernel}; a causal short convolution needs a kernel of 2 or more.");
        }

        return new Lfm2CheckpointConfig(sizes, LayerTypes(json, layers), kernel, adjusted);
    }

    /// <summary>
    /// layer_types ("full_attention" | "conv" per layer), else full_attn_idxs (the attention layers' indices), else every
    /// layer attention, as Lfm2Config decides; in our names (<see cref="LayerKinds"/>).
    /// </summary>
    private static string[] LayerTypes(JsonFields json, int layers)
    {
        if (json.Has("layer_types"))
        {
            var types = json.Root.GetProperty("layer_types");
            if (types.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidDataException($"{json.Path}: layer_types is not a list.");
            }

            var kinds = types.EnumerateArray().Select((t, i) => (t.ValueKind == JsonValueKind.String ? t.GetString() : null) switch
            {
                "full_attention" => LayerKinds.Attention,
                "conv" => LayerKinds.Conv,
                _ => throw new InvalidDataException($"{json.Path}: layer_types[{i}] is {t.GetRawText()}; an LFM2 layer is \"full_attention\" or \"conv\"."),
            }).ToArray();
            if (kinds.Length != layers)
            {
                throw new InvalidDataException($"{json.Path}: layer_types names {kinds.Length} layers; num_hidden_layers is {layers}.");
            }

            return kinds;
        }

        if (json.Has("full_attn_idxs"))
        {
            var indices = json.Ids("full_attn_idxs");
            if (indices.Any(i => i < 0 || i >= layers))
            {
                throw new InvalidDataException($"{json.Path}: full_attn_idxs holds {string.Join(", ", indices)}; the layers are 0..{layers - 1}.");
            }

            return [.. Enumerable.Range(0, layers).Select(l => indices.Contains(l) ? LayerKinds.Attention : LayerKinds.Conv)];
        }

        return [.. Enumerable.Repeat(LayerKinds.Attention, layers)];
    }

    /// <summary>
    /// The width Lfm2MLP builds: intermediate_size (or block_ff_dim), and with block_auto_adjust_ff_dim, two thirds of
    /// it times block_ffn_dim_multiplier rounded up to block_multiple_of (LFM2-350M: 6656 → 4437 → 4608).
    /// </summary>
    private static (int Width, bool Adjusted) FeedForwardWidth(JsonFields json)
    {
        int width = json.OptionalInt("block_ff_dim") ?? json.Int("intermediate_size");
        if (json.OptionalBool("block_auto_adjust_ff_dim") == false)
        {
            return (width, false);
        }

        width = (int)(2.0 * width / 3);
        if (!json.Has("block_ffn_dim_multiplier") || json.Root.GetProperty("block_ffn_dim_multiplier").ValueKind == JsonValueKind.Null)
        {
            return (width, true);
        }

        double multiplier = json.Double("block_ffn_dim_multiplier");
        int multiple = json.OptionalInt("block_multiple_of") ?? 256;
        width = (int)(multiplier * width);
        return (multiple * ((width + multiple - 1) / multiple), true);
    }

    private static double RopeTheta(JsonFields json)
    {
        if (json.Has("rope_theta"))
        {
            return json.Double("rope_theta");
        }

        if (json.Has("theta"))
        {
            return json.Double("theta");
        }

        return json.Object("rope_parameters") is { } parameters && parameters.Has("rope_theta") ? parameters.Double("rope_theta") : 1_000_000;
    }
}
