using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// A loaded decoder: the ONNX Runtime session over the folder's graph, its memory-mapped weights, and the state (KV
/// cache and, for hybrid models, conv state) of all its slots. <see cref="Step"/> runs new tokens for a run of neighbouring slots and returns their next-token
/// logits; the cache is updated in place. Not thread-safe: the engine calls it from one loop.
/// </summary>
internal sealed class DecoderModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly WeightMap _weights;
    private readonly RunOptions _run = new();
    private readonly float[] _logits;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int[] _attentionLayers;
    private readonly int[] _convLayers;

    private DecoderModel(LanguageModelFolder folder, InferenceSession session, WeightMap weights, DecoderState state)
    {
        Folder = folder;
        _session = session;
        _weights = weights;
        State = state;
        var config = folder.Config;
        _logits = new float[(long)state.Slots * config.VocabSize];
        _attentionLayers = LayerKinds.Layers(config, LayerKinds.Attention);
        _convLayers = LayerKinds.Layers(config, LayerKinds.Conv);
        _inputNames =
        [
            DecoderNames.InputIds, DecoderNames.SeqLensK, DecoderNames.TotalSequenceLength,
            .. _attentionLayers.SelectMany(l => new[] { DecoderNames.PastKey(l), DecoderNames.PastValue(l) }),
            .. _convLayers.Select(DecoderNames.PastConv),
        ];
        _outputNames =
        [
            DecoderNames.Logits,
            .. _attentionLayers.SelectMany(l => new[] { DecoderNames.PresentKey(l), DecoderNames.PresentValue(l) }),
            .. _convLayers.Select(DecoderNames.PresentConv),
        ];
    }

    public LanguageModelFolder Folder { get; }

    public LanguageModelConfig Config => Folder.Config;

    /// <summary>The sessions' KV caches and conv states.</summary>
    public DecoderState State { get; }

    /// <summary>Positions one session can hold.</summary>
    public int Capacity => State.Capacity;

    /// <summary>Bytes of the mapped weights file.</summary>
    public long WeightBytes => _weights.Length;

    public static DecoderModel Load(LanguageModelFolder folder, DecoderOptions options)
    {
        var config = folder.Config;
        int capacity = options.ContextLimit > 0 ? Math.Min(options.ContextLimit, config.ContextLength) : config.ContextLength;
        byte[] graph = File.ReadAllBytes(folder.GraphPath);
        var weights = WeightMap.Open(folder, graph, options.VerifyWeights);
        DecoderState? state = null;
        try
        {
            using var sessionOptions = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = options.IntraOpThreads });

            // ORT would otherwise repack the head's weights (the embedding table) for its GEMM: a second copy of the
            // largest tensor. The mapped weights are the only copy.
            sessionOptions.AddSessionConfigEntry("session.disable_prepacking", "1");

            // ORT's idle intra-op threads spin between runs by default. A generation step is long (tens of ms) and the
            // gaps between steps are where token frames are sent and other work runs: spinning there took the cores
            // from them. Measured with 2 threads on the 2B4T-shaped model next to other load: 10-13 tok/s spinning,
            // 18 tok/s not, and the token hand-off lag p50 3.8 → 0.9 ms.
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            weights.AddTo(sessionOptions);
            InferenceSession session;
            try
            {
                // From the path, so ORT resolves (and validates) the external-data location; the mapped tensors replace its reads.
                // Created on a lowered thread: ORT starts its intra-op threads here, and they inherit its priority.
                session = ComputePriority.CreateLowered(() => new InferenceSession(folder.GraphPath, sessionOptions));
            }
            catch (OnnxRuntimeException e)
            {
                throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"ONNX Runtime refused {folder.GraphPath}: {e.Message}", e);
            }

            state = new DecoderState(config, Math.Max(1, options.Slots), capacity);
            return new DecoderModel(folder, session, weights, state);
        }
        catch
        {
            state?.Dispose();
            weights.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="sequence"/> new tokens for each of <paramref name="batch"/> sessions in slots
    /// [<paramref name="firstSlot"/>, firstSlot + batch). <paramref name="totalLengths"/>[b] is session b's length
    /// once these tokens are in (past + sequence). Returns the batch's logits, [batch, vocab], valid until the next step;
    /// the caller may modify them in place (sampling does). A sequence with nothing before these tokens starts from a
    /// cleared conv state, so a slot's earlier occupant leaves nothing behind.
    /// </summary>
    public Span<float> Step(ReadOnlySpan<long> tokens, int batch, int sequence, ReadOnlySpan<int> totalLengths, int firstSlot)
    {
        var inputs = new OrtValue[_inputNames.Length];
        var outputs = new OrtValue[_outputNames.Length];
        var seqLens = new int[batch];
        int longest = 0;
        for (int b = 0; b < batch; b++)
        {
            seqLens[b] = totalLengths[b] - 1;
            longest = Math.Max(longest, totalLengths[b]);
            if (totalLengths[b] == sequence)
            {
                State.Conv.Clear(firstSlot + b);
            }
        }

        try
        {
            inputs[0] = OrtValue.CreateTensorValueFromMemory(tokens[..(batch * sequence)].ToArray(), [batch, sequence]);
            inputs[1] = OrtValue.CreateTensorValueFromMemory(seqLens, [batch]);
            inputs[2] = OrtValue.CreateTensorValueFromMemory(new[] { longest }, []);
            for (int i = 0; i < _attentionLayers.Length; i++)
            {
                // The same tensors are past and present: GroupQueryAttention sees one buffer and appends in place.
                inputs[3 + (2 * i)] = outputs[1 + (2 * i)] = State.Kv.View(_attentionLayers[i], value: false, firstSlot, batch);
                inputs[4 + (2 * i)] = outputs[2 + (2 * i)] = State.Kv.View(_attentionLayers[i], value: true, firstSlot, batch);
            }

            int convInputs = 3 + (2 * _attentionLayers.Length);
            int convOutputs = 1 + (2 * _attentionLayers.Length);
            for (int i = 0; i < _convLayers.Length; i++)
            {
                // Past and present conv state are one buffer too: the graph reads the old columns (Concat) before the
                // node that writes the new ones (Slice) runs, since that node takes the Concat's output as its input.
                inputs[convInputs + i] = outputs[convOutputs + i] = State.Conv.View(_convLayers[i], firstSlot, batch);
            }

            outputs[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _logits.AsMemory(0, batch * Config.VocabSize), [batch, Config.VocabSize]);
            _session.Run(_run, _inputNames, inputs, _outputNames, outputs);
            return _logits.AsSpan(0, batch * Config.VocabSize);
        }
        finally
        {
            inputs[0]?.Dispose();
            inputs[1]?.Dispose();
            inputs[2]?.Dispose();
            foreach (var value in outputs)
            {
                value?.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
        State.Dispose();
        _weights.Dispose();
    }
}
