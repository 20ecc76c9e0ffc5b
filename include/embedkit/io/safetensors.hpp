// safetensors files (Hugging Face): a validated, memory-mapped reader with converting reads
// into owned Eigen storage, and an atomic writer.
//
// Format (https://github.com/huggingface/safetensors, README "Format"):
//   8 bytes: N, the header length, unsigned 64-bit little-endian;
//   N bytes: a UTF-8 JSON object (may end in spaces): tensor name ->
//            {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, plus an optional
//            "__metadata__": object of string -> string;
//   the data buffer: each tensor's little-endian, row-major bytes at [begin, end) relative to
//   the start of the buffer (8 + N). Tensors may not overlap.
// docs/FORMAT.md ("safetensors files") lists what embedkit checks.
#pragma once

#include "../core/detail/half.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "atomic_file.hpp"
#include "json.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::io {

/// The element types embedkit knows (the safetensors names: F64 F32 F16 BF16 I64 I32 I16 I8
/// U8 BOOL). A file holding another one (F8_E4M3, U16, ...) is a FormatError.
enum class SafetensorsDtype {
    f64,
    f32,
    f16,
    bf16,
    i64,
    i32,
    i16,
    i8,
    u8,
    boolean,
};

/// The dtype's name in the header: "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8",
/// "U8", "BOOL".
inline const char* safetensors_dtype_name(SafetensorsDtype d) noexcept {
    switch (d) {
        case SafetensorsDtype::f64:
            return "F64";
        case SafetensorsDtype::f32:
            return "F32";
        case SafetensorsDtype::f16:
            return "F16";
        case SafetensorsDtype::bf16:
            return "BF16";
        case SafetensorsDtype::i64:
            return "I64";
        case SafetensorsDtype::i32:
            return "I32";
        case SafetensorsDtype::i16:
            return "I16";
        case SafetensorsDtype::i8:
            return "I8";
        case SafetensorsDtype::u8:
            return "U8";
        case SafetensorsDtype::boolean:
            return "BOOL";
    }
    return "?";
}

/// Bytes per element: 8, 4, 2, 2, 8, 4, 2, 1, 1, 1.
inline std::size_t safetensors_dtype_size(SafetensorsDtype d) noexcept {
    switch (d) {
        case SafetensorsDtype::f64:
        case SafetensorsDtype::i64:
            return 8;
        case SafetensorsDtype::f32:
        case SafetensorsDtype::i32:
            return 4;
        case SafetensorsDtype::f16:
        case SafetensorsDtype::bf16:
        case SafetensorsDtype::i16:
            return 2;
        case SafetensorsDtype::i8:
        case SafetensorsDtype::u8:
        case SafetensorsDtype::boolean:
            return 1;
    }
    return 0;
}

/// The longest header the reader accepts: 100,000,000 bytes (the limit of the reference
/// implementation; all-MiniLM-L6-v2's is 11,408 bytes).
inline constexpr std::uint64_t safetensors_max_header_bytes = 100000000;

/// One tensor of a safetensors file, as its header describes it (validated).
struct SafetensorsTensor {
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::f32;
    std::vector<std::uint64_t> shape;  ///< row-major; empty for a scalar
    std::uint64_t begin = 0;           ///< byte offset of the data in the data buffer
    std::uint64_t end = 0;             ///< one past the last byte; end - begin = bytes
    /// Product of the shape (1 for a scalar).
    std::uint64_t element_count() const noexcept {
        std::uint64_t n = 1;
        for (const std::uint64_t d : shape) n *= d;
        return n;
    }
    std::uint64_t byte_size() const noexcept { return end - begin; }
};

