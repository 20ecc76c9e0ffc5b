// Grids of small grey images (MNIST digits, VAE reconstructions and decodings) as PNG (with
// libpng), SVG or PGM.
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "detail/bitmap_font.hpp"
#include "detail/picture_file.hpp"
#include "detail/raster.hpp"
#include "detail/svg.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit::viz {

/// How save_image_grid and save_image_pairs lay images out. Sizes are in output pixels.
struct ImageGridOptions {
    int columns =
        0;  ///< images per grid row; 0: square-ish (ceil(sqrt(n)), or for pairs ceil(sqrt(2n)))
    int scale = 2;            ///< each image pixel becomes scale x scale output pixels, 1..64
    int padding = 2;          ///< between images and around the grid, 0..1000
    std::string title;        ///< drawn above the grid; empty: none
    double background = 1.0;  ///< grey level in [0, 1] of the padding, empty cells and title strip
};

namespace detail {

// Where each image goes. cells[r * cols + c] is the index of the image in grid cell (r, c),
// or -1 for an empty cell; row_y and col_x are the top-left output pixel of each cell.
struct GridLayout {
    int width = 0, height = 0;
    int cell_w = 0, cell_h = 0;
    int title_scale = 0, title_y = 0;  // title_scale 0: no title
    std::vector<int> col_x, row_y;
    std::vector<long long> cells;
};

// `pair_bands` = true: grid rows come in pairs (originals above reconstructions) and each pair
// of rows is followed by a wider gap (3 x padding) instead of the usual padding.
inline GridLayout grid_layout(int grid_cols, int image_rows, int image_cols,
                              const ImageGridOptions& o, bool pair_bands,
                              std::vector<long long> cells, const std::string& where) {
    GridLayout g;
    constexpr long long max_side = 32768, max_pixels = 1LL << 28;
    const long long grid_rows = static_cast<long long>(cells.size()) / grid_cols;
    const long long cw = static_cast<long long>(image_cols) * o.scale,
                    ch = static_cast<long long>(image_rows) * o.scale;
    // Sizes are checked before the layout is built; every factor below is < 2^31, so the
    // products fit in 64 bits.
    const long long band_gaps = pair_bands ? grid_rows / 2 - 1 : 0;
    long long w = grid_cols * (cw + o.padding) + o.padding;
    long long h = grid_rows * (ch + o.padding) + o.padding + band_gaps * 2LL * o.padding;
    long long title_h = 0;
    if (!o.title.empty()) {
        int ts = static_cast<int>(std::clamp<long long>(w / 250, 1, 3));
        while (ts > 1 && text_width(o.title, ts) + 2 * 4 * ts > w) --ts;
        g.title_scale = ts;
        g.title_y = std::max(o.padding, 4 * ts);
        title_h = g.title_y + font_cell_height * ts + 2 * ts;
    }
    h += title_h;
    if (w > max_side || h > max_side || w * h > max_pixels)
        throw ArgumentError(
            where + "the picture would be " + std::to_string(w) + " x " + std::to_string(h) +
            " pixels (at most 32768 per side and 2^28 in all); use fewer images or a smaller "
            "scale or padding");
    g.width = static_cast<int>(w);
    g.height = static_cast<int>(h);
    g.cell_w = static_cast<int>(cw);
    g.cell_h = static_cast<int>(ch);
    for (int c = 0; c < grid_cols; ++c)
        g.col_x.push_back(static_cast<int>(o.padding + c * (cw + o.padding)));
    long long y = title_h + o.padding;
    for (long long r = 0; r < grid_rows; ++r) {
        g.row_y.push_back(static_cast<int>(y));
        y += ch + ((pair_bands && r % 2 == 1) ? 3LL * o.padding : o.padding);
    }
    g.cells = std::move(cells);
    return g;
}

inline std::uint8_t grey_byte(double v) {
    return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

// `pixels` holds the images as bytes, image i at pixels[i * image_rows * image_cols].
inline Raster grid_raster(const GridLayout& g, const std::vector<std::uint8_t>& pixels,
                          int image_rows, int image_cols, const ImageGridOptions& o) {
    const std::uint8_t bg = grey_byte(o.background);
    Raster img(g.width, g.height, 1, Rgb{bg, bg, bg});
    if (g.title_scale > 0) {
        const std::uint8_t ink = bg < 128 ? 255 : 0;
        img.text(o.title, (g.width - text_width(o.title, g.title_scale)) / 2, g.title_y,
                 g.title_scale, Rgb{ink, ink, ink});
    }
    const std::size_t per_image =
        static_cast<std::size_t>(image_rows) * static_cast<std::size_t>(image_cols);
    const std::size_t cols = g.col_x.size();
    for (std::size_t cell = 0; cell < g.cells.size(); ++cell) {
        if (g.cells[cell] < 0) continue;
        const std::uint8_t* src =
            pixels.data() + static_cast<std::size_t>(g.cells[cell]) * per_image;
        const int x0 = g.col_x[cell % cols], y0 = g.row_y[cell / cols];
        for (int r = 0; r < image_rows; ++r) {
            for (int dy = 0; dy < o.scale; ++dy) {
                std::uint8_t* out = img.row(y0 + r * o.scale + dy) + x0;
                for (int c = 0; c < image_cols; ++c)
                    for (int dx = 0; dx < o.scale; ++dx) *out++ = src[r * image_cols + c];
            }
        }
    }
    return img;
}

// SVG: each image becomes a rectangle in its most frequent grey; then, per grey level, one
// path of horizontal runs of equal grey that differ from their image's rectangle, each run a
// stroke `scale` pixels wide along the middle of its pixel row (butt caps, so it covers
// exactly the run's pixels). Greys are quantised to 16 levels (#000, #111, ..., #fff), which
// merges runs; moves are relative, so numbers stay short: a 20 x 20 grid of MNIST digits takes
// about 0.4 MB. crispEdges keeps renderers from drawing seams between neighbouring runs.
inline std::string grid_svg(const GridLayout& g, const std::vector<std::uint8_t>& pixels,
                            int image_rows, int image_cols, const ImageGridOptions& o) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto grey = [](int level) {
        return std::string("#") + hex[level] + hex[level] + hex[level];
    };
    const auto level_of = [](std::uint8_t b) { return (b * 15 + 127) / 255; };
    std::string out = svg_open(g.width, g.height, " shape-rendering=\"crispEdges\"");
    const int bg_level = level_of(grey_byte(o.background));
    out += "<rect width=\"" + std::to_string(g.width) + "\" height=\"" + std::to_string(g.height) +
           "\" fill=\"" + grey(bg_level) + "\"/>\n";
    if (g.title_scale > 0) {
        std::string t = "<text x=\"";
        append_number(t, g.width / 2.0);
        t += "\" y=\"";
        append_number(t, g.title_y + font_cap_height * g.title_scale);
        t += "\" text-anchor=\"middle\" font-family=\"DejaVu Sans,Helvetica,Arial,sans-serif\" "
             "font-size=\"";
        append_number(t, 10.0 * g.title_scale);
        t += std::string("\" fill=\"") + (bg_level < 8 ? "#fff" : "#000") + "\">" +
             xml_text(o.title) + "</text>\n";
        out += t;
    }
    const std::size_t per_image =
        static_cast<std::size_t>(image_rows) * static_cast<std::size_t>(image_cols);
    const std::size_t cols = g.col_x.size();
    std::array<std::string, 16> paths;
    std::array<long long, 16> pen_x{}, pen_y{};  // where each path's pen stands (run end, row top)
    std::array<bool, 16> started{};
    std::vector<int> levels(per_image);
    for (std::size_t cell = 0; cell < g.cells.size(); ++cell) {
        if (g.cells[cell] < 0) continue;
        const std::uint8_t* src =
            pixels.data() + static_cast<std::size_t>(g.cells[cell]) * per_image;
        std::array<std::size_t, 16> count{};
        for (std::size_t i = 0; i < per_image; ++i) {
            levels[i] = level_of(src[i]);
            ++count[static_cast<std::size_t>(levels[i])];
        }
        const int base =
            static_cast<int>(std::max_element(count.begin(), count.end()) - count.begin());
        const int x0 = g.col_x[cell % cols], y0 = g.row_y[cell / cols];
        out += "<rect x=\"" + std::to_string(x0) + "\" y=\"" + std::to_string(y0) + "\" width=\"" +
               std::to_string(g.cell_w) + "\" height=\"" + std::to_string(g.cell_h) + "\" fill=\"" +
               grey(base) + "\"/>\n";
        for (int r = 0; r < image_rows; ++r) {
            const int* row =
                levels.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(image_cols);
            for (int c = 0; c < image_cols;) {
                const int level = row[c];
                int end = c + 1;
                while (end < image_cols && row[end] == level) ++end;
                if (level != base) {
                    const long long x = x0 + static_cast<long long>(c) * o.scale;
                    const long long y = y0 + static_cast<long long>(r) * o.scale;
                    std::string& p = paths[static_cast<std::size_t>(level)];
                    if (!started[static_cast<std::size_t>(level)]) {
                        p += 'M' + std::to_string(x) + ' ';
                        append_number(
                            p, static_cast<double>(y) + 0.5 * o.scale);  // the stroke's centre line
                        started[static_cast<std::size_t>(level)] = true;
                    } else {
                        p += 'm' + std::to_string(x - pen_x[static_cast<std::size_t>(level)]) +
                             ' ' + std::to_string(y - pen_y[static_cast<std::size_t>(level)]);
                    }
                    const long long w = static_cast<long long>(end - c) * o.scale;
                    p += 'h' + std::to_string(w);
                    pen_x[static_cast<std::size_t>(level)] = x + w;
                    pen_y[static_cast<std::size_t>(level)] = y;
                }
                c = end;
            }
        }
    }
    for (int level = 0; level < 16; ++level)
        if (started[static_cast<std::size_t>(level)])
            out += "<path fill=\"none\" stroke=\"" + grey(level) + "\" stroke-width=\"" +
                   std::to_string(o.scale) + "\" d=\"" + paths[static_cast<std::size_t>(level)] +
                   "\"/>\n";
    out += "</svg>\n";
    return out;
}

inline void write_grid(const std::string& path, PictureFormat format, const GridLayout& g,
                       const std::vector<std::uint8_t>& pixels, int image_rows, int image_cols,
                       const ImageGridOptions& o, const std::string& function) {
    if (format == PictureFormat::svg) {
        const std::string svg = grid_svg(g, pixels, image_rows, image_cols, o);
        write_file_atomically(path, svg.data(), svg.size());
    } else {
        write_raster(path, grid_raster(g, pixels, image_rows, image_cols, o), format, function);
    }
}

inline void check_grid_options(const std::string& where, int image_rows, int image_cols,
                               long long cols_in_matrix, const ImageGridOptions& o) {
    if (image_rows < 1 || image_cols < 1)
        throw ArgumentError(where + "image_rows and image_cols must be positive, got " +
                            std::to_string(image_rows) + " x " + std::to_string(image_cols));
    if (static_cast<long long>(image_rows) * image_cols != cols_in_matrix)
        throw DimensionError(where + "each row must hold one " + std::to_string(image_rows) +
                             " x " + std::to_string(image_cols) + " image (" +
                             std::to_string(static_cast<long long>(image_rows) * image_cols) +
                             " values), got " + std::to_string(cols_in_matrix) + " columns");
    if (o.columns < 0)
        throw ArgumentError(where + "columns must be >= 0 (0 = automatic), got " +
                            std::to_string(o.columns));
    if (o.scale < 1 || o.scale > 64)
        throw ArgumentError(where + "scale must be in 1..64, got " + std::to_string(o.scale));
    if (o.padding < 0 || o.padding > 1000)
        throw ArgumentError(where + "padding must be in 0..1000, got " + std::to_string(o.padding));
    if (static_cast<long long>(image_rows) * o.scale > 32768 ||
        static_cast<long long>(image_cols) * o.scale > 32768)
        throw ArgumentError(where + "one scaled image would be " +
                            std::to_string(static_cast<long long>(image_cols) * o.scale) + " x " +
                            std::to_string(static_cast<long long>(image_rows) * o.scale) +
                            " pixels (at most 32768 per side); use a smaller scale");
    if (!(o.background >= 0 && o.background <= 1))
        throw ArgumentError(where + "background must be a grey level in [0, 1], got " +
                            std::to_string(o.background));
}

// Appends the images of `images` to `out` as bytes (clamped to [0, 1], x 255, rounded);
// NaN is an ArgumentError naming `what`, the row and the pixel.
template <class Derived>
void append_grey_bytes(std::vector<std::uint8_t>& out, const Eigen::MatrixBase<Derived>& images,
                       const std::string& where, const char* what) {
    const auto& m = images.derived().eval();  // a reference for plain matrices, else one evaluation
    const Eigen::Index rows = m.rows(), cols = m.cols();
    out.reserve(out.size() + static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
    for (Eigen::Index i = 0; i < rows; ++i)
        for (Eigen::Index j = 0; j < cols; ++j) {
            const double v = static_cast<double>(m(i, j));
            if (std::isnan(v))
                throw ArgumentError(where + what + " row " + std::to_string(i) + ", pixel " +
                                    std::to_string(j) +
                                    " is NaN (values must be grey levels in [0, 1])");
            out.push_back(grey_byte(v));
        }
}

}  // namespace detail

/// Writes the images in `images` (n x (image_rows * image_cols), float or double; row i is
/// image i in row-major pixel order, 0 = black, 1 = white; values outside [0, 1] are clamped)
/// as a grid into `path`, image i in grid row i / columns, column i % columns, each pixel
/// scaled to scale x scale, with `padding` background pixels between and around the images
/// and the title (if any) in a strip above. Grid size: width = columns * (image_cols * scale
/// + padding) + padding; height = title strip + rows * (image_rows * scale + padding) + padding.
/// The format follows the extension: .png (needs EMBEDKIT_HAS_PNG), .pgm (always; exact 8-bit
/// greys), .svg (always; 16 grey levels to stay compact). The file is replaced atomically.
/// Throws DimensionError if images.cols() != image_rows * image_cols; ArgumentError for no
/// images, a NaN (naming row and pixel), bad options, a picture larger than 32768 pixels per
/// side or 2^28 pixels, or an unsupported extension; IoError if the file cannot be written.
template <class Derived>
void save_image_grid(const std::string& path, const Eigen::MatrixBase<Derived>& images,
                     int image_rows, int image_cols, const ImageGridOptions& options = {}) {
    static_assert(
        is_supported_scalar_v<typename Derived::Scalar>,
        "embedkit::viz::save_image_grid: images must hold float or double (e.g. RowMatrixF)");
    const std::string function = "embedkit::viz::save_image_grid";
    const std::string where = function + ": '" + path + "': ";
    const detail::PictureFormat format = detail::picture_format(path, function.c_str(), true);
    detail::check_grid_options(where, image_rows, image_cols, static_cast<long long>(images.cols()),
                               options);
    const long long n = static_cast<long long>(images.rows());
    if (n == 0) throw ArgumentError(where + "no images to draw (images has 0 rows)");
    const long long cols = std::min<long long>(
        n, options.columns > 0
               ? options.columns
               : static_cast<long long>(std::ceil(std::sqrt(static_cast<double>(n)) - 1e-9)));
    const long long grid_rows = (n + cols - 1) / cols;
    if (grid_rows * cols > (1LL << 28))
        throw ArgumentError(where + "too many grid cells (" + std::to_string(grid_rows) + " x " +
                            std::to_string(cols) + ")");
    std::vector<long long> cells(static_cast<std::size_t>(grid_rows * cols), -1);
    for (long long i = 0; i < n; ++i) cells[static_cast<std::size_t>(i)] = i;
    const detail::GridLayout g = detail::grid_layout(static_cast<int>(cols), image_rows, image_cols,
                                                     options, false, std::move(cells), where);
    std::vector<std::uint8_t> pixels;
    detail::append_grey_bytes(pixels, images, where, "images");
    detail::write_grid(path, format, g, pixels, image_rows, image_cols, options, function);
}

/// Writes originals and their reconstructions (both n x (image_rows * image_cols), values as
/// in save_image_grid) as a grid of pairs: each band holds `columns` originals with their
/// reconstructions in the grid row directly below, bands separated by 3 x padding. columns =
/// 0 picks ceil(sqrt(2n)) so the picture is about square. Same formats, options and errors as
/// save_image_grid, plus DimensionError if the two matrices differ in shape.
template <class DerivedA, class DerivedB>
void save_image_pairs(const std::string& path, const Eigen::MatrixBase<DerivedA>& originals,
                      const Eigen::MatrixBase<DerivedB>& reconstructions, int image_rows,
                      int image_cols, const ImageGridOptions& options = {}) {
    static_assert(
        is_supported_scalar_v<typename DerivedA::Scalar> &&
            is_supported_scalar_v<typename DerivedB::Scalar>,
        "embedkit::viz::save_image_pairs: images must hold float or double (e.g. RowMatrixF)");
    const std::string function = "embedkit::viz::save_image_pairs";
    const std::string where = function + ": '" + path + "': ";
    const detail::PictureFormat format = detail::picture_format(path, function.c_str(), true);
    if (originals.rows() != reconstructions.rows() || originals.cols() != reconstructions.cols())
        throw DimensionError(
            where + "originals and reconstructions must have the same shape, got " +
            std::to_string(originals.rows()) + " x " + std::to_string(originals.cols()) + " and " +
            std::to_string(reconstructions.rows()) + " x " +
            std::to_string(reconstructions.cols()));
    detail::check_grid_options(where, image_rows, image_cols,
                               static_cast<long long>(originals.cols()), options);
    const long long n = static_cast<long long>(originals.rows());
    if (n == 0) throw ArgumentError(where + "no images to draw (originals has 0 rows)");
    const long long cols = std::min<long long>(
        n, options.columns > 0
               ? options.columns
               : static_cast<long long>(std::ceil(std::sqrt(2.0 * static_cast<double>(n)) - 1e-9)));
    const long long bands = (n + cols - 1) / cols;
    if (2 * bands * cols > (1LL << 28))
        throw ArgumentError(where + "too many grid cells (" + std::to_string(2 * bands) + " x " +
                            std::to_string(cols) + ")");
    // Images 0..n-1 are the originals, n..2n-1 the reconstructions.
    std::vector<long long> cells(static_cast<std::size_t>(2 * bands * cols), -1);
    for (long long i = 0; i < n; ++i) {
        const long long band = i / cols, c = i % cols;
        cells[static_cast<std::size_t>((2 * band) * cols + c)] = i;
        cells[static_cast<std::size_t>((2 * band + 1) * cols + c)] = n + i;
    }
    const detail::GridLayout g = detail::grid_layout(static_cast<int>(cols), image_rows, image_cols,
                                                     options, true, std::move(cells), where);
    std::vector<std::uint8_t> pixels;
    detail::append_grey_bytes(pixels, originals, where, "originals");
    detail::append_grey_bytes(pixels, reconstructions, where, "reconstructions");
    detail::write_grid(path, format, g, pixels, image_rows, image_cols, options, function);
}

}  // namespace embedkit::viz
