using System.Runtime.InteropServices;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// The few entries of ONNX Runtime's C function table the custom-op bridge needs. The table is an append-only struct
/// of function pointers; the slot numbers below are positions in onnxruntime_c_api.h (1.31: 428 slots) and are
/// checked by a test that calls GetBuildInfoString through its slot.
/// </summary>
internal static unsafe partial class OrtApi
{
    /// <summary>The API version asked for: the oldest that has every slot used here (ParallelFor, KernelComputeV2).</summary>
    public const uint ApiVersion = 16;

    public const int OrtFail = 1;
    public const int OrtInvalidArgument = 2;

    private static readonly nint* Table = Load();

    public static delegate* unmanaged<int, byte*, nint> CreateStatus => (delegate* unmanaged<int, byte*, nint>)Table[0];

    public static delegate* unmanaged<nint, byte*> GetErrorMessage => (delegate* unmanaged<nint, byte*>)Table[2];

    public static delegate* unmanaged<byte*, nint*, nint> CreateCustomOpDomain => (delegate* unmanaged<byte*, nint*, nint>)Table[26];

    public static delegate* unmanaged<nint, nint, nint> CustomOpDomainAdd => (delegate* unmanaged<nint, nint, nint>)Table[27];

    public static delegate* unmanaged<nint, nint, nint> AddCustomOpDomain => (delegate* unmanaged<nint, nint, nint>)Table[28];

    public static delegate* unmanaged<nint, void**, nint> GetTensorMutableData => (delegate* unmanaged<nint, void**, nint>)Table[51];

    public static delegate* unmanaged<nint, int*, nint> GetTensorElementType => (delegate* unmanaged<nint, int*, nint>)Table[60];

    public static delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount => (delegate* unmanaged<nint, nuint*, nint>)Table[61];

    public static delegate* unmanaged<nint, long*, nuint, nint> GetDimensions => (delegate* unmanaged<nint, long*, nuint, nint>)Table[62];

    public static delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape => (delegate* unmanaged<nint, nint*, nint>)Table[65];

    public static delegate* unmanaged<nint, byte*, float*, nint> KernelInfoGetAttributeFloat => (delegate* unmanaged<nint, byte*, float*, nint>)Table[85];

    public static delegate* unmanaged<nint, byte*, long*, nint> KernelInfoGetAttributeInt64 => (delegate* unmanaged<nint, byte*, long*, nint>)Table[86];

    public static delegate* unmanaged<nint, nuint*, nint> KernelContextGetInputCount => (delegate* unmanaged<nint, nuint*, nint>)Table[88];

    public static delegate* unmanaged<nint, nuint, nint*, nint> KernelContextGetInput => (delegate* unmanaged<nint, nuint, nint*, nint>)Table[90];

    public static delegate* unmanaged<nint, nuint, long*, nuint, nint*, nint> KernelContextGetOutput => (delegate* unmanaged<nint, nuint, long*, nuint, nint*, nint>)Table[91];

    public static delegate* unmanaged<nint, void> ReleaseStatus => (delegate* unmanaged<nint, void>)Table[93];

    public static delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo => (delegate* unmanaged<nint, void>)Table[99];

    public static delegate* unmanaged<nint, nuint, int*, nint*, nint> KernelInfoGetConstantInputTensor => (delegate* unmanaged<nint, nuint, int*, nint*, nint>)Table[249];

    public static delegate* unmanaged<byte*> GetBuildInfoString => (delegate* unmanaged<byte*>)Table[254];

    public static delegate* unmanaged<nint, delegate* unmanaged<void*, nuint, void>, nuint, nuint, void*, nint> KernelContextParallelFor =>
        (delegate* unmanaged<nint, delegate* unmanaged<void*, nuint, void>, nuint, nuint, void*, nint>)Table[274];

    /// <summary>Throws with ORT's message when a call returned a status (non-null means failure).</summary>
    public static void Check(nint status)
    {
        if (status == 0)
        {
            return;
        }

        string message = Marshal.PtrToStringUTF8((nint)GetErrorMessage(status)) ?? "unknown ONNX Runtime error";
        ReleaseStatus(status);
        throw new InvalidOperationException(message);
    }

    /// <summary>A status ORT reports as the op's failure; never throws (it runs inside ORT callbacks).</summary>
    public static nint Fail(string message, int code = OrtFail)
    {
        int length = System.Text.Encoding.UTF8.GetMaxByteCount(message.Length) + 1;
        byte* text = stackalloc byte[Math.Min(length, 4096)];
        int written = System.Text.Encoding.UTF8.GetBytes(message.AsSpan(0, Math.Min(message.Length, 1000)), new Span<byte>(text, Math.Min(length, 4096) - 1));
        text[written] = 0;
        return CreateStatus(code, text);
    }

    [LibraryImport("onnxruntime")]
    private static partial nint OrtGetApiBase();

    private static nint* Load()
    {
        // OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
        nint* apiBase = (nint*)OrtGetApiBase();
        var getApi = (delegate* unmanaged<uint, nint*>)apiBase[0];
        nint* table = getApi(ApiVersion);
        return table != null ? table : throw new InvalidOperationException($"The loaded ONNX Runtime does not offer C API version {ApiVersion}.");
    }
}
