using EdgeRuntime.Fuzz;

// afl-fuzz runs this with no arguments and feeds one input a time through SharpFuzz's fork server;
// "replay DIR" runs every file in DIR once and fails on the first exception (the committed corpus, crash triage).
if (args is ["replay", var folder])
{
    int count = 0;
    foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
    {
        ProtocolTarget.Run(File.ReadAllBytes(file));
        count++;
    }

    Console.WriteLine($"{count} inputs replayed, none failed");
    return 0;
}

if (args.Length != 0)
{
    Console.Error.WriteLine("usage: EdgeRuntime.Fuzz            (under afl-fuzz)\n       EdgeRuntime.Fuzz replay DIR");
    return 2;
}

SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    ProtocolTarget.Run(memory.GetBuffer().AsSpan(0, (int)memory.Length));
});
return 0;
