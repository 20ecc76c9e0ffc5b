// npy.hpp: the exact bytes numpy reads, round trips of every supported dtype and layout,
// every truncation and malformation of a file rejected with FormatError naming the file, and
// the read-only memory map (MappedNpy) as a zero-copy embedding set.
#include "io_test_util.hpp"

#include <embedkit/core/detail/half.hpp>
#include <embedkit/core/error.hpp>
#include <embedkit/core/types.hpp>
#include <embedkit/distance/topk.hpp>
#include <embedkit/io/npy.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/resource.h>

namespace {

using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;
using Index = Eigen::Index;
namespace io = embedkit::io;

template <class T>
using RM = embedkit::RowMatrix<T>;

// A .npy file as bytes: magic, version, header length (2 bytes for version 1, 4 otherwise),
// the dict text padded with spaces and a newline so the data starts at a multiple of `align`
// (numpy uses 64), then the data.
std::string make_npy(const std::string& dict, const std::string& data, unsigned major = 1,
                     std::size_t align = 64, std::size_t extra_spaces = 0) {
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict + std::string(extra_spaces, ' ');
    const std::size_t total = prefix + header.size() + 1;
    header.append((total + align - 1) / align * align - total, ' ');
    header.push_back('\n');
    std::string out = "\x93NUMPY";
    out.push_back(static_cast<char>(major));
    out.push_back('\0');
    for (std::size_t i = 0; i < prefix - 8; ++i)
        out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
    return out + header + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    if (!v.empty()) std::memcpy(&s[0], v.data(), s.size());
    return s;
}

// Equality of the stored bits (NaN payloads and -0 included).
template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
    return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;
}

// Values covering the type's range (edges, signs, and for floats -0, subnormals, inf, NaN).
template <class T>
RM<T> sample_matrix(Index rows, Index cols) {
    using lim = std::numeric_limits<T>;
    RM<T> m(rows, cols);
    std::vector<T> special = {T(0), T(1), lim::max(), lim::lowest(), lim::min()};
    if constexpr (std::is_floating_point_v<T>) {
        special.insert(special.end(), {-T(0), lim::denorm_min(), lim::infinity(), -lim::infinity(),
                                       lim::quiet_NaN(), T(-1.5), T(3.25e-3)});
    } else {
        special.insert(special.end(), {T(lim::max() - 1), T(lim::lowest() + 1), T(42)});
    }
    for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < cols; ++j) {
            const std::size_t at = std::size_t(i * cols + j);
            m(i, j) = at < special.size() ? special[at] : static_cast<T>((at * 37 + 11) % 101);
        }
    return m;
}

