// The BERT encoder against an independent double-precision implementation, on random models.
#include <embedkit/text/bert.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

namespace {

using embedkit::RowMatrixD;
using embedkit::RowMatrixF;
using embedkit::VectorF;
using embedkit::text::BertConfig;
using embedkit::text::BertEncoder;
using embedkit::text::BertLayerWeights;
using embedkit::text::BertWeights;
using embedkit::text::BertWorkspace;
using embedkit::text::HiddenActivation;
using embedkit::text::PackedTokens;

RowMatrixF random_matrix(std::mt19937& rng, Eigen::Index r, Eigen::Index c, float scale) {
    std::normal_distribution<float> dist(0.0f, scale);
    RowMatrixF m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = dist(rng);
    return m;
}

VectorF random_vector(std::mt19937& rng, Eigen::Index n, float mean, float scale) {
    std::normal_distribution<float> dist(mean, scale);
    VectorF v(n);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = dist(rng);
    return v;
}

BertWeights random_weights(const BertConfig& c, unsigned seed) {
    std::mt19937 rng(seed);
    const Eigen::Index h = c.hidden_size;
    const Eigen::Index inter = c.intermediate_size;
    BertWeights w;
    w.word_embeddings = random_matrix(rng, c.vocab_size, h, 0.5f);
    w.position_embeddings = random_matrix(rng, c.max_positions, h, 0.5f);
    w.token_type_embeddings = random_matrix(rng, c.type_vocab_size, h, 0.5f);
    w.embedding_norm_weight = random_vector(rng, h, 1.0f, 0.1f);
    w.embedding_norm_bias = random_vector(rng, h, 0.0f, 0.1f);
    const float s_h = 1.0f / std::sqrt(static_cast<float>(h));
    const float s_i = 1.0f / std::sqrt(static_cast<float>(inter));
    for (Eigen::Index l = 0; l < c.num_layers; ++l) {
        BertLayerWeights L;
        L.qkv_weight = random_matrix(rng, 3 * h, h, 2.0f * s_h);
        L.qkv_bias = random_vector(rng, 3 * h, 0.0f, 0.1f);
        L.attention_output_weight = random_matrix(rng, h, h, s_h);
        L.attention_output_bias = random_vector(rng, h, 0.0f, 0.1f);
        L.attention_norm_weight = random_vector(rng, h, 1.0f, 0.1f);
        L.attention_norm_bias = random_vector(rng, h, 0.0f, 0.1f);
        L.intermediate_weight = random_matrix(rng, inter, h, s_h);
        L.intermediate_bias = random_vector(rng, inter, 0.0f, 0.1f);
        L.output_weight = random_matrix(rng, h, inter, s_i);
        L.output_bias = random_vector(rng, h, 0.0f, 0.1f);
        L.output_norm_weight = random_vector(rng, h, 1.0f, 0.1f);
        L.output_norm_bias = random_vector(rng, h, 0.0f, 0.1f);
        w.layers.push_back(std::move(L));
    }
    return w;
}

// The reference: one sequence at a time, every sum in double, written from the BERT paper's
// and PyTorch's definitions without sharing code with the library.
double act(double x, HiddenActivation a) {
    switch (a) {
        case HiddenActivation::gelu:
            return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        case HiddenActivation::gelu_tanh:
            return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        case HiddenActivation::relu:
            return x > 0 ? x : 0.0;
    }
    return 0.0;
}

std::vector<double> linear(const std::vector<double>& x, const RowMatrixF& w, const VectorF& b) {
    std::vector<double> y(static_cast<std::size_t>(w.rows()));
    for (Eigen::Index o = 0; o < w.rows(); ++o) {
        double s = b[o];
        for (Eigen::Index i = 0; i < w.cols(); ++i) s += double(w(o, i)) * x[std::size_t(i)];
        y[std::size_t(o)] = s;
    }
    return y;
}

void layer_norm(std::vector<double>& x, const VectorF& g, const VectorF& b, double eps) {
    double mean = 0;
    for (double v : x) mean += v;
    mean /= double(x.size());
    double var = 0;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= double(x.size());
    for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = (x[i] - mean) / std::sqrt(var + eps) * g[Eigen::Index(i)] + b[Eigen::Index(i)];
}

RowMatrixD reference_forward(const BertConfig& c, const BertWeights& w,
                             const std::vector<std::int32_t>& ids) {
    const std::size_t n = ids.size();
    const auto h = std::size_t(c.hidden_size);
    const auto heads = std::size_t(c.num_heads);
    const std::size_t d = h / heads;
    std::vector<std::vector<double>> x(n, std::vector<double>(h));
    for (std::size_t t = 0; t < n; ++t) {
        for (std::size_t j = 0; j < h; ++j)
            x[t][j] = double(w.word_embeddings(ids[t], Eigen::Index(j))) +
                      double(w.position_embeddings(Eigen::Index(t), Eigen::Index(j))) +
                      double(w.token_type_embeddings(0, Eigen::Index(j)));
        layer_norm(x[t], w.embedding_norm_weight, w.embedding_norm_bias, c.layer_norm_eps);
    }
    for (const BertLayerWeights& L : w.layers) {
        std::vector<std::vector<double>> qkv(n);
        for (std::size_t t = 0; t < n; ++t) qkv[t] = linear(x[t], L.qkv_weight, L.qkv_bias);
        std::vector<std::vector<double>> ctx(n, std::vector<double>(h, 0.0));
        for (std::size_t hd = 0; hd < heads; ++hd) {
            for (std::size_t i = 0; i < n; ++i) {
                std::vector<double> p(n);
                double mx = -1e300;
                for (std::size_t j = 0; j < n; ++j) {
                    double s = 0;
                    for (std::size_t e = 0; e < d; ++e)
                        s += qkv[i][hd * d + e] * qkv[j][h + hd * d + e];
                    p[j] = s / std::sqrt(double(d));
                    mx = std::max(mx, p[j]);
                }
                double sum = 0;
                for (double& v : p) sum += (v = std::exp(v - mx));
                for (std::size_t j = 0; j < n; ++j)
                    for (std::size_t e = 0; e < d; ++e)
                        ctx[i][hd * d + e] += p[j] / sum * qkv[j][2 * h + hd * d + e];
            }
        }
        for (std::size_t t = 0; t < n; ++t) {
            std::vector<double> a =
                linear(ctx[t], L.attention_output_weight, L.attention_output_bias);
            for (std::size_t j = 0; j < h; ++j) a[j] += x[t][j];
            layer_norm(a, L.attention_norm_weight, L.attention_norm_bias, c.layer_norm_eps);
            std::vector<double> in = linear(a, L.intermediate_weight, L.intermediate_bias);
            for (double& v : in) v = act(v, c.activation);
            std::vector<double> o = linear(in, L.output_weight, L.output_bias);
            for (std::size_t j = 0; j < h; ++j) o[j] += a[j];
            layer_norm(o, L.output_norm_weight, L.output_norm_bias, c.layer_norm_eps);
            x[t] = o;
        }
    }
    RowMatrixD out(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(h));
    for (std::size_t t = 0; t < n; ++t)
        for (std::size_t j = 0; j < h; ++j) out(Eigen::Index(t), Eigen::Index(j)) = x[t][j];
    return out;
}

BertConfig small_config(Eigen::Index layers, Eigen::Index hidden, Eigen::Index heads,
                        HiddenActivation a, float eps) {
    BertConfig c;
    c.vocab_size = 50;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.num_heads = heads;
    c.intermediate_size = 2 * hidden + 3;
    c.max_positions = 40;
    c.type_vocab_size = 2;
    c.layer_norm_eps = eps;
    c.activation = a;
    return c;
}

void check_against_reference(const BertConfig& c, unsigned seed) {
    const BertWeights w = random_weights(c, seed);
    const BertEncoder enc(c, w);
    std::mt19937 rng(seed + 1);
    std::uniform_int_distribution<std::int32_t> token(0, std::int32_t(c.vocab_size - 1));
    // Lengths 1, 2, 17 and the longest the model takes, packed into one batch.
    const std::vector<Eigen::Index> lengths = {1, 17, 2, c.max_positions, 5};
    PackedTokens batch;
    std::vector<std::vector<std::int32_t>> seqs;
    for (Eigen::Index len : lengths) {
        std::vector<std::int32_t> s(static_cast<std::size_t>(len));
        for (auto& id : s) id = token(rng);
        batch.add(s.data(), s.size());
        seqs.push_back(s);
    }
    BertWorkspace ws;
    enc.forward(batch, ws);
    REQUIRE(ws.hidden.rows() == batch.tokens());
    double worst = 0;
    for (std::size_t s = 0; s < seqs.size(); ++s) {
        const RowMatrixD ref = reference_forward(c, w, seqs[s]);
        const RowMatrixF got = ws.hidden.middleRows(batch.begin[s], ref.rows());
        worst = std::max(worst, (got.cast<double>() - ref).cwiseAbs().maxCoeff());
    }
    INFO("worst |float - double| over the batch: " << worst);
    CHECK(worst < 2e-5);
    // Each sequence alone gives the very same states as inside the batch (bit for bit), at
    // every SIMD level: whatever the hidden size, rows are computed the same way wherever they
    // sit in the packed batch.
    for (const embedkit::simd::Level level : embedkit::simd::supported()) {
        const embedkit::simd::Scoped forced(level);
        CAPTURE(std::string(embedkit::simd::level_name(level)));
        BertWorkspace all;
        enc.forward(batch, all);
        for (std::size_t s = 0; s < seqs.size(); ++s) {
            CAPTURE(s);
            PackedTokens one;
            one.add(seqs[s].data(), seqs[s].size());
            BertWorkspace ws1;
            enc.forward(one, ws1);
            const RowMatrixF in_batch = all.hidden.middleRows(batch.begin[s], ws1.hidden.rows());
            CHECK((ws1.hidden.array() == in_batch.array()).all());
        }
    }
}

}  // namespace

