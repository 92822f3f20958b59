using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.Store;
using EdgeRuntime.Formats;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Bench;

/// <summary>
/// build.ps1 bench-triggers: headless figures from the published edged, each against a peer measured in the same run.
/// <list type="bullet">
/// <item>trigger → result: a GPIO edge injected into the simulated chip until the stored result reaches a subscriber,
/// against a plain infer round trip of the same model on the same socket (the difference is the trigger, the window
/// copy, the journal write with its fsync, and the event delivery).</item>
/// <item>journal commit: one durable append in-process, against write + fsync of the same bytes with a FileStream.</item>
/// <item>sustained rate: edges injected at a fixed rate for a few seconds; the highest rate at which every edge gave a
/// stored, delivered result (none dropped, ids gapless), against in-process sequential commits per second.</item>
/// </list>
/// </summary>
internal static class TriggerBench
{
    public static async Task<int> RunAsync(string publishDir, string speechWav, string outDir, bool quick)
    {
        int samples = quick ? 200 : 1000;
        string work = Directory.CreateTempSubdirectory("edgeruntime-trigbench-").FullName;
        File.WriteAllBytes(Path.Combine(work, "mlp.onnx"), SampleModels.Mlp(64, 32, 8));
        string config = Path.Combine(work, "edged.json");
        File.WriteAllText(config, $$"""
            {
              "modelDirectory": "{{work}}",
              "models": [ { "name": "mlp", "path": "mlp.onnx" } ],
              "threads": { "intraOp": 1, "interOp": 1, "workers": 0 },
              "store": { "path": "{{Path.Combine(work, "results")}}", "maxMiB": 256 },
              "sensors": [
                { "name": "button", "type": "gpio", "pin": 17, "debounceMs": 0, "simulated": true },
                { "name": "mic", "type": "wav", "path": "{{Path.GetFullPath(speechWav)}}", "loop": true, "bufferMs": 500, "chunkSamples": 32 }
              ],
              "triggers": [
                { "name": "press", "on": { "gpio": "button" }, "run": { "model": "mlp", "window": { "sensor": "mic", "preMs": 4, "postMs": 0 } } }
              ]
            }
            """);
        var results = new List<BenchResult>();
        using (var daemon = DaemonProcess.Start(Path.Combine(publishDir, "edged"), config, Path.Combine(work, "bench.sock")))
        {
            await using var client = await EdgeClient.ConnectAsync(daemon.SocketPath);
            await using var subscription = await client.SubscribeAsync(new SubscribeRequest());
            var input = Tensor.Float32("x", [1, 64], new float[64]);
            for (int i = 0; i < 50; i++)
            {
                await client.InferAsync("mlp", [input]);
                await client.InjectAsync(new InjectRequest("button", "rising"));
                await subscription.ReadAsync();
            }

            // Interleaved, so drift in the machine's load hits both alike.
            var trigger = new List<double>();
            var infer = new List<double>();
            for (int i = 0; i < samples; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await client.InferAsync("mlp", [input]);
                infer.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);

                start = Stopwatch.GetTimestamp();
                await client.InjectAsync(new InjectRequest("button", "rising"));
                var result = await subscription.ReadAsync();
                trigger.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (result.Event.Error is not null)
                {
                    throw new InvalidOperationException($"triggered run failed: {result.Event.Error}");
                }
            }

            double p50 = Percentile(trigger, 0.5), p99 = Percentile(trigger, 0.99);
            double i50 = Percentile(infer, 0.5), i99 = Percentile(infer, 0.99);
            results.Add(new BenchResult("trigger_to_result_ms_p50", p50, "ms", i50, p50 / i50, $"GPIO edge injected → stored result at a subscriber (MLP 64-32-8 on the 4 ms of audio before the edge, replayed in 2 ms chunks; fsync included), {samples} samples; baseline: infer round trip of the same model"));
            results.Add(new BenchResult("trigger_to_result_ms_p99", p99, "ms", i99, p99 / i99, "as above, 99th percentile"));
            await subscription.DisposeAsync();

            // Sustained rate: open-loop injection at each rate for a few seconds; the rate passes when every edge
            // produced exactly one delivered result and the daemon dropped nothing.
            double passed = 0;
            string detail = "";
            foreach (int rate in quick ? new[] { 100, 200, 400 } : new[] { 100, 200, 400, 800, 1600, 3200 })
            {
                var (ok, note) = await SustainAsync(client, rate, TimeSpan.FromSeconds(quick ? 1 : 3));
                Console.WriteLine($"sustain {rate,5}/s: {note}");
                if (!ok)
                {
                    detail = $"; {rate}/s failed: {note}";
                    break;
                }

                passed = rate;
            }

            double journalRate = CommitsPerSecond(Path.Combine(work, "rate-journal"), quick ? 300 : 1000);
            results.Add(new BenchResult("trigger_sustained_rate_per_s", passed, "1/s", journalRate, passed / journalRate, $"highest tested rate (doubling from 100/s) with every edge stored and delivered, none dropped{detail}; baseline: sequential in-process journal commits per second"));
        }

