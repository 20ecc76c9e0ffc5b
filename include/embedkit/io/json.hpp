// A small strict JSON reader (RFC 8259) for configuration files, tokenizer.json and the
// safetensors header: a parsed tree whose typed accessors throw FormatError naming the source,
// the key path and the position of the value.
//
// Spec: https://www.rfc-editor.org/rfc/rfc8259 (grammar, \u escapes and surrogate pairs in
// section 7, numbers in section 6, "names within an object SHOULD be unique" in section 4:
// embedkit refuses duplicates, since a reader that kept either one would be guessing).
#pragma once

#include "../core/error.hpp"

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/stat.h>

namespace embedkit::io {

/// The six kinds of JSON value.
enum class JsonType {
    null,
    boolean,
    number,
    string,
    array,
    object,
};

/// "null", "boolean", "number", "string", "array" or "object".
inline const char* json_type_name(JsonType t) noexcept {
    switch (t) {
        case JsonType::null:
            return "null";
        case JsonType::boolean:
            return "boolean";
        case JsonType::number:
            return "number";
        case JsonType::string:
            return "string";
        case JsonType::array:
            return "array";
        case JsonType::object:
            return "object";
    }
    return "unknown";
}

/// Containers nested deeper than this are a FormatError (the parser recurses once per level,
/// so the limit also bounds its stack use on hostile input).
inline constexpr std::size_t json_max_depth = 128;

/// The largest file read_json_file reads: 64 MiB (tokenizer.json files are a few MB).
inline constexpr std::size_t json_max_file_bytes = std::size_t(64) << 20;

class JsonObject;
struct JsonMember;
class JsonDocument;

namespace detail {

// What every value of one document shares: the prefix of its error messages.
struct JsonContext {
    std::string source;  // file path or the caller's label
    std::string label;   // e.g. "embedkit::io::json: 'config.json'"
};

class JsonParser;

// Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0 (Unicode 15,
// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
inline std::size_t utf8_sequence_length(const unsigned char* p, const unsigned char* end) noexcept {
    const unsigned char c = p[0];
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;  // U+D800..DFFF are surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (static_cast<std::size_t>(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (std::size_t i = 2; i < n; ++i)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

}  // namespace detail

/// One JSON value of a parsed document (JsonDocument owns them all; a reference stays valid
/// while its document lives). Accessors check the type and throw FormatError naming the
/// source, the key path and the position, e.g.
///   embedkit::io::json: 'config.json': "hidden_size" must be an integer, got string
///   (byte 40, line 3, column 18)
class JsonValue {
public:
    JsonValue() = default;
    JsonValue(JsonValue&&) noexcept = default;
    JsonValue& operator=(JsonValue&&) noexcept = default;
    JsonValue(const JsonValue&) = delete;
    JsonValue& operator=(const JsonValue&) = delete;
    ~JsonValue();

    JsonType type() const noexcept { return type_; }
    bool is_null() const noexcept { return type_ == JsonType::null; }
    bool is_bool() const noexcept { return type_ == JsonType::boolean; }
    bool is_number() const noexcept { return type_ == JsonType::number; }
    /// A number written as an integer literal (no fraction, no exponent) that fits int64.
    bool is_integer() const noexcept { return type_ == JsonType::number && exact_; }
    bool is_string() const noexcept { return type_ == JsonType::string; }
    bool is_array() const noexcept { return type_ == JsonType::array; }
    bool is_object() const noexcept { return type_ == JsonType::object; }

