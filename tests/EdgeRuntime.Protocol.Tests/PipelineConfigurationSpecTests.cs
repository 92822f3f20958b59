using EdgeRuntime.Protocol;

namespace EdgeRuntime.Protocol.Tests;

public sealed class PipelineConfigurationSpecTests
{
    [Fact]
    public void Unit_lengths_and_strides_become_modality_choices()
    {
        var configuration = PipelineConfigurationSpec.Parse("audio=large:100,vision=small:/2");

        Assert.Equal([new ModalityChoice("audio", "large", 100, 1), new ModalityChoice("vision", "small", 0, 2)], configuration.Modalities);
    }

    [Theory]
    [InlineData(" audio = small : 62.5 ", "audio", "small", 62.5, 1)]
    [InlineData("audio=large:100ms", "audio", "large", 100, 1)]
    [InlineData("vision=large:/1", "vision", "large", 0, 1)]
    [InlineData("imu=tiny:/10", "imu", "tiny", 0, 10)]
    public void Spaces_an_ms_suffix_and_any_modality_are_accepted(string spec, string modality, string encoder, double unitMs, int stride) =>
        Assert.Equal(new ModalityChoice(modality, encoder, unitMs, stride), PipelineConfigurationSpec.Parse(spec).Modalities.Single());

    [Theory]
    [InlineData("")]
    [InlineData("audio")]
    [InlineData("audio=large")]
    [InlineData("audio=large:")]
    [InlineData("=large:100")]
    [InlineData("audio=:100")]
    [InlineData("audio=large:0")]
    [InlineData("audio=large:-5")]
    [InlineData("audio=large:fast")]
    [InlineData("audio=large:1e3")]
    [InlineData("vision=small:/0")]
    [InlineData("vision=small:/1.5")]
    [InlineData("vision=small:/")]
    [InlineData("audio=large:100,")]
    [InlineData("audio=large:100;vision=small:/2")]
    [InlineData("audio=large:100,audio=small:50")]
    public void Bad_specs_are_refused_with_a_message(string spec)
    {
        var error = Assert.Throws<FormatException>(() => PipelineConfigurationSpec.Parse(spec));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void Format_gives_back_a_spec_that_parses_to_the_same_configuration()
    {
        var configuration = new PipelineConfiguration([new ModalityChoice("audio", "small", 62.5, 1), new ModalityChoice("vision", "large", 0, 2)]);

        string spec = PipelineConfigurationSpec.Format(configuration);

        Assert.Equal("audio=small:62.5,vision=large:/2", spec);
        Assert.Equal(configuration.Modalities, PipelineConfigurationSpec.Parse(spec).Modalities);
    }
}
