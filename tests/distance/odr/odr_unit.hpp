// The interface of odr_unit.cpp, which the ODR test compiles three times: without -m flags, with
// -mavx2 -mfma and with -mavx512f -mavx2 -mfma. Each copy's functions carry the suffix of its
// flags (ODR_UNIT_SUFFIX), so one executable links all three.
#pragma once

#include <cstddef>

namespace odr_test {

using PairPointer = float (*)(const float*, const float*, std::size_t) noexcept;

// The five pair results of one unit, for a and b of n floats, at whatever level is active.
struct PairResults {
    float dot;
    float l2_squared;
    float l1;
    float cosine_similarity;
    float l2_eigen;  ///< through the Eigen form, which calls the pointer form
};

#define ODR_UNIT_DECLARE(SUFFIX)                                                      \
    PairResults pair_results_##SUFFIX(const float* a, const float* b, std::size_t n); \
    PairPointer l2_squared_address_##SUFFIX();                                        \
    PairPointer static_dot_address_##SUFFIX();

ODR_UNIT_DECLARE(baseline)
ODR_UNIT_DECLARE(avx2)
ODR_UNIT_DECLARE(avx512)

#undef ODR_UNIT_DECLARE

}  // namespace odr_test
