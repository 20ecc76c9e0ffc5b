// WordPiece tokenizer matching Hugging Face's BERT tokenizer (normalizer, pre-tokenizer,
// WordPiece, [CLS]/[SEP]) id for id; Unicode rules come from generated tables, not ICU.
#pragma once

#include "../core/error.hpp"
#include "detail/unicode.hpp"
#include "detail/utf8.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace embedkit::text {

/// The options of Hugging Face's BertTokenizer / BertNormalizer / WordPiece, with their
/// defaults (those of all-MiniLM-L6-v2 and bert-base-uncased).
struct WordPieceOptions {
    bool lowercase = true;               ///< do_lower_case: per code point, no context
    std::optional<bool> strip_accents;   ///< NFD, then marks removed; unset: follow lowercase
    bool tokenize_chinese_chars = true;  ///< each CJK ideograph becomes a word of its own
    bool clean_text = true;              ///< drop NUL, U+FFFD, controls; whitespace -> space
    std::string unk_token = "[UNK]";     ///< must be in the vocabulary
    std::string cls_token = "[CLS]";     ///< must be in the vocabulary
    std::string sep_token = "[SEP]";     ///< must be in the vocabulary
    std::string pad_token = "[PAD]";     ///< optional
    std::string mask_token = "[MASK]";   ///< optional
    std::string continuing_subword_prefix = "##";
    std::size_t max_input_chars_per_word = 100;  ///< longer words (in code points) are [UNK]
    /// false (the reference's default): the five special token strings, where they occur
    /// verbatim in a text, are those tokens; true: they are tokenized as ordinary text.
    bool split_special_tokens = false;

    /// The effective strip_accents (the reference: strip_accents, or else lowercase).
    bool strips_accents() const noexcept { return strip_accents.value_or(lowercase); }
};

/// A byte range [begin, end) of the original text.
struct TextSpan {
    std::size_t begin = 0;
    std::size_t end = 0;
    friend bool operator==(const TextSpan& a, const TextSpan& b) noexcept {
        return a.begin == b.begin && a.end == b.end;
    }
    friend bool operator!=(const TextSpan& a, const TextSpan& b) noexcept { return !(a == b); }
};

/// One encoded text: [CLS], the word pieces, [SEP].
struct Encoding {
    std::vector<std::int32_t> ids;  ///< vocabulary ids, [CLS] first and [SEP] last
    std::vector<TextSpan> offsets;  ///< per id, bytes of the original text; [CLS]/[SEP]: {0, 0}
};

/// A WordPiece tokenizer (BERT uncased/cased family). Encodes exactly as Hugging Face's
/// BertTokenizerFast (tokenizers 0.19.1) with the same options, except that invalid UTF-8 is
/// refused (the reference replaces it). All const members are thread-safe.
class WordPieceTokenizer {
public:
    /// No truncation: encode(text) keeps every piece.
    static constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

