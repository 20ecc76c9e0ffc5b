// model_file.hpp and detail/crc32.hpp: round trips of every dtype and rank, canonical
// (byte-identical) output checked against an independent encoder written from docs/FORMAT.md,
// CRC-32 against known vectors and Python's zlib, every truncation and bit flip rejected,
// crafted headers (with the checksum fixed up) reaching each length and structure check, the
// Eigen read/write paths and their mismatch messages, atomic saves, and the Python snippets
// of docs/FORMAT.md run for real.
#include "io_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/io/detail/crc32.hpp>
#include <embedkit/io/model_file.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/wait.h>

namespace {

using embedkit::ArgumentError;
using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;
namespace io = embedkit::io;
namespace fs = std::filesystem;
using io::ChecksumCheck;
using io::DType;
using io::ModelFile;
using io::Tensor;

// ---- Independent references ------------------------------------------------------------------

// CRC-32 one bit at a time, straight from the definition (reflected 0xEDB88320, init and
// final XOR 0xFFFFFFFF): the reference for the table-driven code.
std::uint32_t crc32_bitwise(const unsigned char* p, std::size_t n) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int b = 0; b < 8; ++b) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}
std::uint32_t crc32_bitwise(const std::string& s) {
    return crc32_bitwise(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

void set_le(std::string& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
        b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
void append_le(std::string& b, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
std::uint64_t get_le(const std::string& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v |= std::uint64_t(static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]))
             << (8 * i);
    return v;
}
std::size_t up64(std::size_t x) { return (x + 63) / 64 * 64; }

// Recomputes the trailing CRC after a deliberate edit, so the edit reaches the structural
// checks instead of stopping at the checksum.
void fix_crc(std::string& b) {
    set_le(b, b.size() - 4,
           crc32_bitwise(reinterpret_cast<const unsigned char*>(b.data()), b.size() - 4), 4);
}

// An encoder written from docs/FORMAT.md alone (not from model_file.hpp), recording where each
// field lands so tests can patch it.
struct RawTensor {
    std::string name;
    std::uint8_t dtype = 1;
    std::vector<std::uint64_t> dims;
    std::string payload;
};
struct RawModel {
    std::string kind = "test.raw";
    std::vector<std::pair<std::string, std::string>> attrs;
    std::vector<RawTensor> tensors;
};
struct Built {
    std::string bytes;
    std::map<std::string, std::size_t> at;
};

Built build(const RawModel& r) {
    Built o;
    std::string& b = o.bytes;
    b.append("\x89\x45KM\r\n\x1a\n", 8);  // \x45 is 'E'; FORMAT.md's magic
    o.at["version"] = b.size(), append_le(b, 1, 4);
    o.at["flags"] = b.size(), append_le(b, 0, 4);
    o.at["file_size"] = b.size(), append_le(b, 0, 8);
    o.at["data_start"] = b.size(), append_le(b, 0, 8);
    o.at["kind_length"] = b.size(), append_le(b, r.kind.size(), 4);
    o.at["attribute_count"] = b.size(), append_le(b, r.attrs.size(), 4);
    o.at["tensor_count"] = b.size(), append_le(b, r.tensors.size(), 4);
    o.at["reserved"] = b.size(), append_le(b, 0, 4);
    b += r.kind;
    for (std::size_t i = 0; i < r.attrs.size(); ++i) {
        const std::string p = "attr" + std::to_string(i) + ".";
        o.at[p + "key_length"] = b.size(), append_le(b, r.attrs[i].first.size(), 4);
        b += r.attrs[i].first;
        o.at[p + "value_length"] = b.size(), append_le(b, r.attrs[i].second.size(), 4);
        b += r.attrs[i].second;
    }
    for (std::size_t i = 0; i < r.tensors.size(); ++i) {
        const RawTensor& t = r.tensors[i];
        const std::string p = "tensor" + std::to_string(i) + ".";
        o.at[p + "name_length"] = b.size(), append_le(b, t.name.size(), 4);
        b += t.name;
        o.at[p + "dtype"] = b.size(), append_le(b, t.dtype, 1);
        o.at[p + "rank"] = b.size(), append_le(b, t.dims.size(), 1);
        o.at[p + "reserved"] = b.size(), append_le(b, 0, 2);
        for (std::size_t d = 0; d < t.dims.size(); ++d)
            o.at[p + "dim" + std::to_string(d)] = b.size(), append_le(b, t.dims[d], 8);
        o.at[p + "offset"] = b.size(), append_le(b, 0, 8);
        o.at[p + "nbytes"] = b.size(), append_le(b, t.payload.size(), 8);
    }
    o.at["header_end"] = b.size();
    b.resize(up64(b.size()), '\0');
    set_le(b, o.at["data_start"], b.size(), 8);
    for (std::size_t i = 0; i < r.tensors.size(); ++i) {
        const std::string p = "tensor" + std::to_string(i) + ".";
        o.at[p + "data"] = b.size();
        set_le(b, o.at[p + "offset"], b.size(), 8);
        b += r.tensors[i].payload;
        b.resize(up64(b.size()), '\0');
    }
    set_le(b, o.at["file_size"], b.size() + 4, 8);
    append_le(b, 0, 4);
    fix_crc(b);
    return o;
}

std::string le_bytes_f32(std::initializer_list<float> v) {
    std::string s;
    for (float f : v) {
        std::uint32_t u = 0;
        std::memcpy(&u, &f, 4);
        append_le(s, u, 4);
    }
    return s;
}

// The model of docs/FORMAT.md's byte-by-byte example, as raw fields and through the library.
RawModel example_raw() {
    RawModel r;
    r.kind = "embedkit.example";
    r.attrs = {{"latent", "2"}};
    r.tensors.push_back({"w", 1, {2, 2}, le_bytes_f32({1.0f, 2.0f, -0.5f, 0.0f})});
    std::string seven;
    append_le(seven, 7, 8);
    r.tensors.push_back({"step", 6, {}, seven});
    return r;
}
ModelFile example_model() {
    ModelFile m("embedkit.example");
    m.set_attribute("latent", "2");
    const std::vector<float> w = {1.0f, 2.0f, -0.5f, 0.0f};
    m.add("w", w.data(), {2, 2});
    m.add_scalar("step", std::uint64_t(7));
    return m;
}

// A small model with attributes (one empty, one binary), a matrix, a vector, a scalar and an
// empty tensor: the subject of the truncation and bit-flip sweeps.
RawModel small_raw() {
    RawModel r;
    r.attrs = {{"layers", "784,256"}, {"note", ""}, {"bin", std::string("a\0b", 3)}};
    r.tensors.push_back({"w", 1, {2, 3}, le_bytes_f32({1, 2, 3, 4, 5, 6})});
    std::string b;
    for (int i = 0; i < 3; ++i) append_le(b, 0x3FF0000000000000ull + std::uint64_t(i), 8);
    r.tensors.push_back({"b", 2, {3}, b});
    std::string step;
    append_le(step, static_cast<std::uint64_t>(-5), 8);
    r.tensors.push_back({"step", 4, {}, step});
    r.tensors.push_back({"empty", 5, {0, 4}, ""});
    return r;
}

std::vector<unsigned char> as_vec(const std::string& s) {
    return std::vector<unsigned char>(s.begin(), s.end());
}
std::string as_str(const std::vector<unsigned char>& v) { return std::string(v.begin(), v.end()); }

// Parses from a heap buffer of exactly the file's size, so ASan sees any read past it.
ModelFile parse(const std::string& b, const std::string& name = "crafted.ekm",
                ChecksumCheck check = ChecksumCheck::verify) {
    const std::vector<unsigned char> v = as_vec(b);
    return io::parse_model_file(v.data(), v.size(), name, check);
}

void expect_format_error(const std::string& b, std::initializer_list<std::string> parts,
                         ChecksumCheck check = ChecksumCheck::verify) {
    std::vector<std::string> all = {"crafted.ekm"};
    all.insert(all.end(), parts.begin(), parts.end());
    bool thrown = false;
    try {
        parse(b, "crafted.ekm", check);
    } catch (const FormatError& e) {
        thrown = true;
        const std::string what = e.what();
        for (const std::string& p : all)
            CHECK_MESSAGE(what.find(p) != std::string::npos,
                          "message '" << what << "' lacks '" << p << "'");
    }
    CHECK_MESSAGE(thrown, "no FormatError; expected one mentioning " << *parts.begin());
}

// Deterministic values covering the type's range; for floats also -0, subnormals, infinities
// and a NaN with a payload (bits must survive).
template <class T>
std::vector<T> sample_values(std::size_t n, std::uint64_t seed) {
    std::vector<T> v(n);
    std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t i = 0; i < n; ++i) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        if constexpr (std::is_floating_point_v<T>) {
            v[i] =
                static_cast<T>(static_cast<double>(s >> 11) / 9007199254740992.0 * 200.0 - 100.0);
        } else {
            T t;
            std::memcpy(&t, &s, sizeof(T));
            v[i] = t;
        }
    }
    if constexpr (std::is_floating_point_v<T>) {
        using lim = std::numeric_limits<T>;
        const T special[] = {-T(0),      lim::denorm_min(), lim::infinity(), -lim::infinity(),
                             lim::max(), lim::lowest()};
        for (std::size_t i = 0; i < n && i < 6; ++i) v[i] = special[i];
        if (n > 6) {
            using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
            Bits nan_bits = sizeof(T) == 4 ? Bits(0x7FC01234u) : Bits(0x7FF8000000005678ull);
            std::memcpy(&v[6], &nan_bits, sizeof(T));
        }
    } else if (n > 1) {
        v[0] = std::numeric_limits<T>::max();
        v[1] = std::numeric_limits<T>::lowest();
    }
    return v;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// ---- Python -----------------------------------------------------------------------------------

// An interpreter with numpy: $EMBEDKIT_PYTHON, python3 on PATH, or /usr/bin/python3 (a pyenv
// shim on PATH may lack numpy while the system one has it). Empty if none.
std::string python_with_numpy() {
    static const std::string found = [] {
        std::vector<std::string> candidates;
        if (const char* e = std::getenv("EMBEDKIT_PYTHON")) candidates.emplace_back(e);
        candidates.emplace_back("python3");
        candidates.emplace_back("/usr/bin/python3");
        for (const std::string& p : candidates)
            if (std::system((p + " -c \"import numpy, zlib\" >/dev/null 2>&1").c_str()) == 0)
                return p;
        return std::string();
    }();
    return found;
}

// python_with_numpy(), or "" after saying why there is none: a MESSAGE locally, a failure when
// CI=true (scripts/setup tests installs python3-numpy, so CI must run these cross-checks; a
// skip there would hide a format change numpy no longer reads).
std::string python_or_skip() {
    const std::string py = python_with_numpy();
    if (!py.empty()) return py;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true")
        FAIL(
            "python3 with numpy required in CI (CI=true): none of $EMBEDKIT_PYTHON, python3, "
            "/usr/bin/python3 imports numpy (Debian: apt-get install python3-numpy)");
    MESSAGE("skipped: no python3 with numpy found (set EMBEDKIT_PYTHON to one)");
    return "";
}

// Runs a shell command; returns its exit status (-1 if it did not exit normally).
int run(const std::string& cmd) {
    const int r = std::system(cmd.c_str());
    if (r == -1 || !WIFEXITED(r)) return -1;
    return WEXITSTATUS(r);
}

// The fenced block that follows "<!-- tested: <marker> -->" in docs/FORMAT.md.
std::string doc_block(const std::string& marker) {
    const fs::path doc =
        fs::path(__FILE__).parent_path().parent_path().parent_path() / "docs" / "FORMAT.md";
    REQUIRE_MESSAGE(fs::exists(doc), "docs/FORMAT.md not found at " << doc.string());
    const std::string text = read_file(doc.string());
    const std::size_t m = text.find("<!-- tested: " + marker + " -->");
    REQUIRE_MESSAGE(m != std::string::npos, "marker '" << marker << "' not in FORMAT.md");
    const std::size_t fence = text.find("```", m);
    REQUIRE(fence != std::string::npos);
    const std::size_t start = text.find('\n', fence) + 1;
    const std::size_t end = text.find("\n```", start);
    REQUIRE(end != std::string::npos);
    return text.substr(start, end - start + 1);
}

std::string hex_string(const std::vector<unsigned char>& b) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (unsigned char c : b) {
        s.push_back(digits[c >> 4]);
        s.push_back(digits[c & 0xF]);
    }
    return s;
}

