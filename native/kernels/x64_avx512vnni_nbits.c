/* MatMulNBits with 4-bit codes and int8 activations (accuracy_level 4) for batches, on AVX-512 VNNI. Compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called only when edk_features() reports EDK_X64_AVX512_VNNI.
 *
 * The result is a sum over K blocks of float terms, so each block's integer dot must be known per output column.
 * Dotting a row with a token leaves 16 partial sums in a register that would need a horizontal reduction every block.
 * Instead a chunk of K for 16 rows is decoded once into the column-interleaved form of the int8 kernel (a zmm holds
 * 16 columns' four codes of one quad), so a token's quad, broadcast, meets 16 columns per vpdpbusd and a block's dots
 * come out as one vector with no reduction. The decode is a 16x16 transpose of the packed dwords (eight codes each)
 * and two masks, done once per chunk and shared by every token (it is also where B is read from memory).
 *
 * A packed dword holds codes 8d..8d+7, the low nibbles being the even ones. The activations are laid out to match
 * (NBitsDot.ToPlanes with 4-byte segments): quad 2d holds x[8d], x[8d+2], x[8d+4], x[8d+6], quad 2d+1 the odd ones.
 *
 * Float steps are the C# kernels' own, lane by lane and in the same order (the build compiles with
 * -ffp-contract=off, so nothing is fused): sum += (float)(dot - zp * block_sum) * (block_scale * weight_scale) over
 * blocks in order from 0, then + bias. The results are therefore bit-identical to NBitsReference. */
#include <immintrin.h>
#include "edge_kernels.h"
#include "x64_avx512_common.h"

/* Four tiles (64 columns) by four tokens per pass, 16 accumulators; K in chunks of about NB4_CHUNK_K values, whose
 * decoded form (at most 4 tiles x 128 quads x 64 bytes = 32 KB) is read by every token pass from L1 or L2. The buffers
 * are sized for block sizes 16 to 256 (edge_kernels.h's contract; NBitsShape.Validate enforces it on the C# side). */
enum { NB4_TILES = 4, NB4_TOKENS = 4, NB4_CHUNK_K = 512, NB4_CHUNK_QUADS = NB4_CHUNK_K / 4,
       NB4_MAX_CHUNK_BLOCKS = NB4_CHUNK_K / 16 };

typedef struct
{
    const int32_t *quads; /* token 0's quads (plane order, 4-byte segments) */
    int64_t quad_stride;  /* int32s between tokens */
    const float *block_scales;
    const int32_t *block_sums; /* [token][k_blocks] */
    int32_t k_blocks;
} nb4_tokens;

typedef struct
{
    const __m512i *decoded; /* [tile][NB4_CHUNK_QUADS] */
    const float *scales;    /* [tile][chunk block][16] weight scales */
    const int32_t *zero_points; /* [tile][chunk block][16], or NULL when none were given (all 8) */
    int32_t first_block, blocks, block_quads;
    int opens_sums, closes_sums; /* the chunk holds block 0 / the last block */
    const float *bias;           /* at this pass's first column, or NULL */
    int32_t columns;             /* valid columns from this pass's first one */
    float *y;                    /* token 0, this pass's first column */
    int64_t y_stride;
} nb4_chunk;

ALWAYS_INLINE __mmask16 nb4_column_mask(int32_t columns, int tile)
{
    const int32_t left = columns - (16 * tile);
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
}

/* One block's integer dots for tiles x tokens, written to dots[tile][token]. Each size's copy is a function of its own
 * (nb4_dots_I_T below, not inlined into the loop over blocks): with the accumulators reset inside that loop, GCC copied
 * them between registers and the stack on every quad, at half the speed. */
ALWAYS_INLINE void nb4_block_dots(int tiles, int tokens, const __m512i *w, const int32_t *a, int64_t quad_stride,
                                  int32_t block_quads, __m512i dots[NB4_TILES][NB4_TOKENS])
{
    __m512i acc[NB4_TILES][NB4_TOKENS];
#pragma GCC unroll 4
    for (int i = 0; i < tiles; i++)
    {
#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            acc[i][t] = _mm512_setzero_si512();
        }
    }

    for (int32_t p = 0; p < block_quads; p++)
    {
        __m512i codes[NB4_TILES];
#pragma GCC unroll 4
        for (int i = 0; i < tiles; i++)
        {
            codes[i] = _mm512_load_si512(w + (i * NB4_CHUNK_QUADS) + p);
        }

#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            const __m512i x = _mm512_set1_epi32(a[(t * quad_stride) + p]);
#pragma GCC unroll 4
            for (int i = 0; i < tiles; i++)
            {
                acc[i][t] = _mm512_dpbusd_epi32(acc[i][t], codes[i], x);
            }
        }
    }

