namespace EdgeRuntime.Inference;

/// <summary>The daemon's own resident memory, from /proc, for the board's memory budget.</summary>
public static class ProcessMemory
{
    public static long ResidentBytes()
    {
        try
        {
            // statm: size resident shared text lib data dt, in pages.
            string[] fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }
}
