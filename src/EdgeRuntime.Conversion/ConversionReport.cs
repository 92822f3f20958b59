namespace EdgeRuntime.Conversion;

/// <summary>What a MatMul's float weights become.</summary>
public enum ConversionTarget
{
    /// <summary>ai.edgeruntime::BitLinear: ternary weights with BitNet's absmean scale, int8 activations.</summary>
    BitLinear,

    /// <summary>com.microsoft::MatMulNBits with 4-bit round-to-nearest weights per block.</summary>
    Int4,

    /// <summary>
    /// Not a quantization: MatMulInteger and QLinearMatMul nodes with constant 8-bit weights move to ai.edgeruntime with
    /// the weights stored in the kernel's packed layout, so the session holds them once (lossless).
    /// </summary>
    Int8Packed,

    /// <summary>
    /// Static quantization to QDQ: int8 weights per output channel for Conv, ConvTranspose, MatMul and Gemm,
    /// activations (8 or 16 bits) calibrated on samples (<see cref="Qdq.QdqQuantizer"/>).
    /// </summary>
    Int8,
}

/// <summary>
/// How to convert: the target; for INT4 the block size, zero points and accuracy level; for BitLinear how the ternary
/// weights are packed (2 bits a weight, or five weights a byte).
/// </summary>
public sealed record ConversionOptions(ConversionTarget Target, int BlockSize = 32, bool ZeroPoints = true, int AccuracyLevel = 4, Kernels.Ternary.TernaryLayout TernaryLayout = Kernels.Ternary.TernaryLayout.FourPerByte)
{
    /// <summary>For <see cref="ConversionTarget.Int8"/>: the folder of calibration samples (.npy).</summary>
    public string? Calibration { get; init; }

    /// <summary>For <see cref="ConversionTarget.Int8"/>: activation bits and calibration method.</summary>
    public Qdq.QdqOptions Qdq { get; init; } = new();
}

/// <summary>One converted layer: its weight shape, the quantization error (+∞ when exact), and its weight bytes before and after.</summary>
public sealed record LayerReport(string Node, string Weight, int K, int N, double SqnrDb, long BytesBefore, long BytesAfter);

/// <summary>The converted model and the per-layer report; layers left alone are listed with the reason.</summary>
public sealed record ConversionResult(byte[] Model, IReadOnlyList<LayerReport> Layers, IReadOnlyList<string> Skipped, long ModelBytesBefore)
{
    /// <summary>Whether the input kept initializers in external data files (the converted model holds them inline).</summary>
    public bool ReadExternalData { get; init; }

    /// <summary>For a static quantization: the folded BatchNormalizations, the quantized activations, the output's SQNR and the QNN HTP check.</summary>
    public QdqDetails? Qdq { get; init; }

    public long ModelBytesAfter => Model.LongLength;
}

/// <summary>
/// What a static quantization did beyond the layers, and how close the quantized model's outputs stay. EqualizedPairs is
/// the number of conv pairs cross-layer equalization rescaled (0 when it was not kept); when equalization was tried,
/// OtherCandidateCalibrationSqnrDb is the calibration SQNR of the candidate not kept (without it, or with it).
/// </summary>
public sealed record QdqDetails(int FoldedBatchNorms, int QuantizedActivations, int ActivationBits, int WeightBits, string Calibration, Qdq.QdqAccuracy? Accuracy, string HtpCheck, int EqualizedPairs, double? OtherCandidateCalibrationSqnrDb);
