// Bad-input rows (I/O): every file reader and writer of embedkit fed wrong files, wrong paths
// and wrong arguments. Each EMBEDKIT_ERROR_ROW is one row of docs/ERRORS.md (same ID, type and
// message fragment). Rows marked "every byte offset" loop over all truncations of a small
// valid file and check each one.
#include "error_rows.hpp"

#include "../io/io_test_util.hpp"

#include <embedkit/embedkit.hpp>
#include <embedkit/io/detail/crc32.hpp>

#include "download.hpp"  // examples/common: the examples' MNIST download (rows DL-*)

#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if EMBEDKIT_HAS_ZLIB
#include <zlib.h>
#endif

namespace {

namespace ek = embedkit;
namespace io = embedkit::io;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;

// ---- Byte helpers ------------------------------------------------------------------------

void set_u32(std::string& b, std::size_t pos, std::uint32_t v) {
    REQUIRE(pos + 4 <= b.size());
    for (int i = 0; i < 4; ++i)
        b[pos + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

void set_u64(std::string& b, std::size_t pos, std::uint64_t v) {
    REQUIRE(pos + 8 <= b.size());
    for (int i = 0; i < 8; ++i)
        b[pos + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

void set_be32(std::string& b, std::size_t pos, std::uint32_t v) {
    REQUIRE(pos + 4 <= b.size());
    for (int i = 0; i < 4; ++i)
        b[pos + static_cast<std::size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xFFu);
}

// Recomputes a model file's CRC-32 (the last 4 bytes) after a deliberate edit, so the reader
// gets past the checksum to the structural check under test.
void fix_crc(std::string& b) {
    REQUIRE(b.size() >= 4);
    const std::size_t body = b.size() - 4;
    set_u32(b, body, ek::detail::crc32(0u, reinterpret_cast<const unsigned char*>(b.data()), body));
}

// A .npy file with header dict `dict` (padded as numpy pads it) and `data_bytes` zero bytes.
std::string npy_file(const std::string& dict, std::size_t data_bytes, unsigned char major = 1) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string h = dict;
    while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
    h += '\n';
    std::string out;
    out += static_cast<char>(0x93);
    out += "NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - 8; ++i)
        out += static_cast<char>((h.size() >> (8 * i)) & 0xFFu);
    return out + h + std::string(data_bytes, '\0');
}

std::string npy_dict(const std::string& descr, const std::string& shape,
                     const char* fortran = "False") {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

// IDX files: `count` images of rows x cols pixels, or `count` labels.
std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
    std::string b(16, '\0');
    set_be32(b, 0, 0x00000803u);
    set_be32(b, 4, count);
    set_be32(b, 8, rows);
    set_be32(b, 12, cols);
    for (std::uint64_t i = 0; i < std::uint64_t(count) * rows * cols; ++i)
        b += static_cast<char>(i * 37 % 256);
    return b;
}

std::string idx_labels(std::uint32_t count) {
    std::string b(8, '\0');
    set_be32(b, 0, 0x00000801u);
    set_be32(b, 4, count);
    for (std::uint32_t i = 0; i < count; ++i) b += static_cast<char>(i % 10);
    return b;
}

#if EMBEDKIT_HAS_ZLIB
// `raw` compressed as one gzip member (RFC 1952), as gzip(1) writes it.
std::string gzip(const std::string& raw) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(raw.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
    z.avail_in = static_cast<uInt>(raw.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}
#endif

// The small model file the model-file rows edit: kind "test", no attributes, one f32 2 x 3
// tensor "w". Layout (docs/FORMAT.md): fixed header 0..47, kind 48..51, then the table entry:
// name length 52, name 56, dtype 57, rank 58, reserved 59, dimensions 61 and 69, offset 77,
// byte size 85; the header ends at 93, the data starts at 128 (24 bytes, padded to 192),
// CRC-32 at 192: 196 bytes.
constexpr std::size_t mf_dtype = 57, mf_rank = 58, mf_dim0 = 61, mf_offset = 77;

std::string small_model_file(const TempDir& dir) {
    io::ModelFile m("test");
    const float w[6] = {1, 2, 3, 4, 5, 6};
    m.add<float>("w", w, {2, 3});
    const std::string path = dir.file("small.ekm");
    io::save_model_file(path, m);
    std::string b = read_file(path);
    REQUIRE(b.size() == 196);
    REQUIRE(b[56] == 'w');
    return b;
}

// Small models for the load and checkpoint rows.
ek::models::VAEOptions tiny_vae(Eigen::Index hidden = 4) {
    ek::models::VAEOptions o;
    o.input = 6;
    o.hidden = {hidden};
    o.latent = 2;
    return o;
}

ek::models::AutoencoderOptions tiny_autoencoder() {
    ek::models::AutoencoderOptions o;
    o.input = 6;
    o.hidden = {4};
    o.latent = 2;
    return o;
}

ek::RowMatrixF tiny_data(Eigen::Index rows) {
    ek::RowMatrixF x(rows, 6);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = static_cast<float>((i * 7) % 11) / 10.0f;
    return x;
}

ek::models::FitOptions tiny_fit(const std::string& checkpoint, Eigen::Index batch = 4) {
    ek::models::FitOptions f;
    f.epochs = 1;
    f.batch_size = batch;
    f.progress.style = ek::ProgressOptions::Style::silent;
    f.checkpoint_path = checkpoint;
    f.resume = true;
    return f;
}

// Replaces the value of an existing attribute of a loaded model file.
void replace_attribute(io::ModelFile& m, const std::string& key, const std::string& value) {
    for (auto& kv : m.attributes)
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    FAIL("no attribute " << key);
}

void remove_attribute(io::ModelFile& m, const std::string& key) {
    for (auto it = m.attributes.begin(); it != m.attributes.end(); ++it)
        if (it->first == key) {
            m.attributes.erase(it);
            return;
        }
    FAIL("no attribute " << key);
}

void remove_tensor(io::ModelFile& m, const std::string& name) {
    for (auto it = m.tensors.begin(); it != m.tensors.end(); ++it)
        if (it->name == name) {
            m.tensors.erase(it);
            return;
        }
    FAIL("no tensor " << name);
}

// Sets PATH for the scope (the downloader looks for curl and wget there).
class ScopedPath {
public:
    explicit ScopedPath(const std::string& value) {
        const char* old = std::getenv("PATH");
        had_ = old != nullptr;
        if (had_) old_ = old;
        ::setenv("PATH", value.c_str(), 1);
    }
    ~ScopedPath() {
        if (had_)
            ::setenv("PATH", old_.c_str(), 1);
        else
            ::unsetenv("PATH");
    }
    ScopedPath(const ScopedPath&) = delete;
    ScopedPath& operator=(const ScopedPath&) = delete;

private:
    bool had_ = false;
    std::string old_;
};

// An executable shell script `curl` in `dir` that ignores the URL and either writes `body`
// to its --output file and succeeds, or prints an error and exits with 22 (curl --fail's
// status for an HTTP error): a download without a network.
void fake_curl(const TempDir& dir, bool succeed) {
    const std::string path = dir.file("curl");
    const std::string script = succeed
                                   ? "#!/bin/sh\n"
                                     "out=\n"
                                     "while [ $# -gt 0 ]; do\n"
                                     "  if [ \"$1\" = --output ]; then out=$2; shift; fi\n"
                                     "  shift\n"
                                     "done\n"
                                     "printf 'not the expected file' > \"$out\"\n"
                                     "exit 0\n"
                                   : "#!/bin/sh\n"
                                     "echo 'curl: (22) The requested URL returned error: 404' >&2\n"
                                     "exit 22\n";
    write_file(path, script);
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

example::DownloadOptions one_file_options() {
    example::DownloadOptions o;
    o.mirrors = {"https://example.invalid/mnist/"};
    o.files = {{"tiny.gz", "00000000000000000000000000000000"}};
    o.quiet = true;
    return o;
}

}  // namespace

// =============================================================================================
// io/npy.hpp

TEST_CASE("errors io: npy paths, magic, version and header fields") {
    TempDir dir;
    const std::string good = dir.file("good.npy");
    ek::RowMatrixF m(2, 3);
    m << 1, 2, 3, 4, 5, 6;
    io::write_npy(good, m);
    const std::string p = dir.file("bad.npy");

    EMBEDKIT_ERROR_ROW("NPY-01", embedkit::IoError, "npy: cannot open",
                       io::read_npy<float>(dir.file("missing.npy")));
    EMBEDKIT_ERROR_ROW("NPY-02", embedkit::IoError, "is a folder, not a file",
                       io::read_npy<float>(dir.path().string()));
    write_file(p, "");
    EMBEDKIT_ERROR_ROW("NPY-03", embedkit::FormatError,
                       "file too short for a .npy header (0 bytes)", io::read_npy<float>(p));
    std::string b = read_file(good);
    b[1] = 'X';
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("NPY-04", embedkit::FormatError, "not a .npy file (wrong magic)",
                       io::read_npy<float>(p));
    b = read_file(good);
    b[6] = 4;
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("NPY-05", embedkit::FormatError, "unsupported .npy format version 4",
                       io::read_npy<float>(p));
    b = read_file(good);
    b[8] = '\xFF';
    b[9] = '\xFF';
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("NPY-06", embedkit::FormatError,
                       "truncated header (needs 65545 bytes, file has 152)",
                       io::read_npy<float>(p));
    b = npy_file(npy_dict("<f4", "(2, 3)"), 24, 2);
    set_u32(b, 8, 0xFFFFFFFFu);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("NPY-07", embedkit::FormatError,
                       "header of 4294967295 bytes, more than the reader's limit of 16777216 bytes",
                       io::read_npy<float>(p));
    write_file(p, npy_file("{'descr': '<f4', 'shape': (2, 3), }", 24));
    EMBEDKIT_ERROR_ROW("NPY-08", embedkit::FormatError,
                       "header lacks one of 'descr', 'fortran_order', 'shape'",
                       io::read_npy<float>(p));
    write_file(
        p, npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", 24));
    EMBEDKIT_ERROR_ROW("NPY-09", embedkit::FormatError, "unknown header key 'extra'",
                       io::read_npy<float>(p));
    write_file(p, npy_file("['<f4', False, (2, 3)]", 24));
    EMBEDKIT_ERROR_ROW("NPY-10", embedkit::FormatError, "malformed header: expected '{'",
                       io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(99999999999999999999, 3)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-11", embedkit::FormatError, "shape dimension overflows 64 bits",
                       io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(4294967296, 4294967296)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-12", embedkit::FormatError, "shape overflows 64 bits",
                       io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(1000000, 1000000)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-13", embedkit::FormatError,
                       "truncated data (shape needs 4000000000000 bytes, file has 24)",
                       io::read_npy<float>(p));
    write_file(p, read_file(good) + std::string(8, '\0'));
    EMBEDKIT_ERROR_ROW("NPY-14", embedkit::FormatError, "8 unexpected bytes after the data",
                       io::read_npy<float>(p));
    write_file(p, "a text file, not an array\n");
    EMBEDKIT_ERROR_ROW("NPY-15", embedkit::FormatError, "not a .npy file (wrong magic)",
                       io::read_npy_header(p));
}

TEST_CASE("errors io: npy dtype, order and rank") {
    TempDir dir;
    const std::string p = dir.file("bad.npy");
    write_file(p, npy_file(npy_dict(">f4", "(2, 3)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-16", embedkit::FormatError, "unsupported dtype '>f4'",
                       io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(2, 3)", "True"), 24));
    EMBEDKIT_ERROR_ROW("NPY-17", embedkit::FormatError, "Fortran-order arrays are not supported",
                       io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(2, 3)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-18", embedkit::FormatError, "dtype is '<f4' but '<f8' was requested",
                       io::read_npy<double>(p));
    write_file(p, npy_file(npy_dict("<f4", "(2, 1, 3)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-19", embedkit::FormatError,
                       "expected a 1-D or 2-D array, got shape (2, 1, 3)", io::read_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(2, 3)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-20", embedkit::FormatError, "expected a 1-D array, got shape (2, 3)",
                       io::read_npy_vector<float>(p));
}

TEST_CASE("errors io: npy conversions") {
    TempDir dir;
    const std::string p = dir.file("bad.npy");
    write_file(p, npy_file(npy_dict("<f8", "(2, 3)"), 48));
    EMBEDKIT_ERROR_ROW(
        "NPY-36", embedkit::FormatError,
        "dtype is '<f8' but '<f4' was requested (pass NpyConvert::allow to convert it",
        io::read_npy<float>(p));
    EMBEDKIT_ERROR_ROW("NPY-40", embedkit::FormatError,
                       "read_npy with NpyConvert::allow copies and converts them",
                       io::map_npy<float>(p));
    ek::RowMatrixD big = ek::RowMatrixD::Zero(2, 3);
    big(1, 2) = 1e39;
    io::write_npy(p, big);
    EMBEDKIT_ERROR_ROW(
        "NPY-37", embedkit::FormatError,
        "value 1e+39 at row 1, col 2 does not fit float (largest finite 3.4028235e+38)",
        io::read_npy<float>(p, io::NpyConvert::allow));
    io::write_npy(p, std::vector<std::int64_t>{7, 300});
    EMBEDKIT_ERROR_ROW("NPY-38", embedkit::FormatError,
                       "value 300 at index 1 does not fit uint8_t (0 to 255)",
                       io::read_npy_vector<std::uint8_t>(p, io::NpyConvert::allow));
    EMBEDKIT_ERROR_ROW(
        "NPY-39", embedkit::FormatError,
        "NpyConvert::allow converts between floating-point dtypes or between integer dtypes",
        io::read_npy<float>(p, io::NpyConvert::allow));
}

namespace {

// A FIFO at `path` already holding `bytes`: this process keeps both ends open (O_RDWR), so a
// reader's open() does not wait for a writer and its read() does not block on what is there.
struct FilledFifo {
    int fd = -1;
    FilledFifo(const std::string& path, const std::string& bytes) {
        REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
        fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    ~FilledFifo() { ::close(fd); }
    FilledFifo(const FilledFifo&) = delete;
    FilledFifo& operator=(const FilledFifo&) = delete;
};

}  // namespace

TEST_CASE("errors io: npy through a pipe") {
    TempDir dir;
    ek::RowMatrixF m = ek::RowMatrixF::Ones(2, 3);
    io::write_npy(dir.file("good.npy"), m);
    const FilledFifo fifo(dir.file("pipe.npy"), read_file(dir.file("good.npy")));
    EMBEDKIT_ERROR_ROW("NPY-41", embedkit::IoError,
                       "(the reader needs the file's size before it reads; a pipe has none)",
                       io::read_npy<float>(dir.file("pipe.npy")));
}

TEST_CASE("errors io: npy memory maps") {
    TempDir dir;
    const std::string p = dir.file("bad.npy");
    EMBEDKIT_ERROR_ROW("NPY-21", embedkit::IoError, "map_npy: cannot open",
                       io::map_npy<float>(dir.file("missing.npy")));
    EMBEDKIT_ERROR_ROW("NPY-22", embedkit::IoError, "is a folder, not a file",
                       io::map_npy<float>(dir.path().string()));
    write_file(p, "");
    EMBEDKIT_ERROR_ROW("NPY-23", embedkit::FormatError, "file is empty", io::map_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f4", "(6,)"), 24));
    EMBEDKIT_ERROR_ROW("NPY-24", embedkit::FormatError, "expected a 2-D array, got shape (6,)",
                       io::map_npy<float>(p));
    write_file(p, npy_file(npy_dict("<f8", "(2, 3)"), 48));
    EMBEDKIT_ERROR_ROW("NPY-25", embedkit::FormatError, "dtype is '<f8' but '<f4' was requested",
                       io::map_npy<float>(p));
    // The header limit is one check shared by every reader, with one message.
    std::string b = npy_file(npy_dict("<f4", "(2, 3)"), 24, 2);
    set_u32(b, 8, 0xFFFFFFFFu);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("NPY-34", embedkit::FormatError,
                       "more than the reader's limit of 16777216 bytes", io::map_npy<float>(p));
    EMBEDKIT_ERROR_ROW("NPY-35", embedkit::FormatError,
                       "more than the reader's limit of 16777216 bytes", io::read_npy_header(p));
}

TEST_CASE("errors io: npy writers") {
    TempDir dir;
    ek::RowMatrixF m(2, 3);
    m.setZero();
    EMBEDKIT_ERROR_ROW("NPY-26", embedkit::IoError, "cannot create a temporary file beside",
                       io::write_npy(dir.file("no_such_folder/x.npy"), m));
    EMBEDKIT_ERROR_ROW("NPY-27", embedkit::IoError, "cannot rename temporary file onto",
                       io::write_npy(dir.path().string(), m));
    const float v[7] = {};
    EMBEDKIT_ERROR_ROW("NPY-28", embedkit::ArgumentError,
                       "appending 7 elements exceeds the shape (6 left)",
                       io::NpyWriter<float> w(dir.file("w.npy"), {2, 3});
                       w.append(v, 7));
    EMBEDKIT_ERROR_ROW("NPY-29", embedkit::ArgumentError, "5 of 6 elements written",
                       io::NpyWriter<float> w(dir.file("w.npy"), {2, 3});
                       w.append(v, 5); w.commit());
    EMBEDKIT_ERROR_ROW("NPY-30", embedkit::ArgumentError,
                       "shape (4294967296, 4294967296) overflows 64 bits",
                       io::NpyWriter<float> w(dir.file("w.npy"), {4294967296ull, 4294967296ull}));
    EMBEDKIT_ERROR_ROW("NPY-43", embedkit::ArgumentError, "already committed",
                       io::NpyWriter<float> w(dir.file("w.npy"), {1});
                       w.append(v, 1); w.commit(); w.append(v, 1));
    std::filesystem::remove(dir.file("w.npy"));
    {
        // A write that fails part-way: the file size limit (RLIMIT_FSIZE, SIGXFSZ ignored)
        // stops the temporary file at 4096 bytes.
        io::NpyWriter<float> w(dir.file("w.npy"), {4096});
        const std::vector<float> many(4096, 1.0f);
        rlimit old{};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
        const auto handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lower = old;
        lower.rlim_cur = 4096;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
        bool failed = false;
        try {
            w.append(many.data(), many.size());
        } catch (const embedkit::IoError&) {
            failed = true;
        }
        ::setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, handler);
        REQUIRE(failed);
        EMBEDKIT_ERROR_ROW(
            "NPY-42", embedkit::ArgumentError,
            "an earlier write failed, so the file was abandoned (nothing was published)",
            w.append(many.data(), many.size());
            w.commit());
    }
    CHECK(dir.entries().empty());  // no failed write left a file behind
}

TEST_CASE("errors io: npy truncated at every byte offset") {
    TempDir dir;
    const std::string good = dir.file("good.npy");
    ek::RowMatrixF m(2, 3);
    m << 1, 2, 3, 4, 5, 6;
    io::write_npy(good, m);
    const std::string full = read_file(good);
    REQUIRE(full.size() == 152);  // 128-byte header + 2 x 3 floats
    const std::string p = dir.file("cut.npy");
    for (std::size_t n = 0; n < full.size(); ++n) {
        CAPTURE(n);
        write_file(p, full.substr(0, n));
        if (n < 10)
            EMBEDKIT_ERROR_ROW("NPY-31", embedkit::FormatError, "file too short for a .npy header",
                               io::read_npy<float>(p));
        else if (n < 128)
            EMBEDKIT_ERROR_ROW("NPY-32", embedkit::FormatError, "truncated header (needs 128 bytes",
                               io::read_npy<float>(p));
        else
            EMBEDKIT_ERROR_ROW("NPY-33", embedkit::FormatError,
                               "truncated data (shape needs 24 bytes", io::read_npy<float>(p));
    }
}

// =============================================================================================
// io/model_file.hpp: the container

TEST_CASE("errors io: model file paths, magic, version and checksum") {
    TempDir dir;
    const std::string good = small_model_file(dir);
    const std::string p = dir.file("bad.ekm");
    const auto load = [&p] { return io::load_model_file(p); };

    EMBEDKIT_ERROR_ROW("MF-01", embedkit::IoError, "load_model_file: cannot open",
                       io::load_model_file(dir.file("missing.ekm")));
    EMBEDKIT_ERROR_ROW("MF-02", embedkit::IoError, "is not a regular file",
                       io::load_model_file(dir.path().string()));
    write_file(p, "");
    EMBEDKIT_ERROR_ROW("MF-03", embedkit::FormatError,
                       "truncated: 0 bytes, shorter than the 48-byte header", load());
    write_file(p, "GIF89a" + good.substr(6));
    EMBEDKIT_ERROR_ROW("MF-04", embedkit::FormatError, "not an embedkit model file (wrong magic)",
                       load());
    std::string b = good;
    b.erase(4, 1);  // "\r\n" -> "\n", as a text-mode transfer does
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-05", embedkit::FormatError, "probably damaged by a text-mode transfer",
                       load());
    b = good;
    set_u32(b, 8, 2);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-06", embedkit::FormatError,
                       "format version 2 is newer than this build of embedkit reads", load());
    b = good;
    set_u32(b, 8, 0);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-07", embedkit::FormatError, "invalid format version 0", load());
    b = good;
    set_u32(b, 12, 1);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-08", embedkit::FormatError,
                       "flags field (offset 12) is 0x00000001, version 1 requires 0", load());
    write_file(p, good + "abc");
    EMBEDKIT_ERROR_ROW("MF-09", embedkit::FormatError,
                       "trailing garbage: 3 bytes past the 196 bytes the header records", load());
    b = good;
    b[130] = static_cast<char>(b[130] ^ 0x01);  // one bit of the tensor's data
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-10", embedkit::FormatError, "checksum mismatch: expected CRC-32",
                       load());
    b = good;
    set_u32(b, 44, 7);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-11", embedkit::FormatError, "reserved field (offset 44) is 0x00000007",
                       load());
}

TEST_CASE("errors io: model file header fields, tensor table and layout") {
    TempDir dir;
    const std::string good = small_model_file(dir);
    const std::string p = dir.file("bad.ekm");
    const auto load = [&p] { return io::load_model_file(p); };
    const auto edited = [&](auto&& edit) {
        std::string b = good;
        edit(b);
        fix_crc(b);
        write_file(p, b);
    };

    edited([](std::string& b) { set_u32(b, 32, 1000); });
    EMBEDKIT_ERROR_ROW("MF-12", embedkit::FormatError, "kind length is 1000, must be 1 to 256",
                       load());
    edited([](std::string& b) { set_u32(b, 36, 0xFFFFFFFFu); });
    EMBEDKIT_ERROR_ROW("MF-13", embedkit::FormatError, "attribute count 4294967295 cannot fit",
                       load());
    edited([](std::string& b) { set_u32(b, 40, 0xFFFFFFFFu); });
    EMBEDKIT_ERROR_ROW("MF-14", embedkit::FormatError, "tensor count 4294967295 cannot fit",
                       load());
    edited([](std::string& b) { b[mf_dtype] = 9; });
    EMBEDKIT_ERROR_ROW("MF-15", embedkit::FormatError, "has unknown dtype code 9", load());
    edited([](std::string& b) { b[mf_rank] = 9; });
    EMBEDKIT_ERROR_ROW("MF-16", embedkit::FormatError, "has rank 9, the limit is 8", load());
    edited([](std::string& b) { set_u64(b, mf_dim0, 1000000); });
    EMBEDKIT_ERROR_ROW("MF-17", embedkit::FormatError,
                       "records 24 bytes, its shape [1000000, 3] of f32 needs 12000000", load());
    edited([](std::string& b) { set_u64(b, mf_dim0, std::uint64_t(1) << 62); });
    EMBEDKIT_ERROR_ROW("MF-18", embedkit::FormatError, "whose byte size overflows 64 bits", load());
    edited([](std::string& b) { set_u64(b, 24, 100); });
    EMBEDKIT_ERROR_ROW("MF-19", embedkit::FormatError, "data start 100 is not a multiple of 64",
                       load());
    edited([](std::string& b) { set_u64(b, mf_offset, 192); });
    EMBEDKIT_ERROR_ROW("MF-20", embedkit::FormatError, "data offset is 192, expected 128", load());
    edited([](std::string& b) { b[100] = 1; });
    EMBEDKIT_ERROR_ROW("MF-21", embedkit::FormatError,
                       "non-zero padding between the header (ends at 93)", load());

    // Two tensors "a" and "b", then "b" renamed to "a".
    io::ModelFile two("test");
    two.add_scalar<float>("a", 1.0f);
    two.add_scalar<float>("b", 2.0f);
    const std::vector<unsigned char> two_bytes = io::serialize_model_file(two);
    std::string b(two_bytes.begin(), two_bytes.end());
    const std::size_t at = b.find('b', 48);
    REQUIRE(at != std::string::npos);
    b[at] = 'a';
    fix_crc(b);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("MF-22", embedkit::FormatError, "tensor name 'a' appears twice", load());

    EMBEDKIT_ERROR_ROW("MF-23", embedkit::FormatError,
                       "holds a model of kind 'test', expected 'embedkit.vae'",
                       io::load_model_file(dir.file("small.ekm"), "embedkit.vae"));
    const std::vector<unsigned char> bytes(good.begin(), good.end());
    std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + 100);
    EMBEDKIT_ERROR_ROW("MF-24", embedkit::FormatError,
                       "truncated: the file has 100 bytes, its header records 196",
                       io::parse_model_file(cut.data(), cut.size(), "in memory"));
}

TEST_CASE("errors io: model file truncated at every byte offset") {
    TempDir dir;
    const std::string good = small_model_file(dir);
    const std::string p = dir.file("cut.ekm");
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        write_file(p, good.substr(0, n));
        if (n < 48)
            EMBEDKIT_ERROR_ROW("MF-25", embedkit::FormatError, "shorter than the 48-byte header",
                               io::load_model_file(p));
        else
            EMBEDKIT_ERROR_ROW("MF-26", embedkit::FormatError, "its header records 196",
                               io::load_model_file(p));
    }
}

TEST_CASE("errors io: model file accessors") {
    TempDir dir;
    small_model_file(dir);
    const io::ModelFile m = io::load_model_file(dir.file("small.ekm"));
    EMBEDKIT_ERROR_ROW("MF-27", embedkit::FormatError, "has no tensor 'bias'", m.tensor("bias"));
    EMBEDKIT_ERROR_ROW("MF-28", embedkit::FormatError, "has no attribute 'input'",
                       m.attribute("input"));
    EMBEDKIT_ERROR_ROW("MF-29", embedkit::FormatError,
                       "tensor 'w' is f32 [2, 3], expected f64 [2, 3]", m.read_matrix<double>("w"));
    ek::RowMatrixF wrong(3, 2);
    EMBEDKIT_ERROR_ROW(
        "MF-30", embedkit::FormatError,
        "tensor 'w' is f32 [2, 3], expected f32 [3, 2] (a file of another architecture",
        m.read_into("w", wrong));
    EMBEDKIT_ERROR_ROW("MF-31", embedkit::FormatError,
                       "tensor 'w' is f32 [2, 3], expected f32 rank 1", m.read_vector<float>("w"));
    EMBEDKIT_ERROR_ROW("MF-32", embedkit::FormatError, "tensor 'w' is f32 [2, 3], expected f32 []",
                       m.scalar<float>("w"));
    EMBEDKIT_ERROR_ROW("MF-33", embedkit::FormatError, "tensor 'w' holds f32, not i64",
                       m.tensors[0].values<std::int64_t>());
}

TEST_CASE("errors io: model file writers") {
    TempDir dir;
    io::ModelFile m("test");
    m.add_scalar<float>("w", 1.0f);
    m.set_attribute("input", "6");
    EMBEDKIT_ERROR_ROW("MF-34", embedkit::ArgumentError, "already has a tensor named 'w'",
                       m.add_scalar<float>("w", 2.0f));
    EMBEDKIT_ERROR_ROW("MF-35", embedkit::ArgumentError, "tensor names have 1 to 1024 bytes, got 0",
                       m.add_scalar<float>("", 2.0f));
    EMBEDKIT_ERROR_ROW("MF-36", embedkit::ArgumentError, "already has an attribute 'input'",
                       m.set_attribute("input", "7"));
    const float v[1] = {};
    EMBEDKIT_ERROR_ROW("MF-37", embedkit::ArgumentError, "has rank 9, the limit is 8",
                       io::Tensor::from_data<float>("deep", v, {1, 1, 1, 1, 1, 1, 1, 1, 1}));
    io::ModelFile nameless;
    EMBEDKIT_ERROR_ROW("MF-38", embedkit::ArgumentError, "the kind must have 1 to 256 bytes, got 0",
                       io::save_model_file(dir.file("x.ekm"), nameless));
    io::ModelFile broken("test");
    broken.tensors.push_back(io::Tensor{"t", io::DType::f32, {2}, std::vector<unsigned char>(5)});
    EMBEDKIT_ERROR_ROW("MF-39", embedkit::ArgumentError,
                       "tensor 't' has 5 bytes, its shape [2] of f32 needs 8",
                       io::serialize_model_file(broken));
    EMBEDKIT_ERROR_ROW("MF-40", embedkit::IoError, "cannot create a temporary file beside",
                       io::save_model_file(dir.file("no_such_folder/x.ekm"), m));
    CHECK(dir.entries().empty());
}

// =============================================================================================
// io/mnist.hpp: IDX files, raw and gzip, and load_mnist

TEST_CASE("errors io: IDX image and label files") {
    TempDir dir;
    const std::string p = dir.file("bad-idx3-ubyte");
    const auto images = [&p] { return io::read_idx_images(p); };
    const auto labels = [&p] { return io::read_idx_labels(p); };

    EMBEDKIT_ERROR_ROW("IDX-01", embedkit::IoError, "read_idx_images: cannot open",
                       io::read_idx_images(dir.file("missing")));
    EMBEDKIT_ERROR_ROW("IDX-02", embedkit::IoError, "is a folder, not a file",
                       io::read_idx_images(dir.path().string()));
    write_file(p, "");
    EMBEDKIT_ERROR_ROW("IDX-03", embedkit::FormatError, "empty, expected an IDX image file",
                       images());
    EMBEDKIT_ERROR_ROW("IDX-04", embedkit::FormatError, "empty, expected an IDX label file",
                       labels());
    write_file(p, idx_labels(3));
    EMBEDKIT_ERROR_ROW(
        "IDX-05", embedkit::FormatError,
        "expected 0x00000803 (unsigned bytes, 3 dimensions) (this is an IDX label file)", images());
    write_file(p, idx_images(2, 2, 3));
    EMBEDKIT_ERROR_ROW(
        "IDX-06", embedkit::FormatError,
        "expected 0x00000801 (unsigned bytes, 1 dimension) (this is an IDX image file)", labels());
    std::string b = idx_images(2, 2, 3);
    set_be32(b, 0, 0x12345678u);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("IDX-07", embedkit::FormatError,
                       "not an IDX image file: magic number is 0x12345678", images());
    b = idx_images(2, 2, 3);
    b[2] = 0x0D;  // float elements
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("IDX-08", embedkit::FormatError,
                       "(an IDX file of another element type or number of dimensions)", images());
    write_file(p, idx_images(0, 2, 3));
    EMBEDKIT_ERROR_ROW("IDX-09", embedkit::FormatError, "the header announces 0 images", images());
    write_file(p, idx_labels(0));
    EMBEDKIT_ERROR_ROW("IDX-10", embedkit::FormatError, "the header announces 0 labels", labels());
    b = idx_images(1, 1, 1);
    set_be32(b, 8, 0);
    set_be32(b, 12, 28);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("IDX-11", embedkit::FormatError,
                       "the header announces images of 0 x 28 pixels", images());
    b = idx_images(1, 1, 1);
    set_be32(b, 8, 65536);
    set_be32(b, 12, 65536);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("IDX-12", embedkit::FormatError,
                       "more than the reader's limit of 16777216 pixels per image", images());
    b = idx_images(1, 1, 1);
    set_be32(b, 4, 4000000000u);
    set_be32(b, 8, 28);
    set_be32(b, 12, 28);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("IDX-13", embedkit::FormatError,
                       "more than the reader's limit of 2147483648 bytes", images());
    b = idx_images(2, 2, 3);
    set_be32(b, 4, 1000);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW(
        "IDX-14", embedkit::FormatError,
        "the header announces 1000 images of 2 x 3 pixels (6016 bytes with the 16-byte header)",
        images());
    write_file(p, idx_labels(3) + "xyz");
    EMBEDKIT_ERROR_ROW("IDX-15", embedkit::FormatError,
                       "3 unexpected bytes after the 11 the header announces (3 labels)", labels());
    const std::vector<unsigned char> gz_magic = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0,
                                                 0,    3,    0, 0, 0, 0, 0, 0};
    EMBEDKIT_ERROR_ROW("IDX-16", embedkit::FormatError,
                       "(this is gzip-compressed data; decompress it first)",
                       io::parse_idx_images(gz_magic.data(), gz_magic.size(), "buffer"));
    const std::vector<unsigned char> short_labels = {0, 0, 8, 1, 0, 0, 0, 5, 1, 2};
    EMBEDKIT_ERROR_ROW("IDX-17", embedkit::FormatError, "truncated: the header announces 5 labels",
                       io::parse_idx_labels(short_labels.data(), short_labels.size(), "buffer"));
}

TEST_CASE("errors io: IDX files truncated at every byte offset") {
    TempDir dir;
    const std::string p = dir.file("cut");
    const std::string images = idx_images(2, 2, 3);  // 16-byte header + 12 pixels
    for (std::size_t n = 1; n < images.size(); ++n) {
        CAPTURE(n);
        write_file(p, images.substr(0, n));
        if (n < 4)
            EMBEDKIT_ERROR_ROW("IDX-18", embedkit::FormatError,
                               "too short for the 4-byte IDX magic number", io::read_idx_images(p));
        else if (n < 16)
            EMBEDKIT_ERROR_ROW("IDX-19", embedkit::FormatError, "the IDX header needs 16",
                               io::read_idx_images(p));
        else
            EMBEDKIT_ERROR_ROW("IDX-20", embedkit::FormatError,
                               "truncated: the header announces 2 images of 2 x 3 pixels",
                               io::read_idx_images(p));
    }
    const std::string labels = idx_labels(3);  // 8-byte header + 3 labels
    for (std::size_t n = 1; n < labels.size(); ++n) {
        CAPTURE(n);
        write_file(p, labels.substr(0, n));
        if (n < 4)
            EMBEDKIT_ERROR_ROW("IDX-21", embedkit::FormatError,
                               "too short for the 4-byte IDX magic number", io::read_idx_labels(p));
        else if (n < 8)
            EMBEDKIT_ERROR_ROW("IDX-22", embedkit::FormatError, "the IDX header needs 8",
                               io::read_idx_labels(p));
        else
            EMBEDKIT_ERROR_ROW("IDX-23", embedkit::FormatError,
                               "truncated: the header announces 3 labels", io::read_idx_labels(p));
    }
    // Offset 0 (an empty file) is IDX-03 / IDX-04.
}

#if EMBEDKIT_HAS_ZLIB
TEST_CASE("errors io: gzip-compressed IDX files") {
    TempDir dir;
    const std::string p = dir.file("bad-idx3-ubyte.gz");
    const std::string raw = idx_images(2, 2, 3);
    const std::string gz = gzip(raw);

    std::string b = gz;
    b[10] = static_cast<char>(b[10] | 0x06);  // the first deflate block's type: 3 is reserved
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("GZ-01", embedkit::FormatError,
                       "corrupt gzip stream (zlib: invalid block type)", io::read_idx_images(p));
    b = gz;
    b[b.size() - 8] = static_cast<char>(b[b.size() - 8] ^ 0xFF);  // the CRC-32 of the trailer
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("GZ-02", embedkit::FormatError,
                       "corrupt gzip stream (zlib: incorrect data check)", io::read_idx_images(p));
    write_file(p, gz + "garbage after the gzip member");
    EMBEDKIT_ERROR_ROW("GZ-03", embedkit::FormatError,
                       "corrupt gzip stream (zlib: incorrect header check)",
                       io::read_idx_images(p));
    write_file(p, gzip(raw + std::string(1000000, '\0')));
    EMBEDKIT_ERROR_ROW("GZ-04", embedkit::FormatError,
                       "decompresses to more than the 28 bytes its header announces",
                       io::read_idx_images(p));
    write_file(p, gzip(raw.substr(0, 20)));
    EMBEDKIT_ERROR_ROW("GZ-05", embedkit::FormatError, "but there are only 20 decompressed bytes",
                       io::read_idx_images(p));
    write_file(p, gzip(idx_labels(3)));
    EMBEDKIT_ERROR_ROW("GZ-06", embedkit::FormatError, "(this is an IDX label file)",
                       io::read_idx_images(p));
    // About 100 kB of gzip members (1 MiB of zeros each) announcing 10^8 labels, one byte short:
    // the stream is measured in constant memory before the 100 MB are allocated.
    const std::string mib = gzip(std::string(std::size_t(1) << 20, '\0'));
    std::string header = idx_labels(0);
    set_be32(header, 4, 100000000u);
    std::string bomb = gzip(header);
    std::uint64_t left = 100000000 - 1;
    for (; left >= (std::uint64_t(1) << 20); left -= std::uint64_t(1) << 20) bomb += mib;
    bomb += gzip(std::string(static_cast<std::size_t>(left), '\0'));
    write_file(p, bomb);
    EMBEDKIT_ERROR_ROW("GZ-09", embedkit::FormatError,
                       "but there are only 100000007 decompressed bytes", io::read_idx_labels(p));
}

TEST_CASE("errors io: gzip-compressed IDX files through a pipe, or changing while read") {
    TempDir dir;
    const std::string gz = gzip(idx_images(2, 2, 3));
    const FilledFifo fifo(dir.file("pipe-idx3-ubyte.gz"), gz);
    EMBEDKIT_ERROR_ROW("GZ-10", embedkit::IoError,
                       "(a .gz IDX file is read twice: to check it, then to keep it)",
                       io::read_idx_images(dir.file("pipe-idx3-ubyte.gz")));
    // The reader opens the file once per pass; a file replaced in between (here: the second
    // opening sees another valid file, one image longer) is noticed, not mixed.
    const std::string other = gzip(idx_images(3, 2, 3));
    int opened = 0;
    const auto open = [&] {
        const std::string& bytes = opened++ == 0 ? gz : other;
        return std::make_unique<ek::detail::GzipReader>(
            reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
            "embedkit::io::read_idx_images", "x.gz");
    };
    EMBEDKIT_ERROR_ROW("GZ-11", embedkit::IoError, "changed while being read",
                       ek::detail::idx_inflate(open, ek::detail::IdxKind::images,
                                               "embedkit::io::read_idx_images", "x.gz"));
    CHECK(opened == 2);
}

TEST_CASE("errors io: gzip-compressed IDX files truncated at every byte offset") {
    TempDir dir;
    const std::string p = dir.file("cut.gz");
    const std::string gz = gzip(idx_images(2, 2, 3));
    // 0 bytes: IDX-03; 1 byte (0x1f alone is not yet gzip): IDX-18.
    for (std::size_t n = 2; n < gz.size(); ++n) {
        CAPTURE(n);
        write_file(p, gz.substr(0, n));
        EMBEDKIT_ERROR_ROW("GZ-07", embedkit::FormatError, "truncated gzip stream",
                           io::read_idx_images(p));
    }
}
#else
TEST_CASE("errors io: gzip input in a build without zlib") {
    TempDir dir;
    const std::string p = dir.file("x.gz");
    write_file(p, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10));
    EMBEDKIT_ERROR_ROW("GZ-08", embedkit::IoError,
                       "is gzip-compressed but embedkit was built without zlib",
                       io::read_idx_images(p));
}
#endif

TEST_CASE("errors io: load_mnist") {
    TempDir dir;
    EMBEDKIT_ERROR_ROW("MNIST-01", embedkit::IoError, "(the folder does not exist)",
                       io::load_mnist(dir.file("no_such_folder"), io::MnistSplit::train));
    EMBEDKIT_ERROR_ROW("MNIST-02", embedkit::IoError, "MNIST test files not found in",
                       io::load_mnist(dir.path().string(), io::MnistSplit::test));
    write_file(dir.file("t10k-images-idx3-ubyte"), idx_images(3, 2, 3));
    write_file(dir.file("t10k-labels-idx1-ubyte"), idx_labels(2));
    EMBEDKIT_ERROR_ROW("MNIST-03", embedkit::FormatError, "holds 3 images but",
                       io::load_mnist(dir.path().string(), io::MnistSplit::test));
    write_file(dir.file("t10k-labels-idx1-ubyte"),
               idx_images(3, 2, 3));  // an image file under the label name
    EMBEDKIT_ERROR_ROW("MNIST-04", embedkit::FormatError, "(this is an IDX image file)",
                       io::load_mnist(dir.path().string(), io::MnistSplit::test));
}

// =============================================================================================
// examples/common/download.hpp (offline: a fake curl on PATH stands in for the network)

TEST_CASE("errors io: MD5 and download_mnist") {
    TempDir dir;
    EMBEDKIT_ERROR_ROW("DL-01", embedkit::IoError, "md5_file: cannot open",
                       example::md5_file(dir.file("missing")));
    EMBEDKIT_ERROR_ROW("DL-02", embedkit::IoError, "is a folder, not a file",
                       example::md5_file(dir.path().string()));
    TempDir empty_bin;
    {
        ScopedPath path(empty_bin.path().string());
        EMBEDKIT_ERROR_ROW("DL-03", embedkit::IoError, "neither curl nor wget was found on PATH",
                           example::download_mnist(dir.file("mnist"), one_file_options()));
    }
    TempDir good_bin;
    fake_curl(good_bin, true);
    TempDir bad_bin;
    fake_curl(bad_bin, false);
    {
        ScopedPath path(good_bin.path().string());
        example::DownloadOptions none = one_file_options();
        none.mirrors.clear();
        EMBEDKIT_ERROR_ROW("DL-04", embedkit::ArgumentError, "no mirrors given",
                           example::download_mnist(dir.file("mnist"), none));
        write_file(dir.file("a_file"), "x");
        EMBEDKIT_ERROR_ROW("DL-05", embedkit::IoError, "cannot create the folder",
                           example::download_mnist(dir.file("a_file/mnist"), one_file_options()));
        EMBEDKIT_ERROR_ROW("DL-06", embedkit::FormatError,
                           "MD5 mismatch for 'tiny.gz': expected 00000000000000000000000000000000, "
                           "got 11831067a6b01eb9d87a1a9f3ea1b3e7",
                           example::download_mnist(dir.file("mnist"), one_file_options()));
    }
    {
        ScopedPath path(bad_bin.path().string());
        EMBEDKIT_ERROR_ROW("DL-07", embedkit::IoError, "could not download 'tiny.gz' into",
                           example::download_mnist(dir.file("mnist"), one_file_options()));
    }
    // Nothing unverified was saved under the final name.
    CHECK(!ek::detail::path_exists(dir.file("mnist/tiny.gz")));
}

// =============================================================================================
// io/atomic_file.hpp

TEST_CASE("errors io: atomic files") {
    TempDir dir;
    EMBEDKIT_ERROR_ROW("AF-01", embedkit::IoError, "cannot create a temporary file beside",
                       io::AtomicFile f(dir.file("no_such_folder/x")));
    EMBEDKIT_ERROR_ROW("AF-02", embedkit::IoError, "cannot rename temporary file onto",
                       io::AtomicFile f(dir.path().string());
                       f.write("x", 1); f.commit());
    write_file(dir.file("plain"), "x");
    EMBEDKIT_ERROR_ROW("AF-03", embedkit::IoError, "cannot create a temporary file beside",
                       io::AtomicFile f(dir.file("plain/x")));
    CHECK(dir.entries() == std::vector<std::string>{"plain"});  // no temporary file left
}

// =============================================================================================
// models: load(path)

TEST_CASE("errors io: loading models") {
    TempDir dir;
    ek::Rng rng(1);
    const std::string vae_path = dir.file("vae.ekm");
    const std::string ae_path = dir.file("ae.ekm");
    const std::string p = dir.file("edited.ekm");
    ek::models::VAE<float>(tiny_vae(), rng).save(vae_path);
    ek::models::Autoencoder<float>(tiny_autoencoder(), rng).save(ae_path);
    const auto vae_with = [&](auto&& edit) {
        io::ModelFile m = io::load_model_file(vae_path);
        edit(m);
        io::save_model_file(p, m);
    };
    using VAE = ek::models::VAE<float>;

    EMBEDKIT_ERROR_ROW("LOAD-01", embedkit::IoError, "load_model_file: cannot open",
                       VAE::load(dir.file("missing.ekm")));
    EMBEDKIT_ERROR_ROW("LOAD-02", embedkit::FormatError,
                       "holds a model of kind 'embedkit.autoencoder', expected 'embedkit.vae'",
                       VAE::load(ae_path));
    EMBEDKIT_ERROR_ROW("LOAD-03", embedkit::FormatError,
                       "holds a model of kind 'embedkit.vae', expected 'embedkit.siamese'",
                       ek::models::Siamese<float>::load(vae_path));
    EMBEDKIT_ERROR_ROW("LOAD-04", embedkit::FormatError,
                       "tensor 'encoder.0.weight' is f32 [6, 4], expected f64 [6, 4]",
                       ek::models::VAE<double>::load(vae_path));
    std::string b = read_file(vae_path);
    set_u32(b, 8, 2);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("LOAD-05", embedkit::FormatError,
                       "format version 2 is newer than this build of embedkit reads", VAE::load(p));
    b = read_file(vae_path);
    b[b.size() - 10] = static_cast<char>(b[b.size() - 10] ^ 0x40);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("LOAD-06", embedkit::FormatError, "checksum mismatch", VAE::load(p));
    vae_with([](io::ModelFile& m) { replace_attribute(m, "hidden", "3"); });
    EMBEDKIT_ERROR_ROW("LOAD-07", embedkit::FormatError,
                       "tensor 'encoder.0.weight' is f32 [6, 4], expected f32 [6, 3] (a file of "
                       "another architecture",
                       VAE::load(p));
    vae_with([](io::ModelFile& m) { replace_attribute(m, "hidden", "999999999"); });
    EMBEDKIT_ERROR_ROW("LOAD-08", embedkit::FormatError, "describes an architecture of",
                       VAE::load(p));
    vae_with([](io::ModelFile& m) { replace_attribute(m, "hidden", "4,x"); });
    EMBEDKIT_ERROR_ROW("LOAD-09", embedkit::FormatError,
                       "attribute 'hidden' must be a list of positive sizes, got '4,x'",
                       VAE::load(p));
    vae_with([](io::ModelFile& m) { replace_attribute(m, "latent", "0"); });
    EMBEDKIT_ERROR_ROW("LOAD-10", embedkit::FormatError, "attribute 'latent' has a zero size",
                       VAE::load(p));
    vae_with([](io::ModelFile& m) { replace_attribute(m, "hidden", ""); });
    EMBEDKIT_ERROR_ROW("LOAD-11", embedkit::FormatError, "has no hidden layers", VAE::load(p));
    vae_with([](io::ModelFile& m) { remove_attribute(m, "latent"); });
    EMBEDKIT_ERROR_ROW("LOAD-12", embedkit::FormatError, "has no attribute 'latent'", VAE::load(p));
    // Renamed rather than removed: with fewer stored values LOAD-08's check would fire first.
    vae_with([](io::ModelFile& m) { m.tensors.back().name = "decoder.1.offset"; });
    EMBEDKIT_ERROR_ROW("LOAD-13", embedkit::FormatError, "has no tensor 'decoder.1.bias'",
                       VAE::load(p));
    vae_with([](io::ModelFile& m) {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(m.tensors[0].bytes.data(), &nan, sizeof nan);
    });
    EMBEDKIT_ERROR_ROW("LOAD-14", embedkit::FormatError,
                       "parameter 'encoder.0.weight' holds NaN or Inf", VAE::load(p));
    {
        io::ModelFile m = io::load_model_file(ae_path);
        replace_attribute(m, "loss", "hinge");
        io::save_model_file(p, m);
    }
    EMBEDKIT_ERROR_ROW("LOAD-15", embedkit::FormatError, "has unknown loss 'hinge'",
                       ek::models::Autoencoder<float>::load(p));
    {
        io::ModelFile m = io::load_model_file(ae_path);
        replace_attribute(m, "loss", "mse");
        m.set_attribute("mse_output", "softmax");  // BCE files record none
        io::save_model_file(p, m);
    }
    EMBEDKIT_ERROR_ROW("LOAD-16", embedkit::FormatError, "unknown activation 'softmax'",
                       ek::models::Autoencoder<float>::load(p));
    {
        ek::models::SiameseOptions so;
        so.input = 6;
        so.layers = {4, 3};
        ek::models::Siamese<float>(so, rng).save(p);
        io::ModelFile m = io::load_model_file(p);
        replace_attribute(m, "layers", "");
        io::save_model_file(p, m);
    }
    EMBEDKIT_ERROR_ROW("LOAD-17", embedkit::FormatError, "has no layers",
                       ek::models::Siamese<float>::load(p));
    EMBEDKIT_ERROR_ROW("LOAD-18", embedkit::IoError, "cannot create a temporary file beside",
                       VAE(tiny_vae(), rng).save(dir.file("no_such_folder/vae.ekm")));
}

// =============================================================================================
// nn/trainer.hpp: checkpoints and resume

TEST_CASE("errors io: resuming from checkpoints") {
    TempDir dir;
    using VAE = ek::models::VAE<float>;
    const std::string ckpt = dir.file("run.ckpt");
    const std::string p = dir.file("edited.ckpt");
    const ek::RowMatrixF x = tiny_data(8);
    {
        ek::Rng rng(2);
        VAE vae(tiny_vae(), rng);
        ek::nn::Adam<float> adam;
        vae.fit(x, tiny_fit(ckpt), adam, rng);
    }
    REQUIRE(ek::detail::path_exists(ckpt));
    const auto resume = [&](const std::string& path, Eigen::Index batch = 4, Eigen::Index rows = 8,
                            Eigen::Index hidden = 4) {
        ek::Rng rng(3);
        VAE vae(tiny_vae(hidden), rng);
        ek::nn::Adam<float> adam;
        auto f = tiny_fit(path, batch);
        f.epochs = 2;
        vae.fit(tiny_data(rows), f, adam, rng);
    };
    const auto ckpt_with = [&](auto&& edit) {
        io::ModelFile m = io::load_model_file(ckpt);
        edit(m);
        io::save_model_file(p, m);
    };

    EMBEDKIT_ERROR_ROW("CKPT-01", embedkit::ArgumentError,
                       "was written with batch size 4, this run uses 2", resume(ckpt, 2));
    EMBEDKIT_ERROR_ROW("CKPT-02", embedkit::ArgumentError,
                       "was written for 8 training rows, this run has 6", resume(ckpt, 4, 6));
    EMBEDKIT_ERROR_ROW("CKPT-03", embedkit::FormatError,
                       "has hidden = '4', this model has '5' (another architecture)",
                       resume(ckpt, 4, 8, 5));
    EMBEDKIT_ERROR_ROW(
        "CKPT-04", embedkit::FormatError,
        "the file holds the state of 'adam', this optimiser is 'sgd'", ek::Rng rng(3);
        VAE vae(tiny_vae(), rng); ek::nn::SGD<float> sgd; vae.fit(x, tiny_fit(ckpt), sgd, rng));
    {
        ek::Rng rng(4);
        VAE(tiny_vae(), rng).save(p);
    }
    EMBEDKIT_ERROR_ROW("CKPT-05", embedkit::FormatError,
                       "holds a model of kind 'embedkit.vae', expected 'embedkit.vae.checkpoint'",
                       resume(p));
    {
        std::filesystem::remove(p);
        ek::Rng rng(5);
        ek::models::Autoencoder<float> ae(tiny_autoencoder(), rng);
        ek::nn::Adam<float> adam;
        ae.fit(x, tiny_fit(p), adam, rng);
    }
    EMBEDKIT_ERROR_ROW("CKPT-06", embedkit::FormatError,
                       "holds a model of kind 'embedkit.autoencoder.checkpoint', expected "
                       "'embedkit.vae.checkpoint'",
                       resume(p));
    std::string b = read_file(ckpt);
    b[200] = static_cast<char>(b[200] ^ 0x01);
    write_file(p, b);
    EMBEDKIT_ERROR_ROW("CKPT-07", embedkit::FormatError, "checksum mismatch", resume(p));
    write_file(p, read_file(ckpt).substr(0, 1000));
    EMBEDKIT_ERROR_ROW("CKPT-08", embedkit::FormatError, "truncated: the file has 1000 bytes",
                       resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "rng.state");
        m.add("rng.state", std::vector<std::uint64_t>{1, 2, 3});
    });
    EMBEDKIT_ERROR_ROW("CKPT-09", embedkit::FormatError, "rng.state must hold 4 words, got 3",
                       resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "fit.epoch");
        m.add_scalar<std::uint64_t>("fit.epoch", 5);
    });
    EMBEDKIT_ERROR_ROW("CKPT-10", embedkit::FormatError,
                       "history length does not match its epoch count 5", resume(p));
    ckpt_with([](io::ModelFile& m) { remove_tensor(m, "history.loss"); });
    EMBEDKIT_ERROR_ROW("CKPT-11", embedkit::FormatError, "has no tensor 'history.loss'", resume(p));
    ckpt_with([](io::ModelFile& m) {
        const float inf = std::numeric_limits<float>::infinity();
        std::memcpy(m.tensors[0].bytes.data(), &inf, sizeof inf);
    });
    EMBEDKIT_ERROR_ROW("CKPT-12", embedkit::FormatError,
                       "parameter 'encoder.0.weight' holds NaN or Inf", resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "rng.state");
        m.add("rng.state", std::vector<std::uint64_t>{0, 0, 0, 0});
    });
    EMBEDKIT_ERROR_ROW("CKPT-15", embedkit::FormatError,
                       "rng.state is all zeros, which is not a generator state", resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "optimizer.count");
        m.add_scalar<std::uint64_t>("optimizer.count", std::uint64_t(1) << 40);
    });
    EMBEDKIT_ERROR_ROW("CKPT-16", embedkit::FormatError,
                       "records the state of 1099511627776 parameters but holds only", resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "history.learning_rate");
        m.add("history.learning_rate", std::vector<double>{0.01});
    });
    EMBEDKIT_ERROR_ROW("CKPT-17", embedkit::ArgumentError,
                       "epoch 1 ran at learning rate 0.01, this run uses 0.001; resuming would not "
                       "continue the same run",
                       resume(p));
    ek::models::FitOptions scheduled = tiny_fit(p, 4);
    scheduled.epochs = 2;
    scheduled.learning_rate = ek::nn::step_decay(1e-2, {2});
    EMBEDKIT_ERROR_ROW("CKPT-18", embedkit::ArgumentError,
                       "epoch 1 ran at learning rate 0.001, this run schedules 0.01 for it",
                       io::save_model_file(p, io::load_model_file(ckpt));
                       ek::Rng rng(3); VAE vae(tiny_vae(), rng); ek::nn::Adam<float> adam;
                       vae.fit(x, scheduled, adam, rng));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "history.learning_rate");
        m.add("history.learning_rate", std::vector<double>{1e-3, 1e-3});
    });
    EMBEDKIT_ERROR_ROW("CKPT-19", embedkit::FormatError,
                       "history length does not match its epoch count 1", resume(p));
    // The optimiser's state: every field a forged or damaged file could set so that the resumed
    // run turns NaN (or silently restarts Adam) is refused at load, naming the file and tensor.
    const auto set_first_value = [](io::ModelFile& m, const std::string& name, float value) {
        for (auto& t : m.tensors)
            if (t.name == name) {
                std::memcpy(t.bytes.data(), &value, sizeof value);
                return;
            }
        FAIL("no tensor " << name);
    };
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "optimizer.slot1.0");
        m.add("optimizer.slot1.0", std::vector<float>{0, 0, 0});
    });
    EMBEDKIT_ERROR_ROW(
        "CKPT-20", embedkit::FormatError,
        "tensor 'optimizer.slot1.0' has 3 values, parameter 0 ('encoder.0.weight') has 24",
        resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "optimizer.count");
        m.add_scalar<std::uint64_t>("optimizer.count", 0);
    });
    EMBEDKIT_ERROR_ROW("CKPT-21", embedkit::FormatError,
                       "tensor 'optimizer.count' records the state of 0 parameters after 2 steps, "
                       "the model has 10",
                       resume(p));
    ckpt_with([&](io::ModelFile& m) { set_first_value(m, "optimizer.slot0.3", std::nanf("")); });
    EMBEDKIT_ERROR_ROW("CKPT-22", embedkit::FormatError,
                       "edited.ckpt' (kind 'embedkit.vae.checkpoint'): tensor 'optimizer.slot0.3' "
                       "holds NaN or Inf",
                       resume(p));
    ckpt_with([&](io::ModelFile& m) { set_first_value(m, "optimizer.slot1.2", -1.0f); });
    EMBEDKIT_ERROR_ROW(
        "CKPT-23", embedkit::FormatError,
        "tensor 'optimizer.slot1.2' holds a negative value (-1), it keeps squares and must be >= 0",
        resume(p));
    ckpt_with([](io::ModelFile& m) {
        remove_tensor(m, "optimizer.step");
        m.add_scalar<std::uint64_t>("optimizer.step", std::numeric_limits<std::uint64_t>::max());
    });
    EMBEDKIT_ERROR_ROW("CKPT-24", embedkit::FormatError,
                       "tensor 'optimizer.step' is 2^64 - 1, the next step could not increment it",
                       resume(p));
    EMBEDKIT_ERROR_ROW("CKPT-13", embedkit::IoError, "is not a regular file",
                       resume(dir.path().string()));
    EMBEDKIT_ERROR_ROW("CKPT-14", embedkit::IoError, "cannot create a temporary file beside",
                       resume(dir.file("no_such_folder/run.ckpt")));
}