/// The validated table of a safetensors file: tensors in header order, the metadata, and
/// where the data buffer starts.
class SafetensorsHeader {
public:
    /// Tensors in the order of the header.
    const std::vector<SafetensorsTensor>& tensors() const noexcept { return tensors_; }
    /// The "__metadata__" strings (empty when the file has none).
    const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
    /// The tensor called `name`, or nullptr.
    const SafetensorsTensor* find(std::string_view name) const {
        const auto it = index_.find(std::string(name));
        return it == index_.end() ? nullptr : &tensors_[it->second];
    }
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    /// Offset of the data buffer in the file: 8 + the header length.
    std::uint64_t data_offset() const noexcept { return data_offset_; }
    /// Bytes of the data buffer (file size - data_offset()).
    std::uint64_t data_size() const noexcept { return data_size_; }

private:
    friend SafetensorsHeader parse_safetensors_header(const unsigned char*, std::size_t,
                                                      const std::string&);
    std::vector<SafetensorsTensor> tensors_;
    std::unordered_map<std::string, std::size_t> index_;
    std::map<std::string, std::string> metadata_;
    std::uint64_t data_offset_ = 0;
    std::uint64_t data_size_ = 0;
};

namespace detail {

inline bool st_host_is_little_endian() noexcept {
    const std::uint16_t one = 1;
    unsigned char b = 0;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

[[noreturn]] inline void st_fail(const std::string& source, const std::string& what) {
    throw FormatError("embedkit::io::safetensors: '" + source + "': " + what);
}

inline bool st_parse_dtype(const std::string& s, SafetensorsDtype& out) noexcept {
    static const SafetensorsDtype all[] = {SafetensorsDtype::f64, SafetensorsDtype::f32,
                                           SafetensorsDtype::f16, SafetensorsDtype::bf16,
                                           SafetensorsDtype::i64, SafetensorsDtype::i32,
                                           SafetensorsDtype::i16, SafetensorsDtype::i8,
                                           SafetensorsDtype::u8,  SafetensorsDtype::boolean};
    for (const SafetensorsDtype d : all)
        if (s == safetensors_dtype_name(d)) {
            out = d;
            return true;
        }
    return false;
}

inline std::string st_shape_string(const std::vector<std::uint64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// A name for messages: quoted, cut after 200 bytes (a hostile header may hold huge names).
inline std::string st_name(const std::string& name) {
    return "'" + (name.size() > 200 ? name.substr(0, 200) + "..." : name) + "'";
}

// A non-negative integer member of the tensor entry, or a FormatError naming the tensor.
inline std::uint64_t st_count(const JsonValue& v, const std::string& source,
                              const std::string& tensor, const char* what) {
    if (!v.is_integer() || v.as_int64() < 0) {
        std::string got = json_type_name(v.type());
        if (v.is_number()) {
            char buf[32];
            const auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
            got = std::string(buf, r.ptr);
        }
        st_fail(source, "tensor " + st_name(tensor) + ": " + what +
                            " must hold integers from 0 to 2^63 - 1, got " + got);
    }
    return static_cast<std::uint64_t>(v.as_int64());
}

}  // namespace detail

/// Parses and validates the header of a safetensors file held in memory: `size` bytes at
/// `data`, the whole file (the data buffer's size is checked against every tensor). `source`
/// names the file in messages. Checks, each a FormatError naming the source (and the tensor):
/// the 8-byte length (at most safetensors_max_header_bytes, within the file); the header is
/// valid JSON (parse_json's rules: UTF-8, no duplicate names) and an object; "__metadata__"
/// is an object of strings; every other member is an object with exactly "dtype" (one of
/// SafetensorsDtype), "shape" (non-negative integers) and "data_offsets" (two integers,
/// begin <= end <= data buffer size); the shape's element count times the element size,
/// computed without overflow, equals end - begin; no two tensors share a byte.
inline SafetensorsHeader parse_safetensors_header(const unsigned char* data, std::size_t size,
                                                  const std::string& source) {
    using detail::st_fail;
    using detail::st_name;
    if (size < 8)
        st_fail(source, "file too short for a safetensors header (" + std::to_string(size) +
                            " bytes, the length field alone takes 8)");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n > safetensors_max_header_bytes)
        st_fail(source, "header of " + std::to_string(n) +
                            " bytes, more than the reader's limit of " +
                            std::to_string(safetensors_max_header_bytes) + " bytes");
    if (n > size - 8)
        st_fail(source, "truncated header (needs " + std::to_string(8 + n) + " bytes, file has " +
                            std::to_string(size) + ")");
    if (n == 0 || data[8] != '{')
        st_fail(source, "the header is not a JSON object (it must start with '{')");
    const std::string_view text(reinterpret_cast<const char*>(data + 8),
                                static_cast<std::size_t>(n));
    const JsonDocument doc = detail::parse_json_labelled(
        text, source, "embedkit::io::safetensors: '" + source + "': header");
    const JsonValue& root = doc.root();
    if (!root.is_object()) st_fail(source, "the header is not a JSON object");

    SafetensorsHeader h;
    h.data_offset_ = 8 + n;
    h.data_size_ = size - h.data_offset_;
    const JsonObject& members = root.as_object();
    h.tensors_.reserve(members.size());
    for (const JsonMember& m : members) {
        if (m.key == "__metadata__") {
            if (!m.value.is_object())
                st_fail(source, "__metadata__ must be an object of strings, got " +
                                    std::string(json_type_name(m.value.type())));
            for (const JsonMember& kv : m.value.as_object()) {
                if (!kv.value.is_string())
                    st_fail(source, "__metadata__ must be an object of strings, but " +
                                        st_name(kv.key) + " is " + json_type_name(kv.value.type()));
                h.metadata_.emplace(kv.key, kv.value.as_string());
            }
            continue;
        }
        const std::string& name = m.key;
        const JsonValue& e = m.value;
        if (!e.is_object())
            st_fail(source, "tensor " + st_name(name) + ": entry must be an object, got " +
                                json_type_name(e.type()));
        const JsonValue* dtype = nullptr;
        const JsonValue* shape = nullptr;
        const JsonValue* offsets = nullptr;
        for (const JsonMember& f : e.as_object()) {
            if (f.key == "dtype")
                dtype = &f.value;
            else if (f.key == "shape")
                shape = &f.value;
            else if (f.key == "data_offsets")
                offsets = &f.value;
            else
                st_fail(source, "tensor " + st_name(name) + ": unknown field " + st_name(f.key) +
                                    " (expected dtype, shape, data_offsets)");
        }
        if (dtype == nullptr || shape == nullptr || offsets == nullptr)
            st_fail(source,
                    "tensor " + st_name(name) + ": entry lacks one of dtype, shape, data_offsets");
        SafetensorsTensor t;
        t.name = name;
        if (!dtype->is_string())
            st_fail(source, "tensor " + st_name(name) + ": dtype must be a string, got " +
                                json_type_name(dtype->type()));
        if (!detail::st_parse_dtype(dtype->as_string(), t.dtype))
            st_fail(source, "tensor " + st_name(name) + " has unsupported dtype " +
                                st_name(dtype->as_string()) +
                                " (embedkit reads F64, F32, F16, BF16, I64, I32, I16, I8, U8, "
                                "BOOL)");
        if (!shape->is_array())
            st_fail(source, "tensor " + st_name(name) + ": shape must be an array, got " +
                                json_type_name(shape->type()));
        // The product, saturated: a zero dimension makes the tensor empty whatever the others
        // are, so overflow is only decided at the end.
        std::uint64_t count = 1;
        bool overflow = false, zero = false;
        for (const JsonValue& d : shape->as_array()) {
            const std::uint64_t v = detail::st_count(d, source, name, "shape");
            t.shape.push_back(v);
            if (v == 0) zero = true;
            if (v != 0 && count > std::numeric_limits<std::uint64_t>::max() / v)
                overflow = true;
            else
                count *= v;
        }
        if (zero) {
            count = 0;
            overflow = false;
        }
        const std::uint64_t item = safetensors_dtype_size(t.dtype);
        if (overflow || count > std::numeric_limits<std::uint64_t>::max() / item)
            st_fail(source, "tensor " + st_name(name) + ": shape " +
                                detail::st_shape_string(t.shape) + " overflows 64 bits");
        if (!offsets->is_array() || offsets->size() != 2)
            st_fail(source, "tensor " + st_name(name) +
                                ": data_offsets must be an array of two integers [begin, end]");
        t.begin = detail::st_count(offsets->at(std::size_t(0)), source, name, "data_offsets");
        t.end = detail::st_count(offsets->at(std::size_t(1)), source, name, "data_offsets");
        if (t.begin > t.end)
            st_fail(source, "tensor " + st_name(name) + ": data_offsets [" +
                                std::to_string(t.begin) + ", " + std::to_string(t.end) +
                                "] end before they begin");
        if (t.end > h.data_size_)
            st_fail(source, "tensor " + st_name(name) + ": data_offsets [" +
                                std::to_string(t.begin) + ", " + std::to_string(t.end) +
                                "] reach past the data buffer of " + std::to_string(h.data_size_) +
                                " bytes");
        if (count * item != t.end - t.begin)
            st_fail(source, "tensor " + st_name(name) + " has shape " +
                                detail::st_shape_string(t.shape) + " of " +
                                safetensors_dtype_name(t.dtype) + ", which needs " +
                                std::to_string(count * item) + " bytes, but data_offsets [" +
                                std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
                                std::to_string(t.end - t.begin));
        h.index_.emplace(t.name, h.tensors_.size());
        h.tensors_.push_back(std::move(t));
    }
    // No overlaps: sorted by start, each non-empty tensor begins at or after the end of the
    // previous non-empty one (empty tensors occupy no bytes).
    std::vector<const SafetensorsTensor*> order;
    order.reserve(h.tensors_.size());
    for (const SafetensorsTensor& t : h.tensors_)
        if (t.end > t.begin) order.push_back(&t);
    std::sort(order.begin(), order.end(),
              [](const SafetensorsTensor* a, const SafetensorsTensor* b) {
                  return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
              });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i]->begin < order[i - 1]->end)
            st_fail(source, "tensors " + st_name(order[i - 1]->name) + " [" +
                                std::to_string(order[i - 1]->begin) + ", " +
                                std::to_string(order[i - 1]->end) + ") and " +
                                st_name(order[i]->name) + " [" + std::to_string(order[i]->begin) +
                                ", " + std::to_string(order[i]->end) + ") overlap");
    return h;
}

