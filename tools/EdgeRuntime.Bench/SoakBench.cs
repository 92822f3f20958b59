using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using EdgeRuntime.Client;
using EdgeRuntime.Inference;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Bench;

/// <summary>
/// build.ps1 bench-soak: the published edged under load for a long time, every answer checked.
/// <list type="number">
/// <item>Load: 64 connections × 10,000 requests, 16 in flight on each (the load that once left RSS high), three models,
/// tensors from 128 B to 1 MiB.</item>
/// <item>Soak: mixed traffic for 30 minutes: connections that reconnect (some in the middle of their work), a model
/// loaded and unloaded under requests for it, health polls, and clients that send half a frame and vanish.</item>
/// <item>Slow clients: 64 connections that each send 10 bytes of a header and stop, on a daemon with default limits;
/// how long until a new client's request is answered.</item>
/// </list>
/// Figures: lost and misrouted answers (target 0), p50/p99, RSS at start, after warm-up (idle after the load phase)
/// and at the end (idle after the soak); artifacts/bench/soak.json, and the RSS trace in soak-rss.csv.
/// </summary>
internal static class SoakBench
{
    private const string Churned = "churn";
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(string publishDir, string outDir, bool quick, TimeSpan? soakLength)
    {
        int connections = 64, perConnection = quick ? 500 : 10_000, depth = 16;
        TimeSpan soak = soakLength ?? TimeSpan.FromMinutes(quick ? 1 : 30);
        string work = Directory.CreateTempSubdirectory("edgeruntime-soak-").FullName;
        string edged = Path.Combine(publishDir, "edged");
        var options = new InferenceOptions { IntraOpThreads = 1, InterOpThreads = 1 };
        var traffic = SoakTraffic.Create(work, options);

        // Room for the load phase's 64 connections plus the soak's extra clients from one uid (by default one uid
        // may hold ¾ of 64); the rest of the limits are the defaults.
        string configPath = Path.Combine(work, "edged.json");
        File.WriteAllText(configPath, $$"""{ "modelDirectory": "{{work}}", "threads": { "intraOp": 1, "interOp": 1 }, "limits": { "maxConnections": 128, "maxConnectionsPerUid": 128 } }""");
        var results = new List<BenchResult>();
        var rssTrace = new List<(double Seconds, double Mb)>();
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"edged: {edged}; load: {connections} connections × {perConnection} requests, {depth} in flight each; soak: {soak.TotalMinutes:0.#} min");

