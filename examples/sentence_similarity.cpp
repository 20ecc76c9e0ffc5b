// sentence_similarity: sentence embeddings from all-MiniLM-L6-v2 compared by dot product and
// cosine, and a pair of sentences with the same words in another order, which a bag-of-words
// vector cannot tell apart and a sentence embedding can.
//
//   scripts/get-model                 # once: the model into models/all-MiniLM-L6-v2
//   sentence_similarity [--model DIR] [SENTENCE...]
#include "common/text_support.hpp"

#include <embedkit/distance/pair.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

namespace ek = embedkit;

// Lower-cased words (runs of ASCII letters and digits) and their counts.
std::map<std::string, double> bag_of_words(const std::string& text) {
    std::map<std::string, double> bag;
    std::string word;
    for (const char ch : text + " ") {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c)) {
            word += static_cast<char>(std::tolower(c));
        } else if (!word.empty()) {
            bag[word] += 1.0;
            word.clear();
        }
    }
    return bag;
}

double bag_cosine(const std::string& a, const std::string& b) {
    const auto x = bag_of_words(a);
    const auto y = bag_of_words(b);
    double dot = 0, xx = 0, yy = 0;
    for (const auto& [w, n] : x) {
        xx += n * n;
        if (const auto it = y.find(w); it != y.end()) dot += n * it->second;
    }
    for (const auto& [w, n] : y) yy += n * n;
    return xx > 0 && yy > 0 ? dot / std::sqrt(xx * yy) : 0.0;
}

int run(int argc, char** argv) {
    example::Flags flags(
        "sentence_similarity",
        "Embeds sentences with a sentence-transformers model (all-MiniLM-L6-v2 by default) and\n"
        "prints their dot products and cosines; then shows that two sentences with the same\n"
        "words in another order differ for the model but not for a bag of words.");
    example::add_model_flags(flags);
    flags.allow_positional("SENTENCE", "sentences to compare instead of the three built in");
    if (!flags.parse(argc, argv)) return 0;

    std::vector<std::string> texts = flags.positionals();
    if (texts.empty())
        texts = {"The team enjoyed the hike through the meadow",
                 "The national park had great views",
                 "Olive oil drizzled over pizza tastes delicious"};
    const ek::text::SentenceEncoder encoder = example::load_encoder(flags);
    const ek::RowMatrixF e = encoder.encode(texts);
    const auto d = static_cast<std::size_t>(e.cols());

    std::printf("%zu sentences, %ld dimensions (%s)\n\n", texts.size(), static_cast<long>(e.cols()),
                encoder.sentence_config().normalize ? "unit length" : "not normalised");
    for (std::size_t i = 0; i < texts.size(); ++i) std::printf("  [%zu] %s\n", i, texts[i].c_str());
    std::printf("\n  pair      dot     cosine\n");
    for (std::size_t i = 0; i < texts.size(); ++i)
        for (std::size_t j = i + 1; j < texts.size(); ++j) {
            const float* a = e.row(static_cast<Eigen::Index>(i)).data();
            const float* b = e.row(static_cast<Eigen::Index>(j)).data();
            std::printf("  [%zu]-[%zu]  %7.4f  %7.4f\n", i, j, ek::dot(a, b, d),
                        ek::cosine_similarity(a, b, d));
        }

    const std::vector<std::string> swapped = {"Bill ran from the giraffe towards the dolphin",
                                              "Bill ran from the dolphin towards the giraffe"};
    const ek::RowMatrixF s = encoder.encode(swapped);
    std::printf(
        "\nSame words, other order:\n  \"%s\"\n  \"%s\"\n"
        "  sentence embedding cosine %.4f\n  bag-of-words cosine       %.4f  (cannot tell them "
        "apart)\n",
        swapped[0].c_str(), swapped[1].c_str(),
        ek::cosine_similarity(s.row(0).data(), s.row(1).data(), d),
        bag_cosine(swapped[0], swapped[1]));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ek::Error& e) {
        std::cerr << "sentence_similarity: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "sentence_similarity: unexpected error: " << e.what() << "\n";
        return 3;
    }
}
