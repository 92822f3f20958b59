/* The arm64 I8MM kernels: USMMLA multiplies a 2x8 matrix of u8 by an 8x2 matrix of s8 and adds the 2x2 int32
 * product to its accumulator, exact. Compiled with -march=armv8.2-a+dotprod+i8mm; called only when edk_features()
 * reports EDK_ARM64_I8MM (HWCAP2_I8MM: Cortex-A510/A710/X2 and later, Neoverse N2/V1/V2). .NET 10 has no API for it.
 *
 * One USMMLA is 32 multiply-adds where SDOT is 16 (whether that makes it faster depends on the core's issue rate for
 * it, which could not be measured here: no arm64 CPU, and qemu times nothing), but it needs both operands as pairs of
 * 8-byte runs: two weight rows (or columns) side by side, and two tokens side by side. So
 * the kernels take batches only (one token would fill half of every product with a copy), the tokens are paired once
 * per chunk of K into a stack buffer (pair_tokens), and the weights are paired in registers with one zip per operand.
 * Each lane of an accumulator is then one (row, token) dot product: lanes (r, t), (r, t + 1), (r + 1, t), (r + 1, t + 1)
 * for weights as the first operand; (t, c), (t, c + 1), (t + 1, c), (t + 1, c + 1) for activations as the first.
 *
 * A missing row or token in a pair (an odd count) is computed from a copy of its partner, or zeros, and never stored.
 * K is walked in chunks of PAIR_CHUNK activation bytes; outputs hold the partial sums between chunks, exactly (integer
 * sums, or float sums stored and reloaded unchanged), so results are bit-identical to the C# references. */
#include <arm_neon.h>
#include <string.h>
#include "edge_kernels.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

enum
{
    /* Activation bytes per token per chunk of K, and tokens paired per chunk: a 32 KB stack buffer. Each chunk of a
     * few weight rows (a tile's 16 KB for MatMulInteger) then stays in L1 while every token group passes over it, and
     * the weights are read from memory once per PAIRED_TOKENS tokens. */
    PAIR_CHUNK = 1024,
    PAIRED_TOKENS = 32,
    /* Token pairs per pass of the BitLinear and MatMulNBits kernels (eight tokens). */
    MAX_TOKEN_PAIRS = 4,
};

/* pairs[p][g] (16 bytes) = bytes from + 8g .. from + 8g + 7 of token 2p, then those of token 2p + 1, for g below
 * ceil(bytes / 8); a token past `tokens` or a byte at or past `valid` reads as zero. Token t starts at x + t * stride. */
static void pair_tokens(const int8_t *x, int64_t stride, int32_t tokens, int64_t from, int32_t bytes, int64_t valid,
                        int8_t *pairs)
{
    const int32_t groups = (bytes + 7) / 8;
    const int32_t pair_count = (tokens + 1) / 2;
    for (int32_t t = 0; t < 2 * pair_count; t++)
    {
        int8_t *out = pairs + ((int64_t)(t / 2) * groups * 16) + ((t % 2) * 8);
        const int64_t available = t < tokens ? valid - from : 0;
        const int8_t *src = x + (t < tokens ? ((int64_t)t * stride) + from : 0);
        for (int32_t g = 0; g < groups; g++)
        {
            const int64_t at = (int64_t)g * 8;
            if (at + 8 <= available)
            {
                memcpy(out + ((int64_t)g * 16), src + at, 8);
            }
            else
            {
                memset(out + ((int64_t)g * 16), 0, 8);
                if (at < available)
                {
                    memcpy(out + ((int64_t)g * 16), src + at, (size_t)(available - at));
                }
            }
        }
    }
}