// ---- CRC-32 -----------------------------------------------------------------------------------

TEST_CASE("model_file: crc32 matches the published check values") {
    const auto crc = [](const std::string& s) {
        return embedkit::detail::crc32(s.data(), s.size());
    };
    CHECK(crc("123456789") == 0xCBF43926u);
    CHECK(crc("") == 0u);
    CHECK(crc("a") == 0xE8B7BE43u);
    CHECK(crc("abc") == 0x352441C2u);
    CHECK(crc("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
    CHECK(embedkit::detail::crc32(0u, nullptr, 0) == 0u);
}

TEST_CASE("model_file: crc32 equals the bitwise definition for every length and alignment") {
    const std::vector<std::uint8_t> data = sample_values<std::uint8_t>(4200, 3);
    int bad = 0;
    for (std::size_t shift = 0; shift < 8; ++shift)
        for (std::size_t n = 0; n <= 300; ++n)
            if (embedkit::detail::crc32(data.data() + shift, n) !=
                crc32_bitwise(data.data() + shift, n))
                ++bad;
    for (std::size_t n : {1023u, 1024u, 1025u, 4095u, 4096u, 4097u})
        if (embedkit::detail::crc32(data.data() + 1, n) != crc32_bitwise(data.data() + 1, n)) ++bad;
    CHECK(bad == 0);
    // Continuing a CRC across any split equals the CRC of the whole.
    const std::uint32_t whole = embedkit::detail::crc32(data.data(), 200);
    for (std::size_t split = 0; split <= 200; ++split) {
        const std::uint32_t first = embedkit::detail::crc32(0u, data.data(), split);
        if (embedkit::detail::crc32(first, data.data() + split, 200 - split) != whole) ++bad;
    }
    CHECK(bad == 0);
}

TEST_CASE("model_file: crc32 equals python zlib.crc32 on buffers and on a saved model") {
    const std::string py = python_or_skip();
    if (py.empty()) return;
    TempDir dir;
    const std::vector<std::size_t> lengths = {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099};
    const std::vector<std::uint8_t> data = sample_values<std::uint8_t>(5000, 11);
    std::string ours;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        write_file(
            dir.file("buf" + std::to_string(i)),
            std::string(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(lengths[i])));
        char line[16];
        std::snprintf(line, sizeof line, "%08x\n",
                      static_cast<unsigned>(embedkit::detail::crc32(data.data(), lengths[i])));
        ours += line;
    }
    const std::string model = dir.file("m.ekm");
    io::save_model_file(model, example_model());
    const std::string script =
        "import sys, zlib\n"
        "d = sys.argv[1]\n"
        "for i in range(" +
        std::to_string(lengths.size()) +
        "):\n"
        "    print('%08x' % zlib.crc32(open(d + '/buf%d' % i, 'rb').read()))\n"
        "m = open(d + '/m.ekm', 'rb').read()\n"
        "print('%08x %08x' % (zlib.crc32(m[:-4]), int.from_bytes(m[-4:], 'little')))\n";
    write_file(dir.file("crc.py"), script);
    REQUIRE(run(py + " " + dir.file("crc.py") + " " + dir.path().string() + " > " +
                dir.file("out.txt") + " 2>&1") == 0);
    const std::string out = read_file(dir.file("out.txt"));
    const std::string saved = read_file(model);
    char last[32];
    const std::uint32_t stored = static_cast<std::uint32_t>(get_le(saved, saved.size() - 4, 4));
    std::snprintf(last, sizeof last, "%08x %08x\n",
                  static_cast<unsigned>(embedkit::detail::crc32(saved.data(), saved.size() - 4)),
                  static_cast<unsigned>(stored));
    CHECK(out == ours + last);
}

// ---- Types and layout ---------------------------------------------------------------------------

TEST_CASE("model_file: dtype codes names and sizes") {
    CHECK(io::dtype_of<float>() == DType::f32);
    CHECK(io::dtype_of<double>() == DType::f64);
    CHECK(io::dtype_of<std::int32_t>() == DType::i32);
    CHECK(io::dtype_of<std::int64_t>() == DType::i64);
    CHECK(io::dtype_of<long long>() == DType::i64);
    CHECK(io::dtype_of<std::uint8_t>() == DType::u8);
    CHECK(io::dtype_of<std::uint64_t>() == DType::u64);
    CHECK(io::dtype_of<unsigned long long>() == DType::u64);
    CHECK_FALSE(io::is_model_dtype_v<std::uint32_t>);
    CHECK_FALSE(io::is_model_dtype_v<char>);
    CHECK_FALSE(io::is_model_dtype_v<bool>);
    CHECK_FALSE(io::is_model_dtype_v<std::int8_t>);
    const DType all[] = {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::u64};
    const char* names[] = {"f32", "f64", "i32", "i64", "u8", "u64"};
    const std::size_t sizes[] = {4, 8, 4, 8, 1, 8};
    for (int i = 0; i < 6; ++i) {
        CHECK(static_cast<int>(all[i]) == i + 1);
        CHECK(std::string(io::dtype_name(all[i])) == names[i]);
        CHECK(io::dtype_size(all[i]) == sizes[i]);
        CHECK(io::is_valid_dtype_code(static_cast<std::uint8_t>(i + 1)));
    }
    CHECK_FALSE(io::is_valid_dtype_code(0));
    CHECK_FALSE(io::is_valid_dtype_code(7));
    CHECK(std::string(io::dtype_name(static_cast<DType>(9))) == "invalid");
    CHECK(io::dtype_size(static_cast<DType>(0)) == 0);
}

TEST_CASE(
    "model_file: the independent encoder from FORMAT.md and the library write the same bytes") {
    CHECK(build(example_raw()).bytes == as_str(io::serialize_model_file(example_model())));
    // The small model, built through the public API.
    ModelFile m("test.raw");
    m.set_attribute("layers", "784,256");
    m.set_attribute("note", "");
    m.set_attribute("bin", std::string("a\0b", 3));
    embedkit::RowMatrixF w(2, 3);
    w << 1, 2, 3, 4, 5, 6;
    m.add("w", w);
    m.add("b", std::vector<double>{1.0, std::nextafter(1.0, 2.0),
                                   std::nextafter(std::nextafter(1.0, 2.0), 2.0)});
    m.add_scalar("step", std::int64_t(-5));
    m.add("empty", static_cast<const std::uint8_t*>(nullptr), {0, 4});
    CHECK(build(small_raw()).bytes == as_str(io::serialize_model_file(m)));
    // A model without tensors: the checksum follows the padded header.
    RawModel bare;
    bare.kind = "k";
    const std::string b = build(bare).bytes;
    CHECK(b.size() == 68);
    CHECK(b == as_str(io::serialize_model_file(ModelFile("k"))));
    CHECK(parse(b) == ModelFile("k"));
}

TEST_CASE("model_file: the byte listing in FORMAT.md is the file the library writes") {
    std::istringstream in(doc_block("example-bytes"));
    std::string listed, line;
    int lines = 0;
    while (std::getline(in, line)) {
        const std::string fields = line.substr(0, line.find('#'));
        std::istringstream tok(fields);
        std::string offset, t;
        if (!(tok >> offset)) continue;
        ++lines;
        CHECK_MESSAGE(std::stoul(offset, nullptr, 16) == listed.size(),
                      "listing offset " << offset);
        while (tok >> t) {
            const std::size_t star = t.find('*');
            const char byte = static_cast<char>(std::stoul(t.substr(0, star), nullptr, 16));
            listed.append(star == std::string::npos ? 1 : std::stoul(t.substr(star + 1)), byte);
        }
    }
    CHECK(lines > 30);
    CHECK(listed == as_str(io::serialize_model_file(example_model())));
    CHECK(parse(listed) == example_model());
}

TEST_CASE("model_file: byte order conversion reverses each element on big-endian hosts") {
    const unsigned char src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned char dst[8] = {};
    io::detail::copy_elements(dst, src, 2, 4, true);
    const unsigned char want4[8] = {4, 3, 2, 1, 8, 7, 6, 5};
    CHECK(std::memcmp(dst, want4, 8) == 0);
    io::detail::copy_elements(dst, src, 1, 8, true);
    const unsigned char want8[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    CHECK(std::memcmp(dst, want8, 8) == 0);
    io::detail::copy_elements(dst, src, 8, 1, true);
    CHECK(std::memcmp(dst, src, 8) == 0);
    io::detail::copy_elements(dst, src, 2, 4, false);
    CHECK(std::memcmp(dst, src, 8) == 0);
    // On this (little-endian) host the stored bytes are the in-memory bytes.
    if (io::detail::model_file_host_is_little_endian()) {
        const Tensor t = Tensor::from_scalar("x", 1.0f);
        const unsigned char one[4] = {0x00, 0x00, 0x80, 0x3F};
        CHECK(std::memcmp(t.bytes.data(), one, 4) == 0);
    }
}

// ---- Round trips
// ---------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("model_file: every dtype and rank 0 to 4 round trips bit for bit", T, float,
                   double, std::int32_t, std::int64_t, std::uint8_t, std::uint64_t) {
    const std::vector<std::vector<std::uint64_t>> shapes = {
        {},  {9},    {3, 4},    {2, 3, 2},    {2, 1, 3, 2},
        {0}, {3, 0}, {0, 2, 2}, {2, 0, 1, 3}, {1, 1, 1, 1}};
    ModelFile m("embedkit.test");
    m.set_attribute("dtype", io::dtype_name(io::dtype_of<T>()));
    std::vector<std::vector<T>> values;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        std::uint64_t n = 1;
        for (std::uint64_t d : shapes[i]) n *= d;
        values.push_back(sample_values<T>(static_cast<std::size_t>(n), i));
        m.add("t" + std::to_string(i), values.back().data(), shapes[i]);
    }
    m.add("vec", std::vector<T>(values[1]));
    m.add_scalar("one", values[0][0]);

    TempDir dir;
    const std::string path = dir.file("round.ekm");
    io::save_model_file(path, m);
    const ModelFile f = io::load_model_file(path, "embedkit.test");
    CHECK(f == m);
    CHECK(f.source == path);
    CHECK(f.attribute("dtype") == io::dtype_name(io::dtype_of<T>()));
    REQUIRE(f.tensors.size() == shapes.size() + 2);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
        const Tensor& t = f.tensor("t" + std::to_string(i));
        CHECK(t.dtype == io::dtype_of<T>());
        CHECK(t.shape == shapes[i]);
        CHECK(t.rank() == shapes[i].size());
        CHECK(t.element_count() == values[i].size());
        CHECK(same_bits(t.values<T>(), values[i]));
    }
    CHECK(same_bits(f.read_vector<T>("vec"), values[1]));
    const T one = f.scalar<T>("one");
    CHECK(std::memcmp(&one, &values[0][0], sizeof(T)) == 0);
    const embedkit::RowMatrix<T> mat = f.read_matrix<T>("t2");
    REQUIRE(mat.rows() == 3);
    REQUIRE(mat.cols() == 4);
    CHECK(std::memcmp(mat.data(), values[2].data(), 12 * sizeof(T)) == 0);
    CHECK(f.read_matrix<T>("t6").rows() == 3);
    CHECK(f.read_matrix<T>("t6").cols() == 0);
    // The in-memory parser gives the same contents.
    const std::vector<unsigned char> bytes = io::serialize_model_file(m);
    CHECK(io::parse_model_file(bytes.data(), bytes.size(), "mem") == m);
    CHECK(as_str(bytes) == read_file(path));
}

