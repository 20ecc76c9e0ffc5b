// scatter.hpp: well-formed SVG with one circle per point grouped by label, a legend, round
// tick labels; PNG files that decode with the right size and colours; identical output for
// every matrix type holding the same points; every bad input rejected before a file appears.
#include "viz_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/viz/detail/palette.hpp>
#include <embedkit/viz/detail/svg.hpp>
#include <embedkit/viz/detail/ticks.hpp>
#include <embedkit/viz/scatter.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using embedkit::ArgumentError;
using embedkit::DimensionError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
namespace viz = embedkit::viz;
namespace vd = embedkit::viz::detail;

// n points in 10 Gaussian clusters on a circle, label = cluster (i % 10).
struct Clusters {
    embedkit::RowMatrixF points;
    std::vector<std::uint8_t> labels;
};

Clusters make_clusters(int n, unsigned seed = 7) {
    std::mt19937 gen(seed);
    const auto uniform = [&gen] { return (static_cast<double>(gen()) + 0.5) / 4294967296.0; };
    const auto normal =
        [&uniform] {  // Box-Muller, so the data do not depend on the standard library
            return std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
        };
    Clusters c;
    c.points.resize(n, 2);
    c.labels.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const int k = i % 10;
        const double a = 0.6283185307179586 * k;
        c.points(i, 0) = static_cast<float>(3.0 * std::cos(a) + 0.5 * normal());
        c.points(i, 1) = static_cast<float>(3.0 * std::sin(a) + 0.5 * normal());
        c.labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(k);
    }
    return c;
}

std::unique_ptr<viztest::XmlNode> checked_svg(const std::string& path) {
    const std::string text = read_file(path);
    std::unique_ptr<viztest::XmlNode> root;
    try {
        root = viztest::parse_xml(text);
    } catch (const std::exception& e) {
        FAIL(path << ": " << e.what());
    }
    REQUIRE(root);
    CHECK(root->name == "svg");
    CHECK(root->attr("xmlns") == "http://www.w3.org/2000/svg");
    if (viztest::have_python())
        CHECK_MESSAGE(viztest::python_parses_xml(path), "python3 xml.etree rejects " << path);
    else
        MESSAGE("python3 not found; only embedkit's own XML check ran");
    return root;
}

// The tick labels of one axis: numbers, evenly spaced by 1, 2 or 5 times a power of ten.
void check_round_ticks(const viztest::XmlNode* group) {
    REQUIRE(group != nullptr);
    std::vector<double> v;
    for (const auto& t : group->children) {
        REQUIRE(t->name == "text");
        const std::string s = t->text;
        v.push_back(std::stod(s));
        if (v.back() == 0) CHECK_MESSAGE(s[0] != '-', "negative zero tick label " << s);
    }
    REQUIRE(v.size() >= 2);
    const double step = v[1] - v[0];
    const double mag = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    const double f = step / mag;
    CHECK_MESSAGE((std::fabs(f - 1) < 1e-6 || std::fabs(f - 2) < 1e-6 || std::fabs(f - 5) < 1e-6),
                  "step " << step);
    for (std::size_t i = 1; i < v.size(); ++i) CHECK(v[i] - v[i - 1] == doctest::Approx(step));
    for (double x : v) CHECK(std::fabs(x / step - std::round(x / step)) < 1e-6);
}

std::vector<std::string> dir_entries(const TempDir& d) { return d.entries(); }

// The <g class="label-k"> groups of an SVG scatter and the circles inside them, in order.
std::vector<const viztest::XmlNode*> label_groups(const viztest::XmlNode& root, int label) {
    std::vector<const viztest::XmlNode*> out;
    for (const viztest::XmlNode* g : root.all("g"))
        if (g->attr("class") == "label-" + std::to_string(label)) out.push_back(g);
    return out;
}

std::vector<const viztest::XmlNode*> label_circles(const viztest::XmlNode& root, int label) {
    std::vector<const viztest::XmlNode*> out;
    for (const viztest::XmlNode* g : label_groups(root, label))
        for (const auto& c : g->children) {
            CHECK(c->name == "circle");
            CHECK(c->attrs.size() == 3);  // cx, cy, r: the style is set once on the group
            out.push_back(c.get());
        }
    return out;
}

