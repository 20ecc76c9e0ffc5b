// Losses: values against direct formulas in long double, gradient checks including
// saturated logits, and the error paths.
#include "nn_test_util.hpp"

#include <embedkit/distance/dispatch.hpp>
#include <embedkit/nn/loss.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace ek = embedkit;
using nntest::MatD;

TEST_CASE("loss: bce_with_logits equals the textbook formula and never takes log(0)") {
    ek::Rng rng(1);
    const MatD x = nntest::random_matrix(3, 8, rng, -6, 6);
    const MatD t = nntest::random_matrix(3, 8, rng, 0, 1);
    MatD g;
    const double got = ek::nn::bce_with_logits(x, t, g);
    long double want = 0;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const long double p = 1.0L / (1.0L + std::exp(-static_cast<long double>(x.data()[i])));
        want -= t.data()[i] * std::log(p) + (1 - t.data()[i]) * std::log(1 - p);
    }
    CHECK(got == doctest::Approx(static_cast<double>(want / 3)).epsilon(1e-12));
    // Saturated logits: float would give log(0) = -inf in the naive form.
    ek::RowMatrixF xs(1, 4), ts(1, 4);
    xs << 100, -100, 100, -100;
    ts << 1, 0, 0, 1;
    ek::RowMatrixF gs;
    const double v = ek::nn::bce_with_logits(xs, ts, gs);
    CHECK(std::isfinite(v));
    CHECK(v == doctest::Approx(200.0).epsilon(1e-6));
    CHECK(gs.allFinite());
    CHECK(gs(0, 0) == doctest::Approx(0.0));
    CHECK(gs(0, 2) == doctest::Approx(1.0));
}

TEST_CASE("loss: float bce_with_logits at every SIMD level matches double, targets as blocks too") {
    // The float loss runs linalg's elementwise kernel at the avx2/avx512 levels and Eigen at the
    // others; the double loss (Eigen) is the reference. Targets given as a block of a wider
    // matrix (rows further apart than their length) must give the same values.
    ek::Rng rng(8);
    const MatD xd = nntest::random_matrix(9, 37, rng, -30, 30);
    const MatD wide = nntest::random_matrix(9, 50, rng, 0, 1);
    const ek::RowMatrixF x = xd.cast<float>();
    const ek::RowMatrixF wide_f = wide.cast<float>();
    const ek::RowMatrixF t = wide_f.leftCols(37);
    MatD gd;
    const double want = ek::nn::bce_with_logits(x.cast<double>().eval(), t.cast<double>(), gd);
    for (const ek::simd::Level level : ek::simd::supported()) {
        const ek::simd::Scoped forced(level);
        INFO("level ", std::string(ek::simd::level_name(level)));
        ek::RowMatrixF g1, g2;
        const double a = ek::nn::bce_with_logits(x, t, g1);
        const double b = ek::nn::bce_with_logits(x, wide_f.leftCols(37), g2);
        CHECK(a == doctest::Approx(want).epsilon(1e-6));
        CHECK((g1.cast<double>() - gd).cwiseAbs().maxCoeff() <= 1e-7);
        if (ek::linalg::detail::elementwise_kernels(level) != nullptr) {
            // The kernel sees the block's values copied into one run: the same bits.
            CHECK(b == a);
            CHECK((g2 - g1).cwiseAbs().maxCoeff() == 0.0f);
        } else {
            // Eigen's expression sums and vectorises a strided block in another order.
            CHECK(b == doctest::Approx(a).epsilon(1e-6));
            CHECK((g2.cast<double>() - gd).cwiseAbs().maxCoeff() <= 1e-7);
        }
    }
}

