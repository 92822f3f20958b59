using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>
/// The kernels' choice: the CPU's widest path, narrowed (never widened) by a board profile's limits; and the report of
/// which code each kernel runs under a choice.
/// </summary>
public sealed class KernelFormsTests
{
    [Fact]
    public void The_256_bit_path_names_vnni_when_the_choice_uses_it()
    {
        var vnni = Forms(new KernelChoice(KernelPath.Vector256, Vnni: true, DotProduct: false));
        Assert.Equal("Vector256 8 rows+AvxVnni", vnni["MatMulNBits int8"]);
        Assert.Equal("Vector256+AvxVnni", vnni["MatMulInteger prepacked"]);
        Assert.Equal("Vector256+AvxVnni", vnni["BitLinear 4 tokens"]);
        Assert.Equal("Vector128", vnni["MatMulNBits float"]);
        Assert.Equal("Vector256", vnni["BitLinear 1 token"]);
        Assert.Equal("Vector256+AvxVnni", vnni["BitLinear 1.6-bit 1 token"]);
        Assert.Equal("Vector256+AvxVnni", Forms(new KernelChoice(KernelPath.Vector512, Vnni: true, DotProduct: false))["BitLinear 1.6-bit 4 tokens"]);
        var avx2 = Forms(new KernelChoice(KernelPath.Vector256, Vnni: false, DotProduct: false));
        Assert.Equal("Vector256 8 rows+Avx2", avx2["MatMulNBits int8"]);
        Assert.Equal("Vector256 2 rows+Avx2", avx2["BitLinear 4 tokens"]);
        Assert.Equal("Vector256+Avx2", avx2["BitLinear 1.6-bit 1 token"]);
        Assert.Equal("AdvSimd+Dp", Forms(new KernelChoice(KernelPath.AdvSimd, Vnni: false, DotProduct: true))["MatMulInteger"]);
    }

    [Fact]
    public void On_arm64_with_i8mm_the_batch_products_name_the_native_kernels_and_single_tokens_stay_with_sdot()
    {
        var i8mm = Forms(new KernelChoice(KernelPath.AdvSimd, Vnni: false, DotProduct: true, I8mm: true));
        Assert.Equal("native I8mm", i8mm["BitLinear 4 tokens"]);
        Assert.Equal("native I8mm", i8mm["MatMulNBits 4-bit batch"]);
        Assert.Equal("AdvSimd+Dp (batches: native I8mm)", i8mm["MatMulInteger prepacked"]);
        Assert.Equal("AdvSimd+Dp", i8mm["BitLinear 1 token"]);
        Assert.Equal("AdvSimd+Dp", i8mm["BitLinear 1.6-bit 4 tokens"]);
        Assert.Equal("AdvSimd+Dp", i8mm["MatMulNBits int8"]);
        var without = Forms(new KernelChoice(KernelPath.AdvSimd, Vnni: false, DotProduct: true));
        Assert.All(without, pair => Assert.DoesNotContain("I8mm", pair.Value, StringComparison.Ordinal));
    }

    [Fact]
    public void The_scalar_path_is_scalar_everywhere_and_the_summary_lists_every_kernel()
    {
        var forms = KernelForms.Describe(new KernelChoice(KernelPath.Scalar, false, false));
        Assert.All(forms, f => Assert.Equal("Scalar", f.Form));
        string summary = KernelForms.Summary(forms);
        Assert.All(forms, f => Assert.Contains($"{f.Kernel}=Scalar", summary, StringComparison.Ordinal));
    }

    [Fact]
    public void Without_limits_the_choice_is_the_cpus_widest_path_with_its_extensions()
    {
        var choice = KernelPaths.Choose(new KernelLimits());
        Assert.Equal(KernelPaths.Detected, choice.Path);
        Assert.Equal(AvxVnni.IsSupported && choice.Path is KernelPath.Vector256 or KernelPath.Vector512, choice.Vnni);
        Assert.Equal(Dp.IsSupported, choice.DotProduct);
    }

    [Avx2Fact]
    public void A_profile_narrows_the_path_and_turns_vnni_off_but_cannot_widen_past_the_cpu()
    {
        var narrowed = KernelPaths.Choose(new KernelLimits(MaxPath: KernelPath.Vector128));
        Assert.Equal(new KernelChoice(KernelPath.Vector128, Vnni: false, DotProduct: false), narrowed);
        Assert.False(KernelPaths.Choose(new KernelLimits(Vnni: false)).Vnni);
        // Vector512 as a ceiling on a CPU without AVX-512 leaves the CPU's own widest path.
        Assert.Equal(KernelPaths.Detected, KernelPaths.Choose(new KernelLimits(MaxPath: KernelPath.Vector512)).Path);
        var error = Assert.Throws<ArgumentException>(() => KernelPaths.Choose(new KernelLimits(MaxPath: KernelPath.AdvSimd)));
        Assert.Contains("arm64", error.Message, StringComparison.Ordinal);
        Assert.Equal(KernelPath.Scalar, KernelPaths.Choose(new KernelLimits(MaxPath: KernelPath.Scalar)).Path);
    }

    private static Dictionary<string, string> Forms(KernelChoice choice) => KernelForms.Describe(choice).ToDictionary(f => f.Kernel, f => f.Form);
}
