// Helpers shared by the picture tests: a small strict XML reader (the SVG checks), a PNG chunk
// walker with its own CRC-32, a libpng-based decoder and a binary PGM reader.
#pragma once

#include "../io/io_test_util.hpp"

#include <embedkit/core/config.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if EMBEDKIT_HAS_PNG
#include <png.h>
#endif

namespace viztest {

// ---------------------------------------------------------------------------------------
// XML: elements, attributes and text; rejects anything not well-formed (unbalanced or
// mismatched tags, unquoted or repeated attributes, stray '<' or '&', unknown entities,
// text outside the root, more than one root).

struct XmlNode {
    std::string name;
    std::map<std::string, std::string> attrs;
    std::vector<std::unique_ptr<XmlNode>> children;
    std::string text;  // character data directly inside, entities decoded

    std::string attr(const std::string& key) const {
        const auto it = attrs.find(key);
        return it == attrs.end() ? std::string() : it->second;
    }
    /// Every descendant (depth first) named `tag`.
    void find_all(const std::string& tag, std::vector<const XmlNode*>& out) const {
        for (const auto& c : children) {
            if (c->name == tag) out.push_back(c.get());
            c->find_all(tag, out);
        }
    }
    std::vector<const XmlNode*> all(const std::string& tag) const {
        std::vector<const XmlNode*> out;
        find_all(tag, out);
        return out;
    }
    /// The first descendant with attribute id == `id`, or nullptr.
    const XmlNode* by_id(const std::string& id) const {
        for (const auto& c : children) {
            if (c->attr("id") == id) return c.get();
            if (const XmlNode* f = c->by_id(id)) return f;
        }
        return nullptr;
    }
};

class XmlReader {
public:
    explicit XmlReader(const std::string& s) : s_(s) {}

    std::unique_ptr<XmlNode> parse() {
        if (s_.compare(0, 5, "<?xml") == 0) {
            const auto end = s_.find("?>");
            if (end == std::string::npos) fail("unterminated XML declaration");
            i_ = end + 2;
        }
        skip_ws();
        if (peek() != '<') fail("expected the root element");
        auto root = element();
        skip_ws();
        if (i_ != s_.size()) fail("content after the root element");
        return root;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("XML not well-formed at byte " + std::to_string(i_) + ": " + what);
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
    void skip_ws() {
        while (i_ < s_.size() && is_ws(s_[i_])) ++i_;
    }
    static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == ':' || c == '.';
    }
    std::string name() {
        const std::size_t b = i_;
        while (i_ < s_.size() && name_char(s_[i_])) ++i_;
        if (i_ == b) fail("expected a name");
        return s_.substr(b, i_ - b);
    }
    std::string decode(const std::string& raw) {
        std::string out;
        for (std::size_t k = 0; k < raw.size(); ++k) {
            if (raw[k] == '<') fail("'<' in character data");
            if (raw[k] != '&') {
                out.push_back(raw[k]);
                continue;
            }
            const auto semi = raw.find(';', k);
            if (semi == std::string::npos) fail("unterminated entity");
            const std::string ent = raw.substr(k + 1, semi - k - 1);
            if (ent == "amp")
                out += '&';
            else if (ent == "lt")
                out += '<';
            else if (ent == "gt")
                out += '>';
            else if (ent == "quot")
                out += '"';
            else if (ent == "apos")
                out += '\'';
            else
                fail("unknown entity &" + ent + ";");
            k = semi;
        }
        return out;
    }
    std::unique_ptr<XmlNode> element() {
        ++i_;  // '<'
        auto node = std::make_unique<XmlNode>();
        node->name = name();
        for (;;) {
            const bool had_ws = i_ < s_.size() && is_ws(s_[i_]);
            skip_ws();
            if (peek() == '/') {
                ++i_;
                if (peek() != '>') fail("expected '>' after '/'");
                ++i_;
                return node;
            }
            if (peek() == '>') {
                ++i_;
                break;
            }
            if (!had_ws) fail("attributes must be separated by white space");
            const std::string key = name();
            if (peek() != '=') fail("expected '=' after attribute " + key);
            ++i_;
            const char q = peek();
            if (q != '"' && q != '\'') fail("attribute value must be quoted");
            const auto end = s_.find(q, i_ + 1);
            if (end == std::string::npos) fail("unterminated attribute value");
            if (node->attrs.count(key)) fail("repeated attribute " + key);
            node->attrs[key] = decode(s_.substr(i_ + 1, end - i_ - 1));
            i_ = end + 1;
        }
        for (;;) {
            const auto lt = s_.find('<', i_);
            if (lt == std::string::npos) fail("unterminated element " + node->name);
            node->text += decode(s_.substr(i_, lt - i_));
            i_ = lt;
            if (s_.compare(i_, 2, "</") == 0) {
                i_ += 2;
                const std::string closing = name();
                if (closing != node->name) fail("</" + closing + "> closes <" + node->name + ">");
                skip_ws();
                if (peek() != '>') fail("expected '>'");
                ++i_;
                return node;
            }
            node->children.push_back(element());
        }
    }

