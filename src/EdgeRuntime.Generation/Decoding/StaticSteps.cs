using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Generation.Decoding;

/// <summary>
/// Runs a static-shape folder (<see cref="StaticShapes"/>) behind <see cref="DecoderModel.Step"/>'s contract: each
/// session's new tokens go through the prefill graph a chunk at a time (the last chunk padded) and single tokens through
/// the decode graph; the graphs return the chunk's keys and values, which are written into the shared
/// <see cref="DecoderState"/> here, and update the conv state in place. The graphs take one sequence, so a batch runs its
/// sessions one after another.
/// </summary>
internal sealed class StaticSteps : IDisposable
{
    private readonly LanguageModelConfig _config;
    private readonly DecoderState _state;
    private readonly Graph _prefill;
    private readonly Graph _decode;
    private readonly int[] _attentionLayers;
    private readonly int[] _convLayers;
    private readonly float[] _logits;

    public StaticSteps(LanguageModelConfig config, DecoderState state, InferenceSession prefill, InferenceSession decode)
    {
        var shapes = config.Static ?? throw new ArgumentException("not a static-shape configuration", nameof(config));
        _config = config;
        _state = state;
        _attentionLayers = LayerKinds.Layers(config, LayerKinds.Attention);
        _convLayers = LayerKinds.Layers(config, LayerKinds.Conv);
        _prefill = new Graph(prefill, shapes.PrefillChunk, shapes.Capacity, config, _attentionLayers, _convLayers);
        _decode = new Graph(decode, 1, shapes.Capacity, config, _attentionLayers, _convLayers);
        _logits = new float[(long)state.Slots * config.VocabSize];
    }

    /// <summary>As <see cref="DecoderModel.Step"/>: the batch's next-token logits, [batch, vocab].</summary>
    public Span<float> Step(ReadOnlySpan<long> tokens, int batch, int sequence, ReadOnlySpan<int> totalLengths, int firstSlot)
    {
        int vocab = _config.VocabSize;
        for (int b = 0; b < batch; b++)
        {
            int slot = firstSlot + b;
            int position = totalLengths[b] - sequence;
            if (totalLengths[b] > _state.Capacity)
            {
                throw new EdgeRuntimeException(ErrorCodes.ContextOverflow, $"The session would hold {totalLengths[b]} positions; this static-shape model's graphs hold {_state.Capacity} (static.capacity).");
            }

            if (position == 0)
            {
                _state.Conv.Clear(slot);
            }

            var own = tokens.Slice(b * sequence, sequence);
            var row = _logits.AsSpan(b * vocab, vocab);
            for (int done = 0; done < sequence;)
            {
                var graph = sequence - done > 1 ? _prefill : _decode;
                int count = Math.Min(graph.Chunk, sequence - done);
                graph.Run(own.Slice(done, count), position + done, slot, _state, row);
                done += count;
            }
        }

        return _logits.AsSpan(0, batch * vocab);
    }

    public void Dispose()
    {
        _prefill.Dispose();
        _decode.Dispose();
    }

    /// <summary>One graph of a fixed chunk: its session and the input and output buffers it reuses.</summary>
    private sealed class Graph : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly RunOptions _run = new();
        private readonly int _capacity;
        private readonly int[] _attentionLayers;
        private readonly int[] _convLayers;
        private readonly int[] _ids;
        private readonly int[] _positions;
        private readonly float[] _mask;
        private readonly int[] _lastIndex = new int[1];
        private readonly float[] _logits;
        private readonly float[][] _newKeys;
        private readonly float[][] _newValues;
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;
        private readonly LanguageModelConfig _config;

