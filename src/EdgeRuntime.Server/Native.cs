using System.Runtime.InteropServices;

namespace EdgeRuntime.Server;

/// <summary>The few libc calls .NET does not wrap.</summary>
internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "getuid")]
    internal static partial uint GetUid();

}
