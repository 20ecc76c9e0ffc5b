// Compact sets as .npy files (io/compact_npy.hpp): round trips through write, read and map,
// and the FormatErrors of parts that do not belong together.
#include "io_test_util.hpp"

#include <embedkit/core/compact.hpp>
#include <embedkit/io/compact_npy.hpp>
#include <embedkit/io/npy.hpp>

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <random>

namespace {

using embedkit::CompactSet;
using embedkit::Int8Scale;
using embedkit::RowMatrixF;
using embedkit::Storage;

RowMatrixF compact_random_set(std::mt19937& rng, Eigen::Index rows, Eigen::Index dim) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    RowMatrixF m(rows, dim);
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index i = 0; i < dim; ++i) m(r, i) = u(rng);
    return m;
}

void compact_same_set(const CompactSet& a, const CompactSet& b) {
    REQUIRE(a.storage() == b.storage());
    REQUIRE(a.rows() == b.rows());
    REQUIRE(a.dim() == b.dim());
    REQUIRE(a.int8_scale() == b.int8_scale());
    REQUIRE(std::memcmp(a.data(), b.data(), a.data_bytes()) == 0);
    REQUIRE(a.scales() == b.scales());
    REQUIRE(a.norms() == b.norms());
}

}  // namespace

TEST_CASE("compact files: every storage round-trips through write, read and map") {
    iotest::TempDir dir;
    const auto tmp = [&](const char* name) { return dir.file(name); };
    std::mt19937 rng(91);
    const RowMatrixF x = compact_random_set(rng, 33, 21);
    for (Storage st : {Storage::f16, Storage::bf16, Storage::int8, Storage::binary})
        for (Int8Scale kind : {Int8Scale::per_row, Int8Scale::per_dim}) {
            if (st != Storage::int8 && kind == Int8Scale::per_dim) continue;
            INFO(embedkit::storage_name(st), " ", int(kind));
            embedkit::CompactOptions o;
            o.int8_scale = kind;
            const CompactSet c = embedkit::encode(x, st, o);
            const std::string path = tmp("set.npy");
            embedkit::io::write_compact(path, c);
            const Eigen::Index bdim = st == Storage::binary ? 21 : -1;
            compact_same_set(c, embedkit::io::read_compact(path, bdim));
            compact_same_set(c, embedkit::io::map_compact(path, bdim));
            CHECK(std::filesystem::exists(tmp("set.scales.npy")) == (st == Storage::int8));
            CHECK(std::filesystem::exists(tmp("set.norms.npy")) == (st != Storage::binary));
            const embedkit::io::NpyHeader h = embedkit::io::read_npy_header(path);
            CHECK(h.dtype == embedkit::io::detail::compact_dtype(st));
            if (st == Storage::binary) {
                CHECK(h.shape == std::vector<std::uint64_t>{33, 3});
                // Without the dimension: 8 x bytes, the padding bits as zero dimensions.
                CHECK(embedkit::io::read_compact(path).dim() == 24);
            }
        }
}

TEST_CASE("compact files: parts from different writes or of the wrong kind are FormatErrors") {
    iotest::TempDir dir;
    const auto tmp = [&](const char* name) { return dir.file(name); };
    std::mt19937 rng(92);
    const RowMatrixF x = compact_random_set(rng, 8, 16);
    const std::string path = tmp("e.npy");
    embedkit::io::write_compact(path, embedkit::encode(x, Storage::int8));
    const std::string scales = tmp("e.scales.npy");
    const std::string norms = tmp("e.norms.npy");
    // A norms file of another set of the same size.
    const RowMatrixF y = compact_random_set(rng, 8, 16);
    const CompactSet cy = embedkit::encode(y, Storage::int8);
    embedkit::io::write_npy<float>(norms, cy.norms().data(), {8});
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(path), doctest::Contains("different writes"),
                         embedkit::FormatError);
    std::filesystem::remove(norms);
    CHECK_NOTHROW(embedkit::io::read_compact(path));  // norms are optional
    std::filesystem::remove(scales);
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(path), doctest::Contains("scales file"),
                         embedkit::FormatError);
    embedkit::io::write_npy<float>(scales, cy.scales().data(), {2, 4});
    CHECK_THROWS_WITH_AS(embedkit::io::map_compact(path), doctest::Contains("fits neither"),
                         embedkit::FormatError);
    std::vector<float> bad(8, 1.0f);
    bad[3] = -1.0f;
    embedkit::io::write_npy<float>(scales, bad.data(), {8});
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(path), doctest::Contains("scale 3 is"),
                         embedkit::FormatError);
    // A float32 file is not a compact set.
    embedkit::io::write_npy(tmp("f.npy"), x);
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(tmp("f.npy")),
                         doctest::Contains("is not a compact set's"), embedkit::FormatError);
    // Binary padding bits set.
    std::vector<std::uint8_t> b(4, 0xFF);
    embedkit::io::write_npy<std::uint8_t>(tmp("b.npy"), b.data(), {2, 2});
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(tmp("b.npy"), 12),
                         doctest::Contains("bits set past dimension 12"), embedkit::FormatError);
    CHECK_THROWS_WITH_AS(embedkit::io::read_compact(tmp("b.npy"), 20),
                         doctest::Contains("cannot hold 20 dimensions"), embedkit::FormatError);
    CHECK_NOTHROW(embedkit::io::read_compact(tmp("b.npy"), 16));
}

TEST_CASE("compact files: numpy's encodings equal ours byte for byte and read back") {
    const std::string dir = EMBEDKIT_IO_TEST_DATA;
    const RowMatrixF x = embedkit::io::read_npy<float>(dir + "/compact_x.npy");
    const struct {
        const char* file;
        Storage storage;
    } cases[] = {{"compact_f16.npy", Storage::f16},
                 {"compact_bf16.npy", Storage::bf16},
                 {"compact_int8.npy", Storage::int8},
                 {"compact_bin.npy", Storage::binary}};
    for (const auto& c : cases) {
        INFO(c.file);
        const CompactSet ours = embedkit::encode(x, c.storage);
        const CompactSet theirs = embedkit::io::read_compact(
            dir + "/" + c.file, c.storage == Storage::binary ? x.cols() : -1);
        REQUIRE(theirs.storage() == c.storage);
        REQUIRE(theirs.rows() == x.rows());
        REQUIRE(theirs.dim() == x.cols());
        CHECK(std::memcmp(ours.data(), theirs.data(), ours.data_bytes()) == 0);
        CHECK(ours.scales() == theirs.scales());
        // numpy's norms file itself (the reader checks it and keeps its own computation).
        if (c.storage != Storage::binary) {
            const std::string stem = std::string(c.file).substr(0, std::string(c.file).size() - 4);
            const RowMatrixF np_norms =
                embedkit::io::read_npy<float>(dir + "/" + stem + ".norms.npy");
            REQUIRE(std::size_t(np_norms.size()) == ours.norms().size());
            for (std::size_t r = 0; r < ours.norms().size(); ++r)
                CHECK(ours.norms()[r] == doctest::Approx(np_norms.data()[r]).epsilon(1e-7));
        }
        // The numpy norms files were read and checked against the rows.
        const RowMatrixF decoded = embedkit::decode(theirs);
        CHECK(decoded == embedkit::decode(ours));
    }
}
