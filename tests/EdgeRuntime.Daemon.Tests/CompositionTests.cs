using EdgeRuntime.Inference;
using EdgeRuntime.Triggers;

namespace EdgeRuntime.Daemon.Tests;

/// <summary>
/// The pieces edged's composition root puts together: the store it opens first, handed to the sensors and triggers,
/// and outliving them. (The order itself is Program.cs's; the published binary's start and stop are the integration
/// suite's.)
/// </summary>
public sealed class CompositionTests : IDisposable
{
    private readonly TempFolder _folder = new("edged-compose-");
    private readonly ModelRegistry _registry;
    private readonly InferenceScheduler _queue;

    public CompositionTests()
    {
        var options = new InferenceOptions { Workers = 1 };
        _registry = new ModelRegistry(_folder.Path, options);
        _queue = new InferenceScheduler(options);
    }

    public void Dispose()
    {
        _queue.Dispose();
        _registry.Dispose();
        _folder.Dispose();
    }

    private DaemonConfig Load(string json)
    {
        string path = _folder.File("edged.json");
        File.WriteAllText(path, json);
        return ConfigLoader.Load(path);
    }

    private HeadlessRuntime Create(DaemonConfig config, EdgeRuntime.Store.ResultJournal? journal, IFrameCaptioner? captioner = null) =>
        HeadlessRuntime.Create(config, gpio: null, new WindowModelRunner(_registry, _queue), workers: 1, journal, _ => { }, TimeProvider.System, captioner: captioner);

    [Fact]
    public async Task The_store_is_opened_first_shared_with_the_headless_side_and_outlives_it()
    {
        var config = Load("""
            {
              "store": { "path": "results", "maxMiB": 1, "segmentKiB": 64 },
              "sensors": [ { "name": "button", "type": "gpio", "pin": 17, "edge": "rising", "simulated": true } ],
              "triggers": [ { "name": "press", "on": { "gpio": "button" }, "pipeline": "digits" } ]
            }
            """);
        using var journal = HeadlessRuntime.OpenStore(config, _ => { }, TimeProvider.System);
        Assert.NotNull(journal);
        Assert.Equal(_folder.File("results"), journal.Directory);

        var headless = Create(config, journal);
        Assert.Same(journal, headless.Journal);
        Assert.False(headless.IsEmpty);
        Assert.Equal(["press"], headless.Triggers().Select(t => t.Name));
        Assert.Equal([("press", "digits")], headless.PipelineTriggers);

        // The headless side stops its triggers and sensors, not the store: the server still reads it after.
        await headless.DisposeAsync();
        var commit = await journal.AppendAsync("after", (id, at) => "{}"u8.ToArray(), ReadOnlyMemory<byte>.Empty);
        Assert.Equal(journal.LastId, commit.Id);
    }

    [Fact]
    public void No_store_configured_opens_none()
    {
        var config = Load("""{ }""");
        Assert.Null(HeadlessRuntime.OpenStore(config, _ => { }, TimeProvider.System));
    }

    [Fact]
    public void A_trigger_on_a_sensor_that_does_not_exist_is_refused_naming_both()
    {
        var config = Load("""
            {
              "store": { "path": "results" },
              "triggers": [ { "name": "press", "on": { "gpio": "nosuch" }, "pipeline": "digits" } ]
            }
            """);
        using var journal = HeadlessRuntime.OpenStore(config, _ => { }, TimeProvider.System);
        var error = Assert.Throws<ArgumentException>(() => Create(config, journal));
        Assert.Contains("press", error.Message, StringComparison.Ordinal);
        Assert.Contains("nosuch", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caption_trigger_reads_from_the_configuration_and_needs_a_captioner()
    {
        string frames = Directory.CreateDirectory(_folder.File("frames")).FullName;
        File.WriteAllBytes(Path.Combine(frames, "000.pgm"), [.. "P5\n2 2\n255\n"u8, 0, 64, 128, 255]);
        var config = Load("""
            {
              "store": { "path": "results" },
              "sensors": [
                { "name": "door", "type": "gpio", "pin": 17, "simulated": true },
                { "name": "camera", "type": "images", "path": "frames", "sampleHz": 2, "bufferMs": 1000 }
              ],
              "triggers": [ { "name": "door-camera", "on": { "gpio": "door" },
                              "caption": { "model": "vlm-fashion", "sensor": "camera", "maxTokens": 12 } } ]
            }
            """);
        var caption = Assert.Single(config.Triggers).Caption!;
        Assert.Equal(("vlm-fashion", "camera", 12), (caption.Model, caption.Sensor, caption.MaxTokens));
        using var journal = HeadlessRuntime.OpenStore(config, _ => { }, TimeProvider.System);

        var refused = Assert.Throws<ArgumentException>(() => Create(config, journal));
        Assert.Contains("door-camera", refused.Message, StringComparison.Ordinal);
        await using var headless = Create(config, journal, new NoCaptions());
        Assert.Equal(["door-camera"], headless.Triggers().Select(t => t.Name));
    }

    private sealed class NoCaptions : IFrameCaptioner
    {
        public Task<FrameCaption> CaptionAsync(string model, float[] frame, int height, int width, int maxTokens, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("not used: nothing fires in this test");
    }
}
