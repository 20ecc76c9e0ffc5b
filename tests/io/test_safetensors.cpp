// safetensors.hpp: the files the Python library writes (committed references, made by
// scripts/safetensors_crosscheck.py) read exactly and written back byte for byte; round trips
// of every dtype; exact F16/BF16 conversion; every validation rule of the reader, each with a
// file that only that rule rejects; shape-checked reads and their messages.
#include "io_test_util.hpp"

#include <embedkit/core/detail/half.hpp>
#include <embedkit/core/error.hpp>
#include <embedkit/io/safetensors.hpp>

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

using embedkit::ArgumentError;
using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;
namespace io = embedkit::io;

const std::string data_dir = EMBEDKIT_IO_TEST_DATA;

// A safetensors file: the 8-byte length, `header` as given (no padding added), `data`.
std::string st_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] =
            static_cast<char>((std::uint64_t(header.size()) >> (8 * i)) & 0xFFu);
    return out + header + data;
}

io::SafetensorsView view(const std::string& bytes) {
    return io::SafetensorsView(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                               "mem.safetensors");
}

// The header must be rejected with a FormatError naming the source and containing `fragment`.
void rejects(const std::string& header, const std::string& data, const std::string& fragment) {
    INFO("header: ", header);
    const std::string b = st_bytes(header, data);
    check_throws<FormatError>([&] { view(b); },
                              {"embedkit::io::safetensors: 'mem.safetensors'", fragment});
}

std::uint32_t float_bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

}  // namespace

TEST_CASE("safetensors: every dtype of a file the Python library wrote") {
    const io::SafetensorsFile f(data_dir + "/st_dtypes.safetensors");
    CHECK(f.path() == data_dir + "/st_dtypes.safetensors");
    CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}});
    REQUIRE(f.tensors().size() == 12);
    CHECK(f.header().data_offset() == 8 + 736);
    CHECK(f.header().data_offset() % 8 == 0);
    // Header order is the file's (the Python library's dtype-then-name order).
    CHECK(f.tensors()[0].name == "i64");
    CHECK(f.tensors()[11].name == "bool");

    const io::SafetensorsTensor& i64 = f.tensor("i64");
    CHECK(i64.dtype == io::SafetensorsDtype::i64);
    CHECK(i64.shape == std::vector<std::uint64_t>{1, 4});
    CHECK(i64.begin == 0);
    CHECK(i64.end == 32);
    CHECK(f.read_i64("i64") == std::vector<std::int64_t>{0, 1, -2, std::int64_t(1) << 62});

    const embedkit::RowMatrixF m = f.read_matrix("f32", 2, 3);
    for (int i = 0; i < 6; ++i) CHECK(m.data()[i] == static_cast<float>(i) * 0.5f - 1.0f);
    CHECK(f.read_f32("f16") == std::vector<float>{1.0f, -0.5f, 65504.0f});
    CHECK(f.read_f32("bf16") == std::vector<float>{1.0f, -3.0f, 0.15625f});
    CHECK(f.read_f32("scalar") == std::vector<float>{3.0f});
    CHECK(f.tensor("scalar").shape.empty());
    CHECK(f.tensor("empty").shape == std::vector<std::uint64_t>{0, 4});
    CHECK(f.read_matrix("empty", 0, 4).size() == 0);

    const auto raw = [&](const char* name) {
        const io::SafetensorsTensor& t = f.tensor(name);
        return std::string(reinterpret_cast<const char*>(f.bytes(t)),
                           static_cast<std::size_t>(t.byte_size()));
    };
    double f64[2];
    std::memcpy(f64, raw("f64").data(), 16);
    CHECK(f64[0] == 1.5);
    CHECK(f64[1] == -2.25);
    std::int32_t i32[3];
    std::memcpy(i32, raw("i32").data(), 12);
    CHECK(i32[0] == -1);
    CHECK(i32[2] == std::numeric_limits<std::int32_t>::max());
    CHECK(raw("i16") == std::string("\x00\x80\x07\x00", 4));
    CHECK(raw("i8") == std::string("\x80\x7f", 2));
    CHECK(raw("u8") == std::string("\x00\xc8\xff", 3));
    CHECK(raw("bool") == std::string("\x01\x00", 2));
    CHECK(f.tensor("bool").dtype == io::SafetensorsDtype::boolean);
    // Integer tensors are listed and skippable, and never read as float.
    check_throws<FormatError>([&] { f.read_f32("i64"); },
                              {"st_dtypes.safetensors': tensor 'i64' has dtype I64, read_f32 "
                               "reads F32, F16 or BF16"});
    check_throws<FormatError>([&] { f.read_vector("u8", 3); }, {"tensor 'u8' has dtype U8"});
    check_throws<FormatError>([&] { f.read_i64("f32"); },
                              {"tensor 'f32' has dtype F32, read_i64 reads I64"});
}

