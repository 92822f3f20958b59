namespace EdgeRuntime.Architecture.Tests;

/// <summary>The project graph docs/architecture.md promises, checked against the .csproj files themselves.</summary>
public sealed class LayeringTests
{
    private static readonly IReadOnlyList<ProjectFile> Projects = ProjectFile.All(Repository.Root);

    private static IEnumerable<ProjectFile> Product => Projects.Where(p => p.Folder == "src");

    private static ProjectFile Named(string name) => Projects.Single(p => p.Name == name);

    [Fact]
    public void Every_product_project_has_a_place_in_the_documented_graph()
    {
        var unplaced = Product.Select(p => p.Name).Where(name => !Layers.Allowed.ContainsKey(name)).ToList();
        Assert.True(unplaced.Count == 0, $"src/ projects missing from Layers.Allowed and docs/architecture.md: {string.Join(", ", unplaced)}");

        var gone = Layers.Allowed.Keys.Where(name => !Product.Any(p => p.Name == name)).ToList();
        Assert.True(gone.Count == 0, $"Layers.Allowed names projects that no longer exist: {string.Join(", ", gone)}");
    }

    [Fact]
    public void Product_projects_reference_only_what_the_graph_allows()
    {
        var forbidden = Product
            .SelectMany(p => p.References.Where(r => !Layers.Allowed.GetValueOrDefault(p.Name, []).Contains(r)).Select(r => $"{p.Name} -> {r}"))
            .ToList();
        Assert.True(forbidden.Count == 0, $"references the architecture forbids: {string.Join("; ", forbidden)}");
    }

    [Fact]
    public void The_allowed_graph_has_no_cycle()
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string project in Layers.Allowed.Keys)
        {
            Visit(project, []);
        }

        void Visit(string project, List<string> path)
        {
            if (state.GetValueOrDefault(project) == 2)
            {
                return;
            }

            Assert.False(state.GetValueOrDefault(project) == 1, $"cycle: {string.Join(" -> ", path.Append(project))}");
            state[project] = 1;
            foreach (string next in Layers.Allowed.GetValueOrDefault(project, []))
            {
                Visit(next, [.. path, project]);
            }

            state[project] = 2;
        }
    }

    [Fact]
    public void Nothing_references_a_program_except_its_own_tests()
    {
        var programs = Projects.Where(p => p.IsExe && p.Folder == "src").Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var wrong = Projects
            .SelectMany(p => p.References.Where(programs.Contains).Where(r => p.Name != r + ".Tests").Select(r => $"{p.Name} -> {r}"))
            .ToList();
        Assert.True(wrong.Count == 0, $"programs are composition roots, not libraries: {string.Join("; ", wrong)}");
    }

    [Fact]
    public void The_daemon_contains_no_client_side_code()
    {
        var closure = Closure("EdgeRuntime.Daemon");
        var found = Layers.NotInDaemon.Where(closure.Contains).ToList();
        Assert.True(found.Count == 0, $"edged would link {string.Join(", ", found)}");
    }

    [Fact]
    public void Product_code_never_references_tests_or_tools()
    {
        var outside = Projects.Where(p => p.Folder != "src").Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var wrong = Product.SelectMany(p => p.References.Where(outside.Contains).Select(r => $"{p.Name} -> {r}")).ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Fact]
    public void Tools_never_reference_tests()
    {
        var tests = Projects.Where(p => p.Folder == "tests").Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var wrong = Projects.Where(p => p.Folder == "tools").SelectMany(p => p.References.Where(tests.Contains).Select(r => $"{p.Name} -> {r}")).ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Fact]
    public void Internals_are_shown_only_to_the_project_own_tests()
    {
        var wrong = Projects
            .SelectMany(p => p.InternalsVisibleTo.Where(friend => friend != p.Name + ".Tests").Select(friend => $"{p.Name} -> {friend}"))
            .ToList();
        Assert.True(wrong.Count == 0, $"InternalsVisibleTo beyond the project's own tests: {string.Join("; ", wrong)}");
    }

    [Fact]
    public void Tests_mirror_src_one_test_project_per_product_project()
    {
        var testProjects = Projects.Where(p => p.Folder == "tests").Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var untested = Product.Select(p => p.Name).Where(name => !testProjects.Contains(name + ".Tests")).ToList();
        Assert.True(untested.Count == 0, $"src/ projects without tests/<name>.Tests: {string.Join(", ", untested)}");

        var strays = testProjects
            .Where(name => !Layers.CrossCuttingTests.Contains(name))
            .Where(name => !name.EndsWith(".Tests", StringComparison.Ordinal) || !Product.Any(p => p.Name + ".Tests" == name))
            .ToList();
        Assert.True(strays.Count == 0, $"tests/ projects that mirror no src/ project: {string.Join(", ", strays)}");
    }

    [Fact]
    public void A_test_project_references_the_project_it_tests()
    {
        var wrong = Product
            .Where(p => Projects.Any(t => t.Name == p.Name + ".Tests"))
            .Where(p => !Named(p.Name + ".Tests").References.Contains(p.Name))
            .Select(p => p.Name + ".Tests")
            .ToList();
        Assert.True(wrong.Count == 0, $"test projects that do not reference their product project: {string.Join(", ", wrong)}");
    }

    [Fact]
    public void The_rules_see_a_forbidden_edge()
    {
        // The checks above are only as good as the reading of the files: a made-up project file with a forbidden
        // edge (Inference -> Server) must be read with that edge.
        string folder = Directory.CreateTempSubdirectory("layering-").FullName;
        try
        {
            string path = Path.Combine(folder, "EdgeRuntime.Inference.csproj");
            File.WriteAllText(path, """
                <Project Sdk="Microsoft.NET.Sdk">
                  <ItemGroup>
                    <ProjectReference Include="..\EdgeRuntime.Server\EdgeRuntime.Server.csproj" />
                  </ItemGroup>
                </Project>
                """);
            var project = ProjectFile.Read(folder, path);
            Assert.Equal(["EdgeRuntime.Server"], project.References);
            Assert.DoesNotContain("EdgeRuntime.Server", Layers.Allowed[project.Name]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static HashSet<string> Closure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([project]);
        while (stack.TryPop(out string? name))
        {
            foreach (string reference in Named(name).References)
            {
                if (seen.Add(reference))
                {
                    stack.Push(reference);
                }
            }
        }

        return seen;
    }
}
