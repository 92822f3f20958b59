using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using EdgeRuntime.Onnx;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// The ai.edgeruntime custom-op domain, built once per process from C# without a native shim and added to every
/// session's options. Each op is an OrtCustomOp struct (version 16: CreateKernelV2/KernelComputeV2) in native memory
/// whose function pointers are [UnmanagedCallersOnly] methods below. No exception leaves a callback: ORT would abort.
/// The structs, names and domain are never freed, so they outlive every session that uses them.
/// </summary>
public static unsafe class CustomOpDomain
{
    public const string Name = OnnxDomains.EdgeRuntime;

    // OrtCustomOp: uint32 version at 0, then 25 function pointers from offset 8 (header order); we keep a GCHandle to
    // the managed op right after the struct, so every callback finds its op from the pointer ORT passes.
    private const int OpStructBytes = 8 + (25 * 8);
    private const uint OpVersion = 16;

    private static readonly Lazy<nint> Domain = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly byte* CpuProvider = ProcessLifetime.Utf8("CPUExecutionProvider");

    /// <summary>The ops in the domain.</summary>
    public static IReadOnlyList<string> Ops { get; } = [.. AllOps().Select(op => op.Name).Distinct()];

    /// <summary>Adds the domain to a session's options; call before the session is created.</summary>
    public static void Register(SessionOptions options)
    {
        nint domain = Domain.Value;
        bool added = false;
        options.DangerousAddRef(ref added);
        try
        {
            OrtApi.Check(OrtApi.AddCustomOpDomain(options.DangerousGetHandle(), domain));
        }
        finally
        {
            if (added)
            {
                options.DangerousRelease();
            }
        }
    }

    /// <summary>ORT's build description, read through its slot in the function table (guards the slot numbering).</summary>
    public static string BuildInfo() => Marshal.PtrToStringUTF8((nint)OrtApi.GetBuildInfoString()) ?? string.Empty;

    private static CustomOp[] AllOps()
    {
        int[] eightBit = [OrtElementType.UInt8, OrtElementType.Int8];
        return
        [
            new BitLinearOp(),
            new Int8RowLinearOp(),
            new MatMulNBitsOp(),
            new DeltaAttentionOp(),
            .. eightBit.SelectMany(a => eightBit.Select(b => (CustomOp)new MatMulIntegerOp(a, b))),
            .. eightBit.SelectMany(a => eightBit.Select(b => (CustomOp)new QLinearMatMulOp(a, b))),
        ];
    }

    private static nint Create()
    {
        nint domain;
        byte* name = ProcessLifetime.Utf8(Name);
        OrtApi.Check(OrtApi.CreateCustomOpDomain(name, &domain));
        foreach (var op in AllOps())
        {
            OrtApi.Check(OrtApi.CustomOpDomainAdd(domain, (nint)Build(op)));
        }

        return domain;
    }

    private static byte* Build(CustomOp op)
    {
        byte* native = (byte*)NativeMemory.AllocZeroed(OpStructBytes + 8);
        *(uint*)native = OpVersion;
        nint* slots = (nint*)(native + 8);
        slots[0] = 0; // CreateKernel (V1): unused with version >= 16
        slots[1] = (nint)(delegate* unmanaged<nint, byte*>)&GetName;
        slots[2] = (nint)(delegate* unmanaged<nint, byte*>)&GetExecutionProviderType;
        slots[3] = (nint)(delegate* unmanaged<nint, nuint, int>)&GetInputType;
        slots[4] = (nint)(delegate* unmanaged<nint, nuint>)&GetInputTypeCount;
        slots[5] = (nint)(delegate* unmanaged<nint, nuint, int>)&GetOutputType;
        slots[6] = (nint)(delegate* unmanaged<nint, nuint>)&GetOutputTypeCount;
        slots[7] = 0; // KernelCompute (V1)
        slots[8] = (nint)(delegate* unmanaged<nint, void>)&KernelDestroy;
        slots[9] = (nint)(delegate* unmanaged<nint, nuint, int>)&GetInputCharacteristic;
        slots[10] = (nint)(delegate* unmanaged<nint, nuint, int>)&GetOutputCharacteristic;
        slots[11] = (nint)(delegate* unmanaged<nint, nuint, int>)&GetInputMemoryType;
        slots[12] = (nint)(delegate* unmanaged<nint, int>)&GetVariadicMinArity;
        slots[13] = (nint)(delegate* unmanaged<nint, int>)&GetVariadicHomogeneity;
        slots[14] = (nint)(delegate* unmanaged<nint, int>)&GetVariadicMinArity;
        slots[15] = (nint)(delegate* unmanaged<nint, int>)&GetVariadicHomogeneity;
        slots[16] = (nint)(delegate* unmanaged<nint, nint, nint, nint*, nint>)&CreateKernelV2;
        slots[17] = (nint)(delegate* unmanaged<nint, nint, nint>)&KernelComputeV2;
        *(nint*)(native + OpStructBytes) = GCHandle.ToIntPtr(GCHandle.Alloc(op));
        op.NamePointer = ProcessLifetime.Utf8(op.Name);
        return native;
    }

