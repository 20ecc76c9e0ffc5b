// mnist.hpp: IDX image and label files, raw and .gz: exact values, every truncation, wrong
// magic, zero and oversized dimensions, trailing bytes, corrupt and overlong gzip streams,
// missing files, load_mnist's file lookup and count check, and the real MNIST files when
// EMBEDKIT_MNIST_DIR points at them.
#include "io_test_util.hpp"

#include <embedkit/core/config.hpp>
#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/io/mnist.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if EMBEDKIT_HAS_ZLIB
#include <zlib.h>
#endif

namespace {

using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::TempDir;
using iotest::write_file;
namespace io = embedkit::io;

void put_be32(std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        s.push_back(static_cast<char>((v >> shift) & 0xFF));
}

std::string idx_header(std::uint32_t magic, std::initializer_list<std::uint32_t> dims) {
    std::string s;
    put_be32(s, magic);
    for (std::uint32_t d : dims) put_be32(s, d);
    return s;
}

// An IDX image file of `count` images of rows x cols whose pixel k (over the whole file) is
// (k * 37 + 11) mod 256, so every byte value occurs and order mistakes show.
std::string image_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
    std::string s = idx_header(0x00000803, {count, rows, cols});
    for (std::uint64_t k = 0; k < std::uint64_t(count) * rows * cols; ++k)
        s.push_back(static_cast<char>((k * 37 + 11) % 256));
    return s;
}

std::string label_file(const std::vector<std::uint8_t>& labels) {
    std::string s = idx_header(0x00000801, {static_cast<std::uint32_t>(labels.size())});
    for (std::uint8_t l : labels) s.push_back(static_cast<char>(l));
    return s;
}

const unsigned char* bytes(const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

#if EMBEDKIT_HAS_ZLIB
// gzip-compresses `raw` (RFC 1952 wrapper) with zlib.
std::string gzip(const std::string& raw, int level = 6) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, static_cast<uLong>(raw.size())) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
    z.avail_in = static_cast<uInt>(raw.size());
    z.next_out = reinterpret_cast<Bytef*>(&out[0]);
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    REQUIRE(rc == Z_STREAM_END);
    return out;
}
#endif

// The folder with the four MNIST files (raw or .gz), or "" after reporting why there is
// none: a MESSAGE locally, a failure when CI=true.
std::string mnist_dir_or_skip() {
    const char* env = std::getenv("EMBEDKIT_MNIST_DIR");
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::string(ci) == "true";
    std::string why;
    if (env == nullptr || *env == '\0') {
        why = "EMBEDKIT_MNIST_DIR is not set";
    } else {
        for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            // Without zlib only the raw files can be read.
            const std::string p = std::string(env) + "/" + name;
            if (!iotest::fs::exists(p) && !(EMBEDKIT_HAS_ZLIB && iotest::fs::exists(p + ".gz")))
                why += (why.empty() ? "" : ", ") + std::string(name) +
                       (EMBEDKIT_HAS_ZLIB ? "[.gz]" : "") + " is missing in " + env +
                       (EMBEDKIT_HAS_ZLIB ? "" : " (built without zlib: .gz unreadable)");
        }
    }
    if (why.empty()) return env;
    if (in_ci) FAIL("MNIST data required in CI (CI=true): " << why);
    MESSAGE("skipping the real-MNIST checks: " << why);
    return "";
}

TEST_CASE("mnist: parse_idx_images gives one row per image of bytes divided by 255") {
    const std::string file = image_file(3, 2, 5);
    const embedkit::RowMatrixF m = io::parse_idx_images(bytes(file), file.size(), "x.idx");
    REQUIRE(m.rows() == 3);
    REQUIRE(m.cols() == 10);
    for (Eigen::Index i = 0; i < 3; ++i)
        for (Eigen::Index j = 0; j < 10; ++j) {
            const unsigned b =
                static_cast<unsigned char>(file[16 + static_cast<std::size_t>(i * 10 + j)]);
            CHECK(m(i, j) == static_cast<float>(b) / 255.0f);
        }
    // Extremes map exactly onto 0 and 1.
    std::string ends = idx_header(0x00000803, {1, 1, 2});
    ends += std::string("\x00\xff", 2);
    const embedkit::RowMatrixF e = io::parse_idx_images(bytes(ends), ends.size(), "ends.idx");
    CHECK(e(0, 0) == 0.0f);
    CHECK(e(0, 1) == 1.0f);
}