TEST_CASE("scatter: SVG of 10000 points is well-formed and compact with one circle per point") {
    TempDir dir;
    const Clusters c = make_clusters(10000);
    viz::ScatterOptions o;
    o.title = "latent <space> & \"friends\"";
    o.legend_title = "digit";
    o.x_label = "z[0]";
    o.y_label = "z[1]";
    const std::string path = dir.file("latent.svg");
    viz::save_scatter(path, c.points, c.labels, o);
    const std::size_t bytes = read_file(path).size();
    MESSAGE("10000-point SVG: " << bytes << " bytes");
    CHECK(bytes < 1500000);
    const auto root = checked_svg(path);
    CHECK(root->attr("width") == "800");
    CHECK(root->attr("height") == "800");

    const viztest::XmlNode* points = root->by_id("points");
    REQUIRE(points != nullptr);
    std::size_t total = 0;
    for (int l = 0; l < 10; ++l) {
        const auto groups = label_groups(*root, l);
        CHECK(groups.size() == 10);  // one per drawing round
        for (const viztest::XmlNode* g : groups) {
            CHECK(g->attr("fill") == vd::hex_color(vd::palette_color(static_cast<std::size_t>(l))));
            CHECK(g->attr("fill-opacity") == "0.6");
            CHECK(g->children.size() == 100);
        }
        total += label_circles(*root, l).size();
    }
    // Rounds interleave the labels: label 9's first group comes before label 0's second.
    std::vector<std::string> order;
    for (const auto& g : points->children) order.push_back(g->attr("class"));
    REQUIRE(order.size() == 100);
    for (std::size_t k = 0; k < order.size(); ++k)
        CHECK(order[k] == "label-" + std::to_string(k % 10));
    CHECK(total == 10000);
    CHECK(points->all("circle").size() == 10000);

    const viztest::XmlNode* title = root->by_id("title");
    REQUIRE(title != nullptr);
    CHECK(title->text == o.title);
    REQUIRE(root->by_id("x-label") != nullptr);
    CHECK(root->by_id("x-label")->text == "z[0]");
    REQUIRE(root->by_id("y-label") != nullptr);
    CHECK(root->by_id("y-label")->text == "z[1]");
    check_round_ticks(root->by_id("x-ticks"));
    check_round_ticks(root->by_id("y-ticks"));

    const viztest::XmlNode* legend = root->by_id("legend");
    REQUIRE(legend != nullptr);
    const auto swatches = legend->all("circle");
    const auto names = legend->all("text");
    REQUIRE(swatches.size() == 10);
    REQUIRE(names.size() == 11);
    CHECK(names[0]->text == "digit");
    for (std::size_t l = 0; l < 10; ++l) {
        CHECK(swatches[l]->attr("fill") == vd::hex_color(vd::palette_color(l)));
        CHECK(names[l + 1]->text == std::to_string(l));
    }
    // No temporary file is left beside the picture.
    CHECK(dir_entries(dir) == std::vector<std::string>{"latent.svg"});
}

TEST_CASE("scatter: points land where their coordinates say inside the frame") {
    TempDir dir;
    embedkit::RowMatrixD p(3, 2);
    p << 0.0, 0.0,  // lower left
        10.0, 0.0,  // lower right
        0.0, 5.0;   // upper left
    const std::vector<std::uint8_t> labels = {2, 2, 2};
    const std::string path = dir.file("three.svg");
    viz::save_scatter(path, p, labels);
    const auto root = checked_svg(path);
    const auto circles = label_circles(*root, 2);
    REQUIRE(circles.size() == 3);
    const auto cx = [&](int i) {
        return std::stod(circles[static_cast<std::size_t>(i)]->attr("cx"));
    };
    const auto cy = [&](int i) {
        return std::stod(circles[static_cast<std::size_t>(i)]->attr("cy"));
    };
    CHECK(cx(1) > cx(0) + 100);
    CHECK(cy(1) == doctest::Approx(cy(0)));
    CHECK(cy(2) < cy(0) - 100);  // y grows upwards
    CHECK(cx(2) == doctest::Approx(cx(0)));
    // The frame encloses every point.
    const viztest::XmlNode* frame = nullptr;
    for (const auto& c : root->children)
        if (c->name == "rect" && c->attr("fill") == "none") frame = c.get();
    REQUIRE(frame != nullptr);
    const double fx = std::stod(frame->attr("x")), fy = std::stod(frame->attr("y"));
    const double fw = std::stod(frame->attr("width")), fh = std::stod(frame->attr("height"));
    for (int i = 0; i < 3; ++i) {
        CHECK(cx(i) > fx);
        CHECK(cx(i) < fx + fw);
        CHECK(cy(i) > fy);
        CHECK(cy(i) < fy + fh);
    }
    // Only the labels present get a group and a legend entry.
    CHECK(label_groups(*root, 0).empty());
    REQUIRE(root->by_id("legend") != nullptr);
    CHECK(root->by_id("legend")->all("circle").size() == 1);
}

