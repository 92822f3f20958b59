using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Native;

/// <summary>
/// The per-ISA kernels in native/kernels (libedgekernels): the instruction sets C# cannot reach in a shipped binary.
/// Native AOT compiles C# for one baseline (x86-64-v3 on the host), and .NET 10 has no API for AVX-512 VNNI's 512-bit
/// vpdpbusd or arm64's I8MM (USMMLA), so those kernels are C compiled for their set, linked into every Native AOT binary and chosen here at run
/// time from the CPU's and the OS's own report (CPUID and XCR0 on x64, HWCAP2 on arm64). Under the JIT the library is
/// libedgekernels.so beside the assemblies. Every kernel gives the C# kernels' bits: integers exact, float steps in the C# order with nothing fused.
/// </summary>
internal static unsafe partial class NativeKernels
{
    private const string Library = "edgekernels";

    // native/kernels/edge_kernels.h: EDK_ABI_VERSION and the feature bits.
    private const int AbiVersion = 5;
    private const uint X64Avx512Vnni = 0x1;
    private const uint Arm64I8mm = 0x2;

    private static readonly (uint Features, string? Error) s_state = Load();

    /// <summary>Why the library is not in use (not found, or of another version), or null when it loaded.</summary>
    public static string? LoadError => s_state.Error;

    /// <summary>The CPU and OS run the AVX-512 VNNI kernels (AVX-512 F/BW/VL/VNNI, ZMM state saved by the OS).</summary>
    public static bool Avx512Vnni => (s_state.Features & X64Avx512Vnni) != 0;

    /// <summary>The CPU has arm64's I8MM (SMMLA, USMMLA): the batch kernels below may run there.</summary>
    public static bool I8mm => (s_state.Features & Arm64I8mm) != 0;

    // The ops call one entry per product; on arm64 it is the I8MM kernel, on x64 the AVX-512 VNNI one. Both take the same
    // layouts and activations and give the same bits (edge_kernels.h), and the callers use them only where
    // KernelPaths.Avx512Vnni or KernelPaths.I8mm says so. The process's architecture, not an intrinsics flag: those are
    // all false under DOTNET_EnableHWIntrinsic=0, and an arm64 process must never reach the x64 entry points.
    private static bool Arm64 { get; } = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    /// <summary>MatMulInteger against prepacked B for a batch of tokens, zero points applied (see edge_kernels.h).</summary>
    public static void Int8PackedMatMul(sbyte* data, int kQuads, int k, int n, int tileStart, int tileEnd, int* columnSums, int* columnOffsets, int* quads, long quadStride, int* tokenSums, int* tokenZeroPoints, int tokenCount, int* y, long yStride)
    {
        if (Arm64)
        {
            Int8PackedMatMulI8mm(data, kQuads, k, n, tileStart, tileEnd, columnSums, columnOffsets, quads, quadStride, tokenSums, tokenZeroPoints, tokenCount, y, yStride);
        }
        else
        {
            Int8PackedMatMulAvx512Vnni(data, kQuads, k, n, tileStart, tileEnd, columnSums, columnOffsets, quads, quadStride, tokenSums, tokenZeroPoints, tokenCount, y, yStride);
        }
    }

    /// <summary>BitLinear dot products of a batch on the 2-bit layout (see edge_kernels.h).</summary>
    public static void Ternary2Dots(byte* weights, int rowCount, int rowBytes, sbyte* x, long xStride, int* xSums, int tokenCount, int* dots, long dotsStride)
    {
        if (Arm64)
        {
            Ternary2DotsI8mm(weights, rowCount, rowBytes, x, xStride, xSums, tokenCount, dots, dotsStride);
        }
        else
        {
            Ternary2DotsAvx512Vnni(weights, rowCount, rowBytes, x, xStride, xSums, tokenCount, dots, dotsStride);
        }
    }

    /// <summary>MatMulNBits bits 4 in int8 mode for a batch, float steps included (see edge_kernels.h).</summary>
    public static void NBits4Int8MatMul(byte* b, int rows, int kBlocks, int blockSize, float* scales, byte* zeroPoints, int* quads, long quadStride, float* blockScales, int* blockSums, int tokenCount, float* bias, float* y, long yStride)
    {
        if (Arm64)
        {
            NBits4Int8MatMulI8mm(b, rows, kBlocks, blockSize, scales, zeroPoints, quads, quadStride, blockScales, blockSums, tokenCount, bias, y, yStride);
        }
        else
        {
            NBits4Int8MatMulAvx512Vnni(b, rows, kBlocks, blockSize, scales, zeroPoints, quads, quadStride, blockScales, blockSums, tokenCount, bias, y, yStride);
        }
    }

