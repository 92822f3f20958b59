using EdgeRuntime.Protocol;

namespace EdgeRuntime.Inference.Paths;

/// <summary>What a resolved path must name.</summary>
public enum PathTarget
{
    File,
    Folder,
    FileOrFolder,
}

/// <summary>
/// Where a client may point the daemon. A relative path resolves inside the model directory and may not leave it; an
/// absolute path must lie under an allowed root (by default only the model directory). Both rules are checked on the
/// path's text first (so a refusal says nothing about what exists elsewhere) and again after every symlink is
/// resolved. Only regular files (and folders, where a folder is meant) are accepted, so a FIFO or a device never
/// reaches an open call that could block or misbehave.
/// </summary>
public sealed class ModelPaths
{
    private readonly string[] _roots;
    private readonly PathWording _wording;

    /// <param name="modelDirectory">What relative paths resolve against (for pipeline inputs, their input directory).</param>
    public ModelPaths(string modelDirectory, IEnumerable<string>? allowedRoots = null, PathWording? wording = null)
    {
        ModelDirectory = Normalise(modelDirectory);
        _roots = [ModelDirectory, .. (allowedRoots ?? []).Select(Normalise).Where(r => r != ModelDirectory).Distinct(StringComparer.Ordinal)];
        _wording = wording ?? PathWording.Models;
    }

    public string ModelDirectory { get; }

    /// <summary>The folders absolute paths may lie under: the model directory, then the configured roots.</summary>
    public IReadOnlyList<string> Roots => _roots;

    /// <summary>
    /// The full path <paramref name="path"/> names, once it has passed every rule. Throws bad_request for an empty path
    /// or one with a NUL, path_not_allowed when it leads outside, model_not_found when it names nothing (a dangling
    /// symlink included) or the wrong kind of file.
    /// </summary>
    public string Resolve(string? path, PathTarget target)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, "The path is empty.");
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new EdgeRuntimeException(ErrorCodes.BadRequest, "The path contains a NUL character.");
        }

        bool relative = !Path.IsPathRooted(path);
        string full = Path.GetFullPath(relative ? Path.Combine(ModelDirectory, path) : path);
        if (relative ? !IsUnder(full, ModelDirectory) : !_roots.Any(root => IsUnder(full, root)))
        {
            throw Outside(path, relative);
        }

        string? real = UnixFiles.RealPath(full);
        if (real is null)
        {
            string what = UnixFiles.KindOf(full, followLinks: false) == FileKind.SymbolicLink
                ? "is a symbolic link to something that does not exist"
                : "does not exist";
            throw new EdgeRuntimeException(_wording.NotFoundCode, $"'{full}' {what} (relative paths are taken from {_wording.BaseFolder} '{ModelDirectory}').");
        }

        // A relative path must really stay in the model directory, not reach another allowed root through a link.
        string[] allowed = relative ? [ModelDirectory] : _roots;
        if (!allowed.Any(root => IsUnder(real, UnixFiles.RealPath(root) ?? root)))
        {
            throw new EdgeRuntimeException(ErrorCodes.PathNotAllowed, $"'{path}' leads through a symbolic link to '{real}', outside {(relative ? $"{_wording.BaseFolder} '{ModelDirectory}'" : RootsText())}.");
        }

        var kind = UnixFiles.KindOf(real, followLinks: true);
        bool fits = target switch
        {
            PathTarget.File => kind == FileKind.Regular,
            PathTarget.Folder => kind == FileKind.Directory,
            _ => kind is FileKind.Regular or FileKind.Directory,
        };
        if (!fits)
        {
            string wanted = target switch { PathTarget.File => "a regular file", PathTarget.Folder => "a folder", _ => "a regular file or a folder" };
            throw new EdgeRuntimeException(_wording.NotFoundCode, $"'{full}' is {Describe(kind)}, not {wanted}.");
        }

        return full;
    }

    private EdgeRuntimeException Outside(string path, bool relative) => relative
        ? new(ErrorCodes.PathNotAllowed, $"'{path}' leads outside {_wording.BaseFolder} '{ModelDirectory}'; relative paths must stay inside it.")
        : new(ErrorCodes.PathNotAllowed, $"'{path}' is not under {RootsText()}; absolute paths must be (add a folder to {_wording.RootsSetting} in the daemon's configuration).");

    private string RootsText() => _roots.Length == 1
        ? $"{_wording.BaseFolder} '{ModelDirectory}'"
        : $"the allowed roots ({string.Join(", ", _roots.Select(r => $"'{r}'"))})";

    private static string Describe(FileKind kind) => kind switch
    {
        FileKind.Directory => "a folder",
        FileKind.Fifo => "a FIFO",
        FileKind.Socket => "a socket",
        FileKind.Device => "a device",
        FileKind.Regular => "a regular file",
        _ => "not a file",
    };

    private static string Normalise(string folder) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    private static bool IsUnder(string path, string root) =>
        root == "/" || path == root || (path.StartsWith(root, StringComparison.Ordinal) && path.Length > root.Length && path[root.Length] == '/');
}
