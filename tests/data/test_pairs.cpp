// Pair generation: counts, balance, partners' labels, the documented order of draws,
// uniformity, the errors, and MNIST's label sets.
#include "../models/models_test_util.hpp"

#include <embedkit/data/pairs.hpp>
#include <embedkit/io/mnist.hpp>

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace ek = embedkit;
using Labels = std::vector<std::uint8_t>;

namespace {

// Checks every structural promise of make_pairs for `labels` and `opt`.
void check_structure(const Labels& labels, const ek::data::Pairs& p,
                     const ek::data::PairOptions& opt) {
    const std::size_t n = labels.size();
    const std::size_t per = opt.positives_per_sample + opt.negatives_per_sample;
    REQUIRE(p.size() == n * per);
    REQUIRE(p.second.size() == p.size());
    REQUIRE(p.similar.size() == p.size());
    std::vector<std::size_t> as_first(n, 0);
    std::size_t similar = 0, bad_order = 0, bad_partner = 0, bad_flag = 0;
    for (std::size_t k = 0; k < p.size(); ++k) {
        const std::uint32_t i = p.first[k], j = p.second[k];
        REQUIRE(i < n);
        REQUIRE(j < n);
        ++as_first[i];
        // Pair k belongs to sample k / per; its first `positives` pairs are positives.
        const bool positive_slot = k % per < opt.positives_per_sample;
        bad_order += i != k / per;
        bad_partner += i == j;
        bad_flag += p.similar[k] != (labels[i] == labels[j] ? 1 : 0);
        bad_flag += p.similar[k] != (positive_slot ? 1 : 0);
        similar += p.similar[k];
    }
    CHECK(bad_order == 0);
    CHECK(bad_partner == 0);
    CHECK(bad_flag == 0);
    CHECK(similar == n * opt.positives_per_sample);
    std::size_t wrong_count = 0;
    for (std::size_t c : as_first) wrong_count += c != per;
    CHECK(wrong_count == 0);
}

}  // namespace

TEST_CASE("pairs: default options give one positive and one negative per sample") {
    const Labels labels{0, 1, 0, 2, 1, 0, 2, 2, 1, 0};
    ek::Rng rng(5);
    const ek::data::Pairs p = ek::data::make_pairs(labels, rng);
    check_structure(labels, p, {});
    CHECK(p.size() == 20);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        CHECK(p.first[2 * i] == i);
        CHECK(p.similar[2 * i] == 1);
        CHECK(p.similar[2 * i + 1] == 0);
    }
}

TEST_CASE("pairs: configurable counts keep every sample first exactly pos + neg times") {
    const Labels labels{3, 3, 7, 7, 7, 3, 9, 9, 3, 7, 9};
    for (const ek::data::PairOptions opt :
         {ek::data::PairOptions{3, 2}, ek::data::PairOptions{0, 4}, ek::data::PairOptions{5, 0},
          ek::data::PairOptions{1, 1}}) {
        CAPTURE(opt.positives_per_sample);
        CAPTURE(opt.negatives_per_sample);
        ek::Rng rng(17);
        check_structure(labels, ek::data::make_pairs(labels, rng, opt), opt);
    }
    ek::Rng rng(1);
    CHECK(ek::data::make_pairs(labels, rng, {0, 0}).size() == 0);
}

