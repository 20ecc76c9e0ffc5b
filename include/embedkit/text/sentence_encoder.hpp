// Sentence embeddings from a sentence-transformers model folder of a BERT-family model:
// tokenizer + BertEncoder + pooling (+ Normalize), in one const, thread-safe object.
#pragma once

#include "../core/detail/parallel.hpp"
#include "../core/error.hpp"
#include "../core/threads.hpp"
#include "../core/types.hpp"
#include "../io/json.hpp"
#include "../io/safetensors.hpp"
#include "bert.hpp"
#include "wordpiece.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::text {

/// Which poolings make a sentence's vector, as 1_Pooling/config.json says. Several at once
/// are concatenated in sentence-transformers' order: cls, max, mean, mean_sqrt_len, last_token.
struct PoolingModes {
    bool cls = false;            ///< the [CLS] token's state
    bool max = false;            ///< the largest value of each dimension over the tokens
    bool mean = true;            ///< the mean over the tokens ([CLS] and [SEP] included)
    bool mean_sqrt_len = false;  ///< the sum over the tokens divided by sqrt(tokens)
    bool last_token = false;     ///< the last token's state ([SEP])

    int count() const noexcept {
        return int(cls) + int(max) + int(mean) + int(mean_sqrt_len) + int(last_token);
    }
};

/// What turns token states into a sentence vector, and how texts are cut.
struct SentenceConfig {
    PoolingModes pooling;
    bool normalize = true;             ///< a Normalize module: unit-length vectors
    std::size_t max_seq_length = 256;  ///< tokens per text, [CLS] and [SEP] included
};

/// How encode() runs. Only the speed depends on these, never the result.
struct EncoderOptions {
    /// Threads encode() may use: 0 = embedkit::num_threads() at the time of the call.
    int threads = 0;
    /// Texts per forward pass. A pass also stops at `max_batch_tokens` tokens (a text longer
    /// than that gets a pass of its own), which bounds the scratch memory of each thread to
    /// about max_batch_tokens x (6 H + intermediate) floats (16 MB for all-MiniLM-L6-v2).
    std::size_t batch_size = 32;
    std::size_t max_batch_tokens = 1024;
    /// The number format of the encoder's linear layers, chosen at load (the model file stays
    /// as it is): fp32 (the model as given), bf16 or int8 (linalg::Precision; their accuracy
    /// and speed: README, "Precision modes").
    linalg::Precision precision = linalg::Precision::fp32;
};

/// Called after each forward pass with the texts done so far and the total, under a lock
/// (so from one thread at a time, not always the caller's).
using EncodeProgress = std::function<void(std::size_t done, std::size_t total)>;

/// A sentence encoder: texts in, one vector per text out.
///
/// Results are bit-identical for every thread count and batch size: a text's vector never
/// depends on which other texts share its forward pass (sentence-transformers' do, at the
/// level of float rounding). They may differ in the last bits between SIMD levels.
class SentenceEncoder {
public:
    SentenceEncoder(WordPieceTokenizer tokenizer, BertEncoder encoder, SentenceConfig config,
                    EncoderOptions options = {})
        : tokenizer_(std::move(tokenizer)),
          encoder_(std::move(encoder)),
          config_(config),
          options_(options) {
        check();
    }

    /// Loads a sentence-transformers folder of a BERT-family model (see docs/FORMAT.md for
    /// every file read). Throws IoError if the folder cannot be read and FormatError, naming
    /// the file (and the tensor or key), for anything missing, malformed or unsupported.
    static SentenceEncoder load(const std::string& folder, EncoderOptions options = {});

