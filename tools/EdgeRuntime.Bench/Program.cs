using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeRuntime.Bench;
using EdgeRuntime.Client;
using EdgeRuntime.Formats;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

// build.ps1 bench: every figure is measured in this one run against its in-process peer; ratios, not absolutes, are
// what carry across noisy machines. Usage: --publish-dir DIR --models-dir DIR --out DIR [--quick] [--client-spin-us N];
// --triggers and --pipelines select the trigger and pipeline benchmarks (TriggerBench, PipelineBench); --quantize the
// static INT8 quantization benchmark (QuantizeBench: --models-dir DIR --samples-dir DIR --assets-dir DIR --text-lines DIR --out DIR [--quick]); --llm the
// language-model benchmark (LlmBench: --publish-dir DIR --cache DIR --out DIR [--peer-bin DIR] [--genai-peer DLL] [--hybrid-only | --delta-only | --vlm-only | --layout-only] [--repo DIR] [--quick]);
// --soak the load and soak benchmark (SoakBench: --publish-dir DIR --out DIR [--quick] [--soak-minutes N]);
// --peer-gguf writes the language-model peer's GGUF (PeerGgufCommand).
var options = ParseArgs(args);
if (options.ContainsKey("--peer-gguf"))
{
    return PeerGgufCommand.Run(options);
}

if (options.ContainsKey("--soak"))
{
    TimeSpan? soakLength = options.TryGetValue("--soak-minutes", out string? minutes) ? TimeSpan.FromMinutes(double.Parse(minutes, CultureInfo.InvariantCulture)) : null;
    return await SoakBench.RunAsync(Path.GetFullPath(options["--publish-dir"]), options["--out"], options.ContainsKey("--quick"), soakLength);
}

if (options.ContainsKey("--triggers"))
{
    return await TriggerBench.RunAsync(Path.GetFullPath(options["--publish-dir"]), options["--speech"], options["--out"], options.ContainsKey("--quick"));
}

if (options.ContainsKey("--llm"))
{
    return await LlmBench.RunAsync(Path.GetFullPath(options["--publish-dir"]), options["--cache"], options["--out"], options.GetValueOrDefault("--peer-bin"), options.ContainsKey("--quick"), options.GetValueOrDefault("--genai-peer"), options.ContainsKey("--hybrid-only"), options.GetValueOrDefault("--repo"), options.ContainsKey("--delta-only"), options.ContainsKey("--vlm-only"), options.ContainsKey("--layout-only"));
}

if (options.ContainsKey("--quantize"))
{
    return QuantizeBench.Run(Path.GetFullPath(options["--models-dir"]), Path.GetFullPath(options["--samples-dir"]), Path.GetFullPath(options["--assets-dir"]), Path.GetFullPath(options["--text-lines"]), options["--out"], options.ContainsKey("--quick"));
}

if (options.ContainsKey("--pipelines"))
{
    return await PipelineBench.RunAsync(Path.GetFullPath(options["--models-dir"]), Path.GetFullPath(options["--samples-dir"]), options["--out"], options.ContainsKey("--quick"));
}

string publishDir = Path.GetFullPath(options["--publish-dir"]);
string modelsDir = Path.GetFullPath(options["--models-dir"]);
string outDir = options["--out"];
bool quick = options.ContainsKey("--quick");
var clientOptions = options.TryGetValue("--client-spin-us", out string? spin)
    ? new EdgeClientOptions { SpinBeforeBlock = TimeSpan.FromMicroseconds(double.Parse(spin, CultureInfo.InvariantCulture)) }
    : EdgeClientOptions.Default;
int samples = quick ? 300 : 2000;
TimeSpan throughputWindow = TimeSpan.FromSeconds(quick ? 1 : 3);

