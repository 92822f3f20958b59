using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntimeGenAI;

// bench-llm's peer: greedy generation with ONNX Runtime GenAI on a GenAI-format folder, timed the way edged times its
// own (prefill: the prompt's forward pass to its first logits; decode: the tokens after, per second).
// Usage: EdgeRuntime.GenAiPeer FOLDER THREADS RUNS DECODE-TOKENS BOS PROMPT-LENGTH... ; a prompt is BOS and that many
// letters, as edged's benchmark sends them. Prints one line per prompt length:
// "prompt <n> prefill_tok_s <x> decode_tok_s <y>" (medians over RUNS).
var culture = CultureInfo.InvariantCulture;
if (args.Length < 6)
{
    Console.Error.WriteLine("usage: EdgeRuntime.GenAiPeer FOLDER THREADS RUNS DECODE-TOKENS BOS PROMPT-LENGTH...");
    return 2;
}

string folder = args[0];
int threads = int.Parse(args[1], culture);
int runs = int.Parse(args[2], culture);
int decodeTokens = int.Parse(args[3], culture);
int bos = int.Parse(args[4], culture);
using var oga = new OgaHandle();
using var config = new Config(folder);
config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + threads.ToString(culture) + "}}}}");
using var model = new Model(config);
Generate(Prompt(16), 8); // warm-up: pages the weights in
foreach (string length in args[5..])
{
    int n = int.Parse(length, culture);
    var prefill = new List<double>();
    var decode = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        var (p, d) = Generate(Prompt(n), decodeTokens);
        prefill.Add(p);
        decode.Add(d);
    }

    Console.WriteLine(string.Create(culture, $"prompt {n} prefill_tok_s {Median(prefill):0.###} decode_tok_s {Median(decode):0.###}"));
}

return 0;

(double PrefillTokS, double DecodeTokS) Generate(int[] prompt, int tokens)
{
    using var parameters = new GeneratorParams(model);
    parameters.SetSearchOption("max_length", prompt.Length + tokens);
    parameters.SetSearchOption("min_length", prompt.Length + tokens); // no early end: exactly `tokens` tokens
    using var generator = new Generator(model, parameters);
    long start = Stopwatch.GetTimestamp();
    generator.AppendTokens(prompt);
    double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

    // The first token is chosen from the prompt's logits; each later one costs one forward pass.
    generator.GenerateNextToken();
    long decodeStart = Stopwatch.GetTimestamp();
    int produced = 0;
    while (!generator.IsDone())
    {
        generator.GenerateNextToken();
        produced++;
    }

    double decodeSeconds = Stopwatch.GetElapsedTime(decodeStart).TotalSeconds;
    return (prompt.Length / prefillSeconds, produced / decodeSeconds);
}

// The same prompt edged's benchmark sends: BOS, then byte tokens of letters (the seeded folders' byte tokenizer).
int[] Prompt(int letters) => [bos, .. Enumerable.Range(0, letters).Select(i => 'a' + (i * 7 % 26))];

static double Median(List<double> values)
{
    values.Sort();
    return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
}
