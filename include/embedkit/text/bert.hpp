// The BERT encoder: embeddings, N transformer layers, the hidden state of every token. The
// sentence-level pieces (tokenizer, pooling, the model folder) are in sentence_encoder.hpp.
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"
#include "../linalg/elementwise.hpp"
#include "../linalg/gemm.hpp"
#include "../linalg/packed_linear.hpp"

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace embedkit::text {

/// The feed-forward activation, config.json's `hidden_act`.
enum class HiddenActivation {
    gelu,       ///< "gelu": x/2 (1 + erf(x/sqrt 2)), the exact form
    gelu_tanh,  ///< "gelu_new", "gelu_pytorch_tanh", "gelu_fast": the tanh approximation
    relu,       ///< "relu"
};

/// The shape of a BERT model: config.json's fields.
struct BertConfig {
    Eigen::Index vocab_size = 0;         ///< rows of the word embeddings
    Eigen::Index hidden_size = 0;        ///< H, the width of every token's state
    Eigen::Index num_layers = 0;         ///< transformer layers
    Eigen::Index num_heads = 0;          ///< attention heads; H must be a multiple
    Eigen::Index intermediate_size = 0;  ///< width of the feed-forward layer
    Eigen::Index max_positions = 0;      ///< rows of the position embeddings
    Eigen::Index type_vocab_size = 0;    ///< rows of the token-type embeddings
    float layer_norm_eps = 1e-12f;
    HiddenActivation activation = HiddenActivation::gelu;

    Eigen::Index head_size() const noexcept { return num_heads > 0 ? hidden_size / num_heads : 0; }
};

/// One transformer layer's weights. Linear weights are stored as PyTorch stores them,
/// [out, in] row-major, so a layer computes x W^T + b; query, key and value are stacked
/// into one [3H, H] matrix (query rows first) to make one matrix product of the three.
struct BertLayerWeights {
    RowMatrixF qkv_weight;               ///< [3H, H]
    VectorF qkv_bias;                    ///< 3H
    RowMatrixF attention_output_weight;  ///< [H, H]
    VectorF attention_output_bias;       ///< H
    VectorF attention_norm_weight;       ///< H (LayerNorm gamma)
    VectorF attention_norm_bias;         ///< H (LayerNorm beta)
    RowMatrixF intermediate_weight;      ///< [I, H]
    VectorF intermediate_bias;           ///< I
    RowMatrixF output_weight;            ///< [H, I]
    VectorF output_bias;                 ///< H
    VectorF output_norm_weight;          ///< H
    VectorF output_norm_bias;            ///< H
};

/// All weights of a BERT encoder (no pooler: sentence embeddings do not use it).
struct BertWeights {
    RowMatrixF word_embeddings;        ///< [vocab_size, H]
    RowMatrixF position_embeddings;    ///< [max_positions, H]
    RowMatrixF token_type_embeddings;  ///< [type_vocab_size, H]
    VectorF embedding_norm_weight;     ///< H
    VectorF embedding_norm_bias;       ///< H
    std::vector<BertLayerWeights> layers;
};

/// Token sequences packed into one list: sequence s is tokens [begin[s], begin[s + 1]).
/// No padding: attention never crosses from one sequence into another.
struct PackedTokens {
    std::vector<std::int32_t> ids;
    std::vector<Eigen::Index> begin{0};  ///< size = sequences + 1, begin[0] = 0

    Eigen::Index sequences() const noexcept { return static_cast<Eigen::Index>(begin.size()) - 1; }
    Eigen::Index tokens() const noexcept { return static_cast<Eigen::Index>(ids.size()); }
    Eigen::Index length(Eigen::Index s) const {
        return begin[static_cast<std::size_t>(s) + 1] - begin[static_cast<std::size_t>(s)];
    }
    /// Appends one sequence.
    void add(const std::int32_t* first, std::size_t count) {
        ids.insert(ids.end(), first, first + count);
        begin.push_back(static_cast<Eigen::Index>(ids.size()));
    }
    void clear() {
        ids.clear();
        begin.assign(1, 0);
    }
};

namespace detail {

inline std::string bert_shape(Eigen::Index r, Eigen::Index c) {
    return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

inline void bert_expect(const char* what, const RowMatrixF& m, Eigen::Index rows,
                        Eigen::Index cols) {
    if (m.rows() != rows || m.cols() != cols)
        throw DimensionError(std::string("embedkit::text::BertEncoder: ") + what + " has shape " +
                             bert_shape(m.rows(), m.cols()) + ", expected " +
                             bert_shape(rows, cols));
}

inline void bert_expect(const char* what, const VectorF& v, Eigen::Index size) {
    if (v.size() != size)
        throw DimensionError(std::string("embedkit::text::BertEncoder: ") + what + " has " +
                             std::to_string(v.size()) + " values, expected " +
                             std::to_string(size));
}

// The sum of n floats in an order fixed by n alone: element i goes to partial sum i % 16,
// and the 16 partial sums are combined pairwise. Eigen's reductions peel scalar elements up
// to the next aligned address first, so their order (and rounding) would depend on where a
// row sits in memory, hence on which other texts share the batch.
template <class Term>
inline float bert_fixed_sum(const float* p, Eigen::Index n, Term term) noexcept {
    float acc[16] = {};
    Eigen::Index i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) acc[j] += term(p[i + j]);
    for (int j = 0; i + j < n; ++j) acc[j] += term(p[i + j]);
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
    return acc[0];
}

// LayerNorm over each row of x, in place: (x - mean) / sqrt(var + eps) * gamma + beta, with the
// biased variance, as torch.nn.LayerNorm. Plain loops: every row is computed the same way
// wherever it starts in memory.
inline void layer_norm_rows(RowMatrixF& x, const VectorF& gamma, const VectorF& beta, float eps) {
    const Eigen::Index n = x.cols();
    const float inv_n = 1.0f / static_cast<float>(n);
    const float* g = gamma.data();
    const float* b = beta.data();
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        float* row = x.data() + i * n;
        const float mean = bert_fixed_sum(row, n, [](float v) { return v; }) * inv_n;
        for (Eigen::Index j = 0; j < n; ++j) row[j] -= mean;
        const float var = bert_fixed_sum(row, n, [](float v) { return v * v; }) * inv_n;
        const float scale = 1.0f / std::sqrt(var + eps);
        for (Eigen::Index j = 0; j < n; ++j) row[j] = row[j] * scale * g[j] + b[j];
    }
}

// Applies f to every value of x in chunks of 16 held in a fixed-size Eigen array, so every
// value goes through Eigen's vectorised erf/tanh (whose results differ in the last bits from
// the scalar functions Eigen uses for unaligned heads and tails).
template <class F>
inline void bert_chunked(RowMatrixF& x, F f) {
    using Chunk = Eigen::Array<float, 16, 1>;
    float* p = x.data();
    const Eigen::Index n = x.size();
    for (Eigen::Index i = 0; i < n; i += 16) {
        const auto m = static_cast<std::size_t>(std::min<Eigen::Index>(16, n - i));
        Chunk v = Chunk::Zero();
        std::memcpy(v.data(), p + i, m * sizeof(float));
        v = f(v);
        std::memcpy(p + i, v.data(), m * sizeof(float));
    }
}

inline void activate(RowMatrixF& x, HiddenActivation a) {
    using Chunk = Eigen::Array<float, 16, 1>;
    switch (a) {
        case HiddenActivation::gelu:
            // The run-time level's kernel where there is one (linalg/elementwise.hpp).
            if (const auto* k = linalg::detail::elementwise_kernels(simd::active())) {
                k->gelu_erf(x.data(), x.size());
                break;
            }
            bert_chunked(x, [](const Chunk& v) -> Chunk {
                return 0.5f * v * (1.0f + (v * 0.70710678118654752440f).erf());
            });
            break;
        case HiddenActivation::gelu_tanh:
            bert_chunked(x, [](const Chunk& v) -> Chunk {
                return 0.5f * v *
                       (1.0f + (0.79788456080286535588f * (v + 0.044715f * v.cube())).tanh());
            });
            break;
        case HiddenActivation::relu:
            x = x.cwiseMax(0.0f);
            break;
    }
}

}  // namespace detail

