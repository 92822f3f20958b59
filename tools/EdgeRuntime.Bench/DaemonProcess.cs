using System.Diagnostics;
using System.Globalization;
using EdgeRuntime.Transport;

namespace EdgeRuntime.Bench;

/// <summary>A published edged started for measurement: how long until it accepts, and how much memory it holds.</summary>
internal sealed class DaemonProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _log;

    private DaemonProcess(Process process, System.Collections.Concurrent.ConcurrentQueue<string> log, string socketPath, TimeSpan readyAfter)
    {
        _process = process;
        _log = log;
        SocketPath = socketPath;
        ReadyAfter = readyAfter;
    }

    public string SocketPath { get; }

    /// <summary>From exec to the first successful connect().</summary>
    public TimeSpan ReadyAfter { get; }

    public static DaemonProcess Start(string edged, string configPath, string socketPath)
    {
        var start = new ProcessStartInfo(edged, ["--config", configPath, "--socket", socketPath])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {edged}.");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null && log.Count < 100_000)
            {
                log.Enqueue(line.Data);
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        while (true)
        {
            if (UnixSocketProbe.IsAccepting(socketPath))
            {
                return new DaemonProcess(process, log, socketPath, clock.Elapsed);
            }

            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"edged did not start listening (exit code {(process.HasExited ? process.ExitCode : -1)}).");
            }

            Thread.SpinWait(1000);
        }
    }

    /// <summary>The daemon's log lines so far (stderr, the first 100,000).</summary>
    public IReadOnlyCollection<string> Log => _log;

    /// <summary>Resident set size from /proc, in MiB.</summary>
    public double RssMb()
    {
        foreach (string line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return double.Parse(kb, CultureInfo.InvariantCulture) / 1024;
            }
        }

        throw new InvalidOperationException("VmRSS not found.");
    }

    /// <summary>User + system CPU time the daemon has used, from /proc (clock ticks of 1/100 s, USER_HZ on Linux).</summary>
    public double CpuMs()
    {
        string stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!_process.WaitForExit(15_000))
            {
                _process.Kill();
            }
        }

        _process.Dispose();
    }
}
