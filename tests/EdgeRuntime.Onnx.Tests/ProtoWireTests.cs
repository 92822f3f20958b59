using EdgeRuntime.Onnx;

namespace EdgeRuntime.Onnx.Tests;

/// <summary>The protobuf wire format as ProtoWriter writes and ProtoReader reads it.</summary>
public sealed class ProtoWireTests
{
    [Fact]
    public void Every_wire_type_round_trips_with_its_field_number()
    {
        byte[] bytes = new ProtoWriter()
            .Varint(OnnxFields.Model.IrVersion, 300)
            .String(OnnxFields.Model.ProducerName, "héllo")
            .Fixed32(OnnxFields.Attribute.F, 1.5f)
            .Message(OnnxFields.Model.OpsetImport, new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, OnnxDomains.EdgeRuntime).Varint(OnnxFields.OperatorSetId.Version, 1))
            .ToArray();

        var reader = new ProtoReader(bytes);
        Assert.True(reader.Next());
        Assert.True(reader.Is(OnnxFields.Model.IrVersion, WireType.Varint));
        Assert.Equal(300UL, reader.ReadVarint());
        Assert.True(reader.Next());
        Assert.True(reader.Is(OnnxFields.Model.ProducerName, WireType.LengthDelimited));
        Assert.Equal("héllo", reader.ReadString());
        Assert.True(reader.Next());
        Assert.True(reader.Is(OnnxFields.Attribute.F, WireType.Fixed32));
        Assert.Equal(1.5f, BitConverter.Int32BitsToSingle(reader.ReadFixed32()));
        Assert.True(reader.Next());
        Assert.True(reader.Is(OnnxFields.Model.OpsetImport, WireType.LengthDelimited));
        var opset = reader.ReadBytes();
        Assert.Equal(OnnxDomains.EdgeRuntime, ProtoReader.FirstString(opset, OnnxFields.OperatorSetId.Domain));
        Assert.Equal(1, ProtoReader.FirstVarint(opset, OnnxFields.OperatorSetId.Version));
        Assert.False(reader.Next());
    }

    [Fact]
    public void A_varint_uses_seven_bits_a_byte_low_group_first()
    {
        // Field 1, varint: tag 0x08, then 300 = 0b10_0101100 -> 0xAC 0x02.
        Assert.Equal([0x08, 0xAC, 0x02], new ProtoWriter().Varint(1, 300).ToArray());
    }

    [Fact]
    public void Missing_fields_read_as_empty_or_zero()
    {
        byte[] message = new ProtoWriter().Varint(OnnxFields.OperatorSetId.Version, 7).ToArray();
        Assert.Equal(string.Empty, ProtoReader.FirstString(message, OnnxFields.OperatorSetId.Domain));
        Assert.True(ProtoReader.FirstBytes(message, OnnxFields.OperatorSetId.Domain).IsEmpty);
        Assert.Equal(0, ProtoReader.FirstVarint(message, 9));
    }

    [Theory]
    [InlineData(new byte[] { 0x08 }, "Truncated protobuf varint")]
    [InlineData(new byte[] { 0x12, 0x05, 0x41 }, "runs past the end")]
    [InlineData(new byte[] { 0x15, 0x00, 0x00 }, "Truncated protobuf field")]
    [InlineData(new byte[] { 0x00 }, "field number 0")]
    [InlineData(new byte[] { 0x0B }, "wire type 3")]
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "longer than 10 bytes")]
    public void Malformed_input_is_refused_with_a_reason(byte[] bytes, string reason)
    {
        var error = Assert.Throws<InvalidDataException>(() => ReadAll(bytes));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    private static void ReadAll(byte[] bytes)
    {
        var reader = new ProtoReader(bytes);
        while (reader.Next())
        {
            reader.Skip();
        }
    }
}