TEST_CASE("model_file: Eigen matrices are stored row-major whatever their storage order") {
    Eigen::MatrixXf cm(2, 3);  // column-major
    for (Eigen::Index i = 0; i < 2; ++i)
        for (Eigen::Index j = 0; j < 3; ++j) cm(i, j) = static_cast<float>(10 * i + j);
    const embedkit::RowMatrixF rm = cm;
    ModelFile m("embedkit.test");
    m.add("cm", cm);
    m.add("rm", rm);
    m.add("expr", cm * 2.0f);
    m.add("row", cm.row(1));  // a block that is a vector at compile time: rank 1
    m.add("rowmat", embedkit::RowMatrixF(rm.topRows(1)));  // a 1 x 3 matrix type: rank 2
    m.add("v", Eigen::VectorXd::LinSpaced(4, 0.0, 3.0));
    m.add("rv", Eigen::RowVectorXd::LinSpaced(4, 0.0, 3.0));
    m.add("ints", Eigen::Matrix<std::int32_t, 2, 2>::Identity());
    m.add("bytes", Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>::Constant(2, 5, 7));
    m.add("nothing", Eigen::MatrixXd(0, 3));

    CHECK(m.tensor("cm").shape == std::vector<std::uint64_t>{2, 3});
    CHECK(m.tensor("cm").values<float>() == std::vector<float>{0, 1, 2, 10, 11, 12});
    CHECK(m.tensor("rm").bytes == m.tensor("cm").bytes);
    CHECK(m.tensor("expr").values<float>() == std::vector<float>{0, 2, 4, 20, 22, 24});
    CHECK(m.tensor("row").shape == std::vector<std::uint64_t>{3});
    CHECK(m.tensor("row").values<float>() == std::vector<float>{10, 11, 12});
    CHECK(m.tensor("rowmat").shape == std::vector<std::uint64_t>{1, 3});
    CHECK(m.tensor("v").shape == std::vector<std::uint64_t>{4});
    CHECK(m.tensor("v").bytes == m.tensor("rv").bytes);
    CHECK(m.tensor("ints").values<std::int32_t>() == std::vector<std::int32_t>{1, 0, 0, 1});
    CHECK(m.tensor("bytes").dtype == DType::u8);
    CHECK(m.tensor("nothing").shape == std::vector<std::uint64_t>{0, 3});

    const std::vector<unsigned char> bytes = io::serialize_model_file(m);
    const ModelFile f = io::parse_model_file(bytes.data(), bytes.size(), "eigen.ekm");

    Eigen::MatrixXf cm2(2, 3);
    f.read_into("cm", cm2);
    CHECK(cm2 == cm);
    embedkit::RowMatrixF rm2(2, 3);
    f.read_into("cm", rm2);
    CHECK(rm2 == rm);
    std::vector<float> buffer(6, -1.0f);
    Eigen::Map<Eigen::MatrixXf> map(buffer.data(), 2, 3);
    f.read_into("rm", map);
    CHECK(map == cm);
    // Temporaries: an Eigen::Ref and a block of a larger matrix; the rest stays untouched.
    Eigen::MatrixXf big = Eigen::MatrixXf::Constant(4, 5, -7.0f);
    f.read_into("cm", Eigen::Ref<Eigen::MatrixXf>(big.block(1, 1, 2, 3)));
    CHECK(big.block(1, 1, 2, 3) == cm);
    f.read_into("rm", big.topLeftCorner(2, 3));
    CHECK(big.topLeftCorner(2, 3) == cm);
    CHECK(big(3, 4) == -7.0f);
    CHECK(big(2, 4) == -7.0f);
    Eigen::VectorXd v(4);
    f.read_into("rv", v);
    CHECK(v == Eigen::VectorXd::LinSpaced(4, 0.0, 3.0));
    Eigen::RowVectorXd rv(4);
    f.read_into("v", rv);
    CHECK(rv == Eigen::RowVectorXd::LinSpaced(4, 0.0, 3.0));
    Eigen::VectorXf col(3);
    f.read_into("row", col);
    CHECK(col == cm.row(1).transpose());
    f.read_into("row", big.row(3).head(3));
    CHECK(big.row(3).head(3) == cm.row(1));
    Eigen::Matrix<std::int32_t, 2, 2> ints;
    f.read_into("ints", ints);
    CHECK(ints == Eigen::Matrix<std::int32_t, 2, 2>::Identity());
    Eigen::MatrixXd nothing(0, 3);
    f.read_into("nothing", nothing);
    CHECK(f.read_matrix<float>("cm") == rm);
}