/// The scratch space of one forward pass; give each thread its own. Reused across calls, its
/// matrices are resized (and so reallocated) only when a pass's token count or a sequence's
/// length differs from the previous one: allocations are per pass and per sequence, never
/// per token.
struct BertWorkspace {
    RowMatrixF hidden;            ///< [tokens, H]: the result of forward()
    RowMatrixF qkv;               ///< [tokens, 3H]
    RowMatrixF context;           ///< [tokens, H]
    RowMatrixF projected;         ///< [tokens, H]
    RowMatrixF intermediate;      ///< [tokens, I]
    RowMatrixF scores;            ///< [L, L] of the sequence in hand
    RowMatrixF sequence_qkv;      ///< [L, 3H]: that sequence's rows of qkv
    RowMatrixF sequence_context;  ///< [L, H]
};

/// A BERT encoder over token ids. Construction checks every weight's shape against the config
/// (DimensionError naming the weight) and the config itself (ArgumentError). forward() is
/// const and keeps no state: any number of threads may run it at once, each with its own
/// BertWorkspace.
class BertEncoder {
public:
    /// Checks, then packs the linear layers' weights for linalg::PackedLinear in `precision`
    /// (the unpacked copies are released, so the encoder holds each weight once). fp32 is the
    /// model as given; bf16 and int8 round or quantise the weights of the linear layers and
    /// their inputs on every pass (embeddings, LayerNorm, attention, softmax and GELU stay in
    /// float).
    BertEncoder(BertConfig config, BertWeights weights,
                linalg::Precision precision = linalg::Precision::fp32)
        : config_(config), weights_(std::move(weights)) {
        check();
        for (BertLayerWeights& l : weights_.layers) {
            PackedLayer p;
            p.qkv = linalg::PackedLinear(l.qkv_weight, l.qkv_bias, precision);
            p.attention_output =
                linalg::PackedLinear(l.attention_output_weight, l.attention_output_bias, precision);
            p.intermediate =
                linalg::PackedLinear(l.intermediate_weight, l.intermediate_bias, precision);
            p.output = linalg::PackedLinear(l.output_weight, l.output_bias, precision);
            packed_.push_back(std::move(p));
            for (RowMatrixF* m : {&l.qkv_weight, &l.attention_output_weight, &l.intermediate_weight,
                                  &l.output_weight})
                m->resize(0, 0);
            for (VectorF* v :
                 {&l.qkv_bias, &l.attention_output_bias, &l.intermediate_bias, &l.output_bias})
                v->resize(0);
        }
    }

