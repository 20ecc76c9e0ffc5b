// Helpers shared by the I/O tests: a private temporary folder per test, whole-file reads and
// writes, folder listings and exception checks.
#pragma once

#include <embedkit/core/error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <unistd.h>

namespace iotest {

namespace fs = std::filesystem;

/// A fresh, empty folder under the system temporary directory, removed with its contents at
/// the end of the scope. The name holds the process id, a counter and the clock, so tests
/// running in parallel (ctest -j) never share one.
class TempDir {
public:
    TempDir() {
        static std::atomic<unsigned> counter{0};
        const fs::path base = fs::temp_directory_path();
        for (int attempt = 0;; ++attempt) {
            const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
            path_ = base / ("embedkit_io_test_" + std::to_string(::getpid()) + "_" +
                            std::to_string(counter++) + "_" + std::to_string(ticks));
            std::error_code ec;
            if (fs::create_directory(path_, ec)) return;
            if (attempt >= 100)
                throw std::runtime_error("cannot create a temporary folder in " + base.string());
        }
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }
    /// The path of `name` inside the folder.
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    /// The names of the folder's entries, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path_))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    fs::path path_;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE_MESSAGE(out.good(), "cannot create " << path);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

/// f() must throw exactly E (not merely another embedkit::Error) with every one of `parts`
/// in its message.
template <class E, class F>
void check_throws(F&& f, std::initializer_list<std::string> parts) {
    bool thrown = false;
    try {
        f();
    } catch (const embedkit::Error& e) {
        thrown = true;
        const std::string what = e.what();
        CHECK_MESSAGE(typeid(e) == typeid(E),
                      "wrong exception type (" << typeid(e).name() << ") for: " << what);
        for (const std::string& p : parts)
            CHECK_MESSAGE(what.find(p) != std::string::npos,
                          "message '" << what << "' does not contain '" << p << "'");
    }
    CHECK_MESSAGE(thrown, "no embedkit::Error was thrown");
}

}  // namespace iotest
