// embedkit::simd: level names, detection, supported(), force(), Scoped and the EMBEDKIT_SIMD cap.
#include "distance_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/distance/dispatch.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace {

namespace simd = embedkit::simd;
using simd::Level;

constexpr Level all_levels[] = {Level::scalar, Level::avx2, Level::avx512, Level::neon};

bool contains(const std::vector<Level>& levels, Level l) {
    return std::find(levels.begin(), levels.end(), l) != levels.end();
}

static_assert(simd::level_name(Level::avx512) == "avx512", "level_name is constexpr");

TEST_CASE("dispatch: level names round-trip through parse_level") {
    CHECK(simd::level_name(Level::scalar) == "scalar");
    CHECK(simd::level_name(Level::avx2) == "avx2");
    CHECK(simd::level_name(Level::avx512) == "avx512");
    CHECK(simd::level_name(Level::neon) == "neon");
    for (Level l : all_levels) {
        const std::optional<Level> parsed = simd::parse_level(simd::level_name(l));
        REQUIRE(parsed.has_value());
        CHECK(*parsed == l);
    }
    // Exact names only: no case folding, no whitespace, no aliases.
    for (std::string_view bad : {"", "AVX2", "Scalar", "sse", "avx", "avx2 ", " avx2", "avx-512",
                                 "avx512f", "neon64", "none", "best"}) {
        CAPTURE(bad);
        CHECK_FALSE(simd::parse_level(bad).has_value());
    }
}

TEST_CASE("dispatch: supported() lists this CPU's levels once each, scalar first, best last") {
    const std::vector<Level> levels = simd::supported();
    REQUIRE_FALSE(levels.empty());
    CHECK(levels.front() == Level::scalar);
    CHECK(std::set<Level>(levels.begin(), levels.end()).size() == levels.size());
    for (Level l : all_levels) {
        CAPTURE(simd::level_name(l));
        CHECK(simd::cpu_supports(l) == contains(levels, l));
    }
    CHECK(simd::best() == levels.back());
    // Slowest first: avx2 (if present) before avx512.
    if (contains(levels, Level::avx512)) {
        CHECK(contains(levels, Level::avx2));  // AVX-512 is only used with AVX2+FMA present
        CHECK(std::find(levels.begin(), levels.end(), Level::avx2) <
              std::find(levels.begin(), levels.end(), Level::avx512));
    }
#if EMBEDKIT_ARCH_X86
    CHECK_FALSE(simd::cpu_supports(Level::neon));
#elif EMBEDKIT_ARCH_NEON
    CHECK(simd::cpu_supports(Level::neon));  // baseline on AArch64
    CHECK_FALSE(simd::cpu_supports(Level::avx2));
    CHECK_FALSE(simd::cpu_supports(Level::avx512));
#else
    CHECK(levels.size() == 1);  // no SIMD kernels in this build
#endif
    // A binary built with these instruction sets enabled is running, so the CPU has them.
#if EMBEDKIT_ARCH_X86 && defined(__AVX2__) && defined(__FMA__)
    CHECK(simd::cpu_supports(Level::avx2));
#endif
#if EMBEDKIT_ARCH_X86 && defined(__AVX512F__)
    CHECK(simd::cpu_supports(Level::avx512));
#endif
}

#if EMBEDKIT_ARCH_X86 && defined(__linux__)
// An independent view of the CPU: the kernel's flag list. Linux enables the AVX and AVX-512
// register state whenever it reports the flags, so CPUID + XCR0 must agree with it.
TEST_CASE("dispatch: x86 detection agrees with /proc/cpuinfo") {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    std::set<std::string> flags;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        for (std::string w; words >> w;) flags.insert(w);
        break;
    }
    REQUIRE_MESSAGE(!flags.empty(), "no flags line in /proc/cpuinfo");
    const bool avx2 = flags.count("avx2") && flags.count("fma") && flags.count("avx");
    CHECK(simd::cpu_supports(Level::avx2) == avx2);
    CHECK(simd::cpu_supports(Level::avx512) == (avx2 && flags.count("avx512f") != 0));
}
#endif

