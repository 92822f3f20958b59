using EdgeRuntime.Kernels.Int8;
using EdgeRuntime.Kernels.LowBit;
using EdgeRuntime.Kernels.Native;
using EdgeRuntime.Kernels.Ternary;

namespace EdgeRuntime.Kernels.Tests;

/// <summary>libedgekernels: that it is there, that it reads the CPU right, and that its kernels equal the references.</summary>
public sealed unsafe class NativeKernelsTests
{
    [Fact]
    public void The_library_is_loaded_and_of_this_builds_ABI_version()
    {
        // The Kernels project builds it and copies it beside the tests; a missing or stale library is a build fault.
        Assert.Null(NativeKernels.LoadError);
    }

    [Fact]
    public void It_reports_AVX_512_VNNI_exactly_when_the_kernel_lists_the_flags_it_needs()
    {
        if (!File.Exists("/proc/cpuinfo") || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.False(NativeKernels.Avx512Vnni);
            return;
        }

        // The kernel lists a flag only when the OS enables its state too, so this is the same question asked of Linux.
        var flags = File.ReadLines("/proc/cpuinfo").First(line => line.StartsWith("flags", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        bool expected = flags.Contains("avx512f") && flags.Contains("avx512bw") && flags.Contains("avx512vl") && flags.Contains("avx512_vnni");
        Assert.Equal(expected, NativeKernels.Avx512Vnni);
    }

    [Fact]
    public void A_profile_that_turns_off_VNNI_or_caps_the_width_below_512_bits_turns_the_native_kernels_off()
    {
        Assert.False(KernelPaths.Choose(new KernelLimits(Vnni: false)).Avx512Vnni);
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            // (An x64 ceiling is refused on arm64.)
            Assert.False(KernelPaths.Choose(new KernelLimits(MaxPath: KernelPath.Vector256)).Avx512Vnni);
        }

        Assert.Equal(NativeKernels.Avx512Vnni && KernelPaths.Detected is KernelPath.Vector256 or KernelPath.Vector512, KernelPaths.Choose(new KernelLimits()).Avx512Vnni);
    }

    [Fact]
    public void The_forms_and_the_summary_name_the_native_kernels_only_where_the_choice_uses_them()
    {
        var on = KernelForms.Describe(new KernelChoice(KernelPath.Vector256, Vnni: true, DotProduct: false, Avx512Vnni: true)).ToDictionary(f => f.Kernel, f => f.Form);
        Assert.Equal("native Avx512Vnni", on["MatMulInteger prepacked"]);
        Assert.Equal("native Avx512Vnni", on["BitLinear 4 tokens"]);
        Assert.Equal("native Avx512Vnni", on["BitLinear 1 token"]);
        Assert.Equal("native Avx512Vnni", on["MatMulNBits 4-bit batch"]);
        Assert.Equal("Vector256 8 rows+AvxVnni", on["MatMulNBits int8"]);
        Assert.Equal("native Avx512Vnni", on["BitLinear 1.6-bit 1 token"]);
        Assert.Equal("Vector256+AvxVnni", on["BitLinear 1.6-bit 4 tokens"]);
        var off = new KernelChoice(KernelPath.Vector256, Vnni: true, DotProduct: false, Avx512Vnni: false);
        Assert.Equal("Vector256+AvxVnni", KernelForms.Describe(off).Single(f => f.Kernel == "MatMulInteger prepacked").Form);
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.Equal(NativeKernels.Avx512Vnni ? "libedgekernels: AVX-512 VNNI on this CPU, turned off by the board profile" : "libedgekernels: AVX-512 VNNI not on this CPU", KernelForms.NativeSummary(off));
            var scalar = new KernelChoice(KernelPath.Scalar, Vnni: false, DotProduct: false, Avx512Vnni: false);
            Assert.Equal(NativeKernels.Avx512Vnni ? "libedgekernels: AVX-512 VNNI on this CPU, off with the C# kernels at Scalar" : "libedgekernels: AVX-512 VNNI not on this CPU", KernelForms.NativeSummary(scalar));
        }
    }

