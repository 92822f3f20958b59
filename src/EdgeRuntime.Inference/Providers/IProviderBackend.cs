using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Providers;

/// <summary>
/// Appends execution providers to session options and creates sessions. The real one is <see cref="OrtProviderBackend"/>;
/// tests substitute one with chosen availability to exercise the policy without the hardware.
/// </summary>
public interface IProviderBackend
{
    /// <summary>The ONNX Runtime names of the providers compiled into the loaded library.</summary>
    IReadOnlyList<string> AvailableProviders { get; }

    /// <summary>Appends one provider. Throws <see cref="ProviderUnavailableException"/> when this build or machine lacks it.</summary>
    void Append(SessionOptions options, ProviderSpec spec);

    InferenceSession CreateSession(string modelPath, SessionOptions options);

    /// <summary>A session from model bytes (a model rewritten at load time).</summary>
    InferenceSession CreateSession(byte[] model, SessionOptions options) => new(model, options);
}
