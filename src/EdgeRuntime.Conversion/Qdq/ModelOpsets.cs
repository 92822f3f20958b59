using EdgeRuntime.Onnx;

namespace EdgeRuntime.Conversion.Qdq;

/// <summary>A ModelProto's opset imports: the version a domain is imported at, and setting it.</summary>
internal static class ModelOpsets
{
    /// <summary>The version <paramref name="domain"/> is imported at (the default domain also as "ai.onnx"), or 0.</summary>
    public static long Version(ReadOnlySpan<byte> model, string domain)
    {
        var opsets = OnnxModelSummary.Read(model).Opsets;
        return opsets.TryGetValue(domain, out long version) ? version
            : domain.Length == 0 && opsets.TryGetValue(OnnxDomains.AiOnnx, out version) ? version
            : 0;
    }

    /// <summary>The model importing <paramref name="domain"/> at <paramref name="version"/>: an existing import replaced, or one added.</summary>
    public static byte[] With(ReadOnlySpan<byte> model, string domain, int version)
    {
        var output = new ProtoWriter();
        var reader = new ProtoReader(model);
        int start = 0;
        bool replaced = false;
        while (reader.Next())
        {
            bool match = false;
            if (reader.Is(OnnxFields.Model.OpsetImport, WireType.LengthDelimited))
            {
                string imported = ProtoReader.FirstString(reader.ReadBytes(), OnnxFields.OperatorSetId.Domain);
                match = imported == domain || (domain.Length == 0 && imported == OnnxDomains.AiOnnx);
            }
            else
            {
                reader.Skip();
            }

            if (!match)
            {
                output.Raw(model[start..reader.Position]);
            }
            else if (!replaced)
            {
                output.Message(OnnxFields.Model.OpsetImport, Import(domain, version));
                replaced = true;
            }

            start = reader.Position;
        }

        if (!replaced)
        {
            output.Message(OnnxFields.Model.OpsetImport, Import(domain, version));
        }

        return output.ToArray();
    }

    private static ProtoWriter Import(string domain, int version) =>
        new ProtoWriter().String(OnnxFields.OperatorSetId.Domain, domain).Varint(OnnxFields.OperatorSetId.Version, version);
}
