using EdgeRuntime.Generation.Engine;

namespace EdgeRuntime.Generation.Tests.Engine;

public sealed class StopStringFilterTests
{
    [Fact]
    public void Text_that_may_start_a_stop_string_is_held_until_it_cannot()
    {
        var filter = new StopStringFilter(["\n\nUser:"]);
        Assert.Equal("Hello", filter.Append("Hello\n", out bool stopped));
        Assert.False(stopped);
        Assert.Equal("", filter.Append("\nUs", out stopped));
        Assert.Equal("\n\nUsa", filter.Append("a", out stopped));
        Assert.False(stopped);
    }

    [Fact]
    public void A_stop_string_split_over_pieces_ends_the_text_before_it()
    {
        var filter = new StopStringFilter(["END", "##"]);
        Assert.Equal("abc", filter.Append("abcE", out bool stopped));
        Assert.False(stopped);
        Assert.Equal("EN x", filter.Append("N", out _) + filter.Append(" x", out _));
        Assert.Equal("", filter.Append("EN", out stopped));
        Assert.Equal("", filter.Append("Dtail", out stopped));
        Assert.True(stopped);
    }

    [Fact]
    public void Held_text_is_released_by_flush_when_the_run_ends_otherwise()
    {
        var filter = new StopStringFilter(["STOP"]);
        Assert.Equal("go ", filter.Append("go ST", out _));
        Assert.Equal("ST", filter.Flush());
    }
}
