using EdgeRuntime.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ServerLogLevel = EdgeRuntime.Server.LogLevel;

namespace EdgeRuntime.Http;

/// <summary>
/// The OpenAI-compatible endpoint: Kestrel on a UNIX socket of its own, answering /v1/chat/completions,
/// /v1/completions and /v1/models from the daemon's language models. docs/http.md describes what it accepts.
/// </summary>
public sealed class OpenAiHttpServer : IAsyncDisposable
{
    private readonly HttpServerOptions _options;
    private readonly IGenerationServices _generation;
    private readonly IServerLog _log;
    private readonly TimeProvider _time;
    private WebApplication? _app;

    public OpenAiHttpServer(HttpServerOptions options, IGenerationServices generation, IServerLog log, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _generation = generation;
        _log = log;
        _time = time ?? TimeProvider.System;
    }

    public string SocketPath => _options.SocketPath;

    /// <summary>Binds the socket (mode 0660) and starts answering. Throws when another live daemon owns the path.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            SocketFile.PrepareForBind(_options.SocketPath);
        }
        catch (SocketPathException e) when (e.LiveDaemon)
        {
            throw new InvalidOperationException($"Another edged is already serving HTTP on {_options.SocketPath}. Stop it first, or set http.socketPath to another path.");
        }

        var app = Build();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            File.SetUnixFileMode(_options.SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _app = app;
        _log.Write(ServerLogLevel.Notice, "http", $"OpenAI-compatible HTTP on {_options.SocketPath} (mode 0660, {_options.MaxConnections} connections, bodies up to {_options.MaxRequestBodyBytes} bytes)");
    }

    /// <summary>
    /// Stops accepting, lets running requests finish for up to the shutdown timeout, then closes their connections:
    /// a generation still streaming then sees its client gone and is cancelled. Removes the socket file.
    /// </summary>
    public async Task StopAsync()
    {
        if (_app is not { } app)
        {
            return;
        }

        _app = null;
        using (var timeout = new CancellationTokenSource(_options.ShutdownTimeout))
        {
            await app.StopAsync(timeout.Token).ConfigureAwait(false);
        }

        await app.DisposeAsync().ConfigureAwait(false);
        try
        {
            File.Delete(_options.SocketPath);
        }
        catch (IOException e)
        {
            _log.Write(ServerLogLevel.Warning, "http", $"could not remove {_options.SocketPath}: {e.Message}");
        }

        _log.Write(ServerLogLevel.Notice, "http", "stopped");
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });

        // edged's configuration file is the only configuration: without this, an environment variable such as
        // Kestrel__Endpoints__X__Url or ASPNETCORE_URLS, or an appsettings.json, could open a TCP port beside the socket.
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ServerLogProvider(_log));
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = _options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = _options.MaxConnections;
            kestrel.Limits.MaxRequestBodySize = _options.MaxRequestBodyBytes;

            // HTTP/1.1 only: what curl, httpx and the OpenAI SDKs speak over a UNIX socket, and server-sent events need.
            kestrel.ListenUnixSocket(_options.SocketPath, listen => listen.Protocols = HttpProtocols.Http1);
        });

        var app = builder.Build();
        var access = new ServerOptions { SocketPath = _options.SocketPath, AllowedUids = _options.AllowedUids, AllowedGids = _options.AllowedGids };
        app.Use(ErrorResponses.Middleware(_log));
        app.Use(new PeerCheck(access, _log).Middleware);

        // RequestDelegates, not inferred minimal-API handlers: nothing to generate or reflect over for Native AOT.
        var completions = new CompletionEndpoint(_generation, _time);
        var models = new ModelsEndpoint(_generation);
        app.MapPost("/v1/chat/completions", (RequestDelegate)completions.ChatAsync);
        app.MapPost("/v1/completions", (RequestDelegate)completions.TextAsync);
        app.MapGet("/v1/models", (RequestDelegate)models.ListAsync);
        app.MapGet("/v1/models/{**id}", (RequestDelegate)models.GetAsync);
        app.MapFallback((RequestDelegate)(context => throw new HttpApiException(
            StatusCodes.Status404NotFound,
            ErrorTypes.NotFound,
            EdgeRuntime.Protocol.ErrorCodes.BadRequest,
            $"{context.Request.Method} {context.Request.Path} is not an endpoint of edged; see POST /v1/chat/completions, POST /v1/completions, GET /v1/models.")));
        return app;
    }
}