TEST_CASE("scatter: float and double and column-major and expressions give identical files") {
    TempDir dir;
    const Clusters c = make_clusters(500);
    viz::save_scatter(dir.file("f.svg"), c.points, c.labels);
    const embedkit::RowMatrixD d = c.points.cast<double>();
    viz::save_scatter(dir.file("d.svg"), d, c.labels);
    const Eigen::MatrixXf col = c.points;
    viz::save_scatter(dir.file("col.svg"), col, c.labels);
    viz::save_scatter(dir.file("expr.svg"), c.points * 1.0f, c.labels);
    embedkit::RowMatrixF wide(500, 3);
    wide.leftCols(2) = c.points;
    wide.col(2).setConstant(99.0f);
    viz::save_scatter(dir.file("block.svg"), wide.leftCols(2), c.labels);
    const std::string ref = read_file(dir.file("f.svg"));
    CHECK(read_file(dir.file("d.svg")) == ref);
    CHECK(read_file(dir.file("col.svg")) == ref);
    CHECK(read_file(dir.file("expr.svg")) == ref);
    CHECK(read_file(dir.file("block.svg")) == ref);
}

TEST_CASE("scatter: unlabelled or empty or coincident point sets still make valid pictures") {
    TempDir dir;
    const Clusters c = make_clusters(100);
    viz::save_scatter(dir.file("plain.svg"), c.points, {});
    auto root = checked_svg(dir.file("plain.svg"));
    CHECK(label_circles(*root, 0).size() == 100);
    CHECK(root->by_id("legend") == nullptr);

    const embedkit::RowMatrixF empty(0, 2);
    viz::save_scatter(dir.file("empty.svg"), empty, {});
    root = checked_svg(dir.file("empty.svg"));
    CHECK(root->all("circle").empty());
    check_round_ticks(root->by_id("x-ticks"));

    embedkit::RowMatrixF same(4, 2);
    same.setConstant(3.25f);
    viz::save_scatter(dir.file("same.svg"), same, std::vector<std::uint8_t>(4, 9));
    root = checked_svg(dir.file("same.svg"));
    CHECK(label_circles(*root, 9).size() == 4);
    check_round_ticks(root->by_id("x-ticks"));
    check_round_ticks(root->by_id("y-ticks"));

    // Tiny and huge magnitudes keep readable, evenly spaced tick labels.
    embedkit::RowMatrixD tiny(2, 2);
    tiny << 1e-7, 2e6, 3e-7, 5e6;
    viz::save_scatter(dir.file("tiny.svg"), tiny, {});
    root = checked_svg(dir.file("tiny.svg"));
    check_round_ticks(root->by_id("x-ticks"));
    check_round_ticks(root->by_id("y-ticks"));
}

