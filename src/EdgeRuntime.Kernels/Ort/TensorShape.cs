using System.Runtime.CompilerServices;

namespace EdgeRuntime.Kernels.Ort;

/// <summary>
/// A tensor's dimensions held inline (up to <see cref="MaxRank"/>), so reading and writing shapes in a compute call
/// allocates nothing. Supports s[^1] and s[..^1].
/// </summary>
internal struct TensorShape
{
    public const int MaxRank = 8;

    private Dims _dims;

    public int Length { get; private set; }

    public long this[int index]
    {
        readonly get => (uint)index < (uint)Length ? _dims[index] : throw new IndexOutOfRangeException();
        set => _dims[index] = (uint)index < (uint)Length ? value : throw new IndexOutOfRangeException();
    }

    public static TensorShape Of(int rank)
    {
        if (rank is < 0 or > MaxRank)
        {
            throw new NotSupportedException($"Tensors of rank {rank} are not supported by our ops (at most {MaxRank}).");
        }

        return new TensorShape { Length = rank };
    }

    /// <summary>The dimensions in place, for ORT to read or fill.</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public Span<long> Dimensions => System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref _dims[0], Length);

    public readonly TensorShape Slice(int start, int length)
    {
        var slice = Of(length);
        for (int i = 0; i < length; i++)
        {
            slice._dims[i] = _dims[start + i];
        }

        return slice;
    }

    /// <summary>These dimensions followed by one more (an output: the input's leading dimensions, then N).</summary>
    public readonly TensorShape Append(long dim)
    {
        var shape = Of(Length + 1);
        for (int i = 0; i < Length; i++)
        {
            shape._dims[i] = _dims[i];
        }

        shape._dims[Length] = dim;
        return shape;
    }

    public readonly long Product()
    {
        long product = 1;
        for (int i = 0; i < Length; i++)
        {
            product *= _dims[i];
        }

        return product;
    }

    public readonly bool SameAs(in TensorShape other)
    {
        if (other.Length != Length)
        {
            return false;
        }

        for (int i = 0; i < Length; i++)
        {
            if (other._dims[i] != _dims[i])
            {
                return false;
            }
        }

        return true;
    }

    public override readonly string ToString()
    {
        var parts = new string[Length];
        for (int i = 0; i < Length; i++)
        {
            parts[i] = _dims[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return string.Join(", ", parts);
    }

    [InlineArray(MaxRank)]
    private struct Dims
    {
        private long _first;
    }
}
