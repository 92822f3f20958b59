using System.Diagnostics;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines.Tests;

/// <summary>
/// Replay files a run names are read by the daemon for whoever asked, so they follow the model-path rules: inside the
/// input directory or under an allowed root, symbolic links resolved, and only regular files or folders.
/// </summary>
public sealed class PipelineInputPathTests(CbnetFixture fixture) : IClassFixture<CbnetFixture>, IDisposable
{
    private static readonly PipelineDefinition Definition = new("look", "cbnet", "cbnet.json");
    private readonly string _inputs = Directory.CreateTempSubdirectory("pipeline-inputs-").FullName;
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("pipeline-elsewhere-").FullName;

    public void Dispose()
    {
        Directory.Delete(_inputs, recursive: true);
        Directory.Delete(_elsewhere, recursive: true);
    }

    private string Picture(string folder, string name)
    {
        string path = Path.Combine(folder, name);
        PgmFiles.Write(path, 28, 28, fixture.Images.Image(0));
        return path;
    }

    private async Task<PipelineHost> HostAsync(params string[] roots)
    {
        var host = new PipelineHost(fixture.Invoker, _inputs, null, _ => { }, null, roots);
        await host.LoadAsync(Definition, CancellationToken.None);
        return host;
    }

    private static Task<PipelineRunResponse> RunAsync(PipelineHost host, string image) =>
        host.RunAsync(new PipelineRunRequest("look") { Inputs = new() { ["image"] = PipelineInput.FromPath(image) }, Mode = "cascade" }, CancellationToken.None);

    [Fact]
    public async Task A_file_in_the_input_directory_runs_by_relative_or_absolute_path()
    {
        await using var host = await HostAsync();
        string picture = Picture(_inputs, "0.pgm");
        var relative = await RunAsync(host, "0.pgm");
        var absolute = await RunAsync(host, picture);
        Assert.Equal(absolute.Result.Scores, relative.Result.Scores);
    }

    [Fact]
    public async Task A_file_outside_every_root_is_refused_and_the_refusal_names_the_input()
    {
        await using var host = await HostAsync();
        string outside = Picture(_elsewhere, "0.pgm");
        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => RunAsync(host, outside));
        Assert.Equal(ErrorCodes.PathNotAllowed, e.Code);
        Assert.StartsWith("Pipeline 'look', input 'image': ", e.Message, StringComparison.Ordinal);
        Assert.Contains("allowedInputRoots", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => RunAsync(host, Path.Combine("..", Path.GetFileName(_elsewhere), "0.pgm")));
        Assert.Equal(ErrorCodes.PathNotAllowed, e.Code);
    }

    [Fact]
    public async Task A_folder_added_as_an_input_root_may_be_named()
    {
        await using var host = await HostAsync(_elsewhere);
        var run = await RunAsync(host, Picture(_elsewhere, "0.pgm"));
        Assert.NotEmpty(run.Result.Scores);
    }

    [Fact]
    public async Task A_symbolic_link_in_the_input_directory_may_not_lead_outside()
    {
        await using var host = await HostAsync();
        File.CreateSymbolicLink(Path.Combine(_inputs, "link.pgm"), Picture(_elsewhere, "0.pgm"));
        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => RunAsync(host, "link.pgm"));
        Assert.Equal(ErrorCodes.PathNotAllowed, e.Code);
        Assert.Contains("symbolic link", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_being_opened_and_a_missing_file_is_invalid_input()
    {
        await using var host = await HostAsync();
        string fifo = Path.Combine(_inputs, "frames.pgm");
        using (var mkfifo = Process.Start("mkfifo", fifo)!)
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // Opening a FIFO for reading waits for a writer: the refusal must come without that wait (on a thread of its
        // own, so that a run that does open it fails here after 10 s instead of hanging the test run).
        var e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => Task.Run(() => RunAsync(host, "frames.pgm")).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(ErrorCodes.InvalidInput, e.Code);
        Assert.Contains("is a FIFO", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<EdgeRuntimeException>(() => RunAsync(host, "missing.pgm"));
        Assert.Equal(ErrorCodes.InvalidInput, e.Code);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }
}
