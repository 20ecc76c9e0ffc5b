// image_grid.hpp: exact pixel placement (PGM bytes), clamping, titles, pairs of originals and
// reconstructions, PNG that decodes to the same pixels, compact SVG whose runs rebuild the
// quantised picture, and every bad input rejected before a file appears.
#include "viz_test_util.hpp"

#include <embedkit/core/config.hpp>
#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/viz/image_grid.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if EMBEDKIT_HAS_ZLIB
#include <zlib.h>
#endif

namespace {

using embedkit::ArgumentError;
using embedkit::DimensionError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
namespace viz = embedkit::viz;

std::uint8_t to_byte(double v) {
    return static_cast<std::uint8_t>(std::lround(std::min(1.0, std::max(0.0, v)) * 255.0));
}

// The grid the documentation promises, built independently of the library: image i at grid
// row i / columns, column i % columns, each pixel scale x scale, padding around and between.
viztest::Pgm reference_grid(const embedkit::RowMatrixD& images, int rows, int cols, int columns,
                            int scale, int padding, double background) {
    const int n = static_cast<int>(images.rows());
    const int grid_rows = (n + columns - 1) / columns;
    viztest::Pgm p;
    p.width = columns * (cols * scale + padding) + padding;
    p.height = grid_rows * (rows * scale + padding) + padding;
    p.pixels.assign(static_cast<std::size_t>(p.width) * static_cast<std::size_t>(p.height),
                    to_byte(background));
    for (int i = 0; i < n; ++i) {
        const int x0 = padding + (i % columns) * (cols * scale + padding);
        const int y0 = padding + (i / columns) * (rows * scale + padding);
        for (int y = 0; y < rows * scale; ++y)
            for (int x = 0; x < cols * scale; ++x)
                p.pixels[static_cast<std::size_t>(y0 + y) * static_cast<std::size_t>(p.width) +
                         static_cast<std::size_t>(x0 + x)] =
                    to_byte(images(i, (y / scale) * cols + x / scale));
    }
    return p;
}

embedkit::RowMatrixD random_images(int n, int pixels, unsigned seed) {
    std::mt19937 gen(seed);
    embedkit::RowMatrixD m(n, pixels);
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = static_cast<double>(gen() % 1000) / 999.0;
    return m;
}

// Digit-like 28 x 28 images: a soft ring and a soft stroke on black, as MNIST digits are.
embedkit::RowMatrixF digit_like(int n, unsigned seed) {
    std::mt19937 gen(seed);
    const auto u = [&gen](double lo, double hi) {
        return lo + (hi - lo) * (static_cast<double>(gen()) / 4294967295.0);
    };
    embedkit::RowMatrixF m(n, 784);
    for (int i = 0; i < n; ++i) {
        const double cx = u(10, 18), cy = u(10, 18), rx = u(3, 7), ry = u(4, 9);
        const double ax = u(6, 22), ay = u(4, 8), bx = u(6, 22), by = u(20, 24);
        for (int y = 0; y < 28; ++y)
            for (int x = 0; x < 28; ++x) {
                const double ring =
                    std::fabs(std::hypot((x - cx) / rx, (y - cy) / ry) - 1.0) * std::min(rx, ry);
                const double vx = bx - ax, vy = by - ay;
                const double t =
                    std::clamp(((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy), 0.0, 1.0);
                const double line = std::hypot(x - ax - t * vx, y - ay - t * vy);
                const double d = std::min(ring, line);
                m(i, y * 28 + x) = static_cast<float>(std::clamp(1.6 - d, 0.0, 1.0));
            }
    }
    return m;
}

TEST_CASE("image_grid: a PGM holds exactly the promised bytes") {
    TempDir dir;
    // Two 1 x 2 images side by side, padding 1 in background grey 0.2 (byte 51); 0.5 rounds to
    // 128, values outside [0, 1] clamp.
    embedkit::RowMatrixF two(2, 2);
    two << 0.0f, 1.0f, 0.5f, -3.0f;
    viz::ImageGridOptions o;
    o.columns = 2;
    o.scale = 1;
    o.padding = 1;
    o.background = 0.2;
    viz::save_image_grid(dir.file("two.pgm"), two, 1, 2, o);
    const std::string expected_pixels = {51,        51, 51, 51, 51, 51, 51, 51, 0,  char(255), 51,
                                         char(128), 0,  51, 51, 51, 51, 51, 51, 51, 51};
    CHECK(read_file(dir.file("two.pgm")) == "P5\n7 3\n255\n" + expected_pixels);

    // Seven random 3 x 4 images in 3 columns, scale 2, padding 2, with an empty last cell pair.
    const embedkit::RowMatrixD imgs = random_images(7, 12, 11);
    o.columns = 3;
    o.scale = 2;
    o.padding = 2;
    o.background = 1.0;
    viz::save_image_grid(dir.file("seven.pgm"), imgs, 3, 4, o);
    const viztest::Pgm got = viztest::read_pgm(read_file(dir.file("seven.pgm")));
    const viztest::Pgm want = reference_grid(imgs, 3, 4, 3, 2, 2, 1.0);
    CHECK(got.width == want.width);
    CHECK(got.height == want.height);
    CHECK(got.pixels == want.pixels);

    // Automatic columns: ceil(sqrt(n)); columns beyond n shrink to n.
    viz::save_image_grid(dir.file("auto.pgm"), imgs, 3, 4);
    CHECK(viztest::read_pgm(read_file(dir.file("auto.pgm"))).pixels ==
          reference_grid(imgs, 3, 4, 3, 2, 2, 1.0).pixels);
    o.columns = 50;
    viz::save_image_grid(dir.file("wide.pgm"), imgs, 3, 4, o);
    CHECK(viztest::read_pgm(read_file(dir.file("wide.pgm"))).pixels ==
          reference_grid(imgs, 3, 4, 7, 2, 2, 1.0).pixels);

    // +Inf clamps to white, -Inf to black; float and double agree.
    embedkit::RowMatrixD inf(1, 2);
    inf << std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity();
    o = {};
    o.padding = 0;
    o.scale = 1;
    viz::save_image_grid(dir.file("inf.pgm"), inf, 1, 2, o);
    CHECK(read_file(dir.file("inf.pgm")) == std::string("P5\n2 1\n255\n\xff\x00", 13));
    const embedkit::RowMatrixF imgs_f = imgs.cast<float>();
    viz::save_image_grid(dir.file("f.pgm"), imgs_f, 3, 4);
    viz::save_image_grid(dir.file("d.pgm"), imgs_f.cast<double>(), 3, 4);
    CHECK(read_file(dir.file("f.pgm")) == read_file(dir.file("d.pgm")));
}

TEST_CASE("image_grid: a title adds a strip above and leaves the grid unchanged") {
    TempDir dir;
    const embedkit::RowMatrixD imgs = random_images(6, 25, 3);
    viz::ImageGridOptions o;
    viz::save_image_grid(dir.file("plain.pgm"), imgs, 5, 5, o);
    o.title = "decoded latent grid";
    viz::save_image_grid(dir.file("title.pgm"), imgs, 5, 5, o);
    const viztest::Pgm plain = viztest::read_pgm(read_file(dir.file("plain.pgm")));
    const viztest::Pgm titled = viztest::read_pgm(read_file(dir.file("title.pgm")));
    REQUIRE(titled.width == plain.width);
    REQUIRE(titled.height > plain.height);
    const int strip = titled.height - plain.height;
    CHECK(std::equal(plain.pixels.begin(), plain.pixels.end(),
                     titled.pixels.begin() + static_cast<std::ptrdiff_t>(strip) * titled.width));
    int ink = 0;
    for (int y = 0; y < strip; ++y)
        for (int x = 0; x < titled.width; ++x) ink += titled.at(x, y) == 0;
    CHECK(ink > 50);  // black text on the white strip
}

TEST_CASE("image_grid: pairs put each reconstruction below its original with gaps between bands") {
    TempDir dir;
    embedkit::RowMatrixF orig(3, 1), rec(3, 1);
    orig << 0.0f, 0.2f, 0.4f;
    rec << 0.6f, 0.8f, 1.0f;
    viz::ImageGridOptions o;
    o.columns = 2;
    o.scale = 1;
    o.padding = 1;
    o.background = 0.5;
    viz::save_image_pairs(dir.file("pairs.pgm"), orig, rec, 1, 1, o);
    // Rows of cells at y = 1, 3 (first band), then a 3-pixel gap, 7, 9; columns at x = 1, 3.
    const char B = char(128), o0 = 0, o1 = 51, o2 = 102, r0 = char(153), r1 = char(204),
               r2 = char(255);
    const std::string want = {B, B, B, B, B, B, o0, B, o1, B, B, B, B, B, B, B, r0, B,  r1,
                              B, B, B, B, B, B, B,  B, B,  B, B, B, B, B, B, B, B,  o2, B,
                              B, B, B, B, B, B, B,  B, r2, B, B, B, B, B, B, B, B};
    CHECK(read_file(dir.file("pairs.pgm")) == "P5\n5 11\n255\n" + want);

    // Automatic columns: ceil(sqrt(2n)) pairs per band, so 50 pairs make a 10 x 10 grid.
    const embedkit::RowMatrixD a = random_images(50, 4, 1), b = random_images(50, 4, 2);
    viz::ImageGridOptions d;
    viz::save_image_pairs(dir.file("auto.pgm"), a, b, 2, 2, d);
    const viztest::Pgm got = viztest::read_pgm(read_file(dir.file("auto.pgm")));
    CHECK(got.width == 10 * (4 + 2) + 2);
    CHECK(got.height == 10 * (4 + 2) + 2 + 4 * 2 * 2);  // four band gaps of 3 x padding
}

TEST_CASE("image_grid: PNG decodes to the PGM's pixels") {
#if EMBEDKIT_HAS_PNG
    TempDir dir;
    const embedkit::RowMatrixF digits = digit_like(37, 5);
    viz::ImageGridOptions o;
    o.title = "synthetic digits";
    o.background = 0.35;
    viz::save_image_grid(dir.file("g.png"), digits, 28, 28, o);
    viz::save_image_grid(dir.file("g.pgm"), digits, 28, 28, o);
    const std::string png = read_file(dir.file("g.png"));
    const viztest::PngInfo info = viztest::png_chunks(png);
    const viztest::Pgm pgm = viztest::read_pgm(read_file(dir.file("g.pgm")));
    CHECK(info.width == static_cast<std::uint32_t>(pgm.width));
    CHECK(info.height == static_cast<std::uint32_t>(pgm.height));
    CHECK(info.color_type == 0);  // grey
    CHECK(info.bit_depth == 8);
    int w = 0, h = 0;
    CHECK(viztest::png_decode(png, 1, w, h) == pgm.pixels);

    const embedkit::RowMatrixF recon = (digits.array() * 0.8f).matrix();
    viz::save_image_pairs(dir.file("p.png"), digits, recon, 28, 28, o);
    viz::save_image_pairs(dir.file("p.pgm"), digits, recon, 28, 28, o);
    CHECK(viztest::png_decode(read_file(dir.file("p.png")), 1, w, h) ==
          viztest::read_pgm(read_file(dir.file("p.pgm"))).pixels);
#else
    MESSAGE("built without libpng: PNG output is not available");
#endif
}

// Rebuilds the grey levels an SVG grid shows from its rectangles and stroked runs.
std::vector<int> svg_levels(const viztest::XmlNode& root, int width, int height) {
    const auto level = [](const std::string& fill) {
        REQUIRE(fill.size() == 4);
        REQUIRE(fill[1] == fill[2]);
        REQUIRE(fill[2] == fill[3]);
        const char c = fill[1];
        return c <= '9' ? c - '0' : c - 'a' + 10;
    };
    std::vector<int> px(static_cast<std::size_t>(width) * static_cast<std::size_t>(height), -1);
    const auto paint = [&](long x0, long y0, long w, long h, int v) {
        for (long y = y0; y < y0 + h; ++y)
            for (long x = x0; x < x0 + w; ++x) {
                REQUIRE(x >= 0);
                REQUIRE(y >= 0);
                REQUIRE(x < width);
                REQUIRE(y < height);
                px[static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                   static_cast<std::size_t>(x)] = v;
            }
    };
    for (const auto& c : root.children) {
        if (c->name == "rect") {
            const long x = c->attrs.count("x") ? std::stol(c->attr("x")) : 0;
            const long y = c->attrs.count("y") ? std::stol(c->attr("y")) : 0;
            paint(x, y, std::stol(c->attr("width")), std::stol(c->attr("height")),
                  level(c->attr("fill")));
        } else if (c->name == "path") {
            CHECK(c->attr("fill") == "none");
            const int v = level(c->attr("stroke"));
            const double sw = std::stod(c->attr("stroke-width"));
            std::istringstream d(c->attr("d"));
            double x = 0, y = 0;
            char cmd = 0;
            while (d >> cmd) {
                if (cmd == 'M' || cmd == 'm') {
                    double a = 0, b = 0;
                    REQUIRE(static_cast<bool>(d >> a >> b));
                    x = cmd == 'M' ? a : x + a;
                    y = cmd == 'M' ? b : y + b;
                } else {
                    REQUIRE(cmd == 'h');
                    double w = 0;
                    REQUIRE(static_cast<bool>(d >> w));
                    REQUIRE(w > 0);
                    paint(std::lround(x), std::lround(y - sw / 2), std::lround(w), std::lround(sw),
                          v);
                    x += w;
                }
            }
        }
    }
    return px;
}

TEST_CASE("image_grid: SVG runs rebuild the picture in 16 grey levels") {
    TempDir dir;
    const embedkit::RowMatrixD imgs = random_images(11, 35, 9);  // every level, short runs
    for (int scale : {1, 3}) {
        CAPTURE(scale);
        viz::ImageGridOptions o;
        o.scale = scale;
        o.columns = 4;
        o.background = 0.0;
        viz::save_image_grid(dir.file("g.svg"), imgs, 5, 7, o);
        viz::save_image_grid(dir.file("g.pgm"), imgs, 5, 7, o);
        const auto root = viztest::parse_xml(read_file(dir.file("g.svg")));
        if (viztest::have_python()) CHECK(viztest::python_parses_xml(dir.file("g.svg")));
        CHECK(root->attr("shape-rendering") == "crispEdges");
        const viztest::Pgm pgm = viztest::read_pgm(read_file(dir.file("g.pgm")));
        CHECK(root->attr("width") == std::to_string(pgm.width));
        CHECK(root->attr("height") == std::to_string(pgm.height));
        const std::vector<int> got = svg_levels(*root, pgm.width, pgm.height);
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            wrong += got[i] != (pgm.pixels[i] * 15 + 127) / 255;
        CHECK(wrong == 0);
    }
    // A title is a text element; the rest is unchanged.
    viz::ImageGridOptions o;
    o.title = "a & b";
    viz::save_image_grid(dir.file("t.svg"), imgs, 5, 7, o);
    const auto root = viztest::parse_xml(read_file(dir.file("t.svg")));
    REQUIRE(root->all("text").size() == 1);
    CHECK(root->all("text").front()->text == "a & b");
}

TEST_CASE("image_grid: a 20 x 20 grid of MNIST digits stays a compact SVG") {
    TempDir dir;
    const embedkit::RowMatrixF digits = digit_like(400, 21);
    viz::save_image_grid(dir.file("synthetic.svg"), digits, 28, 28);
    const std::size_t synthetic = read_file(dir.file("synthetic.svg")).size();
    MESSAGE("20 x 20 synthetic digits: " << synthetic << " bytes of SVG");
    CHECK(synthetic < 3000000);

    const char* env = std::getenv("EMBEDKIT_MNIST_DIR");
    const char* ci = std::getenv("CI");
    const std::string mnist =
        env != nullptr ? std::string(env) + "/t10k-images-idx3-ubyte" : std::string();
    std::string raw;
#if EMBEDKIT_HAS_ZLIB
    if (!mnist.empty()) {
        if (gzFile f = gzopen((mnist + ".gz").c_str(), "rb")) {
            raw.resize(16 + 400 * 784);
            const int got = gzread(f, &raw[0], static_cast<unsigned>(raw.size()));
            gzclose(f);
            if (got != static_cast<int>(raw.size())) raw.clear();
        }
    }
#endif
    if (raw.empty() && !mnist.empty()) {
        std::ifstream in(mnist, std::ios::binary);
        raw.resize(16 + 400 * 784);
        if (!in.read(&raw[0], static_cast<std::streamsize>(raw.size()))) raw.clear();
    }
    if (raw.empty()) {
        if (ci != nullptr && std::string(ci) == "true")
            FAIL("EMBEDKIT_MNIST_DIR has no t10k-images-idx3-ubyte[.gz]");
        MESSAGE(
            "MNIST t10k images not readable (set EMBEDKIT_MNIST_DIR; .gz files need zlib); the "
            "real-digit size check is skipped");
        return;
    }
    embedkit::RowMatrixF real(400, 784);
    for (Eigen::Index i = 0; i < real.size(); ++i)
        real.data()[i] =
            static_cast<float>(static_cast<unsigned char>(raw[16 + static_cast<std::size_t>(i)])) /
            255.0f;
    viz::save_image_grid(dir.file("mnist.svg"), real, 28, 28);
    const std::size_t bytes = read_file(dir.file("mnist.svg")).size();
    MESSAGE("20 x 20 MNIST test digits: " << bytes << " bytes of SVG");
    CHECK(bytes < 3000000);
}

TEST_CASE("image_grid: bad inputs throw the documented errors and leave no file") {
    TempDir dir;
    const std::string path = dir.file("g.pgm");
    embedkit::RowMatrixF imgs = digit_like(4, 1);
    check_throws<DimensionError>([&] { viz::save_image_grid(path, imgs, 28, 27); },
                                 {"28 x 27", "756", "784 columns"});
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs, 0, 784); }, {"positive"});
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs.topRows(0), 28, 28); },
                                {"no images"});
    check_throws<ArgumentError>([&] { viz::save_image_grid(dir.file("g.jpg"), imgs, 28, 28); },
                                {"save_image_grid", "g.jpg", ".pgm"});
    embedkit::RowMatrixF nan = imgs;
    nan(2, 5) = std::numeric_limits<float>::quiet_NaN();
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, nan, 28, 28); },
                                {"row 2", "pixel 5", "NaN"});
    viz::ImageGridOptions o;
    o.scale = 0;
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs, 28, 28, o); },
                                {"scale", "got 0"});
    o = {};
    o.padding = -1;
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs, 28, 28, o); }, {"padding"});
    o = {};
    o.columns = -2;
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs, 28, 28, o); }, {"columns"});
    o = {};
    o.background = std::numeric_limits<double>::quiet_NaN();
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, imgs, 28, 28, o); },
                                {"background"});
    o = {};
    o.scale = 64;
    const embedkit::RowMatrixF big = embedkit::RowMatrixF::Zero(1, 600 * 2);
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, big, 2, 600, o); }, {"32768"});
    const embedkit::RowMatrixF many = embedkit::RowMatrixF::Zero(3000, 784);
    check_throws<ArgumentError>([&] { viz::save_image_grid(path, many, 28, 28, o); },
                                {"fewer images"});

    embedkit::RowMatrixF rec = imgs;
    check_throws<DimensionError>([&] { viz::save_image_pairs(path, imgs, rec.topRows(3), 28, 28); },
                                 {"save_image_pairs", "same shape", "4 x 784", "3 x 784"});
    rec(1, 700) = std::numeric_limits<float>::quiet_NaN();
    check_throws<ArgumentError>([&] { viz::save_image_pairs(path, imgs, rec, 28, 28); },
                                {"reconstructions row 1", "pixel 700"});
    CHECK(dir.entries().empty());
}

}  // namespace
