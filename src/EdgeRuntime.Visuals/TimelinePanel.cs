using System.Globalization;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Visuals;

/// <summary>
/// One run of a pipeline drawn on a shared time axis: a lane per modality (when each unit was sensed, when it was
/// encoded, what was skipped, the skip checkpoints), a lane for the head's stages, the "last unit sensed" and "result"
/// markers with the post-sensing latency between them, and a caption. Layout is computed in the constructor (the
/// crowded labels decide the heights); <see cref="Draw"/> writes it.
/// </summary>
internal sealed class TimelinePanel
{
    private const double TitleHeight = 26;
    internal const double LaneHeight = 40;
    internal const double LabelRow = 13;
    private const double StageRow = 18;
    private const double CaptionLine = 15;
    private const double LaneGap = 4;

    private static readonly string[] ModalityColors = ["#3b7dd8", "#e8833a", "#2e9e5b", "#9b59b6", "#c0392b", "#16a085"];

    private readonly PipelineResult _result;
    private readonly string _title;
    private readonly double _axisEndMs;
    private readonly List<TimelineLane> _lanes = [];
    private readonly List<(PipelineStageTiming Stage, int Row, LabelPlace Label)> _stages = [];
    private readonly int _stageRows;
    private readonly List<(string Text, int Row, double X, string Anchor)> _markerLabels = [];
    private readonly int _markerRows;
    private readonly List<string> _caption;

    public TimelinePanel(PipelineResult result, string title, double axisEndMs, IReadOnlyList<string> modalityOrder)
    {
        _result = result;
        _title = title;
        _axisEndMs = axisEndMs;

        for (int i = 0; i < modalityOrder.Count; i++)
        {
            string modality = modalityOrder[i];
            var units = result.Units.Where(u => u.Modality == modality).OrderBy(u => u.Index).ToArray();
            var checkpoints = result.Checkpoints.Where(c => c.Modality == modality).OrderBy(c => c.AtMs).ToArray();
            if (units.Length > 0 || checkpoints.Length > 0 || result.Counts.Any(c => c.Modality == modality))
            {
                _lanes.Add(new TimelineLane(modality, ModalityColors[i % ModalityColors.Length], units, UnitSpans(units), checkpoints, X));
            }
        }

        // Gap 0: one stage starting where the previous ended shares its row.
        var stageRows = new RowPacker(PipelineTimeline.PlotLeft, PipelineTimeline.Width - 4, gap: 0);
        foreach (var stage in result.Stages.OrderBy(s => s.StartMs))
        {
            var label = LabelPlace.Choose(stageRows, X(stage.StartMs), BarEnd(stage.StartMs, stage.EndMs), StageLabel(stage), 10);
            _stages.Add((stage, label.Row, label));
        }

        _stageRows = Math.Max(1, stageRows.Count);
        PlaceMarkerLabels(out _markerRows);
        _caption = Caption();
    }

    public double Height =>
        TitleHeight + _lanes.Sum(l => l.Height + LaneGap) + (_stages.Count > 0 ? StageLaneHeight + LaneGap : 0)
        + (_markerRows * LabelRow) + 24 + (_caption.Count * CaptionLine) + 12;

    public bool HasUnits => _lanes.Count > 0;

    /// <summary>Room for the stage rows, and at least for the lane's two-line name.</summary>
    private double StageLaneHeight => Math.Max((_stageRows * StageRow) + 8, 34);

    /// <summary>Where each unit lay in time: from the end of the unit before it to the moment it was sensed.</summary>
    internal static (double StartMs, double SensedMs)[] UnitSpans(IReadOnlyList<PipelineUnitTrace> units)
    {
        // The unit interval is not in the result; the spacing of the sensed units gives it (median, so one late block
        // does not stretch every unit).
        var steps = new List<double>();
        for (int i = 1; i < units.Count; i++)
        {
            var (a, b) = (units[i - 1], units[i]);
            if (a.SensedMs > 0 && b.SensedMs > 0 && a.State != "skipped" && b.State != "skipped" && b.Index > a.Index)
            {
                steps.Add((b.SensedMs - a.SensedMs) / (b.Index - a.Index));
            }
        }

        var reference = units.FirstOrDefault(u => u.SensedMs > 0 && u.State != "skipped");
        double interval = steps.Count > 0 ? steps.Order().ElementAt(steps.Count / 2)
            : reference is not null ? reference.SensedMs / (reference.Index + 1) : 0;
        var spans = new (double, double)[units.Count];
        for (int i = 0; i < units.Count; i++)
        {
            var u = units[i];

            // A skipped unit was never sensed: it is drawn where it would have been, after the reference unit.
            double sensed = u.SensedMs > 0 ? u.SensedMs
                : reference is not null ? reference.SensedMs + ((u.Index - reference.Index) * interval)
                : (u.Index + 1) * interval;
            spans[i] = (Math.Max(0, sensed - interval), sensed);
        }

        return spans;
    }