TEST_CASE("safetensors: write_safetensors writes the Python library's bytes") {
    // The tensors of st_dtypes.safetensors, given in another order.
    std::vector<io::SafetensorsInput> in;
    const float f32[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    in.push_back(io::safetensors_f32("f32", {2, 3}, f32));
    const std::uint16_t f16[3] = {0x3C00, 0xB800, 0x7BFF};
    in.push_back(io::safetensors_f16_bits("f16", {3}, f16));
    const std::uint16_t bf16[3] = {0x3F80, 0xC040, 0x3E20};
    in.push_back(io::safetensors_bf16_bits("bf16", {3}, bf16));
    const std::int64_t i64[4] = {0, 1, -2, std::int64_t(1) << 62};
    in.push_back(io::safetensors_i64("i64", {1, 4}, i64));
    const double f64[2] = {1.5, -2.25};
    in.push_back(io::safetensors_f64("f64", {2}, f64));
    const auto raw = [](const char* name, io::SafetensorsDtype d, std::vector<std::uint64_t> shape,
                        const std::string& bytes) {
        io::SafetensorsInput t;
        t.name = name;
        t.dtype = d;
        t.shape = std::move(shape);
        t.bytes.assign(bytes.begin(), bytes.end());
        return t;
    };
    in.push_back(raw("u8", io::SafetensorsDtype::u8, {3}, std::string("\x00\xc8\xff", 3)));
    in.push_back(raw("bool", io::SafetensorsDtype::boolean, {2}, std::string("\x01\x00", 2)));
    in.push_back(raw("i8", io::SafetensorsDtype::i8, {2}, std::string("\x80\x7f", 2)));
    in.push_back(raw("i16", io::SafetensorsDtype::i16, {2}, std::string("\x00\x80\x07\x00", 4)));
    in.push_back(raw("i32", io::SafetensorsDtype::i32, {3},
                     std::string("\xff\xff\xff\xff\0\0\0\0\xff\xff\xff\x7f", 12)));
    const float three = 3.0f;
    in.push_back(io::safetensors_f32("scalar", {}, &three));
    in.push_back(io::safetensors_f32("empty", {0, 4}, nullptr));
    TempDir dir;
    const std::string p = dir.file("ours.safetensors");
    io::write_safetensors(p, in, {{"format", "pt"}});
    CHECK(read_file(p) == read_file(data_dir + "/st_dtypes.safetensors"));
    CHECK(dir.entries() == std::vector<std::string>{"ours.safetensors"});  // no temporary left
}

TEST_CASE("safetensors: F16 and BF16 convert exactly, as torch converts them") {
    const io::SafetensorsFile f(data_dir + "/st_patterns.safetensors");
    CHECK(f.metadata().at("made_by") == "scripts/safetensors_crosscheck.py");
    for (const char* kind : {"f16", "bf16"}) {
        INFO("dtype ", kind);
        const std::vector<float> got = f.read_f32(kind);
        const std::vector<float> want = f.read_f32(std::string(kind) + "_as_f32");
        REQUIRE(got.size() == 1024);
        REQUIRE(want.size() == 1024);
        const unsigned char* src = f.bytes(f.tensor(kind));
        int nan = 0, sub = 0, inf = 0;
        for (std::size_t i = 0; i < got.size(); ++i) {
            INFO("pattern ", i);
            if (std::isnan(want[i])) {
                // NaN stays NaN with its sign; torch and embedkit may differ in the quiet bit.
                CHECK(std::isnan(got[i]));
                CHECK(std::signbit(got[i]) == std::signbit(want[i]));
                ++nan;
            } else {
                CHECK(float_bits(got[i]) == float_bits(want[i]));  // exact, -0 included
                if (std::isinf(want[i])) ++inf;
                if (std::fpclassify(want[i]) == FP_SUBNORMAL ||
                    (kind[0] == 'f' && want[i] != 0 && std::fabs(want[i]) < 6.104e-5f))
                    ++sub;
            }
            // BF16 is the high half of the float, bit for bit (NaN payloads too).
            if (kind[0] == 'b')
                CHECK(float_bits(got[i]) ==
                      (std::uint32_t(src[2 * i]) << 16 | std::uint32_t(src[2 * i + 1]) << 24));
        }
        CHECK(nan >= 16);
        CHECK(inf >= 2);
        CHECK(sub >= 16);
    }
}

TEST_CASE("safetensors: round trips of every dtype through a written file") {
    TempDir dir;
    const std::string p = dir.file("rt.safetensors");
    embedkit::RowMatrixF w(3, 5);
    for (int i = 0; i < 15; ++i) w.data()[i] = static_cast<float>(i) * 0.25f - 2.0f;
    w(1, 1) = std::numeric_limits<float>::infinity();
    w(2, 4) = -0.0f;
    w(0, 3) = 1e-40f;               // subnormal
    Eigen::MatrixXf col_major = w;  // column-major input is written row-major
    Eigen::VectorXf v(4);
    v << 1, -2, 3.5f, 1e30f;
    std::vector<std::uint16_t> h = {0x0000, 0x8000, 0x0001, 0x03FF, 0x0400,
                                    0x7BFF, 0x7C00, 0xFC00, 0x3555};
    std::vector<std::uint16_t> b = {0x0000, 0x8000, 0x0001, 0x007F, 0x0080,
                                    0x7F7F, 0x7F80, 0xFF80, 0x3EAB};
    std::vector<std::int64_t> ids = {0, -1, std::numeric_limits<std::int64_t>::min(),
                                     std::numeric_limits<std::int64_t>::max()};
    const double d[3] = {1e300, -1e-300, 0.1};
    io::write_safetensors(
        p,
        {io::safetensors_f32("w", w), io::safetensors_f32("wc", col_major),
         io::safetensors_f32("v", v), io::safetensors_f16_bits("h", {3, 3}, h.data()),
         io::safetensors_bf16_bits("b", {9}, b.data()),
         io::safetensors_i64("ids", {2, 2}, ids.data()), io::safetensors_f64("d", {3}, d)},
        {{"a", "1"}, {"b", "\xC3\xA9\t\"x\""}});
    io::SafetensorsFile f(p);
    CHECK(f.header().data_offset() % 8 == 0);
    CHECK(f.metadata() == std::map<std::string, std::string>{{"a", "1"}, {"b", "\xC3\xA9\t\"x\""}});
    const embedkit::RowMatrixF w2 = f.read_matrix("w", 3, 5);
    for (int i = 0; i < 15; ++i) CHECK(float_bits(w2.data()[i]) == float_bits(w.data()[i]));
    CHECK(f.read_matrix("wc", 3, 5) == w);
    CHECK(f.read_vector("v", 4) == v);
    const std::vector<float> hf = f.read_f32("h");
    const std::vector<float> bf = f.read_f32("b");
    for (std::size_t i = 0; i < h.size(); ++i) {
        CHECK(float_bits(hf[i]) == float_bits(embedkit::detail::half_bits_to_float(h[i])));
        CHECK(float_bits(bf[i]) == std::uint32_t(b[i]) << 16);
    }
    CHECK(hf[2] == std::ldexp(1.0f, -24));   // the smallest F16 subnormal
    CHECK(bf[2] == std::ldexp(1.0f, -133));  // the smallest BF16 subnormal
    CHECK(std::isinf(hf[6]));
    CHECK(std::isinf(bf[7]));
    CHECK(bf[7] < 0);
    CHECK(f.read_i64("ids") == ids);
    const io::SafetensorsTensor& dt = f.tensor("d");
    double d2[3];
    std::memcpy(d2, f.bytes(dt), sizeof d2);
    CHECK(d2[0] == d[0]);
    CHECK(d2[2] == d[2]);
    // Tensors are packed in the Python library's order: I64, F64, F32 (by name), BF16, F16.
    std::vector<std::string> names;
    for (const io::SafetensorsTensor& t : f.tensors()) names.push_back(t.name);
    CHECK(names == std::vector<std::string>{"ids", "d", "v", "w", "wc", "b", "h"});
    CHECK(f.tensors().back().end == f.header().data_size());

    // A moved file keeps its mapping; the moved-from one holds none.
    io::SafetensorsFile g(std::move(f));
    CHECK(g.read_vector("v", 4) == v);
    io::SafetensorsFile k(data_dir + "/st_dtypes.safetensors");
    k = std::move(g);
    CHECK(k.read_i64("ids") == ids);
    CHECK(k.file_size() == read_file(p).size());
}

TEST_CASE("safetensors: shape-checked reads name the file, the tensor and both shapes") {
    TempDir dir;
    const std::string p = dir.file("m.safetensors");
    std::vector<float> q(384 * 384, 0.5f);
    io::write_safetensors(p, {io::safetensors_f32("encoder.layer.0.attention.self.query.weight",
                                                  {384, 384}, q.data()),
                              io::safetensors_f32("bias", {384}, q.data())});
    const io::SafetensorsFile f(p);
    check_throws<FormatError>(
        [&] { f.read_matrix("encoder.layer.0.attention.self.query.weight", 384, 128); },
        {"embedkit::io::safetensors: '" + p +
         "': tensor 'encoder.layer.0.attention.self.query.weight' has shape [384, 384], "
         "expected [384, 128]"});
    check_throws<FormatError>(
        [&] { f.read_vector("encoder.layer.0.attention.self.query.weight", 384); },
        {"has shape [384, 384], expected [384]"});
    check_throws<FormatError>([&] { f.read_matrix("bias", 1, 384); },
                              {"tensor 'bias' has shape [384], expected [1, 384]"});
    check_throws<FormatError>([&] { f.read_vector("bias", 383); },
                              {"has shape [384], expected [383]"});
    check_throws<FormatError>([&] { f.read_f32("pooler.dense.weight"); },
                              {"'" + p +
                               "': no tensor named 'pooler.dense.weight' (the file "
                               "holds 2 tensors)"});
    check_throws<ArgumentError>([&] { f.read_matrix("bias", -1, 384); },
                                {"rows and cols must be non-negative"});
    check_throws<ArgumentError>([&] { f.read_vector("bias", -1); }, {"n must be non-negative"});
    CHECK(f.contains("bias"));
    CHECK_FALSE(f.contains("Bias"));
    CHECK(f.find("nope") == nullptr);
    CHECK(f.read_vector("bias", 384).sum() == 192.0f);
}

TEST_CASE("safetensors: the length field and the header's place in the file") {
    for (std::size_t n = 0; n < 8; ++n) {
        const std::string b(n, '\0');
        check_throws<FormatError>([&] { view(b); }, {"file too short for a safetensors header (" +
                                                     std::to_string(n) + " bytes"});
    }
    std::string b = st_bytes("{}", "");
    b[0] = 3;  // header of 3 bytes in a 10-byte file
    check_throws<FormatError>([&] { view(b); }, {"truncated header (needs 11 bytes, file has 10)"});
    b = st_bytes("{}", "");
    b[7] = '\x01';  // 2^56 + 2
    check_throws<FormatError>([&] { view(b); },
                              {"header of 72057594037927938 bytes, more than the reader's limit "
                               "of 100000000 bytes"});
    b = st_bytes("{}", "");
    for (int i = 0; i < 8; ++i) b[static_cast<std::size_t>(i)] = '\xff';
    check_throws<FormatError>([&] { view(b); }, {"18446744073709551615 bytes, more than"});
    // A valid empty file: no tensors, and padding spaces after the object.
    CHECK(view(st_bytes("{}      ", "")).tensors().empty());
    CHECK(view(st_bytes("{\"__metadata__\":{}}", "")).metadata().empty());
}

TEST_CASE("safetensors: every truncation of a valid file is refused") {
    TempDir dir;
    const std::string p = dir.file("t.safetensors");
    const float x[6] = {1, 2, 3, 4, 5, 6};
    io::write_safetensors(p, {io::safetensors_f32("x", {2, 3}, x)}, {{"k", "v"}});
    const std::string whole = read_file(p);
    CHECK(view(whole).read_f32("x").size() == 6);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        INFO("truncated at ", n);
        const std::string cut = whole.substr(0, n);
        check_throws<FormatError>([&] { view(cut); }, {"'mem.safetensors'"});
    }
}