// ---- Canonical output and atomic saves -------------------------------------------------------

TEST_CASE("model_file: identical contents give byte-identical files") {
    TempDir dir;
    const ModelFile a = [] {
        ModelFile m = example_model();
        m.add("big", sample_values<double>(1000, 5));
        return m;
    }();
    const ModelFile b = [] {
        ModelFile m = example_model();
        m.add("big", sample_values<double>(1000, 5));
        return m;
    }();
    io::save_model_file(dir.file("a.ekm"), a);
    io::save_model_file(dir.file("b.ekm"), b);
    const std::string bytes = read_file(dir.file("a.ekm"));
    CHECK(bytes == read_file(dir.file("b.ekm")));
    CHECK(bytes == as_str(io::serialize_model_file(a)));
    // Loading and saving again changes nothing.
    io::save_model_file(dir.file("c.ekm"), io::load_model_file(dir.file("a.ekm")));
    CHECK(read_file(dir.file("c.ekm")) == bytes);
    // Attribute and tensor order are kept (and so are part of the bytes).
    ModelFile swapped("embedkit.example");
    swapped.set_attribute("latent", "2");
    swapped.add_scalar("step", std::uint64_t(7));
    const std::vector<float> w = {1.0f, 2.0f, -0.5f, 0.0f};
    swapped.add("w", w.data(), {2, 2});
    CHECK(io::serialize_model_file(swapped) != io::serialize_model_file(example_model()));
    CHECK(io::load_model_file(dir.file("a.ekm")).tensors[1].name == "step");
}

