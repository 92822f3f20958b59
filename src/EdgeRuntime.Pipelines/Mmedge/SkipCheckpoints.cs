namespace EdgeRuntime.Pipelines.Mmedge;

/// <summary>Where the skip gate looks: after ceil(f × n) units of the slow modality for each checkpoint fraction f.</summary>
public static class SkipCheckpoints
{
    public static int[] UnitCounts(IEnumerable<double> fractions, int units) =>
        // A hair below the product, so 0.7 × 10 (7.000000000000001 in binary) is 7 units, not 8.
        [.. fractions.Select(f => (int)Math.Ceiling((f * units) - 1e-9)).Where(k => k >= 1 && k < units).Distinct().Order()];
}
