using EdgeRuntime.Cli;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Cli.Tests;

/// <summary>What edgectl watch prints for one stored result.</summary>
public sealed class WatchLineTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_caption_result_shows_its_text_and_a_failed_one_its_error()
    {
        var captioned = new ResultEvent(7, "door-camera", "gpio door rising", "vlm-fashion", At, At, [], new ResultTiming(33300, 2, 140300, 12, 173700))
        {
            Caption = new CaptionResult("a dark sneaker", 4, 61.2, 140.3),
        };

        string line = WatchCommand.Describe(captioned);
        Assert.StartsWith(WatchCommand.EventPrefix(captioned), line, StringComparison.Ordinal);
        Assert.EndsWith("gpio door rising  vlm-fashion: \"a dark sneaker\" (4 tokens, first after 61.2 ms)  [173.7 ms: window 33.3, model 140.3, store 0.0]", line, StringComparison.Ordinal);

        string failed = WatchCommand.Describe(captioned with { Caption = null, Error = "Model 'vlm-fashion' is not loaded." });
        Assert.Contains("vlm-fashion: error: Model 'vlm-fashion' is not loaded.", failed, StringComparison.Ordinal);
    }
}