/// A validated safetensors file held in memory (not owned: the bytes must outlive the view).
/// SafetensorsFile is the same over a memory map. Reads copy into owned storage, converting
/// where asked, because the data in a file is only as aligned as its header length makes it
/// (8 bytes in files the Python library writes, never assumed): no Eigen map ever points
/// into the file.
class SafetensorsView {
public:
    /// Validates `size` bytes at `data` (parse_safetensors_header); `source` names them in
    /// messages. Throws FormatError; IoError on a big-endian host.
    SafetensorsView(const unsigned char* data, std::size_t size, std::string source)
        : source_(std::move(source)) {
        if (!detail::st_host_is_little_endian())
            throw IoError("embedkit::io::safetensors: big-endian hosts are not supported");
        header_ = parse_safetensors_header(data, size, source_);
        data_ = data;
    }

    /// The file path or label given.
    const std::string& source() const noexcept { return source_; }
    const SafetensorsHeader& header() const noexcept { return header_; }
    /// Tensors in header order.
    const std::vector<SafetensorsTensor>& tensors() const noexcept { return header_.tensors(); }
    /// The "__metadata__" strings.
    const std::map<std::string, std::string>& metadata() const noexcept {
        return header_.metadata();
    }
    /// The tensor called `name`, or nullptr.
    const SafetensorsTensor* find(std::string_view name) const { return header_.find(name); }
    bool contains(std::string_view name) const { return header_.contains(name); }
    /// The tensor called `name`; FormatError naming the file and the tensor if it is absent.
    const SafetensorsTensor& tensor(std::string_view name) const {
        const SafetensorsTensor* t = find(name);
        if (t == nullptr)
            detail::st_fail(source_, "no tensor named " + detail::st_name(std::string(name)) +
                                         " (the file holds " + std::to_string(tensors().size()) +
                                         " tensors)");
        return *t;
    }
    /// The tensor's bytes as stored (little-endian, row-major, not necessarily aligned).
    const unsigned char* bytes(const SafetensorsTensor& t) const noexcept {
        return data_ + header_.data_offset() + t.begin;
    }

