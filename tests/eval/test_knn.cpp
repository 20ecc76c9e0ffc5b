// kNN evaluation and pair accuracy: hand-made sets with known answers (including vote ties
// and k beyond the training set), agreement with a brute-force vote, and the errors.
#include <embedkit/core/random.hpp>
#include <embedkit/eval/knn.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

namespace ek = embedkit;
using Labels = std::vector<std::uint8_t>;

namespace {

// One-dimensional points as an n x 1 set.
ek::RowMatrixD points(const std::vector<double>& x) {
    ek::RowMatrixD m(static_cast<Eigen::Index>(x.size()), 1);
    for (std::size_t i = 0; i < x.size(); ++i) m(static_cast<Eigen::Index>(i), 0) = x[i];
    return m;
}

// Brute force: sort by (long double distance, index), vote among the first min(k, n).
std::pair<std::uint8_t, std::uint8_t> brute_force(const ek::RowMatrixD& train,
                                                  const Labels& train_labels,
                                                  const ek::RowMatrixD& test, Eigen::Index row,
                                                  Eigen::Index k) {
    std::vector<std::pair<long double, Eigen::Index>> order;
    for (Eigen::Index j = 0; j < train.rows(); ++j) {
        long double s = 0;
        for (Eigen::Index c = 0; c < train.cols(); ++c) {
            const long double t = static_cast<long double>(train(j, c)) - test(row, c);
            s += t * t;
        }
        order.emplace_back(std::sqrt(s), j);
    }
    std::sort(order.begin(), order.end());
    const auto kk = static_cast<std::size_t>(std::min<Eigen::Index>(k, train.rows()));
    std::array<int, 256> votes{};
    std::array<std::size_t, 256> first_rank;
    first_rank.fill(kk);
    for (std::size_t r = 0; r < kk; ++r) {
        const std::uint8_t l = train_labels[static_cast<std::size_t>(order[r].second)];
        ++votes[l];
        first_rank[l] = std::min(first_rank[l], r);
    }
    int winner = -1;
    for (int l = 0; l < 256; ++l) {
        if (votes[std::size_t(l)] == 0) continue;
        if (winner < 0 || votes[std::size_t(l)] > votes[std::size_t(winner)] ||
            (votes[std::size_t(l)] == votes[std::size_t(winner)] &&
             first_rank[std::size_t(l)] < first_rank[std::size_t(winner)]))
            winner = l;
    }
    return {train_labels[static_cast<std::size_t>(order[0].second)],
            static_cast<std::uint8_t>(winner)};
}

}  // namespace

