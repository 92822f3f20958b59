/* The AVX-512 VNNI kernels: vpdpbusd on 512 bits, 64 u8 x s8 products summed four at a time into 16 int32 lanes
 * per instruction, exact (no 16-bit stage, no saturation). Compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512vnni; called only when edk_features() reports EDK_X64_AVX512_VNNI.
 *
 * Each kernel is one register-blocked body, specialised for every block size by inlining it with constant sizes,
 * so the accumulators live in zmm registers. */
#include <immintrin.h>
#include "edge_kernels.h"
#include "x64_avx512_common.h"

/* ---- MatMulInteger, prepacked B ---------------------------------------------------------------------------------
 * A 64-byte group is one zmm: lane c holds column c's four rows. A token's quad, broadcast, meets every column in one
 * vpdpbusd. Four tiles by up to four tokens per pass, all 16 accumulators in registers: each loaded group serves four
 * tokens and each broadcast four tiles (fewer broadcasts per vpdpbusd ran faster: 1.78 against 2.04 ms for two tiles by
 * eight tokens, 2560x6912x32 on one thread of an AVX-512 EPYC, in a scratch harness; the broadcasts likely compete
 * with vpdpbusd for the vector pipes). K is
 * walked in chunks of INT8_CHUNK quads (32 KB of the four tiles) that stay in L1 while every token of a block passes
 * over them; the partial sums wait in a stack buffer between chunks.
 * The zero-point terms are applied in registers and only the columns below n are stored. */
enum { INT8_TILES = 4, INT8_TOKENS = 4, INT8_BLOCK = 48, INT8_CHUNK = 128 };

typedef struct
{
    const int32_t *quads;
    int64_t quad_stride;
    const int32_t *sums;
    const int32_t *zero_points;
    int32_t k;
} int8_tokens;

ALWAYS_INLINE void int8_store(__m512i s, const int32_t *column_sums, const int32_t *column_offsets, int32_t column,
                              int32_t n, int32_t token_sum, int32_t zero_point, int32_t k, int32_t *y)
{
    const __m512i offsets = _mm512_loadu_si512(column_offsets + column);
    const __m512i sums = _mm512_loadu_si512(column_sums + column);
    const __m512i a = _mm512_set1_epi32(zero_point);
    __m512i out = _mm512_sub_epi32(s, _mm512_mullo_epi32(offsets, _mm512_set1_epi32(token_sum)));
    out = _mm512_sub_epi32(out, _mm512_mullo_epi32(a, sums));
    out = _mm512_add_epi32(out, _mm512_mullo_epi32(_mm512_mullo_epi32(_mm512_set1_epi32(k), a), offsets));
    const int32_t left = n - column;
    const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
    _mm512_mask_storeu_epi32(y + column, mask, out);
}

typedef struct
{
    const int8_t *tile0;
    int64_t tile_bytes;
    int32_t q_begin, q_end;
    int first_chunk, last_chunk;
    __m512i *partial; /* [tile][INT8_BLOCK] partial sums between chunks */
    const int32_t *column_sums, *column_offsets;
    int32_t column, n;
    int32_t *y;
    int64_t y_stride;
} int8_chunk;

ALWAYS_INLINE void int8_pass(int tiles, int tokens, int8_tokens in, int8_chunk ch)
{
    __m512i acc[INT8_TILES][INT8_TOKENS];
#pragma GCC unroll 4
    for (int i = 0; i < tiles; i++)
    {
#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            acc[i][t] = ch.first_chunk ? _mm512_setzero_si512() : ch.partial[(i * INT8_BLOCK) + t];
        }
    }

    for (int32_t q = ch.q_begin; q < ch.q_end; q++)
    {
        __m512i w[INT8_TILES];
#pragma GCC unroll 4
        for (int i = 0; i < tiles; i++)
        {
            w[i] = _mm512_loadu_si512(ch.tile0 + (i * ch.tile_bytes) + ((int64_t)q * 64));
        }

#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            __m512i a = _mm512_set1_epi32(in.quads[(t * in.quad_stride) + q]);
#pragma GCC unroll 4
            for (int i = 0; i < tiles; i++)
            {
                acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], a, w[i]);
            }
        }
    }

