// 2-D scatter plots of embeddings coloured by label, with axes and a legend: SVG always, PNG
// when embedkit is built with libpng (EMBEDKIT_HAS_PNG).
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/labels.hpp"
#include "../core/types.hpp"
#include "detail/bitmap_font.hpp"
#include "detail/palette.hpp"
#include "detail/picture_file.hpp"
#include "detail/raster.hpp"
#include "detail/svg.hpp"
#include "detail/ticks.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace embedkit::viz {

/// How save_scatter draws. Sizes are in pixels.
struct ScatterOptions {
    std::string title;         ///< drawn above the plot; empty: none
    int width = 800;           ///< picture width, 200..16384
    int height = 800;          ///< picture height, 200..16384
    double point_radius = 0;   ///< 0: automatic (smaller for more points), else 0 < r <= 100
    double opacity = 0.6;      ///< of each point, in (0, 1]: dense clusters read darker
    bool legend = true;        ///< a swatch and name per colour present
    std::string legend_title;  ///< e.g. "digit"; empty: none
    /// Legend name of label i (so labels must then be in 0..size-1); empty: the label's number.
    std::vector<std::string> class_names;
    std::string x_label;        ///< under the x axis; empty: none
    std::string y_label;        ///< beside the y axis; empty: none
    bool equal_aspect = false;  ///< one unit is as long on both axes
};

namespace detail {

// Everything both renderers need, computed once so the SVG and the PNG of a plot agree.
struct ScatterLayout {
    int s = 1;              // font scale of labels
    int ts = 2;             // font scale of the title: s + 1, less if the title is too wide
    int gap = 4, tick = 3;  // pixels
    double left = 0, right = 0, top = 0, bottom = 0;  // plot frame
    double x0 = 0, x1 = 1, y0 = 0, y1 = 1;            // data range shown
    Ticks xt, yt;
    double radius = 2;
    std::vector<std::uint8_t> present;  // colours that occur, ascending
    std::vector<std::string> names;     // legend names, by colour
    double legend_x = 0;
    int legend_row = 0;  // pixels between legend rows
    bool legend = false;

    double px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
    double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};

// Pads [lo, hi] by 4% on each side so no point sits on the frame; an empty or zero-width
// range becomes a unit-wide one around its value.
inline void pad_range(double& lo, double& hi) {
    if (!(lo <= hi)) {
        lo = -1;
        hi = 1;
        return;
    }
    const double span = hi - lo;
    if (span <= 1e-12 * std::max(1.0, std::fabs(lo))) {
        const double half = std::max(0.5, std::fabs(lo) * 0.1);
        lo -= half;
        hi += half;
        return;
    }
    lo -= 0.04 * span;
    hi += 0.04 * span;
}

// Ticks for [lo, hi] over `pixels`, about one per 50*s pixels, fewer if the labels would
// collide (labels need their width plus two gaps of room).
inline Ticks axis_ticks(double lo, double hi, double pixels, int s, bool horizontal) {
    int target = std::clamp(static_cast<int>(pixels / (50.0 * s)), 2, 10);
    for (;; --target) {
        Ticks t = nice_ticks(lo, hi, target);
        if (target <= 1 || t.values.size() < 2) return t;
        const double spacing = pixels * (t.values[1] - t.values[0]) / (hi - lo);
        int need = 0;
        for (const std::string& l : t.labels)
            need = std::max(need, horizontal ? text_width(l, s) : font_cap_height * s);
        if (spacing >= need + 3 * 4 * s) return t;
    }
}

// `labels` here and below are colour indices (< palette_size), made by scatter_colours.
inline ScatterLayout scatter_layout(const std::vector<double>& xs, const std::vector<double>& ys,
                                    const std::vector<std::uint8_t>& labels,
                                    const std::vector<std::string>& names, const ScatterOptions& o,
                                    const std::string& where) {
    ScatterLayout L;
    const int W = o.width, H = o.height;
    L.s = std::max(1, static_cast<int>(std::lround(std::min(W, H) / 400.0)));
    const int s = L.s;
    L.ts = s + 1;
    while (L.ts > 1 && text_width(o.title, L.ts) > W - 16 * s) --L.ts;
    const int ts = L.ts;
    L.gap = 4 * s;
    L.tick = 3 * s;
    const int margin = 8 * s;
    const int line = font_cell_height * s;

    // Data range.
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        xlo = std::min(xlo, xs[i]);
        xhi = std::max(xhi, xs[i]);
        ylo = std::min(ylo, ys[i]);
        yhi = std::max(yhi, ys[i]);
    }
    if (!xs.empty() && (!std::isfinite(xhi - xlo) || !std::isfinite(yhi - ylo)))
        throw ArgumentError(where + "the points span more than a double can hold");
    pad_range(xlo, xhi);
    pad_range(ylo, yhi);

