using System.Diagnostics;
using System.Globalization;

namespace EdgeRuntime.Bench;

/// <summary>
/// Runs tools/EdgeRuntime.GenAiPeer (ONNX Runtime GenAI 0.20, in its own process: it brings ONNX Runtime 1.32.0) on a
/// GenAI-format folder and reads its figures: decode tok/s at each context and prefill tok/s of a 256-token prompt.
/// </summary>
internal static class GenAiPeer
{
    public static Figures Measure(string peerDll, string folder, int threads, int runs, int decodeTokens, int bos, int[] contexts)
    {
        var decode = new SortedDictionary<int, double>();
        double prefill = double.NaN;

        // Prompt lengths in letters after BOS, as edged's side sends them: context − decoded − 1, and 256 for prefill.
        int[] lengths = [.. contexts.Select(c => c - decodeTokens - 1), 256];
        foreach (var line in Run(peerDll, folder, threads, runs, decodeTokens, bos, lengths))
        {
            var parts = line.Split(' ');
            int letters = int.Parse(parts[1], CultureInfo.InvariantCulture);
            double prefillTokS = double.Parse(parts[3], CultureInfo.InvariantCulture);
            double decodeTokS = double.Parse(parts[5], CultureInfo.InvariantCulture);
            if (letters == 256)
            {
                prefill = prefillTokS;
            }
            else
            {
                decode[letters + decodeTokens + 1] = decodeTokS;
            }
        }

        foreach (var (context, tokS) in decode)
        {
            Console.WriteLine($"ONNX Runtime GenAI: decode at context {context}: {tokS:0.00} tok/s");
        }

        Console.WriteLine($"ONNX Runtime GenAI: prefill {prefill:0.0} tok/s");
        return new Figures(decode, prefill);
    }

    private static IEnumerable<string> Run(string peerDll, string folder, int threads, int runs, int decodeTokens, int bos, int[] lengths)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { peerDll, folder, Text(threads), Text(runs), Text(decodeTokens), Text(bos) }.Concat(lengths.Select(Text)))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{peerDll} exited with {process.ExitCode}:\n{stdout}\n{stderr.Result}");
        }

        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("prompt ", StringComparison.Ordinal));

        static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
    }

    public sealed record Figures(SortedDictionary<int, double> DecodeByContext, double PrefillTokS);
}
