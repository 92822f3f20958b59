using System.Diagnostics;
using EdgeRuntime.Inference.Paths;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Inference.Tests;

/// <summary>Where load may point the daemon: inside the model directory or an allowed root, and only at regular files.</summary>
public sealed class ModelPathsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgeruntime-paths-").FullName;

    public ModelPathsTests()
    {
        Directory.CreateDirectory(Models);
        Directory.CreateDirectory(Outside);
        SampleModelFolder.Write(Models);
        File.Copy(Path.Combine(Models, "add.onnx"), Path.Combine(Outside, "add.onnx"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Models => Path.Combine(_root, "models");

    private string Outside => Path.Combine(_root, "elsewhere");

    private static EdgeRuntimeException Refused(Action resolve) => Assert.Throws<EdgeRuntimeException>(resolve);

    [Fact]
    public void Relative_and_absolute_paths_inside_the_model_directory_resolve()
    {
        var paths = new ModelPaths(Models);
        Assert.Equal(Path.Combine(Models, "add.onnx"), paths.Resolve("add.onnx", PathTarget.File));
        Assert.Equal(Path.Combine(Models, "add.onnx"), paths.Resolve(Path.Combine(Models, "add.onnx"), PathTarget.File));
        Assert.Equal(Path.Combine(Models, "add.onnx"), paths.Resolve("./sub/../add.onnx", PathTarget.File));
    }

    [Theory]
    [InlineData("../elsewhere/add.onnx")]
    [InlineData("../elsewhere/missing.onnx")]
    [InlineData("../../../../etc/passwd")]
    public void A_relative_path_cannot_climb_out_and_the_answer_does_not_say_whether_the_target_exists(string path)
    {
        var error = Refused(() => new ModelPaths(Models).Resolve(path, PathTarget.File));
        Assert.Equal(ErrorCodes.PathNotAllowed, error.Code);
        Assert.Equal($"'{path}' leads outside the model directory '{Models}'; relative paths must stay inside it.", error.Message);
    }

    [Fact]
    public void An_absolute_path_must_lie_under_an_allowed_root()
    {
        string outside = Path.Combine(Outside, "add.onnx");
        Assert.Equal(ErrorCodes.PathNotAllowed, Refused(() => new ModelPaths(Models).Resolve(outside, PathTarget.File)).Code);
        Assert.Equal(ErrorCodes.PathNotAllowed, Refused(() => new ModelPaths(Models).Resolve("/etc/passwd", PathTarget.File)).Code);
        Assert.Equal(outside, new ModelPaths(Models, [Outside]).Resolve(outside, PathTarget.File));
    }

    [Fact]
    public void A_symlink_inside_that_leads_outside_is_refused_after_resolution()
    {
        File.CreateSymbolicLink(Path.Combine(Models, "escape.onnx"), Path.Combine(Outside, "add.onnx"));
        Directory.CreateSymbolicLink(Path.Combine(Models, "escape-dir"), Outside);
        var paths = new ModelPaths(Models);
        Assert.Equal(ErrorCodes.PathNotAllowed, Refused(() => paths.Resolve("escape.onnx", PathTarget.File)).Code);
        Assert.Equal(ErrorCodes.PathNotAllowed, Refused(() => paths.Resolve("escape-dir/add.onnx", PathTarget.File)).Code);

        // A symlink that stays inside is followed.
        File.CreateSymbolicLink(Path.Combine(Models, "alias.onnx"), Path.Combine(Models, "add.onnx"));
        Assert.Equal(Path.Combine(Models, "alias.onnx"), paths.Resolve("alias.onnx", PathTarget.File));
    }

    [Fact]
    public void A_dangling_symlink_is_model_not_found()
    {
        File.CreateSymbolicLink(Path.Combine(Models, "gone.onnx"), Path.Combine(Models, "never-there.onnx"));
        var error = Refused(() => new ModelPaths(Models).Resolve("gone.onnx", PathTarget.File));
        Assert.Equal(ErrorCodes.ModelNotFound, error.Code);
        Assert.Contains("symbolic link to something that does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_fifo_is_refused_without_blocking()
    {
        string fifo = Path.Combine(Models, "pipe.onnx");
        using (var mkfifo = Process.Start("mkfifo", fifo)!)
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var error = Refused(() => new ModelPaths(Models).Resolve("pipe.onnx", PathTarget.File));
        Assert.Equal(ErrorCodes.ModelNotFound, error.Code);
        Assert.Contains("is a FIFO, not a regular file", error.Message, StringComparison.Ordinal);

        // Through the registry, as a load request goes: answered at once, no writer needed.
        using var registry = new ModelRegistry(Models, new InferenceOptions());
        var load = await Assert.ThrowsAsync<EdgeRuntimeException>(() => registry.LoadAsync("pipe", "pipe.onnx"));
        Assert.Equal(ErrorCodes.ModelNotFound, load.Code);
    }

    [Fact]
    public void A_nul_or_an_empty_path_is_a_bad_request_and_a_folder_is_not_a_file()
    {
        var paths = new ModelPaths(Models);
        Assert.Equal(ErrorCodes.BadRequest, Refused(() => paths.Resolve("add\0.onnx", PathTarget.File)).Code);
        Assert.Equal(ErrorCodes.BadRequest, Refused(() => paths.Resolve(" ", PathTarget.File)).Code);
        Directory.CreateDirectory(Path.Combine(Models, "folder"));
        Assert.Equal(ErrorCodes.ModelNotFound, Refused(() => paths.Resolve("folder", PathTarget.File)).Code);
        Assert.Equal(Path.Combine(Models, "folder"), paths.Resolve("folder", PathTarget.Folder));
        Assert.Equal(ErrorCodes.ModelNotFound, Refused(() => paths.Resolve("add.onnx", PathTarget.Folder)).Code);
    }

    [Fact]
    public void Missing_inside_is_model_not_found()
    {
        var error = Refused(() => new ModelPaths(Models).Resolve("missing.onnx", PathTarget.File));
        Assert.Equal(ErrorCodes.ModelNotFound, error.Code);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }
}