#pragma GCC unroll 4
    for (int t = 0; t < tokens; t++)
    {
#pragma GCC unroll 4
        for (int i = 0; i < tiles; i++)
        {
            if (ch.last_chunk)
            {
                int8_store(acc[i][t], ch.column_sums, ch.column_offsets, ch.column + (16 * i), ch.n, in.sums[t],
                           in.zero_points[t], in.k, ch.y + (t * ch.y_stride));
            }
            else
            {
                ch.partial[(i * INT8_BLOCK) + t] = acc[i][t];
            }
        }
    }
}

/* Every (tiles, tokens) block size as its own specialisation of int8_pass. */
#define INT8_PASS(I, T)                                                                                                \
    static void int8_pass_##I##_##T(int8_tokens in, int8_chunk ch)                                                     \
    {                                                                                                                  \
        int8_pass(I, T, in, ch);                                                                                       \
    }
#define INT8_PASSES(I) INT8_PASS(I, 1) INT8_PASS(I, 2) INT8_PASS(I, 3) INT8_PASS(I, 4)
INT8_PASSES(1)
INT8_PASSES(2)
INT8_PASSES(3)
INT8_PASSES(4)

typedef void (*int8_pass_fn)(int8_tokens, int8_chunk);
#define INT8_ROW(I) {int8_pass_##I##_1, int8_pass_##I##_2, int8_pass_##I##_3, int8_pass_##I##_4}
static const int8_pass_fn int8_passes[INT8_TILES][INT8_TOKENS] = {INT8_ROW(1), INT8_ROW(2), INT8_ROW(3), INT8_ROW(4)};

void edk_int8_packed_matmul_avx512vnni(const int8_t *data, int32_t kquads, int32_t k, int32_t n, int32_t tile_start,
                                       int32_t tile_end, const int32_t *column_sums, const int32_t *column_offsets,
                                       const int32_t *quads, int64_t quad_stride, const int32_t *token_sums,
                                       const int32_t *token_zero_points, int32_t token_count, int32_t *y,
                                       int64_t y_stride)
{
    __m512i partial[INT8_TILES * INT8_BLOCK];
    const int64_t tile_bytes = (int64_t)kquads * 64;
    for (int32_t tile = tile_start; tile < tile_end; tile += INT8_TILES)
    {
        const int tiles = tile_end - tile < INT8_TILES ? tile_end - tile : INT8_TILES;
        for (int32_t block = 0; block < token_count; block += INT8_BLOCK)
        {
            const int32_t block_end = token_count - block < INT8_BLOCK ? token_count : block + INT8_BLOCK;
            for (int32_t q = 0; q < kquads || q == 0; q += INT8_CHUNK)
            {
                const int32_t q_end = kquads - q < INT8_CHUNK ? kquads : q + INT8_CHUNK;
                for (int32_t first = block; first < block_end; first += INT8_TOKENS)
                {
                    const int tokens = block_end - first < INT8_TOKENS ? block_end - first : INT8_TOKENS;
                    const int8_tokens group = {quads + (first * quad_stride), quad_stride, token_sums + first,
                                               token_zero_points + first, k};
                    const int8_chunk chunk = {data + (tile * tile_bytes), tile_bytes, q, q_end, q == 0,
                                              q_end == kquads, partial + (first - block), column_sums, column_offsets,
                                              tile * 16, n, y + (first * y_stride), y_stride};
                    int8_passes[tiles - 1][tokens - 1](group, chunk);
                }
            }
        }
    }
}