#pragma GCC unroll 4
    for (int i = 0; i < tiles; i++)
    {
#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            dots[i][t] = acc[i][t];
        }
    }
}

typedef void (*nb4_dots_fn)(const __m512i *, const int32_t *, int64_t, int32_t, __m512i[NB4_TILES][NB4_TOKENS]);

ALWAYS_INLINE void nb4_pass(int tiles, int tokens, nb4_dots_fn block_dots, nb4_tokens in, nb4_chunk ch)
{
    /* The running sums stay in full vectors through the chunk and meet y (masked to its columns) once at each end: a
     * masked store read back by the next block's masked load waited on the store every block. */
    __m512 sums[NB4_TILES][NB4_TOKENS];
#pragma GCC unroll 4
    for (int i = 0; i < tiles; i++)
    {
        const __mmask16 mask = nb4_column_mask(ch.columns, i);
#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            /* The first block adds to 0 as the C# sum does (0 + -0 is +0). */
            sums[i][t] = ch.opens_sums ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, ch.y + (t * ch.y_stride) + (16 * i));
        }
    }

    __m512i dots[NB4_TILES][NB4_TOKENS];
    for (int32_t cb = 0; cb < ch.blocks; cb++)
    {
        const int32_t block = ch.first_block + cb;
        block_dots(ch.decoded + ((int64_t)cb * ch.block_quads), in.quads + ((int64_t)block * ch.block_quads),
                   in.quad_stride, ch.block_quads, dots);
#pragma GCC unroll 4
        for (int i = 0; i < tiles; i++)
        {
            const __m512i zero_points = ch.zero_points == NULL ? _mm512_setzero_si512()
                                        : _mm512_load_si512(ch.zero_points + ((((int64_t)i * NB4_MAX_CHUNK_BLOCKS) + cb) * 16));
            const __m512 scales = _mm512_load_ps(ch.scales + ((((int64_t)i * NB4_MAX_CHUNK_BLOCKS) + cb) * 16));
#pragma GCC unroll 4
            for (int t = 0; t < tokens; t++)
            {
                const int64_t at = ((int64_t)t * in.k_blocks) + block;
                /* Without zero points every one is 8: one scalar product instead of a vector one. */
                const __m512i offset = ch.zero_points == NULL ? _mm512_set1_epi32((int32_t)(8u * (uint32_t)in.block_sums[at]))
                                                              : _mm512_mullo_epi32(zero_points, _mm512_set1_epi32(in.block_sums[at]));
                const __m512i exact = _mm512_sub_epi32(dots[i][t], offset);
                const __m512 term = _mm512_mul_ps(_mm512_cvtepi32_ps(exact), _mm512_mul_ps(_mm512_set1_ps(in.block_scales[at]), scales));
                sums[i][t] = _mm512_add_ps(sums[i][t], term);
            }
        }
    }

#pragma GCC unroll 4
    for (int i = 0; i < tiles; i++)
    {
        const __mmask16 mask = nb4_column_mask(ch.columns, i);
#pragma GCC unroll 4
        for (int t = 0; t < tokens; t++)
        {
            __m512 sum = sums[i][t];
            if (ch.closes_sums && ch.bias != NULL)
            {
                sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask, ch.bias + (16 * i)));
            }

            _mm512_mask_storeu_ps(ch.y + (t * ch.y_stride) + (16 * i), mask, sum);
        }
    }
}