    /// One row per text, in order: unit length when the model normalises. Texts longer than
    /// max_seq_length() tokens are cut, as sentence-transformers cuts them; an empty text
    /// gives the embedding of "[CLS] [SEP]". Throws ArgumentError for invalid UTF-8 (naming the
    /// text's index and the byte offset).
    RowMatrixF encode(const std::vector<std::string>& texts,
                      const EncodeProgress& progress = nullptr) const {
        const std::size_t n = texts.size();
        RowMatrixF out(static_cast<Eigen::Index>(n), dimension());
        if (n == 0) return out;
        const std::vector<Encoding> encodings =
            tokenizer_.encode_batch(texts, config_.max_seq_length);
        // Longest first, as sentence-transformers sorts, so a pass holds texts of like length.
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return encodings[a].ids.size() > encodings[b].ids.size();
        });
        std::vector<std::size_t> pass_begin{0};
        std::size_t tokens = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t len = encodings[order[i]].ids.size();
            const std::size_t in_pass = i - pass_begin.back();
            if (in_pass > 0 &&
                (in_pass == options_.batch_size || tokens + len > options_.max_batch_tokens)) {
                pass_begin.push_back(i);
                tokens = 0;
            }
            tokens += len;
        }
        pass_begin.push_back(n);

        std::mutex mutex;  // guards the workspace pool and the progress count
        std::vector<std::unique_ptr<BertWorkspace>> pool;
        std::size_t done = 0;
        const int threads = options_.threads > 0 ? options_.threads : num_threads();
        embedkit::detail::parallel_for(
            static_cast<std::ptrdiff_t>(pass_begin.size() - 1), threads, [&](std::ptrdiff_t p) {
                std::unique_ptr<BertWorkspace> ws;
                {
                    const std::lock_guard<std::mutex> lock(mutex);
                    if (!pool.empty()) {
                        ws = std::move(pool.back());
                        pool.pop_back();
                    }
                }
                if (!ws) ws = std::make_unique<BertWorkspace>();
                const std::size_t first = pass_begin[static_cast<std::size_t>(p)];
                const std::size_t last = pass_begin[static_cast<std::size_t>(p) + 1];
                PackedTokens batch;
                for (std::size_t i = first; i < last; ++i) {
                    const std::vector<std::int32_t>& ids = encodings[order[i]].ids;
                    batch.add(ids.data(), ids.size());
                }
                encoder_.forward(batch, *ws);
                for (std::size_t i = first; i < last; ++i) {
                    const auto s = static_cast<Eigen::Index>(i - first);
                    pool_into(ws->hidden.middleRows(batch.begin[static_cast<std::size_t>(s)],
                                                    batch.length(s)),
                              out.row(static_cast<Eigen::Index>(order[i])));
                }
                const std::lock_guard<std::mutex> lock(mutex);
                pool.push_back(std::move(ws));
                done += last - first;
                if (progress) progress(done, n);
            });
        return out;
    }

    /// Length of each sentence vector: hidden size x the number of poolings.
    Eigen::Index dimension() const noexcept {
        return encoder_.config().hidden_size * config_.pooling.count();
    }
    /// Tokens a text is cut to, [CLS] and [SEP] included.
    std::size_t max_seq_length() const noexcept { return config_.max_seq_length; }
    const SentenceConfig& sentence_config() const noexcept { return config_; }
    const EncoderOptions& options() const noexcept { return options_; }
    const WordPieceTokenizer& tokenizer() const noexcept { return tokenizer_; }
    const BertEncoder& encoder() const noexcept { return encoder_; }
    /// The files load() read, in the order read (empty for an encoder built from parts): what
    /// a cache of embeddings should be stamped with, together with encoder().precision().
    const std::vector<std::string>& files() const noexcept { return files_; }

