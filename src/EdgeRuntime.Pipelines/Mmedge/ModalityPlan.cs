namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>
/// How one modality runs under a configuration: its stream (replayed or live), how many blocks make a unit, which units are
/// taken (every Stride-th, ending on the last), and the encoder and aggregator models with their input names.
/// </summary>
internal sealed record ModalityPlan(
    string Modality,
    IModalitySource Stream,
    int BlocksPerUnit,
    int Stride,
    string Encoder,
    string EncoderInput,
    string Aggregator)
{
    public int Units => Stream.Blocks / BlocksPerUnit;

    /// <summary>Unit j is encoded when (j + 1) is a multiple of the stride, so the last unit is always used.</summary>
    public bool IsUsed(int unit) => (unit + 1) % Stride == 0;

    public int UsedUnits => Units / Stride;
}