TEST_CASE("dispatch: force() and Scoped switch the level of every later call and restore it") {
    const Level start = simd::active();
    CHECK(contains(simd::supported(), start));
    for (Level l : simd::supported()) {
        CAPTURE(simd::level_name(l));
        {
            simd::Scoped scoped(l);
            CHECK(simd::active() == l);
            CHECK(simd::detail::active_table<float>().level == l);
            CHECK(simd::detail::active_table<double>().level == l);
            for (Level inner : simd::supported()) {
                simd::Scoped nested(inner);
                CHECK(simd::active() == inner);
                CHECK(simd::detail::active_table<float>().level == inner);
            }
            CHECK(simd::active() == l);  // the nested guards restored the outer level
            CHECK(simd::detail::active_table<double>().level == l);
        }
        CHECK(simd::active() == start);
    }
    // force() alone sticks until the next force().
    for (Level l : simd::supported()) {
        simd::force(l);
        CHECK(simd::active() == l);
        CHECK(simd::detail::active_table<double>().level == l);
    }
    simd::force(start);
    CHECK(simd::active() == start);
}

TEST_CASE("dispatch: forcing a level this CPU lacks throws ArgumentError and changes nothing") {
    const Level start = simd::active();
    std::vector<Level> missing;
    for (Level l : all_levels)
        if (!simd::cpu_supports(l)) missing.push_back(l);
    // x86 never has neon, AArch64 never has avx2 or avx512: every build lacks at least one.
    REQUIRE_FALSE(missing.empty());
    for (Level l : missing) {
        CAPTURE(simd::level_name(l));
        for (Level current : simd::supported()) {
            simd::Scoped scoped(current);
            CHECK_THROWS_AS(simd::force(l), embedkit::ArgumentError);
            CHECK(simd::active() == current);
            CHECK(simd::detail::active_table<float>().level == current);
            CHECK(simd::detail::active_table<double>().level == current);
            // A Scoped that cannot force has nothing to restore.
            CHECK_THROWS_AS(static_cast<void>(simd::Scoped(l)), embedkit::ArgumentError);
            CHECK(simd::active() == current);
        }
        // The message names the function and the level.
        try {
            simd::force(l);
            FAIL("force(" << simd::level_name(l) << ") did not throw");
        } catch (const embedkit::ArgumentError& e) {
            const std::string what = e.what();
            CHECK(what.find("embedkit::simd::force") != std::string::npos);
            CHECK(what.find(std::string(simd::level_name(l))) != std::string::npos);
        }
        // Part of the library's exception hierarchy.
        CHECK_THROWS_AS(simd::force(l), embedkit::Error);
        CHECK_THROWS_AS(simd::force(l), std::runtime_error);
    }
    CHECK(simd::active() == start);
}

// ---- EMBEDKIT_SIMD.

// What the start-up level must be for a given EMBEDKIT_SIMD value (README, dispatch.hpp):
// unset, empty or unknown -> the best level; otherwise the highest supported level at or
// below the cap (scalar < avx2 < avx512); a level of another architecture cannot cap this
// one and is ignored.
Level expected_start_level(const char* env) {
    if (env == nullptr || *env == '\0') return simd::best();
    const std::optional<Level> cap = simd::parse_level(env);
    if (!cap) return simd::best();
    switch (*cap) {
        case Level::scalar:
            return Level::scalar;
        case Level::neon:
            return simd::cpu_supports(Level::neon) ? Level::neon : simd::best();
        case Level::avx2:
        case Level::avx512: {
#if EMBEDKIT_ARCH_X86
            if (*cap == Level::avx512 && simd::cpu_supports(Level::avx512)) return Level::avx512;
            return simd::cpu_supports(Level::avx2) ? Level::avx2 : Level::scalar;
#else
            return simd::best();
#endif
        }
    }
    return simd::best();
}

// Sets or unsets an environment variable for the lifetime of the object.
class EnvGuard {
public:
    explicit EnvGuard(const char* name) : name_(name) {
        if (const char* v = std::getenv(name)) saved_ = std::string(v);
    }
    ~EnvGuard() {
        if (saved_)
            set(saved_->c_str());
        else
            unset();
    }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;

    void set(const char* value) {
#if defined(_WIN32)
        _putenv_s(name_, value);
#else
        setenv(name_, value, 1);
#endif
    }
    void unset() {
#if defined(_WIN32)
        _putenv_s(name_, "");
#else
        unsetenv(name_);
#endif
    }

private:
    const char* name_;
    std::optional<std::string> saved_;
};

