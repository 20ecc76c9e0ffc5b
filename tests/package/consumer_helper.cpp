// The consumer's second translation unit: including embedkit in two files of one program
// must link (inline functions only) and share one dispatch state.
#include <embedkit/embedkit.hpp>

#include <vector>

embedkit::simd::Level helper_active_level() { return embedkit::simd::active(); }

double helper_l1(const std::vector<double>& a, const std::vector<double>& b) {
    return embedkit::l1(a.data(), b.data(), a.size());
}