TEST_CASE("mnist: parse_idx_labels returns the label bytes") {
    const std::vector<std::uint8_t> labels = {5, 0, 4, 1, 9, 2, 255};
    const std::string file = label_file(labels);
    CHECK(io::parse_idx_labels(bytes(file), file.size(), "l.idx") == labels);
}

TEST_CASE("mnist: every truncation of an image file throws FormatError naming the file") {
    TempDir dir;
    const std::string file = image_file(2, 3, 2);
    const std::string path = dir.file("img.idx");
    for (std::size_t len = 0; len < file.size(); ++len) {
        CAPTURE(len);
        const std::string cut = file.substr(0, len);
        check_throws<FormatError>(
            [&] { (void)io::parse_idx_images(bytes(cut), cut.size(), "cut.idx"); },
            {"embedkit::io::parse_idx_images", "'cut.idx'",
             len < 4 ? (len == 0 ? "empty" : "truncated") : "truncated"});
        write_file(path, cut);
        check_throws<FormatError>([&] { (void)io::read_idx_images(path); },
                                  {"embedkit::io::read_idx_images", path});
    }
    // The length message says what the header wants and what is there.
    const std::string short_file = file.substr(0, 20);
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_images(bytes(short_file), short_file.size(), "s.idx"); },
        {"2 images of 3 x 2 pixels", "28 bytes", "only 20 bytes"});
}

TEST_CASE("mnist: every truncation of a label file throws FormatError naming the file") {
    TempDir dir;
    const std::string file = label_file({1, 2, 3, 4});
    const std::string path = dir.file("lab.idx");
    for (std::size_t len = 0; len < file.size(); ++len) {
        CAPTURE(len);
        const std::string cut = file.substr(0, len);
        check_throws<FormatError>(
            [&] { (void)io::parse_idx_labels(bytes(cut), cut.size(), "cut.idx"); },
            {"embedkit::io::parse_idx_labels", "'cut.idx'"});
        write_file(path, cut);
        check_throws<FormatError>(
            [&] { (void)io::read_idx_labels(path); },
            {"embedkit::io::read_idx_labels", path, len == 0 ? "empty" : "truncated"});
    }
}

TEST_CASE("mnist: a wrong magic number is named in the FormatError") {
    const std::string labels = label_file({1, 2});
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_images(bytes(labels), labels.size(), "l.idx"); },
        {"'l.idx'", "magic number is 0x00000801", "expected 0x00000803", "label file"});
    const std::string images = image_file(1, 2, 2);
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_labels(bytes(images), images.size(), "i.idx"); },
        {"'i.idx'", "magic number is 0x00000803", "expected 0x00000801", "image file"});
    // Another element type (0x0D = float) with 3 dimensions.
    std::string floats = images;
    floats[2] = '\x0d';
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_images(bytes(floats), floats.size(), "f.idx"); },
        {"0x00000D03", "another element type"});
    const std::string text = "hello, world, this is text";
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_images(bytes(text), text.size(), "t.txt"); },
        {"'t.txt'", "not an IDX image file", "0x68656C6C"});
    const std::string gz = std::string("\x1f\x8b\x08\x00", 4) + std::string(30, 'x');
    check_throws<FormatError>([&] { (void)io::parse_idx_images(bytes(gz), gz.size(), "g.gz"); },
                              {"gzip-compressed", "decompress it first"});
}

TEST_CASE("mnist: zero and oversized dimensions are rejected before allocating") {
    const auto images = [](std::uint32_t n, std::uint32_t r, std::uint32_t c) {
        return idx_header(0x00000803, {n, r, c}) + std::string(64, '\0');
    };
    const auto expect = [](const std::string& f, std::initializer_list<std::string> parts) {
        check_throws<FormatError>(
            [&] { (void)io::parse_idx_images(bytes(f), f.size(), "dims.idx"); }, parts);
    };
    expect(images(0, 28, 28), {"'dims.idx'", "0 images"});
    expect(images(5, 0, 28), {"images of 0 x 28 pixels"});
    expect(images(5, 28, 0), {"images of 28 x 0 pixels"});
    expect(images(1, 65536, 65536), {"65536 x 65536", "limit"});
    // 4 billion images of 28 x 28 would need 3.4 TB: refused by the header check, not by
    // a failed allocation.
    expect(images(0xFFFFFFFFu, 28, 28), {"4294967295 images of 28 x 28 pixels", "limit"});
    const std::string labels = idx_header(0x00000801, {0xFFFFFFFFu}) + "abc";
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_labels(bytes(labels), labels.size(), "l.idx"); },
        {"4294967295 labels", "limit"});
    const std::string none = idx_header(0x00000801, {0});
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_labels(bytes(none), none.size(), "l.idx"); }, {"0 labels"});
}

