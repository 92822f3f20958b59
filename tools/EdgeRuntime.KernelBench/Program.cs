using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text.Json;
using EdgeRuntime.Inference;
using EdgeRuntime.KernelBench;
using EdgeRuntime.Kernels;
using EdgeRuntime.Kernels.Ternary;
using EdgeRuntime.Tools;
using Microsoft.ML.OnnxRuntime;

// Usage: KernelBench --out DIR [--quick] [--only bitlinear|lowbit|memory] [--peer-i2s PATH] [--max-path PATH]
// (KernelBench --rss-probe MODEL [--no-prepacking] is the child process WeightMemory starts.)
if (args is [WeightMemory.ProbeFlag, var probeModel, .. var probeRest])
{
    return WeightMemory.RunProbe(probeModel, prepacking: !probeRest.Contains("--no-prepacking"));
}

string outDir = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? Path.Combine("artifacts", "bench");
bool quick = args.Contains("--quick");
// While tuning one kernel family: --only runs just its figures (the JSON then holds only those).
string only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "all";
if (only is not ("all" or "bitlinear" or "lowbit" or "memory"))
{
    Console.Error.WriteLine($"--only takes bitlinear, lowbit or memory, not '{only}'.");
    return 2;
}

// --max-path narrows the kernels as a board profile's kernels.maxPath does (Vector256 leaves out the native AVX-512
// kernels), so one machine can measure what a narrower profile or CPU would run.
if (args.SkipWhile(a => a != "--max-path").Skip(1).FirstOrDefault() is { } maxPath)
{
    if (!Enum.TryParse<KernelPath>(maxPath, out var ceiling))
    {
        Console.Error.WriteLine($"--max-path takes {string.Join(", ", Enum.GetNames<KernelPath>())}, not '{maxPath}'.");
        return 2;
    }

    try
    {
        KernelPaths.Apply(KernelPaths.Choose(new KernelLimits(MaxPath: ceiling)));
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine($"--max-path {maxPath}: {e.Message}");
        return 2;
    }
}

// bitnet.cpp's I2_S kernel built from a BitNet checkout by build/Bench.psm1 (-PeerSource); without it the figures
// against bitnet.cpp are written as skipped.
string? peerPath = args.SkipWhile(a => a != "--peer-i2s").Skip(1).FirstOrDefault();
var bitnetCpp = peerPath is null ? null : new BitNetCppPeer(Path.GetFullPath(peerPath));
if (bitnetCpp is not null && !File.Exists(bitnetCpp.Executable))
{
    Console.Error.WriteLine($"--peer-i2s {bitnetCpp.Executable}: no such file.");
    return 2;
}

// The worst ratio against bitnet.cpp over 2560x6912 and 6912x2560 (two threads), per batch, with the runs behind it.
var versusBitNetCpp = new Dictionary<int, List<(double Ratio, string Run)>>();
// Our 1.6-bit layout over our 2-bit one per shape, decode (one token, two threads).
var subTwoBit = new List<(double Ratio, string Run)>();
var subTwoBitVersusBitNetCpp = new List<(double Ratio, string Run)>();
bool runBitLinear = only is "all" or "bitlinear";
bool runLowBit = only is "all" or "lowbit";
Directory.CreateDirectory(outDir);
var results = new List<BenchResult>();
Console.WriteLine($"kernel path: {KernelPaths.Describe(KernelPaths.Best)}{(KernelPaths.Avx512Vnni ? " + native Avx512Vnni" : "")}; {Environment.ProcessorCount} cores; ORT {OrtEnv.Instance().GetVersionString()}");

// The machine's streaming read bandwidth, two threads, over a buffer far larger than the last-level cache.
double bandwidth = StreamingRead.GigabytesPerSecond(threads: 2, megabytes: quick ? 256 : 1024);
Console.WriteLine($"streaming read, 2 threads: {bandwidth:0.0} GB/s");
results.Add(new("memory_read_bandwidth_gbs", bandwidth, "GB/s", null, null, $"2 threads, {(quick ? 256 : 1024)} MiB buffer, four 32-byte loads per step, best of 5"));

(int K, int N)[] shapes = quick ? [(2560, 6912), (6912, 2560)] : [(2560, 2560), (2560, 6912), (6912, 2560)];
int[] batches = [1, 32];
int[] threadCounts = quick ? [2] : [1, 2];
// Streamed: one model holds `copies` independent layers of the shape, run back to back on the same x; together their
// weights are well past this machine's 32 MiB L3, so each layer reads its weights from DRAM, as decode does in a
// model far larger than the caches. Time per layer = run time / copies. Cached: one layer, run again and again.

