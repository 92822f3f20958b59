using System.Text.RegularExpressions;

namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// What a byte-level BPE tokenizer.json says, checked and reduced to what <see cref="ModelTokenizer"/> needs.
/// </summary>
/// <param name="Vocabulary">Token text (in the byte-level alphabet) to id, from model.vocab.</param>
/// <param name="Merges">model.merges as "left right" pairs, highest priority first.</param>
/// <param name="AddedTokens">added_tokens: strings matched whole in text before pre-tokenization.</param>
/// <param name="SplitPatterns">The pre-tokenizer's regular expressions, applied in order, each to the pieces of the
/// one before (HF's Split with behavior Isolated, and ByteLevel's own GPT-2 pattern when use_regex is on).</param>
/// <param name="IgnoreMerges">model.ignore_merges: a piece that is itself in the vocabulary is one token, without
/// running the merges (Llama 3 sets it, matching tiktoken).</param>
internal sealed record TokenizerDefinition(
    Dictionary<string, int> Vocabulary,
    List<string> Merges,
    IReadOnlyList<AddedToken> AddedTokens,
    IReadOnlyList<Regex> SplitPatterns,
    bool IgnoreMerges);

/// <summary>One entry of tokenizer.json's added_tokens.</summary>
/// <param name="Special">Control tokens (special: true) are left out of streamed text by default.</param>
internal sealed record AddedToken(int Id, string Content, bool Special);