TEST_CASE("mnist: bytes after the announced data are an error") {
    TempDir dir;
    const std::string images = image_file(2, 2, 2) + "xyz";
    check_throws<FormatError>(
        [&] { (void)io::parse_idx_images(bytes(images), images.size(), "i.idx"); },
        {"'i.idx'", "3 unexpected bytes", "24"});
    const std::string labels = label_file({1}) + "z";
    write_file(dir.file("l.idx"), labels);
    check_throws<FormatError>([&] { (void)io::read_idx_labels(dir.file("l.idx")); },
                              {dir.file("l.idx"), "1 unexpected bytes"});
}

TEST_CASE(
    "mnist: random corruption of a small file gives a matrix or FormatError and nothing else") {
    const std::string good = image_file(3, 4, 3);
    std::uint64_t state = 12345;
    const auto next = [&state] {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::size_t>(state >> 33);
    };
    int parsed = 0, rejected = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string f = good;
        const std::size_t flips = 1 + next() % 3;
        for (std::size_t k = 0; k < flips; ++k) f[next() % 16] = static_cast<char>(next() % 256);
        if (next() % 4 == 0) f.resize(next() % (f.size() + 8), '\x7f');
        try {
            const embedkit::RowMatrixF m = io::parse_idx_images(bytes(f), f.size(), "fuzz.idx");
            CHECK(static_cast<std::size_t>(m.size()) + 16 == f.size());
            ++parsed;
        } catch (const FormatError& e) {
            CHECK(std::string(e.what()).find("'fuzz.idx'") != std::string::npos);
            ++rejected;
        }
    }
    CHECK(parsed > 0);
    CHECK(rejected > 0);
}

TEST_CASE("mnist: missing or unreadable files throw IoError naming the path") {
    TempDir dir;
    const std::string missing = dir.file("nope-idx3-ubyte");
    check_throws<IoError>([&] { (void)io::read_idx_images(missing); },
                          {"embedkit::io::read_idx_images", missing, "cannot open"});
    check_throws<IoError>([&] { (void)io::read_idx_labels(missing); }, {missing});
    check_throws<IoError>([&] { (void)io::read_idx_images(dir.path().string()); }, {"is a folder"});
}

TEST_CASE("mnist: load_mnist names the folder and the files it looked for and how to get them") {
    TempDir dir;
    const std::string d = dir.path().string();
    check_throws<IoError>([&] { (void)io::load_mnist(d, io::MnistSplit::train); },
                          {"embedkit::io::load_mnist", "'" + d + "'", "'train-images-idx3-ubyte'",
                           "'train-images-idx3-ubyte.gz'", "'train-labels-idx1-ubyte'",
                           "--download", "EMBEDKIT_MNIST_DIR"});
    // Only the missing file is listed.
    write_file(dir.file("t10k-images-idx3-ubyte"), image_file(2, 2, 2));
    bool thrown = false;
    try {
        (void)io::load_mnist(d, io::MnistSplit::test);
    } catch (const IoError& e) {
        thrown = true;
        const std::string what = e.what();
        CHECK(what.find("t10k-labels-idx1-ubyte") != std::string::npos);
        CHECK(what.find("t10k-images") == std::string::npos);
    }
    CHECK(thrown);
    check_throws<IoError>([&] { (void)io::load_mnist(dir.file("absent"), io::MnistSplit::test); },
                          {dir.file("absent"), "the folder does not exist"});
}

TEST_CASE("mnist: load_mnist reads a split and checks that image and label counts agree") {
    TempDir dir;
    write_file(dir.file("t10k-images-idx3-ubyte"), image_file(3, 2, 2));
    write_file(dir.file("t10k-labels-idx1-ubyte"), label_file({7, 2, 1}));
    const io::MnistData data = io::load_mnist(dir.path().string(), io::MnistSplit::test);
    CHECK(data.images.rows() == 3);
    CHECK(data.images.cols() == 4);
    CHECK(data.labels == std::vector<std::uint8_t>{7, 2, 1});
    CHECK(data.images(2, 3) == static_cast<float>((11 * 37 + 11) % 256) / 255.0f);

    write_file(dir.file("train-images-idx3-ubyte"), image_file(3, 2, 2));
    write_file(dir.file("train-labels-idx1-ubyte"), label_file({1, 2}));
    check_throws<FormatError>(
        [&] { (void)io::load_mnist(dir.path().string(), io::MnistSplit::train); },
        {"embedkit::io::load_mnist", "3 images", "2 labels", dir.file("train-labels-idx1-ubyte")});
}

