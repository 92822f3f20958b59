using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Visuals;

/// <summary>One modality's lane: a row of sensed spans above a row of encoder calls, checkpoint labels on top.</summary>
internal sealed class TimelineLane
{
    private readonly (double StartMs, double SensedMs)[] _spans;
    private readonly (PipelineCheckpoint Checkpoint, LabelPlace Label)[] _checkpoints;
    private readonly int _labelRows;
    private readonly Func<double, double> _x;

    public TimelineLane(string modality, string color, PipelineUnitTrace[] units, (double, double)[] spans, PipelineCheckpoint[] checkpoints, Func<double, double> x)
    {
        Modality = modality;
        Color = color;
        Units = units;
        _spans = spans;
        _x = x;
        var packer = new RowPacker(PipelineTimeline.PlotLeft, PipelineTimeline.Width - 4);
        _checkpoints = [.. checkpoints.Select(c => (c, LabelPlace.Choose(packer, x(c.AtMs), x(c.AtMs), CheckpointLabel(c), 10, outsideOnly: true)))];
        _labelRows = packer.Count;
    }

    public string Modality { get; }

    public string Color { get; }

    public PipelineUnitTrace[] Units { get; }

    public double Height => (_labelRows * TimelinePanel.LabelRow) + TimelinePanel.LaneHeight;

    private static string CheckpointLabel(PipelineCheckpoint c) =>
        string.Create(CultureInfo.InvariantCulture, $"{(c.Skipped ? "skip · " : string.Empty)}p(skip) {c.SkipProbability:0.00}");

    public void Draw(SvgWriter svg, double top, bool shaded, ModalityCount counts)
    {
        double rowsTop = top + (_labelRows * TimelinePanel.LabelRow);
        double senseY = rowsTop + 5, encodeY = rowsTop + 18;
        svg.Start("rect").Attr("x", PipelineTimeline.PlotLeft).Attr("y", top).Attr("width", PipelineTimeline.PlotRight - PipelineTimeline.PlotLeft).Attr("height", Height)
            .Attr("fill", shaded ? "#f3f6fa" : "#fafafa").End();
        svg.Start("text").Attr("x", PipelineTimeline.PlotLeft - 8).Attr("y", rowsTop + 13).Attr("text-anchor", "end").Attr("font-weight", "bold").Attr("font-size", 12).Attr("fill", Color).Text(Modality);
        svg.Start("text").Attr("x", PipelineTimeline.PlotLeft - 8).Attr("y", rowsTop + 25).Attr("text-anchor", "end").Attr("font-size", 9.5).Attr("fill", "#555")
            .Text($"sensed {counts.Sensed} · enc {counts.Encoded}");
        if (counts.Skipped > 0)
        {
            svg.Start("text").Attr("x", PipelineTimeline.PlotLeft - 8).Attr("y", rowsTop + 36).Attr("text-anchor", "end").Attr("font-size", 9.5).Attr("fill", "#555").Text($"skipped {counts.Skipped}");
        }

        for (int i = 0; i < Units.Length; i++)
        {
            DrawUnit(svg, Units[i], _spans[i], senseY, encodeY);
        }

        foreach (var (c, label) in _checkpoints)
        {
            double x = _x(c.AtMs), labelY = top + ((label.Row + 1) * TimelinePanel.LabelRow) - 3;
            string stroke = c.Skipped ? "#d62728" : "#7f8c8d";
            svg.Start("line").Attr("class", c.Skipped ? "checkpoint skip" : "checkpoint").Attr("x1", x).Attr("y1", labelY - 8).Attr("x2", x).Attr("y2", top + Height)
                .Attr("stroke", stroke).Attr("stroke-width", c.Skipped ? 1.6 : 1).Attr("stroke-dasharray", "3,2")
                .End(string.Create(CultureInfo.InvariantCulture, $"checkpoint after {c.Units} {c.Modality} units at {c.AtMs:0.#} ms: skip probability {c.SkipProbability:0.000}{(c.Skipped ? ", skipped the rest" : string.Empty)}"));
            svg.Start("text").Attr("x", label.X).Attr("y", labelY).Attr("font-size", 10).Attr("text-anchor", label.Anchor).Attr("fill", stroke)
                .Attr("font-weight", c.Skipped ? "bold" : "normal").Text(CheckpointLabel(c));
        }
    }

    private void DrawUnit(SvgWriter svg, PipelineUnitTrace u, (double StartMs, double SensedMs) span, double senseY, double encodeY)
    {
        double x0 = _x(span.StartMs), x1 = Math.Max(_x(span.SensedMs), x0 + 1);
        string where = string.Create(CultureInfo.InvariantCulture, $"{u.Modality} #{u.Index}");
        switch (u.State)
        {
            case "skipped":
                svg.Start("rect").Attr("class", "unit skipped").Attr("x", x0).Attr("y", senseY).Attr("width", x1 - x0).Attr("height", encodeY + 16 - senseY)
                    .Attr("fill", "url(#hatch)").Attr("stroke", "#aaa").Attr("stroke-width", 0.5).End($"{where} skipped: not sensed, not encoded");
                return;
            case "unused":
                svg.Start("rect").Attr("class", "unit unused").Attr("x", x0).Attr("y", senseY).Attr("width", x1 - x0).Attr("height", 9)
                    .Attr("fill", Color).Attr("fill-opacity", 0.12).End(string.Create(CultureInfo.InvariantCulture, $"{where} unused: sensed at {u.SensedMs:0.#} ms, not taken at this stride"));
                return;
        }

        svg.Start("rect").Attr("class", "sense").Attr("x", x0).Attr("y", senseY).Attr("width", x1 - x0).Attr("height", 9).Attr("fill", Color).Attr("fill-opacity", 0.35)
            .End(string.Create(CultureInfo.InvariantCulture, $"{where} sensed at {u.SensedMs:0.#} ms"));
        svg.Start("rect").Attr("x", x1 - 1.2).Attr("y", senseY).Attr("width", 1.2).Attr("height", 9).Attr("fill", Color).End();
        if (u.State == "encoded")
        {
            double e0 = _x(u.EncodeStartMs), e1 = Math.Max(_x(u.EncodeEndMs), e0 + 1.5);
            svg.Start("rect").Attr("class", "unit encoded").Attr("x", e0).Attr("y", encodeY).Attr("width", e1 - e0).Attr("height", 16).Attr("fill", Color).Attr("stroke", "#fff").Attr("stroke-width", 0.4)
                .End(string.Create(CultureInfo.InvariantCulture, $"{where} encoded {u.EncodeStartMs:0.#}–{u.EncodeEndMs:0.#} ms ({u.EncodeEndMs - u.EncodeStartMs:0.0} ms), sensed at {u.SensedMs:0.#} ms"));
        }
        else
        {
            // "dropped" (sensed just before a skip cut in) or a state this client does not know: sensed, never encoded.
            svg.Start("rect").Attr("class", u.State == "dropped" ? "unit dropped" : "unit other").Attr("x", x0).Attr("y", encodeY).Attr("width", x1 - x0).Attr("height", 16)
                .Attr("fill", "none").Attr("stroke", "#999").Attr("stroke-dasharray", "2,2").End($"{where} {u.State}: sensed, not encoded");
        }
    }
}
