using System.Reflection;
using System.Text.RegularExpressions;

namespace EdgeRuntime.Protocol.Tests;

/// <summary>docs/protocol.md's error table and <see cref="ErrorCodes"/> name the same codes: none undocumented, none stale.</summary>
public sealed partial class ErrorTableTests
{
    [Fact]
    public void Every_error_code_is_in_the_protocol_table_and_every_row_is_a_code()
    {
        string page = File.ReadAllText(Path.Combine(Repository.Root, "docs", "protocol.md"));
        int table = page.IndexOf("| code ", StringComparison.Ordinal);
        Assert.True(table > 0, "docs/protocol.md has no error table");
        var documented = page[table..].Split('\n').Skip(2).TakeWhile(line => line.StartsWith('|'))
            .Select(line => RowCode().Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        var defined = typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet();

        Assert.Empty(defined.Except(documented));
        Assert.Empty(documented.Except(defined));
    }

    [GeneratedRegex(@"^\|\s*`([a-z_]+)`")]
    private static partial Regex RowCode();
}
