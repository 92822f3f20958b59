namespace EdgeRuntime.Protocol;

/// <summary>The machine-readable codes of <see cref="ErrorResponse"/>. Clients switch on these; messages are for people.</summary>
public static class ErrorCodes
{
    /// <summary>The JSON header is missing, malformed, or lacks a required field.</summary>
    public const string BadRequest = "bad_request";

    /// <summary>The message type is not one this daemon knows.</summary>
    public const string UnknownMessage = "unknown_message";

    /// <summary>The frame is larger than the daemon's max frame size. The frame is skipped; the connection stays open.</summary>
    public const string FrameTooLarge = "frame_too_large";

    /// <summary>A frame did not arrive whole within limits.frameTimeoutSeconds of its first byte. The connection is closed.</summary>
    public const string FrameTimeout = "frame_timeout";

    /// <summary>
    /// A model, manifest or folder path leads outside the model directory or the allowed roots (decided from the path's
    /// text and, after symlinks are resolved, from where it really leads).
    /// </summary>
    public const string PathNotAllowed = "path_not_allowed";

    /// <summary>The byte stream is not protocol frames. The daemon closes the connection after sending this.</summary>
    public const string BadFrame = "bad_frame";

    /// <summary>The frame's protocol version is not spoken here. The connection is closed.</summary>
    public const string UnsupportedVersion = "unsupported_version";

    /// <summary>The peer's uid/gid is not in the daemon's allowed lists. The connection is closed.</summary>
    public const string PeerNotAllowed = "peer_not_allowed";

    public const string UnknownModel = "unknown_model";

    public const string ModelExists = "model_exists";

    /// <summary>The model file does not exist or cannot be read.</summary>
    public const string ModelNotFound = "model_not_found";

    /// <summary>ONNX Runtime refused the model (corrupt file, unsupported op, not ONNX).</summary>
    public const string ModelLoadFailed = "model_load_failed";

    /// <summary>A provider the model requires (onMissingProvider: fail) is not in this ONNX Runtime build or has no device.</summary>
    public const string ProviderUnavailable = "provider_unavailable";

    /// <summary>Loading the model would take the daemon past the board's memory budget.</summary>
    public const string MemoryBudgetExceeded = "memory_budget_exceeded";

    /// <summary>An input tensor does not match the model: name, dtype, rank, a fixed dimension, or byte length.</summary>
    public const string InvalidInput = "invalid_input";

    /// <summary>ONNX Runtime failed while running a valid request.</summary>
    public const string InferenceFailed = "inference_failed";

    /// <summary>The daemon is stopping and takes no new work.</summary>
    public const string ShuttingDown = "shutting_down";

    /// <summary>Too many connections: the daemon's max connections is reached.</summary>
    public const string Busy = "busy";

    public const string Internal = "internal";

    /// <summary>region-register on a daemon whose configuration does not set sharedMemory.enabled.</summary>
    public const string SharedMemoryDisabled = "shared_memory_disabled";

    /// <summary>region-register refused: no or several descriptors, not a sealed memfd, a bad size or name, or the limit reached.</summary>
    public const string RegionInvalid = "region_invalid";

    /// <summary>A request names a region this connection has not registered.</summary>
    public const string UnknownRegion = "unknown_region";

    /// <summary>A range lies beyond its region, an offset is unaligned, or the outputs exceed the output range.</summary>
    public const string RegionOutOfBounds = "region_out_of_bounds";

    /// <summary>inject named no configured sensor, or one that is not simulated.</summary>
    public const string UnknownSensor = "unknown_sensor";

    /// <summary>A pipeline request named no pipeline the daemon has.</summary>
    public const string UnknownPipeline = "unknown_pipeline";

    /// <summary>A generate request would not fit the model's context (or the session's cache): prompt plus maxTokens.</summary>
    public const string ContextOverflow = "context_overflow";

    /// <summary>A generate named a session id the daemon does not hold (never created, ended, or evicted).</summary>
    public const string UnknownSession = "unknown_session";

    /// <summary>A session is already generating for another request; one turn at a time per session.</summary>
    public const string SessionBusy = "session_busy";

    /// <summary>A sampling option is outside its range (negative temperature, top-p outside (0, 1], ...).</summary>
    public const string InvalidSampling = "invalid_sampling";

    /// <summary>The prompt or a chat message is not valid UTF-8, is empty, or names an unknown role.</summary>
    public const string InvalidPrompt = "invalid_prompt";

    /// <summary>
    /// A generate request's image cannot be used: the model has no vision encoder, or the image is of the wrong size or
    /// element type, or its bytes do not match its shape, or it comes on a turn that continues a session.
    /// </summary>
    public const string InvalidImage = "invalid_image";

    /// <summary>generate on a tensor model, or infer on a language model.</summary>
    public const string WrongModelKind = "wrong_model_kind";

    /// <summary>A model folder is inconsistent: corrupt or truncated weights, a tokenizer that does not match the vocabulary.</summary>
    public const string ModelInvalid = "model_invalid";

    /// <summary>
    /// A live pipeline run lost its sensor: the sensor failed, stopped (its recording ended) or delivered nothing for
    /// longer than the run could wait. The run's result is stored with this code; health shows the sensor.
    /// </summary>
    public const string SensorFailed = "sensor_failed";

    /// <summary>A live pipeline run fell behind its sensor: the ring overwrote samples the run had not read yet.</summary>
    public const string SensorOverrun = "sensor_overrun";
}