TEST_CASE("npy: the header bytes are exactly what numpy writes and reads") {
    TempDir dir;
    const std::string path = dir.file("a.npy");
    RM<float> m(2, 3);
    m << 1, 2, 3, 4, 5, 6;
    io::write_npy(path, m);
    const std::string bytes = read_file(path);
    // Magic, version 1.0, header length 118 (little-endian): the data starts at 128.
    const std::string preamble("\x93NUMPY\x01\x00\x76\x00", 10);
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    std::string header = dict + std::string(128 - 10 - dict.size() - 1, ' ') + "\n";
    REQUIRE(bytes.size() == 128 + 6 * 4);
    CHECK(bytes.substr(0, 10) == preamble);
    CHECK(bytes.substr(10, 118) == header);
    // float32 little-endian: 1.0f = 00 00 80 3f, 2.0f = 00 00 00 40, ..., in C order.
    const unsigned char data[24] = {0, 0, 0x80, 0x3f, 0, 0, 0,    0x40, 0, 0, 0x40, 0x40,
                                    0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40, 0, 0, 0xc0, 0x40};
    CHECK(std::memcmp(bytes.data() + 128, data, 24) == 0);

    // Other dtypes and shapes: the same layout, the dict names them as numpy does.
    struct Case {
        std::string name;
        std::string dict;
        std::size_t data_bytes;
    };
    const std::vector<std::int64_t> v5 = {1, -2, 3, -4, 5};
    io::write_npy(dir.file("i8.npy"), v5);
    const std::vector<std::uint8_t> u3 = {0, 128, 255};
    io::write_npy(dir.file("u1.npy"), u3);
    io::write_npy(dir.file("f8.npy"), RM<double>(0, 4));
    io::write_npy(dir.file("i4.npy"),
                  Eigen::Matrix<std::int32_t, 1, Eigen::Dynamic>::Constant(7, 9));
    const std::vector<float> empty;
    io::write_npy(dir.file("empty.npy"), empty);
    const std::vector<float> cube(24, 1.0f);
    io::write_npy<float>(dir.file("cube.npy"), cube.data(), {2, 3, 4});
    for (const Case& c : std::vector<Case>{
             {"i8.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 40},
             {"u1.npy", "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 3},
             {"f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", 0},
             {"i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }", 28},
             {"empty.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 0},
             {"cube.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96}}) {
        CAPTURE(c.name);
        const std::string b = read_file(dir.file(c.name));
        REQUIRE(b.size() == 128 + c.data_bytes);
        CHECK(b.substr(0, 10) == preamble);
        CHECK(b.substr(10, 118) == c.dict + std::string(117 - c.dict.size(), ' ') + "\n");
    }
    // A long shape pushes the header to the next multiple of 64, still ending in '\n'.
    const std::vector<std::uint8_t> none;
    io::write_npy<std::uint8_t>(
        dir.file("long.npy"), none.data(),
        {0, 123456789012345, 987654321098765, 11111111111111, 22222222222222, 33333333333333});
    const std::string long_dict =
        "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 123456789012345, "
        "987654321098765, 11111111111111, 22222222222222, 33333333333333), }";
    REQUIRE(10 + long_dict.size() + 1 > 128);
    const std::string b = read_file(dir.file("long.npy"));
    REQUIRE(b.size() == 192);
    CHECK(static_cast<unsigned char>(b[8]) == 182);
    CHECK(b[9] == 0);
    CHECK(b.substr(10) == long_dict + std::string(181 - long_dict.size(), ' ') + "\n");
}

TEST_CASE_TEMPLATE("npy: 2-D and 1-D round trips keep every bit", T, float, double, std::int32_t,
                   std::int64_t, std::uint8_t) {
    TempDir dir;
    for (const Index rows : {0, 1, 5, 1000}) {
        for (const Index cols : {1, 7, 129}) {
            CAPTURE(rows);
            CAPTURE(cols);
            const RM<T> m = sample_matrix<T>(rows, cols);
            const std::string path = dir.file("m.npy");
            io::write_npy(path, m);
            const RM<T> back = io::read_npy<T>(path);
            REQUIRE(back.rows() == rows);
            REQUIRE(back.cols() == cols);
            CHECK(same_bits(back.data(), m.data(), std::size_t(m.size())));
            const io::NpyHeader h = io::read_npy_header(path);
            CHECK(h.dtype == io::npy_dtype<T>());
            CHECK_FALSE(h.fortran_order);
            CHECK(h.shape == std::vector<std::uint64_t>{std::uint64_t(rows), std::uint64_t(cols)});
            CHECK(h.count == std::uint64_t(rows * cols));
            CHECK(h.data_offset % 64 == 0);
            CHECK(read_file(path).size() == h.data_offset + std::size_t(rows * cols) * sizeof(T));
        }
    }
    // 1-D: a std::vector and an Eigen vector give the same file; read back as n x 1 or a vector.
    const RM<T> src = sample_matrix<T>(1, 300);
    const std::vector<T> v(src.data(), src.data() + src.size());
    io::write_npy(dir.file("v.npy"), v);
    const Eigen::Matrix<T, Eigen::Dynamic, 1> ev = src.row(0).transpose();
    io::write_npy(dir.file("ev.npy"), ev);
    CHECK(read_file(dir.file("v.npy")) == read_file(dir.file("ev.npy")));
    const std::vector<T> back = io::read_npy_vector<T>(dir.file("v.npy"));
    REQUIRE(back.size() == v.size());
    CHECK(same_bits(back.data(), v.data(), v.size()));
    const RM<T> as_matrix = io::read_npy<T>(dir.file("v.npy"));
    CHECK(as_matrix.rows() == 300);
    CHECK(as_matrix.cols() == 1);
    CHECK(same_bits(as_matrix.data(), v.data(), v.size()));
    io::write_npy(dir.file("e.npy"), std::vector<T>{});
    CHECK(io::read_npy_vector<T>(dir.file("e.npy")).empty());
    // Rewriting a file replaces it.
    io::write_npy(dir.file("v.npy"), std::vector<T>(3, T(1)));
    CHECK(io::read_npy_vector<T>(dir.file("v.npy")) == std::vector<T>(3, T(1)));
}

TEST_CASE("npy: column-major matrices, strided blocks and expressions are written in C order") {
    TempDir dir;
    const RM<float> m = sample_matrix<float>(6, 5);
    io::write_npy(dir.file("rm.npy"), m);
    const std::string want = read_file(dir.file("rm.npy"));

    const Eigen::MatrixXf col_major = m;  // same values, column-major storage
    io::write_npy(dir.file("cm.npy"), col_major);
    CHECK(read_file(dir.file("cm.npy")) == want);

    RM<float> wide = RM<float>::Constant(6, 9, -7.0f);
    wide.block(0, 2, 6, 5) = m;  // outer stride 9, starting at column 2
    io::write_npy(dir.file("block.npy"), wide.block(0, 2, 6, 5));
    CHECK(read_file(dir.file("block.npy")) == want);

    const Eigen::Map<const RM<float>, 0, Eigen::OuterStride<>> strided(wide.data() + 2, 6, 5,
                                                                       Eigen::OuterStride<>(9));
    io::write_npy(dir.file("map.npy"), strided);
    CHECK(read_file(dir.file("map.npy")) == want);

    RM<float> tall = RM<float>::Constant(10, 5, -7.0f);
    tall.middleRows(3, 6) = m;
    io::write_npy(dir.file("rows.npy"), tall.middleRows(3, 6));
    CHECK(read_file(dir.file("rows.npy")) == want);

    io::write_npy(dir.file("expr.npy"), (m.array() * 1.0f).matrix());
    CHECK(read_file(dir.file("expr.npy")) == want);

    const Eigen::MatrixXf cm_t = m.transpose();  // 5 x 6 column-major; its transpose is m
    io::write_npy(dir.file("t.npy"), cm_t.transpose());
    CHECK(read_file(dir.file("t.npy")) == want);
}

TEST_CASE("npy: other valid spellings of the header are read") {
    TempDir dir;
    const std::vector<float> six = {1, 2, 3, 4, 5, 6};
    const std::string data = bytes_of(six);
    const std::vector<std::string> dicts = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        "{'shape': (2,3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3), }",
        "  {  'descr' :'<f4' ,'fortran_order':False,'shape':( 2 , 3 , ) }",
    };
    for (const std::string& d : dicts) {
        for (const unsigned major : {1u, 2u, 3u}) {
            for (const std::size_t align : {std::size_t(16), std::size_t(64)}) {
                CAPTURE(d);
                CAPTURE(major);
                const std::string path = dir.file("ok.npy");
                write_file(path, make_npy(d, data, major, align));
                const RM<float> m = io::read_npy<float>(path);
                REQUIRE(m.rows() == 2);
                REQUIRE(m.cols() == 3);
                CHECK(same_bits(m.data(), six.data(), 6));
                const io::MappedNpy<float> mapped = io::map_npy<float>(path);
                CHECK(mapped.matrix() == m);
            }
        }
    }
    // '<u1' is another spelling of '|u1'.
    write_file(
        dir.file("u1.npy"),
        make_npy("{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }", "\x01\x02\x03"));
    CHECK(io::read_npy_vector<std::uint8_t>(dir.file("u1.npy")) ==
          std::vector<std::uint8_t>{1, 2, 3});
}

// ---- Truncations and malformed files.

TEST_CASE("npy: every truncation of a valid file throws FormatError naming the file") {
    TempDir dir;
    RM<float> m(2, 3);
    m << 1, 2, 3, 4, 5, 6;
    const std::string good_path = dir.file("good.npy");
    io::write_npy(good_path, m);
    const std::string good = read_file(good_path);
    REQUIRE(good.size() == 152);
    const std::string path = dir.file("cut.npy");
    for (std::size_t len = 0; len < good.size(); ++len) {
        CAPTURE(len);
        write_file(path, good.substr(0, len));
        check_throws<FormatError>([&] { (void)io::read_npy<float>(path); }, {path});
        check_throws<FormatError>([&] { (void)io::read_npy_header(path); }, {path});
        check_throws<FormatError>([&] { (void)io::map_npy<float>(path); }, {path});
        check_throws<FormatError>([&] { (void)io::read_npy_vector<float>(path); }, {path});
    }
    // The same with a version 2 header (four length bytes) and a 1-D int64 array.
    const std::vector<std::int64_t> v = {7, -8, 9};
    const std::string v2 =
        make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", bytes_of(v), 2);
    write_file(path, v2);
    REQUIRE(io::read_npy_vector<std::int64_t>(path) == v);
    for (std::size_t len = 0; len < v2.size(); ++len) {
        CAPTURE(len);
        write_file(path, v2.substr(0, len));
        check_throws<FormatError>([&] { (void)io::read_npy_vector<std::int64_t>(path); }, {path});
        check_throws<FormatError>([&] { (void)io::read_npy<std::int64_t>(path); }, {path});
    }
}

TEST_CASE("npy: malformed files throw FormatError naming the file and the problem") {
    TempDir dir;
    const std::vector<float> six = {1, 2, 3, 4, 5, 6};
    const std::string data = bytes_of(six);
    const auto dict = [](const std::string& descr, const std::string& order,
                         const std::string& shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape +
               ", }";
    };
    const std::string good = make_npy(dict("<f4", "False", "(2, 3)"), data);

    struct Case {
        std::string what;
        std::string bytes;
        std::vector<std::string> message;  // besides the path
        bool header_ok;  // read_npy_header accepts it (the problem is the request)
    };
    std::string wrong_magic = good;
    wrong_magic[1] = 'n';
    std::string version4 = good;
    version4[6] = 4;
    std::string version0 = good;
    version0[6] = 0;
    std::string past_end = good;
    past_end[8] = '\xff';
    past_end[9] = '\xff';
    std::string v2_past_end = make_npy(dict("<f4", "False", "(2, 3)"), data, 2);
    v2_past_end[10] = '\x01';  // header length + 65536
    const std::vector<Case> cases = {
        {"wrong magic", wrong_magic, {"magic"}, false},
        {"version 4", version4, {"version 4"}, false},
        {"version 0", version0, {"version 0"}, false},
        {"dtype mismatch", make_npy(dict("<f8", "False", "(3,)"), data), {"'<f8'", "'<f4'"}, true},
        {"int dtype", make_npy(dict("<i4", "False", "(2, 3)"), data), {"'<i4'", "'<f4'"}, true},
        {"Fortran order", make_npy(dict("<f4", "True", "(2, 3)"), data), {"Fortran"}, false},
        {"big-endian", make_npy(dict(">f4", "False", "(2, 3)"), data), {"'>f4'"}, false},
        {"unknown dtype", make_npy(dict("<c8", "False", "(6,)"), data), {"'<c8'"}, false},
        {"unknown key",
         make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }", data),
         {"unknown header key 'extra'"},
         false},
        {"missing shape",
         make_npy("{'descr': '<f4', 'fortran_order': False, }", data),
         {"shape"},
         false},
        {"not a boolean", make_npy(dict("<f4", "0", "(2, 3)"), data), {"True or False"}, false},
        {"negative dimension", make_npy(dict("<f4", "False", "(-2, 3)"), data), {"shape"}, false},
        {"no dict", make_npy("'descr': '<f4'", data), {"malformed"}, false},
        {"unterminated string", make_npy("{'descr': '<f4", data), {"unterminated"}, false},
        {"three dimensions",
         make_npy(dict("<f4", "False", "(1, 2, 3)"), data),
         {"(1, 2, 3)"},
         true},
        {"zero dimensions", make_npy(dict("<f4", "False", "()"), data.substr(0, 4)), {"()"}, true},
        {"trailing bytes", good + "xyz", {"3 unexpected bytes"}, false},
        {"short data", make_npy(dict("<f4", "False", "(2, 4)"), data), {"truncated data"}, false},
        {"dimension overflows 64 bits",
         make_npy(dict("<f4", "False", "(99999999999999999999, 3)"), data),
         {"64 bits"},
         false},
        {"product overflows 64 bits",
         make_npy(dict("<f4", "False", "(4294967296, 4294967296)"), data),
         {"64 bits"},
         false},
        {"bytes overflow 64 bits",
         make_npy(dict("<f4", "False", "(4611686018427387904,)"), data),
         {"64 bits"},
         false},
        {"header length past the end", past_end, {"truncated header"}, false},
        {"v2 header length past the end", v2_past_end, {"truncated header"}, false},
    };
    const std::string path = dir.file("bad.npy");
    for (const Case& c : cases) {
        CAPTURE(c.what);
        write_file(path, c.bytes);
        const auto expect_format_error = [&](auto&& call) {
            bool thrown = false;
            try {
                call();
            } catch (const embedkit::Error& e) {
                thrown = true;
                const std::string what = e.what();
                CHECK_MESSAGE(typeid(e) == typeid(FormatError), "not a FormatError: " << what);
                CHECK_MESSAGE(what.find(path) != std::string::npos, what);
                for (const std::string& part : c.message)
                    CHECK_MESSAGE(what.find(part) != std::string::npos,
                                  "'" << what << "' lacks '" << part << "'");
            }
            CHECK_MESSAGE(thrown, "accepted");
        };
        expect_format_error([&] { (void)io::read_npy<float>(path); });
        expect_format_error([&] { (void)io::map_npy<float>(path); });
        if (c.header_ok) {
            CHECK_NOTHROW((void)io::read_npy_header(path));
        } else {
            expect_format_error([&] { (void)io::read_npy_header(path); });
        }
    }
    // The valid file itself passes, so each case fails for its own reason.
    write_file(path, good);
    CHECK(io::read_npy<float>(path).size() == 6);
}

TEST_CASE("npy: rank and type checks of the readers name what arrived") {
    TempDir dir;
    const std::vector<float> six = {1, 2, 3, 4, 5, 6};
    io::write_npy(dir.file("v.npy"), six);
    io::write_npy<float>(dir.file("cube.npy"), six.data(), {1, 2, 3});
    io::write_npy(dir.file("m.npy"), RM<float>::Ones(2, 3).eval());
    // map_npy wants 2-D; read_npy 1-D or 2-D; read_npy_vector 1-D.
    check_throws<FormatError>([&] { (void)io::map_npy<float>(dir.file("v.npy")); },
                              {"v.npy", "2-D", "(6,)"});
    check_throws<FormatError>([&] { (void)io::read_npy<float>(dir.file("cube.npy")); },
                              {"cube.npy", "(1, 2, 3)"});
    check_throws<FormatError>([&] { (void)io::read_npy_vector<float>(dir.file("m.npy")); },
                              {"m.npy", "1-D", "(2, 3)"});
    check_throws<FormatError>([&] { (void)io::read_npy_vector<double>(dir.file("v.npy")); },
                              {"'<f4'", "'<f8'"});
    check_throws<FormatError>([&] { (void)io::map_npy<double>(dir.file("m.npy")); },
                              {"m.npy", "'<f4'", "'<f8'"});
    check_throws<FormatError>([&] { (void)io::read_npy<std::uint8_t>(dir.file("m.npy")); },
                              {"'<f4'", "'|u1'"});
}

TEST_CASE("npy: a zero-size array announcing a dimension beyond Eigen::Index is rejected") {
    // Found by fuzz_npy: shape (2^64 - 1, 0) holds no data, so the length check passed and
    // map_npy reported rows() == -1.
    TempDir dir;
    for (const char* shape : {"(18446744073709551615, 0)", "(0, 9223372036854775808)"}) {
        CAPTURE(shape);
        const std::string path = dir.file("huge.npy");
        write_file(path,
                   make_npy(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") +
                                shape + ", }",
                            ""));
        check_throws<FormatError>([&] { (void)io::map_npy<float>(path); },
                                  {"huge.npy", shape, "too large"});
        check_throws<FormatError>([&] { (void)io::read_npy<float>(path); },
                                  {"huge.npy", "too large"});
    }
    // The largest dimensions that fit are fine when the array is empty.
    const std::string path = dir.file("empty.npy");
    write_file(
        path,
        make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 0), }",
                 ""));
    const io::MappedNpy<float> mapped = io::map_npy<float>(path);
    CHECK(mapped.rows() == std::numeric_limits<Index>::max());
    CHECK(mapped.cols() == 0);
}

