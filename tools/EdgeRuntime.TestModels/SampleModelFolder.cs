namespace EdgeRuntime.TestModels;

/// <summary>The model folder the registry and server tests load from: three working models and two broken files.</summary>
public static class SampleModelFolder
{
    /// <summary>Writes add.onnx, mlp.onnx (64→32→8), double.onnx, frame-mean.onnx (a 640×480 RGB frame in), a corrupt protobuf and a text file into <paramref name="directory"/>.</summary>
    public static void Write(string directory)
    {
        File.WriteAllBytes(Path.Combine(directory, "add.onnx"), SampleModels.AddBias());
        File.WriteAllBytes(Path.Combine(directory, "mlp.onnx"), SampleModels.Mlp(64, 32, 8));
        File.WriteAllBytes(Path.Combine(directory, "double.onnx"), SampleModels.DoubleInt64());
        File.WriteAllBytes(Path.Combine(directory, "frame-mean.onnx"), SampleModels.FrameMean());
        File.WriteAllBytes(Path.Combine(directory, "corrupt.onnx"), [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x99, 0x01, 0x02, 0x03]);
        File.WriteAllText(Path.Combine(directory, "text.onnx"), "this is not a model");
    }
}
