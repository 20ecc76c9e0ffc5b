// SentenceEncoder against sentence-transformers: three tiny random BERT folders (committed,
// with their reference embeddings and token ids) and, when it is present, all-MiniLM-L6-v2 on
// 2,084 sentences (tests/text/data/README.md says how every reference was made).
#include "model_dir.hpp"
#include "text_test_util.hpp"

#include <embedkit/io/npy.hpp>
#include <embedkit/text/sentence_encoder.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace ek = embedkit;
using ek::RowMatrixF;
using ek::text::EncoderOptions;
using ek::text::SentenceEncoder;

const std::string data_dir = EMBEDKIT_TEXT_DATA_DIR;

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
}

std::vector<std::vector<std::int32_t>> ids_of(const std::string& path) {
    std::vector<std::vector<std::int32_t>> all;
    for (const std::string& line : lines_of(path)) {
        std::istringstream s(line);
        std::vector<std::int32_t> ids;
        std::int32_t id = 0;
        while (s >> id) ids.push_back(id);
        all.push_back(ids);
    }
    return all;
}

struct Agreement {
    double max_abs = 0;
    double min_cosine = 1;
    std::size_t worst = 0;
};

Agreement compare(const RowMatrixF& got, const RowMatrixF& ref) {
    REQUIRE(got.rows() == ref.rows());
    REQUIRE(got.cols() == ref.cols());
    Agreement a;
    for (Eigen::Index i = 0; i < got.rows(); ++i) {
        const Eigen::VectorXd g = got.row(i).cast<double>().transpose();
        const Eigen::VectorXd r = ref.row(i).cast<double>().transpose();
        const double d = (g - r).cwiseAbs().maxCoeff();
        if (d > a.max_abs) {
            a.max_abs = d;
            a.worst = static_cast<std::size_t>(i);
        }
        const double den = g.norm() * r.norm();
        a.min_cosine = std::min(a.min_cosine, den > 0 ? g.dot(r) / den : 1.0);
    }
    return a;
}

void check_ids(const SentenceEncoder& enc, const std::vector<std::string>& texts,
               const std::vector<std::vector<std::int32_t>>& ref) {
    REQUIRE(texts.size() == ref.size());
    const auto got = enc.tokenizer().encode_batch(texts, enc.max_seq_length());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < texts.size(); ++i)
        if (got[i].ids != ref[i]) {
            if (++mismatches <= 3) FAIL_CHECK("token ids differ for text ", i, ": ", texts[i]);
        }
    CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("sentence encoder: tiny BERT folders match sentence-transformers") {
    // mean_norm: mean pooling + Normalize; cls_raw: CLS pooling, no Normalize, 3 layers,
    // layer_norm_eps 1e-5; max_cased: max pooling, a cased tokenizer. Not normalised vectors
    // (norms about 6.5) carry about 1e-6 of batch noise in the reference itself.
    for (const char* name : {"mean_norm", "cls_raw", "max_cased"}) {
        CAPTURE(name);
        const std::string dir = data_dir + "/tiny/" + name;
        const SentenceEncoder enc = SentenceEncoder::load(dir);
        const std::vector<std::string> texts = lines_of(dir + "/texts.txt");
        check_ids(enc, texts, ids_of(dir + "/ids.txt"));
        const RowMatrixF reference = ek::io::read_npy<float>(dir + "/reference.npy");
        for (const ek::simd::Level level : ek::simd::supported()) {  // each matrix-product kernel
            const ek::simd::Scoped forced(level);
            CAPTURE(std::string(ek::simd::level_name(level)));
            const Agreement a = compare(enc.encode(texts), reference);
            INFO("max |difference| ", a.max_abs, " (text ", a.worst, "), min cosine ",
                 a.min_cosine);
            CHECK(a.max_abs <= 1e-5);
            CHECK(a.min_cosine >= 0.99999);
        }
    }
    const SentenceEncoder cls = SentenceEncoder::load(data_dir + "/tiny/cls_raw");
    CHECK(cls.sentence_config().pooling.cls);
    CHECK_FALSE(cls.sentence_config().normalize);
    CHECK(cls.encoder().config().num_layers == 3);
    CHECK(cls.encoder().config().layer_norm_eps == doctest::Approx(1e-5));
    const SentenceEncoder cased = SentenceEncoder::load(data_dir + "/tiny/max_cased");
    CHECK(cased.sentence_config().pooling.max);
    CHECK_FALSE(cased.tokenizer().options().lowercase);
}