TEST_CASE_TEMPLATE("npy: parse_npy reads a file's bytes as read_npy reads the file", T, float,
                   double, std::int32_t, std::int64_t, std::uint8_t) {
    TempDir dir;
    const RM<T> m = sample_matrix<T>(5, 3);
    io::write_npy(dir.file("m.npy"), m);
    const std::string bytes = read_file(dir.file("m.npy"));
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const RM<T> parsed = io::parse_npy<T>(data, bytes.size(), "m.npy");
    REQUIRE(parsed.rows() == 5);
    REQUIRE(parsed.cols() == 3);
    CHECK(same_bits(parsed.data(), m.data(), 15));
    // Every truncation and a trailing byte are FormatErrors naming the given name.
    for (std::size_t n = 0; n < bytes.size(); ++n)
        check_throws<FormatError>([&] { (void)io::parse_npy<T>(data, n, "cut.npy"); }, {"cut.npy"});
    const std::string longer = bytes + "x";
    check_throws<FormatError>(
        [&] {
            (void)io::parse_npy<T>(reinterpret_cast<const unsigned char*>(longer.data()),
                                   longer.size(), "long.npy");
        },
        {"long.npy", "unexpected bytes"});
    if constexpr (!std::is_same_v<T, double>)
        check_throws<FormatError>([&] { (void)io::parse_npy<double>(data, bytes.size(), "m.npy"); },
                                  {"'<f8'"});
}