    public void Draw(SvgWriter svg, double top)
    {
        var r = _result;
        double y = top;
        svg.Start("text").Attr("class", "run-title").Attr("x", 12).Attr("y", y + 17).Attr("font-size", 13).Attr("font-weight", "bold").Text(_title);
        svg.Start("text").Attr("x", PipelineTimeline.PlotRight).Attr("y", y + 17).Attr("text-anchor", "end").Attr("fill", "#666")
            .Text($"{r.Pipeline} · {r.Kind} · {r.Mode}");
        y += TitleHeight;

        double lanesTop = y;
        double markerTop = lanesTop + _lanes.Sum(l => l.Height + LaneGap) + (_stages.Count > 0 ? StageLaneHeight + LaneGap : 0);
        double arrowY = markerTop + (_markerRows * LabelRow) + 9;
        DrawGrid(svg, lanesTop, arrowY + 4);

        for (int i = 0; i < _lanes.Count; i++)
        {
            _lanes[i].Draw(svg, y, i % 2 == 0, CountsOf(_lanes[i]));
            y += _lanes[i].Height + LaneGap;
        }

        if (_stages.Count > 0)
        {
            DrawStages(svg, y);
        }

        DrawMarkers(svg, lanesTop, markerTop, arrowY);
        double captionTop = arrowY + 15;
        for (int i = 0; i < _caption.Count; i++)
        {
            svg.Start("text").Attr("class", "caption").Attr("x", PipelineTimeline.PlotLeft).Attr("y", captionTop + 11 + (i * CaptionLine)).Attr("fill", "#333").Text(_caption[i]);
        }
    }

    private double X(double ms) => PipelineTimeline.X(ms, _axisEndMs);

    /// <summary>A bar at least 1.5 px wide: a 2 ms encoder call in a 3 s run would otherwise vanish.</summary>
    private double BarEnd(double startMs, double endMs) => Math.Max(X(endMs), X(startMs) + 1.5);

    private void DrawGrid(SvgWriter svg, double from, double to)
    {
        var axis = PipelineTimeline.AxisFor(_axisEndMs);
        for (double t = 0; t <= axis.EndMs + (axis.StepMs / 1000); t += axis.StepMs)
        {
            svg.Start("line").Attr("class", "grid").Attr("x1", X(t)).Attr("y1", from).Attr("x2", X(t)).Attr("y2", to).Attr("stroke", "#e6e6e6").End();
        }
    }

    private ModalityCount CountsOf(TimelineLane lane) =>
        _result.Counts.FirstOrDefault(c => c.Modality == lane.Modality)
        ?? new ModalityCount(
            lane.Modality,
            lane.Units.Count(u => u.State != "skipped"),
            lane.Units.Count(u => u.State == "encoded"),
            lane.Units.Count(u => u.State == "skipped"));

    private void DrawStages(SvgWriter svg, double top)
    {
        double height = StageLaneHeight;
        svg.Start("rect").Attr("x", PipelineTimeline.PlotLeft).Attr("y", top).Attr("width", PipelineTimeline.PlotRight - PipelineTimeline.PlotLeft).Attr("height", height).Attr("fill", "#f5f2f9").End();
        svg.Start("text").Attr("x", PipelineTimeline.PlotLeft - 8).Attr("y", top + 15).Attr("text-anchor", "end").Attr("font-weight", "bold").Attr("font-size", 12).Text("stages");
        svg.Start("text").Attr("x", PipelineTimeline.PlotLeft - 8).Attr("y", top + 27).Attr("text-anchor", "end").Attr("font-size", 9.5).Attr("fill", "#555").Text("head");
        foreach (var (stage, row, label) in _stages)
        {
            double x0 = X(stage.StartMs), x1 = BarEnd(stage.StartMs, stage.EndMs), y = top + 4 + (row * StageRow);
            string tooltip = string.Create(CultureInfo.InvariantCulture, $"{stage.Name}: {stage.StartMs:0.0}–{stage.EndMs:0.0} ms ({stage.EndMs - stage.StartMs:0.0} ms)");
            svg.Start("rect").Attr("class", "stage").Attr("x", x0).Attr("y", y).Attr("width", x1 - x0).Attr("height", 13).Attr("rx", 2).Attr("fill", StageColor(stage.Name)).End(tooltip);
            svg.Start("text").Attr("x", label.X).Attr("y", y + 10).Attr("font-size", 10).Attr("text-anchor", label.Anchor).Attr("fill", label.Inside ? "#fff" : "#333").Text(StageLabel(stage));
        }
    }

    private void PlaceMarkerLabels(out int rows)
    {
        var packer = new RowPacker(4, PipelineTimeline.Width - 4);
        double xs = X(_result.SensingEndMs), xr = X(_result.ResultMs);
        string sensed = string.Create(CultureInfo.InvariantCulture, $"{(_lanes.Count > 0 ? "last unit sensed" : "input sensed")} {_result.SensingEndMs:0.#} ms");
        string result = string.Create(CultureInfo.InvariantCulture, $"result {_result.ResultMs:0.#} ms");
        foreach (var (text, x, prefersLeft) in new[] { (sensed, xs, true), (result, xr, false) })
        {
            var place = LabelPlace.Choose(packer, x, x, text, 10.5, outsideOnly: true, prefersLeft: prefersLeft);
            _markerLabels.Add((text, place.Row, place.X, place.Anchor));
        }

        rows = Math.Max(1, packer.Count);
    }