    /// vocab[i] is the token with id i. Throws ArgumentError for an empty or repeated token,
    /// a token that is not UTF-8, more than 2^31 - 1 tokens, or a vocabulary without the
    /// unk, cls or sep token of the options.
    explicit WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {})
        : vocab_(std::move(vocab)), options_(std::move(options)) {
        build("embedkit::text::WordPieceTokenizer", nullptr);
    }

    /// Reads vocab.txt: one token per line (id = line number from 0), UTF-8, "\n" or "\r\n"
    /// line ends, the last line end optional. Throws IoError if the file cannot be read and
    /// FormatError (naming the file and line) for an empty line, a repeated token, invalid
    /// UTF-8, a carriage return inside a line or a missing unk/cls/sep token.
    static WordPieceTokenizer from_vocab_file(const std::filesystem::path& path,
                                              WordPieceOptions options = {}) {
        const std::string func = "embedkit::text::WordPieceTokenizer::from_vocab_file";
        std::ifstream in(path, std::ios::binary);
        if (!in) throw IoError(func + ": cannot open '" + path.string() + "'");
        std::ostringstream buf;
        buf << in.rdbuf();
        if (in.bad()) throw IoError(func + ": cannot read '" + path.string() + "'");
        const std::string data = std::move(buf).str();
        std::vector<std::string> tokens;
        std::size_t pos = 0;
        while (pos < data.size()) {
            std::size_t end = data.find('\n', pos);
            const std::size_t next = end == std::string::npos ? data.size() : end + 1;
            if (end == std::string::npos) end = data.size();
            if (end > pos && data[end - 1] == '\r') --end;
            tokens.emplace_back(data, pos, end - pos);
            pos = next;
        }
        WordPieceTokenizer t;
        t.vocab_ = std::move(tokens);
        t.options_ = std::move(options);
        const std::string file = path.string();
        t.build(func, &file);
        return t;
    }

    /// Encodes a UTF-8 text: [CLS], its word pieces (at most max_length - 2 of them), [SEP].
    /// Throws ArgumentError for invalid UTF-8 (naming the byte offset) or max_length < 2.
    Encoding encode(std::string_view text, std::size_t max_length = no_limit) const {
        Encoding out;
        encode(text, max_length, out);
        return out;
    }

    /// As above, into out (whose storage is reused).
    void encode(std::string_view text, std::size_t max_length, Encoding& out) const {
        static constexpr const char* func = "embedkit::text::WordPieceTokenizer::encode";
        check_max_length(func, max_length);
        Scratch scratch;
        encode_into(func, nullptr, text, max_length, scratch, out);
    }

    /// Encodes every text (as encode); an error names the text's index.
    template <class Texts>
    std::vector<Encoding> encode_batch(const Texts& texts,
                                       std::size_t max_length = no_limit) const {
        static constexpr const char* func = "embedkit::text::WordPieceTokenizer::encode_batch";
        check_max_length(func, max_length);
        std::vector<Encoding> out(std::size(texts));
        Scratch scratch;
        std::size_t i = 0;
        for (const auto& t : texts) {
            encode_into(func, &i, std::string_view(t), max_length, scratch, out[i]);
            ++i;
        }
        return out;
    }

    /// The id of a token, if it is in the vocabulary.
    std::optional<std::int32_t> id_of(std::string_view token) const noexcept {
        const std::int32_t id = find(whole_, token);
        if (id < 0) return std::nullopt;
        return id;
    }

    /// The token with this id; throws ArgumentError outside [0, vocab_size()).
    const std::string& token_of(std::int32_t id) const {
        if (id < 0 || static_cast<std::size_t>(id) >= vocab_.size())
            throw ArgumentError("embedkit::text::WordPieceTokenizer::token_of: id " +
                                std::to_string(id) + " is outside the vocabulary of " +
                                std::to_string(vocab_.size()) + " tokens");
        return vocab_[static_cast<std::size_t>(id)];
    }

    std::size_t vocab_size() const noexcept { return vocab_.size(); }
    const std::vector<std::string>& vocabulary() const noexcept { return vocab_; }
    const WordPieceOptions& options() const noexcept { return options_; }
    std::int32_t unk_id() const noexcept { return unk_id_; }
    std::int32_t cls_id() const noexcept { return cls_id_; }
    std::int32_t sep_id() const noexcept { return sep_id_; }
    /// The padding and mask ids, if those tokens are in the vocabulary.
    std::optional<std::int32_t> pad_id() const noexcept { return id_of(options_.pad_token); }
    std::optional<std::int32_t> mask_id() const noexcept { return id_of(options_.mask_token); }

