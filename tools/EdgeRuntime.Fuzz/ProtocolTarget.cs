using System.Buffers;
using EdgeRuntime.Protocol;

namespace EdgeRuntime.Fuzz;

/// <summary>
/// What edged does with bytes from a client before any model runs: split them into frames, then decode each frame's
/// JSON header as the request its type names (and, to reach every decoder from any input, as every other request too);
/// a generate request is also checked as the daemon checks it (<see cref="GenerationTarget"/>).
/// Bad input must end in a typed refusal (<see cref="EdgeRuntimeException"/>) or a frame status; any other exception
/// is a bug the fuzzer reports as a crash.
/// </summary>
public static class ProtocolTarget
{
    /// <summary>The frame limit the target parses with; small, so the fuzzer also reaches the too-large paths.</summary>
    public const long MaxFrameBytes = 64 * 1024;

    public static void Run(ReadOnlySpan<byte> input)
    {
        var buffer = new ReadOnlySequence<byte>(input.ToArray());
        while (true)
        {
            var status = FrameReader.TryReadFrame(ref buffer, MaxFrameBytes, out var frame, out var header);
            if (status != FrameStatus.Complete)
            {
                Check(status, header, buffer.Length);
                return;
            }

            byte[] json = frame.Json.ToArray();
            Decode(header.Type, json);
            foreach (var type in Decoded)
            {
                Decode(type, json);
            }
        }
    }

    private static readonly MessageType[] Decoded =
    [
        MessageType.Hello, MessageType.Models, MessageType.Load, MessageType.Unload, MessageType.Info, MessageType.Infer,
        MessageType.Subscribe, MessageType.Unsubscribe, MessageType.Inject, MessageType.PipelineLoad,
        MessageType.PipelineRun, MessageType.Generate, MessageType.Cancel,
    ];

    /// <summary>The frame reader's own promises: a too-large or malformed header is reported from the header alone.</summary>
    private static void Check(FrameStatus status, FrameHeader header, long remaining)
    {
        if (status == FrameStatus.TooLarge && header.FrameLength <= MaxFrameBytes)
        {
            throw new InvalidOperationException($"TooLarge for a frame of {header.FrameLength} bytes (limit {MaxFrameBytes})");
        }

        if (status == FrameStatus.Incomplete && remaining >= FrameHeader.Size && remaining >= header.FrameLength && header.FrameLength > 0)
        {
            throw new InvalidOperationException($"Incomplete with {remaining} bytes for a frame of {header.FrameLength}");
        }
    }

    private static void Decode(MessageType type, byte[] json)
    {
        try
        {
            switch (type)
            {
                case MessageType.Hello when json.Length > 0:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.HelloRequest).ProtocolVersions.Length;
                    break;
                case MessageType.Models or MessageType.Stats or MessageType.Health or MessageType.Pipelines:
                    BodilessRequest.Check(type, json);
                    break;
                case MessageType.Load:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.LoadRequest);
                    break;
                case MessageType.Unload or MessageType.Info:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest);
                    break;
                case MessageType.Infer:
                    Describe(ReadInfer(json));
                    break;
                case MessageType.RegionRegister or MessageType.RegionUnregister:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.NameRequest);
                    break;
                case MessageType.Subscribe:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.SubscribeRequest);
                    break;
                case MessageType.Unsubscribe:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.UnsubscribeRequest);
                    break;
                case MessageType.Inject:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InjectRequest);
                    break;
                case MessageType.PipelineLoad:
                    _ = PipelineDefinitionRules.Broken(ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.PipelineDefinition)).Count();
                    break;
                case MessageType.PipelineRun:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.PipelineRunRequest);
                    break;
                case MessageType.Generate:
                    GenerationTarget.Check(json);
                    break;
                case MessageType.Cancel:
                    _ = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.CancelRequest);
                    break;
            }
        }
        catch (EdgeRuntimeException)
        {
            // The typed refusal a client gets for bad input: the expected outcome.
        }
    }

    /// <summary>
    /// Reads an infer header as the daemon does: the hand-written reader first. Whatever it accepts, the generated
    /// reader must read the same; a difference is a crash for the fuzzer to report.
    /// </summary>
    private static InferRequest ReadInfer(byte[] json)
    {
        if (!InferRequestJson.TryParse(json, out var plain))
        {
            return ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InferRequest);
        }

        InferRequest general;
        try
        {
            general = ProtocolJson.Deserialize(json, ProtocolJsonContext.Default.InferRequest);
        }
        catch (EdgeRuntimeException e)
        {
            throw new InvalidOperationException($"The hand-written infer reader accepted a header the generated one refuses: {e.Message}");
        }

        var canonical = ProtocolJson.Serialize(general, ProtocolJsonContext.Default.InferRequest);
        if (!canonical.AsSpan().SequenceEqual(ProtocolJson.Serialize(plain, ProtocolJsonContext.Default.InferRequest)))
        {
            throw new InvalidOperationException("The hand-written infer reader read a header differently from the generated one.");
        }

        return plain;
    }

    /// <summary>What the daemon computes from an infer's descriptors before it looks at a model.</summary>
    private static void Describe(InferRequest request)
    {
        foreach (var input in request.Inputs ?? [])
        {
            if (input is null)
            {
                continue;
            }

            _ = TensorDTypes.TryParse(input.Dtype, out _);
            _ = TensorDTypes.ElementCount(input.Shape ?? []);
            _ = TensorLayout.AlignUp(Math.Max(0, input.Offset));
        }
    }
}
