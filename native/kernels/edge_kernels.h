/* EdgeRuntime's per-ISA kernels: instruction sets .NET 10 cannot reach from C# in a shipped binary.
 *
 * Native AOT compiles C# for one baseline (x86-64-v3 on the host), and .NET 10 has no API for AVX-512 VNNI's 512-bit
 * vpdpbusd or for arm64's I8MM (USMMLA) at all. These functions are compiled for those instruction sets, one translation unit per set, and linked
 * into every binary (statically under Native AOT, as libedgekernels.so under the JIT). They run only after
 * edk_features() has said the CPU and the OS support the set: loading the library is safe on any CPU of the
 * architecture.
 *
 * Every function computes exactly what the C# kernels define, on their layouts (PackedInt8Weights, TernaryPacking,
 * TritPacking, MatMulNBits'): integer arithmetic exact, and the float steps of MatMulNBits done lane by lane in the C# order with
 * nothing fused (-ffp-contract=off), so results are bit-identical to the C# references.
 */
#ifndef EDGE_KERNELS_H
#define EDGE_KERNELS_H

#include <stdint.h>

/* Bumped when a signature below changes; the C# side refuses a library of another version. */
#define EDK_ABI_VERSION 5

/* edk_features() bits. */
#define EDK_X64_AVX512_VNNI 0x1u /* AVX-512 F, BW, VL and VNNI, with the ZMM state enabled by the OS */
#define EDK_ARM64_I8MM 0x2u      /* arm64 I8MM (SMMLA, USMMLA), HWCAP2_I8MM */

#ifdef __cplusplus
extern "C" {
#endif

int32_t edk_abi_version(void);

/* What this CPU and OS can run of the sets above, and what this library was built with (a set the library was not
 * compiled for is never reported). */
uint32_t edk_features(void);

/* MatMulInteger against B in PackedInt8Weights' layout: [tiles][kquads][64] bytes, a group holding 16 columns' four
 * consecutive values b' = b - offset each. For tokens t < token_count and the columns c < n of tiles
 * [tile_start, tile_end):
 *   y[t * y_stride + c] = S - B'[c] * token_sums[t] - A'[t] * column_sums[c] + k * A'[t] * B'[c]
 *   S = sum over quads q, i < 4 of a_u[t][4q + i] * b'[4q + i][c]
 * where a_u is token t's unsigned activations, four to an int32 (byte i of quads[t * quad_stride + q] is row 4q + i),
 * token_sums[t] their sum, A'[t] = token_zero_points[t] and B'[c] = column_offsets[c]; column_sums and column_offsets
 * hold tiles * 16 values. All arithmetic wraps in 32 bits, as the C# kernels' does. */
void edk_int8_packed_matmul_avx512vnni(const int8_t *data, int32_t kquads, int32_t k, int32_t n, int32_t tile_start,
                                       int32_t tile_end, const int32_t *column_sums, const int32_t *column_offsets,
                                       const int32_t *quads, int64_t quad_stride, const int32_t *token_sums,
                                       const int32_t *token_zero_points, int32_t token_count, int32_t *y,
                                       int64_t y_stride);

/* BitLinear on TernaryPacking's 2-bit layout (codes w + 1, 64 bytes a 256-weight block): for rows r < row_count and
 * tokens t < token_count,
 *   dots[t * dots_stride + r] = sum over k < 256 * blocks of w[r][k] * x[t][k]
 * with row r at weights + r * row_bytes (row_bytes = 64 * blocks), token t at x + t * x_stride (zero-padded to the
 * blocks) and x_sums[t] its sum. */
void edk_ternary2_dots_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int64_t x_stride, const int32_t *x_sums, int32_t token_count, int32_t *dots,
                                  int64_t dots_stride);

