using System.Diagnostics;
using System.Globalization;
using EdgeRuntime.Transport;
using System.Text;
using EdgeRuntime.Onnx;
using EdgeRuntime.TestModels;

namespace EdgeRuntime.Integration.Tests;

/// <summary>
/// The published edged running in a fresh directory: a model directory with the sample models and Silero VAD, a
/// configuration file, and its own socket. Stop() sends SIGTERM like systemd does.
/// </summary>
internal sealed class EdgedProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private EdgedProcess(Process process, string directory, string socketPath)
    {
        _process = process;
        Directory = directory;
        SocketPath = socketPath;
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_log)
            {
                _log.AppendLine(e.Data);
            }
        };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
    }

    public string Directory { get; }

    public string SocketPath { get; }

    public string ModelDirectory => Path.Combine(Directory, "models");

    public int Pid => _process.Id;

    /// <summary>Leave the directory when disposed: another edged is started in it (restart tests).</summary>
    public bool KeepDirectory { get; set; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>True once the daemon's stderr contains <paramref name="text"/>; stderr reaches the test asynchronously.</summary>
    public async Task<bool> WaitForLogAsync(string text)
    {
        for (int i = 0; i < 250; i++)
        {
            if (Log.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            await Task.Delay(20);
        }

        return false;
    }

    /// <summary>Creates the directory and configuration (extra JSON fields merged in) without starting edged.</summary>
    public static string Prepare(string extraConfig = "", string preload = "", string extraLimits = "")
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("edged-it-").FullName;
        string models = Path.Combine(directory, "models");
        System.IO.Directory.CreateDirectory(models);
        File.WriteAllBytes(Path.Combine(models, "add.onnx"), SampleModels.AddBias());
        File.WriteAllBytes(Path.Combine(models, "mlp.onnx"), SampleModels.Mlp(64, 32, 8));
        File.WriteAllBytes(Path.Combine(models, "corrupt.onnx"), Encoding.ASCII.GetBytes("ONNX? no: a truncated, corrupt file \x08\x07\xff"));
        File.Copy(Paths.SileroVad, Path.Combine(models, "silero_vad_v5.onnx"));
        string config = $$"""
            {
              "modelDirectory": "models",
              "allowedModelRoots": [ "{{Path.Combine(Paths.RepositoryRoot, "models")}}" ],
              "allowedInputRoots": [ "{{Path.Combine(Paths.RepositoryRoot, "samples")}}", "{{Path.TrimEndingDirectorySeparator(Path.GetTempPath())}}" ],
              "models": [ {{preload}} ],
              "limits": { "maxFrameBytes": 1048576, "maxInFlightPerConnection": 32, "shutdownTimeoutSeconds": 5 {{(extraLimits.Length > 0 ? "," + extraLimits : string.Empty)}} }
              {{(extraConfig.Length > 0 ? "," + extraConfig : string.Empty)}}
            }
            """;
        File.WriteAllText(Path.Combine(directory, "edged.json"), config);
        return directory;
    }

    public static async Task<EdgedProcess> StartAsync(string extraConfig = "", string preload = "", string extraLimits = "")
    {
        string directory = Prepare(extraConfig, preload, extraLimits);
        return await StartInAsync(directory);
    }

    public static Task<EdgedProcess> StartInAsync(string directory) => StartCommandAsync(directory, Paths.Edged, [], TimeSpan.FromSeconds(30));

    /// <summary>Starts edged through a launcher (e.g. qemu-aarch64 and its options before the edged path).</summary>
    public static async Task<EdgedProcess> StartCommandAsync(string directory, string file, string[] leadingArgs, TimeSpan startTimeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        string socketPath = Path.Combine(directory, "edged.sock");
        var start = new ProcessStartInfo(file, [.. leadingArgs, "--config", Path.Combine(directory, "edged.json"), "--socket", socketPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        var edged = new EdgedProcess(process, directory, socketPath);
        var clock = Stopwatch.StartNew();
        while (!UnixSocketProbe.IsAccepting(socketPath))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"edged exited with {process.ExitCode}:\n{edged.Log}");
            }

            if (clock.Elapsed > startTimeout)
            {
                throw new TimeoutException($"edged did not listen within {startTimeout.TotalSeconds:0} s:\n{edged.Log}");
            }

            await Task.Delay(10);
        }

        return edged;
    }

    public static Process Launch(string directory, string socketPath)
    {
        var start = new ProcessStartInfo(Paths.Edged, ["--config", Path.Combine(directory, "edged.json"), "--socket", socketPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        return Process.Start(start)!;
    }

    public Task<ProcessResult> EdgectlAsync(params string[] args) => ProcessRunner.RunAsync(Paths.Edgectl, ["--socket", SocketPath, .. args]);

    public double RssMb()
    {
        string line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
    }

    /// <summary>SIGTERM, then the exit code (or -1 if it had to be killed after 20 s).</summary>
    public async Task<int> StopAsync()
    {
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }

        await ProcessRunner.RunAsync("kill", "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            return -1;
        }
    }

    public void KillHard() => _process.Kill();

    /// <summary>
    /// Waits until the process has exited and been reaped (after <see cref="KillHard"/>: the signal is delivered
    /// asynchronously, so the process may still be running, socket and all, when Kill returns).
    /// </summary>
    public async Task WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await StopAsync();
        }

        _process.Dispose();
        if (KeepDirectory)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