    const std::string& s_;
    std::size_t i_ = 0;
};

inline std::unique_ptr<XmlNode> parse_xml(const std::string& text) {
    return XmlReader(text).parse();
}

/// True if a python3 with xml.etree is on the PATH.
inline bool have_python() {
    static const bool have =
        std::system("python3 -c 'import xml.etree.ElementTree' > /dev/null 2>&1") == 0;
    return have;
}

/// Parses `path` with Python's xml.etree (an independent XML parser); false if it fails.
inline bool python_parses_xml(const std::string& path) {
    const std::string cmd =
        "python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' '" + path +
        "' > /dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

// ---------------------------------------------------------------------------------------
// PNG

inline std::uint32_t crc32(const unsigned char* p, std::size_t n) {
    std::uint32_t table[256];
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

inline std::uint32_t be32(const std::string& s, std::size_t at) {
    return (std::uint32_t(static_cast<unsigned char>(s[at])) << 24) |
           (std::uint32_t(static_cast<unsigned char>(s[at + 1])) << 16) |
           (std::uint32_t(static_cast<unsigned char>(s[at + 2])) << 8) |
           std::uint32_t(static_cast<unsigned char>(s[at + 3]));
}

struct PngInfo {
    std::uint32_t width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    std::vector<std::string> chunks;  // chunk types in file order
};

/// Walks the chunks of a PNG file: signature, every length in bounds, every CRC right, IHDR
/// first, IEND last. CHECK-fails on any defect.
inline PngInfo png_chunks(const std::string& bytes) {
    PngInfo info;
    static const std::string signature("\x89PNG\r\n\x1a\n", 8);
    REQUIRE(bytes.size() >= 8);
    REQUIRE(bytes.compare(0, 8, signature) == 0);
    std::size_t at = 8;
    while (at < bytes.size()) {
        REQUIRE(at + 12 <= bytes.size());
        const std::uint32_t len = be32(bytes, at);
        REQUIRE(at + 12 + len <= bytes.size());
        const std::string type = bytes.substr(at + 4, 4);
        const auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + at + 4);
        CHECK_MESSAGE(crc32(data, len + 4) == be32(bytes, at + 8 + len),
                      "bad CRC in chunk " << type);
        if (type == "IHDR") {
            REQUIRE(len == 13);
            info.width = be32(bytes, at + 8);
            info.height = be32(bytes, at + 12);
            info.bit_depth = static_cast<unsigned char>(bytes[at + 16]);
            info.color_type = static_cast<unsigned char>(bytes[at + 17]);
            info.interlace = static_cast<unsigned char>(bytes[at + 20]);
        }
        info.chunks.push_back(type);
        at += 12 + len;
    }
    REQUIRE(!info.chunks.empty());
    CHECK(info.chunks.front() == "IHDR");
    CHECK(info.chunks.back() == "IEND");
    return info;
}

#if EMBEDKIT_HAS_PNG
/// Decodes a PNG file with libpng's reader into 8-bit pixels, `channels` 1 (grey) or 3 (RGB).
inline std::vector<std::uint8_t> png_decode(const std::string& bytes, int channels, int& width,
                                            int& height) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) != 0);
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(image));
    const int ok = png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr);
    CHECK_MESSAGE(ok != 0, "libpng: " << image.message);
    width = static_cast<int>(image.width);
    height = static_cast<int>(image.height);
    png_image_free(&image);
    return pixels;
}
#endif

// ---------------------------------------------------------------------------------------
// PGM

struct Pgm {
    int width = 0, height = 0;
    std::vector<std::uint8_t> pixels;
    std::uint8_t at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
};

/// Reads a binary PGM written as "P5\n<w> <h>\n255\n" + pixels; REQUIRE-fails otherwise.
inline Pgm read_pgm(const std::string& bytes) {
    Pgm p;
    REQUIRE(bytes.compare(0, 3, "P5\n") == 0);
    const auto nl1 = bytes.find('\n', 3);
    REQUIRE(nl1 != std::string::npos);
    const std::string dims = bytes.substr(3, nl1 - 3);
    const auto sp = dims.find(' ');
    REQUIRE(sp != std::string::npos);
    p.width = std::stoi(dims.substr(0, sp));
    p.height = std::stoi(dims.substr(sp + 1));
    REQUIRE(bytes.compare(nl1 + 1, 4, "255\n") == 0);
    const std::size_t data = nl1 + 5;
    REQUIRE(bytes.size() ==
            data + static_cast<std::size_t>(p.width) * static_cast<std::size_t>(p.height));
    p.pixels.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data), bytes.end());
    return p;
}

}  // namespace viztest