string work = Directory.CreateTempSubdirectory("edgeruntime-bench-").FullName;
string edged = Path.Combine(publishDir, "edged");
string configPath = Path.Combine(work, "edged.json");
// Silero VAD is loaded from the assets folder by absolute path, so that folder is an allowed root.
File.WriteAllText(configPath, $$"""{ "modelDirectory": "{{work}}", "allowedModelRoots": [ "{{modelsDir}}" ], "threads": { "intraOp": 1, "interOp": 1, "workers": 0 }, "sharedMemory": { "enabled": true } }""");
string mlpPath = Path.Combine(work, "mlp.onnx");
File.WriteAllBytes(mlpPath, SampleModels.Mlp(1024, 1024, 256));
string cameraPath = Path.Combine(work, "frame-mean.onnx");
File.WriteAllBytes(cameraPath, SampleModels.FrameMean());
string sileroPath = Path.Combine(modelsDir, "silero_vad_v5.onnx");
var inferenceOptions = new InferenceOptions { IntraOpThreads = 1, InterOpThreads = 1 };
var results = new List<BenchResult>();

Console.WriteLine($"edged: {edged}");
Console.WriteLine($"client: receive spin {clientOptions.SpinBeforeBlock.TotalMicroseconds} µs, inline continuations {clientOptions.InlineContinuations}");
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {samples} samples per latency case, {throughputWindow.TotalSeconds} s per throughput window");

// 1. Start-up and idle memory of a daemon with no models: the median of five starts.
var readyMs = new List<double>();
var idleRss = new List<double>();
for (int i = 0; i < 5; i++)
{
    using var daemon = DaemonProcess.Start(edged, configPath, Path.Combine(work, $"ready{i}.sock"));
    readyMs.Add(daemon.ReadyAfter.TotalMilliseconds);
    Thread.Sleep(300);
    idleRss.Add(daemon.RssMb());
}

results.Add(new BenchResult("edged_ready_ms", Statistics.Median(readyMs), "ms", 150, Statistics.Median(readyMs) / 150, "exec to first accepted connect(), median of 5; baseline is the target"));
results.Add(new BenchResult("edged_idle_rss_mb", Statistics.Median(idleRss), "MiB", 50, Statistics.Median(idleRss) / 50, "VmRSS 300 ms after ready, no models; baseline is the target"));

// 2. Latency: one client, sequential requests, interleaved in rounds with the in-process call.
using var main = DaemonProcess.Start(edged, configPath, Path.Combine(work, "bench.sock"));
await using var client = await EdgeClient.ConnectAsync(main.SocketPath, clientOptions);
await client.LoadAsync("mlp", mlpPath);
await client.LoadAsync("silero", sileroPath);
await client.LoadAsync("camera", cameraPath);
using var mlpLocal = new InProcessModel(mlpPath, inferenceOptions);
using var sileroLocal = new InProcessModel(sileroPath, inferenceOptions);
using var cameraLocal = new InProcessModel(cameraPath, inferenceOptions);

var random = new Random(1);
Tensor RandomFloats(string name, long[] shape)
{
    var values = new float[TensorDTypes.ElementCount(shape)!.Value];
    for (int i = 0; i < values.Length; i++)
    {
        values[i] = (float)(random.NextDouble() * 2 - 1);
    }

    return Tensor.Float32(name, shape, values);
}

Tensor[] sileroInputs = [RandomFloats("input", [1, 512]), Tensor.Float32("state", [2, 1, 128], new float[256]), Tensor.Int64("sr", [], [16000])];
var cases = new (string Name, string Model, InProcessModel Local, Tensor[] Inputs)[]
{
    ("mlp_4KiB", "mlp", mlpLocal, [RandomFloats("x", [1, 1024])]),
    ("mlp_64KiB", "mlp", mlpLocal, [RandomFloats("x", [16, 1024])]),
    ("silero_vad", "silero", sileroLocal, sileroInputs),
};

