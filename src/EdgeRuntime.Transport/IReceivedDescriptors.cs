namespace EdgeRuntime.Transport;

/// <summary>File descriptors that arrived on a stream, each tied to the stream position of the bytes it came with.</summary>
public interface IReceivedDescriptors
{
    /// <summary>
    /// The descriptors that came with the bytes in [<paramref name="frameStart"/>, <paramref name="frameEnd"/>) of
    /// the stream; the caller owns (and closes) them. Descriptors from before <paramref name="frameStart"/> that
    /// nobody took are closed here: the frames they came with are past.
    /// </summary>
    int[] Take(long frameStart, long frameEnd);
}
