namespace EdgeRuntime.Convert.Tests;

/// <summary>Runs <c>edge-convert import</c> in process and returns its exit code and what it printed.</summary>
internal static class ImportRun
{
    public static (int Code, string Output, string Error) Run(string input, string output, params string[] options)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = ImportCommand.Run([input, output, .. options], stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