    [Avx512VnniTheory]
    [InlineData(1, 1, 4, false)]
    [InlineData(7, 40, 1, true)]
    [InlineData(8, 17, 33, false)]
    [InlineData(9, 80, 64, true)]
    [InlineData(17, 63, 1027, false)]
    [InlineData(33, 100, 2560, true)]
    [InlineData(50, 33, 700, false)]
    public void The_int8_kernel_equals_the_reference_for_any_tokens_and_any_range_of_tiles(int m, int n, int k, bool aSigned)
    {
        var random = new Random((m * 1000) + k);
        var a = new byte[m * k];
        var b = new byte[k * n];
        random.NextBytes(a);
        random.NextBytes(b);
        int[] aZp = [.. Enumerable.Range(0, m).Select(_ => aSigned ? random.Next(-128, 128) : random.Next(256))];
        int[] bZp = [.. Enumerable.Range(0, n).Select(_ => random.Next(-128, 128))];
        var expected = Int8Reference.MatMulInteger(new Int8Matrix(a, aSigned), m, k, new Int8Matrix(b, true), n, aZp, bZp);
        using var packed = PackedInt8Weights.Pack(b, k, n, signed: true);

        var whole = new int[m * n];
        PackedInt8MatMul.MatMulInteger(KernelPaths.Best, packed, a, aSigned, m, aZp, bZp, whole);
        Assert.Equal(expected, whole);

        // As the op's tasks split the columns: every range of tiles, so odd counts (one tile left from a pair), starts
        // past 0 and the last, partial tile are each covered; columns outside the range must stay untouched.
        var tokens = new PackedInt8MatMul.Token[m];
        var quads = new int[m * 2 * packed.KQuads];
        var offsets = new int[packed.Tiles * 16];
        var terms = new int[2 * m];
        var zeroPoints = new short[n];
        Int8MatMul.ExpandZeroPoints(bZp, n, zeroPoints);
        PackedInt8MatMul.ColumnOffsets(packed, zeroPoints, offsets);
        fixed (int* q = quads)
        fixed (PackedInt8MatMul.Token* t = tokens)
        fixed (int* columnOffsets = offsets)
        fixed (int* tokenTerms = terms)
        {
            for (int row = 0; row < m; row++)
            {
                t[row] = new PackedInt8MatMul.Token { Low = q + (row * 2 * packed.KQuads), High = q + (row * 2 * packed.KQuads) + packed.KQuads };
                PackedInt8MatMul.Prepare(KernelPaths.Best, a.AsSpan(row * k, k), aSigned, aZp[row], packed.KQuads, m, ref t[row]);
                Assert.True(t[row].Native);
            }

            PackedInt8MatMul.TokenTerms(t, m, tokenTerms, tokenTerms + m);
            for (int start = 0; start < packed.Tiles; start++)
            {
                for (int end = start + 1; end <= packed.Tiles; end++)
                {
                    var y = Enumerable.Repeat(int.MinValue, m * n).ToArray();
                    fixed (int* output = y)
                    {
                        PackedInt8MatMul.ComputeTilesNative(packed, q, 2L * packed.KQuads, tokenTerms, tokenTerms + m, m, columnOffsets, output, start, end);
                    }

                    for (int i = 0; i < y.Length; i++)
                    {
                        int column = i % n;
                        bool inRange = column >= start * 16 && column < end * 16;
                        Assert.Equal(inRange ? expected[i] : int.MinValue, y[i]);
                    }
                }
            }
        }
    }