/* ---- BitLinear, 2-bit ternary codes, one token ------------------------------------------------------------------
 * Decode reads every weight once from DRAM, so this form is shaped around the stream: one row at a time (one linear
 * stream per thread) with software prefetch, because without it the hardware prefetcher left a first version (two rows
 * a pass) at about half the speed of bitnet.cpp (0.57x in bench-kernels --quick, 2560x6912 and 6912x2560, two
 * threads, 2026-12-07). The prefetches go to L2 (T1), not L1: on a Zen 4 EPYC (AVX-512 VNNI without AVX-VNNI) the
 * same kernel prefetching into L1 streamed at 0.60-0.92x bitnet.cpp and into L2 at 0.94-1.22x (KernelBench --quick,
 * 2026-12-08), while on the Zen 5 EPYC it was tuned on, L2 measured within about a tenth of L1 in a scratch harness.
 *
 * Codes are not shifted down: masking a block with 3 << 2j leaves code j times 4^j in each byte (at most 192, still a
 * valid unsigned vpdpbusd operand), so accumulator j holds 4^j times its share of the dot product in every lane and an
 * exact arithmetic shift by 2j at the end recovers it. That drops the three shifts a block of the batch form below
 * pays. Lane sums stay within int32 for any row below 2^22 weights (per lane and block, at most 4 * 192 * 128 added).
 *
 * Two blocks a step into two sets of four accumulators keep eight vpdpbusd chains in flight, so a block's products
 * do not wait on the previous block's. */
enum { TERNARY2_GEMV_AHEAD = 8192 };

ALWAYS_INLINE void gemv_block(const uint8_t *w, const int8_t *x, __m512i acc[4])
{
    const __m512i p = _mm512_loadu_si512(w);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
    {
        const __m512i codes = _mm512_and_si512(p, _mm512_set1_epi8((char)(3 << (2 * j))));
        acc[j] = _mm512_dpbusd_epi32(acc[j], codes, _mm512_loadu_si512(x + (64 * j)));
    }
}