    // Labels that occur, and their legend names.
    std::vector<bool> seen(palette_size, false);
    for (std::uint8_t l : labels) seen[l] = true;
    if (labels.empty() && !xs.empty()) seen[0] = true;
    for (std::size_t l = 0; l < palette_size; ++l)
        if (seen[l]) L.present.push_back(static_cast<std::uint8_t>(l));
    L.names = names;
    L.names.resize(palette_size);
    L.legend = o.legend && !labels.empty() && !L.present.empty();

    // Vertical layout: title, plot, tick labels, x label.
    L.top = margin + (o.title.empty() ? 0 : font_cell_height * ts + 2 * L.gap) + line / 2;
    L.bottom =
        H - margin - (o.x_label.empty() ? 0 : line + L.gap) - font_cap_height * s - L.gap - L.tick;
    L.y0 = ylo;
    L.y1 = yhi;
    L.x0 = xlo;
    L.x1 = xhi;

    // Horizontal layout: y label, y tick labels, plot, legend.
    L.yt = axis_ticks(L.y0, L.y1, L.bottom - L.top, s, false);
    int ytw = 0;
    for (const std::string& t : L.yt.labels) ytw = std::max(ytw, text_width(t, s));
    L.left = margin + (o.y_label.empty() ? 0 : line + L.gap) + ytw + L.gap + L.tick;
    int legend_w = 0;
    if (L.legend) {
        for (std::uint8_t l : L.present) legend_w = std::max(legend_w, text_width(L.names[l], s));
        legend_w += 8 * s + L.gap;  // swatch and gap before the name
        legend_w = std::max(legend_w, text_width(o.legend_title, s));
        L.right = W - margin - legend_w - 3 * L.gap;
        L.legend_x = L.right + 3 * L.gap;
        L.legend_row = line + 2 * L.gap;
    } else {
        L.right = W - margin - 3 * L.gap;
    }
    if (L.right - L.left < 40 * s || L.bottom - L.top < 40 * s)
        throw ArgumentError(
            where + "a " + std::to_string(W) + "x" + std::to_string(H) +
            " picture leaves no room for the plot beside its labels; make it larger "
            "or the names shorter");

    if (o.equal_aspect) {
        // Widen the shorter range so one unit spans as many pixels on both axes.
        const double pw = L.right - L.left, ph = L.bottom - L.top;
        const double u = std::max((L.x1 - L.x0) / pw, (L.y1 - L.y0) / ph);
        const double cx = 0.5 * (L.x0 + L.x1), cy = 0.5 * (L.y0 + L.y1);
        L.x0 = cx - 0.5 * u * pw;
        L.x1 = cx + 0.5 * u * pw;
        L.y0 = cy - 0.5 * u * ph;
        L.y1 = cy + 0.5 * u * ph;
        L.yt = axis_ticks(L.y0, L.y1, ph, s, false);
    }
    L.xt = axis_ticks(L.x0, L.x1, L.right - L.left, s, true);

