// What the MNIST examples share: flag parsing, finding (or downloading) the data, JSON
// output, a 2-D projection for pictures, and the seed-image distance table.
#pragma once

#include <embedkit/embedkit.hpp>
#include "download.hpp"
#include <embedkit/io/mnist.hpp>

#include <Eigen/Eigenvalues>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace example {

namespace ek = embedkit;
namespace fs = std::filesystem;

/// A command-line flag: its name, whether it takes a value, its default and help text.
struct Flag {
    std::string name;
    bool takes_value;
    std::string value;
    std::string help;
    bool seen = false;
};

/// Minimal `--flag value` / `--switch` parser with generated --help. Unknown flags and
/// missing values are errors (a typo must not silently train the wrong thing).
class Flags {
public:
    Flags(std::string program, std::string summary)
        : program_(std::move(program)), summary_(std::move(summary)) {}

    void add(const std::string& name, const std::string& def, const std::string& help) {
        flags_.push_back({name, true, def, help});
    }
    void add_switch(const std::string& name, const std::string& help) {
        flags_.push_back({name, false, "", help});
    }

    /// Parses argv; returns false after printing --help.
    bool parse(int argc, char** argv) {
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if (arg == "--help" || arg == "-h") {
                print_help(std::cout);
                return false;
            }
            std::string name = arg, value;
            bool inline_value = false;
            if (const auto eq = arg.find('='); eq != std::string::npos) {
                name = arg.substr(0, eq);
                value = arg.substr(eq + 1);
                inline_value = true;
            }
            if (!positional_name_.empty() && (arg.empty() || arg[0] != '-' || arg == "-")) {
                positionals_.push_back(arg);
                continue;
            }
            Flag* f = find(name);
            if (f == nullptr) throw ek::ArgumentError("unknown flag '" + arg + "' (see --help)");
            if (f->takes_value) {
                if (!inline_value) {
                    if (i + 1 >= argc)
                        throw ek::ArgumentError("flag " + name + " needs a value (see --help)");
                    value = argv[++i];
                }
                f->value = value;
            } else if (inline_value) {
                throw ek::ArgumentError("flag " + name + " takes no value");
            }
            f->seen = true;
        }
        return true;
    }

    /// Accepts arguments that do not start with '-' (and "-" itself) as positional, shown in
    /// --help as `name...`.
    void allow_positional(const std::string& name, const std::string& help) {
        positional_name_ = name;
        positional_help_ = help;
    }
    const std::vector<std::string>& positionals() const { return positionals_; }

    std::string str(const std::string& name) const { return get(name).value; }
    bool on(const std::string& name) const { return get(name).seen; }
    bool given(const std::string& name) const { return get(name).seen; }

    /// An integer flag within [lo, hi]; ArgumentError naming the flag otherwise.
    long long integer(const std::string& name, long long lo, long long hi) const {
        const std::string& v = get(name).value;
        char* end = nullptr;
        errno = 0;
        const long long x = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end != 0 || errno != 0 || x < lo || x > hi)
            throw ek::ArgumentError("flag " + name + " must be an integer in [" +
                                    std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                                    v + "'");
        return x;
    }

    /// A number flag within [lo, hi].
    double number(const std::string& name, double lo, double hi) const {
        const std::string& v = get(name).value;
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != 0 || !(x >= lo && x <= hi))
            throw ek::ArgumentError("flag " + name + " must be a number in [" + std::to_string(lo) +
                                    ", " + std::to_string(hi) + "], got '" + v + "'");
        return x;
    }

    void print_help(std::ostream& out) const {
        out << "usage: " << program_ << " [flags]"
            << (positional_name_.empty() ? "" : " [" + positional_name_ + "...]") << "\n\n"
            << summary_ << "\n\n";
        if (!positional_name_.empty())
            out << positional_name_ << "...: " << positional_help_ << "\n\n";
        out << "flags:\n";
        for (const auto& f : flags_) {
            std::string left = "  " + f.name + (f.takes_value ? " VALUE" : "");
            if (left.size() < 22) left.resize(22, ' ');
            out << left << " " << f.help;
            if (f.takes_value && !f.value.empty()) out << " (default: " << f.value << ")";
            out << "\n";
        }
    }

private:
    Flag* find(const std::string& name) {
        for (auto& f : flags_)
            if (f.name == name) return &f;
        return nullptr;
    }
    const Flag& get(const std::string& name) const {
        for (const auto& f : flags_)
            if (f.name == name) return f;
        throw ek::ArgumentError("internal: no flag " + name);
    }

    std::string program_, summary_;
    std::vector<Flag> flags_;
    std::string positional_name_, positional_help_;
    std::vector<std::string> positionals_;
};

/// Adds the data flags both MNIST examples share.
inline void add_data_flags(Flags& flags) {
    flags.add("--data", "",
              "folder with the four MNIST files (default: $EMBEDKIT_MNIST_DIR, else ./data/mnist)");
    flags.add_switch("--download", "fetch missing MNIST files into the data folder (MD5-checked)");
    flags.add("--mirror", "", "base URL to download from instead of the official mirrors");
}