    /// The tensor's values as float, converted exactly from F32, F16 or BF16 (NaN payloads,
    /// infinities and subnormals kept). FormatError if it is absent or of another dtype (the
    /// message names file, tensor and dtype).
    std::vector<float> read_f32(std::string_view name) const {
        const SafetensorsTensor& t = tensor(name);
        std::vector<float> out(static_cast<std::size_t>(t.element_count()));
        convert_f32(t, out.data(), "read_f32");
        return out;
    }
    /// A 2-D tensor of shape [rows, cols] as a row-major float matrix (converted as
    /// read_f32). FormatError naming file, tensor, the actual and the expected shape if it
    /// differs; ArgumentError if rows or cols is negative.
    RowMatrixF read_matrix(std::string_view name, Eigen::Index rows, Eigen::Index cols) const {
        if (rows < 0 || cols < 0)
            throw ArgumentError(
                "embedkit::io::SafetensorsFile::read_matrix: rows and cols must "
                "be non-negative, got " +
                std::to_string(rows) + " and " + std::to_string(cols));
        const SafetensorsTensor& t = tensor(name);
        check_shape(t, {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols)});
        RowMatrixF m(rows, cols);
        convert_f32(t, m.data(), "read_matrix");
        return m;
    }
    /// A 1-D tensor of shape [n] as a float vector (converted as read_f32). FormatError as
    /// read_matrix; ArgumentError if n is negative.
    Eigen::VectorXf read_vector(std::string_view name, Eigen::Index n) const {
        if (n < 0)
            throw ArgumentError(
                "embedkit::io::SafetensorsFile::read_vector: n must be non-negative, got " +
                std::to_string(n));
        const SafetensorsTensor& t = tensor(name);
        check_shape(t, {static_cast<std::uint64_t>(n)});
        Eigen::VectorXf v(n);
        convert_f32(t, v.data(), "read_vector");
        return v;
    }
    /// The values of an I64 tensor (exactly; no other dtype). FormatError if it is absent or
    /// of another dtype.
    std::vector<std::int64_t> read_i64(std::string_view name) const {
        const SafetensorsTensor& t = tensor(name);
        if (t.dtype != SafetensorsDtype::i64)
            detail::st_fail(source_, "tensor " + detail::st_name(t.name) + " has dtype " +
                                         safetensors_dtype_name(t.dtype) + ", read_i64 reads I64");
        std::vector<std::int64_t> out(static_cast<std::size_t>(t.element_count()));
        if (!out.empty()) std::memcpy(out.data(), bytes(t), out.size() * sizeof(std::int64_t));
        return out;
    }