TEST_CASE("scatter: options for size and names and aspect and legend") {
    TempDir dir;
    const Clusters c = make_clusters(300);
    viz::ScatterOptions o;
    o.width = 1200;
    o.height = 500;
    o.point_radius = 3.5;
    o.opacity = 0.25;
    o.class_names = {"zero", "one", "two",   "three", "four",
                     "five", "six", "seven", "eight", "nine"};
    o.equal_aspect = true;
    viz::save_scatter(dir.file("o.svg"), c.points, c.labels, o);
    auto root = checked_svg(dir.file("o.svg"));
    CHECK(root->attr("width") == "1200");
    CHECK(root->attr("height") == "500");
    REQUIRE(!label_groups(*root, 4).empty());
    CHECK(label_groups(*root, 4).front()->attr("fill-opacity") == "0.25");
    CHECK(label_circles(*root, 4).front()->attr("r") == "3.5");
    const auto names = root->by_id("legend")->all("text");
    REQUIRE(names.size() == 10);
    CHECK(names[7]->text == "seven");
    // Equal aspect: one data unit spans as many pixels along x as along y.
    const auto& xt = root->by_id("x-ticks")->children;
    const auto& yt = root->by_id("y-ticks")->children;
    REQUIRE(xt.size() >= 2);
    REQUIRE(yt.size() >= 2);
    const double xpx = (std::stod(xt[1]->attr("x")) - std::stod(xt[0]->attr("x"))) /
                       (std::stod(xt[1]->text) - std::stod(xt[0]->text));
    const double ypx = (std::stod(yt[0]->attr("y")) - std::stod(yt[1]->attr("y"))) /
                       (std::stod(yt[1]->text) - std::stod(yt[0]->text));
    CHECK(xpx == doctest::Approx(ypx).epsilon(0.01));

    o.legend = false;
    viz::save_scatter(dir.file("nolegend.svg"), c.points, c.labels, o);
    root = checked_svg(dir.file("nolegend.svg"));
    CHECK(root->by_id("legend") == nullptr);
}

TEST_CASE("scatter: labels of any integer type, and more than ten of them") {
    TempDir dir;
    const Clusters c = make_clusters(400);
    // The legend (names and colours) of an SVG scatter.
    const auto legend_of = [](const viztest::XmlNode& root) {
        std::vector<std::pair<std::string, std::string>> out;
        const viztest::XmlNode* legend = root.by_id("legend");
        REQUIRE(legend != nullptr);
        const auto swatches = legend->all("circle");
        const auto names = legend->all("text");
        REQUIRE(swatches.size() == names.size());
        for (std::size_t i = 0; i < names.size(); ++i)
            out.emplace_back(names[i]->text, swatches[i]->attr("fill"));
        return out;
    };

    // Labels 0..9 of any type draw exactly as uint8_t (colour = label).
    viz::save_scatter(dir.file("u8.svg"), c.points, c.labels);
    const std::vector<std::int64_t> as64(c.labels.begin(), c.labels.end());
    viz::save_scatter(dir.file("i64.svg"), c.points, as64);
    CHECK(read_file(dir.file("i64.svg")) == read_file(dir.file("u8.svg")));

    // Four labels beyond a byte (300 would have been 44) draw like 0..3 in the same order,
    // and the legend names the labels themselves.
    const std::int64_t wide[4] = {-5, 300, 70000, std::int64_t(1) << 40};
    std::vector<std::int64_t> w;
    std::vector<std::uint8_t> dense;
    for (std::uint8_t l : c.labels) {
        w.push_back(wide[l % 4]);
        dense.push_back(static_cast<std::uint8_t>(l % 4));
    }
    viz::ScatterOptions no_legend;  // the legend's width (its names) moves the frame
    no_legend.legend = false;
    viz::save_scatter(dir.file("wide_points.svg"), c.points, w, no_legend);
    viz::save_scatter(dir.file("dense_points.svg"), c.points, dense, no_legend);
    CHECK(read_file(dir.file("wide_points.svg")) == read_file(dir.file("dense_points.svg")));
    viz::save_scatter(dir.file("wide.svg"), c.points, w);
    const auto lw = legend_of(*checked_svg(dir.file("wide.svg")));
    REQUIRE(lw.size() == 4);
    CHECK(lw[0].first == "-5");
    CHECK(lw[1].first == "300");
    CHECK(lw[2].first == "70000");
    CHECK(lw[3].first == "1099511627776");
    for (std::size_t k = 0; k < 4; ++k) CHECK(lw[k].second == vd::hex_color(vd::palette_color(k)));

    // 25 labels: the 9 most frequent keep colours, the other 16 share the tenth as "other".
    std::vector<std::uint32_t> many(c.labels.size());
    for (std::size_t i = 0; i < many.size(); ++i)
        many[i] = static_cast<std::uint32_t>(100 + i % 25);
    // Make labels 110..118 the most frequent by turning some of the others into them.
    for (std::size_t i = 0; i < many.size(); i += 7)
        many[i] = 110 + static_cast<std::uint32_t>(i % 9);
    viz::save_scatter(dir.file("many.svg"), c.points, many);
    const auto root = checked_svg(dir.file("many.svg"));
    const auto lm = legend_of(*root);
    REQUIRE(lm.size() == 10);
    for (std::size_t k = 0; k < 9; ++k) {
        CHECK(lm[k].first == std::to_string(110 + k));
        CHECK(lm[k].second == vd::hex_color(vd::palette_color(k)));
    }
    CHECK(lm[9].first == "other (16 labels)");
    CHECK(lm[9].second == vd::hex_color(vd::palette_color(9)));
    std::size_t other = 0;
    for (std::uint32_t l : many) other += (l < 110 || l > 118);
    CHECK(label_circles(*root, 9).size() == other);
    CHECK(root->by_id("points")->all("circle").size() == many.size());
    // class_names name the labels when they are in range.
    viz::ScatterOptions o;
    o.class_names.assign(130, "x");
    o.class_names[110] = "hundred-ten";
    viz::save_scatter(dir.file("named.svg"), c.points, many, o);
    CHECK(legend_of(*checked_svg(dir.file("named.svg")))[0].first == "hundred-ten");
}