    const BertConfig& config() const noexcept { return config_; }
    /// The precision the linear layers were packed in (check() guarantees at least one layer).
    linalg::Precision precision() const noexcept { return packed_.front().qkv.precision(); }
    /// Bytes held by the packed linear layers.
    std::size_t packed_bytes() const noexcept {
        std::size_t n = 0;
        for (const PackedLayer& p : packed_)
            n += p.qkv.bytes() + p.attention_output.bytes() + p.intermediate.bytes() +
                 p.output.bytes();
        return n;
    }
    /// A copy of the weights (the linear layers unpacked again: as given in fp32, their
    /// rounded or quantised values in bf16 and int8).
    BertWeights weights() const {
        BertWeights w = weights_;
        for (std::size_t i = 0; i < w.layers.size(); ++i) {
            BertLayerWeights& l = w.layers[i];
            const PackedLayer& p = packed_[i];
            l.qkv_weight = p.qkv.weight();
            l.qkv_bias = p.qkv.bias();
            l.attention_output_weight = p.attention_output.weight();
            l.attention_output_bias = p.attention_output.bias();
            l.intermediate_weight = p.intermediate.weight();
            l.intermediate_bias = p.intermediate.bias();
            l.output_weight = p.output.weight();
            l.output_bias = p.output.bias();
        }
        return w;
    }