    if (o.point_radius > 0) {
        L.radius = o.point_radius;
    } else {
        const double side = std::min(L.right - L.left, L.bottom - L.top);
        L.radius = std::clamp(
            0.4 * side / std::sqrt(std::max<double>(1.0, static_cast<double>(xs.size()))), 1.0,
            3.0 * s);
    }
    return L;
}

// The order points are drawn in: scatter_rounds rounds, each holding, label by label, the
// next tenth of that label's points (in input order). Drawing every label in one piece would
// bury the labels drawn first wherever clusters overlap; interleaving rounds lets each show.
inline constexpr std::size_t scatter_rounds = 10;

struct PointBatch {
    std::size_t label;
    std::vector<std::size_t> indices;
};

inline std::vector<PointBatch> scatter_batches(std::size_t n,
                                               const std::vector<std::uint8_t>& labels) {
    std::vector<std::vector<std::size_t>> by_label(palette_size);
    for (std::size_t i = 0; i < n; ++i) by_label[labels.empty() ? 0 : labels[i]].push_back(i);
    std::vector<PointBatch> batches;
    for (std::size_t r = 0; r < scatter_rounds; ++r)
        for (std::size_t l = 0; l < palette_size; ++l) {
            const std::size_t count = by_label[l].size();
            const std::size_t b = r * count / scatter_rounds, e = (r + 1) * count / scatter_rounds;
            if (b == e) continue;
            batches.push_back({l, std::vector<std::size_t>(
                                      by_label[l].begin() + static_cast<std::ptrdiff_t>(b),
                                      by_label[l].begin() + static_cast<std::ptrdiff_t>(e))});
        }
    return batches;
}

