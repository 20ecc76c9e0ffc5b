// Bad-input rows of compact sets: encoding (CMP-01..08, 19..23), search (CMP-09..18) and their .npy
// files (CPF-01..13). docs/ERRORS.md lists the same rows.
#include "error_rows.hpp"

#include <embedkit/core/compact.hpp>
#include <embedkit/distance/compact.hpp>
#include <embedkit/io/compact_npy.hpp>
#include <embedkit/io/npy.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using embedkit::CompactSet;
using embedkit::Storage;

embedkit::RowMatrixF compact_rows(Eigen::Index rows, Eigen::Index dim) {
    embedkit::RowMatrixF x(rows, dim);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = static_cast<float>((i * 37 % 23) - 11) / 7.0f;
    return x;
}

struct CompactTempDir {
    std::filesystem::path dir;
    CompactTempDir() {
        dir = std::filesystem::temp_directory_path() /
              ("embedkit_errors_compact_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
    }
    ~CompactTempDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string file(const char* name) const { return (dir / name).string(); }
};

}  // namespace

TEST_CASE("bad input: compact sets, encoding") {
    embedkit::RowMatrixF x = compact_rows(2, 3);
    x(1, 2) = 70000.0f;
    EMBEDKIT_ERROR_ROW(
        "CMP-01", embedkit::ArgumentError,
        "embedkit::encode: the value 70000.000000 at row 1, column 2 is beyond f16's "
        "range (it would become infinite); use bf16",
        embedkit::encode(x, Storage::f16));
    x(1, 2) = std::numeric_limits<float>::quiet_NaN();
    EMBEDKIT_ERROR_ROW("CMP-02", embedkit::ArgumentError,
                       "embedkit::encode: the value at row 1, column 2 is nan; int8 stores finite "
                       "values only",
                       embedkit::encode(x, Storage::int8));
    x(1, 2) = 1.0f;
    EMBEDKIT_ERROR_ROW("CMP-03", embedkit::ArgumentError,
                       "embedkit::encode: unknown storage (enum value 9)",
                       embedkit::encode(x, static_cast<Storage>(9)));
    embedkit::CompactOptions o;
    o.int8_scale = embedkit::Int8Scale::per_dim;
    o.dim_scales = {1.0f, 1.0f};
    EMBEDKIT_ERROR_ROW("CMP-04", embedkit::DimensionError,
                       "embedkit::encode: 2 dim_scales for a set of dimension 3",
                       embedkit::encode(x, Storage::int8, o));
    o.dim_scales = {1.0f, -1.0f, 1.0f};
    EMBEDKIT_ERROR_ROW(
        "CMP-05", embedkit::ArgumentError,
        "embedkit::encode: dim_scales[1] is -1.000000 (scales must be finite and >= 0)",
        embedkit::encode(x, Storage::int8, o));
    o.int8_scale = embedkit::Int8Scale::per_row;
    EMBEDKIT_ERROR_ROW("CMP-06", embedkit::ArgumentError,
                       "embedkit::encode: dim_scales given with Int8Scale::per_row",
                       embedkit::encode(x, Storage::int8, o));
    x(0, 1) = std::numeric_limits<float>::infinity();
    EMBEDKIT_ERROR_ROW("CMP-07", embedkit::ArgumentError,
                       "embedkit::train_int8_scales: the value at row 0, column 1 is not finite",
                       embedkit::train_int8_scales(x));
    const std::vector<unsigned char> bytes(6, 0);
    EMBEDKIT_ERROR_ROW("CMP-08", embedkit::ArgumentError,
                       "embedkit::CompactSet: parts: 1 scales for 2 rows",
                       CompactSet::from_parts(Storage::int8, 2, 3, nullptr, bytes.data(),
                                              embedkit::Int8Scale::per_row, {1.0f}, {}, "parts"));
    EMBEDKIT_ERROR_ROW("CMP-19", embedkit::ArgumentError,
                       "embedkit::encode: rows of 0 dimensions (a compact set needs at least one)",
                       embedkit::encode(embedkit::RowMatrixF(2, 0), Storage::f16));
    embedkit::RowMatrixD big = embedkit::RowMatrixD::Ones(2, 3);
    big(0, 1) = 1e39;
    EMBEDKIT_ERROR_ROW("CMP-20", embedkit::ArgumentError,
                       "at row 0, column 1 is beyond float's range",
                       embedkit::encode(big, Storage::bf16));
    embedkit::CompactOptions f16_scales;
    f16_scales.dim_scales = {1.0f, 1.0f, 1.0f};
    EMBEDKIT_ERROR_ROW("CMP-21", embedkit::ArgumentError,
                       "embedkit::encode: dim_scales given for a f16 set (only int8 has scales)",
                       embedkit::encode(compact_rows(2, 3), Storage::f16, f16_scales));
    const std::vector<unsigned char> padded = {0xFF, 0xFF};
    EMBEDKIT_ERROR_ROW("CMP-22", embedkit::ArgumentError,
                       "embedkit::CompactSet: parts: row 0 has bits set past dimension 12 (the "
                       "padding must be zero)",
                       CompactSet::from_parts(Storage::binary, 1, 12, nullptr, padded.data(),
                                              embedkit::Int8Scale::per_row, {}, {}, "parts"));
    const std::vector<unsigned char> halves = {0x00, 0x3C, 0x00, 0x3C};  // f16 1.0, 1.0
    EMBEDKIT_ERROR_ROW("CMP-23", embedkit::ArgumentError,
                       "embedkit::CompactSet: parts: norm 0 is 2.000000 but the row's is 1.414214",
                       CompactSet::from_parts(Storage::f16, 1, 2, nullptr, halves.data(),
                                              embedkit::Int8Scale::per_row, {}, {2.0f}, "parts"));
}