protected:
    SafetensorsView() = default;

    std::string source_;
    SafetensorsHeader header_;
    const unsigned char* data_ = nullptr;

private:
    void check_shape(const SafetensorsTensor& t, const std::vector<std::uint64_t>& want) const {
        if (t.shape != want)
            detail::st_fail(source_, "tensor " + detail::st_name(t.name) + " has shape " +
                                         detail::st_shape_string(t.shape) + ", expected " +
                                         detail::st_shape_string(want));
    }

    void convert_f32(const SafetensorsTensor& t, float* out, const char* func) const {
        const unsigned char* p = bytes(t);
        const auto n = static_cast<std::size_t>(t.element_count());
        switch (t.dtype) {
            case SafetensorsDtype::f32:
                if (n > 0) std::memcpy(out, p, n * sizeof(float));
                return;
            case SafetensorsDtype::f16:
                for (std::size_t i = 0; i < n; ++i)
                    out[i] = embedkit::detail::half_bits_to_float(static_cast<std::uint16_t>(
                        p[2 * i] | (static_cast<unsigned>(p[2 * i + 1]) << 8)));
                return;
            case SafetensorsDtype::bf16:
                // bfloat16 is the high half of a binary32: widening is exact.
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint32_t bits =
                        (std::uint32_t(p[2 * i]) << 16) | (std::uint32_t(p[2 * i + 1]) << 24);
                    std::memcpy(out + i, &bits, sizeof(float));
                }
                return;
            default:
                detail::st_fail(source_, "tensor " + detail::st_name(t.name) + " has dtype " +
                                             safetensors_dtype_name(t.dtype) + ", " + func +
                                             " reads F32, F16 or BF16 as float");
        }
    }
};

