namespace EdgeRuntime.Generation.Folder;

/// <summary>How a float family's projections (LFM2's) are stored (config.json's <c>projectionFormat</c>).</summary>
public static class ProjectionFormats
{
    /// <summary>float32 MatMuls: exact, four bytes a weight.</summary>
    public const string Float32 = "float32";

    /// <summary>
    /// ORT's <c>com.microsoft::MatMulNBits</c>, 4-bit weights with a float scale per block of <c>projectionBlockSize</c>
    /// along the input (symmetric, round to nearest), accuracy level 4 (activations quantized to int8 per block inside
    /// the kernel, the integer path MLAS has on x64 and arm64). The W4A16 layout a Qualcomm NPU takes is written as QDQ
    /// by the NPU export, not here.
    /// </summary>
    public const string Int4 = "int4";

    /// <summary>
    /// QDQ, the W4A16 form an NPU takes: each projection's weights as signed int4 blocks of <c>projectionBlockSize</c>
    /// along the input through a blocked <c>DequantizeLinear</c> (opset 21), and its input and output activations through
    /// uint16 <c>QuantizeLinear</c>/<c>DequantizeLinear</c> pairs whose ranges were calibrated on text. Written for
    /// static-shape folders only (<see cref="StaticShapes"/>), where it is what QNN's HTP compiles.
    /// </summary>
    public const string Qdq = "qdq";

    public static IReadOnlyList<string> All { get; } = [Float32, Int4, Qdq];

    /// <summary>The block sizes MatMulNBits' CPU kernels take (powers of two from 16 to 256).</summary>
    public static IReadOnlyList<int> BlockSizes { get; } = [16, 32, 64, 128, 256];
}
