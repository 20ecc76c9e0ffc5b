// progress.hpp: the exact shape of bar and line output under a fake clock, throttling of
// redraws, lazy status text, width limits, and the style chosen for non-terminal streams.
#include <embedkit/core/error.hpp>
#include <embedkit/core/progress.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using embedkit::ProgressBar;
using embedkit::ProgressOptions;
using Style = ProgressOptions::Style;
using Clock = std::chrono::steady_clock;

Clock::time_point fake_now{};
Clock::time_point fake_clock() { return fake_now; }
void advance(double seconds) {
    fake_now += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

ProgressOptions options(std::ostringstream& out, Style style, int min_interval_ms = 0,
                        int width = 80) {
    ProgressOptions o;
    o.stream = &out;
    o.style = style;
    o.width = width;
    o.min_interval = std::chrono::milliseconds(min_interval_ms);
    o.clock = fake_clock;
    return o;
}

// The pieces between carriage returns (each a redraw), the first piece (before any '\r') dropped.
std::vector<std::string> redraws(const std::string& s) {
    std::vector<std::string> parts;
    std::size_t at = s.find('\r');
    while (at != std::string::npos) {
        const std::size_t next = s.find('\r', at + 1);
        parts.push_back(
            s.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1));
        at = next;
    }
    return parts;
}

TEST_CASE("progress: lines style prints one plain line per finish with the elapsed time") {
    std::ostringstream out;
    ProgressBar bar("epoch 3/50", 600, options(out, Style::lines));
    CHECK(bar.style() == Style::lines);
    for (int b = 1; b <= 600; ++b) {
        advance(2.5 / 600);
        bar.update(b, "loss 152.31");
    }
    CHECK(out.str().empty());
    const double s = bar.finish("epoch 3/50: loss 152.31 val 150.02");
    CHECK(s == doctest::Approx(2.5).epsilon(1e-6));
    CHECK(out.str() == "epoch 3/50: loss 152.31 val 150.02 (2.5 s)\n");
    // Later calls print nothing and keep the time.
    advance(10);
    CHECK(bar.finish("again") == s);
    bar.update(5, "late");
    CHECK(out.str() == "epoch 3/50: loss 152.31 val 150.02 (2.5 s)\n");
    CHECK(bar.elapsed_seconds() == s);

    std::ostringstream out2;
    ProgressBar plain("decode", 10, options(out2, Style::lines));
    plain.update(7);
    advance(0.04);
    plain.finish();
    CHECK(out2.str() == "decode: 7/10 (0.0 s)\n");
}

TEST_CASE("progress: bar style redraws title and bar and counts and status and times in place") {
    std::ostringstream out;
    ProgressBar bar("epoch 1/3", 10, options(out, Style::bar));
    CHECK(bar.style() == Style::bar);
    advance(1.0);
    bar.update(3, "loss 1.50");
    const std::string first =
        "epoch 1/3 [=========>                    ] 3/10  loss 1.50  1.0s ETA 2.3s";
    CHECK(out.str() == "\r" + first);
    advance(1.0);
    bar.update(10, "ok");
    const std::string second =
        "epoch 1/3 [==============================] 10/10  ok  2.0s ETA 0.0s";
    const std::string clear(first.size() - second.size(),
                            ' ');  // blanks over the longer first line
    CHECK(out.str() == "\r" + first + "\r" + second + clear);
    advance(0.5);
    CHECK(bar.finish("epoch 1/3: loss 1.20") == doctest::Approx(2.5).epsilon(1e-6));
    const std::string done = "epoch 1/3: loss 1.20 (2.5 s)";
    CHECK(out.str() == "\r" + first + "\r" + second + clear + "\r" + done +
                           std::string(second.size() - done.size(), ' ') + "\n");
}

