namespace EdgeRuntime.Generation.Folder;

/// <summary>How an LFM2 folder's output head is computed (config.json's <c>headFormat</c>; absent: the tied table as stored).</summary>
public static class HeadFormats
{
    /// <summary>A MatMulNBits head over the table in 4-bit blocks (accuracy level 4), beside the table the lookup reads.</summary>
    public const string Int4 = "int4";

    /// <summary>The block size of an int4 head whose folder names no projectionBlockSize.</summary>
    public const int DefaultBlockSize = 32;

    public static int BlockSize(LanguageModelConfig config) => config.ProjectionBlockSize ?? DefaultBlockSize;
}