private:
    void check() const {
        const char* func = "embedkit::text::SentenceEncoder";
        if (config_.pooling.count() == 0)
            throw ArgumentError(std::string(func) + ": no pooling mode is selected");
        if (config_.max_seq_length < 2)
            throw ArgumentError(std::string(func) +
                                ": max_seq_length must be at least 2 ([CLS] and [SEP])");
        if (static_cast<Eigen::Index>(config_.max_seq_length) > encoder_.config().max_positions)
            throw ArgumentError(std::string(func) + ": max_seq_length " +
                                std::to_string(config_.max_seq_length) +
                                " is more than the model's " +
                                std::to_string(encoder_.config().max_positions) + " positions");
        if (static_cast<Eigen::Index>(tokenizer_.vocab_size()) > encoder_.config().vocab_size)
            throw ArgumentError(std::string(func) + ": the tokenizer has " +
                                std::to_string(tokenizer_.vocab_size()) +
                                " tokens, the model's embeddings only " +
                                std::to_string(encoder_.config().vocab_size));
        if (options_.threads < 0 || options_.threads > max_num_threads)
            throw ArgumentError(std::string(func) + ": threads must be from 0 to " +
                                std::to_string(max_num_threads) + ", got " +
                                std::to_string(options_.threads));
        if (options_.batch_size == 0 || options_.max_batch_tokens == 0)
            throw ArgumentError(std::string(func) +
                                ": batch_size and max_batch_tokens must be at least 1");
        if (options_.precision != encoder_.precision())
            throw ArgumentError(std::string(func) + ": options ask for precision " +
                                linalg::precision_name(options_.precision) +
                                ", the encoder was packed in " +
                                linalg::precision_name(encoder_.precision()));
    }

    template <class States, class Row>
    void pool_into(const States& states, Row&& row) const {
        const Eigen::Index h = encoder_.config().hidden_size;
        const Eigen::Index len = states.rows();
        Eigen::Index at = 0;
        const PoolingModes& m = config_.pooling;
        if (m.cls) {
            row.segment(at, h) = states.row(0).transpose();
            at += h;
        }
        if (m.max) {
            row.segment(at, h) = states.colwise().maxCoeff().transpose();
            at += h;
        }
        if (m.mean || m.mean_sqrt_len) {
            const VectorF sum = states.colwise().sum().transpose();
            if (m.mean) {
                row.segment(at, h) = sum / static_cast<float>(len);
                at += h;
            }
            if (m.mean_sqrt_len) {
                row.segment(at, h) = sum / std::sqrt(static_cast<float>(len));
                at += h;
            }
        }
        if (m.last_token) row.segment(at, h) = states.row(len - 1).transpose();
        if (config_.normalize) {
            // torch.nn.functional.normalize: x / max(||x||, 1e-12).
            const float norm = row.norm();
            row /= std::max(norm, 1e-12f);
        }
    }

    WordPieceTokenizer tokenizer_;
    BertEncoder encoder_;
    SentenceConfig config_;
    EncoderOptions options_;
    std::vector<std::string> files_;
};

