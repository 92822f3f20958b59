namespace EdgeRuntime.TestModels.Language.Checkpoints;

/// <summary>bfloat16 as PyTorch rounds to it (to nearest, ties to even), for writing checkpoints as they ship.</summary>
public static class Bf16
{
    public static ushort Bits(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>The float the bfloat16 of <paramref name="value"/> stands for.</summary>
    public static float Round(float value) => BitConverter.UInt32BitsToSingle((uint)Bits(value) << 16);

    public static float[] Round(ReadOnlySpan<float> values)
    {
        var rounded = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            rounded[i] = Round(values[i]);
        }

        return rounded;
    }

    public static byte[] Encode(ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), Bits(values[i]));
        }

        return bytes;
    }
}