    /// The value of true or false; FormatError for any other type.
    bool as_bool() const {
        if (!is_bool()) type_error("a boolean");
        return bool_;
    }
    /// A number as double (integer literals beyond 2^53 rounded to nearest); FormatError for
    /// any other type.
    double as_double() const {
        if (!is_number()) type_error("a number");
        return number_;
    }
    /// An integer literal, exactly (any value of int64, parsed digit by digit, never through
    /// double); FormatError for other types, fractions, exponents and integers beyond int64.
    std::int64_t as_int64() const {
        if (!is_integer()) {
            if (is_number()) fail("must be an integer (int64), got " + number_text());
            type_error("an integer");
        }
        return int_;
    }
    /// as_int64(), and FormatError unless min <= value <= max.
    std::int64_t as_int64(std::int64_t min, std::int64_t max) const {
        const std::int64_t v = as_int64();
        if (v < min || v > max)
            fail("must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", got " + std::to_string(v));
        return v;
    }
    /// The string's UTF-8 bytes (escapes decoded); FormatError for any other type.
    const std::string& as_string() const {
        if (!is_string()) type_error("a string");
        return string_;
    }
    /// The elements in file order; FormatError for any other type.
    const std::vector<JsonValue>& as_array() const {
        if (!is_array()) type_error("an array");
        return array_;
    }
    /// The members in file order, with lookup by key; FormatError for any other type.
    const JsonObject& as_object() const;

    /// The member named `key`, or nullptr when this is not an object or has no such member.
    /// O(1) on average for large objects (a hash index), a short scan for small ones.
    const JsonValue* find(std::string_view key) const noexcept;
    /// The member named `key`; FormatError if this is not an object or the member is absent
    /// (a required member: "lacks the required member \"key\"").
    const JsonValue& at(std::string_view key) const;
    /// Element `index` of an array; FormatError if this is not an array or it is too short.
    const JsonValue& at(std::size_t index) const;
    /// Number of array elements or object members; 0 for the other types.
    std::size_t size() const noexcept;

    /// The key path from the document's root, e.g. "model"."vocab" or "layers"[2]; empty for
    /// the root.
    std::string path() const;
    /// Where the value starts in the source text (byte offset from 0; line and column from 1,
    /// the column counted in bytes).
    std::size_t offset() const noexcept { return offset_; }
    std::size_t line() const noexcept { return line_; }
    std::size_t column() const noexcept { return column_; }
    /// The file path or label the document was parsed from.
    const std::string& source() const noexcept;

    /// Throws FormatError "<source>: <path> <what> (byte B, line L, column C)", the message
    /// style of the accessors, for a caller's own checks: v.fail("must be positive").
    [[noreturn]] void fail(const std::string& what) const;

private:
    friend class detail::JsonParser;
    friend class JsonDocument;

    [[noreturn]] void type_error(const char* expected) const {
        fail(std::string("must be ") + expected + ", got " + json_type_name(type_));
    }
    std::string number_text() const {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, number_);
        return std::string(buf, r.ptr);
    }
    std::string where() const {
        return "(byte " + std::to_string(offset_) + ", line " + std::to_string(line_) +
               ", column " + std::to_string(column_) + ")";
    }

    JsonType type_ = JsonType::null;
    bool bool_ = false;
    bool exact_ = false;                 // number: an integer literal that fits int64
    std::uint32_t index_in_parent_ = 0;  // element or member index (set after parsing)
    std::int64_t int_ = 0;
    double number_ = 0.0;
    std::string string_;
    std::vector<JsonValue> array_;
    std::unique_ptr<JsonObject> object_;
    const JsonValue* parent_ = nullptr;  // set after parsing, when no vector moves any more
    const detail::JsonContext* context_ = nullptr;
    std::size_t offset_ = 0;
    std::uint32_t line_ = 0;
    std::uint32_t column_ = 0;
};

/// An object member: key (UTF-8, escapes decoded), value, and where the key starts.
struct JsonMember {
    std::string key;
    JsonValue value;
    std::size_t key_offset = 0;
};

/// The members of a JSON object in file order, with lookup by key. Keys are unique (the
/// parser refuses duplicates).
class JsonObject {
public:
    using const_iterator = std::vector<JsonMember>::const_iterator;
    const_iterator begin() const noexcept { return members_.begin(); }
    const_iterator end() const noexcept { return members_.end(); }
    std::size_t size() const noexcept { return members_.size(); }
    bool empty() const noexcept { return members_.empty(); }
    /// Member i in file order (i < size()).
    const JsonMember& operator[](std::size_t i) const noexcept { return members_[i]; }
    /// The value of `key`, or nullptr.
    const JsonValue* find(std::string_view key) const noexcept {
        const std::size_t i = index_of(key);
        return i == npos ? nullptr : &members_[i].value;
    }
    bool contains(std::string_view key) const noexcept { return index_of(key) != npos; }

private:
    friend class detail::JsonParser;
    friend class JsonValue;
    static constexpr std::size_t npos = std::size_t(-1);
    // Objects up to this size are scanned; larger ones get an open-addressing hash index.
    static constexpr std::size_t scan_limit = 8;