TEST_CASE("npy: files that cannot be opened or written throw IoError naming the path") {
    TempDir dir;
    const std::string missing = dir.file("missing.npy");
    check_throws<IoError>([&] { (void)io::read_npy<float>(missing); }, {missing});
    check_throws<IoError>([&] { (void)io::read_npy_header(missing); }, {missing});
    check_throws<IoError>([&] { (void)io::read_npy_vector<float>(missing); }, {missing});
    check_throws<IoError>([&] { (void)io::map_npy<float>(missing); }, {missing});
    const std::string nowhere = dir.file("no/such/folder/x.npy");
    check_throws<IoError>([&] { io::write_npy(nowhere, RM<float>::Ones(2, 2).eval()); }, {nowhere});
    check_throws<IoError>([&] { io::write_npy(nowhere, std::vector<double>{1.0}); }, {nowhere});
    CHECK(dir.entries().empty());  // nothing left behind
    // An empty file is a malformed .npy, not an I/O failure.
    write_file(dir.file("empty.npy"), "");
    check_throws<FormatError>([&] { (void)io::read_npy<float>(dir.file("empty.npy")); },
                              {"empty.npy"});
    check_throws<FormatError>([&] { (void)io::map_npy<float>(dir.file("empty.npy")); },
                              {"empty.npy"});
}

// ---- Memory map.

TEST_CASE_TEMPLATE("npy: map_npy views the file's data as a RowMatrix without a copy", T, float,
                   double) {
    TempDir dir;
    const RM<T> m = sample_matrix<T>(37, 9);
    const std::string path = dir.file("set.npy");
    io::write_npy(path, m);
    const io::MappedNpy<T> mapped = io::map_npy<T>(path);
    CHECK(mapped.rows() == 37);
    CHECK(mapped.cols() == 9);
    CHECK(mapped.path() == path);
    CHECK(mapped.file_size() == read_file(path).size());
    static_assert(std::is_same_v<decltype(mapped.matrix()), Eigen::Map<const RM<T>>>);
    const Eigen::Map<const RM<T>> view = mapped.matrix();
    CHECK(view.data() == mapped.data());
    CHECK(reinterpret_cast<std::uintptr_t>(mapped.data()) % alignof(T) == 0);
    CHECK(same_bits(view.data(), m.data(), std::size_t(m.size())));

    // Zero rows map too.
    io::write_npy(dir.file("none.npy"), RM<T>(0, 5));
    const io::MappedNpy<T> none = io::map_npy<T>(dir.file("none.npy"));
    CHECK(none.rows() == 0);
    CHECK(none.cols() == 5);

    // Data at an offset that is not a multiple of the element size cannot be mapped as T;
    // read_npy (which copies) still reads it.
    if constexpr (sizeof(T) == 8) {
        const std::vector<T> two = {T(1), T(-2)};
        std::string odd;
        for (std::size_t extra = 0; extra < 8; ++extra) {
            odd = make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                           bytes_of(two), 1, 4, extra);
            if ((odd.size() - 16) % 8 == 4) break;
        }
        REQUIRE((odd.size() - 16) % 8 == 4);
        write_file(dir.file("odd.npy"), odd);
        check_throws<FormatError>([&] { (void)io::map_npy<T>(dir.file("odd.npy")); },
                                  {"odd.npy", "aligned"});
        const RM<T> back = io::read_npy<T>(dir.file("odd.npy"));
        CHECK(back(0, 0) == T(1));
        CHECK(back(0, 1) == T(-2));
    }
}

