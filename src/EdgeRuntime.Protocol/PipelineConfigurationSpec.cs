using System.Globalization;

namespace EdgeRuntime.Protocol;

/// <summary>
/// The one-line form of an MMEdge configuration used on command lines: <c>audio=large:100,vision=small:/2</c>, that
/// is MODALITY=ENCODER:UNIT_MS or MODALITY=ENCODER:/STRIDE per modality, comma-separated. A unit length alone means
/// stride 1; a stride alone means unit length 0 (the modality is not cut by time).
/// </summary>
public static class PipelineConfigurationSpec
{
    /// <summary>Parses a spec; <see cref="FormatException"/> says what is wrong and where.</summary>
    public static PipelineConfiguration Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var choices = new List<ModalityChoice>();
        foreach (string part in spec.Split(',', StringSplitOptions.TrimEntries))
        {
            var choice = ParseChoice(part);
            if (choices.Any(c => string.Equals(c.Modality, choice.Modality, StringComparison.Ordinal)))
            {
                throw new FormatException($"'{choice.Modality}' appears twice in '{spec}'.");
            }

            choices.Add(choice);
        }

        return new PipelineConfiguration([.. choices]);
    }

    /// <summary>The spec that <see cref="Parse"/> turns back into this configuration, for pasting into --config.</summary>
    public static string Format(PipelineConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return string.Join(",", configuration.Modalities.Select(m => m.Stride > 1 || m.UnitMs <= 0
            ? string.Create(CultureInfo.InvariantCulture, $"{m.Modality}={m.Encoder}:/{m.Stride}")
            : string.Create(CultureInfo.InvariantCulture, $"{m.Modality}={m.Encoder}:{m.UnitMs:0.###}")));
    }

    private static ModalityChoice ParseChoice(string part)
    {
        int equals = part.IndexOf('=', StringComparison.Ordinal);
        int colon = part.IndexOf(':', StringComparison.Ordinal);
        if (equals <= 0 || colon < equals + 2 || colon == part.Length - 1)
        {
            throw new FormatException($"'{part}' is not MODALITY=ENCODER:UNIT_MS or MODALITY=ENCODER:/STRIDE (e.g. audio=large:100, vision=small:/2).");
        }

        string modality = part[..equals].Trim();
        string encoder = part[(equals + 1)..colon].Trim();
        string unit = part[(colon + 1)..].Trim();
        if (modality.Length == 0 || encoder.Length == 0)
        {
            throw new FormatException($"'{part}' names no modality or no encoder.");
        }

        if (unit.StartsWith('/'))
        {
            return int.TryParse(unit.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int stride) && stride >= 1
                ? new ModalityChoice(modality, encoder, 0, stride)
                : throw new FormatException($"'{part}': the stride after '/' must be a whole number >= 1, not '{unit[1..]}'.");
        }

        // "100ms" reads naturally and is what the printed configuration shows; accept it.
        string number = unit.EndsWith("ms", StringComparison.Ordinal) ? unit[..^2] : unit;
        return double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double unitMs) && unitMs > 0 && double.IsFinite(unitMs)
            ? new ModalityChoice(modality, encoder, unitMs, 1)
            : throw new FormatException($"'{part}': the unit length must be a number of milliseconds > 0 or /STRIDE, not '{unit}'.");
    }
}
