namespace EdgeRuntime.Pipelines;

/// <summary>
/// One modality's stream for one run, in blocks of equal size (20 ms of audio, one video frame): a replayed file
/// released on the run's clock, or a sensor read live. Disposing it lets go of the sensor (a skip, or the end).
/// </summary>
public interface IModalitySource : IDisposable
{
    string Modality { get; }

    /// <summary>Blocks in one run.</summary>
    int Blocks { get; }

    int BlockValues { get; }

    double BlockMs { get; }

    /// <summary>Waits until block <paramref name="index"/> has been sensed and returns it, with when (run-clock ms) it was.</summary>
    ValueTask<SensedBlock> ReadAsync(int index, CancellationToken cancellationToken);
}

/// <summary>A block's values (valid until the next read) and the run-clock time its last value was sensed.</summary>
public readonly record struct SensedBlock(ReadOnlyMemory<float> Values, double SensedMs);

/// <summary>A replayed file as a modality source: block b is released when the clock reaches the end of its interval.</summary>
public sealed class ReplaySource(ReplayStream stream, IPipelineClock clock) : IModalitySource
{
    public string Modality => stream.Modality;

    public int Blocks => stream.Blocks;

    public int BlockValues => stream.BlockValues;

    public double BlockMs => stream.BlockMs;

    public async ValueTask<SensedBlock> ReadAsync(int index, CancellationToken cancellationToken)
    {
        await clock.DelayUntilAsync((index + 1) * stream.BlockMs, cancellationToken).ConfigureAwait(false);
        // Stamped when it was released, not when it was due: on a fast clock that is at once, so post-sensing latency
        // stays the time from the last unit's arrival to the result (a due time would make it negative).
        return new SensedBlock(stream.Block(index), clock.NowMs);
    }

    public void Dispose()
    {
    }
}
