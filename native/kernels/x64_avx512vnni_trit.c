/* BitLinear on TritPacking's 1.6-bit layout (five weights a byte) with AVX-512 VNNI, one token.
 * Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called only when edk_features() reports
 * EDK_X64_AVX512_VNNI.
 *
 * No code is ever unpacked. Code j of a byte q is c_j = floor(3 m_j / 256) for m_j = q 3^j mod 256, so
 * 3 m_j = 256 c_j + m_{j+1} exactly, and for any activations x_j
 *     sum c_j x_j = (3 sum m_j x_j - sum m_{j+1} x_j) / 256.
 * The bytes m_j themselves go into vpdpbusd as its unsigned operand: two vpdpbusd and two byte adds (m_{j+1} =
 * m_j + m_j + m_j, wrapping) per digit, where comparing m_j against 86 and 171 to build codes of 0..2 took seven
 * instructions and ran 1.6-1.9 times slower (one thread, 2560x6912 cached, scratch harness). The division is exact:
 * each lane's 3A - B is 256 times its share of the dot product; int32 wrap-around in A and B cancels as long as that
 * share stays within +-2^23, which holds for any padded K below 2^19.
 *
 * One zmm of a row is two 32-byte blocks, so digit j meets 32 activations of each block; those five vectors are
 * loaded once a step and shared by the four rows of a pass. */
#include <immintrin.h>
#include "edge_kernels.h"
#include "x64_avx512_common.h"

enum
{
    TRIT_ROWS = 4,
    TRIT_BLOCK_BYTES = 32,
    TRIT_BLOCK_WEIGHTS = 160,
    /* How far ahead of a pass its prefetches run. Four rows read side by side are more streams than the hardware
     * prefetcher follows; 8 KB ran fastest of 4-24 KB at K = 2560 and 6912 (one thread, weights streamed). One linear
     * stream stays ahead of all four rows while three rows are under 8 KB (K up to about 13,600); longer rows are
     * partly fetched late, which costs speed, not correctness. */
    TRIT_PREFETCH_BYTES = 8192,
};

/* One row's step over five digits: a += m_j x_j, b += m_{j+1} x_j, each into the pair member of the digit's parity.
 * With one accumulator each, a row's five vpdpbusd a step formed one chain, and streaming the weights left the
 * kernel waiting on it: two a sum (chains three deep) streamed 1.2-1.4x faster at the same cached speed (scratch
 * harness, 2560x6912 and 6912x2560, two threads, 2026-12-07). */
ALWAYS_INLINE void trit_step(__m512i a[2], __m512i b[2], __m512i m, const __m512i x[5])
{
#pragma GCC unroll 5
    for (int j = 0; j < 5; j++)
    {
        a[j & 1] = _mm512_dpbusd_epi32(a[j & 1], m, x[j]);
        m = _mm512_add_epi8(_mm512_add_epi8(m, m), m);
        b[j & 1] = _mm512_dpbusd_epi32(b[j & 1], m, x[j]);
    }
}

/* Activations of blocks b and b + 1 for digit j: 32 bytes from each. */
ALWAYS_INLINE __m512i trit_pair(const int8_t *x, int32_t block, int j)
{
    const int8_t *first = x + ((int64_t)block * TRIT_BLOCK_WEIGHTS) + (j * TRIT_BLOCK_BYTES);
    const __m256i low = _mm256_loadu_si256((const __m256i *)first);
    const __m256i high = _mm256_loadu_si256((const __m256i *)(first + TRIT_BLOCK_WEIGHTS));
    return _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
}

/* sum c x over the row from its two accumulators: (3a - b) / 256 in each lane, then the lanes added. */
ALWAYS_INLINE int32_t trit_sum(__m512i a, __m512i b)
{
    return reduce_lanes(_mm512_srai_epi32(_mm512_sub_epi32(_mm512_add_epi32(_mm512_add_epi32(a, a), a), b), 8));
}

