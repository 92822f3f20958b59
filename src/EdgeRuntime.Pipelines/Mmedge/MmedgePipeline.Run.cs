using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Mmedge;

public sealed partial class MmedgePipeline
{
    public async Task<PipelineResult> RunAsync(MmedgeRunOptions options, CancellationToken cancellationToken)
    {
        // One run claims the re-profile: runs arriving together must not all profile the shared scheduler at once.
        bool reprofile;
        lock (_gate)
        {
            reprofile = _driftStreak >= DriftRunsBeforeReprofile;
            if (reprofile)
            {
                _driftStreak = 0;
            }
        }

        if (reprofile)
        {
            await ProfileAsync(cancellationToken).ConfigureAwait(false);
        }

        Interlocked.Increment(ref _runs);
        try
        {
            return await RunOnceAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Increment(ref _failures);
            throw;
        }
    }

    /// <summary>Consecutive runs whose encoders were off their profile before the table is profiled again.</summary>
    public const int DriftRunsBeforeReprofile = 3;

    private async Task<PipelineResult> RunOnceAsync(MmedgeRunOptions options, CancellationToken cancellationToken)
    {
        // The decision's configuration is the one that runs: nothing below replaces it.
        OptimizerDecision? decision = options.Configuration is null ? Decide(options.BudgetMs) : null;
        var configuration = options.Configuration ?? decision!.Configuration;
        var row = Validate(configuration);
        var audioChoice = Choice(configuration, "audio");
        var visionChoice = Choice(configuration, "vision");
        var clock = options.Clock;

        var (audioStream, visionStream) = OpenSources(options, audioChoice.UnitMs);
        var stages = new List<PipelineStageTiming>();
        var checkpoints = new List<PipelineCheckpoint>();
        float[] audioFeatures, visionFeatures;
        ModalityRun audio, vision;
        try
        {
            audio = new ModalityRun(
                new ModalityPlan("audio", audioStream, (int)Math.Round(audioChoice.UnitMs / audioStream.BlockMs), 1, Encoder("audio", audioChoice.Encoder), "chunk", Aggregator("audio", audioChoice.Encoder)),
                clock,
                _invoker);
            vision = new ModalityRun(
                new ModalityPlan("vision", visionStream, 1, Math.Max(1, visionChoice.Stride), Encoder("vision", visionChoice.Encoder), "frame", Aggregator("vision", visionChoice.Encoder)),
                clock,
                _invoker);

            if (options.Sequential)
            {
                await Task.WhenAll(audio.RunSequentialSensingAsync(cancellationToken), vision.RunSequentialSensingAsync(cancellationToken)).ConfigureAwait(false);
                await Task.WhenAll(audio.EncodeSensedAsync(cancellationToken), vision.EncodeSensedAsync(cancellationToken)).ConfigureAwait(false);
                var audioAggregate = AggregateAsync(audio, audio.Embeddings.Count, stages, clock, cancellationToken);
                var visionAggregate = AggregateAsync(vision, vision.Embeddings.Count, stages, clock, cancellationToken);
                audioFeatures = await audioAggregate.ConfigureAwait(false);
                visionFeatures = await visionAggregate.ConfigureAwait(false);
            }
            else
            {
                (audioFeatures, visionFeatures) = await RunPipelinedAsync(audio, vision, options.Skip, stages, checkpoints, clock, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // Each stream lets go of its sensor when its sensing ends; this covers a run that failed before that.
            audioStream.Dispose();
            visionStream.Dispose();
        }

        double fusionStart = clock.NowMs;
        var logits = (await _invoker.RunAsync(ModelName(_manifest.Models.Fusion), [("audio", new FloatTensor(audioFeatures, [1, audioFeatures.Length])), ("vision", new FloatTensor(visionFeatures, [1, visionFeatures.Length]))], cancellationToken).ConfigureAwait(false))["logits"].Data;
        double resultMs = clock.NowMs;
        lock (stages)
        {
            stages.Add(new PipelineStageTiming("fusion", fusionStart, resultMs));
        }

        // Only a real-time run meets the conditions the table was profiled for: units arriving at their pace, one at
        // a time per modality. A fast clock queues every unit at once; a simulated one takes no time.
        if (clock.IsWallTime)
        {
            CheckDrift(audio, audioChoice.UnitMs, vision);
            if (!options.Sequential && !checkpoints.Any(c => c.Skipped))
            {
                LearnOverhead(configuration, resultMs - Math.Max(audio.LastSensedMs, vision.LastSensedMs));
            }
        }

        lock (_gate)
        {
            _last = configuration;
        }

        var (scores, _) = Logits.Softmax(logits);
        double sensingEnd = Math.Max(audio.LastSensedMs, vision.LastSensedMs);
        var c = CultureInfo.InvariantCulture;
        return new PipelineResult(Definition.Name, "mmedge", options.Sequential ? "sequential" : options.Skip ? "pipelined+skip" : "pipelined", Logits.ArgMax(logits), scores)
        {
            SensingEndMs = sensingEnd,
            ResultMs = resultMs,
            PostSensingMs = resultMs - sensingEnd,
            Configuration = configuration,
            Decision = decision?.Reason ?? string.Create(c, $"fixed configuration (validation accuracy {row.ValAccuracy:P1})"),
            PredictedMs = decision?.PredictedMs ?? PredictPostSensingMs(configuration),
            WithinBudget = options.BudgetMs is double budget ? (decision?.WithinBudget ?? PredictPostSensingMs(configuration) <= budget) : null,
            Stages = [.. stages.OrderBy(s => s.StartMs)],
            Units = [.. audio.Trace(), .. vision.Trace()],
            Checkpoints = [.. checkpoints],
            Counts = [audio.Count(), vision.Count()],
            Live = [.. LiveTraces(options)],
        };
    }

    /// <summary>
    /// The run's two streams: a file replayed on the run's clock, or a sensor read live from the run's start. The
    /// replayed ones are read first, so a bad file is refused before any sensor is held. Live audio is read a whole
    /// unit at a time (a replay releases 20 ms blocks, as an ALSA period), so a reader wakes once per unit, not per
    /// period: the units, and so the answers, are the same either way.
    /// </summary>
    private (IModalitySource Audio, IModalitySource Vision) OpenSources(MmedgeRunOptions options, double audioUnitMs)
    {
        var clock = options.Clock;
        IModalitySource? audio = options.AudioSensor is null
            ? new ReplaySource(ReplayStream.Audio("audio", options.AudioPath!, _manifest.SampleRate, _manifest.AudioSamples, AudioBlockMs), clock)
            : null;
        IModalitySource? vision = options.VisionSensor is null
            ? new ReplaySource(ReplayStream.Frames("vision", options.FramesPath!, _manifest.Frames, _manifest.FrameSize, _manifest.FrameIntervalMs, options.Index), clock)
            : null;
        try
        {
            audio ??= _live!.OpenAudio(options.AudioSensor!, options.Start!, _manifest.SampleRate, _manifest.AudioSamples, audioUnitMs);
            vision ??= _live!.OpenFrames(options.VisionSensor!, options.Start!, _manifest.Frames, _manifest.FrameIntervalMs, FrameSide, FrameSide);
            return (audio, vision);
        }
        catch
        {
            audio?.Dispose();
            throw;
        }
    }

    private IEnumerable<LiveInputTrace> LiveTraces(MmedgeRunOptions options)
    {
        if (options.Start is not { } start)
        {
            yield break;
        }

        double startMs = _live!.WindowStartMs(start);
        if (options.AudioSensor is { } mic)
        {
            yield return new LiveInputTrace("audio", mic, _live.RateOf(mic), startMs);
        }

        if (options.VisionSensor is { } camera)
        {
            yield return new LiveInputTrace("vision", camera, _live.RateOf(camera), startMs);
        }
    }

    private async Task<(float[] Audio, float[] Vision)> RunPipelinedAsync(ModalityRun audio, ModalityRun vision, bool skip, List<PipelineStageTiming> stages, List<PipelineCheckpoint> checkpoints, IPipelineClock clock, CancellationToken cancellationToken)
    {
        var visionDone = new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        float[]? audioPrefixFeatures = null;
        var visionTask = Task.Run(
            async () =>
            {
                try
                {
                    await vision.RunPipelinedAsync(null, cancellationToken).ConfigureAwait(false);
                    // The fast modality is aggregated as soon as its last unit is in, off the slow one's critical path.
                    visionDone.TrySetResult(await AggregateAsync(vision, vision.Embeddings.Count, stages, clock, cancellationToken).ConfigureAwait(false));
                }
                catch (Exception e)
                {
                    visionDone.TrySetException(e);
                    throw;
                }
            },
            cancellationToken);

        int units = audio.Plan.UsedUnits;
        var checkpointUnits = SkipCheckpoints.UnitCounts(_manifest.Gate.Checkpoints, units);
        async Task<bool> AtCheckpoint(int encoded)
        {
            if (!checkpointUnits.Contains(encoded))
            {
                return false;
            }

            // The gate weighs the finished fast modality against the slow one so far.
            float[] visionFeatures = await visionDone.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            double start = clock.NowMs;
            float[] prefix = await audio.AggregateAsync(encoded, cancellationToken).ConfigureAwait(false);
            float fraction = (float)encoded / units;
            float[] x = [.. visionFeatures, .. prefix, fraction];
            double probability = (await _invoker.RunAsync(ModelName(_manifest.Models.Gate), "x", new FloatTensor(x, [1, x.Length]), "skip", cancellationToken).ConfigureAwait(false)).Data[0];
            double end = clock.NowMs;
            bool cut = probability >= _manifest.Gate.Threshold;
            lock (stages)
            {
                stages.Add(new PipelineStageTiming(string.Create(CultureInfo.InvariantCulture, $"gate@{encoded}"), start, end));
                checkpoints.Add(new PipelineCheckpoint("audio", encoded, end, Math.Round(probability, 4), cut));
            }

            if (cut)
            {
                audioPrefixFeatures = prefix;
            }

            return cut;
        }

        var audioTask = Task.Run(
            async () =>
            {
                await audio.RunPipelinedAsync(skip ? AtCheckpoint : null, cancellationToken).ConfigureAwait(false);
                return audioPrefixFeatures ?? await AggregateAsync(audio, audio.Embeddings.Count, stages, clock, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

        await Task.WhenAll(visionTask, audioTask).ConfigureAwait(false);
        return (await audioTask.ConfigureAwait(false), await visionDone.Task.ConfigureAwait(false));
    }

    private static async Task<float[]> AggregateAsync(ModalityRun run, int count, List<PipelineStageTiming> stages, IPipelineClock clock, CancellationToken cancellationToken)
    {
        double start = clock.NowMs;
        float[] features = await run.AggregateAsync(count, cancellationToken).ConfigureAwait(false);
        lock (stages)
        {
            stages.Add(new PipelineStageTiming("aggregate:" + run.Plan.Modality, start, clock.NowMs));
        }

        return features;
    }

    /// <summary>
    /// Compares this run's mean encode time per unit with the table; after a few runs in a row outside the tolerance
    /// (thermal throttling, another process on the cores, a governor change) the next run profiles again first.
    /// </summary>
    private void CheckDrift(ModalityRun audio, double audioUnitMs, ModalityRun vision)
    {
        double tolerance = 1 + Definition.DriftTolerance;
        bool drifted = false;
        foreach (var (run, unitMs) in new[] { (audio, audioUnitMs), (vision, 0.0) })
        {
            int encoded = run.Embeddings.Count;
            if (encoded == 0 || !Latency.TryGet(run.Plan.Encoder, unitMs, out double profiled) || profiled <= 0)
            {
                continue;
            }

            double ratio = run.EncodeMsTotal / encoded / profiled;
            drifted |= ratio > tolerance || ratio < 1 / tolerance;
        }

        lock (_gate)
        {
            _driftStreak = drifted ? _driftStreak + 1 : 0;
        }
    }
}