void edk_ternary2_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int32_t x_sum, int32_t *dots)
{
    const int32_t blocks = row_bytes / 64;
    for (int32_t r = 0; r < row_count; r++)
    {
        const uint8_t *w = weights + ((int64_t)r * row_bytes);
        __m512i even[4], odd[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
        {
            even[j] = _mm512_setzero_si512();
            odd[j] = _mm512_setzero_si512();
        }

        /* One line requested per line read, TERNARY2_GEMV_AHEAD bytes ahead; rows follow each other, so the requests
         * run on into the next rows. Addresses past the weights are only hints (a prefetch never faults), so they are
         * formed as integers. */
        const uintptr_t ahead = (uintptr_t)w + TERNARY2_GEMV_AHEAD;
        int32_t g = 0;
        for (; g + 2 <= blocks; g += 2)
        {
            _mm_prefetch((const char *)(ahead + ((uintptr_t)g * 64)), _MM_HINT_T1);
            _mm_prefetch((const char *)(ahead + ((uintptr_t)g * 64) + 64), _MM_HINT_T1);
            gemv_block(w + ((int64_t)g * 64), x + ((int64_t)g * 256), even);
            gemv_block(w + ((int64_t)g * 64) + 64, x + ((int64_t)g * 256) + 256, odd);
        }

        if (g < blocks)
        {
            _mm_prefetch((const char *)(ahead + ((uintptr_t)g * 64)), _MM_HINT_T1);
            gemv_block(w + ((int64_t)g * 64), x + ((int64_t)g * 256), even);
        }

        __m512i s = _mm512_add_epi32(even[0], odd[0]);
#pragma GCC unroll 3
        for (int j = 1; j < 4; j++)
        {
            s = _mm512_add_epi32(s, _mm512_srai_epi32(_mm512_add_epi32(even[j], odd[j]), 2 * j));
        }

        dots[r] = reduce_lanes(s) - x_sum;
    }
}

/* ---- BitLinear, 2-bit ternary codes -----------------------------------------------------------------------------
 * A 64-byte block is one zmm holding 256 codes; shifting by 2j and masking gives the 64 codes (0..2) that meet the
 * 64 activations at 64j, so vpdpbusd takes the codes as its unsigned operand and the activations as its signed
 * one. Sum(code * x) - Sum(x) = Sum(w * x). Four rows by four tokens per pass: each unpacked block serves four tokens
 * and each activation load four rows. The caller uses it for batches only; one token takes the form above. */
enum { TERNARY_ROWS = 4, TERNARY_TOKENS = 4 };

ALWAYS_INLINE void ternary_pass(const uint8_t *w, int32_t row_bytes, int rows, const int8_t *x, int64_t x_stride,
                                int tokens, const int32_t *x_sums, int32_t *dots, int64_t dots_stride)
{
    const __m512i three = _mm512_set1_epi8(3);
    const int32_t blocks = row_bytes / 64;
    /* acc[r][t], or with one token acc[r][j] (TERNARY_TOKENS == 4 == the four j). */
    __m512i acc[TERNARY_ROWS][TERNARY_TOKENS];
    const int slots = tokens == 1 ? 4 : tokens;
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
    {
#pragma GCC unroll 4
        for (int t = 0; t < slots; t++)
        {
            acc[r][t] = _mm512_setzero_si512();
        }
    }

    for (int32_t g = 0; g < blocks; g++)
    {
        __m512i packed[TERNARY_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
        {
            packed[r] = _mm512_loadu_si512(w + ((int64_t)r * row_bytes) + ((int64_t)g * 64));
        }

#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
        {
            __m512i codes[TERNARY_ROWS];
#pragma GCC unroll 4
            for (int r = 0; r < rows; r++)
            {
                codes[r] = _mm512_and_si512(_mm512_srli_epi16(packed[r], 2 * j), three);
            }

#pragma GCC unroll 4
            for (int t = 0; t < tokens; t++)
            {
                __m512i xv = _mm512_loadu_si512(x + (t * x_stride) + ((int64_t)g * 256) + (j * 64));
                /* One token would leave four dependent vpdpbusd per row and block; it takes a register per j instead. */
                const int slot = tokens == 1 ? j : t;
#pragma GCC unroll 4
                for (int r = 0; r < rows; r++)
                {
                    acc[r][slot] = _mm512_dpbusd_epi32(acc[r][slot], codes[r], xv);
                }
            }
        }
    }

    if (tokens == 1)
    {
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
        {
            acc[r][0] = _mm512_add_epi32(_mm512_add_epi32(acc[r][0], acc[r][1]), _mm512_add_epi32(acc[r][2], acc[r][3]));
        }
    }

#pragma GCC unroll 4
    for (int t = 0; t < tokens; t++)
    {
#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
        {
            dots[(t * dots_stride) + r] = reduce_lanes(acc[r][t]) - x_sums[t];
        }
    }
}

#define TERNARY_CASE(R, T)                                                                                             \
    case (R) * 8 + (T):                                                                                                \
        ternary_pass(rows_at, row_bytes, R, tokens_at, x_stride, T, x_sums + first, dots_at, dots_stride);           \
        break;

void edk_ternary2_dots_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int64_t x_stride, const int32_t *x_sums, int32_t token_count, int32_t *dots,
                                  int64_t dots_stride)
{
    for (int32_t first = 0; first < token_count; first += TERNARY_TOKENS)
    {
        const int tokens = token_count - first < TERNARY_TOKENS ? token_count - first : TERNARY_TOKENS;
        const int8_t *tokens_at = x + (first * x_stride);
        for (int32_t row = 0; row < row_count; row += TERNARY_ROWS)
        {
            const int rows = row_count - row < TERNARY_ROWS ? row_count - row : TERNARY_ROWS;
            const uint8_t *rows_at = weights + ((int64_t)row * row_bytes);
            int32_t *dots_at = dots + (first * dots_stride) + row;
            switch ((rows * 8) + tokens)
            {
                TERNARY_CASE(1, 1) TERNARY_CASE(1, 2) TERNARY_CASE(1, 3) TERNARY_CASE(1, 4)
                TERNARY_CASE(2, 1) TERNARY_CASE(2, 2) TERNARY_CASE(2, 3) TERNARY_CASE(2, 4)
                TERNARY_CASE(3, 1) TERNARY_CASE(3, 2) TERNARY_CASE(3, 3) TERNARY_CASE(3, 4)
                TERNARY_CASE(4, 1) TERNARY_CASE(4, 2) TERNARY_CASE(4, 3) TERNARY_CASE(4, 4)
            }
        }
    }
}
