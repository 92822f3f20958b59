namespace EdgeRuntime.Integration.Tests;

/// <summary>Where the published binaries and the fetched assets are. build.ps1 sets the variables; the defaults match it.</summary>
internal static class Paths
{
    public static string RepositoryRoot => Repository.Root;

    public static string PublishDir => Environment.GetEnvironmentVariable("EDGERUNTIME_PUBLISH_DIR")
        ?? Path.Combine(RepositoryRoot, "artifacts", "publish", "host");

    /// <summary>The board packages (build.ps1 package); build.ps1 test makes rpi4 and rpi5.</summary>
    public static string PackagesDir => Environment.GetEnvironmentVariable("EDGERUNTIME_PACKAGES_DIR") ?? Path.Combine(RepositoryRoot, "artifacts", "packages");

    public static string? FindPackage(string board, string pattern) =>
        Directory.Exists(PackagesDir) ? Directory.GetFiles(PackagesDir, pattern.Replace("{board}", board, StringComparison.Ordinal)).OrderDescending(StringComparer.Ordinal).FirstOrDefault() : null;

    public static string AssetsDir => Environment.GetEnvironmentVariable("EDGERUNTIME_ASSETS_DIR") ?? Path.Combine(RepositoryRoot, "artifacts", "assets");

    public static string Edged => Require(Path.Combine(PublishDir, "edged"));

    public static string Edgectl => Require(Path.Combine(PublishDir, "edgectl"));

    public static string EdgeConvert => Require(Path.Combine(PublishDir, "edge-convert"));

    public static string SileroVad => Require(Path.Combine(AssetsDir, "models", "silero_vad_v5.onnx"));

    /// <summary>PaddleOCR's PP-OCRv4 recognizer as Paddle2ONNX exported it (weights in Constant nodes).</summary>
    /// <summary>PaddleOCR's text-direction classifier as Paddle2ONNX exported it (53 Conv, 35 BatchNormalization, opset 9).</summary>
    public static string PaddleOcrClassifier => Require(Path.Combine(AssetsDir, "models", "exports", "paddle-ocr-cls.onnx"));

    public static string PaddleOcrRecognizer => Require(Path.Combine(AssetsDir, "models", "exports", "paddle-ocr-rec.onnx"));

    public static string SpeechWav => Require(Path.Combine(AssetsDir, "audio", "speech.wav"));

    public static string SilenceWav => Require(Path.Combine(AssetsDir, "audio", "silence.wav"));

    private static string Require(string path) => File.Exists(path)
        ? path
        : throw new FileNotFoundException($"{path} is missing. Run 'dotnet pwsh ./build.ps1 publish' first ('build.ps1 test' does it).", path);
}