inline std::string scatter_svg(const std::vector<double>& xs, const std::vector<double>& ys,
                               const std::vector<std::uint8_t>& labels, const ScatterOptions& o,
                               const ScatterLayout& L) {
    const int s = L.s;
    const double fs = 10.0 * s;  // font size whose cap height is close to the bitmap font's 7*s
    std::string out;
    out.reserve(4096 + xs.size() * 40);
    out += svg_open(o.width, o.height, " font-family=\"DejaVu Sans,Helvetica,Arial,sans-serif\"");
    out += "<rect width=\"" + std::to_string(o.width) + "\" height=\"" + std::to_string(o.height) +
           "\" fill=\"#fff\"/>\n";
    const auto text = [&out](double x, double y, const std::string& str, const char* anchor,
                             const std::string& extra = std::string()) {
        out += "<text";
        append_attr(out, "x", x);
        append_attr(out, "y", y);
        if (anchor[0] != '\0') out += std::string(" text-anchor=\"") + anchor + '"';
        out += extra + '>' + xml_text(str) + "</text>\n";
    };
    if (!o.title.empty()) {
        std::string extra = " id=\"title\" font-size=\"";
        append_number(extra, 10.0 * L.ts);
        extra += '"';
        text(o.width / 2.0, 8 * s + font_cap_height * L.ts, o.title, "middle", extra);
    }

    // Grid lines at the ticks, then the points, then the frame and ticks on top.
    out += "<path fill=\"none\" stroke=\"" + hex_color(grid_color) + "\" d=\"";
    for (double v : L.xt.values) {
        out += 'M';
        append_number(out, std::floor(L.px(v)) + 0.5);
        out += ' ';
        append_number(out, L.top);
        out += 'V';
        append_number(out, L.bottom);
    }
    for (double v : L.yt.values) {
        out += 'M';
        append_number(out, L.left);
        out += ' ';
        append_number(out, std::floor(L.py(v)) + 0.5);
        out += 'H';
        append_number(out, L.right);
    }
    out += "\"/>\n<g id=\"points\">\n";
    char alpha[16];
    std::snprintf(alpha, sizeof alpha, "%.3g", o.opacity);
    for (const PointBatch& batch : scatter_batches(xs.size(), labels)) {
        out += "<g class=\"label-" + std::to_string(batch.label) + "\" fill=\"" +
               hex_color(palette_color(batch.label)) + "\" fill-opacity=\"" + alpha + "\">\n";
        for (std::size_t i : batch.indices) {
            out += "<circle";
            append_attr(out, "cx", L.px(xs[i]));
            append_attr(out, "cy", L.py(ys[i]));
            append_attr(out, "r", L.radius);
            out += "/>\n";
        }
        out += "</g>\n";
    }
    out += "</g>\n<rect fill=\"none\" stroke=\"" + hex_color(axis_color) + '"';
    append_attr(out, "x", std::floor(L.left) + 0.5);
    append_attr(out, "y", std::floor(L.top) + 0.5);
    append_attr(out, "width", std::floor(L.right) - std::floor(L.left));
    append_attr(out, "height", std::floor(L.bottom) - std::floor(L.top));
    out += "/>\n<path fill=\"none\" stroke=\"" + hex_color(axis_color) + "\" d=\"";
    for (double v : L.xt.values) {
        out += 'M';
        append_number(out, std::floor(L.px(v)) + 0.5);
        out += ' ';
        append_number(out, std::floor(L.bottom) + 0.5);
        out += 'v';
        append_number(out, L.tick);
    }
    for (double v : L.yt.values) {
        out += 'M';
        append_number(out, std::floor(L.left) + 0.5);
        out += ' ';
        append_number(out, std::floor(L.py(v)) + 0.5);
        out += 'h';
        append_number(out, -L.tick);
    }
    out += "\"/>\n";

    // Tick labels and axis labels.
    out += "<g fill=\"" + hex_color(text_color) + "\" font-size=\"";
    append_number(out, fs);
    out += "\">\n<g id=\"x-ticks\" text-anchor=\"middle\">\n";
    const double label_top = L.bottom + L.tick + L.gap;
    for (std::size_t k = 0; k < L.xt.values.size(); ++k)
        text(L.px(L.xt.values[k]), label_top + font_cap_height * s, L.xt.labels[k], "");
    out += "</g>\n<g id=\"y-ticks\" text-anchor=\"end\">\n";
    for (std::size_t k = 0; k < L.yt.values.size(); ++k)
        text(L.left - L.tick - L.gap, L.py(L.yt.values[k]) + font_cap_height * s / 2.0,
             L.yt.labels[k], "");
    out += "</g>\n";
    if (!o.x_label.empty())
        text(0.5 * (L.left + L.right),
             label_top + font_cap_height * s + L.gap + font_cell_height * s, o.x_label, "middle",
             " id=\"x-label\"");
    if (!o.y_label.empty()) {
        const double x = 8 * s + font_cap_height * s, y = 0.5 * (L.top + L.bottom);
        std::string rot = " id=\"y-label\" transform=\"rotate(-90 ";
        append_number(rot, x);
        rot += ' ';
        append_number(rot, y);
        rot += ")\"";
        text(x, y, o.y_label, "middle", rot);
    }
    out += "</g>\n";

    if (L.legend) {
        out += "<g id=\"legend\" font-size=\"";
        append_number(out, fs);
        out += "\" fill=\"" + hex_color(text_color) + "\">\n";
        double y = L.top;
        if (!o.legend_title.empty()) {
            text(L.legend_x, y + font_cap_height * s, o.legend_title, "");
            y += L.legend_row;
        }
        for (std::uint8_t l : L.present) {
            const double cy = y + font_cap_height * s / 2.0;
            out += "<circle";
            append_attr(out, "cx", L.legend_x + 3.5 * s);
            append_attr(out, "cy", cy);
            append_attr(out, "r", 3.5 * s);
            out += " fill=\"" + hex_color(palette_color(l)) + "\"/>\n";
            text(L.legend_x + 8 * s + L.gap, y + font_cap_height * s, L.names[l], "");
            y += L.legend_row;
        }
        out += "</g>\n";
    }
    out += "</svg>\n";
    return out;
}

