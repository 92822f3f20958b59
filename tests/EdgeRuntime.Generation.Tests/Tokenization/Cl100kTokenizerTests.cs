using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using EdgeRuntime.Generation.Tokenization;
using Microsoft.ML.Tokenizers;
using Xunit.Abstractions;

namespace EdgeRuntime.Generation.Tests.Tokenization;

/// <summary>
/// tiktoken's cl100k_base written as a Llama 3 style tokenizer.json, the way HF converted Llama 3's tiktoken file:
/// every split of a token into two tokens is a merge, ranked by the merged token, with ignore_merges on. Llama 3's
/// vocabulary is cl100k_base plus 28k tokens with the same pattern, so this checks our reading and BPE at full size
/// against tiktoken's own algorithm (the library's TiktokenTokenizer) on real text.
/// </summary>
public sealed class Cl100kTokenizerTests(Cl100kTokenizerTests.Cl100kFile file, ITestOutputHelper output)
    : IClassFixture<Cl100kTokenizerTests.Cl100kFile>
{
    public static TheoryData<string> Texts() =>
    [
        "The quick brown fox jumps over the lazy dog. It's 2024; don't panic, we'll see what THEY'RE doing.",
        "    def encode(self, text: str) -> list[int]:\n        return [self.ranks[b] for b in text.encode()]\n\n\n",
        "Numbers: 1234567890, 3.14159, 1e-10, 0x7FFF_FFFF and 12,345,678.90 €.",
        "Ça déjà vu — naïve café. Größere Straßen. Ελληνικά κείμενα. Русский текст. 中文文本和日本語のテキスト。",
        "Tabs\tand\r\nCRLF\r\n\r\nlines,   runs of spaces   , trailing space ",
        "Emoji stand apart 😀 👍🏽 🇫🇷 ! and symbols ©®™ ±×÷ ≠≤≥ ∑∏√.",
        "URLs like https://example.com/path?q=1&r=two#frag and e-mails like someone@example.org.",
    ];

    [Theory]
    [MemberData(nameof(Texts))]
    public void Encodes_as_tiktoken_does(string text)
    {
        int[] expected = [.. file.Tiktoken.EncodeToIds(text)];

        IReadOnlyList<int> ids = file.Tokenizer.Encode(text);

        Assert.Equal(expected, ids);
        Assert.Equal(text, file.Tokenizer.Decode([.. ids]));
    }

    [Fact]
    public void Encodes_the_same_from_several_threads_at_once()
    {
        // Sessions encode prompts concurrently with one tokenizer; the library's word cache is shared between them.
        string[] texts = [.. Texts()];
        int[][] expected = [.. texts.Select(t => file.Tiktoken.EncodeToIds(t).ToArray())];
        var results = new int[texts.Length * 8][];

        Parallel.For(0, results.Length, i => results[i] = [.. file.Tokenizer.Encode(texts[i % texts.Length])]);

        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(expected[i % texts.Length], results[i]);
        }
    }

    [Fact]
    public void Loads_a_full_size_vocabulary_in_a_few_seconds()
    {
        output.WriteLine($"{file.VocabularyCount} tokens, {file.MergeCount} merges, {file.FileBytes / 1e6:F1} MB: loaded in {file.LoadTime.TotalMilliseconds:F0} ms");

        Assert.Equal(file.VocabularyCount + 3, file.Tokenizer.VocabularySize);
        Assert.True(file.MergeCount > 200_000, $"only {file.MergeCount} merges");

        // Llama 3's file is the same size class (128k tokens, 280k merges). Generous for a shared 2-core runner.
        Assert.True(file.LoadTime < TimeSpan.FromSeconds(15), $"loading took {file.LoadTime}");
    }

    [Fact]
    public void Special_tokens_after_the_vocabulary_map_to_their_ids()
    {
        int eot = file.VocabularyCount + 2;

        Assert.Equal(eot, file.Tokenizer.TokenId("<|eot_id|>"));
        Assert.Equal(eot, file.Tokenizer.Encode("Hi<|eot_id|>")[^1]);
    }

    /// <summary>Writes the file once for the class and loads it, timing the load.</summary>
    public sealed class Cl100kFile : IDisposable
    {
        private readonly TempFolder _folder = new();

        public Cl100kFile()
        {
            Tiktoken = TiktokenTokenizer.CreateForModel("gpt-4");
            Dictionary<string, int> ranks = ReadRanks();
            var merges = new List<(int Rank, int LeftRank, int RightRank, string Left, string Right)>();
            foreach ((string token, int rank) in ranks)
            {
                // A spelling has one character per byte, so splitting it splits the bytes.
                for (int i = 1; i < token.Length; i++)
                {
                    if (ranks.TryGetValue(token[..i], out int left) && ranks.TryGetValue(token[i..], out int right))
                    {
                        merges.Add((rank, left, right, token[..i], token[i..]));
                    }
                }
            }

            merges.Sort((a, b) => (a.Rank, a.LeftRank, a.RightRank).CompareTo((b.Rank, b.LeftRank, b.RightRank)));
            var tokenizerFile = new TokenizerFile(ranks, merges.Select(m => (m.Left, m.Right))) { IgnoreMerges = true };
            VocabularyCount = ranks.Values.Max() + 1;
            tokenizerFile.Added("<|begin_of_text|>", id: VocabularyCount);
            tokenizerFile.Added("<|end_of_text|>", id: VocabularyCount + 1);
            tokenizerFile.Added("<|eot_id|>", id: VocabularyCount + 2);
            MergeCount = merges.Count;

            string path = tokenizerFile.WriteTo(_folder);
            FileBytes = new FileInfo(path).Length;
            var clock = Stopwatch.StartNew();
            Tokenizer = ModelTokenizer.Load(path, 128256);
            LoadTime = clock.Elapsed;
        }

        public TiktokenTokenizer Tiktoken { get; }

        public ModelTokenizer Tokenizer { get; }

        public int VocabularyCount { get; }

        public int MergeCount { get; }

        public long FileBytes { get; }

        public TimeSpan LoadTime { get; }

        public void Dispose() => _folder.Dispose();

        /// <summary>
        /// The ranks of the .tiktoken file the data package embeds: a "Capacity: n" line, then one base64 token per
        /// line in rank order ("base64 rank" in tiktoken's own files, read as well).
        /// </summary>
        private static Dictionary<string, int> ReadRanks()
        {
            Assembly data = Assembly.Load("Microsoft.ML.Tokenizers.Data.Cl100kBase");
            using Stream deflated = data.GetManifestResourceStream("cl100k_base.tiktoken.deflate")
                ?? throw new InvalidOperationException("the cl100k_base data package has no cl100k_base.tiktoken.deflate");
            using var reader = new StreamReader(new DeflateStream(deflated, CompressionMode.Decompress));
            var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
            int next = 0;
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal))
                {
                    continue;
                }

                int space = line.IndexOf(' ', StringComparison.Ordinal);
                int rank = space < 0 ? next : int.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
                ranks.Add(TokenizerFile.Spell(Convert.FromBase64String(space < 0 ? line : line[..space])), rank);
                next = rank + 1;
            }

            return ranks;
        }
    }
}