TEST_CASE("scatter: arbitrary text in titles and labels is escaped into valid XML") {
    TempDir dir;
    const Clusters c = make_clusters(20);
    viz::ScatterOptions o;
    o.title = std::string("a<b>&c\"d'e \x01\x7f bad:\xff\xc3 utf8:\xc3\xa9\xe2\x82\xac end");
    o.x_label = "</svg>";
    o.legend_title = "&amp;";
    viz::save_scatter(dir.file("t.svg"), c.points, c.labels, o);
    const auto root = checked_svg(dir.file("t.svg"));
    CHECK(root->by_id("title")->text == "a<b>&c\"d'e    bad:?? utf8:\xc3\xa9\xe2\x82\xac end");
    CHECK(root->by_id("x-label")->text == "</svg>");
    CHECK(root->by_id("legend")->all("text").front()->text == "&amp;");
    CHECK(vd::xml_text("\xed\xa0\x80") == "???");  // a UTF-16 surrogate is not XML
    CHECK(vd::xml_text("\xc0\xaf") == "??");       // an overlong encoding
    CHECK(vd::xml_text("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80");
}

TEST_CASE("scatter: nice ticks are multiples of 1 or 2 or 5 times a power of ten") {
    CHECK(vd::nice_step(8.8, 7) == doctest::Approx(1.0));   // 1.26 rounds to 1
    CHECK(vd::nice_step(14.6, 6) == doctest::Approx(2.0));  // 2.43 rounds to 2, not up to 5
    CHECK(vd::nice_step(1.0, 10) == doctest::Approx(0.1));
    CHECK(vd::nice_step(0.0037, 5) == doctest::Approx(0.001));
    CHECK(vd::nice_step(370.0, 5) == doctest::Approx(100.0));  // 74 rounds to 100
    CHECK(vd::nice_step(33.0, 7) == doctest::Approx(5.0));
    const vd::Ticks t = vd::nice_ticks(-4.4, 4.4, 4);
    CHECK(t.labels == std::vector<std::string>{"-4", "-2", "0", "2", "4"});
    const vd::Ticks f = vd::nice_ticks(-0.26, 0.31, 6);
    CHECK(f.labels == std::vector<std::string>{"-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3"});
    const vd::Ticks e = vd::nice_ticks(1.2e7, 1.9e7, 4);
    CHECK(e.labels == std::vector<std::string>{"1.2e+07", "1.4e+07", "1.6e+07", "1.8e+07"});
}

TEST_CASE("scatter: bad inputs throw the documented errors and leave no file") {
    TempDir dir;
    Clusters c = make_clusters(50);
    const std::string svg = dir.file("bad.svg");
    check_throws<ArgumentError>([&] { viz::save_scatter(dir.file("x.jpg"), c.points, c.labels); },
                                {"embedkit::viz::save_scatter", "x.jpg", "'.jpg'", ".svg"});
    check_throws<ArgumentError>([&] { viz::save_scatter(dir.file("noext"), c.points, c.labels); },
                                {"save_scatter", "(none)"});
    check_throws<ArgumentError>(
        [&] { viz::save_scatter(dir.path().string() + "/a.b/c", c.points, c.labels); }, {"(none)"});
    embedkit::RowMatrixF three(50, 3);
    check_throws<DimensionError>([&] { viz::save_scatter(svg, three, c.labels); },
                                 {"n x 2", "50 x 3"});
    check_throws<DimensionError>([&] { viz::save_scatter(svg, c.points.topRows(49), c.labels); },
                                 {"labels", "(49)", "got 50"});
    Clusters bad = c;
    bad.points(17, 1) = std::numeric_limits<float>::quiet_NaN();
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, bad.points, bad.labels); },
                                {"finite", "row 17"});
    bad = c;
    bad.points(3, 0) = -std::numeric_limits<float>::infinity();
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, bad.points, bad.labels); },
                                {"finite", "row 3"});
    viz::ScatterOptions o;
    o.class_names = {"a", "b"};
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, c.labels, o); },
                                {"class_names has 2", "label 2"});
    std::vector<int> negative(c.labels.begin(), c.labels.end());
    negative[4] = -1;
    o.class_names.assign(10, "n");
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, negative, o); },
                                {"class_names has 10", "row 4 has label -1"});
    o = {};
    o.width = 100;
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, c.labels, o); },
                                {"200..16384", "100 x 800"});
    o = {};
    o.opacity = 0;
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, c.labels, o); },
                                {"opacity"});
    o = {};
    o.point_radius = std::numeric_limits<double>::quiet_NaN();
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, c.labels, o); },
                                {"point_radius"});
    o = {};
    o.class_names.assign(10, std::string(400, 'W'));
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, c.points, c.labels, o); },
                                {"no room"});
    embedkit::RowMatrixD huge(2, 2);
    huge << -1e308, 0, 1e308, 1;
    check_throws<ArgumentError>([&] { viz::save_scatter(svg, huge, {}); }, {"span"});
    CHECK(dir.entries().empty());
    check_throws<IoError>(
        [&] { viz::save_scatter(dir.file("missing/dir.svg"), c.points, c.labels); },
        {"missing/dir.svg"});
