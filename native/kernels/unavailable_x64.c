/* The x64 kernels' entry points on other architectures. The C# side declares every kernel for every RID, and Native
 * AOT links those declarations statically, so each must resolve; edk_features() never reports an x64 set here, so
 * the C# side never calls these, and a call is a bug that stops the process rather than computing nothing. */
#include "edge_kernels.h"
#include "unavailable.h"

void edk_int8_packed_matmul_avx512vnni(const int8_t *data, int32_t kquads, int32_t k, int32_t n, int32_t tile_start,
                                       int32_t tile_end, const int32_t *column_sums, const int32_t *column_offsets,
                                       const int32_t *quads, int64_t quad_stride, const int32_t *token_sums,
                                       const int32_t *token_zero_points, int32_t token_count, int32_t *y,
                                       int64_t y_stride)
{
    (void)data, (void)kquads, (void)k, (void)n, (void)tile_start, (void)tile_end, (void)column_sums;
    (void)column_offsets, (void)quads, (void)quad_stride, (void)token_sums, (void)token_zero_points;
    (void)token_count, (void)y, (void)y_stride;
    unavailable(__func__);
}

void edk_ternary2_dots_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int64_t x_stride, const int32_t *x_sums, int32_t token_count, int32_t *dots,
                                  int64_t dots_stride)
{
    (void)weights, (void)row_count, (void)row_bytes, (void)x, (void)x_stride, (void)x_sums, (void)token_count;
    (void)dots, (void)dots_stride;
    unavailable(__func__);
}

void edk_ternary2_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                                  int32_t x_sum, int32_t *dots)
{
    (void)weights, (void)row_count, (void)row_bytes, (void)x, (void)x_sum, (void)dots;
    unavailable(__func__);
}

void edk_trit_gemv_avx512vnni(const uint8_t *weights, int32_t row_count, int32_t row_bytes, const int8_t *x,
                              int32_t x_sum, int32_t *dots)
{
    (void)weights, (void)row_count, (void)row_bytes, (void)x, (void)x_sum, (void)dots;
    unavailable(__func__);
}

void edk_nbits4_int8_matmul_avx512vnni(const uint8_t *b, int32_t rows, int32_t k_blocks, int32_t block_size,
                                       const float *scales, const uint8_t *zero_points, const int32_t *quads,
                                       int64_t quad_stride, const float *block_scales, const int32_t *block_sums,
                                       int32_t token_count, const float *bias, float *y, int64_t y_stride)
{
    (void)b, (void)rows, (void)k_blocks, (void)block_size, (void)scales, (void)zero_points, (void)quads;
    (void)quad_stride, (void)block_scales, (void)block_sums, (void)token_count, (void)bias, (void)y, (void)y_stride;
    unavailable(__func__);
}
