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
    private readonly DecoderIo _io;
    private readonly int _fixedInputs;

    /// <summary>
    /// For a GenAI folder: where the graph writes the new conv state, copied into <see cref="State"/> after the step.
    /// Its graph was not written by us, so nothing says it reads all of the old state before writing the new.
    /// </summary>
    private readonly ConvStateCache? _convScratch;

    /// <summary>For a static-shape folder: its prefill and decode graphs, which take <see cref="Step"/>'s work.</summary>
    private StaticSteps? _static;

    private DecoderModel(LanguageModelFolder folder, InferenceSession session, WeightMap weights, DecoderState state)
    {
        Folder = folder;
        _session = session;
        _weights = weights;
        State = state;
        _io = folder.Io;
        var config = folder.Config;
        _logits = new float[(long)state.Slots * config.VocabSize];
        _attentionLayers = LayerKinds.Layers(config, LayerKinds.Attention);
        _convLayers = LayerKinds.Layers(config, LayerKinds.Conv);
        string[] fixedInputs = _io.IsGenAi ? [DecoderNames.InputIds, DecoderIo.AttentionMask]
            : config.Vision is null ? [DecoderNames.InputIds, DecoderNames.SeqLensK, DecoderNames.TotalSequenceLength]
            : [DecoderNames.InputIds, DecoderNames.SeqLensK, DecoderNames.TotalSequenceLength, DecoderNames.PrefixEmbeds];
        _fixedInputs = fixedInputs.Length;
        _inputNames =
        [
            .. fixedInputs,
            .. _attentionLayers.SelectMany(l => new[] { _io.PastKey(l), _io.PastValue(l) }),
            .. _convLayers.Select(_io.PastConv),
            .. state.Delta is null ? [] : _attentionLayers.SelectMany(l => new[] { DecoderNames.PastDeltaQuery(l), DecoderNames.PastDeltaScores(l), DecoderNames.PastDeltaStats(l) }),
        ];
        _outputNames =
        [
            DecoderNames.Logits,
            .. _attentionLayers.SelectMany(l => new[] { _io.PresentKey(l), _io.PresentValue(l) }),
            .. _convLayers.Select(_io.PresentConv),
            .. state.Delta is null ? [] : _attentionLayers.SelectMany(l => new[] { DecoderNames.PresentDeltaQuery(l), DecoderNames.PresentDeltaScores(l), DecoderNames.PresentDeltaStats(l) }),
        ];
        if (_io.IsGenAi && _convLayers.Length > 0)
        {
            _convScratch = new ConvStateCache(_convLayers, state.Slots, state.Conv.Channels, state.Conv.Width);
        }

        // GenAI graphs give logits [batch, 1, vocab] (a pruned head) or [batch, sequence, vocab] (every position).
        PrunedHead = !_io.IsGenAi || session.OutputMetadata[DecoderNames.Logits].Dimensions is [_, 1, _];
    }

    /// <summary>Whether the graph's logits are the last position's only (ours always; a GenAI graph may give every position's).</summary>
    private bool PrunedHead { get; }

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

        // A static-shape graph's cache inputs have a fixed length, so the cache is exactly that long whatever the limit.
        int capacity = config.Static is { } shapes ? shapes.Capacity
            : options.ContextLimit > 0 ? Math.Min(options.ContextLimit, config.ContextLength) : config.ContextLength;
        byte[] graph = File.ReadAllBytes(folder.GraphPath);
        var weights = WeightMap.Open(folder, graph, options.VerifyWeights);
        DecoderState? state = null;
        try
        {
            using var sessionOptions = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = options.IntraOpThreads });

            // ORT would otherwise repack the head's weights (the embedding table) for its GEMM: a second copy of the
            // largest tensor. The mapped weights are the only copy. Not for MatMulNBits (int4 projections, GenAI folders):
            // without its packed copy it repacks the weights on every run, which made a one-token step of LFM2-350M's
            // shapes take 2.9 s instead of tens of ms; the packed copy costs about the weights' size again (522 MiB resident
            // after loading a 240 MiB folder).
            if (!UsesMatMulNBits(folder))
            {
                sessionOptions.AddSessionConfigEntry("session.disable_prepacking", "1");
            }

            // ORT's idle intra-op threads spin between runs by default. A generation step is long (tens of ms) and the
            // gaps between steps are where token frames are sent and other work runs: spinning there took the cores
            // from them. Measured with 2 threads on the 2B4T-shaped model next to other load: 10-13 tok/s spinning,
            // 18 tok/s not, and the token hand-off lag p50 3.8 → 0.9 ms.
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            weights.AddTo(sessionOptions);
            InferenceSession session = CreateSession(folder.GraphPath, sessionOptions);
            InferenceSession? prefill = null;
            try
            {
                if (folder.PrefillGraphPath is { } prefillPath)
                {
                    prefill = CreateSession(prefillPath, sessionOptions);
                }

                state = new DecoderState(config, Math.Max(1, options.Slots), capacity);
                var model = new DecoderModel(folder, session, weights, state);
                if (prefill is not null)
                {
                    model._static = new StaticSteps(config, state, prefill, session);
                }

                return model;
            }
            catch
            {
                session.Dispose();
                prefill?.Dispose();
                throw;
            }
        }
        catch
        {
            state?.Dispose();
            weights.Dispose();
            throw;
        }
    }

    // From the path, so ORT resolves (and validates) the external-data location; the mapped tensors replace its reads.
    // Created on a lowered thread: ORT starts its intra-op threads here, and they inherit its priority.
    private static InferenceSession CreateSession(string graphPath, SessionOptions options)
    {
        try
        {
            return ComputePriority.CreateLowered(() => new InferenceSession(graphPath, options));
        }
        catch (OnnxRuntimeException e)
        {
            throw new EdgeRuntimeException(ErrorCodes.ModelLoadFailed, $"ONNX Runtime refused {graphPath}: {e.Message}", e);
        }
    }

    private static bool UsesMatMulNBits(LanguageModelFolder folder) =>
        folder.Io.IsGenAi || folder.Config.Projections == ProjectionFormats.Int4 || folder.Config.HeadFormat == HeadFormats.Int4;

    /// <summary>
    /// Runs <paramref name="sequence"/> new tokens for each of <paramref name="batch"/> sessions in slots
    /// [<paramref name="firstSlot"/>, firstSlot + batch). <paramref name="totalLengths"/>[b] is session b's length
    /// once these tokens are in (past + sequence). Returns the batch's logits, [batch, vocab], valid until the next step;
    /// the caller may modify them in place (sampling does). A sequence with nothing before these tokens starts from a
    /// cleared conv state, so a slot's earlier occupant leaves nothing behind.
    /// <paramref name="prefix"/> (vision-language folders, batch 1): embeddings [P · hidden] that go before the tokens
    /// and take P positions, counted in totalLengths.
    /// </summary>
    public Span<float> Step(ReadOnlySpan<long> tokens, int batch, int sequence, ReadOnlySpan<int> totalLengths, int firstSlot, float[]? prefix = null)
    {
        int prefixLength = prefix is null ? 0 : prefix.Length / Config.HiddenSize;
        if (prefixLength > 0 && (Config.Vision is null || batch != 1))
        {
            throw new ArgumentException("Prefix embeddings go to a vision-language folder's graph, one sequence at a time.", nameof(prefix));
        }

        if (_static is not null)
        {
            return _static.Step(tokens, batch, sequence, totalLengths, firstSlot);
        }

        var inputs = new OrtValue[_inputNames.Length];
        var outputs = new OrtValue[_outputNames.Length];
        var seqLens = new int[batch];
        float[]? allPositions = null;
        int longest = 0;
        for (int b = 0; b < batch; b++)
        {
            seqLens[b] = totalLengths[b] - 1;
            longest = Math.Max(longest, totalLengths[b]);
            if (totalLengths[b] == sequence + prefixLength)
            {
                State.Conv.Clear(firstSlot + b);
            }
        }

        try
        {
            inputs[0] = OrtValue.CreateTensorValueFromMemory(tokens[..(batch * sequence)].ToArray(), [batch, sequence]);
            if (_io.IsGenAi)
            {
                // Ones over each sequence's positions, zeros after: the graph's Σ mask − 1 is seqlens_k, its width the longest.
                var mask = new long[batch * longest];
                for (int b = 0; b < batch; b++)
                {
                    mask.AsSpan(b * longest, totalLengths[b]).Fill(1);
                }

                inputs[1] = OrtValue.CreateTensorValueFromMemory(mask, [batch, longest]);
            }
            else
            {
                inputs[1] = OrtValue.CreateTensorValueFromMemory(seqLens, [batch]);
                inputs[2] = OrtValue.CreateTensorValueFromMemory(new[] { longest }, []);
                if (Config.Vision is not null)
                {
                    // No image on this step: an empty prefix, [batch, 0, hidden].
                    inputs[3] = OrtValue.CreateTensorValueFromMemory(prefix ?? [], [batch, prefixLength, Config.HiddenSize]);
                }
            }

            for (int i = 0; i < _attentionLayers.Length; i++)
            {
                // The same tensors are past and present: GroupQueryAttention sees one buffer and appends in place.
                inputs[_fixedInputs + (2 * i)] = outputs[1 + (2 * i)] = State.Kv.View(_attentionLayers[i], value: false, firstSlot, batch);
                inputs[_fixedInputs + 1 + (2 * i)] = outputs[2 + (2 * i)] = State.Kv.View(_attentionLayers[i], value: true, firstSlot, batch);
            }

            int convInputs = _fixedInputs + (2 * _attentionLayers.Length);
            int convOutputs = 1 + (2 * _attentionLayers.Length);
            for (int i = 0; i < _convLayers.Length; i++)
            {
                // Past and present conv state are one buffer in our graphs: the graph reads the old columns (Concat)
                // before the node that writes the new ones (Slice) runs, since that node takes the Concat's output.
                inputs[convInputs + i] = State.Conv.View(_convLayers[i], firstSlot, batch);
                outputs[convOutputs + i] = _convScratch is { } scratch ? scratch.View(_convLayers[i], firstSlot, batch) : inputs[convInputs + i];
            }

            if (State.Delta is { } delta)
            {
                // Past and present share memory, as for the cache: the op updates its state in place.
                int deltaInputs = convInputs + _convLayers.Length;
                int deltaOutputs = convOutputs + _convLayers.Length;
                for (int i = 0; i < _attentionLayers.Length; i++)
                {
                    inputs[deltaInputs + (3 * i)] = outputs[deltaOutputs + (3 * i)] = delta.QueryView(_attentionLayers[i], firstSlot, batch);
                    inputs[deltaInputs + (3 * i) + 1] = outputs[deltaOutputs + (3 * i) + 1] = delta.ScoresView(_attentionLayers[i], firstSlot, batch);
                    inputs[deltaInputs + (3 * i) + 2] = outputs[deltaOutputs + (3 * i) + 2] = delta.StatsView(_attentionLayers[i]);
                }
            }

            if (PrunedHead)
            {
                long[] shape = _io.IsGenAi ? [batch, 1, Config.VocabSize] : [batch, Config.VocabSize];
                outputs[0] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _logits.AsMemory(0, batch * Config.VocabSize), shape);
            }
            else
            {
                allPositions = new float[(long)batch * sequence * Config.VocabSize];
                outputs[0] = OrtValue.CreateTensorValueFromMemory(allPositions, [batch, sequence, Config.VocabSize]);
            }

            _session.Run(_run, _inputNames, inputs, _outputNames, outputs);
            _convScratch?.CopyTo(State.Conv, firstSlot, batch);
            if (allPositions is not null)
            {
                int vocab = Config.VocabSize;
                for (int b = 0; b < batch; b++)
                {
                    allPositions.AsSpan((((b * sequence) + sequence - 1) * vocab), vocab).CopyTo(_logits.AsSpan(b * vocab, vocab));
                }
            }

            return _logits.AsSpan(0, batch * Config.VocabSize);
        }
        finally
        {
            for (int i = 0; i < _fixedInputs; i++)
            {
                inputs[i]?.Dispose();
            }

            foreach (var value in outputs)
            {
                value?.Dispose();
            }

            if (_convScratch is not null)
            {
                for (int i = 0; i < _convLayers.Length; i++)
                {
                    inputs[_fixedInputs + (2 * _attentionLayers.Length) + i]?.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        if (_static is not null)
        {
            _static.Dispose(); // its decode session is _session
        }
        else
        {
            _session.Dispose();
        }

        _run.Dispose();
        _convScratch?.Dispose();
        State.Dispose();
        _weights.Dispose();
    }
}