#define NB4_PASS(I, T)                                                                                                 \
    static __attribute__((noinline)) void nb4_dots_##I##_##T(const __m512i *w, const int32_t *a, int64_t stride,      \
                                                             int32_t quads, __m512i dots[NB4_TILES][NB4_TOKENS])      \
    {                                                                                                                  \
        nb4_block_dots(I, T, w, a, stride, quads, dots);                                                               \
    }                                                                                                                  \
    static void nb4_pass_##I##_##T(nb4_tokens in, nb4_chunk ch)                                                       \
    {                                                                                                                  \
        nb4_pass(I, T, nb4_dots_##I##_##T, in, ch);                                                                    \
    }
#define NB4_PASSES(I) NB4_PASS(I, 1) NB4_PASS(I, 2) NB4_PASS(I, 3) NB4_PASS(I, 4)
NB4_PASSES(1)
NB4_PASSES(2)
NB4_PASSES(3)
NB4_PASSES(4)

typedef void (*nb4_pass_fn)(nb4_tokens, nb4_chunk);
#define NB4_ROW(I) {nb4_pass_##I##_1, nb4_pass_##I##_2, nb4_pass_##I##_3, nb4_pass_##I##_4}
static const nb4_pass_fn nb4_passes[NB4_TILES][NB4_TOKENS] = {NB4_ROW(1), NB4_ROW(2), NB4_ROW(3), NB4_ROW(4)};

/* r[i] lane j becomes r[j] lane i (32-bit lanes): pairs, then quads within 128-bit lanes, then the 128-bit lanes. */
ALWAYS_INLINE void transpose16(__m512i r[16])
{
    __m512i t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
    {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[(2 * i) + 1]);
        t[(2 * i) + 1] = _mm512_unpackhi_epi32(r[2 * i], r[(2 * i) + 1]);
    }

    /* r[4i + j]'s 128-bit lane L: rows 4i..4i+3 of lane 4L + j. */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
    {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[(4 * i) + 2]);
        r[(4 * i) + 1] = _mm512_unpackhi_epi64(t[4 * i], t[(4 * i) + 2]);
        r[(4 * i) + 2] = _mm512_unpacklo_epi64(t[(4 * i) + 1], t[(4 * i) + 3]);
        r[(4 * i) + 3] = _mm512_unpackhi_epi64(t[(4 * i) + 1], t[(4 * i) + 3]);
    }

#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
    {
        const __m512i even0 = _mm512_shuffle_i32x4(r[j], r[4 + j], 0x88);
        const __m512i odd0 = _mm512_shuffle_i32x4(r[j], r[4 + j], 0xdd);
        const __m512i even1 = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0x88);
        const __m512i odd1 = _mm512_shuffle_i32x4(r[8 + j], r[12 + j], 0xdd);
        t[j] = _mm512_shuffle_i32x4(even0, even1, 0x88);
        t[8 + j] = _mm512_shuffle_i32x4(even0, even1, 0xdd);
        t[4 + j] = _mm512_shuffle_i32x4(odd0, odd1, 0x88);
        t[12 + j] = _mm512_shuffle_i32x4(odd0, odd1, 0xdd);
    }

#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
    {
        r[i] = t[i];
    }
}

/* One tile's chunk of packed rows (16 rows, rows past valid_rows read as zero codes) to [quad][16 columns][4]. */
static void nb4_decode(const uint8_t *rows, int64_t row_bytes, int32_t valid_rows, int32_t chunk_bytes, __m512i *out)
{
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (int32_t g = 0; g < chunk_bytes; g += 64)
    {
        const int32_t dwords = chunk_bytes - g >= 64 ? 16 : (chunk_bytes - g) / 4;
        const __mmask16 mask = dwords == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << dwords) - 1u);
        __m512i r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
        {
            r[i] = i < valid_rows ? _mm512_maskz_loadu_epi32(mask, rows + (i * row_bytes) + g) : _mm512_setzero_si512();
        }

        transpose16(r);
        __m512i *quad = out + ((g / 4) * 2);
        for (int32_t d = 0; d < dwords; d++)
        {
            _mm512_store_si512(quad + (2 * d), _mm512_and_si512(r[d], low));
            _mm512_store_si512(quad + (2 * d) + 1, _mm512_and_si512(_mm512_srli_epi32(r[d], 4), low));
        }
    }
}

/* Lines of B to request ahead: the first lines_per_row lines of each of rows rows from start. */
typedef struct
{
    const uint8_t *start;
    int32_t rows, lines_per_row;
} nb4_next;

static void nb4_prefetch(nb4_next next, int64_t row_bytes, int32_t from, int32_t to)
{
    for (int32_t line = from; line < to; line++)
    {
        const int32_t row = line / next.lines_per_row;
        _mm_prefetch((const char *)(next.start + (row * row_bytes) + ((int64_t)(line - (row * next.lines_per_row)) * 64)), _MM_HINT_T1);
    }
}

