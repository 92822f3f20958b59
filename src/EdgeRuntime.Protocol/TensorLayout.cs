namespace EdgeRuntime.Protocol;

/// <summary>Places tensors in a payload: each starts at a multiple of <see cref="Alignment"/> bytes, so that the
/// receiver can hand them to a kernel in place, whatever the element type.</summary>
public static class TensorLayout
{
    public const int Alignment = 8;

    public static long AlignUp(long offset) => (offset + (Alignment - 1)) & ~(long)(Alignment - 1);
}
