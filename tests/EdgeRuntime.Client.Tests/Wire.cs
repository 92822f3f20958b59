using System.Runtime.InteropServices;

namespace EdgeRuntime.Client.Tests;

/// <summary>Little-endian bytes of typed values, as tensors travel in a payload (the tests run on little-endian hosts).</summary>
internal static class Wire
{
    public static byte[] Bytes<T>(params T[] values)
        where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>An event frame's JSON header: result <paramref name="id"/> of trigger "press" with the given outputs.</summary>
    public static string EventJson(long id, string outputs = "[]") =>
        $$$"""
        {"id":{{{id}}},"trigger":"press","cause":"gpio button rising","model":"mlp",
         "firedAt":"2026-11-26T10:00:00.000+00:00","storedAt":"2026-11-26T10:00:00.004+00:00","outputs":{{{outputs}}},
         "timing":{"captureUs":3100.4,"queuedUs":1.2,"inferenceUs":85.0,"storeUs":12.7,"totalUs":3215.3}}
        """;
}