TEST_CASE(
    "progress: redraws are throttled to min_interval and the status is built only when drawn") {
    std::ostringstream out;
    int built = 0;
    const auto status = [&built] {
        ++built;
        return std::string("loss 2.0");
    };
    {
        ProgressBar bar("train", 100000, options(out, Style::bar, 100));
        for (int i = 1; i <= 1000; ++i) bar.update(i, status);  // no time passes: one draw
        CHECK(redraws(out.str()).size() == 1);
        CHECK(built == 1);
        advance(0.099);
        bar.update(1001, status);
        CHECK(redraws(out.str()).size() == 1);
        advance(0.001);
        bar.update(1002, status);
        CHECK(redraws(out.str()).size() == 2);
        CHECK(built == 2);
        CHECK(redraws(out.str()).back().find(" 1002/100000  loss 2.0") != std::string::npos);
        bar.update(1003, "eager text is accepted too");
        CHECK(redraws(out.str()).size() == 2);
    }
    // Destroyed unfinished after drawing: the line is ended so later output starts afresh.
    CHECK(out.str().back() == '\n');
    CHECK(built == 2);
}

TEST_CASE("progress: lines never exceed the width and a shorter redraw clears the longer one") {
    std::ostringstream out;
    ProgressBar bar("a rather long title for a narrow terminal", 50,
                    options(out, Style::bar, 0, 30));
    advance(1);
    bar.update(10, "loss 123456.789 val 123456.789");
    bar.update(11, "x");
    for (const std::string& r : redraws(out.str())) CHECK(r.size() <= 29);

    std::ostringstream utf8;
    ProgressBar u(
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
        "\xc3\xa9"
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        5, options(utf8, Style::bar, 0, 30));
    u.update(1);
    const std::vector<std::string> r = redraws(utf8.str());
    REQUIRE(r.size() == 1);
    CHECK(r[0].size() <= 29);
    CHECK(r[0].size() % 2 == 0);  // whole two-byte characters only
    u.finish("ok");

    std::ostringstream wide;
    ProgressBar w("t", 4, options(wide, Style::bar, 0, 200));
    w.update(2);
    CHECK(redraws(wide.str())[0] == "t [===============>              ] 2/4  0.0s ETA 0.0s");
}

TEST_CASE("progress: long times and unknown totals and silence and automatic style") {
    std::ostringstream out;
    ProgressBar bar("fit", 4, options(out, Style::bar));
    advance(100);
    bar.update(1);
    CHECK(redraws(out.str()).back().find("1/4  1:40 ETA 5:00") != std::string::npos);
    advance(3900);
    bar.update(2);
    CHECK(redraws(out.str()).back().find("2/4  1:06:40 ETA 1:06:40") != std::string::npos);

    std::ostringstream unknown;
    ProgressBar open("scan", 0, options(unknown, Style::bar));
    advance(1);
    open.update(5, "rows");
    CHECK(unknown.str() == "\rscan 5  rows  1.0s");

    std::ostringstream quiet;
    ProgressBar s("quiet", 3, options(quiet, Style::silent));
    s.update(1, "x");
    advance(1.25);
    CHECK(s.finish("done") == doctest::Approx(1.25).epsilon(1e-6));
    CHECK(quiet.str().empty());

    std::ostringstream pipe;
    ProgressBar a("auto", 3, options(pipe, Style::automatic));
    CHECK(a.style() == Style::lines);  // not a terminal stream
    ProgressOptions to_cerr;
    to_cerr.clock = fake_clock;
    ProgressBar e("stderr", 3, to_cerr);
    CHECK(e.style() == (::isatty(STDERR_FILENO) == 1 ? Style::bar : Style::lines));
}

TEST_CASE("progress: invalid arguments throw ArgumentError") {
    std::ostringstream out;
    CHECK_THROWS_AS(ProgressBar("x", -1, options(out, Style::bar)), embedkit::ArgumentError);
    CHECK_THROWS_WITH(ProgressBar("x", -1, options(out, Style::bar)),
                      "embedkit::ProgressBar: total must be >= 0 (0 = unknown), got -1");
    CHECK_THROWS_AS(ProgressBar("x", 1, options(out, Style::bar, 0, -5)), embedkit::ArgumentError);
    CHECK_THROWS_AS(ProgressBar("x", 1, options(out, Style::bar, -1)), embedkit::ArgumentError);
    CHECK(out.str().empty());
}

}  // namespace
