namespace EdgeRuntime.Generation.Engine;

/// <summary>
/// One conversation's state in the daemon: which cache slot it owns, how many positions are filled, every token it
/// holds (for the repetition penalty), and the last sampled token, which is not in the cache yet: it is fed first
/// when the session continues.
/// </summary>
internal sealed class ChatSession(string id, int slot)
{
    public string Id { get; } = id;

    public int Slot { get; set; } = slot;

    /// <summary>Positions written to the cache.</summary>
    public int Length { get; set; }

    public HashSet<int> Seen { get; } = [];

    public int? Pending { get; set; }

    /// <summary>Whether the last turn ended on the chat template's end-of-turn token.</summary>
    public bool EndedTurn { get; set; } = true;

    /// <summary>Kept between turns (keep, or a continued session).</summary>
    public bool Kept { get; set; }

    /// <summary>The run using this session now; null while idle.</summary>
    public GenerationRun? Run { get; set; }

    public long LastUsed { get; set; }
}
