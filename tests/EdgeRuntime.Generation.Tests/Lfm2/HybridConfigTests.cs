using System.Text.Json.Nodes;
using EdgeRuntime.Generation.Folder;
using EdgeRuntime.Protocol;
using EdgeRuntime.TestModels.Language;

namespace EdgeRuntime.Generation.Tests.Lfm2;

/// <summary>config.json's hybrid fields (layerTypes, convKernel, projectionFormat) as a folder is opened: what absent means, and what is refused.</summary>
public sealed class HybridConfigTests
{
    [Theory]
    [InlineData("layerTypes", "[\"conv\", \"conv\", \"attention\"]", "layerTypes names 3 layers; layers is 4")]
    [InlineData("layerTypes", "[\"conv\", \"mamba\", \"attention\", \"conv\"]", "layerTypes[1] is \"mamba\"; a layer is attention or conv")]
    [InlineData("convKernel", "1", "the model has conv layers, so convKernel must be 2 or more (it is 1)")]
    [InlineData("projectionFormat", "\"int3\"", "projectionFormat is \"int3\"; this edged reads float32 or int4")]
    [InlineData("projectionFormat", "\"int4\"", "int4 projections need projectionBlockSize 16, 32, 64, 128, 256; it is absent")]
    [InlineData("family", "\"mamba2\"", "family is \"mamba2\"; this edged serves \"bitnet\" and \"lfm2\"")]
    public void A_bad_hybrid_configuration_is_refused_naming_the_field(string field, string json, string message)
    {
        using var temp = new TempFolder();
        SeededLfm2.WriteFolder(temp.Path, SeededLfm2.Tiny(contextLength: 16));
        Edit(temp.Path, config => config[field] = JsonNode.Parse(json));
        var error = Assert.Throws<EdgeRuntimeException>(() => LanguageModelFolder.Open(temp.Path));
        Assert.Equal(ErrorCodes.ModelInvalid, error.Code);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absent_format_fields_read_as_float32_and_absent_layer_types_as_all_attention()
    {
        using var temp = new TempFolder();
        SeededBitNet.WriteFolder(temp.Path, SeededBitNet.Tiny(contextLength: 16));
        Edit(temp.Path, config =>
        {
            config.Remove("embeddingFormat");
            config.Remove("projectionFormat");
        });

        // The graph was written for int8, so only the configuration is read here, not a session.
        var config = LanguageModelFolder.Open(temp.Path).Config;
        Assert.Equal((EmbeddingFormats.Float32, ProjectionFormats.Float32), (config.EmbeddingFormat, config.Projections));
        Assert.Null(config.LayerTypes);
        Assert.Equal([0, 1], LayerKinds.Layers(config, LayerKinds.Attention));
        Assert.Empty(LayerKinds.Layers(config, LayerKinds.Conv));
    }

    private static void Edit(string folder, Action<JsonObject> change)
    {
        string path = Path.Combine(folder, LanguageModelFolder.ConfigFile);
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        change(config);
        File.WriteAllText(path, config.ToJsonString());
    }
}