    private void DrawMarkers(SvgWriter svg, double lanesTop, double markerTop, double arrowY)
    {
        double xs = X(_result.SensingEndMs), xr = X(_result.ResultMs);
        svg.Start("line").Attr("class", "marker sensing-end").Attr("x1", xs).Attr("y1", lanesTop).Attr("x2", xs).Attr("y2", arrowY + 4)
            .Attr("stroke", "#444").Attr("stroke-width", 1.2).Attr("stroke-dasharray", "5,3").End(_markerLabels[0].Text);
        svg.Start("line").Attr("class", "marker result").Attr("x1", xr).Attr("y1", lanesTop).Attr("x2", xr).Attr("y2", arrowY + 4)
            .Attr("stroke", "#d62728").Attr("stroke-width", 1.6).End(_markerLabels[1].Text);
        foreach (var (text, row, x, anchor) in _markerLabels)
        {
            svg.Start("text").Attr("x", x).Attr("y", markerTop + ((row + 1) * LabelRow) - 3).Attr("font-size", 10.5).Attr("text-anchor", anchor)
                .Attr("fill", text.StartsWith("result", StringComparison.Ordinal) ? "#d62728" : "#444").Text(text);
        }

        // The post-sensing latency: what a user waits once the world has stopped talking.
        svg.Start("line").Attr("class", "post-sensing").Attr("x1", xs).Attr("y1", arrowY).Attr("x2", xr).Attr("y2", arrowY).Attr("stroke", "#d62728").Attr("stroke-width", 2).End();
        string post = string.Create(CultureInfo.InvariantCulture, $"post-sensing {_result.PostSensingMs:0.#} ms");
        double width = LabelPlace.TextWidth(post, 11);
        var (px, anchor2) = xr - xs >= width + 8 ? ((xs + xr) / 2, "middle")
            : xr + 6 + width <= PipelineTimeline.Width - 4 ? (xr + 6, "start") : (xs - 6, "end");
        svg.Start("text").Attr("class", "post-sensing-label").Attr("x", px).Attr("y", arrowY + (anchor2 == "middle" ? 13 : 4)).Attr("font-size", 11)
            .Attr("font-weight", "bold").Attr("fill", "#d62728").Attr("text-anchor", anchor2).Text(post);
    }

    private List<string> Caption()
    {
        var r = _result;
        var lines = new List<string>();
        string score = r.Prediction >= 0 && r.Prediction < r.Scores.Length
            ? string.Create(CultureInfo.InvariantCulture, $" (score {r.Scores[r.Prediction]:0.###})") : string.Empty;
        string cascade = r.Path is null ? string.Empty : $" · path {r.Path}";
        cascade += r.Confidence is { } confidence ? string.Create(CultureInfo.InvariantCulture, $", confidence {confidence:0.###}") : string.Empty;
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"prediction {r.Prediction}{score}{cascade} · post-sensing {r.PostSensingMs:0.#} ms"));

        if (r.Configuration is { } configuration)
        {
            string predicted = r.PredictedMs is { } ms ? string.Create(CultureInfo.InvariantCulture, $" · predicted {ms:0.#} ms") : string.Empty;
            predicted += r.WithinBudget switch { true => ", within budget", false => ", over budget", _ => string.Empty };
            lines.Add($"configuration {configuration} ({PipelineConfigurationSpec.Format(configuration)}){predicted}");
        }

        if (!string.IsNullOrWhiteSpace(r.Decision))
        {
            lines.AddRange(Wrap("optimizer: " + r.Decision, (int)((PipelineTimeline.PlotRight - PipelineTimeline.PlotLeft) / LabelPlace.TextWidth("x", 11))));
        }

        return lines;
    }

    /// <summary>Breaks text at spaces into lines of at most width characters; continuation lines are indented.</summary>
    private static List<string> Wrap(string text, int width)
    {
        var lines = new List<string>();
        string line = string.Empty;
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line);
                line = "  " + word;
            }
            else
            {
                line = line.Length == 0 ? word : line + " " + word;
            }
        }

        if (line.Length > 0)
        {
            lines.Add(line);
        }

        return lines;
    }

    private static string StageLabel(PipelineStageTiming stage) =>
        string.Create(CultureInfo.InvariantCulture, $"{stage.Name} {stage.EndMs - stage.StartMs:0.0#} ms");

    internal static string StageColor(string name) => (name.Split(':')[0].ToUpperInvariant()) switch
    {
        "AGGREGATE" => "#8e6bbf",
        "FUSION" => "#2e8f84",
        "GATE" => "#6c7a89",
        "AUTOENCODER" => "#3f8fc9",
        "LIGHT" => "#3aa06a",
        "FULL" => "#d9822b",
        "EXIT" or "EARLY-EXIT" => "#b7950b",
        _ => "#7f8c8d",
    };
}