inline Raster scatter_raster(const std::vector<double>& xs, const std::vector<double>& ys,
                             const std::vector<std::uint8_t>& labels, const ScatterOptions& o,
                             const ScatterLayout& L) {
    const int s = L.s;
    Raster img(o.width, o.height, 3, white);
    const int l = static_cast<int>(std::floor(L.left)), r = static_cast<int>(std::floor(L.right));
    const int t = static_cast<int>(std::floor(L.top)), b = static_cast<int>(std::floor(L.bottom));
    if (!o.title.empty()) {
        img.text(o.title, (o.width - text_width(o.title, L.ts)) / 2, 8 * s, L.ts, text_color);
    }
    for (double v : L.xt.values)
        img.fill_rect(static_cast<int>(std::floor(L.px(v))), t,
                      static_cast<int>(std::floor(L.px(v))) + 1, b, grid_color);
    for (double v : L.yt.values)
        img.fill_rect(l, static_cast<int>(std::floor(L.py(v))), r,
                      static_cast<int>(std::floor(L.py(v))) + 1, grid_color);

    for (const PointBatch& batch : scatter_batches(xs.size(), labels))
        for (std::size_t i : batch.indices)
            img.disc(L.px(xs[i]), L.py(ys[i]), L.radius, palette_color(batch.label), o.opacity);

    // Frame and ticks.
    img.fill_rect(l, t, r + 1, t + 1, axis_color);
    img.fill_rect(l, b, r + 1, b + 1, axis_color);
    img.fill_rect(l, t, l + 1, b + 1, axis_color);
    img.fill_rect(r, t, r + 1, b + 1, axis_color);
    const int label_top = b + L.tick + L.gap;
    for (std::size_t k = 0; k < L.xt.values.size(); ++k) {
        const int x = static_cast<int>(std::floor(L.px(L.xt.values[k])));
        img.fill_rect(x, b, x + 1, b + L.tick + 1, axis_color);
        img.text(L.xt.labels[k], x + 1 - text_width(L.xt.labels[k], s) / 2, label_top, s,
                 text_color);
    }
    for (std::size_t k = 0; k < L.yt.values.size(); ++k) {
        const int y = static_cast<int>(std::floor(L.py(L.yt.values[k])));
        img.fill_rect(l - L.tick, y, l + 1, y + 1, axis_color);
        img.text(L.yt.labels[k], l - L.tick - L.gap - text_width(L.yt.labels[k], s),
                 y - (font_cap_height * s) / 2, s, text_color);
    }
    if (!o.x_label.empty())
        img.text(o.x_label, (l + r - text_width(o.x_label, s)) / 2,
                 label_top + font_cap_height * s + L.gap, s, text_color);
    if (!o.y_label.empty())
        img.text(o.y_label, 8 * s, (t + b + text_width(o.y_label, s)) / 2, s, text_color, true);

    if (L.legend) {
        int y = t;
        const int x = static_cast<int>(L.legend_x);
        if (!o.legend_title.empty()) {
            img.text(o.legend_title, x, y, s, text_color);
            y += L.legend_row;
        }
        for (std::uint8_t lab : L.present) {
            img.disc(x + 3.5 * s, y + font_cap_height * s / 2.0, 3.5 * s, palette_color(lab), 1.0);
            img.text(L.names[lab], x + 8 * s + L.gap, y, s, text_color);
            y += L.legend_row;
        }
    }
    return img;
}

inline void save_scatter_xy(const std::string& path, PictureFormat format,
                            const std::vector<double>& xs, const std::vector<double>& ys,
                            const std::vector<std::uint8_t>& labels,
                            const std::vector<std::string>& names, const ScatterOptions& o) {
    const std::string fn = "embedkit::viz::save_scatter";
    const std::string where = fn + ": '" + path + "': ";
    const ScatterLayout L = scatter_layout(xs, ys, labels, names, o, where);
    if (format == PictureFormat::svg) {
        const std::string svg = scatter_svg(xs, ys, labels, o, L);
        write_file_atomically(path, svg.data(), svg.size());
    } else {
        write_raster(path, scatter_raster(xs, ys, labels, o, L), format, fn);
    }
}