foreach (var (k, n) in shapes)
{
    foreach (int threads in threadCounts)
    {
        foreach (int m in batches)
        {
            string shape = $"{k}x{n}_b{m}_t{threads}";
            if (runLowBit)
            {
                MeasureLowBit(shape, k, n, m, threads);
            }

            if (!runBitLinear)
            {
                continue;
            }

            long ternaryBytes = PeerModels.BitLinearWeightBytes(k, n);
            int copies = (int)Math.Clamp(128L * 1024 * 1024 / ternaryBytes, 2, 48);
            byte[] bitLinear = PeerModels.BitLinear(k, n, copies, 1);
            var (ours, nbits2) = MeasurePair(threads, m, k, bitLinear, PeerModels.MatMulNBits(k, n, 2, 64, 4, copies, 1), copies, quick);
            // ORT's fp32 MatMul: one layer (its 4-byte weights are past the L3 from 2560x6912 up), in its own alternating
            // blocks with ours.
            var (oursAgainstFp32, fp32) = MeasurePairOf(threads, m, k, bitLinear, copies, PeerModels.MatMulFp32(k, n, 1), 1, quick);
            var oursCached = Measure(threads, m, k, PeerModels.BitLinear(k, n, 1, 1), 1, quick);
            var nbits2Cached = Measure(threads, m, k, PeerModels.MatMulNBits(k, n, 2, 64, 4, 1, 1), 1, quick);
            // Decode's share of the read rate: a plain read of the same number of bytes in alternating blocks with ours (the
            // run's start-up figure can be tens of percent off by the time a shape is reached); other rows use that figure.
            var (oursAgainstRead, readRate) = m == 1 && threads == 2
                ? MeasureAgainstRead(threads, m, k, bitLinear, copies, copies * ternaryBytes, quick)
                : (ours, bandwidth);
            double pct = ternaryBytes / (oursAgainstRead * 1e-3) / 1e9 / readRate * 100;
            Console.WriteLine($"{shape,-22} BitLinear {ours,7:0.000} ms (cached {oursCached:0.000})  ORT nbits2 {nbits2,7:0.000} ms (cached {nbits2Cached:0.000})  ORT fp32 {fp32,7:0.000} ms vs ours {oursAgainstFp32:0.000} ms  weights {ternaryBytes / 1e6:0.0} MB in {oursAgainstRead:0.000} ms = {pct:0}% of {readRate:0.0} GB/s");
            results.Add(new($"bitlinear_{shape}_ms", ours, "ms", nbits2, nbits2 / ours, $"per layer, {copies} layers back to back ({copies * ternaryBytes / 1e6:0} MB of ternary weights); baseline ORT MatMulNBits bits=2 block 64 accuracy_level 4, same layout; ratio = their time / ours"));
            results.Add(new($"bitlinear_cached_{shape}_ms", oursCached, "ms", nbits2Cached, nbits2Cached / oursCached, "weights left in the caches between runs (4.4 MB fits the 32 MiB L3)"));
            results.Add(new($"ort_fp32_{shape}_ms", fp32, "ms", oursAgainstFp32, fp32 / oursAgainstFp32, "ORT MatMul fp32, one layer (past the 32 MiB L3 from 2560x6912 up; 2560x2560's 26 MB fits it), in alternating blocks with ours streamed; baseline = ours; ratio = its time / ours, our speed-up as in the other rows"));
            results.Add(new($"bitlinear_{shape}_bandwidth_pct", pct, "%", readRate, null, m == 1 && threads == 2
                ? $"ternary weight bytes per second ({oursAgainstRead:0.000} ms a layer) / a plain {threads}-thread read of the same {copies * ternaryBytes / 1e6:0} MB, in alternating blocks with ours"
                : "ternary weight bytes per second / the streaming read measured at the start of the run"));
            if (threads == 2 && (k, n) is (2560, 6912) or (6912, 2560) && bitnetCpp is not null)
            {
                var (mine, peer, kernel) = MeasureAgainstBitNetCpp(bitnetCpp, threads, m, k, n, bitLinear, copies, quick);
                Console.WriteLine($"{shape,-22} BitLinear {mine,7:0.000} ms  bitnet.cpp I2_S {peer,7:0.000} ms  ratio {peer / mine:0.00}");
                results.Add(new($"bitlinear_{shape}_vs_bitnetcpp_ms", mine, "ms", peer, peer / mine, $"per layer, {copies} layers streamed; baseline {kernel}, built with -O3 -march=native from -PeerSource; ratio = their time / ours"));
                versusBitNetCpp.TryAdd(m, []);
                versusBitNetCpp[m].Add((peer / mine, $"{k}x{n}: {peer / mine:0.00} ({mine:0.000} vs {peer:0.000} ms)"));
            }

            if (threads == 2 && m == 1 && (k, n) is (2560, 6912) or (6912, 2560))
            {
                // The 1.6-bit layout against our 2-bit one: same weights, same streamed layers, alternating blocks.
                long fiveBytes = PeerModels.BitLinearWeightBytes(k, n, TernaryLayout.FivePerByte);
                byte[] fivePerByte = PeerModels.BitLinear(k, n, copies, 1, TernaryLayout.FivePerByte);
                var (five, two) = MeasurePair(threads, m, k, fivePerByte, bitLinear, copies, quick);
                double fivePct = fiveBytes / (five * 1e-3) / 1e9 / readRate * 100;
                Console.WriteLine($"{shape,-22} BitLinear 1.6-bit {five,7:0.000} ms  2-bit {two,7:0.000} ms  ratio {two / five:0.00}  weights {fiveBytes / 1e6:0.0} MB = {fivePct:0}% of bandwidth");
                results.Add(new($"bitlinear_sub2bit_{shape}_ms", five, "ms", two, two / five, $"five weights a byte ({fiveBytes / 1e6:0.00} MB a layer, {fivePct:0}% of bandwidth) against our 2-bit layout ({ternaryBytes / 1e6:0.00} MB), {copies} layers streamed; ratio = 2-bit time / 1.6-bit time"));
                subTwoBit.Add((two / five, $"{k}x{n}: {two / five:0.00} ({five:0.000} vs {two:0.000} ms)"));
                if (bitnetCpp is not null)
                {
                    // The same peer against the 1.6-bit layout: what a model converted to it gains over bitnet.cpp.
                    var (mine, peer, _) = MeasureAgainstBitNetCpp(bitnetCpp, threads, m, k, n, fivePerByte, copies, quick);
                    Console.WriteLine($"{shape,-22} BitLinear 1.6-bit {mine,7:0.000} ms  bitnet.cpp I2_S {peer,7:0.000} ms  ratio {peer / mine:0.00}");
                    subTwoBitVersusBitNetCpp.Add((peer / mine, $"{k}x{n}: {peer / mine:0.00} ({mine:0.000} vs {peer:0.000} ms)"));
                }
            }

            if (k == 2560 && n == 6912 && threads == 2)
            {
                if (m == 1)
                {
                    results.Add(new("bitlinear_gemv_vs_ort_nbits2", nbits2 / ours, "x", null, null, "our speed / ORT MatMulNBits bits=2 (no target: bitnet.cpp is BitLinear's peer)"));
                    results.Add(new("bitlinear_gemv_vs_ort_fp32", fp32 / oursAgainstFp32, "x", 10.0, fp32 / oursAgainstFp32 / 10.0, $"target >= 10 (ORT fp32 {fp32:0.000} ms / ours {oursAgainstFp32:0.000} ms, alternating blocks); path {Form("BitLinear 1 token")}"));
                    results.Add(new("bitlinear_gemv_bandwidth_pct", pct, "%", 85.0, pct / 85.0, $"target >= 85 ({ternaryBytes / 1e6:0.0} MB in {oursAgainstRead:0.000} ms against a plain read at {readRate:0.0} GB/s, alternating blocks); path {Form("BitLinear 1 token")}"));
                }
                else
                {
                    results.Add(new("bitlinear_gemm32_vs_ort_nbits2", nbits2 / ours, "x", 4.0, nbits2 / ours / 4.0, "target >= 4"));
                }
            }
        }
    }
}

