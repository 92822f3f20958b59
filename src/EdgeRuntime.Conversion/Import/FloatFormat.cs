using System.Buffers.Binary;

namespace EdgeRuntime.Conversion.Import;

/// <summary>The float encodings checkpoints store embeddings and norms in; all little-endian.</summary>
internal enum FloatFormat
{
    F32,
    F16,
    BF16,
}

internal static class FloatFormats
{
    public static int Size(FloatFormat format) => format == FloatFormat.F32 ? 4 : 2;

    /// <summary>Decodes <paramref name="bytes"/> into <paramref name="target"/> (exactly one value per element).</summary>
    public static void Decode(ReadOnlySpan<byte> bytes, FloatFormat format, Span<float> target)
    {
        switch (format)
        {
            case FloatFormat.F32:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                }

                break;
            case FloatFormat.F16:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                }

                break;
            case FloatFormat.BF16:
                // bfloat16 is the top half of a float32: widening is a shift, exact for every value.
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) << 16);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format));
        }
    }

    public static float[] Decode(ReadOnlySpan<byte> bytes, FloatFormat format, long count)
    {
        if (bytes.Length != count * Size(format))
        {
            throw new InvalidDataException($"{count} {format} values need {count * Size(format)} bytes; the tensor has {bytes.Length}.");
        }

        var values = new float[count];
        Decode(bytes, format, values);
        return values;
    }
}