TEST_CASE("knn: hand-made 1-D set with majorities and vote ties") {
    // Label 0 at x = 0 and 3, label 1 at x = 1 and 2.
    const ek::RowMatrixD train = points({0, 1, 2, 3});
    const Labels train_labels{0, 1, 1, 0};
    // 0.4: neighbours 0(0) 1(1) 2(1) 3(0): 2-2 tie at k = 4, label 0 is nearest -> 0.
    // 0.6: neighbours 1(1) 0(0) 2(1) 3(0): tie again, label 1 is nearest -> 1.
    // 2.9: neighbours 3(0) 2(1) 1(1): 1-NN says 0, the 3-vote says 1.
    const ek::RowMatrixD test = points({0.4, 0.6, 2.9});
    {
        const auto r = ek::eval::knn_accuracy(train, train_labels, test, {0, 1, 1}, 3);
        CHECK(r.k == 3);
        CHECK(r.predicted_1 == Labels{0, 1, 0});
        CHECK(r.predicted_k == Labels{1, 1, 1});  // 0.4: 0(0) 1(1) 2(1) -> 1 by majority
        CHECK(r.accuracy_at_1 == doctest::Approx(2.0 / 3));
        CHECK(r.accuracy_at_k == doctest::Approx(2.0 / 3));
    }
    {
        const auto r = ek::eval::knn_accuracy(train, train_labels, test, {0, 1, 1}, 4);
        CHECK(r.k == 4);
        CHECK(r.predicted_k == Labels{0, 1, 0});  // every vote is 2-2: the nearest label wins
        CHECK(r.accuracy_at_k == doctest::Approx(2.0 / 3));
    }
    // k beyond the training set: all 4 vote, as with k = 4.
    {
        const auto r = ek::eval::knn_accuracy(train, train_labels, test, {0, 1, 0}, 100);
        CHECK(r.k == 4);
        CHECK(r.predicted_k == Labels{0, 1, 0});
        CHECK(r.accuracy_at_k == doctest::Approx(1.0));
        CHECK(r.accuracy_at_1 == doctest::Approx(1.0));
    }
    // k = 1: both accuracies agree.
    {
        const auto r = ek::eval::knn_accuracy(train, train_labels, test, {0, 1, 0}, 1);
        CHECK(r.predicted_k == r.predicted_1);
        CHECK(r.accuracy_at_k == r.accuracy_at_1);
    }
    // Three labels among 5 neighbours of 0.1 (ranks: x = 0, 1, 1.1, 1.2, 5).
    const ek::RowMatrixD t2 = points({0, 1, 1.1, 1.2, 5});
    // 7 at ranks 1 and 5, 3 at ranks 2 and 3, 9 at rank 4: a 2-2 tie that the nearest,
    // label 7, wins (the tie rule is about rank, not about the label's value).
    const auto r = ek::eval::knn_accuracy(t2, Labels{7, 3, 3, 9, 7}, points({0.1}), Labels{3}, 5);
    CHECK(r.predicted_1 == Labels{7});
    CHECK(r.predicted_k == Labels{7});
    CHECK(r.accuracy_at_k == 0.0);
    // 7 at rank 1 only, 3 at ranks 2, 3 and 5: the majority beats the nearest.
    const auto r2 = ek::eval::knn_accuracy(t2, Labels{7, 3, 3, 9, 3}, points({0.1}), Labels{3}, 5);
    CHECK(r2.predicted_1 == Labels{7});
    CHECK(r2.predicted_k == Labels{3});
    CHECK(r2.accuracy_at_1 == 0.0);
    CHECK(r2.accuracy_at_k == 1.0);
}

TEST_CASE("knn: other metrics, float, and row-major views") {
    // Dot product: the best neighbour is the largest inner product, not the closest point.
    ek::RowMatrixF train(3, 2);
    train << 1, 0, 0, 1, 10, -1;
    const Labels train_labels{0, 1, 2};
    ek::RowMatrixF test(2, 2);
    test << 0.9, 0.1, 0.1, 0.9;
    // (0.9, 0.1): dots 0.9, 0.1, 8.9; (0.1, 0.9): dots 0.1, 0.9, 0.1.
    const auto dot =
        ek::eval::knn_accuracy(train, train_labels, test, Labels{2, 1}, 1, ek::Metric::dot);
    CHECK(dot.predicted_1 == Labels{2, 1});
    CHECK(dot.accuracy_at_1 == 1.0);
    const auto l2 = ek::eval::knn_accuracy(train, train_labels, test, Labels{0, 1}, 1);
    CHECK(l2.predicted_1 == Labels{0, 1});
    CHECK(l2.accuracy_at_1 == 1.0);
    const auto cosine =
        ek::eval::knn_accuracy(train, train_labels, test, Labels{0, 1}, 2, ek::Metric::cosine);
    CHECK(cosine.predicted_1 == Labels{0, 1});
    // Each query's two nearest by angle have different labels: 1-1 votes go to the nearest.
    CHECK(cosine.predicted_k == Labels{0, 1});
    // A block of rows and a Map are row-major views and work without copies.
    const auto block =
        ek::eval::knn_accuracy(train.topRows(2), Labels{0, 1}, test.bottomRows(1), Labels{1}, 1);
    CHECK(block.predicted_1 == Labels{1});
    const Eigen::Map<const ek::RowMatrixF> map(test.data(), 2, 2);
    CHECK(ek::eval::knn_accuracy(train, train_labels, map, Labels{0, 1}).predicted_1 ==
          Labels{0, 1});
}