    static std::uint64_t hash(std::string_view s) noexcept {
        std::uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
        for (const char c : s) {
            h ^= static_cast<unsigned char>(c);
            h *= 1099511628211ull;
        }
        return h;
    }

    std::size_t index_of(std::string_view key) const noexcept {
        if (table_.empty()) {
            for (std::size_t i = 0; i < members_.size(); ++i)
                if (members_[i].key == key) return i;
            return npos;
        }
        const std::size_t mask = table_.size() - 1;
        for (std::size_t s = static_cast<std::size_t>(hash(key)) & mask;; s = (s + 1) & mask) {
            const std::uint32_t e = table_[s];
            if (e == 0) return npos;
            if (members_[e - 1].key == key) return e - 1;
        }
    }

    // Builds the index (large objects) and returns the index of the first member whose key
    // an earlier member already has, or npos.
    std::size_t index_and_find_duplicate() {
        const std::size_t n = members_.size();
        if (n <= scan_limit) {
            for (std::size_t i = 1; i < n; ++i)
                for (std::size_t j = 0; j < i; ++j)
                    if (members_[i].key == members_[j].key) return i;
            return npos;
        }
        std::size_t slots = 16;
        while (slots < 2 * n) slots *= 2;  // load factor at most 1/2
        table_.assign(slots, 0);
        const std::size_t mask = slots - 1;
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t s = static_cast<std::size_t>(hash(members_[i].key)) & mask;
            for (; table_[s] != 0; s = (s + 1) & mask)
                if (members_[table_[s] - 1].key == members_[i].key) return i;
            table_[s] = static_cast<std::uint32_t>(i + 1);
        }
        return npos;
    }

    std::vector<JsonMember> members_;
    std::vector<std::uint32_t> table_;  // member index + 1, 0 = empty slot
};

inline JsonValue::~JsonValue() = default;

inline const JsonObject& JsonValue::as_object() const {
    if (!is_object()) type_error("an object");
    return *object_;
}

inline const JsonValue* JsonValue::find(std::string_view key) const noexcept {
    return is_object() ? object_->find(key) : nullptr;
}

inline const JsonValue& JsonValue::at(std::string_view key) const {
    const JsonValue* v = as_object().find(key);
    if (v == nullptr) {
        std::string q;
        q.push_back('"');
        q.append(key.data(), key.size());
        q.push_back('"');
        fail("lacks the required member " + q);
    }
    return *v;
}

inline const JsonValue& JsonValue::at(std::size_t index) const {
    const std::vector<JsonValue>& a = as_array();
    if (index >= a.size())
        fail("has " + std::to_string(a.size()) + " elements, element " + std::to_string(index) +
             " was asked for");
    return a[index];
}

inline std::size_t JsonValue::size() const noexcept {
    if (is_array()) return array_.size();
    if (is_object()) return object_->size();
    return 0;
}

inline std::string JsonValue::path() const {
    std::vector<const JsonValue*> chain;
    for (const JsonValue* v = this; v->parent_ != nullptr; v = v->parent_) chain.push_back(v);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const JsonValue* v = *it;
        if (v->parent_->is_array()) {
            out += "[" + std::to_string(v->index_in_parent_) + "]";
        } else {
            if (!out.empty()) out += '.';
            out += '"';
            out += (*v->parent_->object_)[v->index_in_parent_].key;
            out += '"';
        }
    }
    return out;
}

inline const std::string& JsonValue::source() const noexcept {
    static const std::string none;
    return context_ != nullptr ? context_->source : none;
}

inline void JsonValue::fail(const std::string& what) const {
    const std::string p = path();
    const std::string label =
        context_ != nullptr ? context_->label : std::string("embedkit::io::json");
    throw FormatError(label + ": " + (p.empty() ? std::string("the top-level value") : p) + " " +
                      what + " " + where());
}

