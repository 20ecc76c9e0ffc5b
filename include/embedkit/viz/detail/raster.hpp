// An 8-bit raster (grey or RGB) with the few drawing operations the pictures need: filled
// rectangles, anti-aliased translucent discs and bitmap-font text.
#pragma once

#include "bitmap_font.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit::viz::detail {

/// An sRGB colour, 8 bits per channel.
struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
};

/// Pixels row by row, top row first, `channels` bytes per pixel (1 = grey, 3 = RGB).
class Raster {
public:
    Raster(int width, int height, int channels, Rgb background)
        : width_(width),
          height_(height),
          channels_(channels),
          pixels_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
                  static_cast<std::size_t>(channels)) {
        fill_rect(0, 0, width, height, background);
    }

    int width() const noexcept { return width_; }
    int height() const noexcept { return height_; }
    int channels() const noexcept { return channels_; }
    const std::vector<std::uint8_t>& pixels() const noexcept { return pixels_; }
    std::uint8_t* row(int y) noexcept {
        return pixels_.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) *
                                    static_cast<std::size_t>(channels_);
    }

    /// Sets one pixel (ignored outside the raster); a grey raster takes the red channel.
    void put(int x, int y, Rgb c) noexcept {
        if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
        std::uint8_t* p =
            row(y) + static_cast<std::size_t>(x) * static_cast<std::size_t>(channels_);
        p[0] = c.r;
        if (channels_ == 3) {
            p[1] = c.g;
            p[2] = c.b;
        }
    }

    /// Mixes c into one pixel with opacity alpha in [0, 1] (ignored outside the raster).
    void blend(int x, int y, Rgb c, double alpha) noexcept {
        if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
        std::uint8_t* p =
            row(y) + static_cast<std::size_t>(x) * static_cast<std::size_t>(channels_);
        const auto mix = [alpha](std::uint8_t dst, std::uint8_t src) {
            return static_cast<std::uint8_t>(std::lround(dst + (src - dst) * std::min(alpha, 1.0)));
        };
        p[0] = mix(p[0], c.r);
        if (channels_ == 3) {
            p[1] = mix(p[1], c.g);
            p[2] = mix(p[2], c.b);
        }
    }

    /// Fills the pixels [x0, x1) x [y0, y1), clipped to the raster.
    void fill_rect(int x0, int y0, int x1, int y1, Rgb c) noexcept {
        x0 = std::max(x0, 0);
        y0 = std::max(y0, 0);
        x1 = std::min(x1, width_);
        y1 = std::min(y1, height_);
        for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) put(x, y, c);
    }

    /// A disc of radius r centred at (cx, cy) in pixel coordinates (pixel (x, y) covers
    /// [x, x+1) x [y, y+1)), edge anti-aliased over one pixel, painted with opacity alpha.
    void disc(double cx, double cy, double r, Rgb c, double alpha) noexcept {
        const int x0 = static_cast<int>(std::floor(cx - r - 1)),
                  x1 = static_cast<int>(std::ceil(cx + r + 1));
        const int y0 = static_cast<int>(std::floor(cy - r - 1)),
                  y1 = static_cast<int>(std::ceil(cy + r + 1));
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) {
                const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                // Coverage of the pixel by the disc, approximated by the distance of its centre
                // to the edge: 1 well inside, 0 well outside, linear across the rim.
                const double cover = std::clamp(r + 0.5 - std::sqrt(dx * dx + dy * dy), 0.0, 1.0);
                if (cover > 0) blend(x, y, c, cover * alpha);
            }
    }

    /// Draws the UTF-8 string `utf8` (through font_text) with the top of its cell at
    /// (x, y_top); see draw_text for `rotated`.
    void text(const std::string& utf8, int x, int y_top, int scale, Rgb c, bool rotated = false) {
        draw_text(font_text(utf8), x, y_top, scale, rotated,
                  [this, c](int px, int py) { put(px, py, c); });
    }

private:
    int width_, height_, channels_;
    std::vector<std::uint8_t> pixels_;
};

}  // namespace embedkit::viz::detail
