namespace EdgeRuntime.Onnx;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic (dynamic) name.</summary>
public readonly record struct Dim(long Value, string? Symbol)
{
    public static Dim Of(long value) => new(value, null);

    public static Dim Named(string symbol) => new(-1, symbol);

    public static implicit operator Dim(long value) => Of(value);

    public static implicit operator Dim(string symbol) => Named(symbol);
}
