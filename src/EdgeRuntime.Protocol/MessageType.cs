namespace EdgeRuntime.Protocol;

/// <summary>What a frame asks for. A response carries the request's type with <see cref="FrameFlags.Response"/> set.</summary>
public enum MessageType : byte
{
    Hello = 1,
    Models = 2,
    Load = 3,
    Unload = 4,
    Info = 5,
    Infer = 6,
    Stats = 7,
    Health = 8,

    /// <summary>Stream stored results: an acknowledgement, then one <see cref="Event"/> frame per result.</summary>
    Subscribe = 9,

    /// <summary>Sent by the daemon only, under a subscribe request's id: one stored result.</summary>
    Event = 10,

    Unsubscribe = 11,

    /// <summary>Feed a reading or an edge into a simulated sensor (tests, demos, benchmarks).</summary>
    Inject = 12,

    /// <summary>List the pipelines the daemon runs, with their configuration and latency table.</summary>
    Pipelines = 13,

    /// <summary>Declare a pipeline over the socket (the same JSON as a "pipelines" entry in the configuration).</summary>
    PipelineLoad = 14,

    /// <summary>Run a pipeline once over replayed input; the result is also stored and sent to subscribers.</summary>
    PipelineRun = 15,

    /// <summary>Generate text with a language model: <see cref="Token"/> frames as tokens are produced, then the summary.</summary>
    Generate = 16,

    /// <summary>Sent by the daemon only, under a generate request's id: one generated token and its text piece.</summary>
    Token = 17,

    /// <summary>Stop a running generate (by its request id); its stream ends with stop reason "cancelled".</summary>
    Cancel = 18,

    /// <summary>Register a shared-memory region: a sealed memfd sent with the frame as SCM_RIGHTS (docs/protocol.md).</summary>
    RegionRegister = 19,

    /// <summary>Release a shared-memory region; requests running with it finish first.</summary>
    RegionUnregister = 20,
}

[Flags]
public enum FrameFlags : ushort
{
    None = 0,

    /// <summary>Set on every frame the daemon sends in answer to a request.</summary>
    Response = 1,

    /// <summary>Set with <see cref="Response"/> when the JSON header is an <see cref="ErrorResponse"/>.</summary>
    Error = 2,
}