// The daemon's own work per request, without any socket: its scheduler and runner called in-process, against the
// plain ORT call, on Silero VAD.
using (var registry = new ModelRegistry(modelsDir, inferenceOptions))
using (var scheduler = new InferenceScheduler(inferenceOptions))
{
    await registry.LoadAsync("silero", sileroPath);
    byte[] payload = new byte[2048 + 1024 + 8];
    BitConverter.TryWriteBytes(payload.AsSpan(3072), 16000L);
    var request = new InferRequest("silero", [new("input", "float32", [1, 512], 0, 2048), new("state", "float32", [2, 1, 128], 2048, 1024), new("sr", "int64", [], 3072, 8)]);
    Tensor[] zeros = [Tensor.Float32("input", [1, 512], new float[512]), Tensor.Float32("state", [2, 1, 128], new float[256]), Tensor.Int64("sr", [], [16000])];
    var direct = new List<double>();
    var scheduled = new List<double>();
    for (int i = 0; i < samples + 200; i++)
    {
        long start = Stopwatch.GetTimestamp();
        sileroLocal.Run(zeros);
        double directUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        start = Stopwatch.GetTimestamp();
        using (await scheduler.RunAsync(registry, request, payload))
        {
        }

        double scheduledUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        if (i >= 200)
        {
            direct.Add(directUs);
            scheduled.Add(scheduledUs);
        }
    }

    direct.Sort();
    scheduled.Sort();
    double d50 = LatencyRecorder.Percentile(direct.ToArray(), 0.5), s50 = LatencyRecorder.Percentile(scheduled.ToArray(), 0.5);
    results.Add(new BenchResult("edged_internal_overhead_p50_us", s50 - d50, "us", d50, s50 / d50, "validation + scheduler + output packing, no socket (Silero VAD); baseline is the plain ORT call"));
    Console.WriteLine($"edged internals without the socket: p50 {s50:0.0} µs vs plain ORT {d50:0.0} µs");
}

