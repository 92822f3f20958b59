using EdgeRuntime.Generation.Folder;

namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>
/// The GGUF a benchmark's peer loads: the same seeded weights as <see cref="SeededBitNet.WriteFolder"/>, written for
/// bitnet.cpp's llama.cpp of October 2024 (microsoft/BitNet c82b5e6, Eddie-Wang1120/llama.cpp 406a503). That fork knows
/// BitNet b1.58 only as architecture "bitnet" (NEOX RoPE, so q/k rows are not permuted; tied head = token_embd); its
/// I2_S layout is the one <see cref="BitNetGguf.EncodeI2s"/> writes. The vocabulary is filled to the configuration's
/// size so BOS and EOS keep their ids. Files are cached by name: a writer change that alters the bytes bumps
/// <see cref="FormatVersion"/>.
/// </summary>
public static class BitNetPeerGguf
{
    public const int FormatVersion = 1;

    /// <summary>$XDG_CACHE_HOME/edgeruntime/bench-llm, else ~/.cache/edgeruntime/bench-llm: outside the repository.</summary>
    public static string DefaultCacheFolder
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
            return Path.Combine(root, "edgeruntime", "bench-llm");
        }
    }

    /// <summary>The writer's options: architecture "bitnet", I2_S projections, the given embedding type, a full vocabulary.</summary>
    public static GgufOptions Options(uint embeddingType) => new() { Architecture = "bitnet", EmbeddingType = embeddingType, FillVocabulary = true };

    /// <summary>The ggml type number of an embedding type's name: f32, f16, q8_0.</summary>
    public static uint EmbeddingType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => 0,
        "f16" => 1,
        "q8_0" => 8,
        _ => throw new ArgumentException($"Unknown embedding type '{name}' (known: f32, f16, q8_0).", nameof(name)),
    };

    public static string FileName(LanguageModelConfig config, int seed, uint embeddingType)
    {
        string embedding = embeddingType switch { 0 => "f32", 1 => "f16", 8 => "q8_0", _ => $"t{embeddingType}" };
        return $"bitnet-l{config.Layers}-h{config.HiddenSize}-v{config.VocabSize}-c{config.ContextLength}-s{seed}-i2s-{embedding}-v{FormatVersion}.gguf";
    }

    /// <summary>The cached file's path, written first (to a temporary name, then moved) when absent.</summary>
    public static string WriteCached(string folder, LanguageModelConfig config, int seed, uint embeddingType, Action<string>? log = null)
    {
        string path = Path.Combine(folder, FileName(config, seed, embeddingType));
        if (File.Exists(path))
        {
            log?.Invoke($"cached: {path}");
            return path;
        }

        Directory.CreateDirectory(folder);
        string partial = $"{path}.{Environment.ProcessId}.partial";
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var weights = SeededBitNet.Weights(config, seed);
            log?.Invoke($"seeded weights (seed {seed}) in {clock.Elapsed.TotalSeconds:0.0} s; writing {path}");
            BitNetGguf.Write(partial, config, weights, Options(embeddingType));
            File.Move(partial, path, overwrite: true);
            log?.Invoke($"written in {clock.Elapsed.TotalSeconds:0.0} s: {new FileInfo(path).Length} bytes");
            return path;
        }
        finally
        {
            File.Delete(partial);
        }
    }
}