/// A parsed JSON text: owns every value; root() is the top-level value. Move-only; moving it
/// keeps references to its values valid.
class JsonDocument {
public:
    JsonDocument(JsonDocument&&) noexcept = default;
    JsonDocument& operator=(JsonDocument&&) noexcept = default;
    JsonDocument(const JsonDocument&) = delete;
    JsonDocument& operator=(const JsonDocument&) = delete;

    const JsonValue& root() const noexcept { return *root_; }
    const std::string& source() const noexcept { return context_->source; }

private:
    friend class detail::JsonParser;
    JsonDocument() = default;

    std::unique_ptr<detail::JsonContext> context_;
    std::unique_ptr<JsonValue> root_;
};

namespace detail {

// Recursive descent, one level of recursion per nesting level (at most json_max_depth).
// Newlines occur only between tokens (a raw control character in a string is an error), so
// the line count is kept while skipping whitespace.
class JsonParser {
public:
    JsonParser(std::string_view text, std::unique_ptr<JsonContext> context)
        : begin_(text.data()),
          p_(text.data()),
          end_(text.data() + text.size()),
          line_start_(text.data()),
          context_(std::move(context)) {}

    JsonDocument parse() {
        if (end_ - p_ >= 3 && static_cast<unsigned char>(p_[0]) == 0xEF &&
            static_cast<unsigned char>(p_[1]) == 0xBB && static_cast<unsigned char>(p_[2]) == 0xBF)
            fail("the text starts with a UTF-8 byte order mark, which JSON does not allow");
        auto root = std::make_unique<JsonValue>();
        value(*root, 0);
        skip_ws();
        if (p_ != end_) fail("unexpected " + describe() + " after the top-level value");
        link(*root, context_.get());
        JsonDocument doc;
        doc.context_ = std::move(context_);
        doc.root_ = std::move(root);
        return doc;
    }

private:
    [[noreturn]] void fail_at(const char* at, const std::string& what) const {
        // Line and column of `at`: it is on the current line or (for a key reported after its
        // value) at most a few lines back, so count from the start.
        std::size_t line = 1;
        const char* ls = begin_;
        for (const char* q = begin_; q < at; ++q)
            if (*q == '\n') {
                ++line;
                ls = q + 1;
            }
        throw FormatError(context_->label + ": byte " + std::to_string(at - begin_) + " (line " +
                          std::to_string(line) + ", column " + std::to_string(at - ls + 1) +
                          "): " + what);
    }
    [[noreturn]] void fail(const std::string& what) const { fail_at(p_, what); }

    std::string describe() const {
        if (p_ >= end_) return "end of input";
        const unsigned char c = static_cast<unsigned char>(*p_);
        if (c >= 0x21 && c < 0x7F) return std::string("character '") + static_cast<char>(c) + "'";
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02X", c);
        return std::string("byte ") + buf;
    }

    void skip_ws() {
        while (p_ < end_) {
            const char c = *p_;
            if (c == ' ' || c == '\t' || c == '\r') {
                ++p_;
            } else if (c == '\n') {
                ++p_;
                ++line_;
                line_start_ = p_;
            } else {
                break;
            }
        }
    }

    void mark(JsonValue& v) const {
        v.offset_ = static_cast<std::size_t>(p_ - begin_);
        v.line_ = static_cast<std::uint32_t>(line_);
        v.column_ = static_cast<std::uint32_t>(p_ - line_start_ + 1);
    }

    void value(JsonValue& v, std::size_t depth) {
        skip_ws();
        if (p_ >= end_) fail("unexpected end of input, expected a value");
        mark(v);
        switch (*p_) {
            case '{':
                object(v, depth + 1);
                return;
            case '[':
                array(v, depth + 1);
                return;
            case '"':
                v.type_ = JsonType::string;
                string(v.string_);
                return;
            case 't':
                literal("true");
                v.type_ = JsonType::boolean;
                v.bool_ = true;
                return;
            case 'f':
                literal("false");
                v.type_ = JsonType::boolean;
                return;
            case 'n':
                literal("null");
                return;
            default:
                if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
                    number(v);
                    return;
                }
                fail("unexpected " + describe() + ", expected a value");
        }
    }