TEST_CASE("safetensors: the header must be a JSON object of valid entries") {
    const std::string d(24, '\0');
    rejects("[]", "", "the header is not a JSON object");
    rejects("   {}", "", "the header is not a JSON object");
    rejects("{\"a\": 1", "", "header: byte 7 (line 1, column 8): unexpected end of input");
    rejects("{\"a\":{},\"a\":{}}", "", "duplicate key \"a\"");
    rejects("{} x", "", "after the top-level value");
    rejects("{\"\xff\":{}}", "", "invalid UTF-8");
    rejects("{\"x\": 3}", "", "tensor 'x': entry must be an object, got number");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[2]}}", "",
            "tensor 'x': entry lacks one of dtype, shape, data_offsets");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", d,
            "tensor 'x': unknown field 'extra'");
    rejects("{\"x\": {\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", d,
            "tensor 'x': dtype must be a string, got number");
    rejects("{\"x\": {\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", d,
            "tensor 'x' has unsupported dtype 'F8_E4M3' (embedkit reads F64, F32");
    rejects("{\"x\": {\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", d,
            "unsupported dtype 'f32'");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,12]}}", d,
            "tensor 'x': shape must be an array, got number");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d,
            "tensor 'x': shape must hold integers from 0 to 2^63 - 1, got -1");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", d,
            "shape must hold integers from 0 to 2^63 - 1, got 1.5");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", d,
            "got string");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", d,
            "tensor 'x': data_offsets must be an array of two integers [begin, end]");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", d,
            "data_offsets must be an array of two integers");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", d,
            "data_offsets must be an array of two integers");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", d,
            "data_offsets must hold integers from 0 to 2^63 - 1, got -4");
    rejects("{\"x\": {\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}",
            d, "data_offsets must hold integers from 0 to 2^63 - 1");
    rejects("{\"__metadata__\": [\"a\"]}", "",
            "__metadata__ must be an object of strings, got array");
    rejects("{\"__metadata__\": {\"format\": \"pt\", \"n\": 3}}", "",
            "__metadata__ must be an object of strings, but 'n' is number");
    rejects("{\"__metadata__\": {\"format\": null}}", "", "but 'format' is null");
}