/// The MNIST folder: --data, else $EMBEDKIT_MNIST_DIR, else ./data/mnist; downloads into it
/// when --download is given; throws IoError with instructions when files are missing.
inline std::string find_mnist(const Flags& flags, const std::string& program) {
    std::string dir = flags.str("--data");
    if (dir.empty()) {
        const char* env = std::getenv("EMBEDKIT_MNIST_DIR");
        dir = env && *env ? env : "data/mnist";
    }
    if (flags.on("--download")) {
        DownloadOptions o;
        if (!flags.str("--mirror").empty()) o.mirrors = {flags.str("--mirror")};
        std::cout << "downloading MNIST into " << dir << " (MD5-checked)\n";
        download_mnist(dir, o);
    }
    for (auto split : {ek::io::MnistSplit::train, ek::io::MnistSplit::test}) {
        const auto names = ek::io::mnist_file_names(split);
        for (const std::string& name : {names.first, names.second}) {
            const fs::path p = fs::path(dir) / name;
            if (!fs::exists(p) && !fs::exists(p.string() + ".gz"))
                throw ek::IoError("MNIST file " + p.string() +
                                  "[.gz] not found.\n  Get the data with:  " + program +
                                  " --download" +
                                  (flags.str("--data").empty() ? "" : " --data " + dir) +
                                  "\n  or point --data / EMBEDKIT_MNIST_DIR at a folder holding "
                                  "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                                  "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.");
        }
    }
    return dir;
}

/// A tiny JSON writer (objects, arrays, numbers, strings) for metrics.json.
class Json {
public:
    static std::string number(double v) {
        if (!std::isfinite(v)) return "null";
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.10g", v);
        return buf;
    }
    static std::string string(const std::string& s) {
        std::string out = "\"";
        for (char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x",
                              static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += buf;
            } else {
                out += c;
            }
        }
        return out + "\"";
    }
    /// The numbers of a size list, comma-separated (the inside of a JSON array).
    static std::string sizes(const std::vector<Eigen::Index>& v) {
        std::string out;
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
        return out;
    }
};

/// Writes `text` to `path` atomically.
inline void write_text_atomic(const std::string& path, const std::string& text) {
    ek::io::AtomicFile f(path);
    f.write(text.data(), text.size());
    f.commit();
}

/// The first two principal components of `z` (n x d, d >= 2) as an n x 2 matrix; z itself
/// when d == 2. Used to draw latent spaces wider than two dimensions.
inline ek::RowMatrixF project_2d(const ek::RowMatrixF& z) {
    if (z.cols() == 2) return z;
    if (z.cols() == 1) {
        ek::RowMatrixF out(z.rows(), 2);
        out.col(0) = z.col(0);
        out.col(1).setZero();
        return out;
    }
    const Eigen::MatrixXd centred = z.cast<double>().rowwise() - z.cast<double>().colwise().mean();
    const Eigen::MatrixXd cov =
        centred.transpose() * centred / std::max<double>(1.0, static_cast<double>(z.rows() - 1));
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    const Eigen::Index d = z.cols();
    Eigen::MatrixXd basis(d, 2);
    basis.col(0) = eig.eigenvectors().col(d - 1);  // eigenvalues ascend: the last is the largest
    basis.col(1) = eig.eigenvectors().col(d - 2);
    return (centred * basis).cast<float>();
}

/// Prints the embeddings of test images 10 and 13 (two zeros) and 2 (a one) and the L2, L1,
/// dot and cosine between each pair, computed with embedkit's kernels.
inline void print_seed_comparison(const ek::RowMatrixF& z,
                                  const std::vector<std::uint8_t>& labels) {
    const int ids[3] = {10, 13, 2};
    std::cout << "\nseed comparison (test images; embeddings computed by the model):\n";
    for (int id : ids) {
        std::cout << "  image " << id << " (digit " << int(labels.at(static_cast<std::size_t>(id)))
                  << "): [";
        const Eigen::Index shown = std::min<Eigen::Index>(z.cols(), 8);
        for (Eigen::Index j = 0; j < shown; ++j) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%s%.4f", j ? ", " : "", static_cast<double>(z(id, j)));
            std::cout << buf;
        }
        std::cout << (z.cols() > shown ? ", ...]\n" : "]\n");
    }
    std::printf("\n  %-22s %10s %10s %10s %10s\n", "pair", "L2", "L1", "dot", "cosine");
    const int pairs[3][2] = {{10, 13}, {10, 2}, {13, 2}};
    for (const auto& p : pairs) {
        const auto a = z.row(p[0]).transpose().eval();
        const auto b = z.row(p[1]).transpose().eval();
        char name[64];
        std::snprintf(name, sizeof name, "%d (%d) vs %d (%d)", p[0],
                      int(labels.at(static_cast<std::size_t>(p[0]))), p[1],
                      int(labels.at(static_cast<std::size_t>(p[1]))));
        std::printf("  %-22s %10.4f %10.4f %10.4f %10.4f\n", name,
                    static_cast<double>(ek::l2(a, b)), static_cast<double>(ek::l1(a, b)),
                    static_cast<double>(ek::dot(a, b)),
                    static_cast<double>(ek::cosine_similarity(a, b)));
    }
    std::cout << "  (cosine = cosine similarity; the two zeros should be closer than either is to "
                 "the one)\n";
}

}  // namespace example