TEST_CASE("model_file: save replaces an existing file atomically and leaves no temporary file") {
    TempDir dir;
    const std::string path = dir.file("model.ekm");
    write_file(path, "an older file that is not even a model");
    io::save_model_file(path, example_model());
    CHECK(io::load_model_file(path) == example_model());
    CHECK(dir.entries() == std::vector<std::string>{"model.ekm"});
    ModelFile second = example_model();
    second.set_attribute("epoch", "2");
    io::save_model_file(path, second);
    CHECK(io::load_model_file(path) == second);
    CHECK(dir.entries() == std::vector<std::string>{"model.ekm"});

    // A model that cannot be written is rejected before the disk is touched.
    ModelFile dup = example_model();
    dup.tensors.push_back(dup.tensors[0]);
    check_throws<ArgumentError>([&] { io::save_model_file(path, dup); },
                                {"save_model_file", path, "'w'", "twice"});
    ModelFile nokind = example_model();
    nokind.kind.clear();
    check_throws<ArgumentError>([&] { io::save_model_file(path, nokind); }, {path, "kind"});
    CHECK(io::load_model_file(path) == second);
    CHECK(dir.entries() == std::vector<std::string>{"model.ekm"});

    check_throws<IoError>([&] { io::save_model_file(dir.file("no/such/folder/m.ekm"), second); },
                          {"no/such/folder/m.ekm"});
}

// ---- Loading errors
// ------------------------------------------------------------------------------

TEST_CASE("model_file: missing files and folders are IoError and another kind is FormatError") {
    TempDir dir;
    check_throws<IoError>([&] { io::load_model_file(dir.file("does_not_exist.ekm")); },
                          {"load_model_file", "does_not_exist.ekm", "No such file"});
    check_throws<IoError>([&] { io::load_model_file(dir.path().string()); },
                          {"not a regular file"});
    const std::string path = dir.file("ae.ekm");
    io::save_model_file(path, ModelFile("embedkit.autoencoder"));
    check_throws<FormatError>([&] { io::load_model_file(path, "embedkit.vae"); },
                              {path, "'embedkit.autoencoder'", "expected 'embedkit.vae'"});
    CHECK(io::load_model_file(path, "embedkit.autoencoder").kind == "embedkit.autoencoder");
    // A large file of another kind is rejected from its first bytes.
    write_file(dir.file("big.bin"), std::string(1 << 20, 'x'));
    check_throws<FormatError>([&] { io::load_model_file(dir.file("big.bin")); },
                              {"big.bin", "wrong magic"});
}

TEST_CASE("model_file: every truncation of a small file throws FormatError naming the file") {
    const std::string full = build(small_raw()).bytes;
    REQUIRE(parse(full).tensors.size() == 4);
    int missed = 0;
    std::string first_miss;
    for (std::size_t k = 0; k < full.size(); ++k) {
        try {
            parse(full.substr(0, k), "trunc.ekm");
            ++missed;
            first_miss = "no error at length " + std::to_string(k);
        } catch (const FormatError& e) {
            if (std::string(e.what()).find("'trunc.ekm'") == std::string::npos) {
                ++missed;
                first_miss = e.what();
            }
        }
    }
    CHECK_MESSAGE(missed == 0, first_miss);
    // Through files too, at a few lengths, including the empty file.
    TempDir dir;
    for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(8), std::size_t(47),
                          std::size_t(48), full.size() / 2, full.size() - 1}) {
        const std::string path = dir.file("t" + std::to_string(k) + ".ekm");
        write_file(path, full.substr(0, k));
        check_throws<FormatError>([&] { io::load_model_file(path); }, {path});
    }
    check_throws<FormatError>([&] { parse(full.substr(0, 100)); },
                              {"truncated", "100 bytes", std::to_string(full.size())});
    check_throws<FormatError>([&] { parse(full.substr(0, 20)); },
                              {"truncated", "20 bytes", "48-byte header"});
}

TEST_CASE("model_file: every single-bit flip of a small file throws FormatError") {
    const std::string full = build(small_raw()).bytes;
    int missed = 0, checksum = 0, structural = 0;
    std::string first_miss;
    for (std::size_t i = 0; i < full.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            std::string b = full;
            b[i] = static_cast<char>(b[i] ^ (1 << bit));
            try {
                parse(b, "flip.ekm");
                ++missed;
                first_miss =
                    "no error for byte " + std::to_string(i) + " bit " + std::to_string(bit);
            } catch (const FormatError& e) {
                const std::string what = e.what();
                if (what.find("'flip.ekm'") == std::string::npos) {
                    ++missed;
                    first_miss = what;
                }
                (what.find("checksum mismatch") != std::string::npos ? checksum : structural)++;
            }
        }
    CHECK_MESSAGE(missed == 0, first_miss);
    CHECK(checksum + structural == static_cast<int>(full.size() * 8));
    CHECK(checksum > structural);  // most flips are only visible to the checksum
    MESSAGE((full.size() * 8) << " flips: " << checksum << " caught by the checksum, " << structural
                              << " by structural checks before it");
}

