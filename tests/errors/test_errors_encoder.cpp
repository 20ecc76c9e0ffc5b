// Bad-input rows (text): the sentence encoder's model-folder loader and its other entry points
// (SentenceEncoder, BertEncoder). Each case copies a committed tiny model folder
// (tests/text/data/tiny/mean_norm) to a temporary folder, breaks one file or tensor, and
// requires the row's exception. Each EMBEDKIT_ERROR_ROW is one row of docs/ERRORS.md.
#include "error_rows.hpp"

#include <embedkit/embedkit.hpp>
#include <embedkit/text/sentence_encoder.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace text = embedkit::text;
namespace io = embedkit::io;

const fs::path enc_source = fs::path(EMBEDKIT_TEXT_DATA_DIR) / "tiny" / "mean_norm";

std::string enc_read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Replaces the first occurrence of `from` in `s` (which must hold it) by `to`.
std::string enc_replace(std::string s, const std::string& from, const std::string& to) {
    const std::size_t at = s.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "fixture lacks '", from, "'");
    return s.replace(at, from.size(), to);
}

// A fresh copy of the tiny model in its own temporary folder, removed at the end.
struct BrokenModel {
    fs::path dir = fs::temp_directory_path() /
                   ("embedkit_errors_encoder_" + std::to_string(std::random_device{}()));
    BrokenModel() {
        fs::create_directories(dir);
        fs::copy(enc_source, dir, fs::copy_options::recursive);
    }
    ~BrokenModel() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    BrokenModel(const BrokenModel&) = delete;
    BrokenModel& operator=(const BrokenModel&) = delete;

    std::string path() const { return dir.string(); }
    void write(const std::string& name, const std::string& bytes) const {
        std::ofstream(dir / name, std::ios::binary | std::ios::trunc) << bytes;
    }
    void edit(const std::string& name, const std::string& from, const std::string& to) const {
        write(name, enc_replace(enc_read(dir / name), from, to));
    }
    void remove(const std::string& name) const { fs::remove(dir / name); }

    // Rewrites model.safetensors: every tensor as stored, except that `drop` is left out and
    // `reshape` (if named) gets `shape` and `dtype` with as many bytes as they need.
    void rewrite_weights(const std::string& drop, const std::string& reshape = "",
                         std::vector<std::uint64_t> shape = {},
                         io::SafetensorsDtype dtype = io::SafetensorsDtype::f32) const {
        std::vector<io::SafetensorsInput> inputs;
        {
            const io::SafetensorsFile f((dir / "model.safetensors").string());
            for (const io::SafetensorsTensor& t : f.tensors()) {
                if (t.name == drop) continue;
                io::SafetensorsInput in;
                in.name = t.name;
                in.dtype = t.dtype;
                in.shape = t.shape;
                const unsigned char* b = f.bytes(t);
                in.bytes.assign(b, b + t.byte_size());
                if (t.name == reshape) {
                    std::uint64_t n = 1;
                    for (const std::uint64_t d : shape) n *= d;
                    in.dtype = dtype;
                    in.shape = shape;
                    in.bytes.assign(n * io::safetensors_dtype_size(dtype), 0);
                }
                inputs.push_back(std::move(in));
            }
        }
        io::write_safetensors((dir / "model.safetensors").string(), inputs);
    }
};

text::SentenceEncoder enc_load(const BrokenModel& m, text::EncoderOptions o = {}) {
    return text::SentenceEncoder::load(m.path(), o);
}

}  // namespace

