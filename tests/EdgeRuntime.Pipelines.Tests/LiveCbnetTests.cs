using System.Runtime.InteropServices;
using EdgeRuntime.Inference.Providers;
using EdgeRuntime.Pipelines.Cbnet;
using EdgeRuntime.Protocol;
using EdgeRuntime.Store;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>CBNet on camera frames: the frame a camera takes, made grey and 28×28, runs the cascade and is kept with the result.</summary>
public sealed class LiveCbnetTests(CbnetFixture fixture) : IClassFixture<CbnetFixture>
{
    private static readonly PipelineDefinition Definition = new("look", "cbnet", "cbnet.json") { Inputs = new() { ["image"] = PipelineInput.FromSensor("cam") } };

    /// <summary>Test images 0..count-1 as a folder of PGM frames, each pixel repeated scale×scale times.</summary>
    private string Frames(LiveRig rig, int count, int scale = 1)
    {
        string folder = Directory.CreateDirectory(Path.Combine(rig.Folder, $"fashion-{scale}")).FullName;
        for (int i = 0; i < count; i++)
        {
            PgmFiles.Write(Path.Combine(folder, $"{i:000}.pgm"), 28 * scale, 28 * scale, LiveRig.Enlarge(fixture.Images.Image(i).ToArray(), 28, scale));
        }

        return folder;
    }

    private Task<CbnetPipeline> LoadAsync(LiveRig rig) =>
        CbnetPipeline.LoadAsync(Definition, CbnetFixture.ManifestPath, fixture.Invoker, [ProviderNames.Cpu], CancellationToken.None, rig.Sensors);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task A_camera_frame_is_classified_as_the_same_picture_given_as_a_file(int scale)
    {
        await using var rig = new LiveRig();
        string frames = Frames(rig, 4, scale);
        rig.AddCamera("cam", frames, hz: 20);
        var pipeline = await LoadAsync(rig);

        // Asked for before the camera starts: the first frame it takes is test image 0.
        var run = pipeline.RunAsync(new PipelineRunRequest("look") { Mode = "cascade" }, rig.Folder, CancellationToken.None);
        rig.Start();
        var live = await run;

        string file = Path.Combine(rig.Folder, "0.pgm");
        PgmFiles.Write(file, 28, 28, fixture.Images.Image(0));
        var fromFile = await pipeline.RunAsync(new PipelineRunRequest("look") { Inputs = new() { ["image"] = PipelineInput.FromPath(file) }, Mode = "cascade" }, rig.Folder, CancellationToken.None);
        Assert.Equal(fromFile.Scores, live.Scores);
        Assert.Equal(fromFile.Path, live.Path);
        Assert.Equal("cam", live.Live.Single().Sensor);

        // The frame kept is the camera's, at its own size.
        var frame = live.Frame!;
        Assert.Equal((28 * scale, 28 * scale), (frame.Width, frame.Height));
        Assert.Equal(LiveRig.Enlarge(fixture.Images.Image(0).ToArray(), 28, scale), frame.Grey);
        Assert.Null(fromFile.Frame);
    }

    [Fact]
    public async Task The_stored_result_carries_the_frame_beside_the_scores()
    {
        await using var rig = new LiveRig();
        rig.AddCamera("cam", Frames(rig, 4), hz: 20, loop: true);
        using var journal = ResultJournal.Open(new JournalOptions(Path.Combine(rig.Folder, "results")));
        var host = new PipelineHost(fixture.Invoker, rig.Folder, journal, _ => { }, rig.Sensors);
        await host.LoadAsync(Definition, CancellationToken.None);
        rig.Start();

        var response = await host.RunAsync(new PipelineRunRequest("look"), CancellationToken.None, "trigger press");
        using var reader = journal.OpenReader(0);
        Assert.True(reader.TryRead(out var record));
        var stored = ProtocolJson.Deserialize(record.Json, ProtocolJsonContext.Default.ResultEvent);
        Assert.Equal(response.Id, stored.Id);
        Assert.Equal(["scores", "frame"], stored.Outputs.Select(o => o.Name));
        var frame = stored.Outputs[1];
        Assert.Equal("uint8", frame.Dtype);
        Assert.Equal([28L, 28L], frame.Shape);
        byte[] pixels = record.Payload.AsSpan((int)frame.Offset, (int)frame.Length).ToArray();
        var scores = MemoryMarshal.Cast<byte, float>(record.Payload.AsSpan((int)stored.Outputs[0].Offset, (int)stored.Outputs[0].Length)).ToArray();
        Assert.Equal(response.Result.Scores, scores);

        // It is one of the camera's pictures, and the one the scores are for.
        int shown = Enumerable.Range(0, 4).Single(i => fixture.Images.Image(i).SequenceEqual(pixels));
        Assert.Equal((await fixture.RunAsync(shown, "cascade", gate: true)).Scores, scores);
    }

    [Fact]
    public async Task A_camera_smaller_than_the_classifiers_input_is_refused_at_load()
    {
        await using var rig = new LiveRig();
        string folder = Directory.CreateDirectory(Path.Combine(rig.Folder, "small")).FullName;
        PgmFiles.Write(Path.Combine(folder, "0.pgm"), 14, 14, new byte[14 * 14]);
        rig.AddCamera("cam", folder);
        var host = new PipelineHost(fixture.Invoker, rig.Folder, null, _ => { }, rig.Sensors);
        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => host.LoadAsync(Definition, CancellationToken.None));
        Assert.Contains("camera 'cam' takes 14x14 frames; the classifier takes 28x28 (frames are shrunk, never enlarged)", e.Message, StringComparison.Ordinal);
    }
}