TEST_CASE("bad input: compact sets, search") {
    const embedkit::RowMatrixF x = compact_rows(5, 4);
    const CompactSet f16 = embedkit::encode(x, Storage::f16);
    const CompactSet bin = embedkit::encode(x, Storage::binary);
    const Eigen::VectorXf q = x.row(0).transpose();
    EMBEDKIT_ERROR_ROW("CMP-09", embedkit::ArgumentError,
                       "embedkit::distances: compact sets support dot, l2, l2_squared and cosine, "
                       "not l1",
                       embedkit::distances(q, f16, embedkit::Metric::l1));
    EMBEDKIT_ERROR_ROW("CMP-10", embedkit::ArgumentError,
                       "embedkit::top_k: a binary set is searched with BitMetric::hamming or "
                       "BitMetric::jaccard (or with a Metric when re-ranking against float rows), "
                       "not dot",
                       embedkit::top_k(q, bin, 2, embedkit::Metric::dot));
    EMBEDKIT_ERROR_ROW("CMP-11", embedkit::ArgumentError,
                       "embedkit::distances: hamming needs a binary set, got f16",
                       embedkit::distances(q, f16, embedkit::BitMetric::hamming));
    const Eigen::VectorXf q3 = Eigen::VectorXf::Ones(3);
    EMBEDKIT_ERROR_ROW("CMP-12", embedkit::DimensionError,
                       "embedkit::distances: the query has dimension 3 but the set has dimension 4",
                       embedkit::distances(q3, f16, embedkit::Metric::dot));
    EMBEDKIT_ERROR_ROW("CMP-13", embedkit::ArgumentError,
                       "embedkit::top_k: k must be positive, got 0",
                       embedkit::top_k(q, f16, 0, embedkit::Metric::dot));
    EMBEDKIT_ERROR_ROW(
        "CMP-14", embedkit::ArgumentError,
        "embedkit::top_k: the re-ranking factor must be >= 1, got 0",
        embedkit::top_k(q, f16, 2, embedkit::Metric::dot, embedkit::rerank_with(x, 0)));
    const embedkit::RowMatrixF fewer = x.topRows(3);
    EMBEDKIT_ERROR_ROW(
        "CMP-15", embedkit::DimensionError,
        "embedkit::top_k: the re-ranking rows number 3, the set 5",
        embedkit::top_k(q, f16, 2, embedkit::Metric::dot, embedkit::rerank_with(fewer, 2)));
    const CompactSet empty = embedkit::encode(embedkit::RowMatrixF(0, 4), Storage::f16);
    EMBEDKIT_ERROR_ROW("CMP-16", embedkit::ArgumentError,
                       "embedkit::distances: the set is empty (0 rows)",
                       embedkit::distances(q, empty, embedkit::Metric::dot));
    EMBEDKIT_ERROR_ROW("CMP-17", embedkit::ArgumentError,
                       "embedkit::top_k: unknown BitMetric (enum value 7)",
                       embedkit::top_k(q, bin, 2, static_cast<embedkit::BitMetric>(7)));
    const CompactSet other = embedkit::encode(compact_rows(2, 6), Storage::int8);
    EMBEDKIT_ERROR_ROW("CMP-18", embedkit::DimensionError,
                       "embedkit::pairwise: A has dimension 4 but B has dimension 6",
                       embedkit::pairwise(f16, other, embedkit::Metric::dot));
}