TEST_CASE("mnist: load_mnist prefers the raw file when both raw and gz exist") {
    TempDir dir;
    write_file(dir.file("t10k-images-idx3-ubyte"), image_file(2, 1, 1));
    write_file(dir.file("t10k-labels-idx1-ubyte"), label_file({4, 5}));
    // Invalid .gz twins: reading them would throw.
    write_file(dir.file("t10k-images-idx3-ubyte.gz"), "not gzip");
    write_file(dir.file("t10k-labels-idx1-ubyte.gz"), "not gzip");
    const io::MnistData data = io::load_mnist(dir.path().string() + "/", io::MnistSplit::test);
    CHECK(data.labels == std::vector<std::uint8_t>{4, 5});
}

#if EMBEDKIT_HAS_ZLIB

TEST_CASE("mnist: gz files round trip and are recognised by content") {
    TempDir dir;
    const std::string images = image_file(4, 3, 5);
    const std::string labels = label_file({3, 1, 4, 1});
    write_file(dir.file("train-images-idx3-ubyte.gz"), gzip(images));
    write_file(dir.file("train-labels-idx1-ubyte.gz"), gzip(labels, 9));
    const io::MnistData data = io::load_mnist(dir.path().string(), io::MnistSplit::train);
    const embedkit::RowMatrixF want = io::parse_idx_images(bytes(images), images.size(), "raw");
    CHECK(data.images == want);
    CHECK(data.labels == std::vector<std::uint8_t>{3, 1, 4, 1});
    // A gzip file without the .gz suffix, and a raw file with it.
    write_file(dir.file("plain"), gzip(images));
    CHECK(io::read_idx_images(dir.file("plain")) == want);
    write_file(dir.file("raw.gz"), labels);
    CHECK(io::read_idx_labels(dir.file("raw.gz")) == data.labels);
    // Several gzip members back to back decompress as their concatenation (as gunzip does).
    write_file(dir.file("multi.gz"),
               gzip(images.substr(0, 10)) + gzip(images.substr(10, 30)) + gzip(images.substr(40)));
    CHECK(io::read_idx_images(dir.file("multi.gz")) == want);
    // In memory, the fuzzable path.
    const std::string gz = gzip(labels);
    const std::vector<unsigned char> raw = embedkit::detail::idx_inflate_buffer(
        bytes(gz), gz.size(), embedkit::detail::IdxKind::labels, "fuzz", "mem.gz");
    CHECK(std::string(raw.begin(), raw.end()) == labels);
}

TEST_CASE("mnist: every truncation of a gz file throws FormatError naming the file") {
    TempDir dir;
    const std::string gz = gzip(image_file(2, 3, 3));
    const std::string path = dir.file("cut.gz");
    for (std::size_t len = 0; len < gz.size(); ++len) {
        CAPTURE(len);
        write_file(path, gz.substr(0, len));
        check_throws<FormatError>([&] { (void)io::read_idx_images(path); },
                                  {"embedkit::io::read_idx_images", path});
    }
}

TEST_CASE("mnist: a corrupt gz stream is a FormatError") {
    TempDir dir;
    const std::string labels = label_file({1, 2, 3, 4, 5, 6, 7, 8, 9, 0});
    const std::string gz = gzip(labels);
    const std::string path = dir.file("bad.gz");
    std::string crc = gz;
    crc[crc.size() - 6] =
        static_cast<char>(crc[crc.size() - 6] ^ 0x55);  // inside the CRC-32 trailer
    write_file(path, crc);
    check_throws<FormatError>([&] { (void)io::read_idx_labels(path); },
                              {path, "corrupt gzip stream"});
    std::string method = gz;
    method[2] = '\x07';  // compression method must be 8 (deflate)
    write_file(path, method);
    check_throws<FormatError>([&] { (void)io::read_idx_labels(path); },
                              {path, "corrupt gzip stream"});
    write_file(path, gz + "trailing junk");
    check_throws<FormatError>([&] { (void)io::read_idx_labels(path); }, {path, "gzip"});
    // Inverting any byte of the compressed body is caught (by zlib, its CRC or our checks).
    for (std::size_t i = 10; i + 8 < gz.size(); ++i) {
        CAPTURE(i);
        std::string bad = gz;
        bad[i] =
            static_cast<char>(~bad[i]);  // all bits: flipping only padding bits would go unnoticed
        write_file(path, bad);
        check_throws<FormatError>([&] { (void)io::read_idx_labels(path); }, {path});
    }
    // A gz file whose content is not IDX.
    write_file(path, gzip("plain text, not IDX"));
    check_throws<FormatError>([&] { (void)io::read_idx_labels(path); },
                              {path, "not an IDX label file"});
}