TEST_CASE("model_file: a checksum mismatch names the stored and the computed CRC") {
    const Built built = build(small_raw());
    std::string b = built.bytes;
    b[built.at.at("tensor0.data") + 1] ^= 0x10;
    const std::uint32_t stored = static_cast<std::uint32_t>(get_le(b, b.size() - 4, 4));
    const std::uint32_t computed = crc32_bitwise(b.substr(0, b.size() - 4));
    char want[64];
    std::snprintf(want, sizeof want, "expected CRC-32 0x%08X", static_cast<unsigned>(stored));
    char got[64];
    std::snprintf(got, sizeof got, "got 0x%08X", static_cast<unsigned>(computed));
    expect_format_error(b, {"checksum mismatch", want, got});
    // Skipping the checksum (fuzzers, recovery) reads the altered value; the structure is still
    // checked.
    const ModelFile f = parse(b, "crafted.ekm", ChecksumCheck::skip);
    CHECK(f.read_vector<double>("b").size() == 3);
    CHECK(f.tensor("w").values<float>()[0] != 1.0f);
    std::string c = built.bytes;
    set_le(c, built.at.at("tensor1.dim0"), std::uint64_t(1) << 61, 8);
    expect_format_error(c, {"tensor 1", "'b'", "overflows"}, ChecksumCheck::skip);
}

// ---- Crafted headers: each check reached with a valid checksum ------------------------------

// The small file with one field patched and the CRC recomputed.
std::string patched(const std::string& field, std::uint64_t value, int width) {
    const Built built = build(small_raw());
    std::string b = built.bytes;
    set_le(b, built.at.at(field), value, width);
    fix_crc(b);
    return b;
}

TEST_CASE("model_file: wrong magic and text-mode damage are named") {
    std::string b = build(small_raw()).bytes;
    std::string garbage = b;
    garbage.replace(0, 8, "GARBAGE!");
    expect_format_error(garbage, {"not an embedkit model file", "wrong magic"});
    std::string crlf = b;
    crlf.erase(4, 1);  // "\r\n" -> "\n", as a text-mode transfer does
    expect_format_error(crlf, {"wrong magic", "text-mode"});
    std::string seven_bit = b;
    seven_bit[0] = static_cast<char>(0x09);
    expect_format_error(seven_bit, {"wrong magic", "text-mode"});
    expect_format_error(std::string("\x89\x45KX", 4), {"wrong magic"});
    expect_format_error(std::string(), {"truncated", "0 bytes"});
}

TEST_CASE("model_file: versions other than 1 and reserved fields are rejected") {
    expect_format_error(patched("version", 2, 4), {"format version 2", "reads (version 1)"});
    expect_format_error(patched("version", 0xFFFFFFFFu, 4),
                        {"format version 4294967295", "version 1"});
    expect_format_error(patched("version", 0, 4), {"invalid format version 0"});
    // A newer version is reported even when the rest is unreadable to this build.
    std::string newer = build(small_raw()).bytes;
    set_le(newer, 8, 2, 4);
    newer.resize(60);
    expect_format_error(newer, {"format version 2"});
    expect_format_error(patched("flags", 1, 4), {"flags field", "0x00000001"});
    expect_format_error(patched("reserved", 0x100, 4), {"reserved field (offset 44)"});
    expect_format_error(patched("tensor2.reserved", 3, 2),
                        {"tensor 2", "'step'", "reserved field is 3"});
}

TEST_CASE("model_file: file size mismatches and trailing garbage are rejected") {
    const std::string b = build(small_raw()).bytes;
    expect_format_error(b + "xyz", {"trailing garbage: 3 bytes"});
    expect_format_error(patched("file_size", b.size() + 64, 8),
                        {"truncated", std::to_string(b.size() + 64)});
    expect_format_error(patched("file_size", b.size() - 1, 8), {"trailing garbage: 1 bytes"});
    // Extra bytes before the checksum, with size and checksum fixed up.
    for (std::size_t extra : {std::size_t(1), std::size_t(64)}) {
        std::string c = b;
        c.insert(c.size() - 4, std::string(extra, '\0'));
        set_le(c, 16, c.size(), 8);
        fix_crc(c);
        if (extra == 64)
            expect_format_error(c, {"64 unexpected bytes between the last tensor's data"});
        else
            expect_format_error(c, {"not 4 more than a multiple of 64"});
    }
}

TEST_CASE(
    "model_file: huge or impossible lengths and counts are FormatError before any allocation") {
    expect_format_error(patched("kind_length", 0, 4), {"kind length is 0"});
    expect_format_error(patched("kind_length", 257, 4), {"kind length is 257", "1 to 256"});
    expect_format_error(patched("kind_length", 0xFFFFFFFFu, 4), {"kind length is 4294967295"});
    expect_format_error(patched("kind_length", 250, 4),
                        {"the kind", "runs past the end of the header"});
    expect_format_error(patched("attribute_count", 0xFFFFFFFFu, 4),
                        {"attribute count 4294967295 cannot fit"});
    expect_format_error(patched("tensor_count", 0xFFFFFFFFu, 4),
                        {"tensor count 4294967295 cannot fit"});
    expect_format_error(patched("tensor_count", 5, 4), {"tensor 4"});
    expect_format_error(patched("attr0.key_length", 0xFFFFFFFFu, 4),
                        {"attribute 0 key length is 4294967295", "1 to 1024"});
    expect_format_error(patched("attr0.key_length", 0, 4), {"attribute 0 key length is 0"});
    expect_format_error(patched("attr1.key_length", 1000, 4),
                        {"attribute 1 key", "runs past the end of the header"});
    expect_format_error(patched("attr0.value_length", 0xFFFFFFFFu, 4),
                        {"attribute 0 value", "4294967295 bytes"});
    expect_format_error(patched("tensor0.name_length", 0xFFFFFFFFu, 4),
                        {"tensor 0 name length is 4294967295"});
    expect_format_error(patched("tensor3.name_length", 900, 4),
                        {"tensor 3 name", "runs past the end of the header"});
    expect_format_error(patched("tensor0.dtype", 0, 1),
                        {"tensor 0", "'w'", "unknown dtype code 0"});
    expect_format_error(patched("tensor0.dtype", 7, 1), {"unknown dtype code 7"});
    expect_format_error(patched("tensor0.dtype", 2, 1),
                        {"'w'", "records 24 bytes", "[2, 3] of f64 needs 48"});
    expect_format_error(patched("tensor0.rank", 9, 1), {"tensor 0", "rank 9", "limit is 8"});
    expect_format_error(patched("tensor3.rank", 200, 1), {"rank 200"});
    // Huge dimensions: 2^62 x 3 floats overflow 64 bits; 2^58 doubles need far more than the file.
    expect_format_error(patched("tensor0.dim0", std::uint64_t(1) << 60, 8),
                        {"tensor 0", "[1152921504606846976, 3]", "needs 13835058055282163712"});
    expect_format_error(patched("tensor0.dim0", std::uint64_t(1) << 62, 8),
                        {"tensor 0", "[4611686018427387904, 3]", "overflows 64 bits"});
    expect_format_error(patched("tensor1.dim0", std::uint64_t(1) << 58, 8),
                        {"'b'", "records 24 bytes", "needs 2305843009213693952"});
    {
        const Built built = build(small_raw());
        std::string b = built.bytes;
        set_le(b, built.at.at("tensor1.dim0"), std::uint64_t(1) << 58, 8);
        set_le(b, built.at.at("tensor1.nbytes"), std::uint64_t(1) << 61, 8);
        fix_crc(b);
        expect_format_error(
            b, {"'b'", "2305843009213693952 bytes at offset", "runs past the end of the data"});
    }
    // A zero dimension beside an overflowing product is still rejected.
    {
        const Built built = build(small_raw());
        std::string b = built.bytes;
        set_le(b, built.at.at("tensor0.dim0"), 0, 8);
        set_le(b, built.at.at("tensor0.dim1"), std::uint64_t(1) << 63, 8);
        fix_crc(b);
        expect_format_error(b, {"'w'", "[0, 9223372036854775808]", "overflows 64 bits"});
    }
}

