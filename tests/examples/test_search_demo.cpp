// semantic_search's built-in demo: the texts are those the sentence-transformers reference
// used, and every question's top 3 (passages and cosines) matches that reference within 1e-5.
#include "../text/model_dir.hpp"
#include "search_demo.hpp"
#include "text_support.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> lines_with_prefix(const std::string& path, const std::string& prefix) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, prefix.size(), prefix) == 0) out.push_back(line.substr(prefix.size()));
    return out;
}

}  // namespace

TEST_CASE("semantic_search demo: the built-in set is the reference's") {
    const std::string data = EMBEDKIT_TEXT_DATA_DIR;
    CHECK(lines_with_prefix(data + "/search_demo.txt", "P\t") == example::demo_passages());
    CHECK(lines_with_prefix(data + "/search_demo.txt", "Q\t") == example::demo_questions());
}

TEST_CASE("semantic_search demo: top 3 of every question match sentence-transformers") {
    const std::string dir = embedkit_test::minilm_dir_or_skip();
    if (dir.empty()) return;
    const embedkit::text::SentenceEncoder enc = embedkit::text::SentenceEncoder::load(dir);
    const embedkit::RowMatrixF passages = enc.encode(example::demo_passages());
    const embedkit::TopK<float> hits =
        example::search_passages(enc, passages, example::demo_questions(), 3);
    const std::vector<std::string> ref = lines_with_prefix(
        std::string(EMBEDKIT_TEXT_DATA_DIR) + "/search_demo_reference.txt", "Q\t");
    REQUIRE(ref.size() == example::demo_questions().size());
    for (std::size_t q = 0; q < ref.size(); ++q) {
        std::istringstream s(ref[q]);
        std::size_t number = 0;
        s >> number;
        REQUIRE(number == q);
        for (Eigen::Index r = 0; r < 3; ++r) {
            Eigen::Index passage = -1;
            double score = 0;
            s >> passage >> score;
            const auto row = static_cast<Eigen::Index>(q);
            CAPTURE(q);
            CAPTURE(r);
            CHECK(hits.indices(row, r) == passage);
            CHECK(std::abs(static_cast<double>(hits.scores(row, r)) - score) <= 1e-5);
        }
    }
}