    /// The last layer's hidden state of every token of `batch`, into ws.hidden ([tokens, H],
    /// row t = token t of the packed list). Each sequence attends to its own tokens only, with
    /// positions counted from 0 in each, token type 0. Throws ArgumentError for an id outside
    /// the vocabulary or a sequence longer than max_positions (naming the sequence).
    void forward(const PackedTokens& batch, BertWorkspace& ws) const {
        const Eigen::Index n = batch.tokens();
        const Eigen::Index h = config_.hidden_size;
        check_batch(batch);
        embed(batch, ws.hidden);
        ws.qkv.resize(n, 3 * h);
        ws.context.resize(n, h);
        ws.projected.resize(n, h);
        ws.intermediate.resize(n, config_.intermediate_size);
        for (std::size_t l = 0; l < packed_.size(); ++l)
            run_layer(weights_.layers[l], packed_[l], batch, ws);
    }

private:
    void check() const {
        const BertConfig& c = config_;
        if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 ||
            c.intermediate_size <= 0 || c.vocab_size <= 0 || c.max_positions <= 0 ||
            c.type_vocab_size <= 0)
            throw ArgumentError(
                "embedkit::text::BertEncoder: hidden_size, num_hidden_layers, "
                "num_attention_heads, intermediate_size, vocab_size, max_position_embeddings "
                "and type_vocab_size must all be positive");
        if (c.hidden_size % c.num_heads != 0)
            throw ArgumentError(
                "embedkit::text::BertEncoder: hidden_size " + std::to_string(c.hidden_size) +
                " is not a multiple of num_attention_heads " + std::to_string(c.num_heads));
        if (!(c.layer_norm_eps > 0.0f) || !std::isfinite(c.layer_norm_eps))
            throw ArgumentError(
                "embedkit::text::BertEncoder: layer_norm_eps must be positive and finite");
        const Eigen::Index h = c.hidden_size;
        const Eigen::Index inter = c.intermediate_size;
        const BertWeights& w = weights_;
        detail::bert_expect("word_embeddings", w.word_embeddings, c.vocab_size, h);
        detail::bert_expect("position_embeddings", w.position_embeddings, c.max_positions, h);
        detail::bert_expect("token_type_embeddings", w.token_type_embeddings, c.type_vocab_size, h);
        detail::bert_expect("embeddings LayerNorm weight", w.embedding_norm_weight, h);
        detail::bert_expect("embeddings LayerNorm bias", w.embedding_norm_bias, h);
        if (static_cast<Eigen::Index>(w.layers.size()) != c.num_layers)
            throw DimensionError("embedkit::text::BertEncoder: " + std::to_string(w.layers.size()) +
                                 " layers of weights, expected " + std::to_string(c.num_layers));
        for (const BertLayerWeights& l : w.layers) {
            detail::bert_expect("query/key/value weight", l.qkv_weight, 3 * h, h);
            detail::bert_expect("query/key/value bias", l.qkv_bias, 3 * h);
            detail::bert_expect("attention output weight", l.attention_output_weight, h, h);
            detail::bert_expect("attention output bias", l.attention_output_bias, h);
            detail::bert_expect("attention LayerNorm weight", l.attention_norm_weight, h);
            detail::bert_expect("attention LayerNorm bias", l.attention_norm_bias, h);
            detail::bert_expect("intermediate weight", l.intermediate_weight, inter, h);
            detail::bert_expect("intermediate bias", l.intermediate_bias, inter);
            detail::bert_expect("output weight", l.output_weight, h, inter);
            detail::bert_expect("output bias", l.output_bias, h);
            detail::bert_expect("output LayerNorm weight", l.output_norm_weight, h);
            detail::bert_expect("output LayerNorm bias", l.output_norm_bias, h);
        }
    }

    void check_batch(const PackedTokens& batch) const {
        if (batch.begin.empty() || batch.begin.front() != 0 || batch.begin.back() != batch.tokens())
            throw ArgumentError(
                "embedkit::text::BertEncoder::forward: the packed batch's sequence starts do not "
                "cover its tokens");
        for (Eigen::Index s = 0; s < batch.sequences(); ++s) {
            const Eigen::Index len = batch.length(s);
            if (len < 0)
                throw ArgumentError(
                    "embedkit::text::BertEncoder::forward: sequence starts must not decrease");
            if (len > config_.max_positions)
                throw ArgumentError("embedkit::text::BertEncoder::forward: sequence " +
                                    std::to_string(s) + " has " + std::to_string(len) +
                                    " tokens, more than the model's " +
                                    std::to_string(config_.max_positions) + " positions");
        }
        for (std::size_t t = 0; t < batch.ids.size(); ++t) {
            const std::int32_t id = batch.ids[t];
            if (id < 0 || id >= config_.vocab_size)
                throw ArgumentError("embedkit::text::BertEncoder::forward: token id " +
                                    std::to_string(id) + " at position " + std::to_string(t) +
                                    " is outside the vocabulary of " +
                                    std::to_string(config_.vocab_size));
        }
    }

    void embed(const PackedTokens& batch, RowMatrixF& x) const {
        const BertWeights& w = weights_;
        x.resize(batch.tokens(), config_.hidden_size);
        for (Eigen::Index s = 0; s < batch.sequences(); ++s) {
            const Eigen::Index b = batch.begin[static_cast<std::size_t>(s)];
            for (Eigen::Index p = 0; p < batch.length(s); ++p) {
                const Eigen::Index t = b + p;
                x.row(t) = w.word_embeddings.row(batch.ids[static_cast<std::size_t>(t)]) +
                           w.position_embeddings.row(p) + w.token_type_embeddings.row(0);
            }
        }
        detail::layer_norm_rows(x, w.embedding_norm_weight, w.embedding_norm_bias,
                                config_.layer_norm_eps);
    }

    // Each sequence's query/key/value rows are copied into buffers of their own first, so the
    // softmax (whose vectorisation in Eigen depends on where a row starts in memory) sees the
    // same addresses modulo alignment whichever batch the sequence is in. The two products
    // per head run through linalg::gemm (the run-time dispatched kernels; each score and
    // context value is one multiply-add chain, whatever the sequence's neighbours).
    void attention(const PackedTokens& batch, BertWorkspace& ws) const {
        const Eigen::Index h = config_.hidden_size;
        const Eigen::Index d = config_.head_size();
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        // The softmax of the run-time level (linalg/elementwise.hpp), or Eigen's below.
        const auto* kernels = linalg::detail::elementwise_kernels(simd::active());
        const auto softmax = kernels != nullptr ? kernels->softmax : nullptr;
        for (Eigen::Index s = 0; s < batch.sequences(); ++s) {
            const Eigen::Index b = batch.begin[static_cast<std::size_t>(s)];
            const Eigen::Index len = batch.length(s);
            if (len == 0) continue;
            ws.sequence_qkv = ws.qkv.middleRows(b, len);
            ws.sequence_context.resize(len, h);
            ws.scores.resize(len, len);
            const float* qkv = ws.sequence_qkv.data();
            for (Eigen::Index head = 0; head < config_.num_heads; ++head) {
                // scores = q k^T, q and k: [len, d] column blocks of the [len, 3H] rows.
                linalg::gemm(len, len, d, qkv + head * d, 3 * h, qkv + h + head * d, 3 * h, true,
                             ws.scores.data(), len);
                for (Eigen::Index i = 0; i < len; ++i) {
                    if (softmax != nullptr) {
                        softmax(ws.scores.data() + i * len, len, scale);
                        continue;
                    }
                    auto row = ws.scores.row(i).array();
                    row *= scale;
                    row = (row - row.maxCoeff()).exp();
                    row /= row.sum();
                }
                // context = scores v, v: [len, d].
                linalg::gemm(len, d, len, ws.scores.data(), len, qkv + 2 * h + head * d, 3 * h,
                             false, ws.sequence_context.data() + head * d, h);
            }
            ws.context.middleRows(b, len) = ws.sequence_context;
        }
    }

    // The linear layers of one transformer layer, packed (the LayerNorms stay in weights_).
    struct PackedLayer {
        linalg::PackedLinear qkv, attention_output, intermediate, output;
    };

    void run_layer(const BertLayerWeights& l, const PackedLayer& p, const PackedTokens& batch,
                   BertWorkspace& ws) const {
        const float eps = config_.layer_norm_eps;
        p.qkv.apply(ws.hidden, ws.qkv);
        attention(batch, ws);
        p.attention_output.apply(ws.context, ws.projected);
        ws.hidden += ws.projected;
        detail::layer_norm_rows(ws.hidden, l.attention_norm_weight, l.attention_norm_bias, eps);
        p.intermediate.apply(ws.hidden, ws.intermediate);
        detail::activate(ws.intermediate, config_.activation);
        p.output.apply(ws.intermediate, ws.projected);
        ws.hidden += ws.projected;
        detail::layer_norm_rows(ws.hidden, l.output_norm_weight, l.output_norm_bias, eps);
    }

    BertConfig config_;
    BertWeights weights_;  // the linear layers' matrices and biases are empty: see packed_
    std::vector<PackedLayer> packed_;
};

}  // namespace embedkit::text
