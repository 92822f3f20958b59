/* Helpers shared by the AVX-512 translation units; included only by files compiled with the AVX-512 flags. */
#ifndef EDK_X64_AVX512_COMMON_H
#define EDK_X64_AVX512_COMMON_H

#include <immintrin.h>
#include <stdint.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* The sum of a zmm's 16 int32 lanes (wrapping, as the C# sums do). */
ALWAYS_INLINE int32_t reduce_lanes(__m512i v)
{
    __m256i half = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i quarter = _mm_add_epi32(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
    quarter = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0x4e));
    quarter = _mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0xb1));
    return _mm_cvtsi128_si32(quarter);
}

#endif