namespace detail {

inline bool model_path_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

inline std::string model_join(const std::string& folder, const std::string& name) {
    if (folder.empty()) return name;
    return folder.back() == '/' ? folder + name : folder + "/" + name;
}

[[noreturn]] inline void model_fail(const std::string& file, const std::string& what) {
    throw FormatError("embedkit::text::SentenceEncoder::load: '" + file + "': " + what);
}

// The files a load reads, in order.
using ModelFiles = std::vector<std::string>;

inline io::JsonDocument model_json(const std::string& folder, const std::string& name,
                                   ModelFiles& files) {
    const std::string path = model_join(folder, name);
    if (!model_path_exists(path))
        throw FormatError("embedkit::text::SentenceEncoder::load: the model folder '" + folder +
                          "' has no " + name);
    files.push_back(path);
    return io::read_json_file(path);
}

inline std::optional<io::JsonDocument> model_json_if(const std::string& folder,
                                                     const std::string& name, ModelFiles& files) {
    if (!model_path_exists(model_join(folder, name))) return std::nullopt;
    files.push_back(model_join(folder, name));
    return io::read_json_file(model_join(folder, name));
}

inline Eigen::Index model_int(const io::JsonValue& obj, const char* key, std::int64_t max) {
    return static_cast<Eigen::Index>(obj.at(key).as_int64(1, max));
}

inline HiddenActivation model_activation(const io::JsonValue& v) {
    const std::string& s = v.as_string();
    if (s == "gelu") return HiddenActivation::gelu;
    if (s == "gelu_new" || s == "gelu_pytorch_tanh" || s == "gelu_fast")
        return HiddenActivation::gelu_tanh;
    if (s == "relu") return HiddenActivation::relu;
    v.fail("is \"" + s +
           "\", not a supported activation (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)");
}

inline BertConfig model_bert_config(const io::JsonValue& c) {
    const std::string& file = c.source();
    if (const io::JsonValue* t = c.find("model_type")) {
        if (t->as_string() != "bert")
            t->fail("is \"" + t->as_string() +
                    "\": only BERT models (model_type \"bert\") are supported");
    } else {
        model_fail(file, "lacks \"model_type\" (expected \"bert\")");
    }
    if (const io::JsonValue* p = c.find("position_embedding_type"))
        if (p->as_string() != "absolute")
            p->fail("is \"" + p->as_string() +
                    "\": only absolute position embeddings are supported");
    BertConfig b;
    const std::int64_t big = std::int64_t(1) << 24;
    b.vocab_size = model_int(c, "vocab_size", std::int64_t(1) << 31);
    b.hidden_size = model_int(c, "hidden_size", big);
    b.num_layers = model_int(c, "num_hidden_layers", 4096);
    b.num_heads = model_int(c, "num_attention_heads", big);
    b.intermediate_size = model_int(c, "intermediate_size", big);
    b.max_positions = model_int(c, "max_position_embeddings", big);
    b.type_vocab_size = c.find("type_vocab_size") ? model_int(c, "type_vocab_size", big) : 2;
    if (const io::JsonValue* e = c.find("layer_norm_eps")) {
        const double eps = e->as_double();
        // Checked after the conversion to float, where a tiny value becomes 0.
        b.layer_norm_eps = static_cast<float>(eps);
        if (!(eps < 1.0) || !(b.layer_norm_eps > 0.0f))
            e->fail("must be a number in (0, 1) that is not 0 as a float");
    }
    if (const io::JsonValue* a = c.find("hidden_act")) b.activation = model_activation(*a);
    if (b.hidden_size % b.num_heads != 0)
        model_fail(file, "hidden_size " + std::to_string(b.hidden_size) +
                             " is not a multiple of num_attention_heads " +
                             std::to_string(b.num_heads));
    return b;
}

// Drops the pages of a tensor already copied out of the mapping from the process's resident
// set, so loading peaks near the model's size instead of twice it. Pages are re-read from the
// file if touched again; nothing is lost.
inline void model_drop_pages(const unsigned char* p, std::size_t n) noexcept {
#if defined(MADV_DONTNEED)
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    if (page == 0 || page == std::uintptr_t(-1)) return;
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t begin = (a + page - 1) / page * page;
    const std::uintptr_t end = (a + n) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
#else
    (void)p;
    (void)n;
#endif
}

class ModelTensors {
public:
    explicit ModelTensors(const std::string& path) : file_(path) {
        // Checkpoints saved from a task model carry a "bert." prefix.
        if (!file_.contains("embeddings.word_embeddings.weight") &&
            file_.contains("bert.embeddings.word_embeddings.weight"))
            prefix_ = "bert.";
    }