#if !EMBEDKIT_HAS_PNG
    check_throws<ArgumentError>([&] { viz::save_scatter(dir.file("x.png"), c.points, c.labels); },
                                {"libpng-dev", "reconfigure"});
#endif
}

#if EMBEDKIT_HAS_PNG
TEST_CASE("scatter: PNG has valid chunks and decodes to the expected colours") {
    TempDir dir;
    const Clusters c = make_clusters(10000);
    viz::ScatterOptions o;
    o.title = "clusters";
    o.legend_title = "digit";
    o.width = 900;
    o.height = 700;
    const std::string path = dir.file("latent.PNG");  // the extension is case-insensitive
    viz::save_scatter(path, c.points, c.labels, o);
    const std::string bytes = read_file(path);
    MESSAGE("10000-point PNG: " << bytes.size() << " bytes");
    const viztest::PngInfo info = viztest::png_chunks(bytes);
    CHECK(info.width == 900);
    CHECK(info.height == 700);
    CHECK(info.bit_depth == 8);
    CHECK(info.color_type == 2);  // RGB
    int w = 0, h = 0;
    const std::vector<std::uint8_t> rgb = viztest::png_decode(bytes, 3, w, h);
    REQUIRE(w == 900);
    REQUIRE(h == 700);
    const auto px = [&](int x, int y) {
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) +
                                static_cast<std::size_t>(x)) *
                               3;
        return vd::Rgb{rgb[at], rgb[at + 1], rgb[at + 2]};
    };
    const auto same = [](vd::Rgb a, vd::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; };
    CHECK(same(px(0, 0), vd::white));
    CHECK(same(px(w - 1, h - 1), vd::white));

    // Each legend swatch is an opaque disc in its label's colour.
    std::vector<double> xs, ys;
    for (Eigen::Index i = 0; i < c.points.rows(); ++i) {
        xs.push_back(c.points(i, 0));
        ys.push_back(c.points(i, 1));
    }
    const vd::ScatterLayout L = vd::scatter_layout(
        xs, ys, c.labels, vd::scatter_colours(c.labels, o, "test").names, o, "test");
    REQUIRE(L.legend);
    REQUIRE(L.present.size() == 10);
    const int s = L.s;
    for (int l = 0; l < 10; ++l) {
        const int row_top =
            static_cast<int>(L.top) + (l + 1) * L.legend_row;  // after the legend title
        const vd::Rgb got =
            px(static_cast<int>(L.legend_x + 3.5 * s), row_top + vd::font_cap_height * s / 2);
        CHECK_MESSAGE(same(got, vd::palette_color(static_cast<std::size_t>(l))),
                      "legend swatch " << l);
    }
    // The centre of the dense cluster of label k is tinted towards label k's colour: of the
    // ten lines from white to a palette colour (all the mixes translucent points can make
    // over white), label k's passes nearest.
    const auto distance_to_mix = [](vd::Rgb got, vd::Rgb col) {
        const double d[3] = {col.r - 255.0, col.g - 255.0, col.b - 255.0};
        const double g[3] = {got.r - 255.0, got.g - 255.0, got.b - 255.0};
        const double t = std::clamp(
            (g[0] * d[0] + g[1] * d[1] + g[2] * d[2]) / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]),
            0.0, 1.0);
        return std::hypot(g[0] - t * d[0], g[1] - t * d[1], g[2] - t * d[2]);
    };
    for (int k = 0; k < 10; ++k) {
        const double a = 0.6283185307179586 * k;
        const vd::Rgb got = px(static_cast<int>(L.px(3.0 * std::cos(a))),
                               static_cast<int>(L.py(3.0 * std::sin(a))));
        std::size_t best = 0;
        for (std::size_t l = 1; l < 10; ++l)
            if (distance_to_mix(got, vd::palette_color(l)) <
                distance_to_mix(got, vd::palette_color(best)))
                best = l;
        CHECK_MESSAGE(best == static_cast<std::size_t>(k),
                      "cluster " << k << " looks like label " << best);
        CHECK(got.r + got.g + got.b < 3 * 255 - 60);  // clearly coloured, not near white
    }
}

