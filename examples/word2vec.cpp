// word2vec: trains word vectors (skip-gram or CBOW, negative sampling) on a text file, writes
// them in word2vec's text and binary formats and as .npy + vocabulary, evaluates them on analogy
// and word-similarity files, prints the nearest words of a few probes and king - man + woman,
// and draws a 2-D PCA picture of word groups (days, months, numbers, family).
//
//   word2vec --corpus data/corpus/corpus.txt --out build/w2v [--model sg|cbow] [--dim 100]
//            [--window 5] [--negative 5] [--min-count 5] [--sample 1e-3] [--epochs 5]
//            [--threads N] [--seed S] [--eval-analogies FILE] [--eval-similarity FILE]
#include "common/example_support.hpp"

#include <embedkit/text/word2vec.hpp>
#include <embedkit/viz/scatter.hpp>

#include <Eigen/Eigenvalues>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace ek = embedkit;
namespace text = embedkit::text;

// The word groups of the picture; words missing from the vocabulary are left out.
const std::vector<std::pair<std::string, std::vector<std::string>>> picture_groups = {
    {"days", {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}},
    {"months",
     {"january", "february", "march", "april", "may", "june", "july", "august", "september",
      "october", "november", "december"}},
    {"numbers", {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}},
    {"family",
     {"father", "mother", "son", "daughter", "brother", "sister", "husband", "wife", "uncle",
      "aunt", "king", "queen"}},
};

// Projects the picture's words on their first two principal components and draws them.
void draw_groups(const text::WordVectors& wv, const std::string& path) {
    const text::WordIndex index(wv);
    std::vector<Eigen::Index> rows;
    std::vector<int> labels;
    std::vector<std::string> names;
    for (std::size_t g = 0; g < picture_groups.size(); ++g) {
        names.push_back(picture_groups[g].first);
        for (const std::string& w : picture_groups[g].second)
            if (const Eigen::Index r = index.find(w); r >= 0) {
                rows.push_back(r);
                labels.push_back(static_cast<int>(g));
            }
    }
    if (rows.size() < 3) {
        std::cout << "picture: fewer than 3 of its words are in the vocabulary; not drawn\n";
        return;
    }
    Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()), wv.dim());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Eigen::VectorXd v = wv.vectors.row(rows[i]).cast<double>().transpose();
        x.row(static_cast<Eigen::Index>(i)) = v.transpose() / std::max(v.norm(), 1e-12);
    }
    x.rowwise() -= x.colwise().mean();
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(x.transpose() * x);
    const Eigen::Index d = wv.dim();
    Eigen::MatrixXd pc(d, 2);
    pc.col(0) = eig.eigenvectors().col(d - 1);
    if (d > 1)
        pc.col(1) = eig.eigenvectors().col(d - 2);
    else
        pc.col(1).setZero();
    const Eigen::MatrixXd points = x * pc;
    ek::viz::ScatterOptions o;
    o.title = "word groups, first two principal components";
    o.class_names = names;
    o.legend_title = "group";
    o.point_radius = 6;
    ek::viz::save_scatter(path, points, labels, o);
    std::cout << "wrote " << path << " (" << rows.size() << " words)\n";
}

// Nearest words of a few probes and king - man + woman.
void print_probes(const text::WordVectors& wv) {
    const text::WordIndex index(wv, 30000);
    for (const std::string probe : {"king", "water", "love", "good", "god", "tree"}) {
        if (index.find(probe) < 0) continue;
        std::cout << "nearest to " << probe << ":";
        for (const auto& w : index.nearest(probe, 6)) std::cout << " " << w.word;
        std::cout << "\n";
    }
    if (index.find("king") >= 0 && index.find("man") >= 0 && index.find("woman") >= 0) {
        std::cout << "king - man + woman:";
        for (const auto& w : index.analogy("man", "king", "woman", 5))
            std::printf(" %s (%.3f)", w.word.c_str(), static_cast<double>(w.score));
        std::cout << "\n";
    }
}

