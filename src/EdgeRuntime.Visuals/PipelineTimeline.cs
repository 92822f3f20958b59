using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Visuals;

/// <summary>
/// Draws pipeline results as an SVG timeline: per modality when each unit was sensed and encoded (skipped units
/// hatched), the skip checkpoints with the gate's probability, the head's stages, and the post-sensing latency between
/// "last unit sensed" and "result". Several runs share one time axis, stacked, so sequential against pipelined against
/// pipelined-with-skipping reads at a glance. Plain SVG 1.1, no scripts or external fonts, about 1000 px wide.
/// </summary>
public static class PipelineTimeline
{
    /// <summary>The picture's width in pixels.</summary>
    public const double Width = 1000;

    /// <summary>The x of time 0 (lane names are to the left of it).</summary>
    public const double PlotLeft = 130;

    /// <summary>The x of the axis's end, <see cref="AxisEndMs"/>.</summary>
    public const double PlotRight = 960;

    public static string RenderSvg(PipelineResult result, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        return RenderSvg([(title ?? result.Pipeline, result)]);
    }

    /// <summary>Several runs stacked on one shared time axis, in the order given.</summary>
    public static string RenderSvg(IReadOnlyList<(string Title, PipelineResult Result)> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
        {
            throw new ArgumentException("Give at least one run to draw.", nameof(runs));
        }

        runs = [.. runs.Select(r => (r.Title, Complete(r.Result)))];
        double axisEnd = AxisEndMs(runs.Select(r => r.Result));

        // The same modality keeps its lane colour in every panel.
        string[] modalities = [.. runs.SelectMany(r => r.Result.Counts.Select(c => c.Modality).Concat(r.Result.Units.Select(u => u.Modality))).Distinct(StringComparer.Ordinal)];
        var panels = runs.Select(r => new TimelinePanel(r.Result, r.Title, axisEnd, modalities)).ToArray();

        var body = new SvgWriter();
        double y = 8;
        for (int i = 0; i < panels.Length; i++)
        {
            if (i > 0)
            {
                body.Start("line").Attr("x1", 8).Attr("y1", y - 6).Attr("x2", Width - 8).Attr("y2", y - 6).Attr("stroke", "#ccc").End();
            }

            panels[i].Draw(body, y);
            y += panels[i].Height;
        }

        y = DrawAxis(body, y + 4, axisEnd);
        y = DrawLegend(body, y + 10, panels.Any(p => p.HasUnits));

        var svg = new SvgWriter();
        double height = Math.Ceiling(y + 10);
        svg.Raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        svg.Start("svg").Attr("xmlns", "http://www.w3.org/2000/svg").Attr("version", "1.1").Attr("width", Width).Attr("height", height)
            .Attr("viewBox", $"0 0 {SvgWriter.Number(Width)} {SvgWriter.Number(height)}").Attr("font-family", "sans-serif").Attr("font-size", 11);
        svg.Raw(">\n");
        svg.Start("title").Text(string.Join(" / ", runs.Select(r => r.Title)));
        svg.Raw("""
            <defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#aaaaaa" stroke-width="2"/></pattern></defs>

            """);
        svg.Start("rect").Attr("width", Width).Attr("height", height).Attr("fill", "#ffffff").End();
        svg.Raw(body.ToString());
        svg.Raw("</svg>\n");
        return svg.ToString();
    }

    /// <summary>
    /// The result with empty scores where the JSON had none: the other arrays keep their initializers (they are
    /// settable), but the scores are a constructor parameter, which the reader leaves null when absent.
    /// </summary>
    private static PipelineResult Complete(PipelineResult r) => r.Scores is null ? r with { Scores = [] } : r;

    /// <summary>
    /// The time the axis ends at for these results: a round number past the latest thing drawn (the result, the last
    /// encoder call, or where skipped units would have been sensed), so every run fits.
    /// </summary>
    public static double AxisEndMs(IEnumerable<PipelineResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        double latest = 0;
        foreach (var r in results.Select(Complete))
        {
            IEnumerable<double> times = [r.ResultMs, r.SensingEndMs, .. r.Stages.Select(s => s.EndMs), .. r.Checkpoints.Select(c => c.AtMs), .. r.Units.Select(u => u.EncodeEndMs)];
            foreach (var modality in r.Units.GroupBy(u => u.Modality, StringComparer.Ordinal))
            {
                times = times.Concat(TimelinePanel.UnitSpans([.. modality.OrderBy(u => u.Index)]).Select(s => s.SensedMs));
            }

            latest = Math.Max(latest, times.Where(double.IsFinite).DefaultIfEmpty(0).Max());
        }

        return latest <= 0 ? 1 : AxisFor(latest * 1.02).EndMs;
    }