TEST_CASE("mnist: a gz bomb stops at the size the header announces") {
    TempDir dir;
    // Header: 1 image of 2 x 2 (20 bytes in all), followed by 16 MB of zeros (~16 kB packed).
    const std::string bomb = idx_header(0x00000803, {1, 2, 2}) + std::string(16u << 20, '\0');
    const std::string path = dir.file("bomb.gz");
    write_file(path, gzip(bomb, 9));
    check_throws<FormatError>(
        [&] { (void)io::read_idx_images(path); },
        {path, "decompresses to more than the 20 bytes", "1 images of 2 x 2 pixels"});
    const std::string gz = gzip(bomb, 9);
    check_throws<FormatError>(
        [&] {
            (void)embedkit::detail::idx_inflate_buffer(
                bytes(gz), gz.size(), embedkit::detail::IdxKind::images, "f", "m.gz");
        },
        {"more than the 20 bytes"});
    // A short stream reports the decompressed length.
    write_file(path, gzip(image_file(2, 2, 2).substr(0, 22)));
    check_throws<FormatError>([&] { (void)io::read_idx_images(path); },
                              {path, "only 22 decompressed bytes"});
}

// A hostile .gz: `header` followed by `present` zero bytes, as one member for the header and
// concatenated members of 1 MiB of zeros (about 1 kB each packed), so a few hundred kB
// decompress to hundreds of MB without the test compressing that much.
std::string zero_bomb(const std::string& header, std::uint64_t present) {
    const std::uint64_t mib = std::uint64_t(1) << 20;
    const std::string full = gzip(std::string(mib, '\0'), 9);
    std::string out = gzip(header, 9);
    for (; present >= mib; present -= mib) out += full;
    if (present > 0) out += gzip(std::string(static_cast<std::size_t>(present), '\0'), 9);
    return out;
}

// The process's address-space size in bytes, from /proc/self/status (0 if unknown).
std::uint64_t address_space_now() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
    return 0;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// Runs read(path) in a child process whose address space may grow by at most `headroom`
// bytes (not under sanitizers, which reserve terabytes). The exit code says what happened:
// 0 FormatError containing `expect`, 1 bad_alloc, 2 another exception, 3 none, 4 FormatError
// with another message.
template <class Read>
int read_with_capped_memory(Read&& read, const std::string& expect, std::uint64_t headroom) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        const std::uint64_t now = address_space_now();
        if (!sanitized && now > 0) {
            const rlimit cap{static_cast<rlim_t>(now + headroom),
                             static_cast<rlim_t>(now + headroom)};
            if (::setrlimit(RLIMIT_AS, &cap) != 0) ::_exit(5);
        }
        int code = 3;
        try {
            read();
        } catch (const FormatError& e) {
            code = std::string(e.what()).find(expect) != std::string::npos ? 0 : 4;
        } catch (const std::bad_alloc&) {
            code = 1;
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFEXITED(status), "the child died of signal " << WTERMSIG(status));
    return WEXITSTATUS(status);
}