    private static CustomOp OpOf(nint op) => (CustomOp)GCHandle.FromIntPtr(*(nint*)((byte*)op + OpStructBytes)).Target!;

    [UnmanagedCallersOnly]
    private static byte* GetName(nint op)
    {
        try
        {
            return OpOf(op).NamePointer;
        }
        catch (Exception)
        {
            return null;
        }
    }

    [UnmanagedCallersOnly]
    private static byte* GetExecutionProviderType(nint op) => CpuProvider;

    [UnmanagedCallersOnly]
    private static int GetInputType(nint op, nuint index)
    {
        var types = OpOf(op).InputTypes;
        return index < (nuint)types.Length ? types[(int)index] : 0;
    }

    [UnmanagedCallersOnly]
    private static nuint GetInputTypeCount(nint op) => (nuint)OpOf(op).InputTypes.Length;

    [UnmanagedCallersOnly]
    private static int GetOutputType(nint op, nuint index)
    {
        var types = OpOf(op).OutputTypes;
        return index < (nuint)types.Length ? types[(int)index] : 0;
    }

    [UnmanagedCallersOnly]
    private static nuint GetOutputTypeCount(nint op) => (nuint)OpOf(op).OutputTypes.Length;

    // INPUT_OUTPUT_REQUIRED (0) or INPUT_OUTPUT_OPTIONAL (1).
    [UnmanagedCallersOnly]
    private static int GetInputCharacteristic(nint op, nuint index) => index < (nuint)OpOf(op).RequiredInputs ? 0 : 1;

    [UnmanagedCallersOnly]
    private static int GetOutputCharacteristic(nint op, nuint index) => 0;

    // OrtMemTypeDefault: inputs on the CPU.
    [UnmanagedCallersOnly]
    private static int GetInputMemoryType(nint op, nuint index) => 0;

    [UnmanagedCallersOnly]
    private static int GetVariadicMinArity(nint op) => 1;

    [UnmanagedCallersOnly]
    private static int GetVariadicHomogeneity(nint op) => 1;

    // A kernel per node (it holds the node's attributes), kept alive by a GCHandle until ORT destroys it.
    [UnmanagedCallersOnly]
    private static nint CreateKernelV2(nint op, nint api, nint info, nint* kernel)
    {
        CustomOp? custom = null;
        try
        {
            custom = OpOf(op);
            var created = new BoundKernel(custom, custom.CreateKernel(new KernelInfo(info)));
            *kernel = GCHandle.ToIntPtr(GCHandle.Alloc(created));
            return 0;
        }
        catch (Exception e)
        {
            *kernel = 0;
            return OrtApi.Fail($"{CustomOpDomain.Name}.{custom?.Name}: {e.Message}", OrtApi.OrtInvalidArgument);
        }
    }

    [UnmanagedCallersOnly]
    private static void KernelDestroy(nint kernel)
    {
        if (kernel != 0)
        {
            var handle = GCHandle.FromIntPtr(kernel);
            (((BoundKernel)handle.Target!).Kernel as IDisposable)?.Dispose();
            handle.Free();
        }
    }

    [UnmanagedCallersOnly]
    private static nint KernelComputeV2(nint kernel, nint context)
    {
        BoundKernel? bound = null;
        try
        {
            bound = (BoundKernel)GCHandle.FromIntPtr(kernel).Target!;
            bound.Kernel.Compute(new KernelContext(context));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            return OrtApi.Fail($"{CustomOpDomain.Name}.{bound?.Op.Name}: {e.Message}", OrtApi.OrtInvalidArgument);
        }
        catch (Exception e)
        {
            return OrtApi.Fail($"{CustomOpDomain.Name}.{bound?.Op.Name} failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private sealed record BoundKernel(CustomOp Op, OpKernel Kernel);
}

