// embed_text: one sentence embedding per input line, into a float32 .npy (one row per line, in
// input order), with the token ids of each line on request.
//
//   embed_text --input texts.txt --out texts.npy [--model DIR] [--batch N] [--threads N]
//              [--ids ids.txt]
#include "common/text_support.hpp"

#include <embedkit/core/progress.hpp>
#include <embedkit/io/atomic_file.hpp>
#include <embedkit/io/npy.hpp>

#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace ek = embedkit;

int run(int argc, char** argv) {
    example::Flags flags(
        "embed_text",
        "Embeds every line of a text file (one text per line; '-' reads standard input) with a\n"
        "sentence-transformers model and writes a float32 .npy with one row per line, in input\n"
        "order. Lines end with \\n or \\r\\n; an empty line is an empty text.");
    example::add_model_flags(flags);
    flags.add("--input", "", "text file, one text per line ('-': standard input)");
    flags.add("--out", "", "the .npy to write (written atomically)");
    flags.add("--ids", "", "also write each line's token ids, space-separated, one line per text");
    if (!flags.parse(argc, argv)) return 0;
    if (flags.str("--input").empty() || flags.str("--out").empty())
        throw ek::ArgumentError("--input and --out are required (see --help)");

    const ek::text::SentenceEncoder encoder = example::load_encoder(flags);
    const std::vector<std::string> texts = example::read_lines(flags.str("--input"));
    ek::ProgressBar bar("embedding", static_cast<std::int64_t>(texts.size()));
    const ek::RowMatrixF e = encoder.encode(
        texts, [&](std::size_t done, std::size_t) { bar.update(static_cast<std::int64_t>(done)); });
    const double seconds = bar.finish("embedded " + std::to_string(texts.size()) + " texts");
    ek::io::write_npy(flags.str("--out"), e);
    if (!flags.str("--ids").empty()) {
        std::ostringstream ids;
        for (const ek::text::Encoding& enc :
             encoder.tokenizer().encode_batch(texts, encoder.max_seq_length())) {
            for (std::size_t i = 0; i < enc.ids.size(); ++i) ids << (i ? " " : "") << enc.ids[i];
            ids << "\n";
        }
        example::write_text_atomic(flags.str("--ids"), ids.str());
    }
    std::cout << "wrote " << flags.str("--out") << ": " << e.rows() << " x " << e.cols()
              << " float32";
    if (seconds > 0 && !texts.empty())
        std::cout << " (" << static_cast<long>(static_cast<double>(texts.size()) / seconds)
                  << " texts/s)";
    std::cout << "\n";
    if (!flags.str("--ids").empty()) std::cout << "wrote " << flags.str("--ids") << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ek::Error& e) {
        std::cerr << "embed_text: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "embed_text: unexpected error: " << e.what() << "\n";
        return 3;
    }
}
