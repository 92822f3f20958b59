namespace EdgeRuntime.Inference.Tests;

/// <summary>
/// The test classes that build ORT sessions with placement probing. Each such session writes a profile named
/// edged-placement-{pid}-… to the temporary folder, and one test checks that a failed session leaves none behind by
/// comparing that folder before and after; in one collection they run one at a time, so it sees only its own files.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PlacementProfileCollection
{
    public const string Name = "placement profiles";
}
