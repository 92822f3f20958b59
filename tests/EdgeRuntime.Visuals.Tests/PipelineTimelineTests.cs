using System.Globalization;
using System.Xml.Linq;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Visuals.Tests;

public sealed class PipelineTimelineTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    private static XDocument Render(PipelineResult result, string? title = null) => XDocument.Parse(PipelineTimeline.RenderSvg(result, title));

    private static XElement[] WithClass(XDocument document, string cls) =>
        [.. document.Descendants().Where(e => (string?)e.Attribute("class") == cls)];

    private static double Attr(XElement element, string name) => double.Parse((string)element.Attribute(name)!, CultureInfo.InvariantCulture);

    [Fact]
    public void The_picture_is_svg_with_one_encode_bar_per_encoded_unit_and_skipped_units_drawn_skipped()
    {
        var result = PipelineSamples.Pipelined(skip: true);
        var document = Render(result);

        Assert.Equal(Svg + "svg", document.Root!.Name);
        Assert.Equal("1000", (string?)document.Root.Attribute("width"));
        Assert.Equal(result.Units.Count(u => u.State == "encoded"), WithClass(document, "unit encoded").Length);
        Assert.Equal(6, WithClass(document, "unit skipped").Length);
        Assert.All(WithClass(document, "unit skipped"), e => Assert.Equal("url(#hatch)", (string?)e.Attribute("fill")));
        Assert.Equal(30, WithClass(document, "unit unused").Length);
        Assert.Equal(2, WithClass(document, "checkpoint").Length);
        Assert.Single(WithClass(document, "checkpoint skip"));
        Assert.Equal(3, WithClass(document, "stage").Length);
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "skip · p(skip) 0.93");
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value.Contains("post-sensing 6.1 ms", StringComparison.Ordinal));
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value.Contains("audio=large:100,vision=small:/2", StringComparison.Ordinal));
    }

    [Fact]
    public void Encode_bars_span_the_encoder_call_on_the_axis_scale()
    {
        var result = PipelineSamples.Pipelined();
        double end = PipelineTimeline.AxisEndMs([result]);
        var unit = result.Units.First(u => u.Modality == "audio" && u.Index == 4);
        var bar = WithClass(Render(result), "unit encoded").Single(e => e.Element(Svg + "title")!.Value.StartsWith("audio #4 ", StringComparison.Ordinal));

        Assert.Equal(PipelineTimeline.X(unit.EncodeStartMs, end), Attr(bar, "x"), 2);
        Assert.Equal(PipelineTimeline.X(unit.EncodeEndMs, end) - PipelineTimeline.X(unit.EncodeStartMs, end), Attr(bar, "width"), 2);
    }

    [Fact]
    public void Result_and_last_sensed_markers_stand_at_their_times()
    {
        var result = PipelineSamples.Sequential();
        double end = PipelineTimeline.AxisEndMs([result]);
        var document = Render(result);
        var sensed = WithClass(document, "marker sensing-end").Single();
        var done = WithClass(document, "marker result").Single();

        Assert.Equal(2500, end);
        Assert.Equal(PipelineTimeline.X(2000, end), Attr(sensed, "x1"), 2);
        Assert.Equal(PipelineTimeline.PlotLeft + (2000 / 2500.0 * (PipelineTimeline.PlotRight - PipelineTimeline.PlotLeft)), Attr(sensed, "x1"), 2);
        Assert.Equal(PipelineTimeline.X(result.ResultMs, end), Attr(done, "x1"), 2);
        Assert.Equal(Attr(done, "x1"), Attr(done, "x2"), 2);

        // The post-sensing arrow runs between the two markers.
        var arrow = WithClass(document, "post-sensing").Single();
        Assert.Equal(Attr(sensed, "x1"), Attr(arrow, "x1"), 2);
        Assert.Equal(Attr(done, "x1"), Attr(arrow, "x2"), 2);
    }

    [Fact]
    public void Several_runs_share_one_axis()
    {
        var sequential = PipelineSamples.Sequential();
        var pipelined = PipelineSamples.Pipelined();
        var skipping = PipelineSamples.Pipelined(skip: true);
        var document = XDocument.Parse(PipelineTimeline.RenderSvg([("sequential", sequential), ("pipelined", pipelined), ("pipelined + skip", skipping)]));
        double end = PipelineTimeline.AxisEndMs([sequential, pipelined, skipping]);

        // One axis, its ticks every 500 ms up to the end the slowest run needs.
        Assert.Single(WithClass(document, "axis"));
        Assert.Equal(["0", "500", "1000", "1500", "2000", "2500"], WithClass(document, "tick-label").Select(t => t.Value));
        var results = WithClass(document, "marker result");
        Assert.Equal(3, results.Length);
        Assert.Equal(PipelineTimeline.X(sequential.ResultMs, end), Attr(results[0], "x1"), 2);
        Assert.Equal(PipelineTimeline.X(pipelined.ResultMs, end), Attr(results[1], "x1"), 2);
        Assert.Equal(PipelineTimeline.X(skipping.ResultMs, end), Attr(results[2], "x1"), 2);
        Assert.True(Attr(results[0], "x1") > Attr(results[1], "x1") + 50, "sequential answers visibly later than pipelined");
        Assert.All(WithClass(document, "marker sensing-end"), m => Assert.Equal(PipelineTimeline.X(2000, end), Attr(m, "x1"), 2));

        // Panels go down the page in the order given.
        var titles = WithClass(document, "run-title");
        Assert.Equal(["sequential", "pipelined", "pipelined + skip"], titles.Select(t => t.Value));
        Assert.True(Attr(titles[0], "y") < Attr(titles[1], "y") && Attr(titles[1], "y") < Attr(titles[2], "y"));
    }

    [Fact]
    public void A_short_run_stretches_to_the_longest_on_a_shared_axis()
    {
        var cascade = PipelineSamples.Cascade();
        var alone = WithClass(Render(cascade), "marker result").Single();
        var beside = WithClass(XDocument.Parse(PipelineTimeline.RenderSvg([("cascade", cascade), ("pipelined", PipelineSamples.Pipelined())])), "marker result")[0];

        Assert.Equal(PipelineTimeline.X(3.4, 3.5), Attr(alone, "x1"), 2);
        Assert.True(Attr(beside, "x1") < Attr(alone, "x1") - 500);
    }

    [Fact]
    public void Text_is_escaped()
    {
        var result = PipelineSamples.Build("pipelined", skip: false, pipeline: "a<b>&\"c'\u0001");
        string svg = PipelineTimeline.RenderSvg(result with { Decision = "<script>alert(1)</script> & more" }, "run <1> & \"2\"");
        var document = XDocument.Parse(svg);

        Assert.DoesNotContain("<script>", svg, StringComparison.Ordinal);
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "run <1> & \"2\"");
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value.StartsWith("a<b>&\"c'\uFFFD", StringComparison.Ordinal));
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value.Contains("<script>alert(1)</script>", StringComparison.Ordinal));
    }

    [Fact]
    public void Numbers_use_the_invariant_culture()
    {
        var previous = CultureInfo.CurrentCulture;
        try
        {
            // Boards run with invariant globalization, so no named culture exists; a comma-decimal one is made by hand.
            var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            comma.NumberFormat.NumberDecimalSeparator = ",";
            CultureInfo.CurrentCulture = comma;
            var document = Render(PipelineSamples.Pipelined());
            Assert.All(WithClass(document, "unit encoded"), e => Assert.DoesNotContain(",", (string)e.Attribute("x")!, StringComparison.Ordinal));
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void A_cascade_has_no_unit_lanes_only_stages_and_its_path_in_the_caption()
    {
        var document = Render(PipelineSamples.Cascade());

        Assert.Empty(WithClass(document, "unit encoded"));
        Assert.Empty(WithClass(document, "unit skipped"));
        Assert.Equal(3, WithClass(document, "stage").Length);
        Assert.Contains(WithClass(document, "caption"), t => t.Value.Contains("path cascade, confidence 0.96", StringComparison.Ordinal));
        Assert.Equal(["0", "0.5", "1", "1.5", "2", "2.5", "3", "3.5"], WithClass(document, "tick-label").Select(t => t.Value));
        Assert.DoesNotContain(document.Descendants(Svg + "text"), t => t.Value.StartsWith("skipped: not sensed", StringComparison.Ordinal));
    }

    [Fact]
    public void Dropped_units_are_sensed_but_have_no_encode_bar()
    {
        var result = PipelineSamples.Pipelined(skip: true);
        var units = result.Units.Select(u => u.Modality == "audio" && u.Index == 13 ? u with { State = "dropped", EncodeStartMs = 0, EncodeEndMs = 0 } : u).ToArray();
        var document = Render(result with { Units = units });

        Assert.Single(WithClass(document, "unit dropped"));
        Assert.Equal(units.Count(u => u.State == "encoded"), WithClass(document, "unit encoded").Length);
    }

    [Fact]
    public void A_result_whose_json_omits_the_arrays_still_draws()
    {
        var result = ProtocolJson.Deserialize("""{"pipeline":"digits","kind":"cbnet","mode":"full","prediction":2,"scores":[0.1,0.2,0.7],"resultMs":4}"""u8, ProtocolJsonContext.Default.PipelineResult);
        var document = Render(result);

        Assert.Single(WithClass(document, "marker result"));
        Assert.Empty(WithClass(document, "stage"));
        Assert.Contains(WithClass(document, "caption"), t => t.Value.StartsWith("prediction 2 (score 0.7)", StringComparison.Ordinal));
    }

    [Fact]
    public void An_empty_result_still_draws()
    {
        var document = Render(new PipelineResult("p", "mmedge", "pipelined", 0, []));
        Assert.Single(WithClass(document, "marker result"));
        Assert.Throws<ArgumentException>(() => PipelineTimeline.RenderSvg([]));
    }
}
