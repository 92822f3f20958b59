namespace EdgeRuntime.Generation.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet: byte-level BPE vocabularies (GPT-2, Llama 3, LFM2) spell every byte as one
/// printable character so that a token's text in tokenizer.json never holds whitespace or control characters.
/// Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) take the
/// characters from U+0100 upward in byte order, which is why a space reads 'Ġ' (U+0120) and a newline 'Ċ'.
/// </summary>
internal static class ByteLevelAlphabet
{
    // Every character of the alphabet is below U+0144 (256 + 68 remapped bytes).
    private const int AlphabetEnd = 0x144;

    private static readonly char[] ByteToChar = BuildByteToChar();

    // -1 marks characters below AlphabetEnd that stand for no byte.
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="value"/>.</summary>
    public static char CharOf(byte value) => ByteToChar[value];

    /// <summary>The byte a vocabulary character stands for; false for a character outside the alphabet.</summary>
    public static bool TryByteOf(char symbol, out byte value)
    {
        if (symbol < AlphabetEnd && CharToByte[symbol] >= 0)
        {
            value = (byte)CharToByte[symbol];
            return true;
        }

        value = 0;
        return false;
    }

    /// <summary>
    /// Writes the alphabet's spelling of <paramref name="bytes"/> to <paramref name="destination"/> (one character
    /// per byte), the form in which tokenizer.json's vocabulary holds tokens.
    /// </summary>
    public static void Spell(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            destination[i] = ByteToChar[bytes[i]];
        }
    }

    private static bool IsSelfSpelled(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = IsSelfSpelled(b) ? (char)b : (char)(256 + next++);
        }

        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[AlphabetEnd];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (short)b;
        }

        return map;
    }
}