        using (var daemon = DaemonProcess.Start(edged, configPath, Path.Combine(work, "soak.sock")))
        {
            await using (var admin = await EdgeClient.ConnectAsync(daemon.SocketPath))
            {
                await admin.LoadAsync(SoakTraffic.SmallMlp, traffic.SmallPath);
                await admin.LoadAsync(SoakTraffic.WideMlp, traffic.WidePath);
                await admin.LoadAsync(SoakTraffic.Doubler, traffic.DoublerPath);
            }

            double rssStart = daemon.RssMb();
            rssTrace.Add((clock.Elapsed.TotalSeconds, rssStart));
            Console.WriteLine($"RSS with three models loaded, before any request: {rssStart:0.0} MiB");

            // 1. Load.
            var load = new SoakTally();
            using (var sampler = new RssSampler(daemon, clock, rssTrace))
            {
                var loadClock = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, connections).Select(c => Task.Run(() => LoadConnectionAsync(daemon.SocketPath, traffic, c, perConnection, depth, load))));
                Console.WriteLine($"load: {loadClock.Elapsed.TotalSeconds:0.0} s, {load.Describe()}; RSS peak {sampler.PeakMb:0.0} MiB");
                results.Add(new BenchResult("soak_load_requests_per_s", (load.Correct + load.Wrong) / loadClock.Elapsed.TotalSeconds, "req/s", null, null, $"{connections} connections x {perConnection} requests, {depth} in flight each"));
                results.Add(new BenchResult("soak_load_rss_peak_mb", sampler.PeakMb, "MiB", rssStart, sampler.PeakMb / rssStart, "VmRSS sampled every second during the load; baseline is RSS before it"));
            }

            await Task.Delay(Settle);
            double rssWarm = daemon.RssMb();
            rssTrace.Add((clock.Elapsed.TotalSeconds, rssWarm));
            Console.WriteLine($"RSS {Settle.TotalSeconds:0} s after the load phase (after warm-up): {rssWarm:0.0} MiB");

            // 2. Soak.
            var steady = new SoakTally();
            var churn = new SoakTally();
            var counters = new SoakCounters();
            double rssPeakSoak;
            using (var sampler = new RssSampler(daemon, clock, rssTrace, TimeSpan.FromSeconds(5)))
            {
                using var stop = new CancellationTokenSource(soak);
                var tasks = new List<Task>();
                for (int i = 0; i < 16; i++)
                {
                    int seed = 1000 + i;
                    tasks.Add(Task.Run(() => ReconnectingClientAsync(daemon.SocketPath, traffic, seed, steady, counters, stop.Token)));
                }

                for (int i = 0; i < 2; i++)
                {
                    int seed = 2000 + i;
                    tasks.Add(Task.Run(() => ChurnedModelClientAsync(daemon.SocketPath, traffic, seed, churn, stop.Token)));
                }

                tasks.Add(Task.Run(() => LoadUnloadAsync(daemon.SocketPath, traffic, counters, stop.Token)));
                tasks.Add(Task.Run(() => HealthPollAsync(daemon.SocketPath, counters, stop.Token)));
                tasks.Add(Task.Run(() => VanishingClientsAsync(daemon.SocketPath, counters, stop.Token)));
                await Task.WhenAll(tasks);
                rssPeakSoak = sampler.PeakMb;
            }

            Console.WriteLine($"soak, steady clients: {steady.Describe()}");
            Console.WriteLine($"soak, churned model: {churn.Describe()}");
            Console.WriteLine($"soak: {counters.Describe()}");
            await Task.Delay(Settle);
            double rssEnd = daemon.RssMb();
            rssTrace.Add((clock.Elapsed.TotalSeconds, rssEnd));
            HealthResponse health;
            await using (var admin = await EdgeClient.ConnectAsync(daemon.SocketPath))
            {
                health = await admin.HealthAsync();
            }

            Console.WriteLine($"RSS {Settle.TotalSeconds:0} s after the soak: {rssEnd:0.0} MiB (peak during it {rssPeakSoak:0.0}); health afterwards: {health.Connections} connection(s), queue {health.QueueDepth}, in flight {health.InFlight}");

            // What the daemon said, without timestamps and connection names, most frequent first: a lost answer's cause.
            foreach (var group in daemon.Log.Select(LogGist).GroupBy(l => l).OrderByDescending(g => g.Count()).Take(25))
            {
                Console.WriteLine($"edged log, {group.Count()}x: {group.Key}");
            }

            long lostOrWrong = load.Lost + load.Wrong + steady.Lost + steady.Wrong + churn.Lost + churn.Wrong;
            long unexpected = load.UnexpectedErrorCount + steady.UnexpectedErrorCount + churn.UnexpectedErrorCount + counters.Failures;
            double growthPct = ((rssEnd / rssWarm) - 1) * 100;
            results.Add(new BenchResult("soak_lost_or_misrouted", lostOrWrong, "requests", 0, null,
                $"load: {load.Describe()} | soak: {steady.Describe()} | churned model: {churn.Describe()}; target 0"));
            results.Add(new BenchResult("soak_unexpected_errors", unexpected, "requests", 0, null, $"error answers or failed admin calls nobody asked for; {counters.Describe()}"));
            results.Add(new BenchResult("soak_requests_checked", load.Correct + load.Wrong + steady.Correct + steady.Wrong + churn.Correct + churn.Wrong, "requests", null, null, "answers compared element by element with their own expected outputs"));
            results.Add(new BenchResult("soak_load_p50_ms", load.Latency.PercentileUs(0.5) / 1000, "ms", null, null, $"round trip with {depth} in flight on each of {connections} connections, so mostly queueing"));
            results.Add(new BenchResult("soak_load_p99_ms", load.Latency.PercentileUs(0.99) / 1000, "ms", null, null));
            results.Add(new BenchResult("soak_p50_ms", steady.Latency.PercentileUs(0.5) / 1000, "ms", null, null, "steady clients during the soak (1 to 8 in flight each)"));
            results.Add(new BenchResult("soak_p99_ms", steady.Latency.PercentileUs(0.99) / 1000, "ms", null, null));
            results.Add(new BenchResult("soak_rss_start_mb", rssStart, "MiB", null, null, "three models loaded, before any request"));
            results.Add(new BenchResult("soak_rss_after_warmup_mb", rssWarm, "MiB", rssStart, rssWarm / rssStart, $"{Settle.TotalSeconds:0} s idle after the load phase; baseline is the start"));
            results.Add(new BenchResult("soak_rss_peak_mb", rssPeakSoak, "MiB", rssWarm, rssPeakSoak / rssWarm, "highest sample during the soak, every 5 s"));
            results.Add(new BenchResult("soak_rss_end_mb", rssEnd, "MiB", rssWarm, rssEnd / rssWarm, $"{Settle.TotalSeconds:0} s idle after {soak.TotalMinutes:0.#} min of soak; baseline is after warm-up"));
            results.Add(new BenchResult("soak_rss_growth_pct", growthPct, "%", 10, null, "end vs after warm-up; target <= 10"));
        }

        // 3. Slow clients, on a daemon with default limits.
        var slow = await SlowClientsAsync(edged, work);
        results.Add(slow);

        Directory.CreateDirectory(outDir);
        string json = Path.Combine(outDir, "soak.json");
        File.WriteAllText(json, JsonSerializer.Serialize(results, BenchJsonContext.Default.ListBenchResult));
        File.WriteAllLines(Path.Combine(outDir, "soak-rss.csv"), rssTrace.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Seconds:0.0},{s.Mb:0.0}")).Prepend("seconds,rss_mib"));
        Console.WriteLine($"wrote {json}");
        Directory.Delete(work, recursive: true);
        return results.Any(r => r.Name is "soak_lost_or_misrouted" or "soak_unexpected_errors" && r.Value > 0) ? 1 : 0;
    }

    /// <summary>A log line's level and message with the timestamp, connection name and numbers taken out.</summary>
    private static string LogGist(string line)
    {
        string gist = System.Text.RegularExpressions.Regex.Replace(line, @"^\S+ ", "");
        gist = System.Text.RegularExpressions.Regex.Replace(gist, @"conn#\d+ pid=\d+ uid=\d+ gid=\d+", "conn");
        gist = System.Text.RegularExpressions.Regex.Replace(gist, @"\d+", "N");
        return gist.Length > 140 ? gist[..140] : gist;
    }

    private static async Task LoadConnectionAsync(string socket, SoakTraffic traffic, int connection, int requests, int depth, SoakTally tally)
    {
        await using var client = await EdgeClient.ConnectAsync(socket);
        int next = 0;
        async Task SlotAsync(int slot)
        {
            var random = new Random((connection * 100) + slot);
            int sequence;
            while ((sequence = Interlocked.Increment(ref next)) <= requests)
            {
                long tag = ((long)connection << 24) | (uint)sequence;
                await CallAsync(client, traffic.Next(random, tag), tally, closing: null);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, depth).Select(SlotAsync));
    }

    /// <summary>One request, counted: correct, wrong, lost, abandoned (the bench closed its connection) or an error.</summary>
    private static async Task CallAsync(EdgeClient client, SoakCall call, SoakTally tally, StrongBox<bool>? closing, string? expectedErrorModel = null)
    {
        using (call)
        {
            try
            {
                var result = await client.InferAsync(call.Model, call.Inputs).WaitAsync(AnswerTimeout);
                if (call.Check(result))
                {
                    tally.AddCorrect(result.RoundTrip);
                }
                else
                {
                    tally.AddWrong();
                }
            }
            catch (Exception) when (closing?.Value == true)
            {
                tally.AddAbandoned();
            }
            catch (EdgeRuntimeException e) when (e.Code == ErrorCodes.UnknownModel && call.Model == expectedErrorModel)
            {
                tally.AddExpectedError();
            }
            catch (EdgeRuntimeException e) when (e.Code == "connection_lost")
            {
                tally.AddLost(e.Message);
            }
            catch (EdgeRuntimeException e)
            {
                tally.AddUnexpectedError(e.Code);
            }
            catch (TimeoutException)
            {
                tally.AddLost($"no answer within {AnswerTimeout.TotalSeconds:0} s");
            }
        }
    }

    /// <summary>
    /// Connects, sends a few hundred to a few thousand requests with 1 to 8 in flight, and reconnects; one session in
    /// five is cut off halfway with requests in flight, as a crashing app would.
    /// </summary>
    private static async Task ReconnectingClientAsync(string socket, SoakTraffic traffic, int seed, SoakTally tally, SoakCounters counters, CancellationToken stop)
    {
        var random = new Random(seed);
        long session = 0;
        while (!stop.IsCancellationRequested)
        {
            int requests = random.Next(200, 3000), depth = random.Next(1, 9);
            bool cutOff = random.Next(5) == 0;
            var closing = new StrongBox<bool>();
            var client = await EdgeClient.ConnectAsync(socket);
            counters.Connected();
            int next = 0;
            long sessionTag = ((long)seed << 32) | ((++session & 0xFFFF) << 16);
            async Task SlotAsync(int slot)
            {
                var slotRandom = new Random(random.Next() + slot);
                int sequence;
                while (!stop.IsCancellationRequested && !closing.Value && (sequence = Interlocked.Increment(ref next)) <= requests)
                {
                    await CallAsync(client, traffic.Next(slotRandom, sessionTag | (uint)(sequence & 0xFFFF)), tally, closing);
                    if (cutOff && sequence == requests / 2)
                    {
                        closing.Value = true;
                        await client.DisposeAsync();
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, depth).Select(SlotAsync));
            await client.DisposeAsync();
        }
    }

    /// <summary>Requests for the model that <see cref="LoadUnloadAsync"/> keeps loading and unloading.</summary>
    private static async Task ChurnedModelClientAsync(string socket, SoakTraffic traffic, int seed, SoakTally tally, CancellationToken stop)
    {
        var random = new Random(seed);
        await using var client = await EdgeClient.ConnectAsync(socket);
        while (!stop.IsCancellationRequested)
        {
            await CallAsync(client, traffic.SmallUnder(Churned, random), tally, closing: null, expectedErrorModel: Churned);
            await Task.Delay(random.Next(0, 3), CancellationToken.None);
        }
    }

    private static async Task LoadUnloadAsync(string socket, SoakTraffic traffic, SoakCounters counters, CancellationToken stop)
    {
        var random = new Random(3);
        await using var client = await EdgeClient.ConnectAsync(socket);
        while (!stop.IsCancellationRequested)
        {
            await counters.AdminAsync(() => client.LoadAsync(Churned, traffic.SmallPath), "load");
            await Task.Delay(random.Next(300, 2000), CancellationToken.None);
            await counters.AdminAsync(() => client.UnloadAsync(Churned), "unload");
            await Task.Delay(random.Next(100, 800), CancellationToken.None);
        }
    }

    private static async Task HealthPollAsync(string socket, SoakCounters counters, CancellationToken stop)
    {
        await using var client = await EdgeClient.ConnectAsync(socket);
        while (!stop.IsCancellationRequested)
        {
            var health = await counters.AdminAsync(() => client.HealthAsync(), "health");
            counters.SawQueueDepth(health?.QueueDepth ?? 0);
            await Task.Delay(1000, CancellationToken.None);
        }
    }

    /// <summary>Clients that send part of a frame (or a whole garbage one) and disconnect: the teardown paths, over and over.</summary>
    private static async Task VanishingClientsAsync(string socket, SoakCounters counters, CancellationToken stop)
    {
        var random = new Random(4);
        while (!stop.IsCancellationRequested)
        {
            using (var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await raw.ConnectAsync(new UnixDomainSocketEndPoint(socket));
                byte[] bytes = new byte[random.Next(1, 64)];
                random.NextBytes(bytes);
                await raw.SendAsync(bytes);
                await Task.Delay(random.Next(0, 1000), CancellationToken.None);
            }

            counters.Vanished();
            await Task.Delay(random.Next(200, 2000), CancellationToken.None);
        }
    }

    /// <summary>
    /// 64 connections that each send 10 bytes of a header and then nothing, on a daemon with default limits; then a
    /// new client (same uid) asks for health until it is answered. The partial frames are cut off at the frame timeout
    /// (10 s by default), which frees their slots.
    /// </summary>
    private static async Task<BenchResult> SlowClientsAsync(string edged, string work)
    {
        string configPath = Path.Combine(work, "defaults.json");
        File.WriteAllText(configPath, $$"""{ "modelDirectory": "{{work}}" }""");
        using var daemon = DaemonProcess.Start(edged, configPath, Path.Combine(work, "slow.sock"));
        var stalled = new List<Socket>();
        byte[] header = new byte[FrameHeader.Size];
        new FrameHeader(MessageType.Health, FrameFlags.None, 1, 2, 0).Write(header);
        try
        {
            for (int i = 0; i < 64; i++)
            {
                var raw = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                raw.Connect(new UnixDomainSocketEndPoint(daemon.SocketPath));
                raw.Send(header[..10]);
                stalled.Add(raw);
            }

            var clock = Stopwatch.StartNew();
            int refusals = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                try
                {
                    await using var client = await EdgeClient.ConnectAsync(daemon.SocketPath);
                    var health = await client.HealthAsync().WaitAsync(TimeSpan.FromSeconds(5));
                    double seconds = clock.Elapsed.TotalSeconds;
                    Console.WriteLine($"slow clients: 64 stalled connections; a new client was answered after {seconds:0.0} s and {refusals} busy refusal(s) ({health.Connections} connection(s) open then)");
                    return new BenchResult("slowloris_other_clients_served", 1, "answered", null, null,
                        $"64 connections stalled mid-header on default limits; the new client (same uid) was answered after {seconds:0.0} s and {refusals} busy refusals: one uid holds at most 48 of 64 slots and the stalled frames are closed at limits.frameTimeoutSeconds (10)");
                }
                catch (Exception e) when (e is EdgeRuntimeException or TimeoutException or SocketException)
                {
                    refusals++;
                    await Task.Delay(250);
                }
            }

            Console.WriteLine("slow clients: a new client was not answered within 60 s");
            return new BenchResult("slowloris_other_clients_served", 0, "answered", null, null, "not answered within 60 s");
        }
        finally
        {
            foreach (var raw in stalled)
            {
                raw.Dispose();
            }
        }
    }
}