        public Graph(InferenceSession session, int chunk, int capacity, LanguageModelConfig config, int[] attentionLayers, int[] convLayers)
        {
            _session = session;
            _config = config;
            Chunk = chunk;
            _capacity = capacity;
            _attentionLayers = attentionLayers;
            _convLayers = convLayers;
            _logits = new float[config.VocabSize];
            _ids = new int[chunk];
            _positions = new int[chunk];
            _mask = new float[chunk * (capacity + chunk)];
            int newFloats = config.KvHeads * chunk * config.HeadDim;
            _newKeys = [.. attentionLayers.Select(_ => new float[newFloats])];
            _newValues = [.. attentionLayers.Select(_ => new float[newFloats])];
            _inputNames =
            [
                DecoderNames.InputIds, StaticNames.PositionIds, StaticNames.AttentionMask, StaticNames.LastIndex,
                .. attentionLayers.SelectMany(l => new[] { DecoderNames.PastKey(l), DecoderNames.PastValue(l) }),
                .. convLayers.Select(DecoderNames.PastConv),
            ];
            _outputNames =
            [
                DecoderNames.Logits,
                .. attentionLayers.SelectMany(l => new[] { DecoderNames.PresentKey(l), DecoderNames.PresentValue(l) }),
                .. convLayers.Select(DecoderNames.PresentConv),
            ];
        }

        public int Chunk { get; }

        /// <summary>Runs <paramref name="tokens"/> (at most a chunk) at <paramref name="position"/> for one slot; the last token's logits go to <paramref name="logits"/>.</summary>
        public void Run(ReadOnlySpan<long> tokens, int position, int slot, DecoderState state, Span<float> logits)
        {
            int count = tokens.Length;
            int width = _capacity + Chunk;
            for (int i = 0; i < Chunk; i++)
            {
                _ids[i] = i < count ? checked((int)tokens[i]) : 0;

                // Padding sits at the next positions, kept inside the RoPE tables; nothing real attends to it.
                _positions[i] = Math.Min(position + i, _capacity - 1);
            }

            StaticNames.FillMask(_mask, Chunk, _capacity, position);

            _lastIndex[0] = count - 1;
            var inputs = new List<OrtValue>(_inputNames.Length);
            var outputs = new List<OrtValue>(_outputNames.Length);
            try
            {
                inputs.Add(OrtValue.CreateTensorValueFromMemory(_ids, [1, Chunk]));
                inputs.Add(OrtValue.CreateTensorValueFromMemory(_positions, [1, Chunk]));
                inputs.Add(OrtValue.CreateTensorValueFromMemory(_mask, [1, 1, Chunk, width]));
                inputs.Add(OrtValue.CreateTensorValueFromMemory(_lastIndex, [1]));
                foreach (int l in _attentionLayers)
                {
                    inputs.Add(state.Kv.View(l, value: false, slot, 1));
                    inputs.Add(state.Kv.View(l, value: true, slot, 1));
                }

                // The conv state in place, as in the dynamic graph: the Concat that reads it runs before the Gather that writes it.
                var convStates = _convLayers.Select(l => state.Conv.View(l, slot, 1)).ToArray();
                inputs.AddRange(convStates);
                outputs.Add(OrtValue.CreateTensorValueFromMemory(_logits, [1, _config.VocabSize]));
                for (int i = 0; i < _attentionLayers.Length; i++)
                {
                    outputs.Add(OrtValue.CreateTensorValueFromMemory(_newKeys[i], [1, _config.KvHeads, Chunk, _config.HeadDim]));
                    outputs.Add(OrtValue.CreateTensorValueFromMemory(_newValues[i], [1, _config.KvHeads, Chunk, _config.HeadDim]));
                }

                outputs.AddRange(convStates);
                _session.Run(_run, _inputNames, inputs, _outputNames, outputs);
                _logits.CopyTo(logits);
                for (int i = 0; i < _attentionLayers.Length; i++)
                {
                    state.Kv.Write(_attentionLayers[i], value: false, slot, position, _newKeys[i], Chunk, count);
                    state.Kv.Write(_attentionLayers[i], value: true, slot, position, _newValues[i], Chunk, count);
                }
            }
            finally
            {
                foreach (var value in inputs)
                {
                    value.Dispose();
                }

                // The conv views are in both lists; disposing one OrtValue twice is harmless only if it is the same object.
                foreach (var value in outputs.Except(inputs))
                {
                    value.Dispose();
                }
            }
        }

        public void Dispose()
        {
            _session.Dispose();
            _run.Dispose();
        }
    }
}
