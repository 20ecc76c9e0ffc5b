// Small helpers for writing SVG text: compact numbers and XML-safe character data.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

namespace embedkit::viz::detail {

/// Appends v rounded to one decimal without a trailing ".0" ("12", "12.5", "-3.2"); SVG
/// coordinates need no more than a tenth of a pixel, and short numbers keep files small.
inline void append_number(std::string& out, double v) {
    long long tenths = std::llround(v * 10.0);
    if (tenths < 0) {
        out.push_back('-');
        tenths = -tenths;
    }
    out += std::to_string(tenths / 10);
    if (tenths % 10 != 0) {
        out.push_back('.');
        out.push_back(static_cast<char>('0' + tenths % 10));
    }
}

/// `name="v"` with a leading space, v as in append_number.
inline void append_attr(std::string& out, const char* name, double v) {
    out.push_back(' ');
    out += name;
    out += "=\"";
    append_number(out, v);
    out.push_back('"');
}

/// Text as XML character data: &, <, >, " and ' escaped, control characters that XML 1.0
/// forbids turned into spaces, invalid UTF-8 bytes replaced by '?', so any std::string gives a
/// well-formed document.
inline std::string xml_text(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char u = byte(i);
        if (u < 0x80) {
            switch (u) {
                case '&':
                    out += "&amp;";
                    break;
                case '<':
                    out += "&lt;";
                    break;
                case '>':
                    out += "&gt;";
                    break;
                case '"':
                    out += "&quot;";
                    break;
                case '\'':
                    out += "&apos;";
                    break;
                default:
                    out.push_back(u < 0x20 || u == 0x7F ? ' ' : static_cast<char>(u));
            }
            ++i;
            continue;
        }
        // A UTF-8 sequence is copied only when complete, minimal and not a surrogate; XML
        // rejects anything else.
        std::size_t len = 0;
        unsigned long cp = 0;
        if (u >= 0xC2 && u <= 0xDF) {
            len = 2;
            cp = u & 0x1Fu;
        } else if (u >= 0xE0 && u <= 0xEF) {
            len = 3;
            cp = u & 0x0Fu;
        } else if (u >= 0xF0 && u <= 0xF4) {
            len = 4;
            cp = u & 0x07u;
        }
        bool ok = len != 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            ok = (byte(i + k) & 0xC0) == 0x80;
            cp = (cp << 6) | (byte(i + k) & 0x3Fu);
        }
        if (ok) {
            const unsigned long min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
            ok = cp >= min_cp && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
                 cp != 0xFFFE && cp != 0xFFFF;
        }
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out.push_back('?');
            ++i;
        }
    }
    return out;
}

/// The opening of an SVG document of width x height pixels.
inline std::string svg_open(int width, int height, const char* extra_attributes = "") {
    std::string s =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"";
    s += " width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
         "\" viewBox=\"0 0 " + std::to_string(width) + ' ' + std::to_string(height) + '"';
    s += extra_attributes;
    s += ">\n";
    return s;
}

}  // namespace embedkit::viz::detail