TEST_CASE("knn: agrees with a brute-force vote on random clusters") {
    ek::Rng rng(8);
    const Eigen::Index n = 300, m = 60, dim = 6;
    ek::RowMatrixD centres(4, dim), train(n, dim), test(m, dim);
    for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = rng.uniform(-1, 1);
    Labels train_labels, test_labels;
    auto fill = [&](ek::RowMatrixD& x, Labels& labels) {
        for (Eigen::Index r = 0; r < x.rows(); ++r) {
            const auto c = static_cast<std::uint8_t>(rng.uniform_index(4));
            labels.push_back(c);
            for (Eigen::Index j = 0; j < dim; ++j) x(r, j) = centres(c, j) + 0.6 * rng.normal();
        }
    };
    fill(train, train_labels);
    fill(test, test_labels);
    for (Eigen::Index k : {1, 2, 5, 8}) {
        CAPTURE(k);
        const auto r = ek::eval::knn_accuracy(train, train_labels, test, test_labels, k);
        std::size_t right_1 = 0, right_k = 0, mismatches = 0;
        for (Eigen::Index i = 0; i < m; ++i) {
            const auto want = brute_force(train, train_labels, test, i, k);
            mismatches += r.predicted_1[std::size_t(i)] != want.first;
            mismatches += r.predicted_k[std::size_t(i)] != want.second;
            right_1 += want.first == test_labels[std::size_t(i)];
            right_k += want.second == test_labels[std::size_t(i)];
        }
        CHECK(mismatches == 0);
        CHECK(r.accuracy_at_1 == doctest::Approx(double(right_1) / m));
        CHECK(r.accuracy_at_k == doctest::Approx(double(right_k) / m));
        // The clusters overlap but are learnable: well above chance (0.25).
        CHECK(r.accuracy_at_1 > 0.5);
    }
}

TEST_CASE("knn: labels of any integer type give the result of the same classes relabelled 0..k") {
    ek::Rng rng(9);
    const Eigen::Index n = 200, m = 50, dim = 4;
    ek::RowMatrixD centres(4, dim), train(n, dim), test(m, dim);
    for (Eigen::Index i = 0; i < centres.size(); ++i) centres.data()[i] = rng.uniform(-1, 1);
    Labels train_labels, test_labels;
    auto fill = [&](ek::RowMatrixD& x, Labels& labels) {
        for (Eigen::Index r = 0; r < x.rows(); ++r) {
            const auto c = static_cast<std::uint8_t>(rng.uniform_index(4));
            labels.push_back(c);
            for (Eigen::Index j = 0; j < dim; ++j) x(r, j) = centres(c, j) + 0.7 * rng.normal();
        }
    };
    fill(train, train_labels);
    fill(test, test_labels);
    const auto dense = ek::eval::knn_accuracy(train, train_labels, test, test_labels, 5);
    auto check_mapped = [&](const auto& to) {
        using L = typename std::decay_t<decltype(to)>::value_type;
        auto map = [&](const Labels& ls) {
            std::vector<L> out;
            for (std::uint8_t l : ls) out.push_back(to[l]);
            return out;
        };
        const auto r = ek::eval::knn_accuracy(train, map(train_labels), test, map(test_labels), 5);
        static_assert(std::is_same_v<decltype(r.predicted_1), std::vector<L>>);
        CHECK(r.accuracy_at_1 == dense.accuracy_at_1);
        CHECK(r.accuracy_at_k == dense.accuracy_at_k);
        CHECK(r.predicted_1 == map(dense.predicted_1));
        CHECK(r.predicted_k == map(dense.predicted_k));
    };
    // Labels that a byte would fold together (300 -> 44, 70000 -> 112), negative, beyond 2^32.
    check_mapped(std::vector<std::int64_t>{300, -5, 70000, std::int64_t(1) << 40});
    check_mapped(std::vector<std::int32_t>{300, 44, 70000, 112});
    check_mapped(std::vector<std::uint64_t>{std::uint64_t(1) << 63, 3, 2, 1});
    check_mapped(std::vector<std::int16_t>{-300, 300, 0, -1});
    // The uint8_t result type keeps its name.
    static_assert(std::is_same_v<decltype(dense), const ek::eval::KnnResult>);
}

