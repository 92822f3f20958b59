using EdgeRuntime.Protocol;

namespace EdgeRuntime.Http;

/// <summary>OpenAI's finish_reason for each of edged's stop reasons.</summary>
internal static class FinishReasons
{
    public const string Stop = "stop";
    public const string Length = "length";

    /// <summary>
    /// "stop" when the model or a stop condition ended the answer, "length" when it ran out of tokens or context; null
    /// for a cancelled generation, which has no finish reason to give: its client is gone, or the daemon stopped it.
    /// </summary>
    public static string? For(string stopReason) => stopReason switch
    {
        StopReasons.EndOfSequence or StopReasons.StopToken or StopReasons.StopString => Stop,
        StopReasons.MaxTokens or StopReasons.ContextFull => Length,
        StopReasons.Cancelled => null,
        _ => Stop,
    };
}
