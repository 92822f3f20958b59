using EdgeRuntime.Protocol;
using EdgeRuntime.Store;

namespace EdgeRuntime.Server;

/// <summary>
/// What the socket needs from the headless side of the daemon (sensors, triggers, the result store). The server does
/// not know how sensors work; the daemon hands it this. Null when the configuration has none of them.
/// </summary>
public interface IHeadlessServices
{
    /// <summary>The result store subscribers read from; null when no store is configured.</summary>
    ResultJournal? Journal { get; }

    /// <summary>Feeds a simulated sensor. Throws EdgeRuntimeException (unknown_sensor, bad_request) when it cannot.</summary>
    InjectResponse Inject(InjectRequest request);

    SensorStatus[] Sensors();

    TriggerStatus[] Triggers();

    /// <summary>Failed sensors and the like: each makes health degraded.</summary>
    string[] Problems();
}