TEST_CASE("knn: errors") {
    const ek::RowMatrixD train = points({0, 1, 2}), test = points({0.5, 1.5});
    const Labels tl{0, 1, 1}, ql{0, 1};
    CHECK_THROWS_WITH_AS(ek::eval::knn_accuracy(train, Labels{0, 1}, test, ql),
                         doctest::Contains("knn_accuracy: train_labels has 2 labels but 3 rows"),
                         ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::eval::knn_accuracy(train, tl, test, Labels{0}),
                         doctest::Contains("test_labels has 1 labels but 2 rows"),
                         ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::eval::knn_accuracy(train, tl, test, ql, 0),
                         doctest::Contains("k must be positive, got 0"), ek::ArgumentError);
    CHECK_THROWS_AS(ek::eval::knn_accuracy(train, tl, test, ql, -3), ek::ArgumentError);
    const ek::RowMatrixD none(0, 1);
    CHECK_THROWS_WITH_AS(ek::eval::knn_accuracy(none, Labels{}, test, ql),
                         doctest::Contains("training embeddings are empty"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::eval::knn_accuracy(train, tl, none, Labels{}),
                         doctest::Contains("test embeddings are empty"), ek::ArgumentError);
    const ek::RowMatrixD wide = ek::RowMatrixD::Zero(2, 3);
    CHECK_THROWS_WITH_AS(
        ek::eval::knn_accuracy(train, tl, wide, ql),
        doctest::Contains("training embeddings have 1 columns but test embeddings have 3"),
        ek::DimensionError);
}

TEST_CASE("knn: pair_accuracy counts distances below the threshold as similar") {
    ek::VectorD d(5);
    d << 0.1, 0.6, 0.4, 0.9, 0.5;
    const Labels similar{1, 1, 0, 0, 1};
    // predicted similar: 1 0 1 0 0 (0.5 is not below 0.5) -> right: yes no no yes no
    CHECK(ek::eval::pair_accuracy(d, similar) == doctest::Approx(2.0 / 5));
    CHECK(ek::eval::pair_accuracy(d, similar, 0.55) == doctest::Approx(3.0 / 5));
    CHECK(ek::eval::pair_accuracy(d, similar, 0.0) ==
          doctest::Approx(2.0 / 5));  // all "dissimilar"
    CHECK(ek::eval::pair_accuracy(d, similar, 1.0) == doctest::Approx(3.0 / 5));  // all "similar"
    const ek::VectorF df = d.cast<float>();
    CHECK(ek::eval::pair_accuracy(df, similar) == doctest::Approx(2.0 / 5));
    CHECK(ek::eval::pair_accuracy(df, similar, 0.55) == doctest::Approx(3.0 / 5));
    // A NaN distance is never "similar".
    ek::VectorD dn(2);
    dn << std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN();
    CHECK(ek::eval::pair_accuracy(dn, Labels{1, 0}) == doctest::Approx(0.5));
}

TEST_CASE("knn: pair_accuracy errors") {
    ek::VectorD d(2);
    d << 0.1, 0.2;
    CHECK_THROWS_WITH_AS(ek::eval::pair_accuracy(d, Labels{1}),
                         doctest::Contains("2 distances but 1 similar flags"), ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::eval::pair_accuracy(ek::VectorD(), Labels{}),
                         doctest::Contains("no pairs"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(
        ek::eval::pair_accuracy(d, Labels{1, 0}, std::numeric_limits<double>::quiet_NaN()),
        doctest::Contains("threshold is NaN"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::eval::pair_accuracy(d, Labels{1, 3}),
                         doctest::Contains("similar[1] must be 0 or 1, got 3"), ek::ArgumentError);
}
