// The categorical colours of the scatter plots: ten hues that stay apart for the common
// forms of colour blindness, plus the greys of axes and text.
#pragma once

#include "raster.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace embedkit::viz::detail {

/// Number of distinct categorical colours (labels 0..9).
inline constexpr std::size_t palette_size = 10;

/// The colour of label i (i < palette_size). The first nine are Paul Tol's "muted" qualitative
/// scheme (https://personal.sron.nl/~pault/, chosen to stay distinct under deuteranopia,
/// protanopia and tritanopia), the tenth a dark grey that no form of colour blindness confuses
/// with them. They are ordered so that neighbouring digits get unlike hues.
inline Rgb palette_color(std::size_t i) noexcept {
    static constexpr Rgb colors[palette_size] = {
        {0x33, 0x22, 0x88},  // indigo
        {0x88, 0xCC, 0xEE},  // cyan
        {0x11, 0x77, 0x33},  // green
        {0xCC, 0x66, 0x77},  // rose
        {0xDD, 0xCC, 0x77},  // sand
        {0x88, 0x22, 0x55},  // wine
        {0x44, 0xAA, 0x99},  // teal
        {0x99, 0x99, 0x33},  // olive
        {0xAA, 0x44, 0x99},  // purple
        {0x55, 0x55, 0x55},  // dark grey
    };
    return colors[i % palette_size];
}

/// "#rrggbb".
inline std::string hex_color(Rgb c) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "#";
    for (std::uint8_t v : {c.r, c.g, c.b}) {
        s.push_back(digits[v >> 4]);
        s.push_back(digits[v & 15]);
    }
    return s;
}

inline constexpr Rgb white{255, 255, 255};
inline constexpr Rgb text_color{0x22, 0x22, 0x22};
inline constexpr Rgb axis_color{0x55, 0x55, 0x55};
inline constexpr Rgb grid_color{0xE4, 0xE4, 0xE4};

}  // namespace embedkit::viz::detail