TEST_CASE("sentence encoder: results do not depend on threads or batch size") {
    const std::string dir = data_dir + "/tiny/mean_norm";
    std::vector<std::string> texts = lines_of(dir + "/texts.txt");
    const std::vector<std::string> base = texts;
    for (int r = 0; r < 6; ++r) texts.insert(texts.end(), base.begin(), base.end());
    EncoderOptions one;
    one.threads = 1;
    one.batch_size = 7;
    EncoderOptions three = one;
    three.threads = 3;
    const RowMatrixF a = SentenceEncoder::load(dir, one).encode(texts);
    const RowMatrixF b = SentenceEncoder::load(dir, three).encode(texts);
    CHECK((a.array() == b.array()).all());  // bit-identical for every thread count
    EncoderOptions single = one;
    single.batch_size = 1;
    const RowMatrixF c = SentenceEncoder::load(dir, single).encode(texts);
    // A token's state depends only on its own sequence (linalg::PackedLinear computes each row
    // alone, attention and LayerNorm are per sequence and per row): bit-identical whatever
    // the batch size ...
    CHECK((a.array() == c.array()).all());
    // ... and repeated texts get their first copy's vector, whatever pass they fell into.
    const auto n = static_cast<Eigen::Index>(base.size());
    for (int r = 1; r < 7; ++r)
        CHECK((a.topRows(n).array() == a.middleRows(r * n, n).array()).all());
    std::size_t calls = 0, last = 0;
    SentenceEncoder::load(dir, one).encode(texts, [&](std::size_t done, std::size_t total) {
        ++calls;
        CHECK(done > last);
        CHECK(total == texts.size());
        last = done;
    });
    CHECK(last == texts.size());
    CHECK(calls >= texts.size() / 7);
    CHECK(SentenceEncoder::load(dir).encode({}).rows() == 0);
}

TEST_CASE("sentence encoder: invalid UTF-8 names the text and the byte") {
    const SentenceEncoder enc = SentenceEncoder::load(data_dir + "/tiny/mean_norm");
    CHECK_THROWS_WITH_AS(enc.encode({"fine", "also fine", std::string("bad \xC3(", 6)}),
                         doctest::Contains("text 2"), ek::ArgumentError);
}

TEST_CASE("sentence encoder: files() lists what load read, max_seq_length falls back") {
    namespace fs = std::filesystem;
    const fs::path src = data_dir + "/tiny/mean_norm";
    const fs::path dir = fs::temp_directory_path() /
                         ("embedkit_encoder_files_" + std::to_string(std::random_device{}()));
    fs::copy(src, dir, fs::copy_options::recursive);
    const std::string d = dir.string();
    {
        const SentenceEncoder enc = SentenceEncoder::load(d);
        const std::vector<std::string> want = {d + "/modules.json",
                                               d + "/config.json",
                                               d + "/tokenizer_config.json",
                                               d + "/sentence_bert_config.json",
                                               d + "/1_Pooling/config.json",
                                               d + "/tokenizer.json",
                                               d + "/vocab.txt",
                                               d + "/model.safetensors"};
        CHECK(enc.files() == want);
        CHECK(enc.max_seq_length() == 16);  // sentence_bert_config.json
    }
    // Without sentence_bert_config.json, sentence-transformers cuts at min(positions 32,
    // tokenizer_config.json's model_max_length).
    fs::remove(dir / "sentence_bert_config.json");
    CHECK(SentenceEncoder::load(d).max_seq_length() == 16);
    std::string cfg = texttest::read_file((dir / "tokenizer_config.json").string());
    const std::string from = "\"model_max_length\": 16";
    REQUIRE(cfg.find(from) != std::string::npos);
    cfg.replace(cfg.find(from), from.size(),
                "\"model_max_length\": 1000000000000000019884624838656");
    std::ofstream(dir / "tokenizer_config.json", std::ios::binary | std::ios::trunc) << cfg;
    CHECK(SentenceEncoder::load(d).max_seq_length() == 32);
    std::error_code ec;
    fs::remove_all(dir, ec);
}

