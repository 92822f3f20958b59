using System.Runtime.Intrinsics.X86;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>The report of which code each kernel runs: it follows the path and this CPU's extensions.</summary>
public sealed class KernelFormsTests
{
    [Fact]
    public void The_256_bit_path_names_vnni_exactly_where_this_cpu_has_it()
    {
        var forms = KernelForms.Describe(KernelPath.Vector256).ToDictionary(f => f.Kernel, f => f.Form);
        string extension = AvxVnni.IsSupported ? "+AvxVnni" : "+Avx2";
        Assert.Equal("Vector256 8 rows" + extension, forms["MatMulNBits int8"]);
        Assert.Equal("Vector256" + extension, forms["MatMulInteger prepacked"]);
        Assert.Equal("Vector128", forms["MatMulNBits float"]);
        Assert.Equal("Vector256", forms["BitLinear 1 token"]);
    }

    [Fact]
    public void The_scalar_path_is_scalar_everywhere_and_the_summary_lists_every_kernel()
    {
        var forms = KernelForms.Describe(KernelPath.Scalar);
        Assert.All(forms, f => Assert.Equal("Scalar", f.Form));
        string summary = KernelForms.Summary(forms);
        Assert.All(forms, f => Assert.Contains($"{f.Kernel}=Scalar", summary, StringComparison.Ordinal));
    }
}
