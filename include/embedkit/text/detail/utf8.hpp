// UTF-8 decoding with validation (Unicode 15, §3.9, Table 3-7: well-formed byte sequences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace embedkit::text::detail {

/// Why a byte sequence is not UTF-8 (none: it is).
enum class Utf8Fault : std::uint8_t {
    none,
    invalid_byte,        ///< 0xC0, 0xC1 or 0xF5..0xFF, which never occur in UTF-8
    stray_continuation,  ///< a continuation byte (0x80..0xBF) where a sequence must start
    truncated,           ///< a lead byte not followed by enough continuation bytes
    overlong,            ///< a code point encoded with more bytes than it needs
    surrogate,           ///< U+D800..U+DFFF, which UTF-8 may not carry
    too_large,           ///< above U+10FFFF
};

inline const char* utf8_fault_name(Utf8Fault f) noexcept {
    switch (f) {
        case Utf8Fault::none:
            return "valid";
        case Utf8Fault::invalid_byte:
            return "a byte that never occurs in UTF-8";
        case Utf8Fault::stray_continuation:
            return "a continuation byte without a lead byte";
        case Utf8Fault::truncated:
            return "a truncated sequence";
        case Utf8Fault::overlong:
            return "an overlong encoding";
        case Utf8Fault::surrogate:
            return "a surrogate code point (U+D800..U+DFFF)";
        case Utf8Fault::too_large:
            return "a code point above U+10FFFF";
    }
    return "?";
}

/// Decodes the code point starting at s[pos] into cp and its length into len; returns the
/// fault (then cp and len are unspecified). pos < s.size().
inline Utf8Fault decode_utf8(std::string_view s, std::size_t pos, char32_t& cp,
                             std::size_t& len) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned b0 = byte(pos);
    if (b0 < 0x80) {
        cp = b0;
        len = 1;
        return Utf8Fault::none;
    }
    if (b0 < 0xC0) return Utf8Fault::stray_continuation;
    if (b0 < 0xC2 || b0 > 0xF4) return Utf8Fault::invalid_byte;
    len = b0 < 0xE0 ? 2 : (b0 < 0xF0 ? 3 : 4);
    std::uint32_t v = b0 & (0x7Fu >> len);
    for (std::size_t i = 1; i < len; ++i) {
        if (pos + i >= s.size()) return Utf8Fault::truncated;
        const unsigned b = byte(pos + i);
        if ((b & 0xC0u) != 0x80u) return Utf8Fault::truncated;
        v = (v << 6) | (b & 0x3Fu);
    }
    // The lead bytes 0xC2..0xDF cannot be overlong; three- and four-byte forms can.
    if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000)) return Utf8Fault::overlong;
    if (v >= 0xD800 && v <= 0xDFFF) return Utf8Fault::surrogate;
    if (v > 0x10FFFF) return Utf8Fault::too_large;
    cp = static_cast<char32_t>(v);
    return Utf8Fault::none;
}

/// The first fault in s and its byte offset, or Utf8Fault::none.
inline Utf8Fault find_utf8_fault(std::string_view s, std::size_t& offset) noexcept {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        char32_t cp = 0;
        std::size_t len = 0;
        const Utf8Fault f = decode_utf8(s, i, cp, len);
        if (f != Utf8Fault::none) {
            offset = i;
            return f;
        }
        i += len;
    }
    return Utf8Fault::none;
}

/// Appends the UTF-8 form of a valid code point to out.
template <class String>
void append_utf8(String& out, char32_t cp) {
    const auto u = static_cast<std::uint32_t>(cp);
    if (u < 0x80) {
        out.push_back(static_cast<char>(u));
    } else if (u < 0x800) {
        out.push_back(static_cast<char>(0xC0u | (u >> 6)));
        out.push_back(static_cast<char>(0x80u | (u & 0x3Fu)));
    } else if (u < 0x10000) {
        out.push_back(static_cast<char>(0xE0u | (u >> 12)));
        out.push_back(static_cast<char>(0x80u | ((u >> 6) & 0x3Fu)));
        out.push_back(static_cast<char>(0x80u | (u & 0x3Fu)));
    } else {
        out.push_back(static_cast<char>(0xF0u | (u >> 18)));
        out.push_back(static_cast<char>(0x80u | ((u >> 12) & 0x3Fu)));
        out.push_back(static_cast<char>(0x80u | ((u >> 6) & 0x3Fu)));
        out.push_back(static_cast<char>(0x80u | (u & 0x3Fu)));
    }
}

}  // namespace embedkit::text::detail