TEST_CASE("model_file: offsets data start and padding must follow the canonical layout") {
    const Built built = build(small_raw());
    const std::size_t off0 = built.at.at("tensor0.data");
    expect_format_error(patched("tensor0.offset", off0 + 64, 8),
                        {"tensor 0", "data offset is " + std::to_string(off0 + 64),
                         "expected " + std::to_string(off0)});
    expect_format_error(patched("tensor1.offset", off0 + 4, 8),
                        {"tensor 1", "expected " + std::to_string(off0 + 64)});
    expect_format_error(patched("data_start", off0 + 64, 8),
                        {"data should start at " + std::to_string(off0)});
    expect_format_error(patched("data_start", 65, 8), {"data start 65 is not a multiple of 64"});
    expect_format_error(patched("data_start", std::uint64_t(1) << 60, 8),
                        {"data start 1152921504606846976"});
    expect_format_error(patched("data_start", 0, 8), {"data start 0"});
    {
        std::string b = built.bytes;
        b[built.at.at("header_end") + 2] = 1;
        fix_crc(b);
        expect_format_error(b, {"non-zero padding between the header"});
    }
    {
        std::string b = built.bytes;
        b[off0 + 24 + 3] = 1;  // after the 24 bytes of tensor 0
        fix_crc(b);
        expect_format_error(b, {"non-zero padding after the data of tensor 0", "'w'"});
    }
    // An attribute count one too high reads the tensor table as an attribute.
    expect_format_error(patched("attribute_count", 4, 4), {"attribute 3"});
}

TEST_CASE("model_file: duplicate names in a file are FormatError") {
    RawModel r = small_raw();
    r.tensors[1].name = "w";
    expect_format_error(build(r).bytes, {"tensor name 'w' appears twice"});
    r = small_raw();
    r.attrs[2].first = "layers";
    expect_format_error(build(r).bytes, {"attribute key 'layers' appears twice"});
    // Names with control bytes are shown escaped.
    r = small_raw();
    r.tensors[0].name = std::string("x\n\0", 3);
    r.tensors[1].name = std::string("x\n\0", 3);
    expect_format_error(build(r).bytes, {"'x\\x0A\\x00' appears twice"});
}

// ---- Accessors and their messages -------------------------------------------------------------

TEST_CASE(
    "model_file: read_into and the typed readers name the tensor and both shapes on a mismatch") {
    TempDir dir;
    const std::string path = dir.file("arch.ekm");
    ModelFile m("embedkit.test");
    m.set_attribute("layers", "784,256");
    m.add("w", embedkit::RowMatrixF::Constant(3, 4, 1.5f));
    m.add_scalar("epoch", std::int64_t(4));
    io::save_model_file(path, m);
    const ModelFile f = io::load_model_file(path);

    embedkit::RowMatrixF wrong(4, 3);
    check_throws<FormatError>(
        [&] { f.read_into("w", wrong); },
        {"read_into", path, "embedkit.test", "tensor 'w'", "is f32 [3, 4]", "expected f32 [4, 3]"});
    embedkit::RowMatrixD dbl(3, 4);
    check_throws<FormatError>([&] { f.read_into("w", dbl); },
                              {"'w'", "is f32 [3, 4]", "expected f64 [3, 4]"});
    Eigen::VectorXf flat(12);
    check_throws<FormatError>([&] { f.read_into("w", flat); }, {"'w'", "expected f32 [12]"});
    check_throws<FormatError>([&] { f.read_into("nope", wrong); }, {path, "no tensor 'nope'"});
    check_throws<FormatError>([&] { f.read_vector<float>("w"); },
                              {"read_vector", "'w'", "expected f32 rank 1"});
    check_throws<FormatError>([&] { f.read_matrix<float>("epoch"); },
                              {"read_matrix", "'epoch'", "i64 []", "rank 2"});
    check_throws<FormatError>([&] { f.scalar<float>("w"); }, {"scalar", "'w'", "expected f32 []"});
    check_throws<FormatError>([&] { f.scalar<std::int32_t>("epoch"); },
                              {"'epoch'", "is i64 []", "expected i32 []"});
    check_throws<FormatError>([&] { f.read_vector<float>("nope"); }, {"no tensor 'nope'"});
    check_throws<FormatError>([&] { f.tensor("nope"); },
                              {"ModelFile::tensor", path, "no tensor 'nope'"});
    check_throws<FormatError>(
        [&] { f.attribute("latent"); },
        {"ModelFile::attribute", path, "kind 'embedkit.test'", "no attribute 'latent'"});
    check_throws<FormatError>([&] { m.attribute("latent"); },
                              {"model of kind 'embedkit.test'", "'latent'"});
    check_throws<FormatError>([&] { f.tensor("w").values<double>(); },
                              {"'w'", "holds f32, not f64"});
    CHECK(f.scalar<std::int64_t>("epoch") == 4);
    CHECK(f.attribute("layers") == "784,256");
    CHECK(f.has_attribute("layers"));
    CHECK_FALSE(f.has_attribute("latent"));
    CHECK(f.has_tensor("w"));
    CHECK(f.find_tensor("nope") == nullptr);
    embedkit::RowMatrixF right(3, 4);
    f.read_into("w", right);
    CHECK(right == embedkit::RowMatrixF::Constant(3, 4, 1.5f));
}