    [Avx512VnniTheory]
    [InlineData(2, 1, 16, 16, false, false)]
    [InlineData(3, 19, 40, 32, true, true)]
    [InlineData(4, 64, 128, 128, false, true)]
    [InlineData(5, 70, 1100, 16, true, false)]
    [InlineData(9, 131, 600, 256, true, true)]
    [InlineData(33, 200, 2560, 128, false, true)]
    [InlineData(6, 97, 1537, 64, true, true)]
    public void The_4_bit_batch_kernel_equals_the_reference_for_any_tokens_and_any_range_of_rows(int m, int n, int k, int block, bool zeroPoints, bool withBias)
    {
        // Chunks of 512 values (block 16: 32 blocks; 256: two), 64-row groups with partial tiles, 1-4 token passes.
        var random = new Random((m * 1000) + k);
        var shape = new NBitsShape(N: n, K: k, Bits: 4, BlockSize: block);
        var weights = NBitsWeights.Quantize([.. Enumerable.Range(0, n * k).Select(_ => (float)((random.NextDouble() * 2) - 1))], shape, zeroPoints);
        float[] x = [.. Enumerable.Range(0, m * k).Select(_ => (float)((random.NextDouble() * 8) - 4))];
        float[] bias = withBias ? [.. Enumerable.Range(0, n).Select(_ => (float)random.NextDouble())] : [];
        var expected = NBitsReference.Compute(shape, NBitsAccuracy.Int8, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias);
        var whole = new float[m * n];
        NBitsMatMul.Compute(KernelPaths.Best, shape, NBitsAccuracy.Int8, x, m, weights.B, weights.Scales, weights.ZeroPoints, bias, whole);
        Assert.Equal(Bits(expected), Bits(whole));

        // As the op's tasks split the rows: ranges starting anywhere, and outputs outside the range left untouched.
        var (values, blocks) = NBitsMatMul.ScratchSize(shape, m);
        var q = new sbyte[values];
        var blockScales = new float[blocks];
        var blockSums = new int[blocks];
        var zp = weights.ZeroPoints ?? [0];
        fixed (sbyte* quantized = q)
        fixed (float* scalesOfTokens = blockScales)
        fixed (int* sums = blockSums)
        fixed (byte* b = weights.B)
        fixed (float* scales = weights.Scales)
        fixed (byte* zeroPointBytes = zp)
        fixed (float* biasValues = bias)
        {
            var operands = new NBitsOperands
            {
                Shape = shape,
                Accuracy = NBitsAccuracy.Int8,
                Path = KernelPaths.Best,
                M = m,
                Q = quantized,
                BlockScales = scalesOfTokens,
                BlockSums = sums,
                B = b,
                Scales = scales,
                ZeroPoints = weights.ZeroPoints is null ? null : zeroPointBytes,
                Bias = withBias ? biasValues : null,
            };
            NBitsMatMul.Prepare(ref operands, x);
            Assert.True(operands.Native);
            foreach (var (start, end) in new[] { (0, n), (0, Math.Min(n, 64)), (n / 3, n), (n / 5, (n / 2) + 1) })
            {
                var y = Enumerable.Repeat(float.NaN, m * n).ToArray();
                fixed (float* output = y)
                {
                    operands.Y = output;
                    NBitsMatMul.ComputeRows(operands, start, end);
                }

                for (int i = 0; i < y.Length; i++)
                {
                    int row = i % n;
                    Assert.Equal(BitConverter.SingleToInt32Bits(row >= start && row < end ? expected[i] : float.NaN), BitConverter.SingleToInt32Bits(y[i]));
                }
            }
        }
    }

    [Avx512VnniFact]
    public void The_ternary_kernel_equals_the_reference_at_the_extremes_of_its_sums()
    {
        // Codes 2 (+1) against 127 and codes 0 (-1) against -128 over K = 8192: |sum| ~ 10^6, exact in int32.
        const int k = 8192, n = 5, m = 6;
        var weights = new sbyte[n * k];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (sbyte)((i / k) % 2 == 0 ? 1 : -1);
        }

        byte[] packed = TernaryPacking.Pack(weights, n, k);
        var x = new sbyte[m * k];
        var sums = new int[m];
        for (int t = 0; t < m; t++)
        {
            sbyte value = t % 2 == 0 ? (sbyte)127 : (sbyte)-128;
            x.AsSpan(t * k, k).Fill(value);
            sums[t] = value * k;
        }

        var dots = new int[m * n];
        fixed (byte* w = packed)
        fixed (sbyte* xs = x)
        fixed (int* s = sums)
        fixed (int* d = dots)
        {
            NativeKernels.Ternary2Dots(w, n, TernaryPacking.RowBytes(k), xs, k, s, m, d, n);
        }

