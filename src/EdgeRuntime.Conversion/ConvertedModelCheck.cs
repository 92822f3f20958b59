using EdgeRuntime.Inference;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Conversion;

/// <summary>
/// Loads a converted model into ONNX Runtime (CPU, our custom ops registered, as edged would) before it is written, so a
/// conversion ORT refuses is reported instead of landing on disk. Loading runs ORT's own checks: graph validity, type
/// and shape inference, and each node's kernel being found.
/// </summary>
public static class ConvertedModelCheck
{
    /// <summary>Null when ORT takes the model; otherwise ORT's reason.</summary>
    public static string? Problem(byte[] model)
    {
        try
        {
            using var options = SessionFactory.CreateOptions(new InferenceOptions { IntraOpThreads = 1 });
            using var session = new InferenceSession(model, options);
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            return e.Message;
        }
    }
}
