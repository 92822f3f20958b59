using EdgeRuntime.Protocol;

namespace EdgeRuntime.Visuals.Tests;

/// <summary>
/// Hand-made pipeline results shaped like the daemon's: two seconds of audio in 100 ms units and video at 30 fps taken
/// every second frame, run sequentially (encode everything once sensing ends), pipelined (encode each unit as it
/// arrives) and pipelined with speculative skipping (the gate cuts audio after 14 units); and a CBNet cascade.
/// </summary>
internal static class PipelineSamples
{
    private const double AudioUnitMs = 100, FrameMs = 1000 / 30.0, AudioEncodeMs = 8, VisionEncodeMs = 3;

    private static readonly PipelineConfiguration Configuration = new([
        new ModalityChoice("audio", "large", AudioUnitMs, 1),
        new ModalityChoice("vision", "small", 0, 2)]);

    public static PipelineResult Pipelined(bool skip = false) => Build("pipelined", skip);

    public static PipelineResult Sequential() => Build("sequential", skip: false);

    public static PipelineResult Build(string mode, bool skip, string pipeline = "av-commands")
    {
        bool sequential = mode == "sequential";
        var units = new List<PipelineUnitTrace>();
        int audioUsed = skip ? 14 : 20;

        // Sequential mode encodes nothing until the last unit is in: one encoder call after another from 2000 ms.
        double queue = 2000;
        double audioFree = 0;
        for (int i = 0; i < 20; i++)
        {
            double sensed = (i + 1) * AudioUnitMs;
            if (i >= audioUsed)
            {
                units.Add(new PipelineUnitTrace("audio", i, "skipped", 0, 0, 0));
                continue;
            }

            double start = sequential ? queue : Math.Max(sensed, audioFree);
            units.Add(new PipelineUnitTrace("audio", i, "encoded", sensed, start, start + AudioEncodeMs));
            (queue, audioFree) = sequential ? (start + AudioEncodeMs, audioFree) : (queue, start + AudioEncodeMs);
        }

        double visionFree = 0;
        for (int i = 0; i < 60; i++)
        {
            double sensed = (i + 1) * FrameMs;
            if (i % 2 == 0)
            {
                units.Add(new PipelineUnitTrace("vision", i, "unused", sensed, 0, 0));
                continue;
            }

            double start = sequential ? queue : Math.Max(sensed, visionFree);
            units.Add(new PipelineUnitTrace("vision", i, "encoded", sensed, start, start + VisionEncodeMs));
            (queue, visionFree) = sequential ? (start + VisionEncodeMs, visionFree) : (queue, start + VisionEncodeMs);
        }

        double headStart = units.Max(u => u.EncodeEndMs);
        double sensingEnd = 2000;
        var stages = new[]
        {
            new PipelineStageTiming("aggregate:audio", headStart, headStart + 2.1),
            new PipelineStageTiming("aggregate:vision", headStart + 0.2, headStart + 1.4),
            new PipelineStageTiming("fusion", headStart + 2.2, headStart + 2.9),
        };
        double resultMs = headStart + 3.1;
        var checkpoints = new List<PipelineCheckpoint>
        {
            new("audio", 5, 500 + AudioEncodeMs + 0.5, 0.08, false),
            new("audio", 10, 1000 + AudioEncodeMs + 0.5, 0.41, false),
        };
        if (skip)
        {
            checkpoints.Add(new("audio", 14, 1400 + AudioEncodeMs + 0.5, 0.93, true));
        }

        return new PipelineResult(pipeline, "mmedge", mode, 3, [0.02f, 0.05f, 0.01f, 0.87f, 0.05f])
        {
            SensingEndMs = sensingEnd,
            ResultMs = resultMs,
            PostSensingMs = resultMs - sensingEnd,
            Configuration = Configuration,
            Decision = "fits the 50 ms budget: predicted 14.2 ms post-sensing at 94.1% accuracy (the most accurate configuration within budget; audio large at 100 ms units, vision small every second frame)",
            PredictedMs = 14.2,
            WithinBudget = true,
            Stages = stages,
            Units = [.. units],
            Checkpoints = [.. checkpoints],
            Counts =
            [
                new ModalityCount("audio", audioUsed, audioUsed, 20 - audioUsed),
                new ModalityCount("vision", 60, 30, 0),
            ],
        };
    }

    public static PipelineResult Cascade() =>
        new("digits", "cbnet", "cascade", 7, [0.01f, 0, 0, 0, 0, 0, 0, 0.96f, 0.02f, 0.01f])
        {
            SensingEndMs = 0,
            ResultMs = 3.4,
            PostSensingMs = 3.4,
            Stages =
            [
                new PipelineStageTiming("autoencoder", 0.1, 1.6),
                new PipelineStageTiming("light", 1.7, 2.3),
                new PipelineStageTiming("gate", 2.3, 2.4),
            ],
            Path = "cascade",
            Confidence = 0.96,
        };
}