TEST_CASE("npy: a moved MappedNpy keeps the mapping and the map outlives the file name") {
    TempDir dir;
    const RM<float> a = sample_matrix<float>(50, 8);
    const RM<float> b = (sample_matrix<float>(20, 3).array() + 1.0f).matrix();
    io::write_npy(dir.file("a.npy"), a);
    io::write_npy(dir.file("b.npy"), b);

    io::MappedNpy<float> first = io::map_npy<float>(dir.file("a.npy"));
    const float* data = first.data();
    io::MappedNpy<float> moved(std::move(first));  // move construction
    CHECK(moved.data() == data);
    CHECK(moved.rows() == 50);
    CHECK(same_bits(moved.matrix().data(), a.data(), std::size_t(a.size())));
    CHECK(first.rows() == 0);  // NOLINT(bugprone-use-after-move): the moved-from state is empty
    CHECK(first.data() == nullptr);

    io::MappedNpy<float> other = io::map_npy<float>(dir.file("b.npy"));
    other = std::move(moved);  // move assignment releases b's map and takes a's
    CHECK(other.data() == data);
    CHECK(other.cols() == 8);
    CHECK(other.path() == dir.file("a.npy"));
    CHECK(same_bits(other.matrix().data(), a.data(), std::size_t(a.size())));

    // Many maps in a growing vector: every reallocation moves them.
    std::vector<io::MappedNpy<float>> maps;
    for (int i = 0; i < 20; ++i)
        maps.push_back(io::map_npy<float>(dir.file(i % 2 ? "b.npy" : "a.npy")));
    for (int i = 0; i < 20; ++i) {
        const RM<float>& want = i % 2 ? b : a;
        CHECK(same_bits(maps[std::size_t(i)].data(), want.data(), std::size_t(want.size())));
    }

    // Removing (or replacing) the file does not disturb an existing map.
    std::filesystem::remove(dir.file("a.npy"));
    io::write_npy(dir.file("b.npy"), RM<float>::Zero(20, 3).eval());
    CHECK(same_bits(other.matrix().data(), a.data(), std::size_t(a.size())));
    CHECK(same_bits(maps[1].data(), b.data(), std::size_t(b.size())));
}

TEST_CASE("npy: a header over 1 MiB is read alike by read_npy, read_npy_header and map_npy") {
    // Hardening II: read_npy and read_npy_header looked at the first MiB only and rejected a
    // valid file with a longer header ("needs 1048704 bytes, file has 1048728") that map_npy
    // accepted. One parser and one limit (16 MiB of header) now serve every entry point.
    TempDir dir;
    const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f};
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const std::string big = dir.file("big_header.npy");
    write_file(big, make_npy(dict, bytes_of(v), 2, 64, std::size_t(1) << 20));
    const io::NpyHeader h = io::read_npy_header(big);
    CHECK(h.data_offset > (std::size_t(1) << 20));
    CHECK(h.shape == std::vector<std::uint64_t>{2, 3});
    const RM<float> read = io::read_npy<float>(big);
    const io::MappedNpy<float> mapped = io::map_npy<float>(big);
    REQUIRE(read.rows() == 2);
    REQUIRE(read.cols() == 3);
    CHECK(same_bits(read.data(), v.data(), v.size()));
    CHECK(same_bits(mapped.data(), v.data(), v.size()));
    const std::string bytes = read_file(big);
    const RM<float> parsed = io::parse_npy<float>(
        reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), "big");
    CHECK(same_bits(parsed.data(), v.data(), v.size()));

    // Past the limit every entry point gives the same FormatError, naming the limit.
    const std::string huge = dir.file("huge_header.npy");
    write_file(huge, make_npy(dict, bytes_of(v), 2, 64, std::size_t(1) << 24));
    const std::vector<std::string> parts = {huge, "header of 16777332 bytes",
                                            "more than the reader's limit of 16777216 bytes"};
    std::vector<std::string> messages;
    const auto message_of = [&](auto&& f) {
        try {
            f();
        } catch (const FormatError& e) {
            messages.push_back(e.what());
            return;
        } catch (const std::exception& e) {
            FAIL("not a FormatError: " << e.what());
        }
        FAIL("no exception");
    };
    message_of([&] { (void)io::read_npy_header(huge); });
    message_of([&] { (void)io::read_npy<float>(huge); });
    message_of([&] { (void)io::map_npy<float>(huge); });
    REQUIRE(messages.size() == 3);
    CHECK(messages[1] == messages[0]);
    CHECK(messages[2] == messages[0]);
    for (const std::string& p : parts)
        CHECK_MESSAGE(messages[0].find(p) != std::string::npos,
                      "'" << messages[0] << "' lacks '" << p << "'");
}

TEST_CASE("npy: a mapped set is searched like the matrix it holds") {
    TempDir dir;
    RM<float> set(300, 5);
    for (Index i = 0; i < set.rows(); ++i)
        for (Index j = 0; j < set.cols(); ++j) set(i, j) = float((i * 7 + j * 13) % 17) - 8.0f;
    io::write_npy(dir.file("set.npy"), set);
    const io::MappedNpy<float> mapped = io::map_npy<float>(dir.file("set.npy"));
    for (const embedkit::Metric m :
         {embedkit::Metric::l2, embedkit::Metric::cosine, embedkit::Metric::l1}) {
        const auto want = embedkit::top_k(set.topRows(12), set, 7, m, {true});
        const auto got =
            embedkit::top_k(mapped.matrix().topRows(12), mapped.matrix(), 7, m, {true});
        CHECK(got.indices == want.indices);
        CHECK(got.scores == want.scores);
        CHECK(embedkit::distances(set.row(3), mapped.matrix(), m) ==
              embedkit::distances(set.row(3), set, m));
    }
}

// ---- Dtypes of every integer type, conversion (NpyConvert::allow), float16.

constexpr bool same_dtype(const char* a, const char* b) {
    if (a == nullptr || b == nullptr) return a == b;
    for (; *a != '\0' && *a == *b; ++a, ++b) {}
    return *a == *b;
}

template <class T>
constexpr const char* int_dtype() {
    constexpr bool s = std::is_signed_v<T>;
    return sizeof(T) == 1   ? (s ? "|i1" : "|u1")
           : sizeof(T) == 2 ? (s ? "<i2" : "<u2")
           : sizeof(T) == 4 ? (s ? "<i4" : "<u4")
                            : (s ? "<i8" : "<u8");
}