TEST_CASE("dispatch: EMBEDKIT_SIMD caps the level chosen at start-up") {
    EnvGuard env("EMBEDKIT_SIMD");
    env.unset();
    CHECK(simd::detail::initial_level() == simd::best());
    env.set("");
    CHECK(simd::detail::initial_level() == simd::best());
    for (Level l : simd::supported()) {
        env.set(std::string(simd::level_name(l)).c_str());
        CAPTURE(simd::level_name(l));
        CHECK(simd::detail::initial_level() == l);
    }
    for (Level l : all_levels) {
        const std::string name(simd::level_name(l));
        env.set(name.c_str());
        CAPTURE(name);
        CHECK(simd::detail::initial_level() == expected_start_level(name.c_str()));
        CHECK(simd::cpu_supports(simd::detail::initial_level()));
    }
    // Unknown values are ignored (with one warning on stderr), never thrown.
    for (const char* bad : {"bogus", "AVX2", "avx2,fma"}) {
        env.set(bad);
        CAPTURE(bad);
        CHECK(simd::detail::initial_level() == simd::best());
    }
}

#if !defined(_WIN32)
// Everything written to file descriptor 2 while `fn` runs: stderr is pointed at a temporary
// file (dup2) and back, so the text is what a user's terminal or log would receive.
template <class Fn>
std::string capture_stderr(Fn&& fn) {
    std::fflush(stderr);
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    const int saved = ::dup(2);
    REQUIRE(saved >= 0);
    REQUIRE(::dup2(::fileno(file), 2) == 2);
    fn();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::rewind(file);
    std::string text;
    char buffer[256];
    for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, file)) > 0;)
        text.append(buffer, got);
    std::fclose(file);
    return text;
}

// README and dispatch.hpp promise one warning on stderr for an unusable EMBEDKIT_SIMD, naming
// the variable and the value, and silence for a usable one.
TEST_CASE("dispatch: an unusable EMBEDKIT_SIMD prints one warning to stderr") {
    EnvGuard env("EMBEDKIT_SIMD");
    for (const char* bad : {"bogus", "AVX2", "avx2,fma"}) {
        env.set(bad);
        CAPTURE(bad);
        Level got = Level::scalar;
        const std::string err = capture_stderr([&] { got = simd::detail::initial_level(); });
        CHECK(got == simd::best());
        CHECK(err == "embedkit: ignoring EMBEDKIT_SIMD=" + std::string(bad) +
                         " (expected scalar, avx2, avx512 or neon)\n");
    }
    // A level of the other architecture cannot cap this CPU's levels (unless they are all
    // scalar already): ignored, with a warning that says what runs instead.
#if EMBEDKIT_ARCH_X86
    const std::vector<Level> foreign = {Level::neon};
#else
    const std::vector<Level> foreign = {Level::avx2, Level::avx512};
#endif
    for (Level l : foreign) {
        const std::string name(simd::level_name(l));
        env.set(name.c_str());
        CAPTURE(name);
        const std::string err = capture_stderr([] { (void)simd::detail::initial_level(); });
        if (simd::best() == Level::scalar)
            CHECK(err.empty());
        else
            CHECK(err == "embedkit: ignoring EMBEDKIT_SIMD=" + name +
                             " (not a level of this CPU; using " +
                             std::string(simd::level_name(simd::best())) + ")\n");
    }
    // Usable values, and no value at all, print nothing.
    for (Level l : simd::supported()) {
        env.set(std::string(simd::level_name(l)).c_str());
        CAPTURE(simd::level_name(l));
        CHECK(capture_stderr([] { (void)simd::detail::initial_level(); }).empty());
    }
    env.unset();
    CHECK(capture_stderr([] { (void)simd::detail::initial_level(); }).empty());
}
#endif

// The level chosen when the process started: ctest also runs this case alone with
// EMBEDKIT_SIMD set (tests/distance/CMakeLists.txt), where it is the first use of the
// dispatcher. Every other case restores the level it forces, so this holds in a full run too.
TEST_CASE("dispatch: the start-up level follows EMBEDKIT_SIMD") {
    const char* env = std::getenv("EMBEDKIT_SIMD");
    CAPTURE(env == nullptr ? "(unset)" : env);
    CHECK(simd::active() == expected_start_level(env));
    CHECK(simd::detail::active_table<float>().level == simd::active());
    CHECK(simd::detail::active_table<double>().level == simd::active());
}

}  // namespace