// Prints the evaluations asked for and returns their metrics.json fields.
std::string evaluate(const text::WordVectors& wv, const example::Flags& flags) {
    std::string metrics;
    if (!flags.str("--eval-analogies").empty()) {
        const text::AnalogyReport r = text::evaluate_analogies(wv, flags.str("--eval-analogies"));
        std::cout << "analogies (top 30,000 words, 3CosAdd):\n";
        std::string sections;
        for (const auto& s : r.sections) {
            std::printf("  %-30s %5lld of %5lld covered, accuracy %.3f\n", s.name.c_str(),
                        static_cast<long long>(s.covered), static_cast<long long>(s.questions),
                        s.accuracy());
            sections += std::string(sections.empty() ? "" : ", ") + example::Json::string(s.name) +
                        ": [" + std::to_string(s.correct) + ", " + std::to_string(s.covered) +
                        ", " + std::to_string(s.questions) + "]";
        }
        std::printf("  %-30s %5lld of %5lld covered, accuracy %.4f\n", "total",
                    static_cast<long long>(r.total.covered),
                    static_cast<long long>(r.total.questions), r.total.accuracy());
        metrics += ", \"analogy_accuracy\": " + example::Json::number(r.total.accuracy()) +
                   ", \"analogy_covered\": " + std::to_string(r.total.covered) +
                   ", \"analogy_questions\": " + std::to_string(r.total.questions) +
                   ", \"analogy_sections\": {" + sections + "}";
    }
    if (!flags.str("--eval-similarity").empty()) {
        const text::SimilarityReport s =
            text::evaluate_similarity(wv, flags.str("--eval-similarity"));
        std::printf("word similarity: Spearman %.4f over %lld of %lld pairs\n", s.spearman,
                    static_cast<long long>(s.covered), static_cast<long long>(s.pairs));
        metrics += ", \"wordsim_spearman\": " + example::Json::number(s.spearman) +
                   ", \"wordsim_covered\": " + std::to_string(s.covered) +
                   ", \"wordsim_pairs\": " + std::to_string(s.pairs);
    }
    return metrics;
}

// --vectors FILE: read vectors someone wrote (word2vec.c, gensim, this example) and evaluate.
int evaluate_file(const example::Flags& flags) {
    const std::string path = flags.str("--vectors");
    const bool binary = path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0;
    const text::WordVectors wv = text::load_word2vec(path, binary);
    std::cout << "read " << path << ": " << wv.size() << " words x " << wv.dim() << "\n";
    print_probes(wv);
    evaluate(wv, flags);
    return 0;
}

