using System.Xml.Linq;

namespace EdgeRuntime.Architecture.Tests;

/// <summary>
/// A project file as the layering rules see it: where it is, what it references, whom it shows internals to, which
/// packages it takes. Only what the .csproj itself says: references a Directory.Build.props adds (tests/ adds
/// TestSupport to every test project) are not read.
/// </summary>
internal sealed record ProjectFile(string Name, string Folder, bool IsExe, IReadOnlyList<string> References, IReadOnlyList<string> InternalsVisibleTo, IReadOnlyList<string> Packages)
{
    /// <summary>Every project under src/, tests/ and tools/ of the repository.</summary>
    public static IReadOnlyList<ProjectFile> All(string root) =>
        [.. new[] { "src", "tests", "tools" }
            .SelectMany(folder => Directory.GetFiles(Path.Combine(root, folder), "*.csproj", SearchOption.AllDirectories))
            .Select(path => Read(root, path))
            .OrderBy(p => p.Name, StringComparer.Ordinal)];

    public static ProjectFile Read(string root, string path)
    {
        var document = XDocument.Load(path);
        string name = Path.GetFileNameWithoutExtension(path);
        string folder = Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar)[0];
        bool isExe = document.Descendants("OutputType").Any(e => string.Equals(e.Value.Trim(), "Exe", StringComparison.OrdinalIgnoreCase));
        var references = document.Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToList();
        var internals = document.Descendants("InternalsVisibleTo").Select(e => e.Attribute("Include")!.Value).ToList();
        var packages = document.Descendants("PackageReference").Select(e => e.Attribute("Include")!.Value).ToList();
        return new ProjectFile(name, folder, isExe, references, internals, packages);
    }
}