private:
    WordPieceTokenizer() = default;

    // Open-addressing hash table over the vocabulary. A slot holds an id (-1: empty) and the
    // key's hash; keys are the tokens themselves (whole_) or, for continuation pieces, the
    // tokens that start with the prefix, without it (rest_), so a piece inside a word is looked
    // up without building prefix + piece.
    struct Table {
        std::vector<std::int32_t> ids;
        std::vector<std::uint32_t> hashes;
        std::size_t mask = 0;
        std::size_t skip = 0;     // bytes of the token before the key (the prefix, or 0)
        std::size_t max_key = 0;  // longest key in bytes
    };

    struct RunMark {
        std::uint32_t ccc;
        char32_t c;
        bool later;  // not the first character of its code point's decomposition
    };

    // Per-call working memory; one per encode call or batch, so const calls share nothing.
    struct Scratch {
        std::string word;                 // the current word's normalized UTF-8
        std::vector<std::uint32_t> ends;  // byte end of each char of word
        std::vector<TextSpan> spans;      // source bytes of each char of word
        // A run of non-starters (marks) waiting for canonical reordering (strip_accents): per
        // mark (combining class, char, whether it is a decomposition's later part), and the
        // source spans of the code points whose first part is in the run, in text order.
        std::vector<RunMark> run;
        std::vector<TextSpan> run_spans;
        TextSpan last_span;  // source of the last code point a first part was taken from
        Scratch() {
            word.reserve(512);
            ends.reserve(128);
            spans.reserve(128);
            run.reserve(16);
            run_spans.reserve(16);
        }
    };

    struct Special {
        std::string text;
        std::int32_t id;
    };

    static std::uint32_t hash(std::string_view s) noexcept {
        // FNV-1a (32-bit): tokens are short, and it needs no alignment or tail handling.
        std::uint32_t h = 2166136261u;
        for (const char c : s) {
            h ^= static_cast<unsigned char>(c);
            h *= 16777619u;
        }
        return h;
    }

    std::int32_t find(const Table& t, std::string_view key) const noexcept {
        if (key.size() > t.max_key) return -1;
        const std::uint32_t h = hash(key);
        for (std::size_t i = h & t.mask;; i = (i + 1) & t.mask) {
            const std::int32_t id = t.ids[i];
            if (id < 0) return -1;
            if (t.hashes[i] != h) continue;
            const std::string& tok = vocab_[static_cast<std::size_t>(id)];
            if (tok.size() - t.skip == key.size() &&
                std::char_traits<char>::compare(tok.data() + t.skip, key.data(), key.size()) == 0)
                return id;
        }
    }

    static void insert(Table& t, const std::string& token, std::int32_t id) {
        const std::string_view key = std::string_view(token).substr(t.skip);
        const std::uint32_t h = hash(key);
        std::size_t i = h & t.mask;
        while (t.ids[i] >= 0) i = (i + 1) & t.mask;
        t.ids[i] = id;
        t.hashes[i] = h;
        t.max_key = std::max(t.max_key, key.size());
    }

    static Table make_table(std::size_t count, std::size_t skip) {
        std::size_t cap = 16;
        while (cap < 2 * count) cap *= 2;  // load factor <= 1/2: short probe runs
        Table t;
        t.ids.assign(cap, -1);
        t.hashes.assign(cap, 0);
        t.mask = cap - 1;
        t.skip = skip;
        return t;
    }

    [[noreturn]] void refuse(const std::string& func, const std::string* file, std::size_t index,
                             const std::string& what) const {
        if (file)
            throw FormatError(func + ": '" + *file + "' line " + std::to_string(index + 1) + ": " +
                              what);
        throw ArgumentError(func + ": vocabulary token " + std::to_string(index) + ": " + what);
    }

    // Validates the vocabulary and options, builds the hash tables, the special-token list and
    // the ASCII fast path. file: the vocab file (errors are then FormatErrors naming it).
    void build(const std::string& func, const std::string* file) {
        if (vocab_.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
            throw ArgumentError(func + ": a vocabulary of " + std::to_string(vocab_.size()) +
                                " tokens does not fit 32-bit ids");
        const std::string& prefix = options_.continuing_subword_prefix;
        std::size_t continued = 0;
        for (const std::string& tok : vocab_)
            if (tok.compare(0, prefix.size(), prefix) == 0) ++continued;
        whole_ = make_table(vocab_.size(), 0);
        rest_ = make_table(continued, prefix.size());
        for (std::size_t i = 0; i < vocab_.size(); ++i) {
            const std::string& tok = vocab_[i];
            if (tok.empty()) refuse(func, file, i, "empty token");
            // The reference reads vocab.txt with Python's universal newlines, where a lone CR
            // ends a line too; refused rather than guessed (no token can contain one usefully:
            // CR is whitespace to the pre-tokenizer).
            if (file && tok.find('\r') != std::string::npos)
                refuse(func, file, i, "a carriage return inside the line");
            std::size_t at = 0;
            const detail::Utf8Fault f = detail::find_utf8_fault(tok, at);
            if (f != detail::Utf8Fault::none)
                refuse(func, file, i,
                       std::string("invalid UTF-8 at byte ") + std::to_string(at) + " (" +
                           detail::utf8_fault_name(f) + ")");
            const std::int32_t old = find(whole_, tok);
            if (old >= 0)
                refuse(func, file, i,
                       "token '" + tok + "' repeats " + (file ? "line " : "token ") +
                           std::to_string(static_cast<std::size_t>(old) + (file ? 1 : 0)));
            const auto id = static_cast<std::int32_t>(i);
            insert(whole_, tok, id);
            if (tok.compare(0, prefix.size(), prefix) == 0) insert(rest_, tok, id);
        }
        const auto required = [&](const std::string& token, const char* what) {
            const std::int32_t id = find(whole_, token);
            if (id >= 0) return id;
            const std::string msg =
                func + ": " + (file ? "'" + *file + "' " : std::string("the ")) +
                (file ? "has no " : "vocabulary has no ") + what + " token '" + token + "'";
            if (file) throw FormatError(msg);
            throw ArgumentError(msg);
        };
        unk_id_ = required(options_.unk_token, "unk");
        cls_id_ = required(options_.cls_token, "cls");
        sep_id_ = required(options_.sep_token, "sep");
        specials_.clear();
        if (!options_.split_special_tokens) {
            for (const std::string* s :
                 {&options_.pad_token, &options_.unk_token, &options_.cls_token,
                  &options_.sep_token, &options_.mask_token}) {
                const std::int32_t id = find(whole_, *s);
                if (id < 0) continue;
                const bool seen = std::any_of(specials_.begin(), specials_.end(),
                                              [&](const Special& sp) { return sp.text == *s; });
                if (!seen) specials_.push_back(Special{*s, id});
            }
            // Longest first: at one position the longest special string wins.
            std::stable_sort(
                specials_.begin(), specials_.end(),
                [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });
        }
        for (int b = 0; b < 256; ++b) special_first_[b] = false;
        for (const Special& sp : specials_)
            special_first_[static_cast<unsigned char>(sp.text[0])] = true;
        // ASCII fast path: what each byte below 0x80 normalizes to (-1: dropped) and how the
        // pre-tokenizer treats the result; derived from the tables, so the paths cannot differ.
        for (char32_t c = 0; c < 128; ++c) {
            char32_t out[16];
            const std::size_t n = normalize_single(c, out);
            ascii_[c] = n == 0 ? -1 : static_cast<std::int16_t>(out[0]);
            // ASCII characters are starters without decompositions, so the stream gives the
            // same (checked by the per-code-point tests).
            if (n > 1 || (n == 1 && static_cast<std::uint32_t>(out[0]) >= 128) ||
                detail::combining_class(c) != 0)
                throw Error(func + ": internal: ASCII normalizes outside ASCII");
            ascii_flags_[c] = n == 0 ? 0u : detail::code_point_flags(out[0]);
        }
    }

    static void check_max_length(const char* func, std::size_t max_length) {
        if (max_length < 2)
            throw ArgumentError(std::string(func) +
                                ": max_length must be at least 2 (room for [CLS] and [SEP]), got " +
                                std::to_string(max_length));
    }

    // What the normalizer makes of a code point on its own (clean_text, chinese chars, strip
    // accents, lowercase, in the reference's order; spaces around a CJK ideograph included).
    // Used for the ASCII table only: the streaming path (feed) also reorders marks.
    std::size_t normalize_single(char32_t cp, char32_t* out) const noexcept {
        const std::uint32_t flags = detail::code_point_flags(cp);
        if (options_.clean_text && (flags & detail::cp_clean_drop)) return 0;
        if (options_.clean_text && (flags & detail::cp_clean_space)) {
            out[0] = U' ';
            return 1;
        }
        const bool pad = options_.tokenize_chinese_chars && (flags & detail::cp_cjk);
        std::size_t n = 0;
        if (pad) out[n++] = U' ';
        char32_t d[detail::max_expansion];
        std::size_t nd = 1;
        d[0] = cp;
        if (options_.strips_accents()) nd = detail::nfd_code_point(cp, d);
        for (std::size_t i = 0; i < nd; ++i) {
            if (options_.strips_accents() &&
                (detail::code_point_flags(d[i]) & detail::cp_strip_drop))
                continue;
            if (options_.lowercase)
                n += detail::lowercase_code_point(d[i], out + n);
            else
                out[n++] = d[i];
        }
        if (pad) out[n++] = U' ';
        return n;
    }

    // The normalizer as a stream, one input code point at a time (span: its bytes):
    // clean_text and chinese chars, then (strip_accents) NFD, whose runs of marks wait in the
    // scratch to be reordered by combining class, then the mark filter and lowercase, then the
    // pre-tokenizer (push).
    void feed(char32_t cp, TextSpan span, Scratch& s, std::size_t limit, Encoding& out) const {
        const std::uint32_t flags = detail::code_point_flags(cp);
        if (options_.clean_text && (flags & detail::cp_clean_drop)) return;
        if (options_.clean_text && (flags & detail::cp_clean_space)) {
            decompose(U' ', span, s, limit, out);
            return;
        }
        if (options_.tokenize_chinese_chars && (flags & detail::cp_cjk)) {
            decompose(U' ', span, s, limit, out);
            decompose(cp, span, s, limit, out);
            decompose(U' ', span, s, limit, out);
            return;
        }
        decompose(cp, span, s, limit, out);
    }

    // Source spans follow the reference's alignment rules: the first character of a code
    // point's decomposition takes the next source code point in order (so a mark reordered
    // before another takes the other's place), a later character takes the span of the code
    // point taken last.
    void decompose(char32_t cp, TextSpan span, Scratch& s, std::size_t limit, Encoding& out) const {
        if (!options_.strips_accents()) {
            finish(cp, span, s, limit, out);
            return;
        }
        char32_t d[detail::max_expansion];
        const std::size_t n = detail::nfd_code_point(cp, d);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t ccc = detail::combining_class(d[i]);
            if (ccc == 0) {
                flush_run(s, limit, out);
                if (i == 0) s.last_span = span;
                finish(d[i], s.last_span, s, limit, out);
            } else {
                s.run.push_back(RunMark{ccc, d[i], i > 0});
                if (i == 0) s.run_spans.push_back(span);
            }
        }
    }

    // Canonical reordering (Unicode §3.11): a stable sort of the run by combining class.
    void flush_run(Scratch& s, std::size_t limit, Encoding& out) const {
        if (s.run.empty()) return;
        if (s.run.size() > 1)
            std::stable_sort(s.run.begin(), s.run.end(),
                             [](const RunMark& a, const RunMark& b) { return a.ccc < b.ccc; });
        std::size_t next = 0;
        for (const RunMark& m : s.run) {
            if (!m.later) s.last_span = s.run_spans[next++];
            finish(m.c, s.last_span, s, limit, out);
        }
        s.run.clear();
        s.run_spans.clear();
    }

    // The mark filter (strip_accents) and lowercase of one decomposed, ordered character.
    void finish(char32_t c, TextSpan span, Scratch& s, std::size_t limit, Encoding& out) const {
        std::uint32_t flags = detail::code_point_flags(c);
        if (options_.strips_accents() && (flags & detail::cp_strip_drop)) return;
        if (!options_.lowercase) {
            push(c, flags, span, s, limit, out);
            return;
        }
        char32_t low[detail::max_expansion];
        const std::size_t n = detail::lowercase_code_point(c, low);
        if (n == 1 && low[0] == c) {
            push(c, flags, span, s, limit, out);
            return;
        }
        for (std::size_t i = 0; i < n; ++i)
            push(low[i], detail::code_point_flags(low[i]), span, s, limit, out);
    }

    // Appends the pieces of the word in scratch (then clears it), or [UNK] for the whole word.
    void flush_word(Scratch& s, std::size_t limit, Encoding& out) const {
        const std::size_t chars = s.ends.size();
        if (chars == 0) return;
        const std::size_t first = out.ids.size();
        const TextSpan whole{s.spans.front().begin, s.spans.back().end};
        bool unknown = chars > options_.max_input_chars_per_word;
        std::size_t start = 0;
        while (!unknown && start < chars) {
            const Table& table = start == 0 ? whole_ : rest_;
            const std::size_t byte0 = start == 0 ? 0 : s.ends[start - 1];
            // Longest match first, skipping ends whose piece is longer than any key.
            std::size_t end = chars;
            while (end > start && s.ends[end - 1] - byte0 > table.max_key) --end;
            std::int32_t id = -1;
            for (; end > start; --end) {
                id = find(table, std::string_view(s.word).substr(byte0, s.ends[end - 1] - byte0));
                if (id >= 0) break;
            }
            if (id < 0) {
                unknown = true;
                break;
            }
            out.ids.push_back(id);
            out.offsets.push_back(TextSpan{s.spans[start].begin, s.spans[end - 1].end});
            start = end;
        }
        if (unknown) {
            out.ids.resize(first);
            out.offsets.resize(first);
            out.ids.push_back(unk_id_);
            out.offsets.push_back(whole);
        }
        if (out.ids.size() > limit) {  // truncation may cut a word: its first pieces stay
            out.ids.resize(limit);
            out.offsets.resize(limit);
        }
        s.word.clear();
        s.ends.clear();
        s.spans.clear();
    }

    // Feeds one normalized code point (from source bytes span) to the pre-tokenizer.
    void push(char32_t c, std::uint32_t flags, TextSpan span, Scratch& s, std::size_t limit,
              Encoding& out) const {
        if (flags & detail::cp_split_space) {
            flush_word(s, limit, out);
            return;
        }
        if (flags & detail::cp_split_punct) flush_word(s, limit, out);
        detail::append_utf8(s.word, c);
        s.ends.push_back(static_cast<std::uint32_t>(s.word.size()));
        s.spans.push_back(span);
        if (flags & detail::cp_split_punct) flush_word(s, limit, out);
    }

    // Normalizes, pre-tokenizes and WordPiece-encodes text[begin, end) (no special tokens in
    // it), appending to out until it holds limit ids.
    void encode_segment(std::string_view text, std::size_t begin, std::size_t end, Scratch& s,
                        std::size_t limit, Encoding& out) const {
        std::size_t i = begin;
        while (i < end && out.ids.size() < limit) {
            const auto b = static_cast<unsigned char>(text[i]);
            if (b < 0x80) {
                // ASCII fast path: precomputed normalization; a pending run of marks ends here.
                if (!s.run.empty()) flush_run(s, limit, out);
                const std::int16_t c = ascii_[b];
                if (c >= 0)
                    push(static_cast<char32_t>(c), ascii_flags_[b], TextSpan{i, i + 1}, s, limit,
                         out);
                ++i;
                continue;
            }
            char32_t cp = 0;
            std::size_t len = 0;
            detail::decode_utf8(text, i, cp, len);  // validated by the caller
            feed(cp, TextSpan{i, i + len}, s, limit, out);
            i += len;
        }
        if (out.ids.size() < limit) flush_run(s, limit, out);
        if (out.ids.size() < limit) flush_word(s, limit, out);
        s.word.clear();
        s.ends.clear();
        s.spans.clear();
        s.run.clear();
        s.run_spans.clear();
        s.last_span = TextSpan{};
    }

    // The special token starting at text[pos], longest first, or nullptr.
    const Special* special_at(std::string_view text, std::size_t pos) const noexcept {
        if (!special_first_[static_cast<unsigned char>(text[pos])]) return nullptr;
        for (const Special& sp : specials_)
            if (text.compare(pos, sp.text.size(), sp.text) == 0) return &sp;
        return nullptr;
    }

    void encode_into(const char* func, const std::size_t* index, std::string_view text,
                     std::size_t max_length, Scratch& s, Encoding& out) const {
        std::size_t at = 0;
        const detail::Utf8Fault fault = detail::find_utf8_fault(text, at);
        if (fault != detail::Utf8Fault::none)
            throw ArgumentError(std::string(func) + ": " +
                                (index ? "text " + std::to_string(*index) + ": " : std::string()) +
                                "invalid UTF-8 at byte " + std::to_string(at) + " (" +
                                detail::utf8_fault_name(fault) + ")");
        out.ids.clear();
        out.offsets.clear();
        out.ids.push_back(cls_id_);
        out.offsets.push_back(TextSpan{});
        // Pieces may fill max_length - 1 entries of ids ([CLS] is in already; [SEP] follows).
        const std::size_t limit = max_length == no_limit ? no_limit : max_length - 1;
        std::size_t seg = 0;
        if (!specials_.empty()) {
            for (std::size_t i = 0; i < text.size() && out.ids.size() < limit; ++i) {
                const Special* sp = special_at(text, i);
                if (!sp) continue;
                encode_segment(text, seg, i, s, limit, out);
                if (out.ids.size() < limit) {
                    out.ids.push_back(sp->id);
                    out.offsets.push_back(TextSpan{i, i + sp->text.size()});
                }
                seg = i + sp->text.size();
                i = seg - 1;
            }
        }
        if (seg < text.size()) encode_segment(text, seg, text.size(), s, limit, out);
        out.ids.push_back(sep_id_);
        out.offsets.push_back(TextSpan{});
    }

    std::vector<std::string> vocab_;
    WordPieceOptions options_;
    Table whole_;
    Table rest_;
    std::vector<Special> specials_;
    bool special_first_[256] = {};
    std::int16_t ascii_[128] = {};
    std::uint32_t ascii_flags_[128] = {};
    std::int32_t unk_id_ = -1;
    std::int32_t cls_id_ = -1;
    std::int32_t sep_id_ = -1;
};

}  // namespace embedkit::text