    /// <summary>MatMulInteger against prepacked B, zero points applied (see edge_kernels.h); only when <see cref="Avx512Vnni"/>.</summary>
    [LibraryImport(Library, EntryPoint = "edk_int8_packed_matmul_avx512vnni")]
    private static partial void Int8PackedMatMulAvx512Vnni(sbyte* data, int kQuads, int k, int n, int tileStart, int tileEnd, int* columnSums, int* columnOffsets, int* quads, long quadStride, int* tokenSums, int* tokenZeroPoints, int tokenCount, int* y, long yStride);

    /// <summary>BitLinear dot products on the 2-bit layout (see edge_kernels.h); only when <see cref="Avx512Vnni"/>.</summary>
    [LibraryImport(Library, EntryPoint = "edk_ternary2_dots_avx512vnni")]
    private static partial void Ternary2DotsAvx512Vnni(byte* weights, int rowCount, int rowBytes, sbyte* x, long xStride, int* xSums, int tokenCount, int* dots, long dotsStride);

    /// <summary>BitLinear dot products of one token on the 2-bit layout (see edge_kernels.h); only when <see cref="Avx512Vnni"/>.</summary>
    [LibraryImport(Library, EntryPoint = "edk_ternary2_gemv_avx512vnni")]
    public static partial void Ternary2GemvAvx512Vnni(byte* weights, int rowCount, int rowBytes, sbyte* x, int xSum, int* dots);

    /// <summary>BitLinear dot products of one token on the 1.6-bit layout (see edge_kernels.h); only when <see cref="Avx512Vnni"/>.</summary>
    [LibraryImport(Library, EntryPoint = "edk_trit_gemv_avx512vnni")]
    public static partial void TritGemvAvx512Vnni(byte* weights, int rowCount, int rowBytes, sbyte* x, int xSum, int* dots);

    /// <summary>MatMulNBits bits 4 in int8 mode for a batch, float steps included (see edge_kernels.h); only when <see cref="Avx512Vnni"/>.</summary>
    [LibraryImport(Library, EntryPoint = "edk_nbits4_int8_matmul_avx512vnni")]
    private static partial void NBits4Int8MatMulAvx512Vnni(byte* b, int rows, int kBlocks, int blockSize, float* scales, byte* zeroPoints, int* quads, long quadStride, float* blockScales, int* blockSums, int tokenCount, float* bias, float* y, long yStride);

    [LibraryImport(Library, EntryPoint = "edk_int8_packed_matmul_i8mm")]
    private static partial void Int8PackedMatMulI8mm(sbyte* data, int kQuads, int k, int n, int tileStart, int tileEnd, int* columnSums, int* columnOffsets, int* quads, long quadStride, int* tokenSums, int* tokenZeroPoints, int tokenCount, int* y, long yStride);

    [LibraryImport(Library, EntryPoint = "edk_ternary2_dots_i8mm")]
    private static partial void Ternary2DotsI8mm(byte* weights, int rowCount, int rowBytes, sbyte* x, long xStride, int* xSums, int tokenCount, int* dots, long dotsStride);

    [LibraryImport(Library, EntryPoint = "edk_nbits4_int8_matmul_i8mm")]
    private static partial void NBits4Int8MatMulI8mm(byte* b, int rows, int kBlocks, int blockSize, float* scales, byte* zeroPoints, int* quads, long quadStride, float* blockScales, int* blockSums, int tokenCount, float* bias, float* y, long yStride);

    [LibraryImport(Library, EntryPoint = "edk_abi_version")]
    private static partial int AbiVersionOf();

    [LibraryImport(Library, EntryPoint = "edk_features")]
    private static partial uint FeaturesOf();

    private static (uint, string?) Load()
    {
        try
        {
            int version = AbiVersionOf();
            return version == AbiVersion
                ? (FeaturesOf(), null)
                : (0, $"libedgekernels is ABI version {version}; this build expects {AbiVersion}");
        }
        catch (DllNotFoundException e)
        {
            // Only under the JIT, when the build did not copy libedgekernels.so here; Native AOT links it in.
            return (0, $"libedgekernels was not found ({e.Message})");
        }
        catch (EntryPointNotFoundException e)
        {
            return (0, $"libedgekernels lacks an entry point ({e.Message})");
        }
    }
}