var overheadP50 = new List<double>();
var overheadP99 = new List<double>();
foreach (var (name, model, local, inputs) in cases)
{
    // Outputs must agree before timing means anything.
    float localFirst = local.Run(inputs);
    float remoteFirst = (await client.InferAsync(model, inputs)).Outputs[0].ToArray<float>()[0];
    if (localFirst != remoteFirst)
    {
        throw new InvalidOperationException($"{name}: edged answered {remoteFirst}, in-process {localFirst}.");
    }

    for (int i = 0; i < 200; i++)
    {
        local.Run(inputs);
        await client.InferAsync(model, inputs);
    }

    var localUs = new List<double>(samples);
    var remoteUs = new List<double>(samples);
    var daemonOrtUs = new List<double>(samples); // the run inside edged, as its response reports it
    for (int round = 0; round < 10; round++)
    {
        for (int i = 0; i < samples / 10; i++)
        {
            long start = Stopwatch.GetTimestamp();
            local.Run(inputs);
            localUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        for (int i = 0; i < samples / 10; i++)
        {
            long start = Stopwatch.GetTimestamp();
            var answer = await client.InferAsync(model, inputs);
            remoteUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            daemonOrtUs.Add(answer.Timing.InferenceUs);
        }
    }

    localUs.Sort();
    remoteUs.Sort();
    double lp50 = LatencyRecorder.Percentile(localUs.ToArray(), 0.5), lp99 = LatencyRecorder.Percentile(localUs.ToArray(), 0.99);
    double rp50 = LatencyRecorder.Percentile(remoteUs.ToArray(), 0.5), rp99 = LatencyRecorder.Percentile(remoteUs.ToArray(), 0.99);
    long bytes = inputs.Sum(t => (long)t.Data.Length);
    results.Add(new BenchResult($"{name}_inprocess_p50_us", lp50, "us", null, null, $"{bytes} input bytes"));
    results.Add(new BenchResult($"{name}_edged_p50_us", rp50, "us", lp50, rp50 / lp50));
    results.Add(new BenchResult($"{name}_edged_p99_us", rp99, "us", lp99, rp99 / lp99));
    results.Add(new BenchResult($"{name}_overhead_p50_us", rp50 - lp50, "us", lp50, rp50 / lp50));
    results.Add(new BenchResult($"{name}_overhead_p99_us", rp99 - lp99, "us", lp99, rp99 / lp99));
    results.Add(new BenchResult($"{name}_daemon_ort_p50_us", Median(daemonOrtUs), "us", lp50, Median(daemonOrtUs) / lp50, "the ORT run inside edged (the response's timing.inferenceUs); baseline the in-process call"));
    overheadP50.Add(rp50 - lp50);
    overheadP99.Add(rp99 - lp99);
    Console.WriteLine($"{name,-12} {bytes,7} B in   in-process p50 {lp50,8:0.0} µs p99 {lp99,8:0.0} µs   edged p50 {rp50,8:0.0} µs p99 {rp99,8:0.0} µs   overhead p50 {rp50 - lp50,6:0.0} µs (ORT inside edged p50 {Median(daemonOrtUs):0.0} µs)");
}

// The headline is the worst case among tensors up to 64 KiB.
results.Add(new BenchResult("ipc_overhead_p50_us", overheadP50.Max(), "us", 50, overheadP50.Max() / 50, "socket round trip minus in-process call, worst of the cases above; baseline is the target"));
results.Add(new BenchResult("ipc_overhead_p99_us", overheadP99.Max(), "us", null, null, "worst of the cases above"));

// 2b. A camera frame (640×480 RGB, 900 KiB): through the socket, and through a shared region three ways. "in place"
// is the camera writing into the region itself; "copied" adds the client's copy of the frame into the region.
{
    var pixels = new byte[480 * 640 * 3];
    random.NextBytes(pixels);
    Tensor[] frame = [new Tensor("frame", TensorDType.UInt8, [1, 480, 640, 3], pixels)];
    using var region = await client.RegisterRegionAsync("camera", pixels.Length + 4096);
    pixels.CopyTo(region.Memory.Span);
    TensorDescriptor[] inPlace = [new TensorDescriptor("frame", "uint8", [1, 480, 640, 3], 0, pixels.Length) { Region = "camera" }];
    var outputRange = new RegionRange("camera", pixels.Length, 4096);
    float localMean = cameraLocal.Run(frame);
    float shmMean = (await client.InferInRegionAsync("camera", region, inPlace, outputRange))["mean"].ToArray<float>()[0];
    if (localMean != shmMean)
    {
        throw new InvalidOperationException($"camera: edged answered {shmMean} from shared memory, in-process {localMean}.");
    }

    var ways = new (string Name, Func<Task<InferResult>> Call)[]
    {
        ("socket", () => client.InferAsync("camera", frame)),
        ("shm_in_place", () => client.InferInRegionAsync("camera", region, inPlace, outputRange)),
        ("shm_copied", () => client.InferAsync("camera", frame, region)),
    };
    var cameraUs = ways.ToDictionary(w => w.Name, _ => new List<double>(samples));
    var cameraOrtUs = ways.ToDictionary(w => w.Name, _ => new List<double>(samples));
    var cameraLocalUs = new List<double>(samples);
    for (int i = 0; i < 100; i++)
    {
        cameraLocal.Run(frame);
        foreach (var way in ways)
        {
            await way.Call();
        }
    }

    for (int round = 0; round < 10; round++)
    {
        for (int i = 0; i < samples / 10; i++)
        {
            long start = Stopwatch.GetTimestamp();
            cameraLocal.Run(frame);
            cameraLocalUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        foreach (var way in ways)
        {
            for (int i = 0; i < samples / 10; i++)
            {
                long start = Stopwatch.GetTimestamp();
                var answer = await way.Call();
                cameraUs[way.Name].Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                cameraOrtUs[way.Name].Add(answer.Timing.InferenceUs);
            }
        }
    }

    double local50 = Median(cameraLocalUs);
    results.Add(new BenchResult("camera_inprocess_p50_us", local50, "us", null, null, $"{pixels.Length} input bytes (uint8 1x480x640x3), mean colour out"));
    foreach (var (way, us) in cameraUs)
    {
        double p50 = Median(us);
        results.Add(new BenchResult($"camera_{way}_p50_us", p50, "us", local50, p50 / local50));
        results.Add(new BenchResult($"camera_{way}_overhead_p50_us", p50 - local50, "us", local50, p50 / local50));
        results.Add(new BenchResult($"camera_{way}_daemon_ort_p50_us", Median(cameraOrtUs[way]), "us", local50, Median(cameraOrtUs[way]) / local50, "the ORT run inside edged (timing.inferenceUs)"));
        Console.WriteLine($"camera {way,-13} p50 {p50,8:0.0} µs   in-process {local50,8:0.0} µs   overhead {p50 - local50,7:0.0} µs (ORT inside edged p50 {Median(cameraOrtUs[way]):0.0} µs)");
    }

    double shmOverhead = Median(cameraUs["shm_in_place"]) - local50;
    results.Add(new BenchResult("ipc_shm_overhead_p50_us", shmOverhead, "us", 40, shmOverhead / 40, "900 KiB frame already in a shared region (the camera writes there), outputs into the region; round trip minus in-process call; baseline is the target"));
    await client.UnregisterRegionAsync(region);
}

// 3. Throughput: 1 and 8 concurrent callers, in-process threads vs edged clients, two windows each.
foreach (var (name, model, local, inputs) in new[] { cases[0], cases[2] })
{
    foreach (int callers in new[] { 1, 8 })
    {
        double localRate = 0, remoteRate = 0;
        var localLatency = new List<double>();
        var remoteLatency = new List<double>();
        double daemonCpuMs = 0, clientCpuMs = 0, localCpuMs = 0;
        long localCount = 0;
        long remoteCount = 0;
        for (int window = 0; window < 2; window++)
        {
            var localBefore = Process.GetCurrentProcess().TotalProcessorTime;
            int latenciesBefore = localLatency.Count;
            localRate += InProcessThroughput(local, inputs, callers, throughputWindow, localLatency);
            localCpuMs += (Process.GetCurrentProcess().TotalProcessorTime - localBefore).TotalMilliseconds;
            localCount += localLatency.Count - latenciesBefore;
            double daemonBefore = main.CpuMs();
            var clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var (rate, count) = await EdgedThroughputAsync(main.SocketPath, clientOptions, model, inputs, callers, throughputWindow, remoteLatency);
            daemonCpuMs += main.CpuMs() - daemonBefore;
            clientCpuMs += (Process.GetCurrentProcess().TotalProcessorTime - clientBefore).TotalMilliseconds;
            remoteRate += rate;
            remoteCount += count;
        }

        // Where the CPU goes per request: the daemon (ORT run included) and this client process.
        results.Add(new BenchResult($"{name}_daemon_cpu_per_request_{callers}clients_us", daemonCpuMs * 1000 / remoteCount, "us", null, null, "edged's user+system CPU over the edged windows ÷ requests; includes the ORT run"));
        results.Add(new BenchResult($"{name}_client_cpu_per_request_{callers}clients_us", clientCpuMs * 1000 / remoteCount, "us", null, null, "this benchmark process's CPU over the edged windows ÷ requests"));
        double localCpuUs = localCpuMs * 1000 / localCount, beyondOrt = (daemonCpuMs * 1000 / remoteCount) - localCpuUs;
        results.Add(new BenchResult($"{name}_inprocess_cpu_per_request_{callers}clients_us", localCpuUs, "us", null, null, "the in-process peer's CPU over its windows ÷ calls: what the ORT run itself costs"));
        results.Add(new BenchResult($"{name}_daemon_cpu_beyond_ort_{callers}clients_us", beyondOrt, "us", localCpuUs, null, "daemon CPU per request minus the in-process CPU per call"));
        Console.WriteLine($"{name,-12} {callers} callers: CPU per request: edged {daemonCpuMs * 1000 / remoteCount,7:0.0} µs, in-process {localCpuUs,7:0.0} µs, beyond ORT {beyondOrt,7:0.0} µs, client {clientCpuMs * 1000 / remoteCount,7:0.0} µs");

        localRate /= 2;
        remoteRate /= 2;
        localLatency.Sort();
        remoteLatency.Sort();
        double lp50 = LatencyRecorder.Percentile(localLatency.ToArray(), 0.5), rp50 = LatencyRecorder.Percentile(remoteLatency.ToArray(), 0.5);
        double lp99 = LatencyRecorder.Percentile(localLatency.ToArray(), 0.99), rp99 = LatencyRecorder.Percentile(remoteLatency.ToArray(), 0.99);
        results.Add(new BenchResult($"{name}_throughput_{callers}clients_rps", remoteRate, "requests/s", localRate, remoteRate / localRate));
        results.Add(new BenchResult($"{name}_latency_{callers}clients_p50_us", rp50, "us", lp50, rp50 / lp50, "per request while all callers run; baseline in-process"));
        results.Add(new BenchResult($"{name}_latency_{callers}clients_p99_us", rp99, "us", lp99, rp99 / lp99));
        Console.WriteLine($"{name,-12} {callers} callers: in-process {localRate,9:0} req/s p50 {lp50,7:0} µs p99 {lp99,7:0} µs   edged {remoteRate,9:0} req/s p50 {rp50,7:0} µs p99 {rp99,7:0} µs   ratio {remoteRate / localRate:0.00}");
    }
}

// 3b. The same 8 callers on a second daemon whose only difference is threads.workers = 8 (as many runs at once as
// callers, like the in-process threads) instead of one per core: what waiting for a worker slot, and resuming on the
// thread pool after it, costs. Reported beside the headline, which keeps the default.
{
    string manyWorkersConfig = Path.Combine(work, "edged-8-workers.json");
    string defaultConfig = File.ReadAllText(configPath);
    string manyWorkersText = defaultConfig.Replace("\"workers\": 0", "\"workers\": 8", StringComparison.Ordinal);
    if (manyWorkersText == defaultConfig)
    {
        throw new InvalidOperationException("The 8-worker configuration would equal the default one.");
    }

    File.WriteAllText(manyWorkersConfig, manyWorkersText);
    using var manyWorkers = DaemonProcess.Start(edged, manyWorkersConfig, Path.Combine(work, "workers.sock"));
    await using (var loader = await EdgeClient.ConnectAsync(manyWorkers.SocketPath, clientOptions))
    {
        await loader.LoadAsync("mlp", mlpPath);
        await loader.LoadAsync("silero", sileroPath);
    }

    foreach (var (name, model, local, inputs) in new[] { cases[0], cases[2] })
    {
        var defaults = results.Single(r => r.Name == $"{name}_throughput_8clients_rps");
        double ortCpuUs = results.Single(r => r.Name == $"{name}_inprocess_cpu_per_request_8clients_us").Value;
        var (rate, daemonCpuUs, _) = await SteadyThroughputAsync(manyWorkers, clientOptions, model, inputs, throughputWindow);
        double beyondOrt = daemonCpuUs - ortCpuUs;
        results.Add(new BenchResult($"{name}_throughput_8clients_8workers_rps", rate, "requests/s", defaults.Baseline, rate / defaults.Baseline!.Value, "threads.workers 8 instead of one per core; baseline in-process, as in the default row"));
        results.Add(new BenchResult($"{name}_daemon_cpu_beyond_ort_8clients_8workers_us", beyondOrt, "us", ortCpuUs, null, "threads.workers 8: daemon CPU per request minus the in-process CPU per call"));
        Console.WriteLine($"{name,-12} 8 callers, 8 workers: edged {rate,9:0} req/s (default workers {defaults.Value:0} req/s), ratio {rate / defaults.Baseline!.Value:0.00}, beyond ORT {beyondOrt:0.0} µs");
    }
}

// 3c. The same 8 callers on the default daemon, to the same models loaded with maxBatch 8: requests that arrive while
// the model is busy run as one batch (Silero's state joins along its axis 1, the sample rate is shared). Same
// in-process baseline.
{
    await using (var loader = await EdgeClient.ConnectAsync(main.SocketPath, clientOptions))
    {
        await loader.LoadAsync(new LoadRequest("mlp_batched", mlpPath) { MaxBatch = 8 });
        await loader.LoadAsync(new LoadRequest("silero_batched", sileroPath)
        {
            MaxBatch = 8,
            BatchAxes = new() { ["input"] = 0, ["state"] = 1, ["output"] = 0, ["stateN"] = 1 },
        });
    }

    foreach (var (name, model, local, inputs) in new[] { cases[0], cases[2] })
    {
        var defaults = results.Single(r => r.Name == $"{name}_throughput_8clients_rps");
        double ortCpuUs = results.Single(r => r.Name == $"{name}_inprocess_cpu_per_request_8clients_us").Value;
        var (rate, daemonCpuUs, meanBatch) = await SteadyThroughputAsync(main, clientOptions, model + "_batched", inputs, throughputWindow);
        results.Add(new BenchResult($"{name}_throughput_8clients_batched_rps", rate, "requests/s", defaults.Baseline, rate / defaults.Baseline!.Value, $"loaded with maxBatch 8 (mean batch {meanBatch:0.0}); baseline in-process, unbatched, as in the default row"));
        results.Add(new BenchResult($"{name}_daemon_cpu_per_request_8clients_batched_us", daemonCpuUs, "us", ortCpuUs, daemonCpuUs / ortCpuUs, "maxBatch 8: edged's CPU per request, batched ORT run included; baseline the in-process CPU per unbatched call"));
        Console.WriteLine($"{name,-12} 8 callers, maxBatch 8: edged {rate,9:0} req/s, ratio {rate / defaults.Baseline!.Value:0.00}, mean batch {meanBatch:0.0}, edged CPU {daemonCpuUs:0.0} µs per request (in-process {ortCpuUs:0.0})");
    }
}

double worstBatchedRatio = results.Where(r => r.Name.EndsWith("_throughput_8clients_batched_rps", StringComparison.Ordinal)).Min(r => r.Ratio!.Value);
results.Add(new BenchResult("ipc_throughput_ratio_8clients_batched", worstBatchedRatio, "ratio", 0.9, worstBatchedRatio / 0.9, "as ipc_throughput_ratio_8clients, with the models loaded with maxBatch 8; baseline is the target"));
double worstThroughputRatio = results.Where(r => r.Name.EndsWith("_throughput_8clients_rps", StringComparison.Ordinal)).Min(r => r.Ratio!.Value);
double worstBeyondOrt = results.Where(r => r.Name.EndsWith("_daemon_cpu_beyond_ort_8clients_us", StringComparison.Ordinal)).Max(r => r.Value);
results.Add(new BenchResult("edged_cpu_per_request_beyond_ort_us", worstBeyondOrt, "us", 25, worstBeyondOrt / 25, "8 clients, worst model: edged's CPU per request minus the in-process CPU per call; baseline is the target"));
results.Add(new BenchResult("ipc_throughput_ratio_8clients", worstThroughputRatio, "ratio", 0.9, worstThroughputRatio / 0.9, "edged ÷ in-process with 8 callers, worst model; baseline is the target"));
double loadedRss = main.RssMb();
results.Add(new BenchResult("edged_loaded_rss_mb", loadedRss, "MiB", Statistics.Median(idleRss), loadedRss / Statistics.Median(idleRss), "after the runs above with the MLP (5 MB) and Silero VAD (2.3 MB) loaded; baseline is idle RSS"));

Directory.CreateDirectory(outDir);
string jsonPath = Path.Combine(outDir, "ipc.json");
File.WriteAllText(jsonPath, JsonSerializer.Serialize(results, BenchJsonContext.Default.ListBenchResult));
Console.WriteLine();
foreach (var r in results.Where(r => r.Name.StartsWith("ipc_", StringComparison.Ordinal) || r.Name.StartsWith("edged_", StringComparison.Ordinal)))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Name,-32} {r.Value,10:0.00} {r.Unit,-6} baseline {r.Baseline?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-",8}  ratio {r.Ratio?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-"}"));
}

