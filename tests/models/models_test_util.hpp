// Helpers for the model tests: synthetic data in [0, 1], temporary folders, MNIST lookup.
#pragma once

#include <embedkit/core/random.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/models/persistence.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

namespace modeltest {

namespace fs = std::filesystem;

/// Rows of values in [0, 1] near a few prototypes, with the prototype index as label.
template <class Scalar>
struct Clustered {
    embedkit::RowMatrix<Scalar> data;
    std::vector<std::uint8_t> labels;
};

/// n rows of `dim` values in [0, 1] lying near `clusters` prototypes (something a model can
/// learn quickly): each row is a random prototype plus small noise, clamped; the label is the
/// prototype's index.
template <class Scalar>
Clustered<Scalar> clustered(Eigen::Index n, Eigen::Index dim, int clusters, std::uint64_t seed) {
    embedkit::Rng rng(seed);
    embedkit::RowMatrix<Scalar> protos(clusters, dim);
    Clustered<Scalar> out{embedkit::RowMatrix<Scalar>(n, dim), {}};
    for (Eigen::Index i = 0; i < protos.size(); ++i)
        protos.data()[i] = static_cast<Scalar>(rng.uniform() < 0.5 ? 0.05 : 0.95);
    for (Eigen::Index r = 0; r < n; ++r) {
        const auto c =
            static_cast<Eigen::Index>(rng.uniform_index(static_cast<std::uint64_t>(clusters)));
        out.labels.push_back(static_cast<std::uint8_t>(c));
        for (Eigen::Index j = 0; j < dim; ++j) {
            const double v = protos(c, j) + 0.05 * rng.normal();
            out.data(r, j) = static_cast<Scalar>(v < 0 ? 0 : (v > 1 ? 1 : v));
        }
    }
    return out;
}

/// The data of clustered() alone.
template <class Scalar>
embedkit::RowMatrix<Scalar> clustered_data(Eigen::Index n, Eigen::Index dim, int clusters,
                                           std::uint64_t seed) {
    return clustered<Scalar>(n, dim, clusters, seed).data;
}

/// Training settings for tests: `epochs` epochs of `batch` rows, no progress output.
inline embedkit::models::FitOptions quiet_fit(int epochs, Eigen::Index batch) {
    embedkit::models::FitOptions f;
    f.epochs = epochs;
    f.batch_size = batch;
    f.progress.style = embedkit::ProgressOptions::Style::silent;
    return f;
}

/// A fresh folder removed at the end of the scope.
class TempDir {
public:
    TempDir() {
        static std::atomic<unsigned> counter{0};
        const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
        path_ = fs::temp_directory_path() /
                ("embedkit_models_test_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter++) + "_" + std::to_string(ticks));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

inline std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The MNIST folder from EMBEDKIT_MNIST_DIR, or "" when it is not set or lacks the files.
/// Locally a missing folder skips the test with a message; under CI=true it fails it.
inline std::string mnist_dir_or_skip() {
    const char* dir = std::getenv("EMBEDKIT_MNIST_DIR");
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::string(ci) == "true";
    std::string why;
    if (dir == nullptr || *dir == 0) {
        why = "EMBEDKIT_MNIST_DIR is not set";
    } else {
        for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            const fs::path p = fs::path(dir) / f;
            if (!fs::exists(p) && !fs::exists(p.string() + ".gz"))
                why = std::string("missing ") + p.string() + "[.gz]";
        }
    }
    if (why.empty()) return dir;
    if (in_ci) FAIL("MNIST data needed under CI=true: " << why);
    MESSAGE("skipped: MNIST data not available ("
            << why << "); set EMBEDKIT_MNIST_DIR to the folder with the four files");
    return "";
}

}  // namespace modeltest