/* rows (1..4) consecutive rows against one token. Each step reads 64 bytes of every row and prefetches the 256 bytes
 * TRIT_PREFETCH_BYTES past the pass's start plus what the pass has read so far: rows follow each other, so that
 * stream keeps a steady distance ahead of the reads across passes. */
ALWAYS_INLINE void trit_pass(const uint8_t *w, int32_t row_bytes, int rows, const int8_t *x, int32_t x_sum,
                             int32_t *dots)
{
    const int32_t blocks = row_bytes / TRIT_BLOCK_BYTES;
    __m512i a[TRIT_ROWS][2], b[TRIT_ROWS][2];
#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
    {
        a[r][0] = _mm512_setzero_si512();
        a[r][1] = a[r][0];
        b[r][0] = a[r][0];
        b[r][1] = a[r][0];
    }

    /* Addresses past the weights are only hints (a prefetch never faults), so they are formed as integers. */
    const uintptr_t ahead = (uintptr_t)w + TRIT_PREFETCH_BYTES;
    int32_t block = 0;
    for (; block + 2 <= blocks; block += 2)
    {
        const uintptr_t next = ahead + ((uintptr_t)block * (TRIT_BLOCK_BYTES * TRIT_ROWS));
        _mm_prefetch((const char *)next, _MM_HINT_T0);
        _mm_prefetch((const char *)(next + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(next + 128), _MM_HINT_T0);
        _mm_prefetch((const char *)(next + 192), _MM_HINT_T0);
        __m512i xv[5];
#pragma GCC unroll 5
        for (int j = 0; j < 5; j++)
        {
            xv[j] = trit_pair(x, block, j);
        }

#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
        {
            const __m512i m = _mm512_loadu_si512(w + ((int64_t)r * row_bytes) + ((int64_t)block * TRIT_BLOCK_BYTES));
            trit_step(a[r], b[r], m, xv);
        }
    }

    if (block < blocks)
    {
        /* An odd last block: its bytes and activations in the low half, zeros above (0 times anything adds 0). */
        __m512i xv[5];
#pragma GCC unroll 5
        for (int j = 0; j < 5; j++)
        {
            const int8_t *at = x + ((int64_t)block * TRIT_BLOCK_WEIGHTS) + (j * TRIT_BLOCK_BYTES);
            xv[j] = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)at));
        }

#pragma GCC unroll 4
        for (int r = 0; r < rows; r++)
        {
            const uint8_t *at = w + ((int64_t)r * row_bytes) + ((int64_t)block * TRIT_BLOCK_BYTES);
            trit_step(a[r], b[r], _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)at)), xv);
        }
    }

#pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
    {
        dots[r] = trit_sum(_mm512_add_epi32(a[r][0], a[r][1]), _mm512_add_epi32(b[r][0], b[r][1])) - x_sum;
    }
}

/* One specialisation per row count, so the accumulators stay in registers. */
#define TRIT_PASS(R)                                                                                                   \
    static void trit_pass_##R(const uint8_t *w, int32_t row_bytes, const int8_t *x, int32_t x_sum, int32_t *dots)     \
    {                                                                                                                  \
        trit_pass(w, row_bytes, R, x, x_sum, dots);                                                                   \
    }
TRIT_PASS(1)
TRIT_PASS(2)
TRIT_PASS(3)
TRIT_PASS(4)

void edk_trit_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                              int32_t x_sum, int32_t *dots)
{
    int32_t row = 0;
    for (; row + TRIT_ROWS <= row_count; row += TRIT_ROWS)
    {
        trit_pass_4(weights + ((int64_t)row * row_bytes), row_bytes, x, x_sum, dots + row);
    }

    const uint8_t *w = weights + ((int64_t)row * row_bytes);
    switch (row_count - row)
    {
    case 1:
        trit_pass_1(w, row_bytes, x, x_sum, dots + row);
        break;
    case 2:
        trit_pass_2(w, row_bytes, x, x_sum, dots + row);
        break;
    case 3:
        trit_pass_3(w, row_bytes, x, x_sum, dots + row);
        break;
    default:
        break;
    }
}
