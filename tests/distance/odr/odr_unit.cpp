// One translation unit of the ODR test, compiled once per flag set (see odr_unit.hpp). It has
// no static initialisers, so nothing in it runs unless the test calls it, and the test calls a
// copy only on a CPU that can run that copy's flags.
#include "odr_unit.hpp"

#include <embedkit/distance/pair.hpp>

#include <Eigen/Core>

#define ODR_CAT2(a, b) a##b
#define ODR_CAT(a, b) ODR_CAT2(a, b)
#define ODR_NAME(name) ODR_CAT(name##_, ODR_UNIT_SUFFIX)

namespace odr_test {

PairResults ODR_NAME(pair_results)(const float* a, const float* b, std::size_t n) {
    const Eigen::Map<const Eigen::VectorXf> va(a, static_cast<Eigen::Index>(n));
    const Eigen::Map<const Eigen::VectorXf> vb(b, static_cast<Eigen::Index>(n));
    return {embedkit::dot(a, b, n), embedkit::l2_squared(a, b, n), embedkit::l1(a, b, n),
            embedkit::cosine_similarity(a, b, n), embedkit::l2(va, vb)};
}

PairPointer ODR_NAME(l2_squared_address)() {
    PairPointer p = &embedkit::l2_squared;
    return p;
}

// The compile-time level's helper behind the pair functions (null in the baseline unit, which
// has none): at -O0 it is a real call, so it must be the unit's own too.
PairPointer ODR_NAME(static_dot_address)() {
#if defined(EMBEDKIT_STATIC_LEVEL)
    PairPointer p = &embedkit::simd::detail::static_dot<float>;
    return p;
#else
    return nullptr;
#endif
}

}  // namespace odr_test