TEST_CASE("errors table: sentence encoder, model folder") {
    {
        const BrokenModel m;  // the fixture itself loads
        CHECK(enc_load(m).dimension() == 32);
    }
    EMBEDKIT_ERROR_ROW("ENC-01", embedkit::IoError,
                       "embedkit::text::SentenceEncoder::load: '/nonexistent/model' is not a "
                       "readable folder",
                       text::SentenceEncoder::load("/nonexistent/model"));
    {
        const BrokenModel m;
        m.remove("modules.json");
        EMBEDKIT_ERROR_ROW("ENC-02", embedkit::FormatError, "' has no modules.json", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("modules.json", "sentence_transformers.models.Normalize",
               "sentence_transformers.models.Dense");
        EMBEDKIT_ERROR_ROW("ENC-03", embedkit::FormatError,
                           "only Transformer, Pooling and Normalize modules are supported",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.write(
            "modules.json",
            R"([{"idx":0,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
{"idx":1,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}])");
        EMBEDKIT_ERROR_ROW("ENC-04", embedkit::FormatError,
                           "is out of place: the modules must be Transformer, Pooling and an "
                           "optional Normalize, in that order",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("modules.json", "\"1_Pooling\"", "\"../1_Pooling\"");
        EMBEDKIT_ERROR_ROW("ENC-05", embedkit::FormatError,
                           "must be a folder inside the model folder", enc_load(m));
    }
    {
        const BrokenModel m;
        m.write(
            "modules.json",
            R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}])");
        EMBEDKIT_ERROR_ROW("ENC-06", embedkit::FormatError,
                           "lists no Transformer and Pooling modules", enc_load(m));
    }
    {
        const BrokenModel m;
        m.remove("config.json");
        EMBEDKIT_ERROR_ROW("ENC-07", embedkit::FormatError, "' has no config.json", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"model_type\": \"bert\"", "\"model_type\": \"roberta\"");
        EMBEDKIT_ERROR_ROW("ENC-08", embedkit::FormatError,
                           "is \"roberta\": only BERT models (model_type \"bert\") are supported",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"model_type\": \"bert\",", "");
        EMBEDKIT_ERROR_ROW("ENC-09", embedkit::FormatError,
                           "lacks \"model_type\" (expected \"bert\")", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
        EMBEDKIT_ERROR_ROW("ENC-10", embedkit::FormatError,
                           "hidden_size 32 is not a multiple of num_attention_heads 5",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"hidden_act\": \"gelu\"", "\"hidden_act\": \"silu\"");
        EMBEDKIT_ERROR_ROW("ENC-11", embedkit::FormatError,
                           "is \"silu\", not a supported activation", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"position_embedding_type\": \"absolute\"",
               "\"position_embedding_type\": \"relative_key\"");
        EMBEDKIT_ERROR_ROW("ENC-12", embedkit::FormatError,
                           "only absolute position embeddings are supported", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": 0");
        EMBEDKIT_ERROR_ROW("ENC-13", embedkit::FormatError, "must be a number in (0, 1)",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"num_hidden_layers\": 2", "\"num_hidden_layers\": -2");
        EMBEDKIT_ERROR_ROW("ENC-14", embedkit::FormatError,
                           "\"num_hidden_layers\" must be an integer from 1 to 4096, got -2",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("sentence_bert_config.json", "\"max_seq_length\": 16", "\"max_seq_length\": 33");
        EMBEDKIT_ERROR_ROW("ENC-15", embedkit::FormatError,
                           "\"max_seq_length\" must be an integer from 2 to 32, got 33",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("sentence_bert_config.json", "\"do_lower_case\": false", "\"do_lower_case\": true");
        EMBEDKIT_ERROR_ROW("ENC-16", embedkit::FormatError,
                           "is true: lower-casing texts before tokenizing (Python's str.lower) "
                           "is not supported",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("1_Pooling/config.json", "\"word_embedding_dimension\": 32",
               "\"word_embedding_dimension\": 384");
        EMBEDKIT_ERROR_ROW("ENC-17", embedkit::FormatError,
                           "is 384, but the model's hidden_size is 32", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("1_Pooling/config.json", "\"pooling_mode_weightedmean_tokens\": false",
               "\"pooling_mode_weightedmean_tokens\": true");
        EMBEDKIT_ERROR_ROW("ENC-18", embedkit::FormatError,
                           "is true: weighted-mean pooling is not supported", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("1_Pooling/config.json", "\"pooling_mode_mean_tokens\": true",
               "\"pooling_mode_mean_tokens\": false");
        EMBEDKIT_ERROR_ROW("ENC-19", embedkit::FormatError, "selects no pooling mode", enc_load(m));
    }
    {
        const BrokenModel m;
        m.remove("vocab.txt");
        m.remove("tokenizer.json");
        EMBEDKIT_ERROR_ROW("ENC-20", embedkit::FormatError,
                           "has neither vocab.txt nor tokenizer.json", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("tokenizer.json", "\"BertNormalizer\"", "\"NFC\"");
        EMBEDKIT_ERROR_ROW("ENC-21", embedkit::FormatError,
                           "is \"NFC\": only the BertNormalizer of WordPiece models is supported",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("tokenizer.json", "\"model\": {\n    \"type\": \"WordPiece\"",
               "\"model\": {\n    \"type\": \"BPE\"");
        EMBEDKIT_ERROR_ROW("ENC-22", embedkit::FormatError,
                           "is \"BPE\": only WordPiece tokenizers are supported", enc_load(m));
    }
    {
        const BrokenModel m;
        m.remove("vocab.txt");
        m.edit("tokenizer.json", "\"[SEP]\": 3", "\"[SEP]\": 2");
        EMBEDKIT_ERROR_ROW("ENC-23", embedkit::FormatError, "repeats id 2", enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("vocab.txt", "[SEP]\n", "");
        EMBEDKIT_ERROR_ROW("ENC-24", embedkit::FormatError, "has no sep token '[SEP]'",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.edit("config.json", "\"vocab_size\": 182", "\"vocab_size\": 100");
        EMBEDKIT_ERROR_ROW("ENC-25", embedkit::FormatError,
                           "the tokenizer has 182 tokens, but vocab_size is 100", enc_load(m));
    }
    {
        const BrokenModel m;
        m.remove("model.safetensors");
        EMBEDKIT_ERROR_ROW("ENC-26", embedkit::FormatError,
                           "has no model.safetensors (only safetensors weights are read)",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.rewrite_weights("encoder.layer.1.attention.self.key.bias");
        EMBEDKIT_ERROR_ROW("ENC-27", embedkit::FormatError,
                           "no tensor named 'encoder.layer.1.attention.self.key.bias'",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.rewrite_weights("", "encoder.layer.0.intermediate.dense.weight", {32, 64});
        EMBEDKIT_ERROR_ROW("ENC-28", embedkit::FormatError,
                           "tensor 'encoder.layer.0.intermediate.dense.weight' has shape [32, "
                           "64], expected [64, 32]",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.rewrite_weights("", "embeddings.LayerNorm.bias", {32}, io::SafetensorsDtype::i64);
        EMBEDKIT_ERROR_ROW("ENC-29", embedkit::FormatError,
                           "tensor 'embeddings.LayerNorm.bias' has dtype I64, read_vector reads "
                           "F32, F16 or BF16 as float",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.write("model.safetensors", "not a safetensors file");
        EMBEDKIT_ERROR_ROW("ENC-30", embedkit::FormatError, "embedkit::io::safetensors: '",
                           enc_load(m));
    }
    {
        const BrokenModel m;
        m.write("config.json", "{\"model_type\": \"bert\",}");
        EMBEDKIT_ERROR_ROW("ENC-31", embedkit::FormatError, "config.json", enc_load(m));
    }
}

TEST_CASE("errors table: sentence encoder, encode and options") {
    const BrokenModel m;
    const text::SentenceEncoder enc = enc_load(m);
    const std::vector<std::string> texts = {"a", "\xC3\xA9t\xC3", "b"};
    EMBEDKIT_ERROR_ROW("ENC-32", embedkit::ArgumentError,
                       "text 1: invalid UTF-8 at byte 3 (a truncated sequence)",
                       (void)enc.encode(texts));
    text::EncoderOptions threads;
    threads.threads = -1;
    EMBEDKIT_ERROR_ROW("ENC-33", embedkit::ArgumentError,
                       "embedkit::text::SentenceEncoder: threads must be from 0 to",
                       enc_load(m, threads));
    text::EncoderOptions batch;
    batch.batch_size = 0;
    EMBEDKIT_ERROR_ROW("ENC-34", embedkit::ArgumentError,
                       "embedkit::text::SentenceEncoder: batch_size and max_batch_tokens must be "
                       "at least 1",
                       enc_load(m, batch));
    text::SentenceConfig none = enc.sentence_config();
    none.pooling = text::PoolingModes{};
    none.pooling.mean = false;
    EMBEDKIT_ERROR_ROW("ENC-35", embedkit::ArgumentError,
                       "embedkit::text::SentenceEncoder: no pooling mode is selected",
                       text::SentenceEncoder(enc.tokenizer(), enc.encoder(), none));
    text::SentenceConfig longer = enc.sentence_config();
    longer.max_seq_length = 33;
    EMBEDKIT_ERROR_ROW("ENC-36", embedkit::ArgumentError,
                       "embedkit::text::SentenceEncoder: max_seq_length 33 is more than the "
                       "model's 32 positions",
                       text::SentenceEncoder(enc.tokenizer(), enc.encoder(), longer));
    const text::WordPieceTokenizer small({"[UNK]", "[CLS]", "[SEP]", "a"});
    text::SentenceConfig one = enc.sentence_config();
    one.max_seq_length = 1;
    EMBEDKIT_ERROR_ROW("ENC-37", embedkit::ArgumentError,
                       "embedkit::text::SentenceEncoder: max_seq_length must be at least 2",
                       text::SentenceEncoder(small, enc.encoder(), one));
    text::EncoderOptions int8;
    int8.precision = embedkit::linalg::Precision::int8;
    EMBEDKIT_ERROR_ROW(
        "ENC-38", embedkit::ArgumentError,
        "embedkit::text::SentenceEncoder: options ask for precision int8, the "
        "encoder was packed in fp32",
        text::SentenceEncoder(enc.tokenizer(), enc.encoder(), enc.sentence_config(), int8));
}

TEST_CASE("errors table: BERT encoder") {
    const BrokenModel m;
    const text::SentenceEncoder enc = enc_load(m);
    const text::BertEncoder& bert = enc.encoder();
    text::BertConfig heads = bert.config();
    heads.num_heads = 5;
    EMBEDKIT_ERROR_ROW("BERT-01", embedkit::ArgumentError,
                       "embedkit::text::BertEncoder: hidden_size 32 is not a multiple of "
                       "num_attention_heads 5",
                       text::BertEncoder(heads, bert.weights()));
    text::BertConfig zero = bert.config();
    zero.num_layers = 0;
    EMBEDKIT_ERROR_ROW("BERT-02", embedkit::ArgumentError, "must all be positive",
                       text::BertEncoder(zero, bert.weights()));
    text::BertConfig eps = bert.config();
    eps.layer_norm_eps = 0.0f;
    EMBEDKIT_ERROR_ROW("BERT-03", embedkit::ArgumentError,
                       "embedkit::text::BertEncoder: layer_norm_eps must be positive and finite",
                       text::BertEncoder(eps, bert.weights()));
    text::BertWeights shape = bert.weights();
    shape.layers[1].intermediate_weight.resize(64, 31);
    EMBEDKIT_ERROR_ROW("BERT-04", embedkit::DimensionError,
                       "embedkit::text::BertEncoder: intermediate weight has shape [64, 31], "
                       "expected [64, 32]",
                       text::BertEncoder(bert.config(), shape));
    text::BertWeights layers = bert.weights();
    layers.layers.pop_back();
    EMBEDKIT_ERROR_ROW("BERT-05", embedkit::DimensionError,
                       "embedkit::text::BertEncoder: 1 layers of weights, expected 2",
                       text::BertEncoder(bert.config(), layers));

    text::BertWorkspace ws;
    text::PackedTokens far;
    const std::vector<std::int32_t> ids = {1, 182, 2};
    far.add(ids.data(), ids.size());
    EMBEDKIT_ERROR_ROW("BERT-06", embedkit::ArgumentError,
                       "embedkit::text::BertEncoder::forward: token id 182 at position 1 is "
                       "outside the vocabulary of 182",
                       bert.forward(far, ws));
    text::PackedTokens tall;
    const std::vector<std::int32_t> many(33, 1);
    tall.add(many.data(), many.size());
    EMBEDKIT_ERROR_ROW("BERT-07", embedkit::ArgumentError,
                       "embedkit::text::BertEncoder::forward: sequence 0 has 33 tokens, more "
                       "than the model's 32 positions",
                       bert.forward(tall, ws));
    text::PackedTokens torn = far;
    torn.begin.back() = 1;
    EMBEDKIT_ERROR_ROW("BERT-08", embedkit::ArgumentError,
                       "the packed batch's sequence starts do not cover its tokens",
                       bert.forward(torn, ws));
}

TEST_CASE("errors table: packed linear layer") {
    const embedkit::RowMatrixF w = embedkit::RowMatrixF::Ones(3, 4);
    EMBEDKIT_ERROR_ROW("LIN-01", embedkit::DimensionError,
                       "embedkit::linalg::PackedLinear: the bias has 2 values, the weight 3 rows",
                       embedkit::linalg::PackedLinear(w, embedkit::VectorF::Zero(2)));
    const embedkit::linalg::PackedLinear lin(w, embedkit::VectorF::Zero(3));
    embedkit::RowMatrixF y;
    EMBEDKIT_ERROR_ROW("LIN-02", embedkit::DimensionError,
                       "embedkit::linalg::PackedLinear::apply: x has 5 columns, the layer takes 4",
                       lin.apply(embedkit::RowMatrixF::Ones(2, 5), y));
    embedkit::RowMatrixF xy = embedkit::RowMatrixF::Ones(2, 4);
    EMBEDKIT_ERROR_ROW("LIN-03", embedkit::ArgumentError,
                       "embedkit::linalg::PackedLinear::apply: x and y must be different matrices",
                       lin.apply(xy, xy));
    EMBEDKIT_ERROR_ROW("LIN-04", embedkit::ArgumentError,
                       "embedkit::linalg::parse_precision: unknown precision 'fp16' (fp32, bf16 "
                       "or int8)",
                       embedkit::linalg::parse_precision("fp16"));
    embedkit::RowMatrixF inf = embedkit::RowMatrixF::Ones(3, 4);
    inf(2, 1) = std::numeric_limits<float>::infinity();
    EMBEDKIT_ERROR_ROW("LIN-05", embedkit::ArgumentError,
                       "embedkit::linalg::PackedLinear: int8 needs finite weights; row 2 of the "
                       "weight holds NaN or infinity",
                       embedkit::linalg::PackedLinear(inf, embedkit::VectorF::Zero(3),
                                                      embedkit::linalg::Precision::int8));
}
