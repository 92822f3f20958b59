using System.Runtime.InteropServices;

namespace EdgeRuntime.Sensors.Alsa;

/// <summary>
/// The few libasound calls a capture loop needs. Iot.Device.Media's SoundDevice records to a file for a fixed time;
/// a pre-trigger buffer needs a continuous stream of small chunks, hence snd_pcm_readi directly.
/// </summary>
internal static partial class AlsaNative
{
    private const string Library = "libasound.so.2";

    public const int StreamCapture = 1;
    public const int FormatS16Le = 2;
    public const int AccessRwInterleaved = 3;

    [LibraryImport(Library, EntryPoint = "snd_pcm_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PcmOpen(out nint pcm, string name, int stream, int mode);

    [LibraryImport(Library, EntryPoint = "snd_pcm_set_params")]
    public static partial int PcmSetParams(nint pcm, int format, int access, uint channels, uint rate, int softResample, uint latencyMicroseconds);

    [LibraryImport(Library, EntryPoint = "snd_pcm_readi")]
    public static unsafe partial nint PcmReadInterleaved(nint pcm, short* buffer, nuint frames);

    /// <summary>Frames between the newest sample captured and the next one readi returns (0 or more; error below 0).</summary>
    [LibraryImport(Library, EntryPoint = "snd_pcm_delay")]
    public static partial int PcmDelay(nint pcm, out nint frames);

    [LibraryImport(Library, EntryPoint = "snd_pcm_recover")]
    public static partial int PcmRecover(nint pcm, int error, int silent);

    [LibraryImport(Library, EntryPoint = "snd_pcm_close")]
    public static partial int PcmClose(nint pcm);

    [LibraryImport(Library, EntryPoint = "snd_strerror")]
    private static partial nint StrError(int error);

    public static string Describe(int error) => Marshal.PtrToStringUTF8(StrError(error)) ?? $"error {error}";
}
