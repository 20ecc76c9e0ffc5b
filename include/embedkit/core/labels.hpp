// Class labels of any integer type: the compile-time rule, and the dense class index that
// lets code count and sort by label without narrowing a label to a byte.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace embedkit {

/// True for the types a label vector may hold: every integral type except bool (whose
/// std::vector is a bit set). uint8_t (MNIST), int32_t, int64_t, uint64_t and the rest all
/// qualify; negative labels are allowed, and labels are only compared, never converted.
template <class L>
inline constexpr bool is_label_type_v =
    std::is_integral_v<L> && !std::is_same_v<std::remove_cv_t<L>, bool>;

namespace detail {

/// A label as text: the number, whatever its type (char types print as numbers too).
template <class L>
std::string label_to_string(L label) {
    if constexpr (std::is_signed_v<L>)
        return std::to_string(static_cast<long long>(label));
    else
        return std::to_string(static_cast<unsigned long long>(label));
}

/// True when 0 <= label < bound, for a label of any integer type (no sign-compare warning,
/// no narrowing).
template <class L>
constexpr bool label_in_range(L label, unsigned long long bound) noexcept {
    if constexpr (std::is_signed_v<L>) {
        if (label < 0) return false;
    }
    return static_cast<unsigned long long>(label) < bound;
}

/// The distinct labels of a label vector, ascending, and the class of every sample: class
/// c is values[c], and samples i has class classes[i] in 0..values.size()-1. Sorting by
/// value keeps the classes of uint8_t labels in the order 0..255, so code that used to index
/// arrays by the byte visits classes in the same order. Costs one sort of the n labels.
template <class L>
struct LabelClasses {
    std::vector<L> values;
    std::vector<std::size_t> classes;

    std::size_t count() const noexcept { return values.size(); }
};

template <class L>
LabelClasses<L> label_classes(const std::vector<L>& labels) {
    static_assert(is_label_type_v<L>,
                  "embedkit: labels must be a std::vector of an integer type (uint8_t, int32_t, "
                  "int64_t, ...), "
                  "not bool, floating point or another type");
    LabelClasses<L> out;
    out.values = labels;
    std::sort(out.values.begin(), out.values.end());
    out.values.erase(std::unique(out.values.begin(), out.values.end()), out.values.end());
    out.classes.resize(labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i)
        out.classes[i] = static_cast<std::size_t>(
            std::lower_bound(out.values.begin(), out.values.end(), labels[i]) - out.values.begin());
    return out;
}

}  // namespace detail
}  // namespace embedkit