    void literal(const char* word) {
        const std::size_t n = std::strlen(word);
        if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0)
            fail("unexpected " + describe() + ", expected a value");
        p_ += n;
    }

    void enter(std::size_t depth) const {
        if (depth > json_max_depth)
            fail("containers nested deeper than " + std::to_string(json_max_depth) + " levels");
    }

    void array(JsonValue& v, std::size_t depth) {
        enter(depth);
        v.type_ = JsonType::array;
        ++p_;  // '['
        skip_ws();
        if (p_ < end_ && *p_ == ']') {
            ++p_;
            return;
        }
        for (;;) {
            v.array_.emplace_back();
            value(v.array_.back(), depth);
            skip_ws();
            if (p_ < end_ && *p_ == ',') {
                ++p_;
                continue;
            }
            if (p_ < end_ && *p_ == ']') {
                ++p_;
                break;
            }
            fail("unexpected " + describe() + " in an array, expected ',' or ']'");
        }
        if (v.array_.size() >= std::numeric_limits<std::uint32_t>::max())
            fail("an array with more than 2^32 - 2 elements");
    }

    void object(JsonValue& v, std::size_t depth) {
        enter(depth);
        v.type_ = JsonType::object;
        v.object_ = std::make_unique<JsonObject>();
        std::vector<JsonMember>& members = v.object_->members_;
        ++p_;  // '{'
        skip_ws();
        if (p_ < end_ && *p_ == '}') {
            ++p_;
            return;
        }
        for (;;) {
            skip_ws();
            if (p_ >= end_ || *p_ != '"')
                fail("unexpected " + describe() + " in an object, expected a string key");
            members.emplace_back();
            JsonMember& m = members.back();
            m.key_offset = static_cast<std::size_t>(p_ - begin_);
            string(m.key);
            skip_ws();
            if (p_ >= end_ || *p_ != ':')
                fail("unexpected " + describe() + " after an object key, expected ':'");
            ++p_;
            value(m.value, depth);
            skip_ws();
            if (p_ < end_ && *p_ == ',') {
                ++p_;
                continue;
            }
            if (p_ < end_ && *p_ == '}') {
                ++p_;
                break;
            }
            fail("unexpected " + describe() + " in an object, expected ',' or '}'");
        }
        if (members.size() >= std::numeric_limits<std::uint32_t>::max())
            fail("an object with more than 2^32 - 2 members");
        const std::size_t dup = v.object_->index_and_find_duplicate();
        if (dup != JsonObject::npos)
            fail_at(begin_ + members[dup].key_offset,
                    "duplicate key " + quote_for_message(members[dup].key));
    }

    static std::string quote_for_message(const std::string& key) {
        // Keys were validated as UTF-8; control characters are shown escaped, long keys cut.
        std::string out = "\"";
        for (std::size_t i = 0; i < key.size() && i < 200; ++i) {
            const unsigned char c = static_cast<unsigned char>(key[i]);
            if (c < 0x20 || c == '"' || c == '\\') {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04X", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
        if (key.size() > 200) out += "...";
        return out + "\"";
    }

    static int hex_digit(char c) noexcept {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    unsigned hex4() {
        // p_ is just past "\u".
        if (end_ - p_ < 4) fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const int d = hex_digit(p_[i]);
            if (d < 0) fail("invalid \\u escape (expected 4 hex digits)");
            v = v * 16 + static_cast<unsigned>(d);
        }
        p_ += 4;
        return v;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    void string(std::string& out) {
        const char* start = p_;
        ++p_;  // opening quote
        for (;;) {
            // Copy the run of plain characters at once.
            const char* run = p_;
            while (p_ < end_) {
                const unsigned char c = static_cast<unsigned char>(*p_);
                if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
                ++p_;
            }
            out.append(run, static_cast<std::size_t>(p_ - run));
            if (p_ >= end_) fail_at(start, "unterminated string");
            const unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return;
            }
            if (c < 0x20)
                fail("control character " + describe() +
                     " in a string (it must be written as an escape)");
            if (c >= 0x80) {
                const std::size_t n =
                    utf8_sequence_length(reinterpret_cast<const unsigned char*>(p_),
                                         reinterpret_cast<const unsigned char*>(end_));
                if (n == 0) fail("invalid UTF-8 (" + describe() + ") in a string");
                out.append(p_, n);
                p_ += n;
                continue;
            }
            // A backslash.
            if (end_ - p_ < 2) fail("unterminated string");
            const char e = p_[1];
            p_ += 2;
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    const char* esc = p_ - 2;
                    std::uint32_t cp = hex4();
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        fail_at(esc, "lone low surrogate \\u" + hex_text(cp) + " in a string");
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
                            fail_at(esc, "high surrogate \\u" + hex_text(cp) +
                                             " not followed by a low surrogate");
                        p_ += 2;
                        const std::uint32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            fail_at(esc, "high surrogate \\u" + hex_text(cp) +
                                             " not followed by a low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    p_ -= 1;
                    fail("invalid escape '\\" + std::string(1, e) + "' in a string");
            }
        }
    }

    static std::string hex_text(std::uint32_t v) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04X", static_cast<unsigned>(v));
        return buf;
    }

    static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

    void number(JsonValue& v) {
        const char* start = p_;
        const bool negative = *p_ == '-';
        if (negative) ++p_;
        if (p_ >= end_ || !digit(*p_)) fail("a number needs a digit after '-'");
        const char* int_begin = p_;
        if (*p_ == '0') {
            ++p_;
            if (p_ < end_ && digit(*p_)) fail_at(start, "a number with a leading zero");
        } else {
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        const char* int_end = p_;
        bool integer = true;
        if (p_ < end_ && *p_ == '.') {
            integer = false;
            ++p_;
            if (p_ >= end_ || !digit(*p_)) fail("a number needs a digit after '.'");
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integer = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ >= end_ || !digit(*p_)) fail("a number needs a digit in its exponent");
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        v.type_ = JsonType::number;
        if (integer) {
            // Exact: digit by digit into the magnitude; int64 holds -2^63 .. 2^63 - 1.
            std::uint64_t mag = 0;
            bool fits = true;
            for (const char* q = int_begin; q < int_end; ++q) {
                const auto d = static_cast<std::uint64_t>(*q - '0');
                if (mag > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
                    fits = false;
                    break;
                }
                mag = mag * 10 + d;
            }
            const std::uint64_t limit =
                negative ? (std::uint64_t(1) << 63) : (std::uint64_t(1) << 63) - 1;
            if (fits && mag <= limit) {
                v.exact_ = true;
                v.int_ = negative ? static_cast<std::int64_t>(0 - mag)  // two's complement
                                  : static_cast<std::int64_t>(mag);
                // "-0" is the integer 0 and the double -0.0.
                v.number_ = negative && mag == 0 ? -0.0 : static_cast<double>(v.int_);
                return;
            }
        }
        double d = 0.0;
        const auto r = std::from_chars(start, p_, d);
        if (r.ec == std::errc::result_out_of_range) {
            // Too small for a double rounds to zero; too large is refused (a double cannot
            // hold it, and infinity is not a JSON value).
            if (decimal_exponent(int_begin) < 0) {
                d = negative ? -0.0 : 0.0;
            } else {
                fail_at(start, "number " + std::string(start, p_) + " is out of range of double");
            }
        } else if (r.ec != std::errc() || r.ptr != p_) {
            fail_at(start, "malformed number");
        }
        v.number_ = d;
    }

    // The decimal exponent of the leading non-zero digit of the validated number whose
    // digits start at q and end at p_ (negative: |x| < 1); the exponent is clamped so that
    // 10^9 digits of it cannot overflow.
    long long decimal_exponent(const char* q) const {
        long long int_digits = 0, index = 0, first_nonzero = -1;
        bool after_point = false;
        for (; q < p_ && *q != 'e' && *q != 'E'; ++q) {
            if (*q == '.') {
                after_point = true;
                continue;
            }
            if (!after_point) ++int_digits;
            if (first_nonzero < 0 && *q != '0') first_nonzero = index;
            ++index;
        }
        if (first_nonzero < 0) return -1;  // zero
        long long e = 0;
        if (q < p_) {
            ++q;
            bool neg = false;
            if (*q == '+' || *q == '-') neg = *q++ == '-';
            for (; q < p_; ++q) e = e < 100000000 ? e * 10 + (*q - '0') : e;
            if (neg) e = -e;
        }
        return int_digits - 1 - first_nonzero + e;
    }

    // Sets parents, positions and the context once no vector will move any more.
    static void link(JsonValue& v, const JsonContext* context) {
        v.context_ = context;
        if (v.is_array()) {
            for (std::size_t i = 0; i < v.array_.size(); ++i) {
                v.array_[i].parent_ = &v;
                v.array_[i].index_in_parent_ = static_cast<std::uint32_t>(i);
                link(v.array_[i], context);
            }
        } else if (v.is_object()) {
            std::vector<JsonMember>& m = v.object_->members_;
            for (std::size_t i = 0; i < m.size(); ++i) {
                m[i].value.parent_ = &v;
                m[i].value.index_in_parent_ = static_cast<std::uint32_t>(i);
                link(m[i].value, context);
            }
        }
    }

    const char* begin_;
    const char* p_;
    const char* end_;
    std::size_t line_ = 1;
    const char* line_start_;
    std::unique_ptr<JsonContext> context_;
};

inline JsonDocument parse_json_labelled(std::string_view text, const std::string& source,
                                        const std::string& label) {
    auto context = std::make_unique<JsonContext>();
    context->source = source;
    context->label = label;
    return JsonParser(text, std::move(context)).parse();
}

}  // namespace detail