TEST_CASE("loss: gradient checks for BCE, MSE and KL including saturated logits") {
    ek::Rng rng(2);
    ek::nn::GradCheckOptions opt;
    MatD t = nntest::random_matrix(4, 6, rng, 0, 1);
    t(0, 0) = 0;
    t(0, 1) = 1;
    for (double scale : {3.0, 50.0}) {
        CAPTURE(scale);
        // Logits of size 50 make losses of ~150, whose rounding noise (1e-16 * 150 / h) would
        // swamp gradients of 1e-4 at h = 1e-6; the loss is smooth, so a larger h is exact enough.
        opt.step = scale > 10 ? 1e-4 : 1e-6;
        MatD x = nntest::random_matrix(4, 6, rng, -scale, scale);
        x(1, 0) = 50;
        x(1, 1) = -50;
        MatD g;
        std::vector<ek::nn::Parameter<double>> p{nntest::view(x, g, "logits")};
        MatD scratch;
        auto loss = [&] { return ek::nn::bce_with_logits(x, t, g); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
    opt.step = 1e-6;
    {
        MatD y = nntest::random_matrix(5, 3, rng), g;
        const MatD target = nntest::random_matrix(5, 3, rng);
        std::vector<ek::nn::Parameter<double>> p{nntest::view(y, g, "prediction")};
        auto loss = [&] { return ek::nn::mean_squared_error(y, target, g); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
    {
        MatD mu = nntest::random_matrix(5, 2, rng, -2, 2),
             lv = nntest::random_matrix(5, 2, rng, -4, 4);
        MatD gmu, glv;
        std::vector<ek::nn::Parameter<double>> p{nntest::view(mu, gmu, "mu"),
                                                 nntest::view(lv, glv, "log_var")};
        auto loss = [&] { return ek::nn::kl_standard_normal(mu, lv, gmu, glv); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
}

TEST_CASE("loss: KL is zero at the prior and matches the closed form") {
    MatD mu = MatD::Zero(3, 2), lv = MatD::Zero(3, 2), gmu, glv;
    CHECK(ek::nn::kl_standard_normal(mu, lv, gmu, glv) == doctest::Approx(0.0));
    CHECK(gmu.isZero(0));
    CHECK(glv.isZero(0));
    mu << 1, 2, 0, 0, -1, 0.5;
    lv << 0.3, -0.2, 1, 1, 0, -3;
    long double want = 0;
    for (Eigen::Index i = 0; i < mu.size(); ++i) {
        const long double m = mu.data()[i], l = lv.data()[i];
        want += -0.5L * (1 + l - m * m - std::exp(l));
    }
    CHECK(ek::nn::kl_standard_normal(mu, lv, gmu, glv) ==
          doctest::Approx(static_cast<double>(want / 3)).epsilon(1e-12));
    // Huge log-variances are clamped, not overflowed.
    ek::RowMatrixF mf = ek::RowMatrixF::Zero(1, 2), lf(1, 2), gm, gl;
    lf << 200, -200;
    const double v = ek::nn::kl_standard_normal(mf, lf, gm, gl);
    CHECK(std::isfinite(v));
    CHECK(gl.allFinite());
    CHECK(gl(0, 0) == 0.0f);
}

TEST_CASE("loss: MSE value and reductions") {
    MatD p(2, 2), t(2, 2), g;
    p << 1, 2, 3, 4;
    t << 0, 2, 5, 4;
    CHECK(ek::nn::mean_squared_error(p, t, g) == doctest::Approx(5.0 / 4));
    CHECK(g(0, 0) == doctest::Approx(0.5));
    CHECK(g(1, 0) == doctest::Approx(-1.0));
}

TEST_CASE("loss: shape mismatches and empty batches throw") {
    MatD a(2, 3), b(3, 2), g, g2;
    a.setZero();
    b.setZero();
    CHECK_THROWS_WITH_AS(ek::nn::bce_with_logits(a, b, g),
                         doctest::Contains("logits is 2x3 but targets is 3x2"), ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::mean_squared_error(a, b, g), ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::kl_standard_normal(a, b, g, g2), ek::DimensionError);
    MatD e(0, 3);
    CHECK_THROWS_WITH_AS(ek::nn::bce_with_logits(e, e, g), doctest::Contains("empty batch"),
                         ek::ArgumentError);
}

// ---- Contrastive and batch-hard triplet losses ----

namespace {

// b = a + (unit random direction) * distance[i], row by row: pairs at chosen distances.
MatD at_distances(const MatD& a, const std::vector<double>& distance, ek::Rng& rng) {
    MatD b = a;
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
        Eigen::RowVectorXd u(a.cols());
        for (Eigen::Index j = 0; j < a.cols(); ++j) u[j] = rng.normal();
        b.row(i) += u.normalized() * distance[static_cast<std::size_t>(i)];
    }
    return b;
}

long double distance_ld(const MatD& x, Eigen::Index i, const MatD& y, Eigen::Index j) {
    long double s = 0;
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
        const long double t = static_cast<long double>(x(i, c)) - static_cast<long double>(y(j, c));
        s += t * t;
    }
    return std::sqrt(s);
}

long double contrastive_ld(const MatD& a, const MatD& b, const std::vector<std::uint8_t>& similar,
                           long double margin) {
    long double total = 0;
    for (Eigen::Index i = 0; i < a.rows(); ++i) {
        const long double d = distance_ld(a, i, b, i);
        const long double gap = margin - d > 0 ? margin - d : 0;
        total += similar[static_cast<std::size_t>(i)] ? d * d : gap * gap;
    }
    return total / a.rows();
}

// Direct batch-hard reference, with the smallest gaps that make the loss differentiable:
// between the hardest partner and the runner-up, and between the hinge and 0.
struct TripletRef {
    long double loss = 0;
    long double min_partner_gap = 1e300L;
    long double min_hinge_gap = 1e300L;
    int active = 0;
    int anchors = 0;
};

TripletRef triplet_ld(const MatD& e, const std::vector<std::uint8_t>& labels, long double margin) {
    TripletRef r;
    long double total = 0;
    for (Eigen::Index i = 0; i < e.rows(); ++i) {
        std::vector<long double> pos, neg;
        for (Eigen::Index j = 0; j < e.rows(); ++j) {
            if (j == i) continue;
            (labels[std::size_t(j)] == labels[std::size_t(i)] ? pos : neg)
                .push_back(distance_ld(e, i, e, j));
        }
        if (pos.empty() || neg.empty()) continue;
        std::sort(pos.begin(), pos.end());
        std::sort(neg.begin(), neg.end());
        if (pos.size() > 1)
            r.min_partner_gap = std::min(r.min_partner_gap, pos.back() - pos[pos.size() - 2]);
        if (neg.size() > 1) r.min_partner_gap = std::min(r.min_partner_gap, neg[1] - neg[0]);
        const long double hinge = margin + pos.back() - neg.front();
        r.min_hinge_gap = std::min(r.min_hinge_gap, std::abs(hinge));
        ++r.anchors;
        if (hinge > 0) {
            total += hinge;
            ++r.active;
        }
    }
    r.loss = r.anchors > 0 ? total / r.anchors : 0;
    return r;
}

}  // namespace

TEST_CASE("loss: contrastive_loss equals the direct formula on both sides of the margin") {
    ek::Rng rng(11);
    const MatD a = nntest::random_matrix(6, 5, rng);
    // similar, similar, dissimilar inside the margin (twice), dissimilar beyond it (twice)
    const MatD b = at_distances(a, {0.7, 0.3, 0.4, 0.6, 1.5, 2.2}, rng);
    const std::vector<std::uint8_t> similar{1, 1, 0, 0, 0, 0};
    MatD ga, gb;
    ek::VectorD d;
    const double got = ek::nn::contrastive_loss(a, b, similar, 1.0, ga, gb, &d);
    CHECK(got ==
          doctest::Approx(static_cast<double>(contrastive_ld(a, b, similar, 1.0L))).epsilon(1e-13));
    // (0.49 + 0.09 + 0.36 + 0.16) / 6
    CHECK(got == doctest::Approx(1.1 / 6).epsilon(1e-12));
    REQUIRE(d.size() == 6);
    for (Eigen::Index i = 0; i < 6; ++i)
        CHECK(d[i] == doctest::Approx(static_cast<double>(distance_ld(a, i, b, i))).epsilon(1e-14));
    CHECK((gb + ga).cwiseAbs().maxCoeff() == 0.0);
    CHECK(ga.row(4).isZero(0));  // beyond the margin: no gradient
    CHECK(ga.row(5).isZero(0));
    // Similar pairs: 2 (a - b) / n exactly as written.
    CHECK(ga.row(0).isApprox((a.row(0) - b.row(0)) * (2.0 / 6), 1e-14));
    const ek::VectorD pd = ek::nn::pair_distances(a, b);
    CHECK(pd.isApprox(d, 1e-15));
    // The float instantiation agrees to float precision; a double literal margin is fine.
    const ek::RowMatrixF af = a.cast<float>(), bf = b.cast<float>();
    ek::RowMatrixF gaf, gbf;
    const double gotf = ek::nn::contrastive_loss(af, bf, similar, 1.0, gaf, gbf);
    CHECK(gotf == doctest::Approx(got).epsilon(1e-5));
    CHECK(gaf.cast<double>().isApprox(ga, 1e-4));
    CHECK(ek::nn::pair_distances(af, bf).cast<double>().isApprox(d, 1e-5));
}

TEST_CASE("loss: contrastive_loss gradient checks for similar pairs and both sides of the margin") {
    ek::Rng rng(12);
    ek::nn::GradCheckOptions opt;
    for (double margin : {1.0, 2.5}) {
        CAPTURE(margin);
        MatD a = nntest::random_matrix(6, 4, rng);
        MatD b = at_distances(
            a, {0.05, 1.7, 0.2 * margin, 0.8 * margin, 1.3 * margin, 3.0 * margin}, rng);
        const std::vector<std::uint8_t> similar{1, 1, 0, 0, 0, 0};
        MatD ga, gb;
        std::vector<ek::nn::Parameter<double>> p{nntest::view(a, ga, "a"),
                                                 nntest::view(b, gb, "b")};
        auto loss = [&] { return ek::nn::contrastive_loss(a, b, similar, margin, ga, gb); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss, opt), 1e-6);
    }
}

TEST_CASE("loss: contrastive_loss at distance 0 is finite with a zero dissimilar gradient") {
    MatD a(3, 3);
    a << 0.5, -1, 2, 0.5, -1, 2, 3, 0, 0;
    MatD b = a;     // every pair at distance exactly 0
    b(2, 0) = 3.5;  // except the last, a similar pair at 0.5
    const std::vector<std::uint8_t> similar{0, 1, 1};
    MatD ga, gb;
    ek::VectorD d;
    const double v = ek::nn::contrastive_loss(a, b, similar, 2.0, ga, gb, &d);
    CHECK(std::isfinite(v));
    CHECK(v == doctest::Approx((4.0 + 0.0 + 0.25) / 3));  // margin^2 for the dissimilar pair
    CHECK(ga.allFinite());
    CHECK(gb.allFinite());
    CHECK(ga.row(0).isZero(0));  // the subgradient 0 where the direction is undefined
    CHECK(ga.row(1).isZero(0));  // the similar term's gradient 2 (a - b) is 0 there
    CHECK(ga(2, 0) == doctest::Approx(2.0 * -0.5 / 3));
    CHECK(d[0] == 0.0);
    // Distances whose squares underflow: still finite and no division by 0.
    ek::RowMatrixF af = ek::RowMatrixF::Zero(2, 4), bf = ek::RowMatrixF::Zero(2, 4), gaf, gbf;
    af(0, 0) = 1e-30f;
    bf(1, 3) = -1e-25f;
    const double vf = ek::nn::contrastive_loss(af, bf, {0, 0}, 1.0, gaf, gbf);
    CHECK(vf == doctest::Approx(1.0));
    CHECK(gaf.allFinite());
    CHECK(gbf.allFinite());
    CHECK(gaf.isZero(0));
}

TEST_CASE("loss: contrastive_loss propagates NaN and rejects bad arguments") {
    MatD a = MatD::Zero(2, 3), b = MatD::Ones(2, 3), ga, gb;
    MatD an = a;
    an(1, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(ek::nn::contrastive_loss(an, b, {1, 0}, 1.0, ga, gb)));
    CHECK(std::isnan(ek::nn::contrastive_loss(an, a, {1, 0}, 1.0, ga, gb)));
    MatD c(3, 3), wide(2, 4), e(0, 3);
    c.setZero();
    wide.setZero();
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(a, c, {1, 0}, 1.0, ga, gb),
                         doctest::Contains("contrastive_loss: a is 2x3 but b is 3x3"),
                         ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::contrastive_loss(a, wide, {1, 0}, 1.0, ga, gb), ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(a, b, {1, 0, 1}, 1.0, ga, gb),
                         doctest::Contains("similar has 3 entries but there are 2 rows"),
                         ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(e, e, {}, 1.0, ga, gb),
                         doctest::Contains("empty batch"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(a, b, {1, 0}, 0.0, ga, gb),
                         doctest::Contains("margin must be positive and finite, got 0"),
                         ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(a, b, {1, 0}, -0.5, ga, gb),
                         doctest::Contains("got -0.5"), ek::ArgumentError);
    CHECK_THROWS_AS(
        ek::nn::contrastive_loss(a, b, {1, 0}, std::numeric_limits<double>::quiet_NaN(), ga, gb),
        ek::ArgumentError);
    CHECK_THROWS_AS(
        ek::nn::contrastive_loss(a, b, {1, 0}, std::numeric_limits<double>::infinity(), ga, gb),
        ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::contrastive_loss(a, b, {1, 2}, 1.0, ga, gb),
                         doctest::Contains("similar[1] must be 0 or 1, got 2"), ek::ArgumentError);
    CHECK_THROWS_AS(ek::nn::pair_distances(a, c), ek::DimensionError);
    CHECK_THROWS_AS(ek::nn::pair_distances(e, e), ek::ArgumentError);
}

TEST_CASE("loss: triplet_batch_hard_loss equals the direct batch-hard formula") {
    ek::Rng rng(21);
    const std::vector<std::uint8_t> labels{0, 1, 0, 2, 1,
                                           0, 2, 1, 3};  // label 3: no positive, skipped
    const MatD e = nntest::random_matrix(9, 3, rng);
    MatD g;
    for (double margin : {0.3, 1.0, 10.0}) {
        CAPTURE(margin);
        const TripletRef ref = triplet_ld(e, labels, margin);
        CHECK(ref.anchors == 8);
        const double got = ek::nn::triplet_batch_hard_loss(e, labels, margin, g);
        CHECK(got == doctest::Approx(static_cast<double>(ref.loss)).epsilon(1e-13));
        CHECK(g.rows() == 9);
        CHECK(g.allFinite());
        // The anchor terms are sums of unit vectors, so the gradient sums to 0 over the batch.
        CHECK(g.colwise().sum().cwiseAbs().maxCoeff() < 1e-14);
    }
    // A margin so large that every anchor is active: the loss is margin + mean(d_ap - d_an).
    const double big = ek::nn::triplet_batch_hard_loss(e, labels, 10.0, g);
    CHECK(big > 9);
    // float agrees
    const ek::RowMatrixF ef = e.cast<float>();
    ek::RowMatrixF gf;
    CHECK(ek::nn::triplet_batch_hard_loss(ef, labels, 1.0, gf) ==
          doctest::Approx(ek::nn::triplet_batch_hard_loss(e, labels, 1.0, g)).epsilon(1e-5));
    CHECK(gf.cast<double>().isApprox(g, 1e-4));
}

TEST_CASE("loss: triplet_batch_hard_loss gradient check where the hardest partners are unique") {
    ek::Rng rng(22);
    const std::vector<std::uint8_t> labels{0, 0, 0, 1, 1, 1, 2, 2, 2, 2};
    // Loose clusters: some anchors already meet the margin (inactive), others do not.
    const MatD centres = nntest::random_matrix(3, 4, rng, -1, 1);
    MatD e = nntest::random_matrix(10, 4, rng, -0.6, 0.6);
    for (Eigen::Index i = 0; i < e.rows(); ++i) e.row(i) += centres.row(labels[std::size_t(i)]);
    const double margin = 0.3;
    const TripletRef ref = triplet_ld(e, labels, margin);
    // The loss is differentiable here: no hardest partner tied within far more than the
    // step, no hinge near 0; some anchors are active and some are not.
    INFO("partner gap " << static_cast<double>(ref.min_partner_gap) << " hinge gap "
                        << static_cast<double>(ref.min_hinge_gap) << " active " << ref.active);
    REQUIRE(ref.min_partner_gap > 1e-3);
    REQUIRE(ref.min_hinge_gap > 1e-3);
    REQUIRE(ref.active > 0);
    REQUIRE(ref.active < 10);
    MatD g;
    std::vector<ek::nn::Parameter<double>> p{nntest::view(e, g, "embeddings")};
    auto loss = [&] { return ek::nn::triplet_batch_hard_loss(e, labels, margin, g); };
    NN_CHECK_GRADIENTS(ek::nn::check_gradients(p, loss), 1e-6);
}

TEST_CASE("loss: triplet_batch_hard_loss at distance 0 and without usable anchors") {
    // Anchor 0's only positive is itself a copy (d_ap = 0): finite, and the positive's
    // direction term is the subgradient 0; the negative still pushes.
    MatD e(3, 2);
    e << 1, 1, 1, 1, 1.5, 1;
    const std::vector<std::uint8_t> labels{0, 0, 1};
    MatD g;
    const double v = ek::nn::triplet_batch_hard_loss(e, labels, 1.0, g);
    // anchors 0 and 1: 1 + 0 - 0.5; anchor 2 has no positive.
    CHECK(v == doctest::Approx(0.5));
    CHECK(g.allFinite());
    // d(-d_an)/d anchor = -(anchor - negative)/d_an = (1, 0) for both anchors; the negative
    // gets the opposite twice; averaged over 2 anchors.
    CHECK(g(0, 0) == doctest::Approx(0.5));
    CHECK(g(1, 0) == doctest::Approx(0.5));
    CHECK(g(2, 0) == doctest::Approx(-1.0));
    CHECK(g.col(1).isZero(0));
    // Every point identical: all distances 0, loss = margin, gradient 0 (no directions).
    const MatD same = MatD::Constant(4, 3, 0.25);
    CHECK(ek::nn::triplet_batch_hard_loss(same, {0, 0, 1, 1}, 0.7, g) == doctest::Approx(0.7));
    CHECK(g.isZero(0));
    // One label only: no negatives, so loss 0 and zero gradient.
    ek::Rng rng(23);
    const MatD r = nntest::random_matrix(4, 3, rng);
    CHECK(ek::nn::triplet_batch_hard_loss(r, {5, 5, 5, 5}, 1.0, g) == 0.0);
    CHECK(g.rows() == 4);
    CHECK(g.isZero(0));
    // All labels distinct: no positives.
    CHECK(ek::nn::triplet_batch_hard_loss(r, {0, 1, 2, 3}, 1.0, g) == 0.0);
    CHECK(g.isZero(0));
    // NaN propagates.
    MatD rn = r;
    rn(2, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(ek::nn::triplet_batch_hard_loss(rn, {0, 0, 1, 1}, 1.0, g)));
}

TEST_CASE("loss: triplet_batch_hard_loss rejects bad arguments") {
    MatD e = MatD::Zero(3, 2), empty(0, 2), g;
    CHECK_THROWS_WITH_AS(
        ek::nn::triplet_batch_hard_loss(e, {0, 1}, 1.0, g),
        doctest::Contains("triplet_batch_hard_loss: labels has 2 entries but there are 3 rows"),
        ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::nn::triplet_batch_hard_loss(empty, {}, 1.0, g),
                         doctest::Contains("empty batch"), ek::ArgumentError);
    CHECK_THROWS_WITH_AS(ek::nn::triplet_batch_hard_loss(e, {0, 1, 1}, 0.0, g),
                         doctest::Contains("margin must be positive"), ek::ArgumentError);
    CHECK_THROWS_AS(ek::nn::triplet_batch_hard_loss(e, {0, 1, 1}, -1.0, g), ek::ArgumentError);
}

TEST_CASE(
    "loss: triplet_batch_hard_loss with wide labels equals the same classes relabelled 0..k") {
    // As bytes, 300 and 44 would be one class (300 mod 256 = 44), and so would 70000 and 112.
    ek::Rng rng(24);
    const MatD e = nntest::random_matrix(8, 3, rng);
    const std::vector<std::int64_t> wide{300, 44, 70000, 112, -5, std::int64_t(1) << 40, 300, 44};
    const std::vector<std::uint8_t> dense{3, 1, 4, 2, 0, 5, 3, 1};
    const std::vector<std::int32_t> narrow{300, 44, 70000, 112, -5, 7, 300, 44};
    const std::vector<std::uint64_t> unsigned_wide(wide.begin(), wide.end());
    MatD gw, gd, gn, gu;
    const double lw = ek::nn::triplet_batch_hard_loss(e, wide, 0.5, gw);
    const double ld = ek::nn::triplet_batch_hard_loss(e, dense, 0.5, gd);
    CHECK(lw == ld);
    CHECK(gw == gd);
    CHECK(ek::nn::triplet_batch_hard_loss(e, narrow, 0.5, gn) == ld);
    CHECK(gn == gd);
    CHECK(ek::nn::triplet_batch_hard_loss(e, unsigned_wide, 0.5, gu) == ld);
    CHECK(gu == gd);
    // The byte-narrowed labels merge classes and give another loss: what the old API computed.
    std::vector<std::uint8_t> narrowed(wide.size());
    for (std::size_t i = 0; i < wide.size(); ++i)
        narrowed[i] = static_cast<std::uint8_t>(wide[i] & 0xFF);
    MatD gb;
    CHECK(ek::nn::triplet_batch_hard_loss(e, narrowed, 0.5, gb) != ld);
}

// ---- Multiple negatives ranking loss (InfoNCE with in-batch negatives) ----

namespace {

// The loss in long double, straight from the definition.
long double mnrl_ld(const MatD& a, const MatD& p, long double scale) {
    const Eigen::Index n = a.rows();
    long double total = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        std::vector<long double> s(static_cast<std::size_t>(n));
        for (Eigen::Index j = 0; j < n; ++j) {
            long double dot = 0, na = 0, np = 0;
            for (Eigen::Index c = 0; c < a.cols(); ++c) {
                dot += static_cast<long double>(a(i, c)) * p(j, c);
                na += static_cast<long double>(a(i, c)) * a(i, c);
                np += static_cast<long double>(p(j, c)) * p(j, c);
            }
            s[static_cast<std::size_t>(j)] =
                (na == 0 || np == 0) ? 0 : scale * dot / std::sqrt(na * np);
        }
        long double sum = 0;
        for (long double v : s) sum += std::exp(v);
        total += std::log(sum) - s[static_cast<std::size_t>(i)];
    }
    return total / static_cast<long double>(n);
}

}  // namespace

TEST_CASE(
    "loss: multiple_negatives_ranking_loss equals the definition and passes the gradient check") {
    ek::Rng rng(31);
    for (double scale : {1.0, ek::nn::default_ranking_scale, 50.0}) {
        CAPTURE(scale);
        MatD a = nntest::random_matrix(6, 4, rng), p = nntest::random_matrix(6, 4, rng);
        p += 0.5 * a;  // partly aligned pairs, so the softmax is neither uniform nor one-hot
        MatD ga, gp;
        const double got = ek::nn::multiple_negatives_ranking_loss(a, p, scale, ga, gp);
        CHECK(got == doctest::Approx(static_cast<double>(mnrl_ld(a, p, scale))).epsilon(1e-13));
        // Cosine ignores length: every gradient row is orthogonal to its row.
        for (Eigen::Index i = 0; i < a.rows(); ++i) {
            CHECK(std::abs(ga.row(i).dot(a.row(i))) <
                  1e-13 * (1 + ga.row(i).norm() * a.row(i).norm()));
            CHECK(std::abs(gp.row(i).dot(p.row(i))) <
                  1e-13 * (1 + gp.row(i).norm() * p.row(i).norm()));
        }
        std::vector<ek::nn::Parameter<double>> params{nntest::view(a, ga, "anchors"),
                                                      nntest::view(p, gp, "positives")};
        auto loss = [&] { return ek::nn::multiple_negatives_ranking_loss(a, p, scale, ga, gp); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(params, loss), 1e-6);
    }
    // float agrees with double
    const MatD a = nntest::random_matrix(5, 3, rng), p = nntest::random_matrix(5, 3, rng);
    MatD ga, gp;
    ek::RowMatrixF gaf, gpf;
    const double d = ek::nn::multiple_negatives_ranking_loss(a, p, 20.0, ga, gp);
    const ek::RowMatrixF af = a.cast<float>(), pf = p.cast<float>();
    CHECK(ek::nn::multiple_negatives_ranking_loss(af, pf, 20.0, gaf, gpf) ==
          doctest::Approx(d).epsilon(1e-5));
    CHECK(gaf.cast<double>().isApprox(ga, 1e-4));
    CHECK(gpf.cast<double>().isApprox(gp, 1e-4));
}

TEST_CASE("loss: multiple_negatives_ranking_loss matches PyTorch (scripts/mnrl_reference.py)") {
    const std::string path = std::string(EMBEDKIT_SOURCE_DIR) + "/tests/nn/data/mnrl_reference.txt";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::string line;
    int cases = 0;
    auto read_values = [&](const char* key, std::size_t count) {
        REQUIRE(std::getline(in, line));
        std::istringstream ls(line);
        std::string word;
        ls >> word;
        REQUIRE(word == key);
        std::vector<double> v;
        double x;
        while (ls >> x) v.push_back(x);
        REQUIRE(v.size() == count);
        return v;
    };
    auto as_matrix = [](const std::vector<double>& v, Eigen::Index n, Eigen::Index d) {
        return MatD(Eigen::Map<const MatD>(v.data(), n, d));
    };
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream head(line);
        std::string word, name;
        Eigen::Index n = 0, d = 0;
        double scale = 0;
        head >> word >> name >> n >> d >> scale;
        REQUIRE(word == "case");
        CAPTURE(name);
        const auto count = static_cast<std::size_t>(n * d);
        const MatD a = as_matrix(read_values("anchors", count), n, d);
        const MatD p = as_matrix(read_values("positives", count), n, d);
        const double loss = read_values("loss", 1)[0];
        const MatD want_ga = as_matrix(read_values("grad_anchors", count), n, d);
        const MatD want_gp = as_matrix(read_values("grad_positives", count), n, d);
        MatD ga, gp;
        CHECK(ek::nn::multiple_negatives_ranking_loss(a, p, scale, ga, gp) ==
              doctest::Approx(loss).epsilon(1e-12));
        // Relative to the largest gradient entry: some entries are ~1e-10 of it (nearly one-hot
        // rows).
        const double gscale =
            std::max(want_ga.cwiseAbs().maxCoeff(), want_gp.cwiseAbs().maxCoeff());
        CHECK((ga - want_ga).cwiseAbs().maxCoeff() < 1e-12 * gscale);
        CHECK((gp - want_gp).cwiseAbs().maxCoeff() < 1e-12 * gscale);
        ++cases;
    }
    CHECK(cases == 2);
}

TEST_CASE("loss: multiple_negatives_ranking_loss with zero rows, one pair, large scales and NaN") {
    ek::Rng rng(32);
    MatD a = nntest::random_matrix(4, 3, rng), p = nntest::random_matrix(4, 3, rng);
    a.row(1).setZero();            // a zero anchor: cosine 0 with every positive
    p.row(2).setConstant(1e-200);  // below sqrt(smallest normal): no direction either
    MatD ga, gp;
    const double v = ek::nn::multiple_negatives_ranking_loss(a, p, 20.0, ga, gp);
    REQUIRE(std::isfinite(v));
    CHECK(ga.allFinite());
    CHECK(gp.allFinite());
    CHECK(ga.row(1).isZero(0));
    CHECK(gp.row(2).isZero(0));
    MatD p_zero = p;
    p_zero.row(2).setZero();
    CHECK(v == doctest::Approx(static_cast<double>(mnrl_ld(a, p_zero, 20.0L))).epsilon(1e-13));
    // With a zero anchor in the batch, the positives' gradients are still exact.
    {
        MatD pp = nntest::random_matrix(4, 3, rng);
        std::vector<ek::nn::Parameter<double>> params{nntest::view(pp, gp, "positives")};
        auto loss = [&] { return ek::nn::multiple_negatives_ranking_loss(a, pp, 20.0, ga, gp); };
        NN_CHECK_GRADIENTS(ek::nn::check_gradients(params, loss), 1e-6);
    }
    // Scale invariance of each row.
    MatD a2 = nntest::random_matrix(4, 3, rng), p2 = nntest::random_matrix(4, 3, rng), ga2, gp2;
    const double base = ek::nn::multiple_negatives_ranking_loss(a2, p2, 20.0, ga2, gp2);
    MatD a3 = a2;
    a3.row(0) *= 1e6;
    a3.row(3) *= 1e-6;
    CHECK(ek::nn::multiple_negatives_ranking_loss(a3, p2, 20.0, ga, gp) ==
          doctest::Approx(base).epsilon(1e-12));
    // One pair: the only candidate is the positive, loss 0, gradient 0.
    const MatD one_a = nntest::random_matrix(1, 3, rng), one_p = nntest::random_matrix(1, 3, rng);
    CHECK(ek::nn::multiple_negatives_ranking_loss(one_a, one_p, 20.0, ga, gp) ==
          doctest::Approx(0.0));
    CHECK(ga.isZero(1e-15));
    // A scale whose exp() would overflow without the max shift; float too.
    const ek::RowMatrixF af = a2.cast<float>(), pf = p2.cast<float>();
    ek::RowMatrixF gaf, gpf;
    const double huge = ek::nn::multiple_negatives_ranking_loss(af, pf, 1e4, gaf, gpf);
    CHECK(std::isfinite(huge));
    CHECK(gaf.allFinite());
    // Entries above 1e19 would overflow a float's squared norm; the cosine is still right.
    ek::RowMatrixF big = af;
    big.row(0) *= 1e25f;
    CHECK(ek::nn::multiple_negatives_ranking_loss(big, pf, 20.0, gaf, gpf) ==
          doctest::Approx(ek::nn::multiple_negatives_ranking_loss(af, pf, 20.0, gaf, gpf))
              .epsilon(1e-4));
    // NaN propagates.
    MatD an = a2;
    an(2, 0) = std::numeric_limits<double>::quiet_NaN();
    CHECK(std::isnan(ek::nn::multiple_negatives_ranking_loss(an, p2, 20.0, ga, gp)));
}

TEST_CASE("loss: multiple_negatives_ranking_loss errors") {
    MatD a(2, 3), b(2, 4), e(0, 3), ga, gp;
    a.setOnes();
    b.setOnes();
    CHECK_THROWS_WITH_AS(ek::nn::multiple_negatives_ranking_loss(a, b, 20.0, ga, gp),
                         doctest::Contains("anchors is 2x3 but positives is 2x4"),
                         ek::DimensionError);
    CHECK_THROWS_WITH_AS(ek::nn::multiple_negatives_ranking_loss(e, e, 20.0, ga, gp),
                         doctest::Contains("empty batch"), ek::ArgumentError);
    for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()})
        CHECK_THROWS_WITH_AS(ek::nn::multiple_negatives_ranking_loss(a, a, bad, ga, gp),
                             doctest::Contains("scale must be positive and finite"),
                             ek::ArgumentError);
}
