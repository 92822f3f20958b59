// The few ggml declarations bitnet.cpp's ggml-bitnet-mad.cpp and ggml-bitnet.h need, so that the I2_S kernel can be
// compiled on its own from a BitNet checkout (its llama.cpp submodule is not required). Ours, not ggml's.
#pragma once
#include <cstddef>
#include <cstdint>

#define GGML_API

// The fork's type id; only its row size is asked for.
enum ggml_type { GGML_TYPE_I2_S = 36 };

// I2_S's type traits in bitnet.cpp's fork: one byte per element "block" (the kernel divides by 4 itself).
static inline size_t ggml_row_size(enum ggml_type, int64_t ne) { return (size_t)ne; }
