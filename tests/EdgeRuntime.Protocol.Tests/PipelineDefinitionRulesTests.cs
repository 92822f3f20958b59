namespace EdgeRuntime.Protocol.Tests;

public sealed class PipelineDefinitionRulesTests
{
    [Fact]
    public void A_definition_with_its_defaults_breaks_no_rule()
    {
        Assert.Empty(PipelineDefinitionRules.Broken(new PipelineDefinition("digits", "mmedge", "mmedge/mmedge.json")));
    }

    [Fact]
    public void Each_broken_rule_names_its_field()
    {
        var definition = new PipelineDefinition("a/b", "yolo", " ") { Clock = "slow", BudgetMs = 0, DriftTolerance = double.NaN };
        Assert.Equal(["name", "kind", "manifest", "clock", "budgetMs", "driftTolerance"], PipelineDefinitionRules.Broken(definition).Select(b => b.Field));
    }
}