// Each integer type gets the dtype of its size and signedness, so long and long long (one of
// which is std::int64_t, depending on the platform) both write '<i8' where they are 8 bytes.
static_assert(same_dtype(io::npy_dtype<long long>(), "<i8"));
static_assert(same_dtype(io::npy_dtype<unsigned long long>(), "<u8"));
static_assert(same_dtype(io::npy_dtype<long>(), sizeof(long) == 8 ? "<i8" : "<i4"));
static_assert(same_dtype(io::npy_dtype<unsigned long>(), sizeof(long) == 8 ? "<u8" : "<u4"));
static_assert(same_dtype(io::npy_dtype<std::int64_t>(), "<i8"));
static_assert(same_dtype(io::npy_dtype<std::uint64_t>(), "<u8"));
static_assert(same_dtype(io::npy_dtype<std::ptrdiff_t>(), int_dtype<std::ptrdiff_t>()));
static_assert(same_dtype(io::npy_dtype<std::size_t>(), int_dtype<std::size_t>()));
static_assert(same_dtype(io::npy_dtype<std::intptr_t>(), int_dtype<std::intptr_t>()));
static_assert(same_dtype(io::npy_dtype<Eigen::Index>(), int_dtype<Eigen::Index>()));
static_assert(sizeof(void*) != 8 || same_dtype(io::npy_dtype<Eigen::Index>(), "<i8"));
static_assert(same_dtype(io::npy_dtype<int>(), int_dtype<int>()));
static_assert(same_dtype(io::npy_dtype<unsigned>(), int_dtype<unsigned>()));
static_assert(same_dtype(io::npy_dtype<std::int32_t>(), "<i4"));
static_assert(same_dtype(io::npy_dtype<std::uint32_t>(), "<u4"));
static_assert(same_dtype(io::npy_dtype<short>(), "<i2"));
static_assert(same_dtype(io::npy_dtype<unsigned short>(), "<u2"));
static_assert(same_dtype(io::npy_dtype<std::int16_t>(), "<i2"));
static_assert(same_dtype(io::npy_dtype<std::uint16_t>(), "<u2"));
static_assert(same_dtype(io::npy_dtype<signed char>(), "|i1"));
static_assert(same_dtype(io::npy_dtype<unsigned char>(), "|u1"));
static_assert(same_dtype(io::npy_dtype<std::int8_t>(), "|i1"));
static_assert(same_dtype(io::npy_dtype<std::uint8_t>(), "|u1"));
static_assert(same_dtype(io::npy_dtype<float>(), "<f4"));
static_assert(same_dtype(io::npy_dtype<double>(), "<f8"));
// Not numbers to a reader: no dtype (and the readers and writers refuse them at compile time).
static_assert(io::npy_dtype<bool>() == nullptr);
static_assert(io::npy_dtype<char>() == nullptr);
static_assert(io::npy_dtype<wchar_t>() == nullptr);
static_assert(io::npy_dtype<char16_t>() == nullptr);
static_assert(io::npy_dtype<char32_t>() == nullptr);
static_assert(io::npy_dtype<long double>() == nullptr);

// The standard integer types only: std::ptrdiff_t, std::size_t and the fixed-width names are
// aliases of them (a duplicate would register the same test name twice).
TEST_CASE_TEMPLATE("npy: every integer type round-trips under its own name", T, short,
                   unsigned short, int, unsigned, long, unsigned long, long long,
                   unsigned long long, signed char, unsigned char) {
    TempDir dir;
    const RM<T> m = sample_matrix<T>(4, 3);
    io::write_npy(dir.file("m.npy"), m);
    CHECK(io::read_npy_header(dir.file("m.npy")).dtype == io::npy_dtype<T>());
    const RM<T> back = io::read_npy<T>(dir.file("m.npy"));
    CHECK(same_bits(back.data(), m.data(), std::size_t(m.size())));
}

TEST_CASE("npy: top_k's Eigen::Index matrix is read back as int64 under any of its names") {
    TempDir dir;
    RM<float> set(40, 3);
    for (Index i = 0; i < set.rows(); ++i)
        for (Index j = 0; j < set.cols(); ++j) set(i, j) = float((i * 5 + j * 3) % 11);
    const auto r = embedkit::top_k(set.topRows(6), set, 4, embedkit::Metric::l2);
    const std::string p = dir.file("idx.npy");
    io::write_npy(p, r.indices);
    CHECK(io::read_npy_header(p).dtype == "<i8");
    CHECK(io::read_npy<std::int64_t>(p).template cast<Index>() == r.indices);
    CHECK(io::read_npy<long long>(p).template cast<Index>() == r.indices);
    CHECK(io::read_npy<Index>(p) == r.indices);
    // Written as long long (a different type from std::int64_t on LP64 Linux), read as Index.
    const RM<long long> ll = r.indices.cast<long long>();
    io::write_npy(p, ll);
    CHECK(io::read_npy<Index>(p) == r.indices);
    // Narrower integer types need NpyConvert::allow, which checks each value.
    check_throws<FormatError>([&] { (void)io::read_npy<std::int32_t>(p); },
                              {"'<i8'", "'<i4'", "NpyConvert::allow"});
    CHECK(io::read_npy<std::int32_t>(p, io::NpyConvert::allow).template cast<Index>() == r.indices);
}

std::string f8_file(const std::vector<double>& v, const std::string& shape) {
    return make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }",
                    bytes_of(v));
}

TEST_CASE("npy: float64 reads into float only when asked, rounded, and never overflows to inf") {
    TempDir dir;
    const double inf = std::numeric_limits<double>::infinity();
    const double fmax = double(std::numeric_limits<float>::max());
    const std::vector<double> v = {1.0 / 3.0, -2.5, 1e-40, fmax,
                                   -fmax,     inf,  -inf,  std::numeric_limits<double>::quiet_NaN(),
                                   1e-50,     -0.0, 0.1,   16777217.0};
    const std::string p = dir.file("f8.npy");
    write_file(p, f8_file(v, "(3, 4)"));
    // Without NpyConvert::allow: the dtype error naming both dtypes and the way to convert.
    check_throws<FormatError>(
        [&] { (void)io::read_npy<float>(p); },
        {"f8.npy", "dtype is '<f8' but '<f4' was requested", "NpyConvert::allow"});
    check_throws<FormatError>(
        [&] { (void)io::map_npy<float>(p); },
        {"f8.npy", "dtype is '<f8' but '<f4' was requested", "read_npy with NpyConvert::allow"});
    const RM<float> m = io::read_npy<float>(p, io::NpyConvert::allow);
    REQUIRE(m.rows() == 3);
    REQUIRE(m.cols() == 4);
    for (std::size_t i = 0; i < v.size(); ++i) {
        CAPTURE(i);
        const float got = m.data()[i];
        if (std::isnan(v[i])) {
            CHECK(std::isnan(got));
        } else {
            const float want = static_cast<float>(v[i]);  // round to nearest, ties to even
            CHECK(same_bits(&got, &want, 1));
        }
    }
    CHECK(m(0, 3) == std::numeric_limits<float>::max());  // FLT_MAX itself fits
    CHECK(m(2, 3) == 16777216.0f);                        // 2^24 + 1: the tie goes to even
    CHECK(std::signbit(m(2, 1)));                         // -0 stays -0
    // parse_npy and read_npy_vector convert alike.
    const std::string bytes = read_file(p);
    const RM<float> parsed =
        io::parse_npy<float>(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                             "f8.npy", io::NpyConvert::allow);
    CHECK(same_bits(parsed.data(), m.data(), v.size()));
    write_file(dir.file("v.npy"), f8_file(v, "(12,)"));
    const std::vector<float> vec =
        io::read_npy_vector<float>(dir.file("v.npy"), io::NpyConvert::allow);
    REQUIRE(vec.size() == v.size());
    CHECK(same_bits(vec.data(), m.data(), v.size()));
    check_throws<FormatError>([&] { (void)io::read_npy_vector<float>(dir.file("v.npy")); },
                              {"'<f8'", "'<f4'"});

    // A finite value beyond float's range is refused, naming where it is; the smallest double
    // above FLT_MAX already is.
    for (const double big :
         {std::nextafter(fmax, inf), -1e39, 1e300, -std::numeric_limits<double>::max()}) {
        CAPTURE(big);
        std::vector<double> w = v;
        w[6] = big;  // row 1, col 2
        write_file(p, f8_file(w, "(3, 4)"));
        check_throws<FormatError>(
            [&] { (void)io::read_npy<float>(p, io::NpyConvert::allow); },
            {"read_npy", "f8.npy", "at row 1, col 2 does not fit float", "'<f8'"});
        write_file(dir.file("v.npy"), f8_file(w, "(12,)"));
        check_throws<FormatError>(
            [&] { (void)io::read_npy_vector<float>(dir.file("v.npy"), io::NpyConvert::allow); },
            {"at index 6 does not fit float"});
        const std::string b = read_file(p);
        check_throws<FormatError>(
            [&] {
                (void)io::parse_npy<float>(reinterpret_cast<const unsigned char*>(b.data()),
                                           b.size(), "mem.npy", io::NpyConvert::allow);
            },
            {"parse_npy", "mem.npy", "at row 1, col 2 does not fit float"});
    }
    // The message gives the value in full: 1e39 is not mistaken for FLT_MAX.
    std::vector<double> w = v;
    w[0] = 1e39;
    write_file(p, f8_file(w, "(3, 4)"));
    check_throws<FormatError>([&] { (void)io::read_npy<float>(p, io::NpyConvert::allow); },
                              {"value 1e+39 at row 0, col 0", "largest finite 3.4028235e+38"});
}

