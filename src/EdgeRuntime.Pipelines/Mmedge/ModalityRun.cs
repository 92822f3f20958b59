using System.Threading.Channels;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// One modality of one run: a source that senses blocks on the clock, a unitizer that groups them into units, and an
/// encoder that turns each unit into an embedding, joined by bounded channels. Pipelined, each unit is encoded as soon
/// as it has been sensed; sequential, everything is sensed first. Cancelling the run's token stops the source, so
/// units after a skip are never sensed, and the encoder, so they are never encoded.
/// </summary>
internal sealed class ModalityRun(ModalityPlan plan, IPipelineClock clock, ModelInvoker invoker)
{
    private readonly record struct Block(int Index, ReadOnlyMemory<float> Values, double SensedMs);

    private readonly record struct Unit(int Index, float[] Values, double SensedMs);

    private readonly Lock _traceGate = new();
    private readonly Dictionary<int, PipelineUnitTrace> _trace = [];
    private readonly List<float[]> _embeddings = [];
    private List<Unit> _sensedUnits = [];

    public ModalityPlan Plan => plan;

    /// <summary>The embeddings encoded so far, in unit order.</summary>
    public IReadOnlyList<float[]> Embeddings => _embeddings;

    public double LastSensedMs { get; private set; }

    public double EncodeMsTotal { get; private set; }

    /// <summary>
    /// Runs source, unitizer and encoder concurrently. After each encoded unit, <paramref name="afterEncoded"/> (with
    /// the number encoded so far) may return true to stop: the source is cancelled and nothing more is sensed.
    /// </summary>
    public async Task RunPipelinedAsync(Func<int, Task<bool>>? afterEncoded, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var blocks = Channel.CreateBounded<Block>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        var units = Channel.CreateBounded<Unit>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
        var sensing = SenseAsync(blocks.Writer, stop.Token);
        var unitizing = UnitizeAsync(blocks.Reader, units.Writer, stop.Token);
        bool skipped = false;
        try
        {
            await foreach (var unit in units.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                await EncodeAsync(unit, stop.Token).ConfigureAwait(false);
                if (afterEncoded is not null && await afterEncoded(_embeddings.Count).ConfigureAwait(false))
                {
                    skipped = true;
                    break;
                }
            }
        }
        finally
        {
            // After a skip, a failure or a cancelled run, the source must stop sensing; after a normal end it has.
            await stop.CancelAsync().ConfigureAwait(false);
            // Neither task throws: each completes its channel with its failure instead.
            await Task.WhenAll(sensing, unitizing).ConfigureAwait(false);
        }

        if (skipped)
        {
            // Units the unitizer had already sensed but the encoder never took.
            while (units.Reader.TryRead(out var late))
            {
                Record(late.Index, "dropped", late.SensedMs, 0, 0);
            }
        }
    }

    /// <summary>Senses the whole stream first, then encodes every unit: the baseline MMEdge improves on.</summary>
    public async Task RunSequentialSensingAsync(CancellationToken cancellationToken)
    {
        var blocks = Channel.CreateBounded<Block>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        var units = Channel.CreateUnbounded<Unit>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        await Task.WhenAll(SenseAsync(blocks.Writer, cancellationToken), UnitizeAsync(blocks.Reader, units.Writer, cancellationToken)).ConfigureAwait(false);
        _sensedUnits = [];
        // Reading to the end rethrows what sensing or unitizing completed the channel with (a cancellation, a bad
        // file): a sequential run must not go on with part of its stream.
        await foreach (var unit in units.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            _sensedUnits.Add(unit);
        }
    }

    public async Task EncodeSensedAsync(CancellationToken cancellationToken)
    {
        foreach (var unit in _sensedUnits)
        {
            await EncodeAsync(unit, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The temporal aggregator over the first <paramref name="count"/> embeddings: the modality's class features.</summary>
    public async Task<float[]> AggregateAsync(int count, CancellationToken cancellationToken)
    {
        int width = _embeddings[0].Length;
        var stacked = new float[count * width];
        for (int i = 0; i < count; i++)
        {
            _embeddings[i].CopyTo(stacked, i * width);
        }

        var features = await invoker.RunAsync(plan.Aggregator, "units", new FloatTensor(stacked, [1, count, width]), "features", cancellationToken).ConfigureAwait(false);
        return features.Data;
    }

    /// <summary>Every unit of the stream on the timeline, including those that were skipped and never sensed.</summary>
    public PipelineUnitTrace[] Trace()
    {
        lock (_traceGate)
        {
            return [.. Enumerable.Range(0, plan.Units).Select(i => _trace.TryGetValue(i, out var t) ? t : new PipelineUnitTrace(plan.Modality, i, "skipped", 0, 0, 0))];
        }
    }

    public ModalityCount Count()
    {
        var trace = Trace();
        return new ModalityCount(plan.Modality, trace.Count(t => t.State != "skipped"), trace.Count(t => t.State == "encoded"), trace.Count(t => t.State == "skipped"));
    }

    private async Task SenseAsync(ChannelWriter<Block> writer, CancellationToken cancellationToken)
    {
        try
        {
            var stream = plan.Stream;
            for (int b = 0; b < stream.Blocks; b++)
            {
                var block = await stream.ReadAsync(b, cancellationToken).ConfigureAwait(false);
                await writer.WriteAsync(new Block(b, block.Values, block.SensedMs), cancellationToken).ConfigureAwait(false);
            }

            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
        finally
        {
            // The last block is read, or the run stopped reading (a skip, a failure): either way the sensor is let go
            // now, not when the run ends, so an on-demand camera pauses as soon as nobody needs it.
            plan.Stream.Dispose();
        }
    }

    private async Task UnitizeAsync(ChannelReader<Block> reader, ChannelWriter<Unit> writer, CancellationToken cancellationToken)
    {
        try
        {
            int per = plan.BlocksPerUnit;
            var values = new float[per * plan.Stream.BlockValues];
            int filled = 0;
            await foreach (var block in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                block.Values.Span.CopyTo(values.AsSpan(filled * plan.Stream.BlockValues));
                if (++filled < per)
                {
                    continue;
                }

                int index = block.Index / per;
                filled = 0;
                if (plan.IsUsed(index))
                {
                    await writer.WriteAsync(new Unit(index, values, block.SensedMs), cancellationToken).ConfigureAwait(false);
                    values = new float[values.Length];
                }
                else
                {
                    Record(index, "unused", block.SensedMs, 0, 0);
                }
            }

            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    private async Task EncodeAsync(Unit unit, CancellationToken cancellationToken)
    {
        double start = clock.NowMs;
        // Every encoder takes one unit, flat: [1, values].
        var embedding = await invoker.RunAsync(plan.Encoder, plan.EncoderInput, new FloatTensor(unit.Values, [1, unit.Values.Length]), "embedding", cancellationToken).ConfigureAwait(false);
        double end = clock.NowMs;
        _embeddings.Add(embedding.Data);
        EncodeMsTotal += end - start;
        LastSensedMs = Math.Max(LastSensedMs, unit.SensedMs);
        Record(unit.Index, "encoded", unit.SensedMs, start, end);
    }

    private void Record(int index, string state, double sensed, double start, double end)
    {
        lock (_traceGate)
        {
            _trace[index] = new PipelineUnitTrace(plan.Modality, index, state, sensed, start, end);
        }
    }
}
