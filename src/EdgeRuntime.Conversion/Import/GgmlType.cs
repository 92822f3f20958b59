namespace EdgeRuntime.Conversion.Import;

/// <summary>
/// ggml's tensor type ids as bitnet.cpp's ggml fork numbers them (Eddie-Wang1120/llama.cpp <c>ggml/include/ggml.h</c>,
/// enum ggml_type): upstream's ids up to TQ2_0 = 35, then bitnet.cpp's own I2_S = 36, I8_S = 37, TL1 = 38, TL2 = 39.
/// The importer reads F32, F16, BF16 and I2_S; the other names are for error messages.
/// </summary>
internal static class GgmlType
{
    public const uint F32 = 0;
    public const uint F16 = 1;
    public const uint BF16 = 30;
    public const uint I2S = 36;
    public const uint TL1 = 38;
    public const uint TL2 = 39;

    private static readonly string[] Names =
    [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2 (removed)", "Q4_3 (removed)", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
        "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
        "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "I2_S",
        "I8_S", "TL1", "TL2",
    ];

    /// <summary>"Q6_K (ggml type 14)": the name and the id, so an unknown id still says what the file holds.</summary>
    public static string Describe(uint type) => type < Names.Length ? $"{Names[type]} (ggml type {type})" : $"ggml type {type}";

    /// <summary>The float format of a float type; null for the others.</summary>
    public static FloatFormat? Float(uint type) => type switch
    {
        F32 => FloatFormat.F32,
        F16 => FloatFormat.F16,
        BF16 => FloatFormat.BF16,
        _ => null,
    };
}