TEST_CASE("safetensors: offsets, sizes and overlaps are checked against the data buffer") {
    const std::string d(24, '\0');
    const auto entry = [](const std::string& name, const std::string& dtype,
                          const std::string& shape, std::uint64_t b, std::uint64_t e) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
               ",\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
    };
    // Past the end of the data buffer (24 bytes).
    rejects("{" + entry("x", "F32", "[7]", 0, 28) + "}", d,
            "tensor 'x': data_offsets [0, 28] reach past the data buffer of 24 bytes");
    rejects("{" + entry("x", "F32", "[0]", 25, 25) + "}", d, "reach past the data buffer");
    rejects("{" + entry("x", "F32", "[0]", 8, 4) + "}", d,
            "tensor 'x': data_offsets [8, 4] end before they begin");
    // Shape x element size against end - begin.
    rejects("{" + entry("x", "F32", "[2,3]", 0, 20) + "}", d,
            "tensor 'x' has shape [2, 3] of F32, which needs 24 bytes, but data_offsets [0, 20] "
            "hold 20");
    rejects("{" + entry("x", "F16", "[2,3]", 0, 24) + "}", d, "which needs 12 bytes");
    rejects("{" + entry("x", "F32", "[]", 0, 0) + "}", d, "has shape [] of F32, which needs 4");
    // Shapes whose element count or byte size overflows 64 bits.
    rejects("{" + entry("x", "F32", "[4294967296,4294967296]", 0, 0) + "}", d,
            "tensor 'x': shape [4294967296, 4294967296] overflows 64 bits");
    rejects("{" + entry("x", "F64", "[2305843009213693952]", 0, 0) + "}", d, "overflows 64 bits");
    // ... unless a dimension is 0: then the tensor is empty.
    const std::string empty = st_bytes(
        "{" + entry("x", "F64", "[9223372036854775807,9223372036854775807,0]", 0, 0) + "}", d);
    CHECK(view(empty).tensor("x").element_count() == 0);
}