TEST_CASE("mnist: a small gz that is one byte short of a huge header allocates little") {
    // Hardening II: a few-MB .gz whose header announces hundreds of MB and whose data stops one
    // byte short made the reader grow its buffer to the full size (and vector's doubling asked
    // for twice that) before the FormatError. Now the stream is checked in constant memory
    // before anything of the announced size is allocated. The child may grow by 128 MiB.
    TempDir dir;
    const std::uint64_t headroom = std::uint64_t(128) << 20;
    const std::string outcome[] = {"FormatError",
                                   "std::bad_alloc",
                                   "another exception",
                                   "no exception",
                                   "a FormatError with another message",
                                   "setrlimit failed"};

    const std::uint64_t labels = 300000000;  // 286 MiB
    const std::string labels_path = dir.file("labels.gz");
    write_file(labels_path, zero_bomb(idx_header(0x00000801, {std::uint32_t(labels)}), labels - 1));
    CHECK(iotest::fs::file_size(labels_path) < (std::uint64_t(1) << 20));
    const int l = read_with_capped_memory([&] { (void)io::read_idx_labels(labels_path); },
                                          "only 300000007 decompressed bytes", headroom);
    CHECK_MESSAGE(l == 0, "read_idx_labels ended with " << outcome[l < 6 ? l : 2]);

    const std::uint32_t images = 400000;  // x 28 x 28 = 299 MiB of pixels, 1.2 GiB as floats
    const std::string images_path = dir.file("images.gz");
    write_file(images_path, zero_bomb(idx_header(0x00000803, {images, 28, 28}),
                                      std::uint64_t(images) * 784 - 1));
    const int i = read_with_capped_memory([&] { (void)io::read_idx_images(images_path); },
                                          "only 313600015 decompressed bytes", headroom);
    CHECK_MESSAGE(i == 0, "read_idx_images ended with " << outcome[i < 6 ? i : 2]);

    // The in-memory form (used by the fuzz target) likewise.
    const std::string gz = iotest::read_file(labels_path);
    const int b = read_with_capped_memory(
        [&] {
            (void)embedkit::detail::idx_inflate_buffer(
                bytes(gz), gz.size(), embedkit::detail::IdxKind::labels, "f", "m.gz");
        },
        "only 300000007 decompressed bytes", headroom);
    CHECK_MESSAGE(b == 0, "idx_inflate_buffer ended with " << outcome[b < 6 ? b : 2]);
}

#else

TEST_CASE("mnist: without zlib a gz file is an IoError saying how to enable it") {
    TempDir dir;
    const std::string path = dir.file("train-images-idx3-ubyte.gz");
    write_file(path, std::string("\x1f\x8b\x08\x00", 4) + std::string(40, '\0'));
    check_throws<IoError>([&] { (void)io::read_idx_images(path); },
                          {path, "zlib1g-dev", "reconfigure"});
}

#endif

TEST_CASE("mnist: the real MNIST files have the published shapes and labels") {
    const std::string dir = mnist_dir_or_skip();
    if (dir.empty()) return;
    struct Expect {
        io::MnistSplit split;
        Eigen::Index rows;
        std::array<std::size_t, 10> per_digit;
        std::array<int, 3> first_labels;
        long long first_image_sum;  // sum of the bytes of image 0
        long long all_sum;          // sum of every byte
        int centre;                 // byte at row 14, column 14 of image 0
    };
    const Expect expects[] = {
        {io::MnistSplit::train,
         60000,
         {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
         {5, 0, 4},
         27525,
         1567298545LL,
         240},
        {io::MnistSplit::test,
         10000,
         {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009},
         {7, 2, 1},
         18454,
         264923200LL,
         0},
    };
    for (const Expect& e : expects) {
        CAPTURE(e.rows);
        const io::MnistData data = io::load_mnist(dir, e.split);
        REQUIRE(data.images.rows() == e.rows);
        REQUIRE(data.images.cols() == 784);
        REQUIRE(data.labels.size() == static_cast<std::size_t>(e.rows));
        std::array<std::size_t, 10> counts{};
        for (std::uint8_t l : data.labels) {
            REQUIRE(l <= 9);
            ++counts[l];
        }
        CHECK(counts == e.per_digit);
        for (std::size_t i = 0; i < 3; ++i) CHECK(int(data.labels[i]) == e.first_labels[i]);
        CHECK(data.images.minCoeff() == 0.0f);
        CHECK(data.images.maxCoeff() == 1.0f);
        // Every value is exactly some byte / 255; summing the bytes back checks the payload.
        long long first = 0, all = 0;
        bool exact = true;
        for (Eigen::Index i = 0; i < data.images.rows(); ++i)
            for (Eigen::Index j = 0; j < 784; ++j) {
                const float v = data.images(i, j);
                const long b = std::lround(static_cast<double>(v) * 255.0);
                exact = exact && v == static_cast<float>(b) / 255.0f;
                all += b;
                if (i == 0) first += b;
            }
        CHECK(exact);
        CHECK(first == e.first_image_sum);
        CHECK(all == e.all_sum);
        CHECK(data.images(0, 14 * 28 + 14) == static_cast<float>(e.centre) / 255.0f);
    }
}

}  // namespace