int run(int argc, char** argv) {
    example::Flags flags(
        "word2vec",
        "Trains word vectors with Word2Vec (skip-gram or CBOW with negative sampling) on a text\n"
        "file (one sentence or document per line, whitespace-separated tokens; scripts/get-corpus\n"
        "builds the reference corpus), writes vectors.txt and vectors.bin (word2vec's formats),\n"
        "vectors.npy with vocab.tsv, metrics.json and groups.svg into --out, and evaluates on\n"
        "analogy (questions-words.txt) and similarity (wordsim353.tsv) files when given\n"
        "(scripts/get-word-eval fetches both).");
    flags.add("--corpus", "", "training text (required)");
    flags.add("--out", "", "folder for the outputs (required; created)");
    flags.add("--model", "sg", "sg (skip-gram) or cbow");
    flags.add("--dim", "100", "vector size");
    flags.add("--window", "5", "largest distance to a context word");
    flags.add("--negative", "5", "negative samples per word");
    flags.add("--min-count", "5", "drop words seen fewer times");
    flags.add("--sample", "1e-3", "subsampling threshold (0: off)");
    flags.add("--epochs", "5", "passes over the corpus");
    flags.add("--threads", std::to_string(std::max(1u, std::thread::hardware_concurrency())),
              "training threads (1: bit-identical reruns)");
    flags.add("--seed", "1", "random seed");
    flags.add("--eval-analogies", "", "questions-words.txt-style file");
    flags.add("--eval-similarity", "", "wordsim353.tsv-style file");
    flags.add_switch("--lowercase", "lower-case ASCII letters of the corpus");
    flags.add("--vectors", "",
              "evaluate word2vec vectors from this file instead of training (.bin: binary format, "
              "else text; e.g. gensim's)");
    if (!flags.parse(argc, argv)) return 0;
    if (!flags.str("--vectors").empty()) return evaluate_file(flags);
    if (flags.str("--corpus").empty() || flags.str("--out").empty())
        throw ek::ArgumentError("--corpus and --out are required (see --help)");
    const std::string model = flags.str("--model");
    if (model != "sg" && model != "cbow")
        throw ek::ArgumentError("--model must be sg or cbow, got '" + model + "'");
    if (!std::ifstream(flags.str("--corpus")))
        throw ek::ArgumentError("corpus '" + flags.str("--corpus") +
                                "' not found: scripts/get-corpus builds the reference corpus "
                                "(data/corpus/corpus.txt)");
    const std::string out = flags.str("--out");
    std::error_code made;
    std::filesystem::create_directories(out, made);
    if (made || !std::filesystem::is_directory(out))
        throw ek::IoError("cannot create the folder '" + out + "'" +
                          (made ? ": " + made.message() : std::string()));

    text::VocabularyOptions vo;
    vo.min_count = flags.integer("--min-count", 1, 1LL << 40);
    vo.lowercase = flags.on("--lowercase");
    std::cout << "reading the vocabulary of " << flags.str("--corpus") << " ...\n";
    const text::Vocabulary vocab = text::build_vocabulary(flags.str("--corpus"), vo);
    std::cout << "vocabulary: " << vocab.size() << " words (min count " << vo.min_count << ") of "
              << vocab.corpus_words << " tokens in " << vocab.lines << " lines\n";

    text::Word2VecOptions o;
    o.model =
        model == "sg" ? text::Word2VecOptions::Model::skipgram : text::Word2VecOptions::Model::cbow;
    o.dim = static_cast<int>(flags.integer("--dim", 1, 10000));
    o.window = static_cast<int>(flags.integer("--window", 1, 1000));
    o.negative = static_cast<int>(flags.integer("--negative", 1, 1000));
    o.epochs = static_cast<int>(flags.integer("--epochs", 1, 10000));
    o.threads = static_cast<int>(flags.integer("--threads", 1, 1024));
    o.sample = flags.number("--sample", 0, 1);
    o.seed = static_cast<std::uint64_t>(flags.integer("--seed", 0, 1LL << 62));
    text::Word2VecStats stats;
    const text::WordVectors wv = text::train_word2vec(flags.str("--corpus"), vocab, o, &stats);
    std::printf("trained in %.1f s: ", stats.seconds);
    std::cout << static_cast<long>(stats.raw_words_per_second()) << " words/s ("
              << static_cast<long>(stats.effective_words_per_second())
              << " after subsampling), level " << ek::simd::level_name(ek::simd::active()) << "\n";

    text::save_word2vec_text(out + "/vectors.txt", wv);
    text::save_word2vec_binary(out + "/vectors.bin", wv);
    text::save_word2vec_npy(out + "/vectors.npy", out + "/vocab.tsv", wv);
    std::cout << "wrote " << out << "/vectors.txt, vectors.bin, vectors.npy, vocab.tsv\n";

    print_probes(wv);

    std::string metrics =
        "{\"model\": " + example::Json::string(model) + ", \"dim\": " + std::to_string(o.dim) +
        ", \"epochs\": " + std::to_string(o.epochs) +
        ", \"threads\": " + std::to_string(o.threads) + ", \"seed\": " + std::to_string(o.seed) +
        ", \"vocabulary\": " + std::to_string(vocab.size()) +
        ", \"corpus_words\": " + std::to_string(vocab.corpus_words) +
        ", \"seconds\": " + example::Json::number(stats.seconds) +
        ", \"raw_words_per_second\": " + example::Json::number(stats.raw_words_per_second()) +
        ", \"effective_words_per_second\": " +
        example::Json::number(stats.effective_words_per_second()) + ", \"level\": " +
        example::Json::string(std::string(ek::simd::level_name(ek::simd::active())));
    metrics += evaluate(wv, flags);
    metrics += "}\n";
    example::write_text_atomic(out + "/metrics.json", metrics);
    std::cout << "wrote " << out << "/metrics.json\n";
    draw_groups(wv, out + "/groups.svg");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ek::Error& e) {
        std::cerr << "word2vec: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "word2vec: unexpected error: " << e.what() << "\n";
        return 3;
    }
}