void edk_nbits4_int8_matmul_avx512vnni(const uint8_t *b, int32_t rows, int32_t k_blocks, int32_t block_size,
                                       const float *scales, const uint8_t *zero_points, const int32_t *quads,
                                       int64_t quad_stride, const float *block_scales, const int32_t *block_sums,
                                       int32_t token_count, const float *bias, float *y, int64_t y_stride)
{
    __m512i decoded[NB4_TILES * NB4_CHUNK_QUADS];
    float chunk_scales[NB4_TILES * NB4_MAX_CHUNK_BLOCKS * 16] __attribute__((aligned(64)));
    int32_t chunk_zero_points[NB4_TILES * NB4_MAX_CHUNK_BLOCKS * 16] __attribute__((aligned(64)));
    const int32_t blob = block_size / 2;
    const int64_t row_bytes = (int64_t)k_blocks * blob;
    const int32_t zero_point_row = ((k_blocks * 4) + 7) / 8;
    const int32_t chunk_blocks = block_size >= NB4_CHUNK_K ? 1 : NB4_CHUNK_K / block_size;
    const nb4_tokens tokens = {quads, quad_stride, block_scales, block_sums, k_blocks};
    for (int32_t first_row = 0; first_row < rows; first_row += 16 * NB4_TILES)
    {
        const int32_t columns = rows - first_row;
        const int tiles = columns >= 16 * NB4_TILES ? NB4_TILES : (columns + 15) / 16;
        for (int32_t first_block = 0; first_block < k_blocks; first_block += chunk_blocks)
        {
            const int32_t blocks = k_blocks - first_block < chunk_blocks ? k_blocks - first_block : chunk_blocks;
            for (int i = 0; i < tiles; i++)
            {
                const int32_t row0 = first_row + (16 * i);
                const int32_t valid = rows - row0 >= 16 ? 16 : rows - row0;
                nb4_decode(b + (row0 * row_bytes) + ((int64_t)first_block * blob), row_bytes, valid, blocks * blob,
                           decoded + (i * NB4_CHUNK_QUADS));
                /* Each block's 16 weight scales (a column of scales, k_blocks apart) and zero points. */
                const __mmask16 rows_in = valid == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << valid) - 1u);
                const __m512i scale_index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                               _mm512_set1_epi32(k_blocks));
                const float *scale_rows = scales + ((int64_t)row0 * k_blocks) + first_block;
                for (int32_t cb = 0; cb < blocks; cb++)
                {
                    const int32_t block = first_block + cb;
                    const int64_t at = (((int64_t)i * NB4_MAX_CHUNK_BLOCKS) + cb) * 16;
                    _mm512_store_ps(chunk_scales + at, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rows_in, scale_index, scale_rows + cb, 4));
                    if (zero_points == NULL)
                    {
                        continue;
                    }

                    int32_t *z = chunk_zero_points + at;
                    for (int r = 0; r < 16; r++)
                    {
                        const int64_t row = row0 + r;
                        z[r] = r >= valid ? 8 : (zero_points[(row * zero_point_row) + (block / 2)] >> ((block % 2) * 4)) & 0x0F;
                    }
                }
            }

            /* The next chunk of this group is up to 64 short runs of one row each, more streams than the hardware
             * prefetcher follows: its lines are requested a share before each token pass, so they arrive while the
             * tokens pass over this chunk without flooding the miss queue at once. (The op's tasks are one group
             * each, so the next group is another task's.) */
            nb4_next next = {0};
            if (first_block + blocks < k_blocks)
            {
                const int32_t next_blocks = k_blocks - (first_block + blocks) < chunk_blocks ? k_blocks - (first_block + blocks) : chunk_blocks;
                next = (nb4_next){b + ((int64_t)first_row * row_bytes) + ((int64_t)(first_block + blocks) * blob),
                                  columns < 16 * NB4_TILES ? columns : 16 * NB4_TILES, (next_blocks * blob + 63) / 64};
            }

            const int32_t next_lines = next.rows * next.lines_per_row;
            const int32_t passes = (token_count + NB4_TOKENS - 1) / NB4_TOKENS;
            for (int32_t first = 0; first < token_count; first += NB4_TOKENS)
            {
                const int count = token_count - first < NB4_TOKENS ? token_count - first : NB4_TOKENS;
                nb4_tokens group = tokens;
                group.quads += first * quad_stride;
                group.block_scales += (int64_t)first * k_blocks;
                group.block_sums += (int64_t)first * k_blocks;
                const nb4_chunk chunk = {decoded, chunk_scales, zero_points == NULL ? NULL : chunk_zero_points,
                                         first_block, blocks, block_size / 4, first_block == 0,
                                         first_block + blocks == k_blocks,
                                         bias == NULL ? NULL : bias + first_row, columns,
                                         y + (first * y_stride) + first_row, y_stride};
                const int32_t pass = first / NB4_TOKENS;
                nb4_prefetch(next, row_bytes, (int32_t)(((int64_t)next_lines * pass) / passes),
                             (int32_t)(((int64_t)next_lines * (pass + 1)) / passes));
                nb4_passes[tiles - 1][count - 1](group, chunk);
            }
        }
    }
}
