using System.Text.Json;
using EdgeRuntime.Conversion;
using EdgeRuntime.Inference;
using EdgeRuntime.Onnx;
using EdgeRuntime.Tools;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.KernelBench;

/// <summary>
/// How much memory a session over 500 MB of int8 weights holds (issue 16, item 4). One model, 24 MatMulInteger layers of
/// 4096 x 5120 (503 MB), written with its weights in an external data file, and loaded in a fresh process per case:
/// ORT's own kernel (which prepacks B into a copy), ORT's with prepacking off, our op repacking B at session start (one
/// copy more), and our op on the converter's packed layout (edge-convert --to int8-packed), which reads B where ORT keeps
/// it. Each child loads the model, runs one token, and reports its resident set from /proc/self/status.
/// </summary>
internal static class WeightMemory
{
    private const int K = 4096, N = 5120, Layers = 24;

    public const string ProbeFlag = "--rss-probe";

    public static IEnumerable<BenchResult> Measure(string workDirectory)
    {
        Directory.CreateDirectory(workDirectory);
        long weightBytes = (long)K * N * Layers;
        byte[] standard = PeerModels.MatMulInteger(K, N, Layers, 7);
        string ortModel = Write(workDirectory, "int8-ort", standard);
        string repackedModel = Write(workDirectory, "int8-ours", PeerModels.MatMulInteger(K, N, Layers, 7, PeerModels.Domain));
        var converted = ModelConverter.Convert(standard, new ConversionOptions(ConversionTarget.Int8Packed));
        if (converted.Layers.Count != Layers)
        {
            throw new InvalidOperationException($"edge-convert --to int8-packed converted {converted.Layers.Count} of {Layers} layers.");
        }

        string packedModel = Write(workDirectory, "int8-packed", converted.Model);

        var ort = Probe(ortModel, prepacking: true);
        var ortUnpacked = Probe(ortModel, prepacking: false);
        var before = Probe(repackedModel, prepacking: true);
        var after = Probe(packedModel, prepacking: true);
        double mb = weightBytes / 1e6;
        Console.WriteLine($"RSS with {mb:0} MB of int8 weights (external data): ORT {ort.RssMb:0} MB, ORT without prepacking {ortUnpacked.RssMb:0} MB, ours repacking {before.RssMb:0} MB, ours on the packed layout {after.RssMb:0} MB ({after.FileMb:0} MB of it mapped from the data file)");
        string cases = $"{Layers} MatMulInteger layers {K}x{N} u8 x s8, {mb:0} MB of weights in an external data file, one process per case: session created, one token run";
        return
        [
            new("int8_weights_rss_mb_ours_repacked", before.RssMb, "MB", mb, before.RssMb / mb, $"before: our op repacks B at session start; {cases}; ratio = RSS / weight MB"),
            new("int8_weights_rss_mb_ours_packed", after.RssMb, "MB", before.RssMb, before.RssMb / after.RssMb, $"after: edge-convert --to int8-packed, our op reads B in ORT's initializer ({after.FileMb:0} MB file-backed, {after.AnonMb:0} MB anonymous); baseline = before; ratio = before / after"),
            new("int8_weights_rss_mb_ort", ort.RssMb, "MB", ortUnpacked.RssMb, null, $"ORT's MatMulInteger as shipped ({ort.FileMb:0} MB file-backed); baseline = with session.disable_prepacking ({ortUnpacked.FileMb:0} MB file-backed)"),
        ];
    }

    private static string Write(string directory, string name, byte[] model)
    {
        string path = Path.Combine(directory, name + ".onnx");
        using (var data = File.Create(path + ".data"))
        {
            File.WriteAllBytes(path, ExternalDataWriter.Externalize(model, Path.GetFileName(path) + ".data", data));
        }

        return path;
    }

    private static MemoryReading Probe(string model, bool prepacking)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("No process path to start the probe from.");
        string[] arguments = prepacking ? [ProbeFlag, model] : [ProbeFlag, model, "--no-prepacking"];
        string stdout = PeerProcess.Run(self, arguments);
        return JsonSerializer.Deserialize(stdout, BenchJson.Default.MemoryReading)
            ?? throw new InvalidOperationException($"The memory probe printed no reading: '{stdout.Trim()}'");
    }

    /// <summary>The child: load, run one token, print this process's resident set.</summary>
    public static int RunProbe(string model, bool prepacking)
    {
        var inference = new InferenceOptions { IntraOpThreads = 2 };
        using var options = SessionFactory.CreateOptions(inference);
        if (!prepacking)
        {
            options.AddSessionConfigEntry("session.disable_prepacking", "1");
        }

        using var session = new InferenceSession(model, options);
        var x = new byte[K];
        new Random(1).NextBytes(x);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, K]);
        using var runOptions = new RunOptions();
        using (var outputs = session.Run(runOptions, ["x"], [input], [.. Enumerable.Range(0, Layers).Select(i => $"y{i}")]))
        {
            GC.KeepAlive(outputs);
        }

        var status = File.ReadAllLines("/proc/self/status").Select(l => l.Split(':', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim());
        double Mb(string field) => long.Parse(status[field].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024 / 1e6;
        Console.WriteLine(JsonSerializer.Serialize(new MemoryReading(Mb("VmRSS"), Mb("RssAnon"), Mb("RssFile"), Mb("VmHWM")), BenchJson.Default.MemoryReading));
        return 0;
    }
}

/// <summary>A probe's resident set in MB: total, anonymous, file-backed, and the peak.</summary>
internal sealed record MemoryReading(double RssMb, double AnonMb, double FileMb, double PeakMb);