    RowMatrixF matrix(const std::string& name, Eigen::Index rows, Eigen::Index cols) {
        const io::SafetensorsTensor& t = file_.tensor(prefix_ + name);
        RowMatrixF m = file_.read_matrix(t.name, rows, cols);
        model_drop_pages(file_.bytes(t), static_cast<std::size_t>(t.end - t.begin));
        return m;
    }
    VectorF vector(const std::string& name, Eigen::Index n) {
        const io::SafetensorsTensor& t = file_.tensor(prefix_ + name);
        VectorF v = file_.read_vector(t.name, n);
        model_drop_pages(file_.bytes(t), static_cast<std::size_t>(t.end - t.begin));
        return v;
    }
    // LayerNorm parameters: "weight"/"bias", or the "gamma"/"beta" of older checkpoints.
    void layer_norm(const std::string& base, Eigen::Index n, VectorF& weight, VectorF& bias) {
        const bool old = !file_.contains(prefix_ + base + ".weight") &&
                         file_.contains(prefix_ + base + ".gamma");
        weight = vector(base + (old ? ".gamma" : ".weight"), n);
        bias = vector(base + (old ? ".beta" : ".bias"), n);
    }

private:
    io::SafetensorsFile file_;
    std::string prefix_;
};

inline BertWeights model_weights(const std::string& path, const BertConfig& c) {
    ModelTensors t(path);
    const Eigen::Index h = c.hidden_size;
    const Eigen::Index inter = c.intermediate_size;
    BertWeights w;
    w.word_embeddings = t.matrix("embeddings.word_embeddings.weight", c.vocab_size, h);
    w.position_embeddings = t.matrix("embeddings.position_embeddings.weight", c.max_positions, h);
    w.token_type_embeddings =
        t.matrix("embeddings.token_type_embeddings.weight", c.type_vocab_size, h);
    t.layer_norm("embeddings.LayerNorm", h, w.embedding_norm_weight, w.embedding_norm_bias);
    for (Eigen::Index l = 0; l < c.num_layers; ++l) {
        const std::string p = "encoder.layer." + std::to_string(l) + ".";
        BertLayerWeights L;
        L.qkv_weight.resize(3 * h, h);
        L.qkv_bias.resize(3 * h);
        const char* parts[3] = {"query", "key", "value"};
        for (int k = 0; k < 3; ++k) {
            const std::string base = p + "attention.self." + parts[k];
            L.qkv_weight.middleRows(k * h, h) = t.matrix(base + ".weight", h, h);
            L.qkv_bias.segment(k * h, h) = t.vector(base + ".bias", h);
        }
        L.attention_output_weight = t.matrix(p + "attention.output.dense.weight", h, h);
        L.attention_output_bias = t.vector(p + "attention.output.dense.bias", h);
        t.layer_norm(p + "attention.output.LayerNorm", h, L.attention_norm_weight,
                     L.attention_norm_bias);
        L.intermediate_weight = t.matrix(p + "intermediate.dense.weight", inter, h);
        L.intermediate_bias = t.vector(p + "intermediate.dense.bias", inter);
        L.output_weight = t.matrix(p + "output.dense.weight", h, inter);
        L.output_bias = t.vector(p + "output.dense.bias", h);
        t.layer_norm(p + "output.LayerNorm", h, L.output_norm_weight, L.output_norm_bias);
        w.layers.push_back(std::move(L));
    }
    return w;
}

// A special token in tokenizer_config.json: a string or an object with "content".
inline void model_special(const io::JsonValue& cfg, const char* key, std::string& out) {
    const io::JsonValue* v = cfg.find(key);
    if (v == nullptr || v->is_null()) return;
    out = v->is_object() ? v->at("content").as_string() : v->as_string();
}

// tokenizer_config.json's model_max_length, which sentence-transformers uses (with the
// model's positions) when sentence_bert_config.json gives no max_seq_length; none if absent.
inline std::optional<double> model_max_length(const std::string& folder, ModelFiles& files) {
    const std::optional<io::JsonDocument> cfg =
        model_json_if(folder, "tokenizer_config.json", files);
    if (!cfg) return std::nullopt;
    const io::JsonValue* m = cfg->root().find("model_max_length");
    if (m == nullptr || m->is_null()) return std::nullopt;
    const double v = m->as_double();
    if (!(v >= 2.0)) m->fail("must be a number of at least 2");
    return v;
}

inline WordPieceTokenizer model_tokenizer(const std::string& folder, ModelFiles& files) {
    WordPieceOptions o;
    const std::optional<io::JsonDocument> tok = model_json_if(folder, "tokenizer.json", files);
    const std::optional<io::JsonDocument> cfg =
        model_json_if(folder, "tokenizer_config.json", files);
    if (tok) {
        const io::JsonValue& root = tok->root();
        if (const io::JsonValue* n = root.find("normalizer"); n && !n->is_null()) {
            if (n->at("type").as_string() != "BertNormalizer")
                n->at("type").fail("is \"" + n->at("type").as_string() +
                                   "\": only the BertNormalizer of WordPiece models is supported");
            if (const io::JsonValue* v = n->find("lowercase")) o.lowercase = v->as_bool();
            if (const io::JsonValue* v = n->find("strip_accents"); v && !v->is_null())
                o.strip_accents = v->as_bool();
            if (const io::JsonValue* v = n->find("handle_chinese_chars"))
                o.tokenize_chinese_chars = v->as_bool();
            if (const io::JsonValue* v = n->find("clean_text")) o.clean_text = v->as_bool();
        }
        if (const io::JsonValue* m = root.find("model")) {
            if (const io::JsonValue* t = m->find("type"); t && t->as_string() != "WordPiece")
                t->fail("is \"" + t->as_string() + "\": only WordPiece tokenizers are supported");
            if (const io::JsonValue* v = m->find("unk_token")) o.unk_token = v->as_string();
            if (const io::JsonValue* v = m->find("continuing_subword_prefix"))
                o.continuing_subword_prefix = v->as_string();
            if (const io::JsonValue* v = m->find("max_input_chars_per_word"))
                o.max_input_chars_per_word = static_cast<std::size_t>(v->as_int64(1, 1 << 20));
        }
    }
    if (cfg) {
        // transformers' BertTokenizerFast rebuilds tokenizer.json's normalizer from these three
        // settings of tokenizer_config.json, with its own defaults where one is absent.
        const io::JsonValue& c = cfg->root();
        const io::JsonValue* lower = c.find("do_lower_case");
        o.lowercase = lower ? lower->as_bool() : true;
        const io::JsonValue* strip = c.find("strip_accents");
        o.strip_accents =
            (strip && !strip->is_null()) ? std::optional<bool>(strip->as_bool()) : std::nullopt;
        const io::JsonValue* cjk = c.find("tokenize_chinese_chars");
        o.tokenize_chinese_chars = cjk ? cjk->as_bool() : true;
        model_special(c, "unk_token", o.unk_token);
        model_special(c, "cls_token", o.cls_token);
        model_special(c, "sep_token", o.sep_token);
        model_special(c, "pad_token", o.pad_token);
        model_special(c, "mask_token", o.mask_token);
    }
    const std::string vocab_txt = model_join(folder, "vocab.txt");
    if (model_path_exists(vocab_txt)) {
        files.push_back(vocab_txt);
        return WordPieceTokenizer::from_vocab_file(vocab_txt, o);
    }
    if (!tok)
        throw FormatError("embedkit::text::SentenceEncoder::load: the model folder '" + folder +
                          "' has neither vocab.txt nor tokenizer.json");
    const io::JsonValue& vocab = tok->root().at("model").at("vocab");
    std::vector<std::string> tokens(vocab.size());
    std::vector<bool> seen(vocab.size(), false);
    for (const io::JsonMember& m : vocab.as_object()) {
        const auto id = static_cast<std::size_t>(
            m.value.as_int64(0, static_cast<std::int64_t>(vocab.size()) - 1));
        if (seen[id]) m.value.fail("repeats id " + std::to_string(id));
        seen[id] = true;
        tokens[id] = m.key;
    }
    try {
        return WordPieceTokenizer(std::move(tokens), o);
    } catch (const ArgumentError& e) {
        throw FormatError("embedkit::text::SentenceEncoder::load: '" +
                          model_join(folder, "tokenizer.json") + "': " + e.what());
    }
}

}  // namespace detail