TEST_CASE("npy: a conversion past the reader's first chunk names the right row and column") {
    TempDir dir;
    std::vector<double> v(200 * 100);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i) * 0.5 - 3.0;
    const std::string p = dir.file("big.npy");
    write_file(p, f8_file(v, "(200, 100)"));
    const RM<float> m = io::read_npy<float>(p, io::NpyConvert::allow);
    for (std::size_t i = 0; i < v.size(); ++i) REQUIRE(m.data()[i] == static_cast<float>(v[i]));
    v[15007] = 1e100;
    write_file(p, f8_file(v, "(200, 100)"));
    check_throws<FormatError>([&] { (void)io::read_npy<float>(p, io::NpyConvert::allow); },
                              {"at row 150, col 7 does not fit float"});
}

TEST_CASE("npy: NpyConvert::allow widens exactly, checks narrowing integers, never mixes kinds") {
    TempDir dir;
    const std::string p = dir.file("x.npy");
    // float32 -> double: exact.
    const RM<float> f = sample_matrix<float>(3, 5);
    io::write_npy(p, f);
    check_throws<FormatError>([&] { (void)io::read_npy<double>(p); },
                              {"'<f4'", "'<f8'", "NpyConvert::allow"});
    const RM<double> d = io::read_npy<double>(p, io::NpyConvert::allow);
    for (Index i = 0; i < f.size(); ++i)
        CHECK((std::isnan(f.data()[i]) ? std::isnan(d.data()[i])
                                       : d.data()[i] == double(f.data()[i])));
    // int32 -> int64, uint8 -> int16: exact.
    const RM<std::int32_t> i4 = sample_matrix<std::int32_t>(2, 6);
    io::write_npy(p, i4);
    CHECK(io::read_npy<std::int64_t>(p, io::NpyConvert::allow) == i4.cast<std::int64_t>());
    io::write_npy(p, std::vector<std::uint8_t>{0, 1, 255});
    CHECK(io::read_npy_vector<std::int16_t>(p, io::NpyConvert::allow) ==
          std::vector<std::int16_t>{0, 1, 255});
    // Narrowing integers: each value is checked, in both directions and across signedness.
    io::write_npy(p, std::vector<std::int64_t>{7, 300});
    check_throws<FormatError>(
        [&] { (void)io::read_npy_vector<std::uint8_t>(p, io::NpyConvert::allow); },
        {"value 300 at index 1 does not fit uint8_t (0 to 255)", "'<i8'"});
    io::write_npy(p, RM<std::int64_t>::Constant(2, 2, -1).eval());
    check_throws<FormatError>([&] { (void)io::read_npy<std::uint64_t>(p, io::NpyConvert::allow); },
                              {"value -1 at row 0, col 0 does not fit uint64_t"});
    io::write_npy(p, std::vector<std::int64_t>{std::int64_t(1) << 40});
    check_throws<FormatError>(
        [&] { (void)io::read_npy<std::int32_t>(p, io::NpyConvert::allow); },
        {"value 1099511627776 at index 0 does not fit int32_t (-2147483648 to 2147483647)"});
    io::write_npy(p, std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()});
    check_throws<FormatError>([&] { (void)io::read_npy<std::int64_t>(p, io::NpyConvert::allow); },
                              {"value 18446744073709551615 at index 0 does not fit int64_t"});
    io::write_npy(p, std::vector<std::int8_t>{-128, 127});
    CHECK(io::read_npy_vector<std::int64_t>(p, io::NpyConvert::allow) ==
          std::vector<std::int64_t>{-128, 127});
    // Floating point and integers are never converted into each other.
    io::write_npy(p, std::vector<std::int64_t>{1, 2});
    check_throws<FormatError>([&] { (void)io::read_npy<float>(p, io::NpyConvert::allow); },
                              {"'<i8'", "'<f4'", "not from one to the other"});
    io::write_npy(p, std::vector<double>{1, 2});
    check_throws<FormatError>([&] { (void)io::read_npy<std::int32_t>(p, io::NpyConvert::allow); },
                              {"'<f8'", "'<i4'", "not from one to the other"});
}

#ifndef EMBEDKIT_IO_TEST_DATA
#error \
    "tests/io/CMakeLists.txt defines EMBEDKIT_IO_TEST_DATA (the folder of the committed reference files)"
#endif

