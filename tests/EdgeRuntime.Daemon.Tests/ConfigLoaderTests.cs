namespace EdgeRuntime.Daemon.Tests;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly TempFolder _folder = new("edged-config-");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_shipped_default_configuration_loads_with_paths_made_absolute_beside_it()
    {
        string path = Path.Combine(Repository.Root, "boards", "edged.json");
        var config = ConfigLoader.Load(path);
        Assert.Equal(Path.Combine(Repository.Root, "boards", "models"), config.ModelDirectory);
        Assert.Equal(Path.Combine(Repository.Root, "boards", "results"), config.Store!.Path);
        Assert.Equal(["speech", "press", "look", "glance", "caption"], config.Triggers.Select(t => t.Name));
        Assert.Equal(["digits", "digits-live", "fashion", "fashion-live"], config.Pipelines.Select(p => p.Name));
        Assert.All(config.Sensors.Where(s => s.Path is not null), s => Assert.True(Path.IsPathRooted(s.Path)));

        // File inputs are made absolute beside the configuration; sensor inputs stay sensor names.
        Assert.Equal(Path.Combine(Repository.Root, "boards", "samples", "mmedge", "test", "0000.wav"), config.Pipelines[0].Inputs["audio"].Path);
        Assert.Equal(["digit-mic", "digit-cam"], config.Pipelines[1].Inputs.Values.Select(i => i.Sensor));
        Assert.Equal(500, config.Triggers.Single(t => t.Name == "look").PreMs);
    }

    [Theory]
    [InlineData("""{ "limits": { "queueCapacity": 0 } }""", "'limits.queueCapacity' must be at least 1")]
    [InlineData("""{ "threads": { "intraOp": 0 } }""", "'threads.intraOp' must be at least 1")]
    [InlineData("""{ "models": [ { "name": "a", "path": "a.onnx" }, { "name": "a", "path": "b.onnx" } ] }""", "'models[1].name' repeats the name 'a'")]
    [InlineData("""{ "models": [ { "name": "a", "path": "a.onnx", "providers": ["tpu"] } ] }""", "'models[0].providers' names 'tpu'")]
    [InlineData("""{ "models": [ { "name": "a", "path": "a.onnx", "maxBatch": 0 } ] }""", "'models[0].maxBatch' must be 1 (no batching) to 64")]
    [InlineData("""{ "models": [ { "name": "a", "path": "a.onnx", "batchAxes": { "x": 0 } } ] }""", "'models[0].batchAxes' needs maxBatch")]
    [InlineData("""{ "triggers": [ { "name": "t", "on": { "gpio": "b" }, "run": { "model": "m", "input": "x" } } ] }""", "'store' is needed when there are triggers")]
    [InlineData("""{ "limits": { "maxFrameBytes": 4096, "maxPendingBytes": 1024 } }""", "'limits.maxPendingBytes' must be at least limits.maxFrameBytes")]
    [InlineData("""{ "http": { "socketPath": " " } }""", "'http.socketPath' must not be empty")]
    [InlineData("""{ "http": { "port": 8080 } }""", "is not valid")]
    [InlineData("""{ "allowedInputRoots": [ "" ] }""", "'allowedInputRoots' must not contain an empty path")]
    [InlineData("""{ "limits": { "trimMemoryWhenIdleSeconds": -1 } }""", "'limits.trimMemoryWhenIdleSeconds' must be 0 (never) or more")]
    public void A_configuration_mistake_is_refused_naming_the_field(string json, string expected)
    {
        string path = _folder.File("edged.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_roots_are_taken_from_the_configuration_files_folder()
    {
        string path = _folder.File("edged.json");
        File.WriteAllText(path, """{ "allowedInputRoots": [ "recordings", "/srv/clips" ] }""");
        Assert.Equal([Path.Combine(Path.GetDirectoryName(path)!, "recordings"), "/srv/clips"], ConfigLoader.Load(path).AllowedInputRoots);
    }

    [Theory]
    [InlineData("{}", null)]
    [InlineData("""{ "http": null }""", null)]
    [InlineData("""{ "http": {} }""", null)]
    [InlineData("""{ "http": { "socketPath": "/run/edgeruntime/openai.sock" } }""", "/run/edgeruntime/openai.sock")]
    public void The_http_endpoint_is_off_unless_a_socket_path_is_given(string json, string? socketPath)
    {
        string path = _folder.File("edged.json");
        File.WriteAllText(path, json);
        Assert.Equal(socketPath, ConfigLoader.Load(path).Http?.SocketPath);
    }

    [Fact]
    public void Json_that_is_not_a_configuration_is_refused_with_the_parser_reason()
    {
        string path = _folder.File("edged.json");
        File.WriteAllText(path, """{ "limits": { "queueCapacity": "many" } }""");
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("is not valid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_named()
    {
        string path = _folder.File("nowhere.json");
        var error = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains($"'{path}' does not exist", error.Message, StringComparison.Ordinal);
    }
}