if (runBitLinear)
{
    foreach (var (m, name) in new[] { (1, "bitlinear_gemv_vs_bitnetcpp"), (32, "bitlinear_gemm32_vs_bitnetcpp") })
    {
        if (versusBitNetCpp.TryGetValue(m, out var runs))
        {
            var worst = runs.MinBy(r => r.Ratio);
            results.Add(new(name, worst.Ratio, "x", 1.0, worst.Ratio, $"target >= 1.0 (bitnet.cpp I2_S time / ours, worst shape, 2 threads, {m} token(s)); {string.Join("; ", runs.Select(r => r.Run))}; path {Form(m == 1 ? "BitLinear 1 token" : "BitLinear 4 tokens")}"));
        }
        else
        {
            Console.WriteLine($"{name}: skipped, the bitnet.cpp peer was not built (build.ps1 bench-kernels -PeerSource DIR, DIR a microsoft/BitNet checkout)");
            results.Add(new(name, null, "x", 1.0, null, "skipped: no bitnet.cpp peer (build.ps1 bench-kernels -PeerSource DIR, DIR a microsoft/BitNet checkout)"));
        }
    }
}

if (subTwoBit.Count > 0)
{
    var worst = subTwoBit.MinBy(r => r.Ratio);
    results.Add(new("ternary_sub2bit_gemv_vs_i2", worst.Ratio, "x", 1.15, worst.Ratio / 1.15, $"target >= 1.15 (our 2-bit time / our 1.6-bit time, worst shape, 1 token, 2 threads, weights streamed); {string.Join("; ", subTwoBit.Select(r => r.Run))}; path {Form("BitLinear 1.6-bit 1 token")}"));
}

