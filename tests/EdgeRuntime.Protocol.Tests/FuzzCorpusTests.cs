using EdgeRuntime.Fuzz;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>
/// The committed fuzz corpus (tests/fuzz/protocol: the seeds, and any input a fuzz run once crashed on) replayed
/// through the fuzz target on every test run, so a fixed crash stays fixed without afl-fuzz installed.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static readonly string Corpus = Path.Combine(Repository.Root, "tests", "fuzz", "protocol");

    public static TheoryData<string> Inputs() => [.. Directory.EnumerateFiles(Corpus).Select(file => Path.GetFileName(file)).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Inputs))]
    public void A_corpus_input_is_parsed_and_decoded_without_an_untyped_exception(string name)
    {
        ProtocolTarget.Run(File.ReadAllBytes(Path.Combine(Corpus, name)));
    }

    [Fact]
    public void The_corpus_has_a_seed_for_every_request_type()
    {
        Assert.True(Directory.EnumerateFiles(Corpus).Count() >= 20);
    }
}