TEST_CASE("safetensors: overlapping tensors are refused, adjacent and empty ones accepted") {
    const std::string d(24, '\0');
    const auto entry = [](const std::string& name, std::uint64_t b, std::uint64_t e) {
        return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(e - b) +
               "],\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) + "]}";
    };
    rejects("{" + entry("a", 0, 12) + "," + entry("b", 8, 20) + "}", d,
            "tensors 'a' [0, 12) and 'b' [8, 20) overlap");
    rejects("{" + entry("b", 8, 20) + "," + entry("a", 0, 12) + "}", d,
            "tensors 'a' [0, 12) and 'b' [8, 20) overlap");
    rejects("{" + entry("a", 4, 8) + "," + entry("b", 0, 24) + "}", d, "overlap");
    rejects("{" + entry("a", 0, 8) + "," + entry("b", 0, 8) + "}", d, "overlap");
    const io::SafetensorsView ok =
        view(st_bytes("{" + entry("a", 0, 12) + "," + entry("b", 12, 24) + "," +
                          entry("e", 12, 12) + "," + entry("f", 4, 4) + "}",
                      d));
    CHECK(ok.tensors().size() == 4);
    // Gaps are tolerated (the data buffer need not be covered).
    CHECK(view(st_bytes("{" + entry("a", 4, 8) + "}", d)).tensor("a").begin == 4);
}