TEST_CASE("bad input: compact set files") {
    const CompactTempDir tmp;
    const embedkit::RowMatrixF x = compact_rows(8, 16);
    const std::string path = tmp.file("e.npy");
    embedkit::io::write_compact(path, embedkit::encode(x, Storage::int8));
    embedkit::io::write_npy(tmp.file("f.npy"), x);
    EMBEDKIT_ERROR_ROW("CPF-01", embedkit::FormatError,
                       "f.npy': dtype '<f4' is not a compact set's ('<f2' f16, '<u2' bf16, '|i1' "
                       "int8, '|u1' binary)",
                       embedkit::io::read_compact(tmp.file("f.npy")));
    const std::vector<std::int8_t> flat(16, 1);
    embedkit::io::write_npy<std::int8_t>(tmp.file("flat.npy"), flat.data(), {16});
    EMBEDKIT_ERROR_ROW("CPF-02", embedkit::FormatError,
                       "flat.npy': expected a 2-D array, got shape (16,)",
                       embedkit::io::read_compact(tmp.file("flat.npy")));
    embedkit::io::write_npy<std::int8_t>(tmp.file("noscales.npy"), flat.data(), {2, 8});
    EMBEDKIT_ERROR_ROW("CPF-03", embedkit::FormatError,
                       "noscales.npy' is an int8 set, but its scales file",
                       embedkit::io::read_compact(tmp.file("noscales.npy")));
    const std::string scales = tmp.file("e.scales.npy");
    const std::vector<float> four(4, 1.0f);
    embedkit::io::write_npy<float>(scales, four.data(), {2, 2});
    EMBEDKIT_ERROR_ROW("CPF-04", embedkit::FormatError,
                       "e.scales.npy': shape (2, 2) fits neither per-row scales (8,) nor "
                       "per-dimension scales (1, 16)",
                       embedkit::io::read_compact(path));
    std::vector<float> bad(8, 1.0f);
    bad[3] = -1.0f;
    embedkit::io::write_npy<float>(scales, bad.data(), {8});
    EMBEDKIT_ERROR_ROW("CPF-05", embedkit::FormatError,
                       "e.scales.npy': scale 3 is -1.000000 (scales must be finite and >= 0)",
                       embedkit::io::read_compact(path));
    const std::vector<std::int32_t> ints(8, 1);
    embedkit::io::write_npy<std::int32_t>(scales, ints.data(), {8});
    EMBEDKIT_ERROR_ROW("CPF-06", embedkit::FormatError,
                       "e.scales.npy': dtype '<i4', expected '<f4' (float32)",
                       embedkit::io::read_compact(path));
    embedkit::io::write_compact(path, embedkit::encode(x, Storage::int8));
    const std::string norms = tmp.file("e.norms.npy");
    const std::vector<float> twice(8, 2.0f);
    embedkit::io::write_npy<float>(norms, twice.data(), {8});
    EMBEDKIT_ERROR_ROW("CPF-07", embedkit::FormatError,
                       "(the files are from different writes, or the set was changed)",
                       embedkit::io::map_compact(path));
    embedkit::io::write_npy<float>(norms, twice.data(), {2, 4});
    EMBEDKIT_ERROR_ROW("CPF-08", embedkit::FormatError, "e.norms.npy': shape (2, 4), expected (8,)",
                       embedkit::io::read_compact(path));
    const std::vector<std::uint8_t> ones(4, 0xFF);
    embedkit::io::write_npy<std::uint8_t>(tmp.file("b.npy"), ones.data(), {2, 2});
    EMBEDKIT_ERROR_ROW("CPF-09", embedkit::FormatError,
                       "b.npy': row 0 has bits set past dimension 12 (the padding must be zero)",
                       embedkit::io::read_compact(tmp.file("b.npy"), 12));
    EMBEDKIT_ERROR_ROW("CPF-10", embedkit::FormatError,
                       "b.npy': 2 bytes per row cannot hold 20 dimensions (expected 3)",
                       embedkit::io::read_compact(tmp.file("b.npy"), 20));
    EMBEDKIT_ERROR_ROW("CPF-11", embedkit::FormatError,
                       "e.npy': an int8 set of dimension 16, not 12",
                       embedkit::io::read_compact(path, 12));
    EMBEDKIT_ERROR_ROW("CPF-12", embedkit::IoError, "embedkit::io::map_compact: cannot open",
                       embedkit::io::map_compact(tmp.file("missing.npy")));
    EMBEDKIT_ERROR_ROW("CPF-13", embedkit::ArgumentError,
                       "embedkit::io::read_compact: binary_dim must be -1 (8 x the row bytes) or a "
                       "dimension from 1 to 2^40, got -2",
                       embedkit::io::read_compact(tmp.file("b.npy"), -2));
}
