using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Paths;

/// <summary>How refusals name the folders: the base folder, the setting that adds roots, and the code for "nothing there".</summary>
public sealed record PathWording(string BaseFolder, string RootsSetting, string NotFoundCode)
{
    public static PathWording Models { get; } = new("the model directory", "allowedModelRoots", ErrorCodes.ModelNotFound);

    /// <summary>Pipeline inputs: a missing replay file is a bad input (invalid_input, as before the rules), not a missing model.</summary>
    public static PathWording PipelineInputs { get; } = new("the pipeline input directory", "allowedInputRoots", ErrorCodes.InvalidInput);
}