/// The colour of every point and the legend name of every colour (see save_scatter).
struct ScatterColours {
    std::vector<std::uint8_t> colour;  // per point, < palette_size
    std::vector<std::string> names;    // per colour
};

/// Colour policy of save_scatter: labels 0..9 keep their own colour; otherwise at most 10
/// distinct labels take the colours in ascending label order; beyond 10, the 9 most frequent
/// labels (equal counts: the smaller label) take colours 0..8 in ascending label order and
/// all the others share colour 9 and one legend entry "other (N labels)".
template <class L>
ScatterColours scatter_colours(const std::vector<L>& labels, const ScatterOptions& o,
                               const std::string& where) {
    ScatterColours out;
    out.names.resize(palette_size);
    out.colour.resize(labels.size());
    if (labels.empty()) return out;
    if (!o.class_names.empty())
        for (std::size_t i = 0; i < labels.size(); ++i)
            if (!embedkit::detail::label_in_range(labels[i], o.class_names.size()))
                throw ArgumentError(where + "class_names has " +
                                    std::to_string(o.class_names.size()) + " names but row " +
                                    std::to_string(i) + " has label " +
                                    embedkit::detail::label_to_string(labels[i]));
    const auto name = [&o](L v) {
        return o.class_names.empty() ? embedkit::detail::label_to_string(v)
                                     : o.class_names[static_cast<std::size_t>(v)];
    };
    const auto cls = embedkit::detail::label_classes(labels);
    const std::size_t k = cls.count();
    std::vector<std::size_t> colour_of(k);  // by class
    if (embedkit::detail::label_in_range(cls.values.front(), palette_size) &&
        embedkit::detail::label_in_range(cls.values.back(), palette_size)) {
        // 0..9: a label's colour does not depend on which other labels are present.
        for (std::size_t c = 0; c < k; ++c) colour_of[c] = static_cast<std::size_t>(cls.values[c]);
    } else if (k <= palette_size) {
        for (std::size_t c = 0; c < k; ++c) colour_of[c] = c;
    } else {
        std::vector<std::size_t> count(k, 0), by_count(k);
        for (std::size_t c : cls.classes) ++count[c];
        for (std::size_t c = 0; c < k; ++c) by_count[c] = c;
        std::stable_sort(by_count.begin(), by_count.end(),
                         [&count](std::size_t a, std::size_t b) { return count[a] > count[b]; });
        std::vector<bool> kept(k, false);
        for (std::size_t r = 0; r + 1 < palette_size; ++r) kept[by_count[r]] = true;
        std::size_t next = 0;
        for (std::size_t c = 0; c < k; ++c) colour_of[c] = kept[c] ? next++ : palette_size - 1;
        out.names[palette_size - 1] =
            "other (" + std::to_string(k - (palette_size - 1)) + " labels)";
    }
    for (std::size_t c = 0; c < k; ++c)
        if (out.names[colour_of[c]].empty()) out.names[colour_of[c]] = name(cls.values[c]);
    for (std::size_t i = 0; i < labels.size(); ++i)
        out.colour[i] = static_cast<std::uint8_t>(colour_of[cls.classes[i]]);
    return out;
}

}  // namespace detail