/// A safetensors file mapped read-only (POSIX mmap) and validated before any use; the
/// reads of SafetensorsView copy out of the map. Move-only; the map lives as long as the
/// object.
///
/// As with map_npy: if another program shrinks or rewrites the file in place while it is
/// mapped, touching a page past the new end raises SIGBUS. A file replaced by a rename (every
/// embedkit writer, and the Python library's) is unaffected.
class SafetensorsFile : public SafetensorsView {
public:
    /// Maps and validates `path`. Throws IoError if it cannot be opened or mapped or is a
    /// folder (or the host is big-endian), FormatError if it is not a valid safetensors file
    /// (see parse_safetensors_header).
    explicit SafetensorsFile(const std::string& path) {
        source_ = path;
        if (!detail::st_host_is_little_endian())
            throw IoError("embedkit::io::safetensors: big-endian hosts are not supported");
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            throw IoError("embedkit::io::SafetensorsFile: cannot open '" + path +
                          "': " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            throw IoError("embedkit::io::SafetensorsFile: cannot stat '" + path +
                          "': " + std::strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw IoError("embedkit::io::SafetensorsFile: '" + path + "' is " +
                          (S_ISDIR(st.st_mode) ? "a folder" : "not a regular file") +
                          ", not a safetensors file");
        }
        const auto size = static_cast<std::size_t>(st.st_size);
        if (size < 8) {
            ::close(fd);
            detail::st_fail(path, "file too short for a safetensors header (" +
                                      std::to_string(size) +
                                      " bytes, the length field alone takes 8)");
        }
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        const int e = errno;
        ::close(fd);  // the mapping keeps the file alive
        if (p == MAP_FAILED)
            throw IoError("embedkit::io::SafetensorsFile: cannot map '" + path +
                          "': " + std::strerror(e));
        map_ = p;
        map_size_ = size;
        try {
            header_ = parse_safetensors_header(static_cast<const unsigned char*>(p), size, path);
        } catch (...) {
            ::munmap(map_, map_size_);
            throw;
        }
        data_ = static_cast<const unsigned char*>(p);
    }
    SafetensorsFile(SafetensorsFile&& o) noexcept : SafetensorsView(std::move(o)) {
        std::swap(map_, o.map_);
        std::swap(map_size_, o.map_size_);
        o.data_ = nullptr;
    }
    SafetensorsFile& operator=(SafetensorsFile&& o) noexcept {
        if (this != &o) {
            release();
            SafetensorsView::operator=(std::move(o));
            std::swap(map_, o.map_);
            std::swap(map_size_, o.map_size_);
            o.data_ = nullptr;
        }
        return *this;
    }
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    ~SafetensorsFile() { release(); }

    /// The file's path.
    const std::string& path() const noexcept { return source_; }
    /// Size of the mapped file in bytes.
    std::size_t file_size() const noexcept { return map_size_; }

private:
    void release() noexcept {
        if (map_ != nullptr) ::munmap(map_, map_size_);
        map_ = nullptr;
        map_size_ = 0;
    }

    void* map_ = nullptr;
    std::size_t map_size_ = 0;
};

/// One tensor to write: name, dtype, shape and its little-endian, row-major bytes
/// (element_count(shape) * safetensors_dtype_size(dtype) of them). The safetensors_*
/// functions below make one from typed data.
struct SafetensorsInput {
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::f32;
    std::vector<std::uint64_t> shape;
    std::vector<unsigned char> bytes;
};

namespace detail {

inline std::uint64_t st_count_of(const std::vector<std::uint64_t>& shape) {
    std::uint64_t n = 1;
    for (const std::uint64_t d : shape) {
        if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d)
            throw ArgumentError("embedkit::io::safetensors: shape " + st_shape_string(shape) +
                                " overflows 64 bits");
        n *= d;
    }
    return n;
}

// The Python library (0.4.4) writes tensors sorted by its Dtype enum, largest first, then by
// name: I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL. The same order gives the same bytes.
inline int st_write_rank(SafetensorsDtype d) noexcept {
    switch (d) {
        case SafetensorsDtype::i64:
            return 9;
        case SafetensorsDtype::f64:
            return 8;
        case SafetensorsDtype::f32:
            return 7;
        case SafetensorsDtype::i32:
            return 6;
        case SafetensorsDtype::bf16:
            return 5;
        case SafetensorsDtype::f16:
            return 4;
        case SafetensorsDtype::i16:
            return 3;
        case SafetensorsDtype::i8:
            return 2;
        case SafetensorsDtype::u8:
            return 1;
        case SafetensorsDtype::boolean:
            return 0;
    }
    return -1;
}

template <class T>
SafetensorsInput st_input(std::string name, SafetensorsDtype dtype,
                          std::vector<std::uint64_t> shape, const T* data) {
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                  "embedkit::io::safetensors: element of 1, 2, 4 or 8 bytes");
    SafetensorsInput in;
    in.name = std::move(name);
    in.dtype = dtype;
    const std::uint64_t n = st_count_of(shape);
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
        throw ArgumentError("embedkit::io::safetensors: shape " + st_shape_string(shape) +
                            " overflows 64 bits");
    in.shape = std::move(shape);
    in.bytes.resize(static_cast<std::size_t>(n) * sizeof(T));
    if (!in.bytes.empty()) std::memcpy(in.bytes.data(), data, in.bytes.size());  // little-endian
    return in;
}

}  // namespace detail

