using System.Globalization;
using EdgeRuntime.Pipelines.Live;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Pipelines;

/// <summary>The inputs of one run: the definition's defaults, each replaced by the request's input of that name.</summary>
public static class PipelineInputs
{
    /// <summary>
    /// Merged by name, so <c>edgectl run digits --input vision=frames/</c> keeps the configured audio: a request that
    /// names one input should not have to repeat the others.
    /// </summary>
    public static Dictionary<string, PipelineInput> For(PipelineDefinition definition, PipelineRunRequest request)
    {
        var inputs = new Dictionary<string, PipelineInput>(definition.Inputs, StringComparer.Ordinal);
        foreach (var (name, input) in request.Inputs ?? [])
        {
            inputs[name] = input;
        }

        return inputs;
    }

    /// <summary>
    /// Where a run with these inputs starts, or null when none is live. A live run needs the daemon's sensors, the
    /// real-time clock and sensors that keep the pre-window; --live insists every input is a sensor.
    /// </summary>
    public static LiveStart? Start(string pipeline, IReadOnlyDictionary<string, PipelineInput> inputs, PipelineRunRequest request, string clock, LiveSensors? sensors, long? firedAt)
    {
        var live = inputs.Where(i => i.Value.IsLive).ToArray();
        if (request.Live == true && live.Length < inputs.Count)
        {
            var file = inputs.First(i => !i.Value.IsLive);
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{pipeline}': a live run reads every input from a sensor; '{file.Key}' is the file {file.Value}.");
        }

        double preMs = request.PreMs ?? 0;
        if (live.Length == 0)
        {
            return request.PreMs is null ? null : throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{pipeline}': a pre-window (preMs) needs an input that names a sensor; its inputs are files.");
        }

        if (!(preMs >= 0 && double.IsFinite(preMs)))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, string.Create(CultureInfo.InvariantCulture, $"Pipeline '{pipeline}': preMs is {preMs}; it must be 0 or more."));
        }

        if (clock != "realtime")
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{pipeline}': live input arrives at the sensors' pace; clock '{clock}' applies only to replayed files.");
        }

        if (sensors is null)
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, $"Pipeline '{pipeline}': input '{live[0].Key}' names sensor '{live[0].Value.Sensor}', and this daemon has no sensors.");
        }

        foreach (var (name, input) in live)
        {
            sensors.CheckHistory(name, input.Sensor!, preMs);
        }

        return sensors.Start(firedAt, preMs);
    }
}