    /// <summary>Where time <paramref name="ms"/> lies on an axis ending at <paramref name="axisEndMs"/>.</summary>
    public static double X(double ms, double axisEndMs) => PlotLeft + (Math.Clamp(double.IsFinite(ms) ? ms : 0, 0, axisEndMs) / axisEndMs * (PlotRight - PlotLeft));

    /// <summary>A tick step of 1, 2 or 5 times a power of ten giving at most about eight ticks, and the axis end as a whole number of steps.</summary>
    internal static (double EndMs, double StepMs) AxisFor(double latestMs)
    {
        double raw = latestMs / 8;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw * 0.999999);
        return (Math.Ceiling((latestMs / step) - 1e-9) * step, step);
    }

    private static double DrawAxis(SvgWriter svg, double y, double axisEnd)
    {
        var (_, step) = AxisFor(axisEnd);
        svg.Start("line").Attr("class", "axis").Attr("x1", PlotLeft).Attr("y1", y).Attr("x2", PlotRight).Attr("y2", y).Attr("stroke", "#333").End();
        for (int i = 0; i * step <= axisEnd + (step / 1000); i++)
        {
            double t = i * step, x = X(t, axisEnd);
            svg.Start("line").Attr("class", "tick").Attr("x1", x).Attr("y1", y).Attr("x2", x).Attr("y2", y + 5).Attr("stroke", "#333").End();
            svg.Start("text").Attr("class", "tick-label").Attr("x", x).Attr("y", y + 17).Attr("text-anchor", "middle").Attr("font-size", 10)
                .Text(t.ToString(step < 1 ? "0.##" : "0", CultureInfo.InvariantCulture));
        }

        svg.Start("text").Attr("x", (PlotLeft + PlotRight) / 2).Attr("y", y + 32).Attr("text-anchor", "middle").Attr("fill", "#555").Text("ms since the run started");
        return y + 36;
    }

    private static double DrawLegend(SvgWriter svg, double y, bool units)
    {
        const string Blue = "#3b7dd8";
        var items = new List<(string Label, Action<double, double> Swatch)>();
        void Box(double x, double top, string fill, string extra)
        {
            svg.Raw($"<rect x=\"{SvgWriter.Number(x)}\" y=\"{SvgWriter.Number(top)}\" width=\"16\" height=\"10\" fill=\"{fill}\" {extra}/>\n");
        }

        void Line(double x, double top, string stroke, string extra)
        {
            svg.Raw($"<line x1=\"{SvgWriter.Number(x + 8)}\" y1=\"{SvgWriter.Number(top - 2)}\" x2=\"{SvgWriter.Number(x + 8)}\" y2=\"{SvgWriter.Number(top + 12)}\" stroke=\"{stroke}\" {extra}/>\n");
        }

        if (units)
        {
            items.Add(("unit sensed (bar: its interval; tick: sensed)", (x, t) => Box(x, t, Blue, "fill-opacity=\"0.35\"")));
            items.Add(("encoded", (x, t) => Box(x, t, Blue, string.Empty)));
            items.Add(("skipped: not sensed, not encoded", (x, t) => Box(x, t, "url(#hatch)", "stroke=\"#aaaaaa\" stroke-width=\"0.5\"")));
            items.Add(("dropped: sensed, not encoded", (x, t) => Box(x, t, "none", "stroke=\"#999999\" stroke-dasharray=\"2,2\"")));
            items.Add(("unused at this stride", (x, t) => Box(x, t, Blue, "fill-opacity=\"0.12\"")));
            items.Add(("checkpoint: p(skip) from the gate", (x, t) => Line(x, t, "#7f8c8d", "stroke-dasharray=\"3,2\"")));
            items.Add(("skip decided", (x, t) => Line(x, t, "#d62728", "stroke-width=\"1.6\" stroke-dasharray=\"3,2\"")));
        }

        items.Add(("stage of the head", (x, t) => Box(x, t, TimelinePanel.StageColor("aggregate"), "rx=\"2\"")));
        items.Add(((units ? "last unit" : "input") + " sensed", (x, t) => Line(x, t, "#444444", "stroke-width=\"1.2\" stroke-dasharray=\"5,3\"")));
        items.Add(("result", (x, t) => Line(x, t, "#d62728", "stroke-width=\"1.6\"")));

        double cursor = 12;
        foreach (var (label, swatch) in items)
        {
            double width = 22 + (label.Length * 10 * 0.58) + 16;
            if (cursor + width > Width - 8)
            {
                cursor = 12;
                y += 16;
            }

            swatch(cursor, y);
            svg.Start("text").Attr("x", cursor + 22).Attr("y", y + 9).Attr("font-size", 10).Text(label);
            cursor += width;
        }

        return y + 16;
    }
}