TEST_CASE("pairs: deterministic for a seed and one uniform_index draw per partner in order") {
    const Labels labels{0, 1, 0, 2, 1, 0, 2, 2, 1, 0, 4, 4};
    const ek::data::PairOptions opt{2, 3};
    ek::Rng r1(99), r2(99), r3(100);
    const auto a = ek::data::make_pairs(labels, r1, opt);
    const auto b = ek::data::make_pairs(labels, r2, opt);
    const auto c = ek::data::make_pairs(labels, r3, opt);
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
    CHECK(a.similar == b.similar);
    CHECK(r1 == r2);
    CHECK(a.second != c.second);
    // The documented draws: for each sample in order, `pos` draws from (label count - 1),
    // then `neg` draws from (n - label count). Replaying them leaves the same state.
    std::array<std::size_t, 256> count{};
    for (auto l : labels) ++count[l];
    ek::Rng replay(99);
    for (auto l : labels) {
        for (std::size_t t = 0; t < opt.positives_per_sample; ++t)
            replay.uniform_index(count[l] - 1);
        for (std::size_t t = 0; t < opt.negatives_per_sample; ++t)
            replay.uniform_index(labels.size() - count[l]);
    }
    CHECK(replay == r1);
    // A second call continues the stream and so gives other pairs.
    const auto d = ek::data::make_pairs(labels, r1, opt);
    CHECK(d.second != a.second);
}

TEST_CASE("pairs: labels of any integer type give the pairs of the same classes relabelled 0..k") {
    // Four classes whose labels do not fit a byte (300 would have become 44, 70000 112,
    // -5 251 and 2^40 0, merging nothing here but 300 and 44 in the second set below).
    const std::vector<std::int64_t> wide{
        300, 70000, -5, std::int64_t(1) << 40, 300, -5, 70000, std::int64_t(1) << 40, 300, -5};
    // The same classes in the same order of value: -5 < 300 < 70000 < 2^40.
    const Labels dense{1, 2, 0, 3, 1, 0, 2, 3, 1, 0};
    const ek::data::PairOptions opt{2, 3};
    ek::Rng r1(11), r2(11), r3(11);
    const auto pw = ek::data::make_pairs(wide, r1, opt);
    const auto pd = ek::data::make_pairs(dense, r2, opt);
    CHECK(pw.first == pd.first);
    CHECK(pw.second == pd.second);
    CHECK(pw.similar == pd.similar);
    CHECK(r1.next_u64() == r2.next_u64());
    const std::vector<std::uint64_t> wide_u(wide.begin(),
                                            wide.end());  // -5 becomes 2^64 - 5: largest
    const auto pu = ek::data::make_pairs(wide_u, r3, opt);
    CHECK(pu.similar == pd.similar);
    CHECK(pu.second.size() == pd.second.size());
    // 300 and 44 are different classes: as bytes they would be one, and pairs (300, 44) "similar".
    const std::vector<std::int32_t> clash{300, 44, 300, 44};
    ek::Rng r4(3);
    const auto pc = ek::data::make_pairs(clash, r4);
    for (std::size_t k = 0; k < pc.size(); ++k)
        CHECK(pc.similar[k] == (clash[pc.first[k]] == clash[pc.second[k]] ? 1 : 0));
    // Each sample's one positive is the other sample with its label.
    CHECK(pc.second[0] == 2);
    CHECK(pc.second[2] == 3);
    CHECK(pc.second[4] == 0);
    CHECK(pc.second[6] == 1);
    // Errors name the label in full.
    const std::vector<std::int64_t> single{70000, -5, -5};
    ek::Rng r5(1);
    CHECK_THROWS_WITH_AS(ek::data::make_pairs(single, r5),
                         doctest::Contains("label 70000 has a single sample"), ek::ArgumentError);
    const std::vector<std::int64_t> one{-5, -5};
    CHECK_THROWS_WITH_AS(ek::data::make_pairs(one, r5),
                         doctest::Contains("every sample has label -5"), ek::ArgumentError);
}