/* Two 16-byte rows as two USMMLA operands: their first eight bytes side by side, then their last eight. */
ALWAYS_INLINE uint8x16_t pair_low(uint8x16_t a, uint8x16_t b)
{
    return vreinterpretq_u8_u64(vzip1q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}

ALWAYS_INLINE uint8x16_t pair_high(uint8x16_t a, uint8x16_t b)
{
    return vreinterpretq_u8_u64(vzip2q_u64(vreinterpretq_u64_u8(a), vreinterpretq_u64_u8(b)));
}

/* ---- BitLinear, 2-bit ternary codes -----------------------------------------------------------------------------
 * TernaryPacking's 64-byte block holds 256 codes: byte i's bits 2j..2j+1 are the code of weight 64j + i. Sixteen
 * bytes of a row, shifted and masked, are the codes of 16 consecutive weights per j; two rows' codes, zipped, are the
 * weight operand (unsigned, 0..2) and a token pair's 16 bytes the activation one, so Sum(code * x) - Sum(x) is each
 * lane's dot product. Four rows (two pairs) by up to eight tokens (four pairs) per pass: eight accumulators. */
ALWAYS_INLINE void ternary_pass(int row_pairs, int token_pairs, const uint8_t *const rows[4], int32_t blocks,
                                const int8_t *pairs, int64_t pair_bytes, int32x4_t out[2][MAX_TOKEN_PAIRS])
{
    /* Accumulators in locals: the activations are int8_t, which may alias anything, so sums kept behind `out` would
     * be stored and reloaded around every load of them. */
    int32x4_t acc[2][MAX_TOKEN_PAIRS];
#pragma GCC unroll 2
    for (int p = 0; p < row_pairs; p++)
    {
#pragma GCC unroll 4
        for (int q = 0; q < token_pairs; q++)
        {
            acc[p][q] = vdupq_n_s32(0);
        }
    }

    const uint8x16_t three = vdupq_n_u8(3);
    for (int32_t g = 0; g < blocks; g++)
    {
#pragma GCC unroll 4
        for (int i = 0; i < 64; i += 16)
        {
            uint8x16_t packed[4];
#pragma GCC unroll 4
            for (int r = 0; r < 2 * row_pairs; r++)
            {
                packed[r] = vld1q_u8(rows[r] + ((int64_t)g * 64) + i);
            }

#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
            {
                uint8x16_t codes[4];
#pragma GCC unroll 4
                for (int r = 0; r < 2 * row_pairs; r++)
                {
                    codes[r] = vandq_u8(vshlq_u8(packed[r], vdupq_n_s8((int8_t)(-2 * j))), three);
                }

                /* Weight 256g + 64j + i + 8h is in activation group 32g + 8j + i/8 + h. */
                const int8_t *group = pairs + ((((int64_t)g * 32) + (8 * j) + (i / 8)) * 16);
#pragma GCC unroll 2
                for (int h = 0; h < 2; h++)
                {
#pragma GCC unroll 2
                    for (int p = 0; p < row_pairs; p++)
                    {
                        const uint8x16_t w = h == 0 ? pair_low(codes[2 * p], codes[(2 * p) + 1])
                                                    : pair_high(codes[2 * p], codes[(2 * p) + 1]);
#pragma GCC unroll 4
                        for (int q = 0; q < token_pairs; q++)
                        {
                            acc[p][q] = vusmmlaq_s32(acc[p][q], w, vld1q_s8(group + (q * pair_bytes) + (h * 16)));
                        }
                    }
                }
            }
        }
    }

#pragma GCC unroll 2
    for (int p = 0; p < row_pairs; p++)
    {
#pragma GCC unroll 4
        for (int q = 0; q < token_pairs; q++)
        {
            out[p][q] = acc[p][q];
        }
    }
}

#define TERNARY_PASS(R, T)                                                                                             \
    static void ternary_pass_##R##_##T(const uint8_t *const rows[4], int32_t blocks, const int8_t *pairs,             \
                                       int64_t pair_bytes, int32x4_t acc[2][MAX_TOKEN_PAIRS])                         \
    {                                                                                                                  \
        ternary_pass(R, T, rows, blocks, pairs, pair_bytes, acc);                                                     \
    }