TEST_CASE("safetensors: file errors and writer arguments") {
    TempDir dir;
    check_throws<IoError>([&] { io::SafetensorsFile f(dir.file("missing.safetensors")); },
                          {"SafetensorsFile: cannot open", "missing.safetensors"});
    check_throws<IoError>([&] { io::SafetensorsFile f(dir.path().string()); },
                          {"is a folder, not a safetensors file"});
    write_file(dir.file("empty.safetensors"), "");
    check_throws<FormatError>([&] { io::SafetensorsFile f(dir.file("empty.safetensors")); },
                              {"empty.safetensors': file too short for a safetensors header (0 "
                               "bytes"});
    write_file(dir.file("bad.safetensors"), st_bytes("{\"x\":1}", ""));
    check_throws<FormatError>([&] { io::SafetensorsFile f(dir.file("bad.safetensors")); },
                              {"bad.safetensors': tensor 'x': entry must be an object"});

    const float x[2] = {1, 2};
    const std::string p = dir.file("w.safetensors");
    check_throws<ArgumentError>(
        [&] {
            io::write_safetensors(
                p, {io::safetensors_f32("a", {2}, x), io::safetensors_f32("a", {1}, x)});
        },
        {"write_safetensors: tensor name 'a' appears twice"});
    check_throws<ArgumentError>(
        [&] { io::write_safetensors(p, {io::safetensors_f32("", {2}, x)}); },
        {"a tensor has an empty name"});
    check_throws<ArgumentError>(
        [&] { io::write_safetensors(p, {io::safetensors_f32("__metadata__", {2}, x)}); },
        {"'__metadata__' is reserved"});
    io::SafetensorsInput bad = io::safetensors_f32("a", {2}, x);
    bad.shape = {3};
    check_throws<ArgumentError>(
        [&] { io::write_safetensors(p, {bad}); },
        {"tensor 'a' of shape [3] and dtype F32 has 8 bytes, it needs 3 x 4"});
    check_throws<ArgumentError>(
        [&] { io::write_safetensors(p, {io::safetensors_f32("\xC3", {2}, x)}); },
        {"not valid UTF-8"});
    check_throws<ArgumentError>(
        [&] {
            io::safetensors_f32("a", {4294967296, 4294967296}, x);
        },
        {"overflows 64 bits"});
    check_throws<IoError>(
        [&] { io::write_safetensors(dir.file("no/such/folder.safetensors"), {}); },
        {"cannot create a temporary file beside"});
    CHECK(dir.entries() == std::vector<std::string>{"bad.safetensors", "empty.safetensors"});
}
