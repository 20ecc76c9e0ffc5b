// Look-ups in the generated Unicode tables: flags, lowercase, NFD and combining classes.
#pragma once

#include "unicode_tables.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace embedkit::text::detail {

/// The flags (cp_* of unicode_tables.hpp) of a code point <= U+10FFFF: binary search over
/// the runs.
inline std::uint32_t code_point_flags(char32_t cp) noexcept {
    const std::uint32_t key = (static_cast<std::uint32_t>(cp) << 8) | 0xFFu;
    // The last run starting at or before cp; flag_runs[0] starts at U+0000.
    const std::uint32_t* it = std::upper_bound(std::begin(flag_runs), std::end(flag_runs), key);
    return *(it - 1) & 0xFFu;
}

/// Up to this many code points come out of one code point in either map (checked below).
inline constexpr std::size_t max_expansion = 4;

/// Writes the image of cp under a generated map (keys, values, pool) to out; returns its
/// length (cp itself when it has no entry).
inline std::size_t map_code_point(const std::uint32_t* keys, const std::uint32_t* values,
                                  std::size_t count, const std::uint32_t* pool, char32_t cp,
                                  char32_t* out) noexcept {
    const auto u = static_cast<std::uint32_t>(cp);
    const std::uint32_t* it = std::lower_bound(keys, keys + count, u);
    if (it == keys + count || *it != u) {
        out[0] = cp;
        return 1;
    }
    const std::uint32_t v = values[it - keys];
    const std::size_t len = v >> 24;
    const std::uint32_t payload = v & 0xFFFFFFu;
    if (len == 1) {
        out[0] = static_cast<char32_t>(payload);
        return 1;
    }
    for (std::size_t i = 0; i < len; ++i) out[i] = static_cast<char32_t>(pool[payload + i]);
    return len;
}

/// The reference's per-code-point lowercase (Rust's char::to_lowercase: no context, so a
/// final sigma becomes σ; U+0130 expands to "i̇").
inline std::size_t lowercase_code_point(char32_t cp, char32_t* out) noexcept {
    return map_code_point(lower_keys, lower_values, std::size(lower_keys), lower_pool, cp, out);
}

/// The reference's NFD of one code point (canonical decomposition, unordered: the caller
/// reorders runs of marks by combining class). Hangul syllables decompose algorithmically
/// (Unicode §3.12).
inline std::size_t nfd_code_point(char32_t cp, char32_t* out) noexcept {
    const auto u = static_cast<std::uint32_t>(cp);
    if (u - hangul_first < hangul_count) {
        const std::uint32_t s = u - hangul_first;
        out[0] = static_cast<char32_t>(0x1100u + s / (21u * 28u));
        out[1] = static_cast<char32_t>(0x1161u + (s % (21u * 28u)) / 28u);
        if (s % 28u == 0) return 2;
        out[2] = static_cast<char32_t>(0x11A7u + s % 28u);
        return 3;
    }
    return map_code_point(nfd_keys, nfd_values, std::size(nfd_keys), nfd_pool, cp, out);
}

/// The canonical combining class of a code point that NFD leaves alone (0: a starter).
inline std::uint32_t combining_class(char32_t cp) noexcept {
    if (cp < 0x300) return 0;
    const std::uint32_t key = (static_cast<std::uint32_t>(cp) << 8) | 0xFFu;
    const std::uint32_t* it = std::upper_bound(std::begin(ccc_runs), std::end(ccc_runs), key);
    return *(it - 1) & 0xFFu;
}

namespace table_checks {
constexpr bool values_fit(const std::uint32_t* values, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if ((values[i] >> 24) > max_expansion) return false;
    return true;
}
constexpr bool sorted(const std::uint32_t* keys, std::size_t n) {
    for (std::size_t i = 1; i < n; ++i)
        if (keys[i - 1] >= keys[i]) return false;
    return true;
}
static_assert(values_fit(lower_values, std::size(lower_values)) &&
                  values_fit(nfd_values, std::size(nfd_values)),
              "unicode_tables.hpp: an expansion longer than max_expansion");
static_assert(sorted(lower_keys, std::size(lower_keys)) && sorted(nfd_keys, std::size(nfd_keys)) &&
                  sorted(flag_runs, std::size(flag_runs)) && (flag_runs[0] >> 8) == 0 &&
                  sorted(ccc_runs, std::size(ccc_runs)) && ccc_runs[0] == 0,
              "unicode_tables.hpp: tables must be sorted and the runs start at U+0000");
}  // namespace table_checks

}  // namespace embedkit::text::detail