/// Draws the 2-D points `points` (n x 2, float or double, one point per row, any storage
/// order or expression) coloured by `labels` (n labels of any integer type, or empty for one
/// colour and no legend) into `path`: axes with ticks at round numbers, translucent points (so
/// dense clusters read darker), a legend of the colours present. Points are drawn in 10
/// rounds, each holding a tenth of every colour's points, so where clusters overlap none hides
/// the others.
///
/// Colours (ten stay distinguishable, more would not): labels all in 0..9 keep colour = label
/// (MNIST digits look alike in every plot); other label sets of at most 10 distinct values
/// (e.g. 300, 70000, -5) take the colours in ascending label order; with more than 10 distinct
/// labels the 9 most frequent (equal counts: the smaller label) get their own colours, in
/// ascending label order, and all the others share the tenth colour (dark grey) and one legend
/// entry "other (N labels)". The legend names a colour by class_names[label] when class_names
/// is given, else by the label's number.
///
/// The format follows the extension (case-insensitive): .svg (always; one
/// <g class="label-k"> per colour k and round with the style set once, one <circle> per point,
/// about 40 bytes a point), .png (needs EMBEDKIT_HAS_PNG, i.e. libpng found by CMake). The
/// file is replaced atomically (temporary file + rename).
/// Throws ArgumentError for another extension, .png without libpng, NaN or Inf coordinates
/// (naming the row), a label with no entry in a non-empty class_names (negative or past its
/// end; naming the row), or bad options; DimensionError if points is not n x 2 or labels has
/// neither n nor 0 entries; IoError if the file cannot be written.
template <class Derived, class L = std::uint8_t>  // the default serves braced lists, e.g. {}
void save_scatter(const std::string& path, const Eigen::MatrixBase<Derived>& points,
                  const std::vector<L>& labels, const ScatterOptions& options = {}) {
    using Scalar = typename Derived::Scalar;
    static_assert(is_label_type_v<L>,
                  "embedkit::viz::save_scatter: labels must be a std::vector of an integer type "
                  "(uint8_t, int32_t, int64_t, ...), not bool or floating point");
    static_assert(
        is_supported_scalar_v<Scalar>,
        "embedkit::viz::save_scatter: points must hold float or double (e.g. RowMatrixF)");
    const std::string where = "embedkit::viz::save_scatter: '" + path + "': ";
    const detail::PictureFormat format =
        detail::picture_format(path, "embedkit::viz::save_scatter", false);
    if (points.cols() != 2)
        throw DimensionError(where + "points must be n x 2 (one 2-D point per row), got " +
                             std::to_string(points.rows()) + " x " + std::to_string(points.cols()));
    const std::size_t n = static_cast<std::size_t>(points.rows());
    if (!labels.empty() && labels.size() != n)
        throw DimensionError(where + "labels must have one entry per point (" + std::to_string(n) +
                             ") or none, got " + std::to_string(labels.size()));
    if (options.width < 200 || options.width > 16384 || options.height < 200 ||
        options.height > 16384)
        throw ArgumentError(where + "width and height must be in 200..16384, got " +
                            std::to_string(options.width) + " x " + std::to_string(options.height));
    if (!(options.point_radius >= 0 && options.point_radius <= 100))
        throw ArgumentError(where + "point_radius must be in [0, 100] (0 = automatic), got " +
                            std::to_string(options.point_radius));
    if (!(options.opacity > 0 && options.opacity <= 1))
        throw ArgumentError(where + "opacity must be in (0, 1], got " +
                            std::to_string(options.opacity));
    const detail::ScatterColours colours = detail::scatter_colours(labels, options, where);
    const auto& m = points.derived().eval();  // a reference for plain matrices, else one evaluation
    std::vector<double> xs(n), ys(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Eigen::Index r = static_cast<Eigen::Index>(i);
        xs[i] = static_cast<double>(m(r, 0));
        ys[i] = static_cast<double>(m(r, 1));
        if (!std::isfinite(xs[i]) || !std::isfinite(ys[i]))
            throw ArgumentError(where + "points must be finite, row " + std::to_string(i) +
                                " is (" + std::to_string(xs[i]) + ", " + std::to_string(ys[i]) +
                                ")");
    }
    detail::save_scatter_xy(path, format, xs, ys, colours.colour, colours.names, options);
}

}  // namespace embedkit::viz