TEST_CASE("npy: float16 reads into float exactly as numpy converts it") {
    // Both files were written by numpy (tests/io/data/make_f16_reference.py): 1024 binary16
    // patterns (every sign/exponent with edge fractions: zeros, subnormals, inf, quiet and
    // signalling NaNs; then random ones) and numpy's astype(float32) of them.
    const std::string dir = EMBEDKIT_IO_TEST_DATA;
    const std::string halves = dir + "/f16_patterns.npy";
    const io::NpyHeader h = io::read_npy_header(halves);
    CHECK(h.dtype == "<f2");
    CHECK(h.shape == std::vector<std::uint64_t>{1024});
    check_throws<FormatError>([&] { (void)io::read_npy<float>(halves); },
                              {"dtype is '<f2' but '<f4' was requested"});
    const std::vector<float> got = io::read_npy_vector<float>(halves, io::NpyConvert::allow);
    const std::vector<float> numpy = io::read_npy_vector<float>(dir + "/f16_patterns_f4.npy");
    REQUIRE(got.size() == 1024);
    REQUIRE(numpy.size() == 1024);
    int nans = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        nans += std::isnan(numpy[i]) ? 1 : 0;
        CHECK(same_bits(&got[i], &numpy[i], 1));  // NaN payloads included
    }
    CHECK(nans >= 2 * 6);  // the edge fractions give 6 NaN payloads of each sign
    // Into double: the same values.
    const RM<double> d = io::read_npy<double>(halves, io::NpyConvert::allow);
    for (std::size_t i = 0; i < got.size(); ++i)
        CHECK((std::isnan(got[i]) ? std::isnan(d.data()[i]) : d.data()[i] == double(got[i])));
}

TEST_CASE("npy: all 65536 float16 patterns read through a file as the bit conversion gives them") {
    TempDir dir;
    std::vector<std::uint16_t> all(65536);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i);
    const std::string p = dir.file("all.npy");
    write_file(p, make_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (256, 256), }",
                           bytes_of(all)));
    const RM<float> m = io::read_npy<float>(p, io::NpyConvert::allow);
    REQUIRE(m.rows() == 256);
    for (std::size_t i = 0; i < all.size(); ++i) {
        const float want = embedkit::detail::half_bits_to_float(all[i]);
        REQUIRE(same_bits(&m.data()[i], &want, 1));
    }
    // Half's range lies inside float's: nothing is refused, the infinities stay.
    CHECK(m(124, 0) == std::numeric_limits<float>::infinity());  // 0x7C00
    CHECK(m(123, 255) == 65504.0f);                              // 0x7BFF
    // A header that announces float16 must have 2 bytes per element.
    write_file(p, make_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }",
                           std::string(5, '\0')));
    check_throws<FormatError>([&] { (void)io::read_npy<float>(p, io::NpyConvert::allow); },
                              {"truncated data (shape needs 6 bytes, file has 5)"});
}

// ---- NpyWriter: all or nothing.

TEST_CASE("npy: NpyWriter streams batches and publishes only a complete file") {
    TempDir dir;
    const std::string p = dir.file("e.npy");
    io::write_npy(p, std::vector<float>{42.0f});  // an older file of that name
    const std::string before = read_file(p);
    const RM<float> all = sample_matrix<float>(10, 3);
    {
        io::NpyWriter<float> w(p, {10, 3});
        w.append(all.data(), 12);
        w.append(all.data() + 12, 0);
        CHECK(read_file(p) == before);  // nothing visible before commit()
        w.append(all.data() + 12, 18);
        check_throws<embedkit::ArgumentError>([&] { w.append(all.data(), 1); },
                                              {"exceeds the shape (0 left)"});
        w.commit();
        check_throws<embedkit::ArgumentError>([&] { w.append(all.data(), 1); },
                                              {"e.npy", "already committed"});
        check_throws<embedkit::ArgumentError>([&] { w.commit(); }, {"already committed"});
    }
    const RM<float> back = io::read_npy<float>(p);
    CHECK(same_bits(back.data(), all.data(), 30));
    // Too few elements: commit() refuses and the writer stays usable.
    {
        io::NpyWriter<float> w(p, {10, 3});
        w.append(all.data(), 29);
        check_throws<embedkit::ArgumentError>([&] { w.commit(); }, {"29 of 30 elements written"});
        w.append(all.data() + 29, 1);
        w.commit();
    }
    CHECK(read_file(p).size() == 128 + 30 * 4);
    // Destroyed without commit (an exception unwinding past it): the old file stays, no
    // temporary file is left.
    const std::string complete = read_file(p);
    try {
        io::NpyWriter<float> w(p, {10, 3});
        w.append(all.data(), 15);
        throw std::runtime_error("the producer failed");
    } catch (const std::runtime_error&) {}
    CHECK(read_file(p) == complete);
    CHECK(dir.entries() == std::vector<std::string>{"e.npy"});
}

// Lowers this process's file size limit (RLIMIT_FSIZE) while alive, so writes past `bytes`
// fail with EFBIG instead of raising SIGXFSZ (ignored meanwhile).
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_) == 0);
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lower = old_;
        lower.rlim_cur = bytes;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;

private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

TEST_CASE("npy: after a failed write NpyWriter refuses to go on, so no corrupt file is published") {
    // Before, a caller who caught the IoError of a partial write and appended again could
    // commit a file holding the failed write's stray bytes.
    TempDir dir;
    const std::string p = dir.file("e.npy");
    io::write_npy(p, std::vector<float>{42.0f});
    const std::string before = read_file(p);
    const std::vector<float> data(4096, 1.5f);
    io::NpyWriter<float> w(p, {2 * 4096});
    {
        const FileSizeLimit limit(8192);  // the header and part of the first 16 KiB fit
        check_throws<IoError>([&] { w.append(data.data(), data.size()); }, {"e.npy"});
    }
    check_throws<embedkit::ArgumentError>([&] { w.append(data.data(), data.size()); },
                                          {"e.npy", "an earlier write failed"});
    check_throws<embedkit::ArgumentError>([&] { w.commit(); }, {"an earlier write failed"});
    CHECK(read_file(p) == before);
}

TEST_CASE("npy: a 1-D file is an n x 1 matrix, a std::vector, or an Eigen vector") {
    TempDir dir;
    const std::string p = dir.file("v.npy");
    io::write_npy(p, std::vector<double>{1.5, -2.0, 3.25});
    const RM<double> m = io::read_npy<double>(p);
    CHECK(m.rows() == 3);
    CHECK(m.cols() == 1);
    const Eigen::VectorXd v = io::read_npy<double>(p);  // as API.md shows
    CHECK(v == Eigen::Vector3d(1.5, -2.0, 3.25));
    const Eigen::VectorXf f = io::read_npy<float>(p, io::NpyConvert::allow);
    CHECK(f == Eigen::Vector3f(1.5f, -2.0f, 3.25f));
    CHECK(io::read_npy_vector<double>(p) == std::vector<double>{1.5, -2.0, 3.25});
    // An n x 1 file is 2-D: read_npy_vector refuses it rather than guess.
    io::write_npy(p, m);
    check_throws<FormatError>([&] { (void)io::read_npy_vector<double>(p); },
                              {"expected a 1-D array, got shape (3, 1)"});
}

}  // namespace