/// F32 tensor from `data` (row-major, element_count(shape) floats).
inline SafetensorsInput safetensors_f32(std::string name, std::vector<std::uint64_t> shape,
                                        const float* data) {
    return detail::st_input(std::move(name), SafetensorsDtype::f32, std::move(shape), data);
}
/// F32 tensor from an Eigen matrix (shape [rows, cols], row-major whatever its storage) or
/// vector (shape [n]).
template <class Derived>
SafetensorsInput safetensors_f32(std::string name, const Eigen::DenseBase<Derived>& m) {
    static_assert(std::is_same_v<typename Derived::Scalar, float>,
                  "embedkit::io::safetensors_f32: the matrix must hold float");
    if constexpr (Derived::IsVectorAtCompileTime) {
        const Eigen::VectorXf v = m.derived();
        return safetensors_f32(std::move(name), {static_cast<std::uint64_t>(v.size())}, v.data());
    } else {
        const RowMatrixF r = m.derived();
        return safetensors_f32(
            std::move(name),
            {static_cast<std::uint64_t>(r.rows()), static_cast<std::uint64_t>(r.cols())}, r.data());
    }
}
/// F64 tensor from `data`.
inline SafetensorsInput safetensors_f64(std::string name, std::vector<std::uint64_t> shape,
                                        const double* data) {
    return detail::st_input(std::move(name), SafetensorsDtype::f64, std::move(shape), data);
}
/// F16 tensor from IEEE binary16 bit patterns.
inline SafetensorsInput safetensors_f16_bits(std::string name, std::vector<std::uint64_t> shape,
                                             const std::uint16_t* bits) {
    return detail::st_input(std::move(name), SafetensorsDtype::f16, std::move(shape), bits);
}
/// BF16 tensor from bfloat16 bit patterns (the high 16 bits of a float).
inline SafetensorsInput safetensors_bf16_bits(std::string name, std::vector<std::uint64_t> shape,
                                              const std::uint16_t* bits) {
    return detail::st_input(std::move(name), SafetensorsDtype::bf16, std::move(shape), bits);
}
/// I64 tensor from `data`.
inline SafetensorsInput safetensors_i64(std::string name, std::vector<std::uint64_t> shape,
                                        const std::int64_t* data) {
    return detail::st_input(std::move(name), SafetensorsDtype::i64, std::move(shape), data);
}

