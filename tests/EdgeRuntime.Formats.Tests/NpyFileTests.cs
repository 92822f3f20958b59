using System.Text;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Formats.Tests;

public sealed class NpyFileTests
{
    /// <summary>The bytes numpy 1.x writes for np.save(f, np.array([[1, 2, 3], [4, 5, 6]], dtype='<f4')).</summary>
    private static byte[] NumpyFloat32TwoByThree()
    {
        string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        string header = dict + new string(' ', 128 - 10 - dict.Length - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange(Encoding.ASCII.GetBytes("NUMPY"));
        bytes.AddRange([1, 0, (byte)header.Length, 0]);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (float value in new float[] { 1, 2, 3, 4, 5, 6 })
        {
            bytes.AddRange(BitConverter.GetBytes(value));
        }

        return [.. bytes];
    }

    [Fact]
    public void Reads_what_numpy_writes()
    {
        var tensor = NpyFile.Parse(NumpyFloat32TwoByThree(), "x");
        Assert.Equal(TensorDType.Float32, tensor.DType);
        Assert.Equal([2L, 3L], tensor.Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], tensor.ToArray<float>());
    }

    [Fact]
    public void Writes_a_header_numpy_accepts_aligned_to_64_bytes()
    {
        using var stream = new MemoryStream();
        NpyFile.Write(stream, Tensor.Float32("x", [2, 3], [1, 2, 3, 4, 5, 6]));
        byte[] bytes = stream.ToArray();
        int headerLength = BitConverter.ToUInt16(bytes, 8);

        Assert.Equal(0, (10 + headerLength) % 64);
        Assert.Equal((byte)'\n', bytes[10 + headerLength - 1]);
        Assert.Contains("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Encoding.ASCII.GetString(bytes, 10, headerLength), StringComparison.Ordinal);
        Assert.Equal(NumpyFloat32TwoByThree()[^24..], bytes[^24..]);
    }

    [Theory]
    [InlineData(TensorDType.Float32)]
    [InlineData(TensorDType.Float16)]
    [InlineData(TensorDType.Float64)]
    [InlineData(TensorDType.Int8)]
    [InlineData(TensorDType.UInt8)]
    [InlineData(TensorDType.Int16)]
    [InlineData(TensorDType.UInt16)]
    [InlineData(TensorDType.Int32)]
    [InlineData(TensorDType.UInt32)]
    [InlineData(TensorDType.Int64)]
    [InlineData(TensorDType.UInt64)]
    [InlineData(TensorDType.Bool)]
    public void Every_dtype_round_trips(TensorDType dtype)
    {
        long[] shape = [3, 1, 2];
        byte[] data = [.. Enumerable.Range(0, 6 * dtype.ElementSize()).Select(i => (byte)(dtype == TensorDType.Bool ? i % 2 : i * 7))];
        using var stream = new MemoryStream();
        NpyFile.Write(stream, new Tensor("t", dtype, shape, data));

        var back = NpyFile.Parse(stream.ToArray(), "t");
        Assert.Equal(dtype, back.DType);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(data, back.Data.ToArray());
    }

    [Fact]
    public void Scalars_and_vectors_use_pythons_tuple_syntax()
    {
        using var scalar = new MemoryStream();
        NpyFile.Write(scalar, Tensor.Int64("sr", [], [16000]));
        Assert.Contains("'shape': ()", Encoding.ASCII.GetString(scalar.ToArray()), StringComparison.Ordinal);
        Assert.Empty(NpyFile.Parse(scalar.ToArray(), "sr").Shape);

        using var vector = new MemoryStream();
        NpyFile.Write(vector, Tensor.Float32("v", [4], new float[4]));
        Assert.Contains("'shape': (4,)", Encoding.ASCII.GetString(vector.ToArray()), StringComparison.Ordinal);
        Assert.Equal([4L], NpyFile.Parse(vector.ToArray(), "v").Shape);
    }

    [Fact]
    public void Big_endian_data_is_swapped_on_read()
    {
        byte[] bytes = NumpyFloat32TwoByThree();
        int dataStart = bytes.Length - 24;
        Encoding.ASCII.GetBytes(">f4").CopyTo(bytes, Encoding.ASCII.GetString(bytes).IndexOf("<f4", StringComparison.Ordinal));
        for (int i = dataStart; i < bytes.Length; i += 4)
        {
            Array.Reverse(bytes, i, 4);
        }

        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], NpyFile.Parse(bytes, "x").ToArray<float>());
    }

    [Theory]
    [InlineData("'fortran_order': True", "Fortran-order")]
    [InlineData("'descr': '<c8'", "dtype '<c8' is not supported")]
    public void Unsupported_files_are_refused_with_a_reason(string replace, string message)
    {
        string original = replace.StartsWith("'fortran", StringComparison.Ordinal) ? "'fortran_order': False" : "'descr': '<f4'";
        byte[] bytes = NumpyFloat32TwoByThree();
        string text = Encoding.Latin1.GetString(bytes).Replace(original, replace.PadRight(original.Length), StringComparison.Ordinal);
        var error = Assert.Throws<InvalidDataException>(() => NpyFile.Parse(Encoding.Latin1.GetBytes(text), "x"));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_data_and_non_npy_files_are_refused()
    {
        Assert.Contains("needs 6 elements, the file has data for 5", Assert.Throws<InvalidDataException>(() => NpyFile.Parse(NumpyFloat32TwoByThree()[..^4], "x")).Message, StringComparison.Ordinal);
        Assert.Contains("not a .npy file", Assert.Throws<InvalidDataException>(() => NpyFile.Parse("hello world"u8, "x")).Message, StringComparison.Ordinal);
    }
}
