using EdgeRuntime.Generation.Families.Lfm2;

namespace EdgeRuntime.Generation.Families.Vision;

/// <summary>
/// A MobileNet-style image encoder and its connector, as a vision-language checkpoint holds them: convolution layers
/// (each followed by ReLU), an average pool whose cells become the image tokens, and a two-layer projector
/// (linear, ReLU, linear) to the decoder's width.
/// </summary>
public sealed record VisionWeights(VisionConvLayer[] Layers, int PoolKernel, int PoolStride, DenseMatrix Projector1, float[] Projector1Bias, DenseMatrix Projector2, float[] Projector2Bias)
{
    /// <summary>The last layer's channels: the width of an image token before the projector.</summary>
    public int Channels => Layers[^1].OutChannels;
}

/// <summary>
/// One convolution: <see cref="VisionLayerKinds.Conv"/> (3×3 over all input channels), <see cref="VisionLayerKinds.Depthwise"/>
/// (3×3, one filter per channel) or <see cref="VisionLayerKinds.Pointwise"/> (1×1). A 3×3 pads by 1. Weight
/// [out, in / groups, k, k] and bias [out], as PyTorch's Conv2d stores them.
/// </summary>
public sealed record VisionConvLayer(string Kind, int InChannels, int OutChannels, int Stride, float[] Weight, float[] Bias)
{
    public int KernelSize => Kind == VisionLayerKinds.Pointwise ? 1 : 3;

    public int Groups => Kind == VisionLayerKinds.Depthwise ? InChannels : 1;

    /// <summary>Weights per output channel.</summary>
    public int FanIn => InChannels / Groups * KernelSize * KernelSize;
}

public static class VisionLayerKinds
{
    public const string Conv = "conv";
    public const string Depthwise = "depthwise";
    public const string Pointwise = "pointwise";

    public static readonly string[] All = [Conv, Depthwise, Pointwise];
}
