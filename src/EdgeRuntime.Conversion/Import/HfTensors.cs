namespace EdgeRuntime.Conversion.Import;

/// <summary>Reading float tensors of a Hugging Face checkpoint, whatever the family: the dtype and shape checked, the values as float32.</summary>
internal static class HfTensors
{
    public static FloatFormat? FloatFormatOf(SafeTensor tensor) => tensor.DType switch
    {
        "F32" => FloatFormat.F32,
        "F16" => FloatFormat.F16,
        "BF16" => FloatFormat.BF16,
        _ => null,
    };

    /// <summary>A float tensor of the given shape (null: any shape), converted to float32.</summary>
    public static float[] ReadFloats(SafeTensor tensor, long[]? shape)
    {
        var format = FloatFormatOf(tensor) ?? throw new InvalidDataException($"{tensor.Name} is {tensor.DType}; the importer reads it as BF16, F16 or F32.");
        if (shape is not null)
        {
            CheckShape(tensor, shape, "");
        }

        return FloatFormats.Decode(tensor.Bytes(), format, tensor.Elements);
    }

    public static void CheckShape(SafeTensor tensor, long[] expected, string what)
    {
        if (!tensor.Shape.SequenceEqual(expected))
        {
            throw new InvalidDataException($"{tensor.Name} is {tensor.DType} {tensor.ShapeText}; config.json's sizes need [{string.Join(", ", expected)}]{what}.");
        }
    }
}