TEST_CASE("bert: the encoder matches a double-precision reference (2 layers, exact gelu)") {
    check_against_reference(small_config(2, 32, 4, HiddenActivation::gelu, 1e-12f), 11);
}

TEST_CASE("bert: the encoder matches a double-precision reference (12 layers, 12 heads)") {
    check_against_reference(small_config(12, 48, 12, HiddenActivation::gelu, 1e-12f), 12);
}

TEST_CASE("bert: the encoder matches a double-precision reference (tanh gelu, relu, eps 1e-5)") {
    check_against_reference(small_config(3, 24, 3, HiddenActivation::gelu_tanh, 1e-5f), 13);
    check_against_reference(small_config(2, 16, 1, HiddenActivation::relu, 1e-5f), 14);
    // Rows of 18 floats: every row of a packed batch starts at another alignment.
    check_against_reference(small_config(2, 18, 3, HiddenActivation::gelu, 1e-12f), 15);
}

TEST_CASE("bert: weights of the wrong shape are refused, naming the weight") {
    const BertConfig c = small_config(2, 32, 4, HiddenActivation::gelu, 1e-12f);
    BertWeights w = random_weights(c, 3);
    w.layers[1].intermediate_weight.resize(10, 32);
    CHECK_THROWS_WITH_AS(
        BertEncoder(c, w),
        doctest::Contains("intermediate weight has shape [10, 32], expected [67, 32]"),
        embedkit::DimensionError);
    BertConfig bad = c;
    bad.num_heads = 5;
    CHECK_THROWS_WITH_AS(BertEncoder(bad, random_weights(c, 3)),
                         doctest::Contains("not a multiple of num_attention_heads 5"),
                         embedkit::ArgumentError);
}

TEST_CASE("bert: out-of-vocabulary ids and over-long sequences are refused") {
    const BertConfig c = small_config(1, 16, 2, HiddenActivation::gelu, 1e-12f);
    const BertEncoder enc(c, random_weights(c, 4));
    BertWorkspace ws;
    PackedTokens b;
    const std::vector<std::int32_t> ids = {1, 50};
    b.add(ids.data(), ids.size());
    CHECK_THROWS_WITH_AS(enc.forward(b, ws), doctest::Contains("token id 50 at position 1"),
                         embedkit::ArgumentError);
    PackedTokens longb;
    const std::vector<std::int32_t> many(41, 3);
    longb.add(many.data(), many.size());
    CHECK_THROWS_WITH_AS(enc.forward(longb, ws), doctest::Contains("more than the model's 40"),
                         embedkit::ArgumentError);
}