TEST_CASE("sentence encoder: all-MiniLM-L6-v2 matches sentence-transformers on 2,084 sentences") {
    const std::string dir = embedkit_test::minilm_dir_or_skip();
    if (dir.empty()) return;
    EncoderOptions o;
    o.threads = 2;
    const SentenceEncoder enc = SentenceEncoder::load(dir, o);
    CHECK(enc.max_seq_length() == 256);
    CHECK(enc.dimension() == 384);
    const std::vector<std::string> texts = lines_of(data_dir + "/minilm_sentences.txt");
    check_ids(enc, texts, ids_of(data_dir + "/minilm_reference_ids.txt"));
    const RowMatrixF got = enc.encode(texts);
    const Agreement a = compare(got, ek::io::read_npy<float>(data_dir + "/minilm_reference.npy"));
    INFO("max |difference| ", a.max_abs, " (text ", a.worst, "), min cosine ", a.min_cosine);
    CHECK(a.max_abs <= 1e-5);
    CHECK(a.min_cosine >= 0.99999);
    MESSAGE("all-MiniLM-L6-v2: max |difference| ", a.max_abs, ", min cosine ", a.min_cosine);
}

TEST_CASE("sentence encoder: bf16 and int8 stay close to the float model on 2,084 sentences") {
    // The bars of the precision modes (README, "Precision modes"): the worst cosine over all
    // 2,084 texts to the sentence-transformers embedding, at the active level with this CPU's
    // kernels; then on the first 48 texts at every other level (forced), which at levels
    // without AVX-512 BF16 / VNNI runs the decoded float path.
    const std::string dir = embedkit_test::minilm_dir_or_skip();
    if (dir.empty()) return;
    const std::vector<std::string> texts = lines_of(data_dir + "/minilm_sentences.txt");
    const RowMatrixF ref = ek::io::read_npy<float>(data_dir + "/minilm_reference.npy");
    const std::vector<std::string> some(texts.begin(), texts.begin() + 48);
    const ek::simd::Level active = ek::simd::active();
    for (const ek::linalg::Precision p :
         {ek::linalg::Precision::bf16, ek::linalg::Precision::int8}) {
        const double bar = p == ek::linalg::Precision::bf16 ? 0.9999 : 0.995;
        EncoderOptions o;
        o.threads = 2;
        o.precision = p;
        const SentenceEncoder enc = SentenceEncoder::load(dir, o);
        CHECK(enc.encoder().precision() == p);
        const Agreement a = compare(enc.encode(texts), ref);
        INFO(std::string(ek::linalg::precision_name(p)), ": min cosine ", a.min_cosine);
        CHECK(a.min_cosine >= bar);
        MESSAGE(std::string(ek::linalg::precision_name(p)), " at ",
                std::string(ek::simd::level_name(ek::simd::active())), ": min cosine ",
                a.min_cosine, " over 2,084 texts");
        for (const ek::simd::Level level : ek::simd::supported()) {
            if (level == active) continue;  // all 2,084 texts above
            const ek::simd::Scoped forced(level);
            INFO("level ", std::string(ek::simd::level_name(level)));
            const Agreement b = compare(enc.encode(some), ref.topRows(48));
            CHECK(b.min_cosine >= bar);
        }
    }
}

TEST_CASE("sentence encoder: options and encoder must agree on the precision") {
    const std::string dir = data_dir + "/tiny/mean_norm";
    EncoderOptions o;
    o.precision = ek::linalg::Precision::int8;
    const SentenceEncoder enc = SentenceEncoder::load(dir, o);
    CHECK(enc.encoder().precision() == ek::linalg::Precision::int8);
    CHECK_THROWS_WITH_AS(
        SentenceEncoder(enc.tokenizer(), enc.encoder(), enc.sentence_config(), EncoderOptions{}),
        "embedkit::text::SentenceEncoder: options ask for precision fp32, the encoder was packed "
        "in int8",
        ek::ArgumentError);
}
