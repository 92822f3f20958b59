namespace EdgeRuntime.Triggers;

/// <summary>Captions one camera frame with a loaded vision-language model (implemented by the daemon over the generation engine).</summary>
/// <remarks>
/// An interface rather than a reference to EdgeRuntime.Generation: the trigger engine must not depend on the engine
/// (docs/architecture.md), and tests drive caption triggers with a fake.
/// </remarks>
public interface IFrameCaptioner
{
    /// <summary>
    /// frame: one frame's pixels row by row as the sensor delivers them (grey values 0..255 as floats), height×width.
    /// Throws EdgeRuntimeException (e.g. unknown_model, invalid_image, wrong_model_kind) naming the problem.
    /// </summary>
    Task<FrameCaption> CaptionAsync(string model, float[] frame, int height, int width, int maxTokens, CancellationToken cancellationToken);
}

/// <summary>What the model said about a frame: its text, the tokens generated, and milliseconds to the first token and in all.</summary>
public sealed record FrameCaption(string Text, int Tokens, double FirstTokenMs, double TotalMs);