        var (commitUs, fsyncUs) = JournalCommitUs(Path.Combine(work, "journal"), samples);
        results.Add(new BenchResult("journal_commit_us_p50", commitUs, "us", fsyncUs, commitUs / fsyncUs, "one durable append of a 600-byte result (CRC, write, fsync), in-process; baseline: FileStream write + fsync of the same bytes"));

        Directory.CreateDirectory(outDir);
        string jsonPath = Path.Combine(outDir, "triggers.json");
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(results, BenchJsonContext.Default.ListBenchResult));
        Console.WriteLine();
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name,-30} {r.Value,10:0.000} {r.Unit,-4} baseline {r.Baseline,10:0.000}  ratio {r.Ratio:0.00}"));
        }

        Console.WriteLine($"wrote {jsonPath}");
        Directory.Delete(work, recursive: true);
        return 0;
    }

    private static async Task<(bool Ok, string Note)> SustainAsync(EdgeClient client, int rate, TimeSpan duration)
    {
        var before = (await client.HealthAsync()).Triggers.Single();
        long lastId = (await client.HealthAsync()).Store!.LastId;
        await using var subscription = await client.SubscribeAsync(new SubscribeRequest(Since: lastId));
        int total = (int)(rate * duration.TotalSeconds);
        var clock = Stopwatch.StartNew();
        var sends = new List<Task>(total);
        for (int i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            while (clock.Elapsed < due)
            {
                if (due - clock.Elapsed > TimeSpan.FromMilliseconds(2))
                {
                    await Task.Delay(1);
                }
            }

            sends.Add(client.InjectAsync(new InjectRequest("button", "rising")));
        }

        await Task.WhenAll(sends);
        double sendSeconds = clock.Elapsed.TotalSeconds;
        long expected = lastId + 1;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            for (int i = 0; i < total; i++)
            {
                var result = await subscription.ReadAsync(timeout.Token);
                if (result.Event.Id != expected++ || result.Event.Error is not null)
                {
                    return (false, $"result {result.Event.Id} (expected {expected - 1}): {result.Event.Error ?? "out of order"}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            var late = (await client.HealthAsync()).Triggers.Single();
            return (false, $"only {expected - lastId - 1} of {total} results arrived within 10 s of the last edge ({late.Fired - before.Fired} fired, {late.HeldOff - before.HeldOff} held off, {late.Dropped - before.Dropped} dropped, {late.Failed - before.Failed} failed)");
        }

        double lagSeconds = clock.Elapsed.TotalSeconds - sendSeconds;
        var after = (await client.HealthAsync()).Triggers.Single();
        long fired = after.Fired - before.Fired, dropped = after.Dropped - before.Dropped;
        bool ok = fired == total && dropped == 0 && sendSeconds < duration.TotalSeconds * 1.2 && lagSeconds < 1;
        return (ok, string.Create(CultureInfo.InvariantCulture, $"{total} edges in {sendSeconds:0.00} s, {fired} fired, {dropped} dropped, all delivered {lagSeconds * 1000:0} ms after the last edge"));
    }

    private static (double CommitUs, double FsyncUs) JournalCommitUs(string directory, int samples)
    {
        byte[] json = Encoding.UTF8.GetBytes(new string('x', 500));
        byte[] payload = new byte[100];
        var commits = new List<double>();
        var fsyncs = new List<double>();
        using var journal = ResultJournal.Open(new JournalOptions(directory));
        Directory.CreateDirectory(directory + "-raw");
        using var raw = new FileStream(Path.Combine(directory + "-raw", "raw.bin"), FileMode.Create, FileAccess.Write, FileShare.None, 1);
        byte[] frame = new byte[json.Length + payload.Length + 34];
        for (int i = 0; i < samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            journal.AppendAsync("bench", (_, _) => json, payload).AsTask().GetAwaiter().GetResult();
            commits.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);

            start = Stopwatch.GetTimestamp();
            raw.Write(frame);
            raw.Flush(flushToDisk: true);
            fsyncs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        return (Percentile(commits, 0.5), Percentile(fsyncs, 0.5));
    }

    private static double CommitsPerSecond(string directory, int count)
    {
        using var journal = ResultJournal.Open(new JournalOptions(directory));
        byte[] json = new byte[500];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            journal.AppendAsync("bench", (_, _) => json, new byte[100]).AsTask().GetAwaiter().GetResult();
        }

        return count / clock.Elapsed.TotalSeconds;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(p * sorted.Length))];
    }
}