inline SentenceEncoder SentenceEncoder::load(const std::string& folder, EncoderOptions options) {
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw IoError("embedkit::text::SentenceEncoder::load: '" + folder +
                      "' is not a readable folder");
    detail::ModelFiles files;
    // modules.json: Transformer, Pooling, and optionally Normalize, in that order.
    const io::JsonDocument modules = detail::model_json(folder, "modules.json", files);
    std::string transformer_dir, pooling_dir;
    bool normalize = false;
    for (const io::JsonValue& m : modules.root().as_array()) {
        const io::JsonValue& type = m.at("type");
        const std::string& t = type.as_string();
        const std::string path = m.find("path") ? m.at("path").as_string() : std::string();
        if (path.find("..") != std::string::npos || (!path.empty() && path[0] == '/'))
            m.at("path").fail("must be a folder inside the model folder");
        const std::string dir = path.empty() ? folder : detail::model_join(folder, path);
        const bool ordered =
            (t == "sentence_transformers.models.Transformer" && transformer_dir.empty() &&
             pooling_dir.empty()) ||
            (t == "sentence_transformers.models.Pooling" && !transformer_dir.empty() &&
             pooling_dir.empty()) ||
            (t == "sentence_transformers.models.Normalize" && !pooling_dir.empty() && !normalize);
        if (t != "sentence_transformers.models.Transformer" &&
            t != "sentence_transformers.models.Pooling" &&
            t != "sentence_transformers.models.Normalize")
            type.fail("is \"" + t +
                      "\": only Transformer, Pooling and Normalize modules are supported");
        if (!ordered)
            type.fail(
                "is out of place: the modules must be Transformer, Pooling and an "
                "optional Normalize, in that order");
        if (t == "sentence_transformers.models.Transformer") transformer_dir = dir;
        if (t == "sentence_transformers.models.Pooling") pooling_dir = dir;
        if (t == "sentence_transformers.models.Normalize") normalize = true;
    }
    if (pooling_dir.empty())
        detail::model_fail(detail::model_join(folder, "modules.json"),
                           "lists no Transformer and Pooling modules");

    const io::JsonDocument config = detail::model_json(transformer_dir, "config.json", files);
    const BertConfig bert = detail::model_bert_config(config.root());

    SentenceConfig sc;
    sc.normalize = normalize;
    // Without a max_seq_length, sentence-transformers cuts at min(max_position_embeddings,
    // tokenizer_config.json's model_max_length).
    sc.max_seq_length = static_cast<std::size_t>(bert.max_positions);
    if (const std::optional<double> m = detail::model_max_length(transformer_dir, files))
        if (*m < static_cast<double>(bert.max_positions))
            sc.max_seq_length = static_cast<std::size_t>(*m);
    if (auto sb = detail::model_json_if(transformer_dir, "sentence_bert_config.json", files)) {
        const io::JsonValue& r = sb->root();
        if (const io::JsonValue* m = r.find("max_seq_length"); m && !m->is_null())
            sc.max_seq_length = static_cast<std::size_t>(m->as_int64(2, bert.max_positions));
        if (const io::JsonValue* lower = r.find("do_lower_case"); lower && lower->as_bool())
            lower->fail(
                "is true: lower-casing texts before tokenizing (Python's str.lower) is not "
                "supported; use a tokenizer that lower-cases (do_lower_case in "
                "tokenizer_config.json)");
    }

    const io::JsonDocument pooling = detail::model_json(pooling_dir, "config.json", files);
    const io::JsonValue& p = pooling.root();
    const auto flag = [&](const char* key) {
        const io::JsonValue* v = p.find(key);
        return v != nullptr && v->as_bool();
    };
    if (const io::JsonValue* dim = p.find("word_embedding_dimension"))
        if (dim->as_int64() != bert.hidden_size)
            dim->fail("is " + std::to_string(dim->as_int64()) +
                      ", but the model's hidden_size is " + std::to_string(bert.hidden_size));
    if (flag("pooling_mode_weightedmean_tokens"))
        p.at("pooling_mode_weightedmean_tokens")
            .fail("is true: weighted-mean pooling is not supported");
    sc.pooling.cls = flag("pooling_mode_cls_token");
    sc.pooling.max = flag("pooling_mode_max_tokens");
    sc.pooling.mean = flag("pooling_mode_mean_tokens");
    sc.pooling.mean_sqrt_len = flag("pooling_mode_mean_sqrt_len_tokens");
    sc.pooling.last_token = flag("pooling_mode_lasttoken");
    if (sc.pooling.count() == 0)
        detail::model_fail(detail::model_join(pooling_dir, "config.json"),
                           "selects no pooling mode");

    WordPieceTokenizer tokenizer = detail::model_tokenizer(transformer_dir, files);
    const std::string weights_path = detail::model_join(transformer_dir, "model.safetensors");
    if (!detail::model_path_exists(weights_path))
        throw FormatError("embedkit::text::SentenceEncoder::load: the model folder '" +
                          transformer_dir +
                          "' has no model.safetensors (only safetensors weights are read)");
    if (static_cast<Eigen::Index>(tokenizer.vocab_size()) > bert.vocab_size)
        detail::model_fail(weights_path,
                           "the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                               " tokens, but vocab_size is " + std::to_string(bert.vocab_size));
    files.push_back(weights_path);
    BertEncoder encoder(bert, detail::model_weights(weights_path, bert), options.precision);
    SentenceEncoder out(std::move(tokenizer), std::move(encoder), sc, options);
    for (std::string& f : files)  // tokenizer_config.json is read twice
        if (std::find(out.files_.begin(), out.files_.end(), f) == out.files_.end())
            out.files_.push_back(std::move(f));
    return out;
}

}  // namespace embedkit::text
