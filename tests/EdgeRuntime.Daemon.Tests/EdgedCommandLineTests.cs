namespace EdgeRuntime.Daemon.Tests;

/// <summary>edged's flags: what the integration tests, the systemd unit and the docs pass, and what a typo gets.</summary>
public sealed class EdgedCommandLineTests
{
    [Fact]
    public void The_flags_the_service_and_tests_pass_parse()
    {
        var line = CommandLine.Parse(["--config", "/etc/edgeruntime/edged.json", "--socket", "/run/e.sock", "--model-dir", "models", "-v"]);
        Assert.Equal(new CommandLine("/etc/edgeruntime/edged.json", "/run/e.sock", "models", Verbose: true, ShowHelp: false, ShowVersion: false), line);
        Assert.Equal(new CommandLine(null, null, null, false, false, false), CommandLine.Parse([]));
        Assert.True(CommandLine.Parse(["--check-kernels"]).CheckKernels);
        Assert.True(CommandLine.Parse(["--version"]).ShowVersion);
        Assert.True(CommandLine.Parse(["--verbose"]).Verbose);
        Assert.Equal("/b", CommandLine.Parse(["--socket", "/a", "--socket", "/b"]).SocketPath);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("--help", "--bogus")]
    public void Help_is_asked_for_even_on_a_bad_line(params string[] args) => Assert.True(CommandLine.Parse(args).ShowHelp);

    [Fact]
    public void The_help_describes_every_flag()
    {
        string usage = CommandLine.Usage;
        foreach (string flag in new[] { "--config", "--socket", "--model-dir", "--verbose", "--version", "--check-kernels", "--help" })
        {
            Assert.Contains(flag, usage, StringComparison.Ordinal);
        }

        Assert.Contains("$EDGED_CONFIG", usage, StringComparison.Ordinal);
        Assert.Contains("edged [options]", usage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Unknown argument '--bogus'.", "--bogus")]
    [InlineData("Unknown argument 'extra'.", "extra")]
    [InlineData("'--config'", "--config")]
    public void A_bad_flag_is_a_configuration_error_naming_it(string message, params string[] args)
    {
        var e = Assert.Throws<ConfigException>(() => CommandLine.Parse(args));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