        for (int t = 0; t < m; t++)
        {
            for (int r = 0; r < n; r++)
            {
                Assert.Equal(weights[r * k] * x[t * k] * k, dots[(t * n) + r]);
            }
        }
    }

    [Avx512VnniTheory]
    [InlineData(1, 1)]
    [InlineData(2, 256)]
    [InlineData(3, 257)]
    [InlineData(5, 700)]
    [InlineData(9, 2560)]
    [InlineData(13, 6912)]
    public void The_2_bit_one_token_kernel_equals_the_scalar_row_for_any_row_count(int n, int k)
    {
        // Random codes 0..2; the kernel's prefetches run 8 KB past the weights, harmlessly.
        int rowBytes = TernaryPacking.RowBytes(k);
        int padded = rowBytes * 4;
        var random = new Random((n * 100_000) + k);
        var weights = new sbyte[n * k];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (sbyte)(random.Next(3) - 1);
        }

        byte[] packed = TernaryPacking.Pack(weights, n, k);
        AssertOneTokenDots(packed, n, rowBytes, k, padded, random, &NativeKernels.Ternary2GemvAvx512Vnni,
            (w, x, sum) => TernaryDot.Row(KernelPath.Scalar, (byte*)w, rowBytes, (sbyte*)x, sum));
    }

    // A one-token kernel against a scalar row over random activations (the whole int8 range, zero past K as BitLinear pads
    // them), with a sentinel past the last row: the kernel must write exactly n dots.
    private static void AssertOneTokenDots(byte[] packed, int n, int rowBytes, int k, int padded, Random random, delegate*<byte*, int, int, sbyte*, int, int*, void> kernel, Func<nint, nint, int, int> scalarRow)
    {
        var x = new sbyte[padded];
        for (int i = 0; i < k; i++)
        {
            x[i] = (sbyte)random.Next(-128, 128);
        }

        int sum = x.Sum(v => v);
        var dots = new int[n + 1];
        dots[n] = int.MinValue;
        fixed (byte* w = packed)
        fixed (sbyte* xs = x)
        fixed (int* d = dots)
        {
            kernel(w, n, rowBytes, xs, sum, d);
            for (int r = 0; r < n; r++)
            {
                Assert.Equal(scalarRow((nint)(w + (r * rowBytes)), (nint)xs, sum), dots[r]);
            }
        }

        Assert.Equal(int.MinValue, dots[n]);
    }

    [Avx512VnniTheory]
    [InlineData(-128)]
    [InlineData(127)]
    public void The_2_bit_one_token_kernel_is_exact_at_the_longest_row_it_takes(int activation)
    {
        // Every weight +1 (code 2, the largest) against one activation value over the longest row UsesNative gives the
        // kernel: the lane holding 4^3 times code 3's share reaches about 2^30 (negative with -128, so the final shifts
        // must be arithmetic), the closest any input comes to overflowing int32.
        const int k = (1 << 22) - 256;
        Assert.True(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FourPerByte, 1, k));
        int rowBytes = TernaryPacking.RowBytes(k);
        byte[] packed = TernaryPacking.Pack(Enumerable.Repeat((sbyte)1, k).ToArray(), 1, k);
        var x = Enumerable.Repeat((sbyte)activation, rowBytes * 4).ToArray();
        int sum = activation * k;
        var dots = new int[1];
        fixed (byte* w = packed)
        fixed (sbyte* xs = x)
        fixed (int* d = dots)
        {
            NativeKernels.Ternary2GemvAvx512Vnni(w, 1, rowBytes, xs, sum, d);
        }

        Assert.Equal(activation * k, dots[0]);
    }

    [Avx512VnniTheory]
    [InlineData(1, 1)]
    [InlineData(2, 160)]
    [InlineData(3, 161)]
    [InlineData(4, 320)]
    [InlineData(7, 480)]
    [InlineData(9, 2560)]
    [InlineData(13, 6912)]
    [InlineData(6, 4000)]
    public void The_1_6_bit_kernel_equals_the_scalar_row_for_any_bytes_any_rows_and_odd_or_even_block_counts(int n, int k)
    {
        // Random bytes, so the 13 values no encoder writes occur too, against activations over the whole int8 range
        // (zero past K, as BitLinear pads them). Row counts 1-13 reach every tail of the four-row passes.
        int rowBytes = TritPacking.RowBytes(k);
        int padded = TritPacking.PaddedK(k);
        var random = new Random((n * 100_000) + k);
        var packed = new byte[n * rowBytes];
        random.NextBytes(packed);
        AssertOneTokenDots(packed, n, rowBytes, k, padded, random, &NativeKernels.TritGemvAvx512Vnni,
            (w, x, _) => TritDot.RowScalar((byte*)w, rowBytes, (sbyte*)x));
    }

    [Avx512VnniFact]
    public void The_1_6_bit_kernel_divides_exactly_at_the_longest_row_it_takes()
    {
        // The kernel sums the bytes themselves and divides (3a - b) by 256 per lane; the largest padded K it is given is
        // the last multiple of 160 below 2^19. All codes 2 against -128 come nearest to overflowing a lane's share; the
        // other rows and values check the sign handling at the same length.
        const int k = 160 * 3276;
        int rowBytes = TritPacking.RowBytes(k);
        var packed = new byte[2 * rowBytes];
        packed.AsSpan(0, rowBytes).Fill(TritPacking.Encode(2, 2, 2, 2, 2));
        packed.AsSpan(rowBytes).Fill(TritPacking.Encode(0, 0, 0, 0, 0));
        foreach (sbyte value in new sbyte[] { 127, -128 })
        {
            var x = new sbyte[k];
            x.AsSpan().Fill(value);
            var dots = new int[2];
            fixed (byte* w = packed)
            fixed (sbyte* xs = x)
            fixed (int* d = dots)
            {
                NativeKernels.TritGemvAvx512Vnni(w, 2, rowBytes, xs, value * k, d);
            }

            Assert.Equal(value * k, dots[0]);
            Assert.Equal(-value * k, dots[1]);
        }
    }

    [Fact]
    public void Where_the_CPU_has_AVX_512_VNNI_and_the_path_is_256_bits_or_wider_the_products_take_the_native_kernels()
    {
        // Under DOTNET_EnableHWIntrinsic=0 the path is Scalar, and the native kernels are left out with the C# SIMD.
        // On an arm64 host with I8MM the 2-bit batches take the native I8MM kernel instead (single tokens stay in C#).
        bool expected = NativeKernels.Avx512Vnni && KernelPaths.Best is KernelPath.Vector256 or KernelPath.Vector512;
        Assert.Equal(expected, KernelPaths.Avx512Vnni);
        Assert.Equal(expected, PackedInt8MatMul.UsesNative(KernelPaths.Best, 1));
        Assert.Equal(expected || KernelPaths.I8mm, BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FourPerByte, 2, 2560));
        Assert.Equal(expected, BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FivePerByte, 1, 2560));
        // A single 2-bit token is native only with AVX-512 VNNI; on the arm64 path it keeps the C# SDOT form on any host.
        Assert.Equal(expected, BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FourPerByte, 1, 2560));
        Assert.False(BitLinear.UsesNative(KernelPath.AdvSimd, TernaryLayout.FourPerByte, 1, 2560));
        if (!expected)
        {
            return;
        }

        // 2-bit single tokens take the native one-token kernel below 2^22 weights a row; 1.6-bit batches stay in C#.
        Assert.True(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FourPerByte, 1, (1 << 22) - 256));
        Assert.False(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FourPerByte, 1, 1 << 22));
        Assert.False(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FivePerByte, 2, 2560));
        Assert.True(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FivePerByte, 1, (1 << 19) - 160));
        Assert.False(BitLinear.UsesNative(KernelPaths.Best, TernaryLayout.FivePerByte, 1, 1 << 19));
        Assert.Contains(KernelForms.Current, form => form.Kernel == "MatMulInteger prepacked" && form.Form.Contains("Avx512Vnni", StringComparison.Ordinal));
    }

    // Float results compared as bits: Assert.Equal on floats takes +0 for -0.
    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}

/// <summary>A theory that runs only where this process uses libedgekernels' AVX-512 VNNI kernels, and says so when skipped.</summary>
public sealed class Avx512VnniTheoryAttribute : TheoryAttribute
{
    public Avx512VnniTheoryAttribute()
    {
        if (!KernelPaths.Avx512Vnni)
        {
            Skip = "the native AVX-512 VNNI kernels are not in use here (no AVX-512 VNNI, or intrinsics turned off)";
        }
    }
}

/// <summary>A fact that runs only where this process uses libedgekernels' AVX-512 VNNI kernels.</summary>
public sealed class Avx512VnniFactAttribute : FactAttribute
{
    public Avx512VnniFactAttribute()
    {
        if (!KernelPaths.Avx512Vnni)
        {
            Skip = "the native AVX-512 VNNI kernels are not in use here (no AVX-512 VNNI, or intrinsics turned off)";
        }
    }
}