// =============================================================================================
// viz: pictures and the progress bar

TEST_CASE("errors io: pictures") {
    TempDir dir;
    ek::RowMatrixF pts(3, 2);
    pts << 0, 0, 1, 1, 2, 0.5f;
    const std::vector<std::uint8_t> labels = {0, 1, 2};
    const std::string svg = dir.file("plot.svg");

    EMBEDKIT_ERROR_ROW("VIZ-01", embedkit::ArgumentError,
                       "unsupported picture format '.jpg'; expected .svg or .png",
                       ek::viz::save_scatter(dir.file("plot.jpg"), pts, labels));
    ek::RowMatrixF three(3, 3);
    three.setZero();
    EMBEDKIT_ERROR_ROW("VIZ-02", embedkit::DimensionError,
                       "points must be n x 2 (one 2-D point per row), got 3 x 3",
                       ek::viz::save_scatter(svg, three, labels));
    EMBEDKIT_ERROR_ROW("VIZ-03", embedkit::DimensionError,
                       "labels must have one entry per point (3) or none, got 2",
                       ek::viz::save_scatter(svg, pts, std::vector<std::uint8_t>{0, 1}));
    ek::RowMatrixF nan = pts;
    nan(1, 0) = std::numeric_limits<float>::quiet_NaN();
    EMBEDKIT_ERROR_ROW("VIZ-04", embedkit::ArgumentError, "points must be finite, row 1",
                       ek::viz::save_scatter(svg, nan, labels));
    ek::viz::ScatterOptions named;
    named.class_names = {"zero", "one", "two"};
    EMBEDKIT_ERROR_ROW("VIZ-05", embedkit::ArgumentError,
                       "class_names has 3 names but row 2 has label -1",
                       ek::viz::save_scatter(svg, pts, std::vector<std::int64_t>{0, 1, -1}, named));
    EMBEDKIT_ERROR_ROW("VIZ-06", embedkit::IoError, "cannot create a temporary file beside",
                       ek::viz::save_scatter(dir.file("no_such_folder/plot.svg"), pts, labels));
    ek::RowMatrixF images(2, 6);
    images.setConstant(0.5f);
    const std::string pgm = dir.file("grid.pgm");
    EMBEDKIT_ERROR_ROW("VIZ-07", embedkit::DimensionError, "each row must hold one 2 x 2",
                       ek::viz::save_image_grid(pgm, images, 2, 2));
    EMBEDKIT_ERROR_ROW("VIZ-08", embedkit::ArgumentError, "no images to draw (images has 0 rows)",
                       ek::viz::save_image_grid(pgm, ek::RowMatrixF(0, 6), 2, 3));
    ek::RowMatrixF dark = images;
    dark(1, 4) = std::numeric_limits<float>::quiet_NaN();
    EMBEDKIT_ERROR_ROW("VIZ-09", embedkit::ArgumentError, "images row 1, pixel 4 is NaN",
                       ek::viz::save_image_grid(pgm, dark, 2, 3));
    EMBEDKIT_ERROR_ROW(
        "VIZ-10", embedkit::DimensionError,
        "originals and reconstructions must have the same shape, got 2 x 6 and 1 x 6",
        ek::viz::save_image_pairs(pgm, images, ek::RowMatrixF(images.topRows(1)), 2, 3));
    REQUIRE(::mkdir(dir.file("folder.pgm").c_str(), 0755) == 0);
    EMBEDKIT_ERROR_ROW("VIZ-11", embedkit::IoError, "cannot rename temporary file onto",
                       ek::viz::save_image_grid(dir.file("folder.pgm"), images, 2, 3));
    CHECK(dir.entries() == std::vector<std::string>{"folder.pgm"});
}

TEST_CASE("errors io: progress bar settings") {
    ek::ProgressOptions o;
    o.style = ek::ProgressOptions::Style::silent;
    EMBEDKIT_ERROR_ROW("VIZ-12", embedkit::ArgumentError,
                       "total must be >= 0 (0 = unknown), got -1", ek::ProgressBar("t", -1, o));
    o.width = -5;
    EMBEDKIT_ERROR_ROW("VIZ-13", embedkit::ArgumentError,
                       "width must be >= 0 (0 = the terminal's), got -5",
                       ek::ProgressBar("t", 10, o));
}
