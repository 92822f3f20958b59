using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Onnx.Tests;

public sealed class OnnxModelSummaryTests
{
    [Fact]
    public void Reads_inputs_with_symbolic_dims_and_every_node()
    {
        var summary = OnnxModelSummary.Read(SampleModels.Mlp(16, 8, 4));
        var input = Assert.Single(summary.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal([new OnnxDim(null, "N"), new OnnxDim(16, null)], input.Shape);
        Assert.False(input.IsStatic);
        Assert.Equal(["MatMul", "Add", "Relu", "MatMul"], summary.Nodes.Select(n => n.OpType));
        Assert.True(summary.Opsets.ContainsKey(string.Empty));
    }

    [Fact]
    public void Nodes_inside_if_branches_are_read_too()
    {
        string silero = Path.Combine(Repository.Root, "artifacts", "assets", "models", "silero_vad_v5.onnx");
        var summary = OnnxModelSummary.ReadFile(silero);
        Assert.Equal(["input", "state", "sr"], summary.Inputs.Select(i => i.Name));
        Assert.Contains(summary.Nodes, n => n.OpType == "If");
        Assert.Contains(summary.Nodes, n => n.OpType == "LSTM");
    }

    [Fact]
    public void Subgraphs_nested_absurdly_deep_are_refused_not_a_stack_overflow()
    {
        // graph { node { attribute { g: graph { node { attribute { g: ... } } } } } }, 10000 levels.
        byte[] graph = [];
        for (int i = 0; i < 10_000; i++)
        {
            byte[] attribute = Field(OnnxFields.Attribute.G, graph);
            byte[] node = Field(OnnxFields.Node.Attribute, attribute);
            graph = Field(OnnxFields.Graph.Node, node);
        }

        var error = Assert.Throws<InvalidDataException>(() => OnnxModelSummary.Read(Field(OnnxFields.Model.Graph, graph)));
        Assert.Contains("nested", error.Message, StringComparison.Ordinal);
    }

    private static byte[] Field(int number, byte[] value)
    {
        var bytes = new List<byte> { (byte)((number << 3) | 2) };
        for (uint length = (uint)value.Length; ; length >>= 7)
        {
            bytes.Add((byte)(length < 0x80 ? length : (length & 0x7f) | 0x80));
            if (length < 0x80)
            {
                break;
            }
        }

        bytes.AddRange(value);
        return [.. bytes];
    }

    [Theory]
    [InlineData(new byte[] { 0x3a })]
    [InlineData(new byte[] { 0x3a, 0xff, 0xff })]
    [InlineData(new byte[] { 0x3a, 0x05, 0x01 })]
    [InlineData(new byte[] { 0x07 })]
    public void Malformed_protobuf_is_an_invalid_data_error(byte[] bytes)
    {
        Assert.Throws<InvalidDataException>(() => OnnxModelSummary.Read(bytes));
    }
}