if (subTwoBitVersusBitNetCpp.Count > 0)
{
    var worst = subTwoBitVersusBitNetCpp.MinBy(r => r.Ratio);
    results.Add(new("bitlinear_1_6bit_gemv_vs_bitnetcpp", worst.Ratio, "x", null, null, $"no target (bitlinear_gemv_vs_bitnetcpp is the 2-bit layout's): bitnet.cpp I2_S time / ours with five weights a byte, worst shape, 2 threads, 1 token; {string.Join("; ", subTwoBitVersusBitNetCpp.Select(r => r.Run))}; path {Form("BitLinear 1.6-bit 1 token")}"));
}

if (only is "all" or "memory")
{
    string scratch = Path.Combine(Path.GetTempPath(), $"edgeruntime-weight-memory-{Environment.ProcessId}");
    try
    {
        results.AddRange(WeightMemory.Measure(scratch));
    }
    finally
    {
        Directory.Delete(scratch, recursive: true);
    }
}

string path = Path.Combine(outDir, "kernels.json");
File.WriteAllText(path, JsonSerializer.Serialize(results.ToArray(), BenchJson.Default.BenchResultArray));
Console.WriteLine($"wrote {path}");

return 0;

// INT4 (MatMulNBits bits=4, block 128, int8 activations) and INT8 (MatMulInteger u8 x s8): the same bytes through
// ORT's kernel and through ours (the op in our domain), streamed like BitLinear.
void MeasureLowBit(string shape, int k, int n, int m, int threads)
{
    long int4Bytes = ((long)n * k / 2) + ((long)n * (k / 128) * 4);
    int int4Copies = (int)Math.Clamp(128L * 1024 * 1024 / int4Bytes, 2, 48);
    var (int4Ours, int4Theirs) = MeasurePair(threads, m, k, PeerModels.MatMulNBits(k, n, 4, 128, 4, int4Copies, 1, PeerModels.Domain), PeerModels.MatMulNBits(k, n, 4, 128, 4, int4Copies, 1), int4Copies, quick);
    long int8Bytes = (long)n * k;
    int int8Copies = (int)Math.Clamp(128L * 1024 * 1024 / int8Bytes, 2, 48);
    var (int8Ours, int8Theirs) = MeasurePair(threads, m, k, PeerModels.MatMulInteger(k, n, int8Copies, 1, PeerModels.Domain), PeerModels.MatMulInteger(k, n, int8Copies, 1), int8Copies, quick, uint8Input: true);
    double int4Pct = int4Bytes / (int4Ours * 1e-3) / 1e9 / bandwidth * 100;
    double int8Pct = int8Bytes / (int8Ours * 1e-3) / 1e9 / bandwidth * 100;
    Console.WriteLine($"{shape,-22} INT4 ours {int4Ours,7:0.000} ms vs ORT nbits4 {int4Theirs,7:0.000} ms ({int4Pct:0}% of bandwidth)  INT8 ours {int8Ours,7:0.000} ms vs ORT MatMulInteger {int8Theirs,7:0.000} ms ({int8Pct:0}%)");
    results.Add(new($"int4_{shape}_ms", int4Ours, "ms", int4Theirs, int4Theirs / int4Ours, $"our MatMulNBits bits=4 block 128 accuracy_level 4 vs ORT's on the same bytes, {int4Copies} layers streamed; {int4Pct:0}% of bandwidth"));
    results.Add(new($"int8_{shape}_ms", int8Ours, "ms", int8Theirs, int8Theirs / int8Ours, $"our MatMulInteger (u8 x s8, B [K,N] not pre-packed) vs ORT's, {int8Copies} layers streamed; {int8Pct:0}% of bandwidth"));
    if (k == 2560 && n == 6912 && threads == 2)
    {
        string kind = m == 1 ? "gemv" : $"gemm{m}";
        results.Add(new($"int4_{kind}_vs_ort_nbits4", int4Theirs / int4Ours, "x", 1.0, int4Theirs / int4Ours, $"target >= 1.0 (our speed / ORT MatMulNBits bits=4 block 128), {m} token(s); path {Form(m == 1 ? "MatMulNBits int8" : "MatMulNBits 4-bit batch")}"));
        results.Add(new($"int8_{kind}_vs_ort_matmulinteger", int8Theirs / int8Ours, "x", 1.0, int8Theirs / int8Ours, $"target >= 1.0 (our speed / ORT MatMulInteger u8 x s8), {m} token(s); path {Form("MatMulInteger prepacked")}"));
    }
}