TEST_CASE("scatter: an isolated PNG point is its colour blended over white at the given opacity") {
    TempDir dir;
    embedkit::RowMatrixD p(3, 2);
    p << 0.13, 0.17, 0.87, 0.83, 0.55, 0.33;  // off every tick line
    const std::vector<std::uint8_t> labels = {0, 3, 7};
    viz::ScatterOptions o;
    o.point_radius = 5;
    o.opacity = 0.5;
    const std::string path = dir.file("p.png");
    viz::save_scatter(path, p, labels, o);
    int w = 0, h = 0;
    const std::vector<std::uint8_t> rgb = viztest::png_decode(read_file(path), 3, w, h);
    const std::vector<double> xs = {0.13, 0.87, 0.55}, ys = {0.17, 0.83, 0.33};
    const vd::ScatterLayout L =
        vd::scatter_layout(xs, ys, labels, vd::scatter_colours(labels, o, "test").names, o, "test");
    for (int i = 0; i < 3; ++i) {
        const int x = static_cast<int>(L.px(xs[static_cast<std::size_t>(i)]));
        const int y = static_cast<int>(L.py(ys[static_cast<std::size_t>(i)]));
        for (double t : L.xt.values) REQUIRE(static_cast<int>(std::floor(L.px(t))) != x);
        for (double t : L.yt.values) REQUIRE(static_cast<int>(std::floor(L.py(t))) != y);
        const vd::Rgb c = vd::palette_color(labels[static_cast<std::size_t>(i)]);
        const std::size_t at = (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) +
                                static_cast<std::size_t>(x)) *
                               3;
        CHECK(std::abs(rgb[at] - (255 + c.r) / 2) <= 1);
        CHECK(std::abs(rgb[at + 1] - (255 + c.g) / 2) <= 1);
        CHECK(std::abs(rgb[at + 2] - (255 + c.b) / 2) <= 1);
    }
}
#endif

}  // namespace
