using System.Text.RegularExpressions;

namespace EdgeRuntime.Architecture.Tests;

/// <summary>docs/architecture.md's picture and <see cref="Layers"/> are one graph, and ONNX Runtime stays where it belongs.</summary>
public sealed partial class DocumentedGraphTests
{
    [GeneratedRegex(@"^\s*(\w+)\s*-->\s*(.+)$")]
    private static partial Regex Edge();

    [Fact]
    public void The_mermaid_graph_in_the_architecture_page_has_exactly_the_allowed_edges()
    {
        string page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "architecture.md"));
        int start = page.IndexOf("```mermaid", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/architecture.md has no mermaid block");
        int end = page.IndexOf("```", start + 3, StringComparison.Ordinal);
        var drawn = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string line in page[start..end].Split('\n'))
        {
            var match = Edge().Match(line);
            if (match.Success)
            {
                foreach (string target in match.Groups[2].Value.Split('&', StringSplitOptions.TrimEntries))
                {
                    drawn.Add($"EdgeRuntime.{match.Groups[1].Value} -> EdgeRuntime.{target}");
                }
            }
        }

        var allowed = new SortedSet<string>(Layers.Allowed.SelectMany(p => p.Value.Select(r => $"{p.Key} -> {r}")), StringComparer.Ordinal);
        Assert.NotEmpty(drawn);
        Assert.Equal(allowed, drawn);
    }

    [Fact]
    public void Only_the_kernels_inference_and_generation_reference_onnx_runtime_among_product_projects()
    {
        var users = ProjectFile.All(Repository.Root)
            .Where(p => p.Folder == "src" && p.Packages.Contains("Microsoft.ML.OnnxRuntime"))
            .Select(p => p.Name)
            .ToList();
        Assert.Equal(["EdgeRuntime.Generation", "EdgeRuntime.Inference", "EdgeRuntime.Kernels"], users);
    }
}
