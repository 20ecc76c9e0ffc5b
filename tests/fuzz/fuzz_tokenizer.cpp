// Fuzz target: the WordPiece tokenizer (text/wordpiece.hpp) on arbitrary bytes.
// Input: byte 0 chooses the options (bit 0: lowercase off; bits 1-2: strip_accents unset, on,
// off, unset; bit 3: tokenize_chinese_chars off; bit 4: clean_text off; bit 5:
// split_special_tokens; bit 6: a tiny vocabulary instead of all-MiniLM-L6-v2's), byte 1 the
// max_length (0: no limit, else byte + 1), the rest is the text. Checked: an error occurs
// exactly when the text is not UTF-8 (by an independent validator); otherwise [CLS] first,
// [SEP] last, at most max_length ids, every id in the vocabulary, every span inside the text
// on code point boundaries with begins in order, the truncated encoding is a prefix of the
// full one, and encode_batch agrees with encode.
#include "fuzz_util.hpp"

#include <embedkit/text/wordpiece.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* target = "fuzz_tokenizer";
namespace text = embedkit::text;

// UTF-8 per RFC 3629's ABNF, written independently of text/detail/utf8.hpp.
bool is_utf8(const unsigned char* s, std::size_t n) {
    std::size_t i = 0;
    const auto in = [&](std::size_t k, unsigned lo, unsigned hi) {
        return i + k < n && s[i + k] >= lo && s[i + k] <= hi;
    };
    while (i < n) {
        const unsigned b = s[i];
        if (b <= 0x7F) {
            i += 1;
        } else if (b >= 0xC2 && b <= 0xDF && in(1, 0x80, 0xBF)) {
            i += 2;
        } else if (b == 0xE0 && in(1, 0xA0, 0xBF) && in(2, 0x80, 0xBF)) {
            i += 3;
        } else if (((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) && in(1, 0x80, 0xBF) &&
                   in(2, 0x80, 0xBF)) {
            i += 3;
        } else if (b == 0xED && in(1, 0x80, 0x9F) && in(2, 0x80, 0xBF)) {
            i += 3;
        } else if (b == 0xF0 && in(1, 0x90, 0xBF) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) {
            i += 4;
        } else if (b >= 0xF1 && b <= 0xF3 && in(1, 0x80, 0xBF) && in(2, 0x80, 0xBF) &&
                   in(3, 0x80, 0xBF)) {
            i += 4;
        } else if (b == 0xF4 && in(1, 0x80, 0x8F) && in(2, 0x80, 0xBF) && in(3, 0x80, 0xBF)) {
            i += 4;
        } else {
            return false;
        }
    }
    return true;
}

std::vector<std::string> tiny_vocab() {
    return {"[PAD]",
            "[UNK]",
            "[CLS]",
            "[SEP]",
            "[MASK]",
            "a",
            "##a",
            "b",
            "##b",
            "ab",
            "##ab",
            "i",
            "##i",
            ",",
            "!",
            "e",
            "##e",
            "\xE4\xB8\xAD",
            "##\xCC\x87",
            "\xCF\x83",
            "##\xCF\x83",
            "\xE1\x84\x92",
            "##\xE1\x85\xA1"};
}

const text::WordPieceTokenizer& tokenizer(unsigned mode) {
    static std::unique_ptr<text::WordPieceTokenizer> cache[128];
    auto& slot = cache[mode & 127];
    if (!slot) {
        text::WordPieceOptions o;
        o.lowercase = (mode & 1) == 0;
        const unsigned strip = (mode >> 1) & 3;
        if (strip == 1) o.strip_accents = true;
        if (strip == 2) o.strip_accents = false;
        o.tokenize_chinese_chars = (mode & 8) == 0;
        o.clean_text = (mode & 16) == 0;
        o.split_special_tokens = (mode & 32) != 0;
        if (mode & 64)
            slot = std::make_unique<text::WordPieceTokenizer>(tiny_vocab(), o);
        else
            slot = std::make_unique<text::WordPieceTokenizer>(
                text::WordPieceTokenizer::from_vocab_file(EMBEDKIT_FUZZ_VOCAB, o));
    }
    return *slot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const unsigned mode = in.byte();
    const unsigned ml = in.byte();
    const std::size_t max_length = ml == 0 ? text::WordPieceTokenizer::no_limit : ml + 1u;
    const std::string_view s(reinterpret_cast<const char*>(in.rest()), in.left());
    const auto& t = tokenizer(mode);
    const bool valid = is_utf8(in.rest(), in.left());
    text::Encoding e;
    try {
        e = t.encode(s, max_length);
    } catch (const embedkit::ArgumentError&) {
        FUZZ_CHECK(target, !valid);
        return 0;
    }
    FUZZ_CHECK(target, valid);
    FUZZ_CHECK(target, e.ids.size() >= 2 && e.ids.size() == e.offsets.size());
    FUZZ_CHECK(target, e.ids.size() <= max_length);
    FUZZ_CHECK(target, e.ids.front() == t.cls_id() && e.ids.back() == t.sep_id());
    FUZZ_CHECK(target,
               e.offsets.front() == text::TextSpan{} && e.offsets.back() == text::TextSpan{});
    const auto boundary = [&](std::size_t p) {
        return p == s.size() || (static_cast<unsigned char>(s[p]) & 0xC0u) != 0x80u;
    };
    std::size_t prev = 0;
    for (std::size_t i = 1; i + 1 < e.ids.size(); ++i) {
        FUZZ_CHECK(target, e.ids[i] >= 0 && static_cast<std::size_t>(e.ids[i]) < t.vocab_size());
        const auto& sp = e.offsets[i];
        FUZZ_CHECK(target, sp.begin < sp.end && sp.end <= s.size());
        FUZZ_CHECK(target, boundary(sp.begin) && boundary(sp.end));
        FUZZ_CHECK(target, sp.begin >= prev);
        prev = sp.begin;
    }
    if (max_length != text::WordPieceTokenizer::no_limit) {
        const text::Encoding full = t.encode(s);
        const std::size_t kept = e.ids.size() - 1;
        FUZZ_CHECK(target, full.ids.size() >= e.ids.size());
        FUZZ_CHECK(target,
                   full.ids.size() <= max_length ? full.ids == e.ids : kept + 1 == max_length);
        for (std::size_t i = 0; i < kept; ++i) {
            FUZZ_CHECK(target, full.ids[i] == e.ids[i]);
            FUZZ_CHECK(target, full.offsets[i] == e.offsets[i]);
        }
    }
    const std::vector<std::string_view> one = {s};
    const auto batch = t.encode_batch(one, max_length);
    FUZZ_CHECK(target, batch.size() == 1 && batch[0].ids == e.ids && batch[0].offsets == e.offsets);
    return 0;
}