TERNARY_PASS(1, 1) TERNARY_PASS(1, 2) TERNARY_PASS(1, 3) TERNARY_PASS(1, 4)
TERNARY_PASS(2, 1) TERNARY_PASS(2, 2) TERNARY_PASS(2, 3) TERNARY_PASS(2, 4)

typedef void (*ternary_pass_fn)(const uint8_t *const[4], int32_t, const int8_t *, int64_t, int32x4_t[2][MAX_TOKEN_PAIRS]);
static const ternary_pass_fn ternary_passes[2][MAX_TOKEN_PAIRS] = {
    {ternary_pass_1_1, ternary_pass_1_2, ternary_pass_1_3, ternary_pass_1_4},
    {ternary_pass_2_1, ternary_pass_2_2, ternary_pass_2_3, ternary_pass_2_4},
};

void edk_ternary2_dots_i8mm(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                            int64_t x_stride, const int32_t *x_sums, int32_t token_count, int32_t *dots,
                            int64_t dots_stride)
{
    int8_t pairs[PAIRED_TOKENS * PAIR_CHUNK] __attribute__((aligned(16)));
    const int64_t k = (int64_t)row_bytes * 4;
    for (int32_t batch = 0; batch < token_count; batch += PAIRED_TOKENS)
    {
        const int32_t batch_tokens = token_count - batch < PAIRED_TOKENS ? token_count - batch : PAIRED_TOKENS;
        /* K = 0 still runs once, so the dots are written (as -x_sums). */
        for (int64_t from = 0; from < k || from == 0; from += PAIR_CHUNK)
        {
            const int32_t bytes = k - from < PAIR_CHUNK ? (int32_t)(k - from) : PAIR_CHUNK;
            const int64_t pair_bytes = (int64_t)(bytes / 8) * 16;
            pair_tokens(x + (batch * x_stride), x_stride, batch_tokens, from, bytes, k, pairs);
            for (int32_t row = 0; row < row_count; row += 4)
            {
                const int rows = row_count - row < 4 ? row_count - row : 4;
                const uint8_t *at[4];
                for (int r = 0; r < 4; r++)
                {
                    /* A missing row repeats the last real one; its lanes are never stored. */
                    at[r] = weights + ((int64_t)(row + (r < rows ? r : rows - 1)) * row_bytes) + (from / 4);
                }

                /* Every token group against these rows while their chunk (1 KB) is in L1. */
                for (int32_t first = 0; first < batch_tokens; first += 2 * MAX_TOKEN_PAIRS)
                {
                    const int32_t tokens = batch_tokens - first < 2 * MAX_TOKEN_PAIRS ? batch_tokens - first : 2 * MAX_TOKEN_PAIRS;
                    const int row_pairs = (rows + 1) / 2, token_pairs = (tokens + 1) / 2;
                    int32x4_t acc[2][MAX_TOKEN_PAIRS]; /* the pass sets [p < row_pairs][q < token_pairs] */
                    ternary_passes[row_pairs - 1][token_pairs - 1](at, bytes / 256, pairs + ((first / 2) * pair_bytes),
                                                                   pair_bytes, acc);
                    for (int p = 0; p < row_pairs; p++)
                    {
                        for (int q = 0; q < token_pairs; q++)
                        {
                            int32_t lanes[4];
                            vst1q_s32(lanes, acc[p][q]);
                            for (int lane = 0; lane < 4; lane++)
                            {
                                const int32_t r = row + (2 * p) + (lane / 2), t = batch + first + (2 * q) + (lane % 2);
                                if (r < row + rows && t < batch + first + tokens)
                                {
                                    int32_t *d = dots + (t * dots_stride) + r;
                                    const uint32_t before = from == 0 ? 0u - (uint32_t)x_sums[t] : (uint32_t)*d;
                                    *d = (int32_t)(before + (uint32_t)lanes[lane]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/* ---- MatMulNBits, bits 4, int8 activations ----------------------------------------------------------------------
 * A packed dword holds codes 8d..8d+7, the even ones in its low nibbles; the activations come in the order that
 * matches (quad 2d the even values, quad 2d + 1 the odd ones), so a dword's low nibbles then its high nibbles are one
 * eight-byte operand against that group's activations. Sixteen bytes of a row (four dwords) become four groups with
 * two masks and two zips, and two rows' groups zip into four weight operands. Four rows by up to eight tokens per
 * pass; after each block the lanes' integer dots take the block's float steps, lane by lane in the C# order. */
ALWAYS_INLINE int32x4_t lanes_by_row(int32_t row0, int32_t row1)
{
    return vcombine_s32(vdup_n_s32(row0), vdup_n_s32(row1));
}

ALWAYS_INLINE int32x4_t lanes_by_token(int32_t token0, int32_t token1)
{
    const int32x2_t pair = vset_lane_s32(token1, vdup_n_s32(token0), 1);
    return vcombine_s32(pair, pair);
}

typedef struct
{
    const uint8_t *rows[4];    /* this chunk's first block of each row (a missing row repeats the last real one) */
    const float *scales[4];    /* each row's weight scales, from block 0 */
    int32_t zero_points[4];    /* row index into zero_points, or -1 when none were given (all 8) */
    const uint8_t *zp_base;
    int32_t zp_row_bytes;
} nb4_rows;

typedef struct
{
    int32_t tokens[2 * MAX_TOKEN_PAIRS]; /* absolute token indices (a missing one repeats its partner) */
    const float *block_scales;
    const int32_t *block_sums;
    int32_t k_blocks;
} nb4_tokens;

ALWAYS_INLINE int32_t nb4_zero_point(const nb4_rows *in, int r, int32_t block)
{
    return in->zero_points[r] < 0 ? 8
           : (in->zp_base[((int64_t)in->zero_points[r] * in->zp_row_bytes) + (block / 2)] >> ((block % 2) * 4)) & 0x0F;
}

ALWAYS_INLINE void nb4_pass(int row_pairs, int token_pairs, const nb4_rows *in, const nb4_tokens *tk,
                            int32_t first_block, int32_t blocks, int32_t blob, const int8_t *pairs, int64_t pair_bytes,
                            float32x4_t running[2][MAX_TOKEN_PAIRS])
{
    /* Sums in locals (see ternary_pass). */
    float32x4_t sums[2][MAX_TOKEN_PAIRS];
#pragma GCC unroll 2
    for (int p = 0; p < row_pairs; p++)
    {
#pragma GCC unroll 4
        for (int q = 0; q < token_pairs; q++)
        {
            sums[p][q] = running[p][q];
        }
    }

    const uint8x16_t low = vdupq_n_u8(0x0F);
    for (int32_t cb = 0; cb < blocks; cb++)
    {
        int32x4_t acc[2][MAX_TOKEN_PAIRS];
#pragma GCC unroll 2
        for (int p = 0; p < row_pairs; p++)
        {
#pragma GCC unroll 4
            for (int q = 0; q < token_pairs; q++)
            {
                acc[p][q] = vdupq_n_s32(0);
            }
        }

        for (int32_t s = 0; s < blob; s += 16)
        {
            const int whole = blob - s >= 16;
            uint32x4_t even[4], odd[4];
#pragma GCC unroll 4
            for (int r = 0; r < 2 * row_pairs; r++)
            {
                const uint8_t *at = in->rows[r] + ((int64_t)cb * blob) + s;
                const uint8x16_t v = whole ? vld1q_u8(at) : vcombine_u8(vld1_u8(at), vdup_n_u8(0));
                const uint32x4_t lo = vreinterpretq_u32_u8(vandq_u8(v, low));
                const uint32x4_t hi = vreinterpretq_u32_u8(vshrq_n_u8(v, 4));
                even[r] = vzip1q_u32(lo, hi); /* dwords 0 and 1 as groups */
                odd[r] = vzip2q_u32(lo, hi);  /* dwords 2 and 3 */
            }

            /* Group (block, s) of this chunk's pairs: 2s codes into the block, eight codes a group. */
            const int8_t *group = pairs + (((((int64_t)cb * blob) + s) / 4) * 16);
#pragma GCC unroll 4
            for (int d = 0; d < 4; d++)
            {
                if (d >= 2 && !whole)
                {
                    break;
                }

#pragma GCC unroll 2
                for (int p = 0; p < row_pairs; p++)
                {
                    const uint32x4_t *src = d < 2 ? even : odd;
                    const uint8x16_t a = vreinterpretq_u8_u32(src[2 * p]), b = vreinterpretq_u8_u32(src[(2 * p) + 1]);
                    const uint8x16_t w = d % 2 == 0 ? pair_low(a, b) : pair_high(a, b);
#pragma GCC unroll 4
                    for (int q = 0; q < token_pairs; q++)
                    {
                        acc[p][q] = vusmmlaq_s32(acc[p][q], w, vld1q_s8(group + (q * pair_bytes) + (d * 16)));
                    }
                }
            }
        }

        /* sum += (float)(dot - zp * block_sum) * (block_scale * weight_scale), as NBitsReference does. */
        const int32_t block = first_block + cb;
#pragma GCC unroll 2
        for (int p = 0; p < row_pairs; p++)
        {
            const int32x4_t zp = lanes_by_row(nb4_zero_point(in, 2 * p, block), nb4_zero_point(in, (2 * p) + 1, block));
            const float32x4_t scale = vcombine_f32(vdup_n_f32(in->scales[2 * p][block]), vdup_n_f32(in->scales[(2 * p) + 1][block]));
#pragma GCC unroll 4
            for (int q = 0; q < token_pairs; q++)
            {
                const int64_t t0 = ((int64_t)tk->tokens[2 * q] * tk->k_blocks) + block;
                const int64_t t1 = ((int64_t)tk->tokens[(2 * q) + 1] * tk->k_blocks) + block;
                const int32x4_t block_sum = lanes_by_token(tk->block_sums[t0], tk->block_sums[t1]);
                const float32x2_t half = vset_lane_f32(tk->block_scales[t1], vdup_n_f32(tk->block_scales[t0]), 1);
                const float32x4_t block_scale = vcombine_f32(half, half);
                const int32x4_t exact = vsubq_s32(acc[p][q], vmulq_s32(zp, block_sum));
                const float32x4_t term = vmulq_f32(vcvtq_f32_s32(exact), vmulq_f32(block_scale, scale));
                sums[p][q] = vaddq_f32(sums[p][q], term);
            }
        }
    }

#pragma GCC unroll 2
    for (int p = 0; p < row_pairs; p++)
    {
#pragma GCC unroll 4
        for (int q = 0; q < token_pairs; q++)
        {
            running[p][q] = sums[p][q];
        }
    }
}

#define NB4_PASS(R, T)                                                                                                 \
    static void nb4_pass_##R##_##T(const nb4_rows *in, const nb4_tokens *tk, int32_t first_block, int32_t blocks,     \
                                   int32_t blob, const int8_t *pairs, int64_t pair_bytes,                             \
                                   float32x4_t sums[2][MAX_TOKEN_PAIRS])                                             \
    {                                                                                                                  \
        nb4_pass(R, T, in, tk, first_block, blocks, blob, pairs, pair_bytes, sums);                                   \
    }
NB4_PASS(1, 1) NB4_PASS(1, 2) NB4_PASS(1, 3) NB4_PASS(1, 4)
NB4_PASS(2, 1) NB4_PASS(2, 2) NB4_PASS(2, 3) NB4_PASS(2, 4)

typedef void (*nb4_pass_fn)(const nb4_rows *, const nb4_tokens *, int32_t, int32_t, int32_t, const int8_t *, int64_t,
                            float32x4_t[2][MAX_TOKEN_PAIRS]);
static const nb4_pass_fn nb4_passes[2][MAX_TOKEN_PAIRS] = {
    {nb4_pass_1_1, nb4_pass_1_2, nb4_pass_1_3, nb4_pass_1_4},
    {nb4_pass_2_1, nb4_pass_2_2, nb4_pass_2_3, nb4_pass_2_4},
};

void edk_nbits4_int8_matmul_i8mm(const uint8_t *b, int32_t rows, int32_t k_blocks, int32_t block_size,
                                 const float *scales, const uint8_t *zero_points, const int32_t *quads,
                                 int64_t quad_stride, const float *block_scales, const int32_t *block_sums,
                                 int32_t token_count, const float *bias, float *y, int64_t y_stride)
{
    int8_t pairs[PAIRED_TOKENS * PAIR_CHUNK] __attribute__((aligned(16)));
    const int32_t blob = block_size / 2;
    const int64_t row_bytes = (int64_t)k_blocks * blob;
    const int64_t k = (int64_t)k_blocks * block_size;
    const int32_t chunk_blocks = block_size >= PAIR_CHUNK ? 1 : PAIR_CHUNK / block_size;
    const int32_t zp_row_bytes = ((k_blocks * 4) + 7) / 8;
    for (int32_t batch = 0; batch < token_count; batch += PAIRED_TOKENS)
    {
        const int32_t batch_tokens = token_count - batch < PAIRED_TOKENS ? token_count - batch : PAIRED_TOKENS;
        for (int32_t first_block = 0; first_block < k_blocks; first_block += chunk_blocks)
        {
            const int32_t blocks = k_blocks - first_block < chunk_blocks ? k_blocks - first_block : chunk_blocks;
            const int32_t bytes = blocks * block_size;
            const int64_t pair_bytes = (int64_t)(bytes / 8) * 16;
            const int opens = first_block == 0, closes = first_block + blocks == k_blocks;
            pair_tokens((const int8_t *)(quads + (batch * quad_stride)), quad_stride * 4, batch_tokens,
                        (int64_t)first_block * block_size, bytes, k, pairs);
            for (int32_t row = 0; row < rows; row += 4)
            {
                const int count = rows - row < 4 ? rows - row : 4;
                nb4_rows in = {.zp_base = zero_points, .zp_row_bytes = zp_row_bytes};
                for (int r = 0; r < 4; r++)
                {
                    const int32_t at = row + (r < count ? r : count - 1);
                    in.rows[r] = b + (at * row_bytes) + ((int64_t)first_block * blob);
                    in.scales[r] = scales + ((int64_t)at * k_blocks);
                    in.zero_points[r] = zero_points == NULL ? -1 : at;
                }

                for (int32_t first = 0; first < batch_tokens; first += 2 * MAX_TOKEN_PAIRS)
                {
                    const int32_t tokens = batch_tokens - first < 2 * MAX_TOKEN_PAIRS ? batch_tokens - first : 2 * MAX_TOKEN_PAIRS;
                    const int token_pairs = (tokens + 1) / 2;
                    const int32_t t0 = batch + first;
                    nb4_tokens tk = {{0}, block_scales, block_sums, k_blocks};
                    for (int t = 0; t < 2 * MAX_TOKEN_PAIRS; t++)
                    {
                        tk.tokens[t] = t0 + (t < tokens ? t : tokens - 1);
                    }

                    const int row_pairs = (count + 1) / 2;
                    float32x4_t sums[2][MAX_TOKEN_PAIRS];
                    for (int p = 0; p < row_pairs; p++)
                    {
                        for (int q = 0; q < token_pairs; q++)
                        {
                            /* The first block adds to +0, as the C# sum does (0 + -0 is +0). */
                            float lanes[4] = {0};
                            for (int lane = 0; lane < 4 && !opens; lane++)
                            {
                                const int32_t r = row + (2 * p) + (lane / 2), t = t0 + (2 * q) + (lane % 2);
                                lanes[lane] = r < row + count && t < t0 + tokens ? y[(t * y_stride) + r] : 0;
                            }

                            sums[p][q] = vld1q_f32(lanes);
                        }
                    }

                    nb4_passes[row_pairs - 1][token_pairs - 1](&in, &tk, first_block, blocks, blob,
                                                               pairs + ((first / 2) * pair_bytes), pair_bytes, sums);
                    for (int p = 0; p < row_pairs; p++)
                    {
                        for (int q = 0; q < token_pairs; q++)
                        {
                            float lanes[4];
                            vst1q_f32(lanes, sums[p][q]);
                            for (int lane = 0; lane < 4; lane++)
                            {
                                const int32_t r = row + (2 * p) + (lane / 2), t = t0 + (2 * q) + (lane % 2);
                                if (r < row + count && t < t0 + tokens)
                                {
                                    y[(t * y_stride) + r] = closes && bias != NULL ? lanes[lane] + bias[r] : lanes[lane];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/* ---- MatMulInteger, prepacked B ---------------------------------------------------------------------------------
 * PackedInt8Weights' 64-byte group holds 16 columns' four values of rows 4q..4q+3. Two groups q and q + 1, zipped by
 * 32 bits, give each column's eight values side by side with its neighbour's: eight weight operands (signed) for the
 * tile's eight column pairs, met by a token pair's quads 2g and 2g + 1 (unsigned a_u) in one USMMLA each. One tile by
 * up to four tokens per pass: 16 accumulators. Partial sums S wait in y between chunks of K; the zero-point terms are
 * applied once at the end, in wrapping 32-bit arithmetic as the C# kernels do. */
ALWAYS_INLINE void int8_pass(int token_pairs, const int8_t *tile, int32_t q_begin, int32_t q_end, int32_t kquads,
                             const uint8_t *pairs, int64_t pair_bytes, int32x4_t out[8][2])
{
    /* Accumulators in locals (see ternary_pass). */
    int32x4_t acc[8][2];
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++)
    {
        acc[c][0] = vdupq_n_s32(0);
        acc[c][1] = vdupq_n_s32(0);
    }

    for (int32_t q = q_begin; q < q_end; q += 2)
    {
        const int8_t *g0 = tile + ((int64_t)q * 64);
        const int has_next = q + 1 < kquads;
        const uint8_t *group = pairs + (((int64_t)(q - q_begin) / 2) * 16);
        uint8x16_t x[2];
#pragma GCC unroll 2
        for (int t = 0; t < token_pairs; t++)
        {
            x[t] = vld1q_u8(group + (t * pair_bytes));
        }

#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
        {
            const uint32x4_t a = vreinterpretq_u32_s8(vld1q_s8(g0 + (16 * i)));
            const uint32x4_t b = has_next ? vreinterpretq_u32_s8(vld1q_s8(g0 + 64 + (16 * i))) : vdupq_n_u32(0);
            const int8x16_t w0 = vreinterpretq_s8_u32(vzip1q_u32(a, b)); /* columns 4i, 4i + 1 */
            const int8x16_t w1 = vreinterpretq_s8_u32(vzip2q_u32(a, b)); /* columns 4i + 2, 4i + 3 */
#pragma GCC unroll 2
            for (int t = 0; t < token_pairs; t++)
            {
                acc[2 * i][t] = vusmmlaq_s32(acc[2 * i][t], x[t], w0);
                acc[(2 * i) + 1][t] = vusmmlaq_s32(acc[(2 * i) + 1][t], x[t], w1);
            }
        }
    }

#pragma GCC unroll 8
    for (int c = 0; c < 8; c++)
    {
        out[c][0] = acc[c][0];
        out[c][1] = acc[c][1];
    }
}

static __attribute__((noinline)) void int8_pass_1(const int8_t *tile, int32_t q_begin, int32_t q_end, int32_t kquads, const uint8_t *pairs,
                        int64_t pair_bytes, int32x4_t acc[8][2])
{
    int8_pass(1, tile, q_begin, q_end, kquads, pairs, pair_bytes, acc);
}

static __attribute__((noinline)) void int8_pass_2(const int8_t *tile, int32_t q_begin, int32_t q_end, int32_t kquads, const uint8_t *pairs,
                        int64_t pair_bytes, int32x4_t acc[8][2])
{
    int8_pass(2, tile, q_begin, q_end, kquads, pairs, pair_bytes, acc);
}

void edk_int8_packed_matmul_i8mm(const int8_t *data, int32_t kquads, int32_t k, int32_t n, int32_t tile_start,
                                 int32_t tile_end, const int32_t *column_sums, const int32_t *column_offsets,
                                 const int32_t *quads, int64_t quad_stride, const int32_t *token_sums,
                                 const int32_t *token_zero_points, int32_t token_count, int32_t *y, int64_t y_stride)
{
    enum { TOKENS = 4, CHUNK_QUADS = PAIR_CHUNK / 4 };
    uint8_t pairs[PAIRED_TOKENS * PAIR_CHUNK] __attribute__((aligned(16)));
    const int64_t tile_bytes = (int64_t)kquads * 64;
    for (int32_t batch = 0; batch < token_count; batch += PAIRED_TOKENS)
    {
        const int32_t batch_tokens = token_count - batch < PAIRED_TOKENS ? token_count - batch : PAIRED_TOKENS;
        for (int32_t q = 0; q < kquads || q == 0; q += CHUNK_QUADS)
        {
            const int32_t q_end = kquads - q < CHUNK_QUADS ? kquads : q + CHUNK_QUADS;
            const int opens = q == 0, closes = q_end == kquads;
            const int32_t bytes = (q_end - q) * 4;
            const int64_t pair_bytes = (int64_t)((bytes + 7) / 8) * 16;
            pair_tokens((const int8_t *)(quads + (batch * quad_stride)), quad_stride * 4, batch_tokens, (int64_t)q * 4,
                        bytes, (int64_t)kquads * 4, (int8_t *)pairs);
            for (int32_t tile = tile_start; tile < tile_end; tile++)
            {
                const int8_t *at = data + (tile * tile_bytes);
                for (int32_t first = 0; first < batch_tokens; first += TOKENS)
                {
                    const int32_t tokens = batch_tokens - first < TOKENS ? batch_tokens - first : TOKENS;
                    const int token_pairs = (tokens + 1) / 2;
                    const int32_t t0 = batch + first;
                    int32x4_t acc[8][2]; /* the pass sets all of it */
                    const uint8_t *group = pairs + ((first / 2) * pair_bytes);
                    if (token_pairs == 1)
                    {
                        int8_pass_1(at, q, q_end, kquads, group, pair_bytes, acc);
                    }
                    else
                    {
                        int8_pass_2(at, q, q_end, kquads, group, pair_bytes, acc);
                    }

                    for (int c = 0; c < 8; c++)
                    {
                        for (int p = 0; p < token_pairs; p++)
                        {
                            int32_t lanes[4];
                            vst1q_s32(lanes, acc[c][p]);
                            for (int lane = 0; lane < 4; lane++)
                            {
                                const int32_t t = t0 + (2 * p) + (lane / 2), column = (tile * 16) + (2 * c) + (lane % 2);
                                if (t >= t0 + tokens || column >= n)
                                {
                                    continue;
                                }

                                int32_t *out = y + (t * y_stride) + column;
                                uint32_t s = (uint32_t)lanes[lane] + (opens ? 0u : (uint32_t)*out);
                                if (closes)
                                {
                                    const uint32_t offset = (uint32_t)column_offsets[column];
                                    const uint32_t zero_point = (uint32_t)token_zero_points[t];
                                    s = s - (offset * (uint32_t)token_sums[t]) - (zero_point * (uint32_t)column_sums[column])
                                        + ((uint32_t)k * zero_point * offset);
                                }

                                *out = (int32_t)s;
                            }
                        }
                    }
                }
            }
        }
    }
}
