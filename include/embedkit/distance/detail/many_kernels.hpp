// One-to-many kernels for every level: one query against `rows` rows of a set. Each is
// compiled for its level's target, so the whole loop, with the pair kernel inlined, runs in
// that level's code and the dispatch table is consulted once per call, not once per row.
#pragma once

#include "../../core/config.hpp"
#include "../kernels_scalar.hpp"
#include "../metric.hpp"

#if EMBEDKIT_ARCH_X86
#include "../kernels_avx2.hpp"
#include "../kernels_avx512.hpp"
#endif
#if EMBEDKIT_ARCH_NEON
#include "../kernels_neon.hpp"
#endif

#include <cstddef>

// out[r] = metric(q, set + r * stride) for r < rows; cosine writes the similarity.
#define EMBEDKIT_DEFINE_MANY_KERNELS(SUFFIX, TARGET, T)                                          \
    TARGET inline void dot_many_##SUFFIX(const T* q, const T* set, std::size_t rows,             \
                                         std::size_t dim, std::size_t stride, T* out) noexcept { \
        for (std::size_t r = 0; r < rows; ++r) out[r] = dot_##SUFFIX(q, set + r * stride, dim);  \
    }                                                                                            \
    TARGET inline void l2_squared_many_##SUFFIX(const T* q, const T* set, std::size_t rows,      \
                                                std::size_t dim, std::size_t stride,             \
                                                T* out) noexcept {                               \
        for (std::size_t r = 0; r < rows; ++r)                                                   \
            out[r] = l2_squared_##SUFFIX(q, set + r * stride, dim);                              \
    }                                                                                            \
    TARGET inline void l1_many_##SUFFIX(const T* q, const T* set, std::size_t rows,              \
                                        std::size_t dim, std::size_t stride, T* out) noexcept {  \
        for (std::size_t r = 0; r < rows; ++r) out[r] = l1_##SUFFIX(q, set + r * stride, dim);   \
    }                                                                                            \
    TARGET inline void cosine_many_##SUFFIX(const T* q, const T* set, std::size_t rows,          \
                                            std::size_t dim, std::size_t stride,                 \
                                            T* out) noexcept {                                   \
        for (std::size_t r = 0; r < rows; ++r)                                                   \
            out[r] = finish_cosine_similarity(cosine_##SUFFIX(q, set + r * stride, dim));        \
    }

namespace embedkit::detail {

EMBEDKIT_DEFINE_MANY_KERNELS(scalar, , float)
EMBEDKIT_DEFINE_MANY_KERNELS(scalar, , double)
#if EMBEDKIT_ARCH_X86
EMBEDKIT_DEFINE_MANY_KERNELS(avx2, EMBEDKIT_TARGET_AVX2, float)
EMBEDKIT_DEFINE_MANY_KERNELS(avx2, EMBEDKIT_TARGET_AVX2, double)
EMBEDKIT_DEFINE_MANY_KERNELS(avx512, EMBEDKIT_TARGET_AVX512, float)
EMBEDKIT_DEFINE_MANY_KERNELS(avx512, EMBEDKIT_TARGET_AVX512, double)
#endif
#if EMBEDKIT_ARCH_NEON
EMBEDKIT_DEFINE_MANY_KERNELS(neon, , float)
EMBEDKIT_DEFINE_MANY_KERNELS(neon, , double)
#endif

}  // namespace embedkit::detail

#undef EMBEDKIT_DEFINE_MANY_KERNELS
