using EdgeRuntime.Inference.Providers;
using Microsoft.ML.OnnxRuntime;

namespace EdgeRuntime.Inference.Tests;

/// <summary>
/// Provider availability chosen by the test. Appending records the provider instead of touching ORT; sessions are
/// real CPU sessions, so what the policy produces can be run. A provider in <c>failsAtSession</c> accepts its options
/// but makes session creation fail, as a QNN build without libQnnHtp.so does.
/// </summary>
internal sealed class FakeProviderBackend(ProviderKind[] available, ProviderKind[]? failsAtSession = null) : IProviderBackend
{
    private readonly List<ProviderKind> _appended = [];

    public IReadOnlyList<string> AvailableProviders => [.. available.Select(ProviderNames.OrtName)];

    public List<string> SessionPaths { get; } = [];

    public void Append(SessionOptions options, ProviderSpec spec)
    {
        if (!available.Contains(spec.Kind))
        {
            throw new ProviderUnavailableException(spec.Kind, $"{ProviderNames.OrtName(spec.Kind)} is not supported in this build", ProviderUnavailableException.RemedyFor(spec.Kind));
        }

        _appended.Add(spec.Kind);
    }

    public InferenceSession CreateSession(string modelPath, SessionOptions options)
    {
        var appended = _appended.ToArray();
        _appended.Clear();
        SessionPaths.Add(modelPath);
        if (appended.Any(k => failsAtSession?.Contains(k) == true))
        {
            // A real ORT failure: a session over bytes that are not a model.
            return new InferenceSession("backend library libQnnHtp.so not found"u8.ToArray(), options);
        }

        return new InferenceSession(modelPath, options);
    }
}