Console.WriteLine($"wrote {jsonPath}");
Directory.Delete(work, recursive: true);
return 0;

static double Median(List<double> values)
{
    var sorted = values.ToArray();
    Array.Sort(sorted);
    return LatencyRecorder.Percentile(sorted, 0.5);
}

static double InProcessThroughput(InProcessModel local, Tensor[] inputs, int callers, TimeSpan window, List<double> latencies)
{
    long count = 0;
    var deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
    var threads = Enumerable.Range(0, callers).Select(_ => new Thread(() =>
    {
        var mine = new List<double>();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            long start = Stopwatch.GetTimestamp();
            local.Run(inputs);
            mine.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        Interlocked.Add(ref count, mine.Count);
        lock (latencies)
        {
            latencies.AddRange(mine);
        }
    })).ToArray();
    var clock = Stopwatch.StartNew();
    foreach (var thread in threads)
    {
        thread.Start();
    }

    foreach (var thread in threads)
    {
        thread.Join();
    }

    return count / clock.Elapsed.TotalSeconds;
}

// 8 callers on a warmed-up model for two windows: requests per second, the daemon's CPU per request, the mean batch.
static async Task<(double Rate, double DaemonCpuUs, double MeanBatch)> SteadyThroughputAsync(DaemonProcess daemon, EdgeClientOptions clientOptions, string model, Tensor[] inputs, TimeSpan window)
{
    // Warmed up first, as the default daemon was by the latency cases: a session's first concurrent runs are slow.
    await EdgedThroughputAsync(daemon.SocketPath, clientOptions, model, inputs, 8, window, []);
    double before = daemon.CpuMs();
    var batchSizes = new List<double>();
    var (rate, count) = await EdgedThroughputAsync(daemon.SocketPath, clientOptions, model, inputs, 8, window * 2, [], batchSizes);
    return (rate, (daemon.CpuMs() - before) * 1000 / count, batchSizes.Average());
}