TEST_CASE("pairs: partners are uniform over the candidates") {
    // Sample 0 has label 0 like samples 4, 6 and 9; the others have labels 1 and 2, so its
    // negatives should be spread evenly over the six other samples, whatever their label.
    const Labels labels{0, 1, 1, 2, 0, 1, 0, 2, 1, 0};
    const ek::data::PairOptions opt{3000, 6000};
    ek::Rng rng(2024);
    const auto p = ek::data::make_pairs(labels, rng, opt);
    std::array<std::size_t, 10> hits{};
    const std::size_t per = opt.positives_per_sample + opt.negatives_per_sample;
    for (std::size_t k = 0; k < per; ++k) ++hits[p.second[k]];
    // Expected 1000 per candidate; the standard deviation is about 26-30, so +-150 is over
    // 5 sigma (and the seed is fixed, so the outcome cannot change between runs).
    for (std::size_t j : {4u, 6u, 9u}) {
        CAPTURE(j);
        CHECK(hits[j] > 850);
        CHECK(hits[j] < 1150);
    }
    for (std::size_t j : {1u, 2u, 3u, 5u, 7u, 8u}) {
        CAPTURE(j);
        CHECK(hits[j] > 850);
        CHECK(hits[j] < 1150);
    }
    CHECK(hits[0] == 0);
    // A label with two samples: the positive partner is always the other one.
    const Labels two{5, 5, 6, 6};
    ek::Rng r2(3);
    const auto q = ek::data::make_pairs(two, r2, {4, 1});
    for (std::size_t k = 0; k < 4; ++k) {
        CHECK(q.second[k] == 1);
        CHECK(q.second[5 + k] == 0);
        CHECK(q.second[10 + k] == 3);
        CHECK(q.second[15 + k] == 2);
    }
    CHECK(q.second[4] >= 2);  // the negatives of label 5 are samples 2 and 3
    CHECK(q.second[9] >= 2);
    CHECK(q.second[14] <= 1);
    CHECK(q.second[19] <= 1);
}

TEST_CASE("pairs: errors name the problem") {
    ek::Rng rng(1);
    CHECK_THROWS_WITH_AS(ek::data::make_pairs({}, rng),
                         doctest::Contains("make_pairs: labels are empty"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::data::make_pairs({1, 1, 7, 2, 2}, rng),
                         doctest::Contains("label 7 has a single sample"), ek::ArgumentError);
    // Without positives a single-sample label is fine.
    CHECK(ek::data::make_pairs({1, 1, 7, 2, 2}, rng, {0, 2}).size() == 10);
    CHECK_THROWS_WITH_AS(
        ek::data::make_pairs({4, 4, 4}, rng),
        doctest::Contains("every sample has label 4, so there is no negative partner"),
        ek::ArgumentError);
    CHECK(ek::data::make_pairs({4, 4, 4}, rng, {2, 0}).size() == 6);
    const std::size_t huge = std::numeric_limits<std::size_t>::max();
    CHECK_THROWS_WITH_AS(ek::data::make_pairs({0, 0, 1, 1}, rng, {huge, 1}),
                         doctest::Contains("overflows"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::data::make_pairs({0, 0, 1, 1}, rng, {huge / 2, 1}),
                         doctest::Contains("overflows"), ek::ArgumentError);
    // A failed call draws nothing.
    ek::Rng fresh(1), probe(1);
    CHECK_THROWS_AS(ek::data::make_pairs({3}, probe), ek::ArgumentError);
    CHECK(probe == fresh);
}

TEST_CASE("pairs: MNIST labels give 120000 training and 20000 test pairs, half similar") {
    const std::string dir = modeltest::mnist_dir_or_skip();
    if (dir.empty()) return;
    for (const bool train : {true, false}) {
        CAPTURE(train);
        const auto names =
            ek::io::mnist_file_names(train ? ek::io::MnistSplit::train : ek::io::MnistSplit::test);
        std::string path = (std::filesystem::path(dir) / names.second).string();
        if (!std::filesystem::exists(path)) path += ".gz";
        const Labels labels = ek::io::read_idx_labels(path);
        const std::size_t n = train ? 60000 : 10000;
        REQUIRE(labels.size() == n);
        ek::Rng rng(42);
        const ek::data::Pairs p = ek::data::make_pairs(labels, rng);
        CHECK(p.size() == 2 * n);
        std::size_t similar = 0;
        for (auto s : p.similar) similar += s;
        CHECK(similar == n);
        check_structure(labels, p, {});
    }
}
