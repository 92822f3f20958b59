using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

/// <summary>Sample models written to a temporary folder per test class.</summary>
internal sealed class TestModels : IDisposable
{
    public TestModels()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("edgeruntime-boards-").FullName;
        QdqAdd = Write("qdq_add.onnx", SampleModels.QdqAdd());
        Mlp = Write("mlp.onnx", SampleModels.Mlp(16, 8, 4));
        Corrupt = Write("corrupt.onnx", "not a model"u8.ToArray());
    }

    public string Directory { get; }

    /// <summary>Static shapes, QDQ: a model QNN HTP is offered.</summary>
    public string QdqAdd { get; }

    /// <summary>Dynamic batch, float: a model QNN HTP declines.</summary>
    public string Mlp { get; }

    public string Corrupt { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