TEST_CASE("model_file: adding duplicates or malformed tensors is ArgumentError") {
    ModelFile m("embedkit.test");
    m.add("w", std::vector<float>{1, 2});
    m.set_attribute("layers", "1,2");
    check_throws<ArgumentError>([&] { m.add("w", std::vector<double>{1}); },
                                {"ModelFile::add", "already has a tensor named 'w'"});
    check_throws<ArgumentError>([&] { m.add_scalar("w", 1.0f); }, {"'w'"});
    check_throws<ArgumentError>([&] { m.set_attribute("layers", "3"); },
                                {"set_attribute", "already has an attribute 'layers'"});
    check_throws<ArgumentError>([&] { m.set_attribute("", "3"); },
                                {"set_attribute", "1 to 1024", "got 0"});
    check_throws<ArgumentError>([&] { m.add("", std::vector<float>{1}); },
                                {"tensor names have 1 to 1024 bytes", "got 0"});
    check_throws<ArgumentError>([&] { m.add(std::string(1025, 'n'), std::vector<float>{1}); },
                                {"got 1025"});
    const float x = 0;
    check_throws<ArgumentError>([&] { m.add("deep", &x, std::vector<std::uint64_t>(9, 1)); },
                                {"'deep'", "rank 9", "limit is 8"});
    check_throws<ArgumentError>(
        [&] {
            m.add("huge", &x, {std::uint64_t(1) << 62, 4});
        },
        {"'huge'", "overflows"});
    Tensor bad = Tensor::from_vector("bad", std::vector<float>{1, 2, 3});
    bad.bytes.pop_back();
    check_throws<ArgumentError>([&] { m.add(bad); },
                                {"'bad'", "has 11 bytes", "[3] of f32 needs 12"});
    Tensor code = Tensor::from_vector("code", std::vector<float>{1});
    code.dtype = static_cast<DType>(9);
    check_throws<ArgumentError>([&] { m.add(code); }, {"'code'", "invalid dtype code 9"});
    CHECK(m.tensors.size() == 1);
    CHECK(m.attributes.size() == 1);
    ModelFile long_kind(std::string(257, 'k'));
    check_throws<ArgumentError>([&] { io::serialize_model_file(long_kind); },
                                {"serialize_model_file", "1 to 256", "got 257"});
    ModelFile dup_attr("k");
    dup_attr.attributes = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
    check_throws<ArgumentError>([&] { io::serialize_model_file(dup_attr); },
                                {"attribute 'a' appears twice"});
}

// ---- docs/FORMAT.md's Python snippets, run for real ------------------------------------------

TEST_CASE(
    "model_file: the python checksum snippet in FORMAT.md accepts a good file and rejects a "
    "damaged one") {
    const std::string py = python_or_skip();
    if (py.empty()) return;
    TempDir dir;
    write_file(dir.file("verify.py"), doc_block("verify"));
    const std::string good = dir.file("good.ekm");
    io::save_model_file(good, example_model());
    CHECK(run(py + " " + dir.file("verify.py") + " " + good + " > " + dir.file("out.txt") +
              " 2>&1") == 0);
    CHECK(read_file(dir.file("out.txt")).find("0x23f0e675, computed 0x23f0e675") !=
          std::string::npos);
    std::string bytes = read_file(good);
    bytes[200] ^= 1;
    write_file(dir.file("bad.ekm"), bytes);
    CHECK(run(py + " " + dir.file("verify.py") + " " + dir.file("bad.ekm") + " > " +
              dir.file("out.txt") + " 2>&1") == 1);
}

TEST_CASE("model_file: the numpy reader in FORMAT.md reads every dtype and rank") {
    const std::string py = python_or_skip();
    if (py.empty()) return;
    ModelFile m("embedkit.vae.checkpoint");
    m.set_attribute("layers", "784,256,128");
    m.set_attribute("latent", "2");
    m.set_attribute("empty", "");
    embedkit::RowMatrixF w(2, 3);
    w << 1, 2, 3, 4, 5, 6.5f;
    m.add("w", w);
    m.add("f64", sample_values<double>(7, 1).data(), {7});
    m.add("i32", sample_values<std::int32_t>(24, 2).data(), {2, 3, 4});
    m.add("i64", sample_values<std::int64_t>(6, 3).data(), {1, 2, 3, 1});
    m.add("u8", sample_values<std::uint8_t>(5, 4).data(), {5});
    m.add_scalar("u64", std::uint64_t(0xFEDCBA9876543210ull));
    m.add("none", static_cast<const float*>(nullptr), {3, 0});
    TempDir dir;
    const std::string path = dir.file("ckpt.ekm");
    io::save_model_file(path, m);

    std::string checks = doc_block("numpy-reader");
    checks +=
        "\nimport sys\n"
        "kind, attrs, t = read_model(sys.argv[1])\n"
        "assert kind == 'embedkit.vae.checkpoint', kind\n"
        "assert attrs == {'layers': '784,256,128', 'latent': '2', 'empty': ''}, attrs\n"
        "assert list(t) == ['w', 'f64', 'i32', 'i64', 'u8', 'u64', 'none'], list(t)\n"
        "assert np.array_equal(t['w'], np.array([[1, 2, 3], [4, 5, 6.5]], dtype=np.float32))\n"
        "assert t['u64'][()] == 0xFEDCBA9876543210\n";
    const char* np_dtypes[] = {"<f4", "<f8", "<i4", "<i8", "|u1", "<u8"};
    for (const Tensor& t : m.tensors) {
        std::string shape = "(";
        for (std::uint64_t d : t.shape) shape += std::to_string(d) + ",";
        shape += ")";
        const std::string ref = "t['" + t.name + "']";
        checks += "assert " + ref + ".dtype.str == '" + np_dtypes[static_cast<int>(t.dtype) - 1] +
                  "', " + ref + ".dtype\n";
        checks += "assert " + ref + ".shape == " + shape + ", " + ref + ".shape\n";
        checks += "assert " + ref + ".tobytes().hex() == '" + hex_string(t.bytes) + "'\n";
    }
    checks += "print('numpy reader OK')\n";
    write_file(dir.file("reader.py"), checks);
    const int status =
        run(py + " " + dir.file("reader.py") + " " + path + " > " + dir.file("out.txt") + " 2>&1");
    const std::string out = read_file(dir.file("out.txt"));
    CHECK_MESSAGE(status == 0, out);
    CHECK(out.find("numpy reader OK") != std::string::npos);
    // The snippet's own checks fire on a damaged file.
    std::string bytes = read_file(path);
    bytes[bytes.size() - 1] ^= 1;
    write_file(path, bytes);
    CHECK(run(py + " " + dir.file("reader.py") + " " + path + " > " + dir.file("out.txt") +
              " 2>&1") != 0);
    CHECK(read_file(dir.file("out.txt")).find("truncated or corrupt") != std::string::npos);
}

}  // namespace