static string Form(string kernel) => KernelForms.Current.First(f => f.Kernel == kernel).Form;

// Ours and the peer timed in alternating blocks (three each), so slow drifts in this shared machine's background load
// (tens of percent from minute to minute) fall on both; each result is the median per-layer time over its blocks. Only
// one session exists at a time: ORT's idle intra-op threads spin after a run and would steal the other's cores.
static (double Ours, double Theirs) MeasurePair(int threads, int m, int k, byte[] ours, byte[] theirs, int layers, bool quick, bool uint8Input = false) =>
    MeasurePairOf(threads, m, k, ours, layers, theirs, layers, quick, uint8Input);

// The same when the two models hold different numbers of layers (times are per layer).
static (double Ours, double Theirs) MeasurePairOf(int threads, int m, int k, byte[] ours, int oursLayers, byte[] theirs, int theirsLayers, bool quick, bool uint8Input = false)
{
    var times = new[] { new List<double>(), new List<double>() };
    (byte[] Model, int Layers)[] models = [(ours, oursLayers), (theirs, theirsLayers)];
    for (int block = 0; block < 3; block++)
    {
        for (int c = 0; c < 2; c++)
        {
            TimeBlock(threads, m, k, models[c].Model, models[c].Layers, Rounds(models[c].Layers, quick), uint8Input, times[c]);
        }
    }

    return (Median(times[0]), Median(times[1]));
}

// Ours streamed against a plain read of `bytes` (the same bytes our layers hold) on as many threads, alternating blocks
// of passes: our median per-layer time and the read's median rate in GB/s.
static (double Ours, double ReadGbs) MeasureAgainstRead(int threads, int m, int k, byte[] model, int layers, long bytes, bool quick)
{
    var read = new StreamingRead(bytes);
    int rounds = Rounds(layers, quick);
    var ours = new List<double>();
    var rates = new List<double>();
    for (int block = 0; block < 3; block++)
    {
        TimeBlock(threads, m, k, model, layers, rounds, uint8Input: false, ours);
        read.PassSeconds(threads);
        for (int r = 0; r < rounds; r++)
        {
            rates.Add(read.Bytes / read.PassSeconds(threads) / 1e9);
        }
    }

    return (Median(ours), Median(rates));
}

// Ours (the BitLinear custom op in an ORT session) and bitnet.cpp's process alternately, three blocks each, on the same
// shape, tokens, threads and number of streamed layers; ours is the median over its blocks' rounds, theirs the median of
// the blocks' medians. Our session is gone before the peer starts, so neither spins on the other's cores.
static (double Ours, double Theirs, string Kernel) MeasureAgainstBitNetCpp(BitNetCppPeer peer, int threads, int m, int k, int n, byte[] model, int layers, bool quick)
{
    int rounds = Rounds(layers, quick);
    var ours = new List<double>();
    var theirs = new List<double>();
    string kernel = "";
    for (int block = 0; block < 3; block++)
    {
        TimeBlock(threads, m, k, model, layers, rounds, uint8Input: false, ours);
        var run = peer.Run(k, n, m, threads, layers, rounds);
        theirs.Add(run.MsPerLayer);
        kernel = run.Kernel;
    }

    return (Median(ours), Median(theirs), kernel);
}

