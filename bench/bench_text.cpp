// WordPiece tokenizer throughput (text/wordpiece.hpp): the committed test corpus (20,000 mixed
// lines, tests/text/data) and its plain-ASCII lines, encoded with max_length 256 as the
// sentence encoder does; counters tokens/s (ids produced, [CLS]/[SEP] included) and bytes/s.
#include <embedkit/text/wordpiece.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace text = embedkit::text;

std::string data_file(const char* name) {
    const std::string path = std::string(EMBEDKIT_TEXT_DATA_DIR) + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("bench_text: cannot open " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The corpus lines (escapes \\ \n \r \0 undone); ascii_only keeps the lines without bytes >= 0x80.
std::vector<std::string> corpus(bool ascii_only) {
    const std::string all = data_file("corpus.txt");
    std::vector<std::string> out;
    std::string line;
    for (std::size_t i = 0; i < all.size(); ++i) {
        char c = all[i];
        if (c == '\n') {
            bool ascii = true;
            for (const char b : line) ascii = ascii && static_cast<unsigned char>(b) < 0x80;
            if (!ascii_only || ascii) out.push_back(line);
            line.clear();
            continue;
        }
        if (c == '\\' && i + 1 < all.size()) {
            c = all[++i];
            c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
        }
        line += c;
    }
    return out;
}

const text::WordPieceTokenizer& tokenizer() {
    static const auto t = text::WordPieceTokenizer::from_vocab_file(
        std::string(EMBEDKIT_TEXT_DATA_DIR) + "/vocab.txt");
    return t;
}

void run(benchmark::State& state, const std::vector<std::string>& lines) {
    const auto& t = tokenizer();
    text::Encoding enc;
    std::size_t tokens = 0, bytes = 0;
    for (auto _ : state) {
        for (const auto& line : lines) {
            t.encode(line, 256, enc);
            tokens += enc.ids.size();
            bytes += line.size();
            benchmark::DoNotOptimize(enc.ids.data());
        }
    }
    state.counters["tokens/s"] =
        benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
    state.counters["bytes/s"] =
        benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsRate);
}

void corpus_mixed(benchmark::State& state) {
    static const auto lines = corpus(false);
    run(state, lines);
}

void corpus_ascii(benchmark::State& state) {
    static const auto lines = corpus(true);
    run(state, lines);
}

}  // namespace

BENCHMARK(corpus_mixed)->Name("wordpiece/embedkit/corpus_mixed")->Unit(benchmark::kMillisecond);
BENCHMARK(corpus_ascii)->Name("wordpiece/embedkit/corpus_ascii")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
