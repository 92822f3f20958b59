namespace EdgeRuntime.Integration.Tests;

/// <summary>One published edged shared by the tests of a class, with the add and mlp models loaded.</summary>
public sealed class SharedDaemon : IAsyncLifetime
{
    private EdgedProcess? _edged;

    internal EdgedProcess Edged => _edged ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _edged = await EdgedProcess.StartAsync(preload: """{ "name": "add", "path": "add.onnx" }, { "name": "mlp", "path": "mlp.onnx" }""");
    }

    public async Task DisposeAsync()
    {
        if (_edged is not null)
        {
            await _edged.DisposeAsync();
        }
    }
}