/// Parses a complete JSON text (RFC 8259, strictly: one value, optional whitespace around it;
/// strings of valid UTF-8 without raw control characters; no duplicate keys; at most
/// json_max_depth nested containers). `source` (a file path or a label) names the text in
/// error messages. Throws FormatError "embedkit::io::json: '<source>': byte B (line L,
/// column C): <what>" for the first problem.
inline JsonDocument parse_json(std::string_view text, const std::string& source) {
    return detail::parse_json_labelled(text, source, "embedkit::io::json: '" + source + "'");
}

/// Reads and parses a JSON file (at most json_max_file_bytes). Throws IoError if it cannot be
/// opened or read or is a folder, FormatError if it is larger than the limit or not valid
/// JSON (see parse_json).
inline JsonDocument read_json_file(const std::string& path) {
    struct Closer {
        void operator()(std::FILE* f) const noexcept { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Closer> f(std::fopen(path.c_str(), "rb"));
    if (!f)
        throw IoError("embedkit::io::read_json_file: cannot open '" + path +
                      "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode))
        throw IoError("embedkit::io::read_json_file: '" + path + "' is a folder, not a file");
    // Read in blocks (a pipe has no size), never more than the limit plus one block.
    std::string text;
    char buf[65536];
    for (;;) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
        text.append(buf, n);
        if (text.size() > json_max_file_bytes)
            throw FormatError("embedkit::io::json: '" + path + "': file larger than " +
                              std::to_string(json_max_file_bytes) +
                              " bytes, the limit of read_json_file");
        if (n < sizeof buf) {
            if (std::ferror(f.get()))
                throw IoError("embedkit::io::read_json_file: cannot read '" + path + "'");
            break;
        }
    }
    return parse_json(text, path);
}

/// `s` as a JSON string literal (quotes added; '"', '\\' and control characters escaped,
/// everything else kept as UTF-8). Throws ArgumentError if `s` is not valid UTF-8.
inline std::string json_quote(std::string_view s) {
    std::string out = "\"";
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c >= 0x80) {
            const std::size_t n = detail::utf8_sequence_length(p, end);
            if (n == 0)
                throw ArgumentError(
                    "embedkit::io::json_quote: invalid UTF-8 at byte " +
                    std::to_string(p - reinterpret_cast<const unsigned char*>(s.data())));
            out.append(reinterpret_cast<const char*>(p), n);
            p += n;
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
        ++p;
    }
    return out + "\"";
}

}  // namespace embedkit::io
