namespace EdgeRuntime.Daemon;

/// <summary>edged's flags. Flags override the configuration file.</summary>
internal sealed record CommandLine(string? ConfigPath, string? SocketPath, string? ModelDirectory, bool Verbose, bool ShowHelp, bool ShowVersion, bool CheckKernels = false)
{
    public const string Usage = """
        Usage: edged [--config FILE] [--socket PATH] [--model-dir DIR] [--verbose]

          --config FILE     configuration (default: $EDGED_CONFIG, edged.json beside edged, /etc/edgeruntime/edged.json)
          --socket PATH     UNIX socket to listen on (default: $EDGED_SOCKET, $RUNTIME_DIRECTORY/edged.sock,
                            $XDG_RUNTIME_DIR/edgeruntime/edged.sock, ./run/edged.sock)
          --model-dir DIR   where relative model paths are found
          --verbose         debug logging
          --version         print the version and exit
          --check-kernels   run every C# kernel on every SIMD path this CPU has against its scalar reference, print
                            the result and exit (0: all agree, 1: a path disagrees)
        """;

    public static CommandLine Parse(string[] args)
    {
        string? config = null, socket = null, modelDir = null;
        bool verbose = false, help = false, version = false, checkKernels = false;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new ConfigException($"{arg} needs a value.");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--config": config = Value(); break;
                case "--socket": socket = Value(); break;
                case "--model-dir": modelDir = Value(); break;
                case "--verbose" or "-v": verbose = true; break;
                case "--help" or "-h": help = true; break;
                case "--version": version = true; break;
                case "--check-kernels": checkKernels = true; break;
                default: throw new ConfigException($"Unknown argument '{arg}'.");
            }
        }

        return new CommandLine(config, socket, modelDir, verbose, help, version, checkKernels);
    }
}