/// Writes a safetensors file atomically (temporary file + rename, AtomicFile): the header
/// lists `metadata` under "__metadata__" (omitted when empty) and the tensors sorted as the
/// Python library 0.4.4 writes them (by dtype: I64, F64, F32, I32, BF16, F16, I16, I8, U8,
/// BOOL; then by name), packed without gaps, so the bytes equal that library's for the same
/// tensors and at most one metadata entry; it is padded with spaces so the data buffer starts at a
/// multiple of 8. Throws ArgumentError for an empty or repeated name, the name "__metadata__", a
/// byte count that does not match the shape and dtype, or a name or string that is not valid UTF-8;
/// IoError if the file cannot be written.
inline void write_safetensors(const std::string& path, const std::vector<SafetensorsInput>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
    const std::string func = "embedkit::io::write_safetensors: ";
    std::vector<const SafetensorsInput*> order;
    for (const SafetensorsInput& t : tensors) {
        if (t.name.empty()) throw ArgumentError(func + "a tensor has an empty name");
        if (t.name == "__metadata__")
            throw ArgumentError(func + "'__metadata__' is reserved, not a tensor name");
        const std::uint64_t n = detail::st_count_of(t.shape);
        const std::size_t item = safetensors_dtype_size(t.dtype);
        if (item == 0) throw ArgumentError(func + "tensor '" + t.name + "' has an unknown dtype");
        if (n > std::numeric_limits<std::uint64_t>::max() / item || n * item != t.bytes.size())
            throw ArgumentError(func + "tensor '" + t.name + "' of shape " +
                                detail::st_shape_string(t.shape) + " and dtype " +
                                safetensors_dtype_name(t.dtype) + " has " +
                                std::to_string(t.bytes.size()) + " bytes, it needs " +
                                std::to_string(n) + " x " + std::to_string(item));
        order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](const SafetensorsInput* a, const SafetensorsInput* b) {
        const int ra = detail::st_write_rank(a->dtype), rb = detail::st_write_rank(b->dtype);
        return ra != rb ? ra > rb : a->name < b->name;
    });
    for (std::size_t i = 1; i < order.size(); ++i)
        if (order[i]->name == order[i - 1]->name)
            throw ArgumentError(func + "tensor name '" + order[i]->name + "' appears twice");
    std::string header = "{";
    try {
        if (!metadata.empty()) {
            header += "\"__metadata__\":{";
            bool first = true;
            for (const auto& kv : metadata) {
                if (!first) header += ',';
                first = false;
                header += json_quote(kv.first) + ":" + json_quote(kv.second);
            }
            header += "}";
        }
        std::uint64_t offset = 0;
        for (const SafetensorsInput* t : order) {
            if (header.size() > 1) header += ',';
            header += json_quote(t->name) + ":{\"dtype\":\"" + safetensors_dtype_name(t->dtype) +
                      "\",\"shape\":[";
            for (std::size_t i = 0; i < t->shape.size(); ++i) {
                if (i > 0) header += ',';
                header += std::to_string(t->shape[i]);
            }
            header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                      std::to_string(offset + t->bytes.size()) + "]}";
            offset += t->bytes.size();
        }
    } catch (const ArgumentError& e) {
        throw ArgumentError(func + "a name or metadata string is not valid UTF-8 (" + e.what() +
                            ")");
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');  // data buffer at 8 + N, a multiple of 8
    unsigned char len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<unsigned char>((std::uint64_t(header.size()) >> (8 * i)) & 0xFFu);
    AtomicFile f(path);
    f.write(len, 8);
    f.write(header.data(), header.size());
    for (const SafetensorsInput* t : order)
        if (!t->bytes.empty()) f.write(t->bytes.data(), t->bytes.size());
    f.commit();
}

}  // namespace embedkit::io