// Rounds per block: enough passes for a stable median when there are few layers per pass.
static int Rounds(int layers, bool quick) => Math.Max(quick ? 4 : 8, (quick ? 30 : 70) / layers);

// One block: a fresh session, three warm-up runs, then `rounds` timed runs as per-layer times.
static void TimeBlock(int threads, int m, int k, byte[] model, int layers, int rounds, bool uint8Input, List<double> perLayer)
{
    using var contender = Contender.Create(threads, m, k, model, layers, uint8Input);
    for (int i = 0; i < 3; i++)
    {
        contender.Time();
    }

    for (int r = 0; r < rounds; r++)
    {
        perLayer.Add(contender.Time() / layers);
    }
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

static double Measure(int threads, int m, int k, byte[] model, int layers, bool quick, bool uint8Input = false)
{
    using var sessionOptions = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = threads });
    using var session = new InferenceSession(model, sessionOptions);
    var random = new Random(42);
    var x = new float[m * k];
    for (int i = 0; i < x.Length; i++)
    {
        x[i] = (float)(random.NextDouble() * 2 - 1);
    }

    var bytes = new byte[m * k];
    random.NextBytes(bytes);
    using var input = uint8Input ? OrtValue.CreateTensorValueFromMemory(bytes, [m, k]) : OrtValue.CreateTensorValueFromMemory(x, [m, k]);
    using var runOptions = new RunOptions();
    string[] inputNames = ["x"];
    OrtValue[] inputs = [input];
    string[] outputNames = [.. Enumerable.Range(0, layers).Select(i => $"y{i}")];
    for (int i = 0; i < 3; i++)
    {
        using var warm = session.Run(runOptions, inputNames, inputs, outputNames);
    }

    int rounds = Math.Max(quick ? 6 : 15, (quick ? 60 : 150) / layers);
    var times = new List<double>();
    for (int r = 0; r < rounds; r++)
    {
        long start = Stopwatch.GetTimestamp();
        using var outputs = session.Run(runOptions, inputNames, inputs, outputNames);
        times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / layers);
    }

    times.Sort();
    return times[times.Count / 2];
}

namespace EdgeRuntime.KernelBench
{
    /// <summary>A session with its input bound, timed one run at a time.</summary>
    internal sealed class Contender : IDisposable
    {
        private readonly SessionOptions _options;
        private readonly InferenceSession _session;
        private readonly OrtValue _input;
        private readonly RunOptions _runOptions = new();
        private readonly string[] _outputs;

        private Contender(SessionOptions options, InferenceSession session, OrtValue input, string[] outputs)
        {
            _options = options;
            _session = session;
            _input = input;
            _outputs = outputs;
        }

        public static Contender Create(int threads, int m, int k, byte[] model, int layers, bool uint8Input)
        {
            var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = threads });
            var session = new InferenceSession(model, options);
            var random = new Random(42);
            OrtValue input;
            if (uint8Input)
            {
                var bytes = new byte[m * k];
                random.NextBytes(bytes);
                input = OrtValue.CreateTensorValueFromMemory(bytes, [m, k]);
            }
            else
            {
                var x = new float[m * k];
                for (int i = 0; i < x.Length; i++)
                {
                    x[i] = (float)((random.NextDouble() * 2) - 1);
                }

                input = OrtValue.CreateTensorValueFromMemory(x, [m, k]);
            }

            return new Contender(options, session, input, [.. Enumerable.Range(0, layers).Select(i => $"y{i}")]);
        }

        /// <summary>One run, in milliseconds.</summary>
        public double Time()
        {
            long start = Stopwatch.GetTimestamp();
            using var outputs = _session.Run(_runOptions, ["x"], [_input], _outputs);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        public void Dispose()
        {
            _input.Dispose();
            _runOptions.Dispose();
            _session.Dispose();
            _options.Dispose();
        }
    }

    internal sealed record BenchResult(string Name, double? Value, string Unit, double? Baseline, double? Ratio, string Note);

    [System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
    [System.Text.Json.Serialization.JsonSerializable(typeof(BenchResult[]))]
    [System.Text.Json.Serialization.JsonSerializable(typeof(PeerRun))]
    [System.Text.Json.Serialization.JsonSerializable(typeof(MemoryReading))]
    internal sealed partial class BenchJson : System.Text.Json.Serialization.JsonSerializerContext;
}