/* The same on the 2-bit layout for one token: dots[r] = sum over k < 256 * blocks of w[r][k] * x[k] for r < row_count
 * (row_bytes = 64 * blocks), x zero-padded to the blocks, x_sum its sum. Exact for rows below 2^22 weights (the
 * caller keeps longer rows in C#). Prefetches run up to 8 KB past the weights; they never fault. */
void edk_ternary2_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int32_t x_sum, int32_t *dots);

/* BitLinear on TritPacking's 1.6-bit layout (five codes w + 1 a byte, 32 bytes a 160-weight block), one token: for
 * rows r < row_count,
 *   dots[r] = sum over k < 160 * blocks of w[r][k] * x[k]
 * with row r at weights + r * row_bytes (row_bytes = 32 * blocks, 160 * blocks below 2^19) and x zero-padded to the
 * blocks, x_sum its sum. Any byte decodes as TritPacking.DecodeCode does, including the 13 that no encoder writes. */
void edk_trit_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                              int32_t x_sum, int32_t *dots);

/* MatMulNBits, bits 4, int8 activations (accuracy_level 4), for rows r < rows of B and tokens t < token_count:
 *   y[t * y_stride + r] = sum over blocks j < k_blocks, in order from 0, of
 *       (float)(D - zp[r][j] * block_sums[t * k_blocks + j]) * (block_scales[t * k_blocks + j] * scales[r * k_blocks + j])
 *   then + bias[r] when bias is not NULL; D = sum over the block's k of code[r][k] * x[t][k], in int32
 * B is MatMulNBits' layout from row 0 on: row r at b + r * k_blocks * block_size / 2, two codes a byte, low nibble
 * first. zp[r][j] is nibble j (low nibble first) of zero_points' row r ((k_blocks + 1) / 2 bytes a row), or 8 when
 * zero_points is NULL. Token t's int8 values are at quads + t * quad_stride (in int32s, 4-byte aligned), laid out per
 * 8 values as x[0], x[2], x[4], x[6], x[1], x[3], x[5], x[7] (NBitsDot.EvenThenOdd). block_size is a power of two from
 * 16 to 256 (the kernel's buffers are sized for that), k_blocks at least 1. y holds partial sums between chunks, so it
 * must not overlap any input. */
void edk_nbits4_int8_matmul_avx512vnni(const uint8_t *b, int32_t rows, int32_t k_blocks, int32_t block_size,
                                       const float *scales, const uint8_t *zero_points, const int32_t *quads,
                                       int64_t quad_stride, const float *block_scales, const int32_t *block_sums,
                                       int32_t token_count, const float *bias, float *y, int64_t y_stride);

/* The same three products with arm64's I8MM (USMMLA), for batches: same contracts, same layouts, same activations as
 * the AVX-512 VNNI functions above (whole a_u quads; int8 tokens; plane-ordered 4-byte segments), same results bit
 * for bit. Only when edk_features() reports EDK_ARM64_I8MM. Each keeps partial sums in its output (y or dots) between
 * chunks of K, so the output must not overlap any input. */
void edk_int8_packed_matmul_i8mm(const int8_t *data, int32_t kquads, int32_t k, int32_t n, int32_t tile_start,
                                 int32_t tile_end, const int32_t *column_sums, const int32_t *column_offsets,
                                 const int32_t *quads, int64_t quad_stride, const int32_t *token_sums,
                                 const int32_t *token_zero_points, int32_t token_count, int32_t *y, int64_t y_stride);

void edk_ternary2_dots_i8mm(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                            int64_t x_stride, const int32_t *x_sums, int32_t token_count, int32_t *dots,
                            int64_t dots_stride);

void edk_nbits4_int8_matmul_i8mm(const uint8_t *b, int32_t rows, int32_t k_blocks, int32_t block_size,
                                 const float *scales, const uint8_t *zero_points, const int32_t *quads,
                                 int64_t quad_stride, const float *block_scales, const int32_t *block_sums,
                                 int32_t token_count, const float *bias, float *y, int64_t y_stride);

#ifdef __cplusplus
}
#endif

#endif