static async Task<(double Rate, long Count)> EdgedThroughputAsync(string socket, EdgeClientOptions clientOptions, string model, Tensor[] inputs, int callers, TimeSpan window, List<double> latencies, List<double>? batchSizes = null)
{
    var clients = new EdgeClient[callers];
    for (int i = 0; i < callers; i++)
    {
        clients[i] = await EdgeClient.ConnectAsync(socket, clientOptions);
    }

    long count = 0;
    var deadline = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
    var clock = Stopwatch.StartNew();
    await Task.WhenAll(clients.Select(async c =>
    {
        var mine = new List<double>();
        var batches = new List<double>();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            long start = Stopwatch.GetTimestamp();
            var result = await c.InferAsync(model, inputs);
            mine.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            batches.Add(result.Timing.Batch ?? 1);
        }

        Interlocked.Add(ref count, mine.Count);
        lock (latencies)
        {
            latencies.AddRange(mine);
            batchSizes?.AddRange(batches);
        }
    }));
    double rate = count / clock.Elapsed.TotalSeconds;
    foreach (var c in clients)
    {
        await c.DisposeAsync();
    }

    return (rate, count);
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var map = new Dictionary<string, string>(StringComparer.Ordinal);
    for (int i = 0; i < args.Length; i++)
    {
        map[args[i]] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
    }

    string[] needed = map.ContainsKey("--peer-gguf") ? []
        : map.ContainsKey("--soak") ? ["--publish-dir", "--out"]
        : map.ContainsKey("--triggers") ? ["--publish-dir", "--speech", "--out"]
        : map.ContainsKey("--pipelines") ? ["--models-dir", "--samples-dir", "--out"]
        : map.ContainsKey("--quantize") ? ["--models-dir", "--samples-dir", "--assets-dir", "--text-lines", "--out"]
        : map.ContainsKey("--llm") ? ["--publish-dir", "--cache", "--out"]
        : ["--publish-dir", "--models-dir", "--out"];
    foreach (string required in needed)
    {
        if (!map.ContainsKey(required))
        {
            throw new ArgumentException($"Missing {required}. Usage: --publish-dir DIR --models-dir DIR --out DIR [--quick] [--client-spin-us N], or --soak --publish-dir DIR --out DIR [--quick] [--soak-minutes N], or --triggers --publish-dir DIR --speech WAV --out DIR [--quick], or --pipelines --models-dir DIR --samples-dir DIR --out DIR [--quick], or --quantize --models-dir DIR --samples-dir DIR --assets-dir DIR --text-lines DIR --out DIR [--quick], or --llm --publish-dir DIR --cache DIR --out DIR [--peer-bin DIR] [--quick]");
        }
    }

    return map;
}
