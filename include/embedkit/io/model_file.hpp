// Model files: embedkit's versioned binary container for trained models and checkpoints
// (a kind, ordered text attributes, named typed tensors, CRC-32), specified in docs/FORMAT.md.
//
// Layout in brief (all integers little-endian; docs/FORMAT.md has the byte-by-byte table):
//   fixed header (48 bytes): magic "\x89EKM\r\n\x1a\n", version, flags, file size, data start,
//     kind length, attribute count, tensor count, reserved
//   kind, attributes (length-prefixed key/value), tensor table (name, dtype, rank, dims,
//     offset, byte size), zero padding to a multiple of 64
//   payloads in table order, each at a multiple of 64 and zero-padded to the next one
//   CRC-32 (zlib's) of every byte before it
// Readers validate every length against the bytes that remain before allocating anything, so
// a corrupt or hostile file is a FormatError, never a crash or a huge allocation.
#pragma once

#include "../core/error.hpp"
#include "../core/types.hpp"
#include "atomic_file.hpp"
#include "detail/crc32.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::io {

// ---------------------------------------------------------------------------------------------
// Element types

/// Element type of a tensor; the value is the code stored in the file.
enum class DType : std::uint8_t { f32 = 1, f64 = 2, i32 = 3, i64 = 4, u8 = 5, u64 = 6 };

namespace detail {

template <class T>
constexpr int model_dtype_code() noexcept {
    if constexpr (std::is_same_v<T, float>) {
        return 1;
    } else if constexpr (std::is_same_v<T, double>) {
        return 2;
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                         !std::is_same_v<T, char>) {
        // By width and signedness, so long / long long and unsigned long / unsigned long long
        // (distinct types of the same width) both map to the 64-bit codes.
        if constexpr (std::is_signed_v<T> && sizeof(T) == 4)
            return 3;
        else if constexpr (std::is_signed_v<T> && sizeof(T) == 8)
            return 4;
        else if constexpr (std::is_unsigned_v<T> && sizeof(T) == 1)
            return 5;
        else if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8)
            return 6;
        else
            return 0;
    } else {
        return 0;
    }
}

}  // namespace detail

/// True for the C++ types a tensor can hold: float, double, 32- and 64-bit signed integers,
/// uint8_t and 64-bit unsigned integers.
template <class T>
inline constexpr bool is_model_dtype_v = detail::model_dtype_code<T>() != 0;

/// The DType of T; a compile-time error for other types.
template <class T>
constexpr DType dtype_of() noexcept {
    static_assert(is_model_dtype_v<T>,
                  "embedkit::io::dtype_of: model-file tensors hold float, double, int32_t, "
                  "int64_t, uint8_t or uint64_t");
    return static_cast<DType>(detail::model_dtype_code<T>());
}

/// True if `code` is the file code of a DType.
constexpr bool is_valid_dtype_code(std::uint8_t code) noexcept { return code >= 1 && code <= 6; }

/// "f32", "f64", "i32", "i64", "u8", "u64"; "invalid" for any other value.
constexpr const char* dtype_name(DType t) noexcept {
    switch (t) {
        case DType::f32:
            return "f32";
        case DType::f64:
            return "f64";
        case DType::i32:
            return "i32";
        case DType::i64:
            return "i64";
        case DType::u8:
            return "u8";
        case DType::u64:
            return "u64";
    }
    return "invalid";
}

/// Bytes per element: 4, 8, 4, 8, 1, 8; 0 for an invalid value.
constexpr std::size_t dtype_size(DType t) noexcept {
    switch (t) {
        case DType::f32:
            return 4;
        case DType::f64:
            return 8;
        case DType::i32:
            return 4;
        case DType::i64:
            return 8;
        case DType::u8:
            return 1;
        case DType::u64:
            return 8;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Format constants (docs/FORMAT.md)

/// The format version this build writes and the newest it reads.
inline constexpr std::uint32_t model_file_version = 1;
/// PNG-style magic: the high byte catches 7-bit transfers, CR LF catches line-ending
/// conversion either way, 0x1A stops `type` on DOS-like consoles.
inline constexpr unsigned char model_file_magic[8] = {0x89, 'E', 'K', 'M', '\r', '\n', 0x1A, '\n'};
/// Bytes of the fixed header at the start of the file.
inline constexpr std::size_t model_file_header_size = 48;
/// Every payload starts at a multiple of this (a cache line; mmap-friendly for any dtype).
inline constexpr std::size_t model_file_alignment = 64;
/// Largest tensor rank.
inline constexpr std::size_t model_file_max_rank = 8;
/// Longest kind string, in bytes (at least 1).
inline constexpr std::size_t model_file_max_kind_length = 256;
/// Longest tensor name or attribute key, in bytes (at least 1).
inline constexpr std::size_t model_file_max_name_length = 1024;

namespace detail {

inline bool model_file_host_is_little_endian() noexcept {
    const std::uint32_t one = 1;
    unsigned char b = 0;
    std::memcpy(&b, &one, 1);
    return b == 1;
}

// Copies `count` elements of `elem` bytes, reversing the bytes of each one when `swap`.
inline void copy_elements(unsigned char* dst, const unsigned char* src, std::size_t count,
                          std::size_t elem, bool swap) noexcept {
    if (count == 0) return;
    if (!swap || elem == 1) {
        std::memcpy(dst, src, count * elem);
        return;
    }
    for (std::size_t i = 0; i < count; ++i)
        for (std::size_t b = 0; b < elem; ++b) dst[i * elem + b] = src[i * elem + elem - 1 - b];
}

// Host order <-> the file's little-endian order (the same operation both ways).
inline void copy_elements_le(void* dst, const void* src, std::size_t count,
                             std::size_t elem) noexcept {
    copy_elements(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), count,
                  elem, !model_file_host_is_little_endian());
}

inline std::uint64_t round_up64(std::uint64_t x) noexcept {
    return (x + (model_file_alignment - 1)) / model_file_alignment * model_file_alignment;
}

// Element count times element size, or false if it overflows 64 bits.
inline bool shape_byte_size(const std::vector<std::uint64_t>& shape, std::size_t elem,
                            std::uint64_t& out) noexcept {
    std::uint64_t n = elem;
    bool zero = false;
    bool overflow = false;
    for (std::uint64_t d : shape) {
        if (d == 0)
            zero = true;
        else if (n > std::numeric_limits<std::uint64_t>::max() / d)
            overflow = true;
        else
            n *= d;
    }
    // A zero dimension makes the tensor empty whatever the others say, but a shape whose
    // non-zero dimensions overflow is still rejected: no reader could index it.
    if (overflow) return false;
    out = zero ? 0 : n;
    return true;
}

inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// A name quoted for a message: printable ASCII as is, other bytes as \xNN, long names cut.
inline std::string quote_name(const std::string& s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out = "'";
    const std::size_t shown = std::min<std::size_t>(s.size(), 80);
    for (std::size_t i = 0; i < shown; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    if (shown < s.size()) out += "...(" + std::to_string(s.size()) + " bytes)";
    return out + "'";
}

inline std::string hex32(std::uint32_t v) {
    char buf[11];
    std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(v));
    return buf;
}

inline std::uint32_t get_u32(const unsigned char* p) noexcept {
    return embedkit::detail::crc32_load_le32(p);
}
inline std::uint64_t get_u64(const unsigned char* p) noexcept {
    return std::uint64_t(embedkit::detail::crc32_load_le32(p)) |
           (std::uint64_t(embedkit::detail::crc32_load_le32(p + 4)) << 32);
}
inline void put_u8(std::vector<unsigned char>& b, unsigned v) {
    b.push_back(static_cast<unsigned char>(v));
}
inline void put_u16(std::vector<unsigned char>& b, std::uint16_t v) {
    for (int i = 0; i < 2; ++i) b.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFFu));
}
inline void put_u32(std::vector<unsigned char>& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFFu));
}
inline void put_u64(std::vector<unsigned char>& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFFu));
}
inline void put_bytes(std::vector<unsigned char>& b, const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Tensor

/// A named n-dimensional array as stored in a model file: `bytes` holds the elements in
/// row-major (C) order and little-endian byte order, whatever the host. Rank 0 is a scalar
/// (one element); a zero dimension makes an empty tensor.
struct Tensor {
    std::string name;
    DType dtype = DType::f32;
    std::vector<std::uint64_t> shape;
    std::vector<unsigned char> bytes;

    /// Number of dimensions.
    std::size_t rank() const noexcept { return shape.size(); }

    /// Number of elements (1 for rank 0). Meaningful for a tensor whose shape does not
    /// overflow (every tensor that passed ModelFile::add or a loader).
    std::uint64_t element_count() const noexcept {
        std::uint64_t n = 1;
        for (std::uint64_t d : shape) n *= d;
        return n;
    }

    /// A tensor of the given shape holding the elements at `data` (row-major; the product of
    /// `shape` elements; `data` may be null when that product is 0). Throws ArgumentError if
    /// the shape is deeper than model_file_max_rank or its byte size overflows.
    template <class T>
    static Tensor from_data(std::string name, const T* data, std::vector<std::uint64_t> shape) {
        constexpr DType dt = dtype_of<T>();
        if (shape.size() > model_file_max_rank)
            throw ArgumentError("embedkit::io::Tensor::from_data: tensor " +
                                detail::quote_name(name) + " has rank " +
                                std::to_string(shape.size()) + ", the limit is " +
                                std::to_string(model_file_max_rank));
        std::uint64_t nbytes = 0;
        if (!detail::shape_byte_size(shape, sizeof(T), nbytes) ||
            nbytes > std::uint64_t(std::numeric_limits<std::ptrdiff_t>::max()))
            throw ArgumentError("embedkit::io::Tensor::from_data: tensor " +
                                detail::quote_name(name) + " has shape " +
                                detail::shape_string(shape) + ", whose byte size overflows");
        Tensor t;
        t.name = std::move(name);
        t.dtype = dt;
        t.shape = std::move(shape);
        t.bytes.resize(static_cast<std::size_t>(nbytes));
        if (nbytes > 0)
            detail::copy_elements_le(t.bytes.data(), data,
                                     static_cast<std::size_t>(nbytes / sizeof(T)), sizeof(T));
        return t;
    }

    /// A rank-1 tensor holding the elements of `v`.
    template <class T>
    static Tensor from_vector(std::string name, const std::vector<T>& v) {
        return from_data<T>(std::move(name), v.data(), {static_cast<std::uint64_t>(v.size())});
    }

    /// A rank-0 tensor holding `value`.
    template <class T>
    static Tensor from_scalar(std::string name, T value) {
        return from_data<T>(std::move(name), &value, {});
    }

    /// A tensor holding an Eigen object: vectors (compile-time one row or one column) are
    /// rank 1 of length size(); matrices are rank 2, rows x cols, stored row-major whatever
    /// the object's storage order. Expressions are evaluated.
    template <class Derived>
    static Tensor from_eigen(std::string name, const Eigen::DenseBase<Derived>& m) {
        using T = typename Derived::Scalar;
        static_assert(is_model_dtype_v<T>,
                      "embedkit::io::Tensor::from_eigen: the scalar type must be "
                      "float, double, int32_t, int64_t, uint8_t or uint64_t");
        if constexpr (Derived::IsVectorAtCompileTime) {
            std::vector<T> v(static_cast<std::size_t>(m.size()));
            for (Eigen::Index i = 0; i < m.size(); ++i)
                v[static_cast<std::size_t>(i)] = m.derived().coeff(i);
            return from_vector<T>(std::move(name), v);
        } else {
            const RowMatrix<T> r = m.derived();  // row-major copy: the file's element order
            return from_data<T>(
                std::move(name), r.data(),
                {static_cast<std::uint64_t>(r.rows()), static_cast<std::uint64_t>(r.cols())});
        }
    }

    /// The elements as T, row-major. Throws FormatError if the dtype is not T's (the message
    /// names both) or `bytes` does not match the shape.
    template <class T>
    std::vector<T> values() const {
        constexpr DType want = dtype_of<T>();
        if (dtype != want)
            throw FormatError("embedkit::io::Tensor::values: tensor " + detail::quote_name(name) +
                              " holds " + dtype_name(dtype) + ", not " + dtype_name(want));
        std::uint64_t nbytes = 0;
        if (!detail::shape_byte_size(shape, sizeof(T), nbytes) || nbytes != bytes.size())
            throw FormatError("embedkit::io::Tensor::values: tensor " + detail::quote_name(name) +
                              " has " + std::to_string(bytes.size()) + " bytes, its shape " +
                              detail::shape_string(shape) + " of " + dtype_name(dtype) + " needs " +
                              std::to_string(nbytes));
        std::vector<T> out(bytes.size() / sizeof(T));
        detail::copy_elements_le(out.data(), bytes.data(), out.size(), sizeof(T));
        return out;
    }

    friend bool operator==(const Tensor& a, const Tensor& b) {
        return a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.bytes == b.bytes;
    }
    friend bool operator!=(const Tensor& a, const Tensor& b) { return !(a == b); }
};

// Test hook: runs once per tensor-name comparison of a lookup (find_tensor and the duplicate
// check of add), so a test can count them; a test executable defines it before any include.
#ifndef EMBEDKIT_MODEL_FILE_NAME_COMPARED
#define EMBEDKIT_MODEL_FILE_NAME_COMPARED() ((void)0)
#endif

namespace detail {

// Throws ArgumentError (prefixed by `func`) unless `t` can be written: a name of 1 to
// model_file_max_name_length bytes, a valid dtype, rank <= model_file_max_rank, and bytes
// matching dtype and shape.
inline void check_tensor(const Tensor& t, const std::string& func) {
    const std::string n = quote_name(t.name);
    if (t.name.empty() || t.name.size() > model_file_max_name_length)
        throw ArgumentError(func + ": tensor names have 1 to " +
                            std::to_string(model_file_max_name_length) + " bytes, got " +
                            std::to_string(t.name.size()));
    if (dtype_size(t.dtype) == 0)
        throw ArgumentError(func + ": tensor " + n + " has invalid dtype code " +
                            std::to_string(static_cast<unsigned>(t.dtype)));
    if (t.rank() > model_file_max_rank)
        throw ArgumentError(func + ": tensor " + n + " has rank " + std::to_string(t.rank()) +
                            ", the limit is " + std::to_string(model_file_max_rank));
    std::uint64_t nbytes = 0;
    if (!shape_byte_size(t.shape, dtype_size(t.dtype), nbytes))
        throw ArgumentError(func + ": tensor " + n + " has shape " + shape_string(t.shape) +
                            ", whose byte size overflows 64 bits");
    if (nbytes != t.bytes.size())
        throw ArgumentError(func + ": tensor " + n + " has " + std::to_string(t.bytes.size()) +
                            " bytes, its shape " + shape_string(t.shape) + " of " +
                            dtype_name(t.dtype) + " needs " + std::to_string(nbytes));
}

// The first name (in sorted order) that occurs twice among get(0..n-1), or null. O(n log n),
// so a file with many entries cannot make the duplicate check quadratic.
template <class GetName>
const std::string* find_duplicate_name(std::size_t n, GetName get) {
    std::vector<const std::string*> p(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = &get(i);
    std::sort(p.begin(), p.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    for (std::size_t i = 1; i < n; ++i)
        if (*p[i] == *p[i - 1]) return p[i];
    return nullptr;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// ModelFile

/// The contents of a model file: a kind (what the file holds, e.g. "embedkit.vae" or
/// "embedkit.vae.checkpoint"), ordered text attributes (architecture and metadata) and named
/// tensors, all in insertion order. Saving the same contents gives the same bytes.
class ModelFile {
public:
    std::string kind;
    std::vector<std::pair<std::string, std::string>> attributes;
    std::vector<Tensor> tensors;
    /// Where the contents came from (the name given to parse_model_file / the loaded path);
    /// used in error messages only: not saved, not compared.
    std::string source;

    ModelFile() = default;
    /// An empty model file of the given kind.
    explicit ModelFile(std::string file_kind) : kind(std::move(file_kind)) {}

    /// Appends a tensor. Throws ArgumentError if the name is empty, longer than
    /// model_file_max_name_length or already used, or the tensor is inconsistent (invalid
    /// dtype, rank above model_file_max_rank, bytes not matching dtype and shape).
    /// Amortised O(1) through the name index: a name given to an element of `tensors` in
    /// place since its last change of length is caught when the file is saved instead.
    void add(Tensor t) {
        detail::check_tensor(t, "embedkit::io::ModelFile::add");
        if (indexed_ != tensors.size()) rebuild_index();
        if (const auto it = index_.find(t.name); it != index_.end()) {
            EMBEDKIT_MODEL_FILE_NAME_COMPARED();
            // A stale entry (the tensor was renamed in place) is no duplicate; find_tensor scans.
            if (tensors[it->second].name == t.name || find_tensor(t.name) != nullptr)
                throw ArgumentError("embedkit::io::ModelFile::add: " + where() +
                                    " already has a tensor named " + detail::quote_name(t.name));
        }
        // The tensor first, then its index entry: if either throws, indexed_ still names only
        // the tensors the index covers (lookups past it scan).
        tensors.push_back(std::move(t));
        index_.emplace(tensors.back().name, tensors.size() - 1);
        indexed_ = tensors.size();
    }

    /// Appends an Eigen vector (rank 1) or matrix (rank 2, rows x cols, row-major bytes);
    /// throws as add(Tensor).
    template <class Derived>
    void add(const std::string& name, const Eigen::DenseBase<Derived>& m) {
        add(Tensor::from_eigen(name, m));
    }

    /// Appends a std::vector as a rank-1 tensor; throws as add(Tensor).
    template <class T>
    void add(const std::string& name, const std::vector<T>& v) {
        add(Tensor::from_vector<T>(name, v));
    }

    /// Appends the row-major elements at `data` with the given shape; throws as add(Tensor).
    template <class T>
    void add(const std::string& name, const T* data, std::vector<std::uint64_t> shape) {
        add(Tensor::from_data<T>(name, data, std::move(shape)));
    }

    /// Appends a rank-0 tensor holding `value`; throws as add(Tensor).
    template <class T>
    void add_scalar(const std::string& name, T value) {
        add(Tensor::from_scalar<T>(name, value));
    }

    /// Appends the attribute key = value. Throws ArgumentError if the key is empty, longer
    /// than model_file_max_name_length or already present.
    void set_attribute(const std::string& key, std::string value) {
        if (key.empty() || key.size() > model_file_max_name_length)
            throw ArgumentError(
                "embedkit::io::ModelFile::set_attribute: attribute keys have 1 to " +
                std::to_string(model_file_max_name_length) + " bytes, got " +
                std::to_string(key.size()));
        if (has_attribute(key))
            throw ArgumentError("embedkit::io::ModelFile::set_attribute: " + where() +
                                " already has an attribute " + detail::quote_name(key));
        if (value.size() > std::numeric_limits<std::uint32_t>::max())
            throw ArgumentError("embedkit::io::ModelFile::set_attribute: the value of " +
                                detail::quote_name(key) + " exceeds 4 GiB");
        attributes.emplace_back(key, std::move(value));
    }

    /// True if an attribute `key` exists.
    bool has_attribute(const std::string& key) const noexcept {
        for (const auto& kv : attributes)
            if (kv.first == key) return true;
        return false;
    }

    /// The value of attribute `key`. Throws FormatError naming the key and the file if absent.
    const std::string& attribute(const std::string& key) const {
        for (const auto& kv : attributes)
            if (kv.first == key) return kv.second;
        throw FormatError("embedkit::io::ModelFile::attribute: " + where() + " has no attribute " +
                          detail::quote_name(key));
    }

    /// True if a tensor `name` exists.
    bool has_tensor(const std::string& name) const noexcept { return find_tensor(name) != nullptr; }

    /// The tensor `name`, or null. O(1) through the name index while `tensors` has the
    /// length it had when the index was last built (by the loaders, add and rebuild_index),
    /// so reading every tensor of a file by name is linear in the number of tensors; a name
    /// the index does not know, or after `tensors` was edited directly, costs a scan.
    const Tensor* find_tensor(const std::string& name) const noexcept {
        if (indexed_ == tensors.size()) {
            if (const auto it = index_.find(name); it != index_.end()) {
                EMBEDKIT_MODEL_FILE_NAME_COMPARED();
                // Verified, so an element renamed in place is never returned under its old name.
                if (tensors[it->second].name == name) return &tensors[it->second];
            }
        }
        for (const Tensor& t : tensors) {
            EMBEDKIT_MODEL_FILE_NAME_COMPARED();
            if (t.name == name) return &t;
        }
        return nullptr;
    }

    /// Rebuilds the name index behind find_tensor and add from `tensors` (the first of equal
    /// names wins, as in a scan). The loaders and add keep it current; call it after editing
    /// `tensors` directly and before many lookups.
    void rebuild_index() {
        index_.clear();
        index_.reserve(tensors.size());
        for (std::size_t i = 0; i < tensors.size(); ++i) index_.emplace(tensors[i].name, i);
        indexed_ = tensors.size();
    }

    /// The tensor `name`. Throws FormatError naming it and the file if absent.
    const Tensor& tensor(const std::string& name) const { return require("tensor", name); }

    /// Copies tensor `name` into `out`, which must already have the stored shape: a vector
    /// (compile-time one row or column) takes a rank-1 tensor of length out.size(), anything
    /// else a rank-2 tensor of out.rows() x out.cols(); the dtype must be out's scalar's.
    /// Any storage order; works for matrices, Map, Ref and blocks. Throws FormatError naming
    /// the file, the tensor, the expected and the found dtype and shape on a mismatch (this
    /// is how a file of another architecture is caught) or if the tensor is absent.
    template <class Derived>
    void read_into(const std::string& name, Eigen::DenseBase<Derived>& out) const {
        using T = typename Derived::Scalar;
        std::vector<std::uint64_t> want;
        if constexpr (Derived::IsVectorAtCompileTime)
            want = {static_cast<std::uint64_t>(out.size())};
        else
            want = {static_cast<std::uint64_t>(out.rows()), static_cast<std::uint64_t>(out.cols())};
        const std::vector<T> v = checked_values<T>("read_into", name, &want);
        if constexpr (Derived::IsVectorAtCompileTime) {
            for (Eigen::Index i = 0; i < out.size(); ++i)
                out.derived().coeffRef(i) = v[static_cast<std::size_t>(i)];
        } else {
            out.derived() = Eigen::Map<const RowMatrix<T>>(v.data(), out.rows(), out.cols());
        }
    }

    /// read_into for temporaries: Eigen::Ref, Eigen::Map, blocks, rows and columns.
    template <class Derived>
    void read_into(const std::string& name, Eigen::DenseBase<Derived>&& out) const {
        read_into(name, static_cast<Eigen::DenseBase<Derived>&>(out));
    }

    /// The elements of the rank-1 tensor `name`. Throws FormatError if absent, not rank 1 or
    /// not of T's dtype.
    template <class T>
    std::vector<T> read_vector(const std::string& name) const {
        const Tensor& t = require("read_vector", name);
        if (t.rank() != 1) mismatch("read_vector", t, dtype_of<T>(), "rank 1");
        return checked_values<T>("read_vector", name, nullptr);
    }

    /// The rank-2 tensor `name` as a rows x cols row-major matrix. Throws FormatError if
    /// absent, not rank 2 or not of T's dtype.
    template <class T>
    RowMatrix<T> read_matrix(const std::string& name) const {
        static_assert(is_model_dtype_v<T>,
                      "embedkit::io::ModelFile::read_matrix: unsupported scalar type");
        const Tensor& t = require("read_matrix", name);
        if (t.rank() != 2) mismatch("read_matrix", t, dtype_of<T>(), "rank 2");
        const std::uint64_t limit =
            static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max());
        if (t.shape[0] > limit || t.shape[1] > limit)
            mismatch("read_matrix", t, dtype_of<T>(), "dimensions an Eigen::Index can hold");
        const std::vector<T> v = checked_values<T>("read_matrix", name, nullptr);
        RowMatrix<T> m(static_cast<Eigen::Index>(t.shape[0]),
                       static_cast<Eigen::Index>(t.shape[1]));
        if (!v.empty()) std::memcpy(m.data(), v.data(), v.size() * sizeof(T));
        return m;
    }

    /// The value of the rank-0 tensor `name`. Throws FormatError if absent, not rank 0 or not
    /// of T's dtype.
    template <class T>
    T scalar(const std::string& name) const {
        const std::vector<std::uint64_t> want;
        return checked_values<T>("scalar", name, &want)[0];
    }

    friend bool operator==(const ModelFile& a, const ModelFile& b) {
        return a.kind == b.kind && a.attributes == b.attributes && a.tensors == b.tensors;
    }
    friend bool operator!=(const ModelFile& a, const ModelFile& b) { return !(a == b); }

    /// "'<source>' (kind '<kind>')", or "model of kind '<kind>'" when built in memory: how
    /// error messages name this file.
    std::string where() const {
        if (source.empty()) return "model of kind " + detail::quote_name(kind);
        return "'" + source + "' (kind " + detail::quote_name(kind) + ")";
    }

private:
    // Tensor name -> position in `tensors`, for the first indexed_ tensors. Positions, not
    // pointers, so that copies of the file carry a valid index.
    std::unordered_map<std::string, std::size_t> index_;
    std::size_t indexed_ = 0;

    const Tensor& require(const char* func, const std::string& name) const {
        if (const Tensor* t = find_tensor(name)) return *t;
        throw FormatError(std::string("embedkit::io::ModelFile::") + func + ": " + where() +
                          " has no tensor " + detail::quote_name(name));
    }

    [[noreturn]] void mismatch(const char* func, const Tensor& t, DType want_dtype,
                               const std::string& want_shape) const {
        throw FormatError(std::string("embedkit::io::ModelFile::") + func + ": " + where() +
                          ": tensor " + detail::quote_name(t.name) + " is " + dtype_name(t.dtype) +
                          " " + detail::shape_string(t.shape) + ", expected " +
                          dtype_name(want_dtype) + " " + want_shape +
                          " (a file of another architecture or precision?)");
    }

    // The elements of tensor `name` as T after checking its dtype and, when `want` is given,
    // its shape.
    template <class T>
    std::vector<T> checked_values(const char* func, const std::string& name,
                                  const std::vector<std::uint64_t>* want) const {
        const Tensor& t = require(func, name);
        const bool shape_ok = want == nullptr || *want == t.shape;
        if (t.dtype != dtype_of<T>() || !shape_ok)
            mismatch(func, t, dtype_of<T>(),
                     want ? detail::shape_string(*want) : detail::shape_string(t.shape));
        try {
            return t.values<T>();
        } catch (const FormatError& e) {
            throw FormatError(std::string("embedkit::io::ModelFile::") + func + ": " + where() +
                              ": " + e.what());
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Writing

namespace detail {

// Throws ArgumentError (prefixed by `func`) unless `m` can be written: kind of 1 to 256
// bytes, unique valid attribute keys and tensor names, consistent tensors, counts that fit.
inline void validate_model_file(const ModelFile& m, const std::string& func) {
    if (m.kind.empty() || m.kind.size() > model_file_max_kind_length)
        throw ArgumentError(func + ": the kind must have 1 to " +
                            std::to_string(model_file_max_kind_length) + " bytes, got " +
                            std::to_string(m.kind.size()));
    if (m.attributes.size() > std::numeric_limits<std::uint32_t>::max() ||
        m.tensors.size() > std::numeric_limits<std::uint32_t>::max())
        throw ArgumentError(func + ": more than 2^32-1 attributes or tensors");
    for (std::size_t i = 0; i < m.attributes.size(); ++i) {
        const auto& kv = m.attributes[i];
        if (kv.first.empty() || kv.first.size() > model_file_max_name_length)
            throw ArgumentError(func + ": attribute keys have 1 to " +
                                std::to_string(model_file_max_name_length) + " bytes, attribute " +
                                std::to_string(i) + " has " + std::to_string(kv.first.size()));
        if (kv.second.size() > std::numeric_limits<std::uint32_t>::max())
            throw ArgumentError(func + ": the value of attribute " + quote_name(kv.first) +
                                " exceeds 4 GiB");
    }
    for (const Tensor& t : m.tensors) check_tensor(t, func);
    if (const std::string* d = find_duplicate_name(
            m.attributes.size(),
            [&m](std::size_t i) -> const std::string& { return m.attributes[i].first; }))
        throw ArgumentError(func + ": attribute " + quote_name(*d) + " appears twice");
    if (const std::string* d = find_duplicate_name(
            m.tensors.size(),
            [&m](std::size_t i) -> const std::string& { return m.tensors[i].name; }))
        throw ArgumentError(func + ": tensor " + quote_name(*d) + " appears twice");
}

// Writes the file to sink(const unsigned char*, std::size_t) in a few large pieces and returns
// its total size. `m` must have passed validate_model_file.
template <class Sink>
std::uint64_t write_model_file(const ModelFile& m, Sink&& sink) {
    // The metadata: fixed header, kind, attributes, tensor table (offsets filled in below).
    // Built from the magic and reserved up front: GCC 12's -Wstringop-overflow misreads an
    // insert into an empty vector under -fsanitize=thread as an overflow.
    std::vector<unsigned char> meta(model_file_magic, model_file_magic + 8);
    meta.reserve(4096);
    put_u32(meta, model_file_version);
    put_u32(meta, 0);  // flags
    put_u64(meta, 0);  // file size, patched below
    put_u64(meta, 0);  // data start, patched below
    put_u32(meta, static_cast<std::uint32_t>(m.kind.size()));
    put_u32(meta, static_cast<std::uint32_t>(m.attributes.size()));
    put_u32(meta, static_cast<std::uint32_t>(m.tensors.size()));
    put_u32(meta, 0);  // reserved
    put_bytes(meta, m.kind);
    for (const auto& kv : m.attributes) {
        put_u32(meta, static_cast<std::uint32_t>(kv.first.size()));
        put_bytes(meta, kv.first);
        put_u32(meta, static_cast<std::uint32_t>(kv.second.size()));
        put_bytes(meta, kv.second);
    }
    std::vector<std::size_t> offset_slots;
    for (const Tensor& t : m.tensors) {
        put_u32(meta, static_cast<std::uint32_t>(t.name.size()));
        put_bytes(meta, t.name);
        put_u8(meta, static_cast<unsigned>(t.dtype));
        put_u8(meta, static_cast<unsigned>(t.rank()));
        put_u16(meta, 0);  // reserved
        for (std::uint64_t d : t.shape) put_u64(meta, d);
        offset_slots.push_back(meta.size());
        put_u64(meta, 0);  // offset, patched below
        put_u64(meta, t.bytes.size());
    }
    const std::uint64_t data_start = round_up64(meta.size());
    meta.resize(static_cast<std::size_t>(data_start), 0);
    std::uint64_t pos = data_start;
    for (std::size_t i = 0; i < m.tensors.size(); ++i) {
        for (std::size_t b = 0; b < 8; ++b)
            meta[offset_slots[i] + b] = static_cast<unsigned char>((pos >> (8 * b)) & 0xFFu);
        pos = round_up64(pos + m.tensors[i].bytes.size());
    }
    const std::uint64_t file_size = pos + 4;
    for (std::size_t b = 0; b < 8; ++b) {
        meta[16 + b] = static_cast<unsigned char>((file_size >> (8 * b)) & 0xFFu);
        meta[24 + b] = static_cast<unsigned char>((data_start >> (8 * b)) & 0xFFu);
    }

    static const unsigned char zeros[model_file_alignment] = {};
    std::uint32_t crc = embedkit::detail::crc32(0u, meta.data(), meta.size());
    sink(meta.data(), meta.size());
    for (const Tensor& t : m.tensors) {
        if (!t.bytes.empty()) {
            crc = embedkit::detail::crc32(crc, t.bytes.data(), t.bytes.size());
            sink(t.bytes.data(), t.bytes.size());
        }
        const std::size_t pad =
            static_cast<std::size_t>(round_up64(t.bytes.size()) - t.bytes.size());
        if (pad > 0) {
            crc = embedkit::detail::crc32(crc, zeros, pad);
            sink(zeros, pad);
        }
    }
    const unsigned char tail[4] = {
        static_cast<unsigned char>(crc & 0xFFu), static_cast<unsigned char>((crc >> 8) & 0xFFu),
        static_cast<unsigned char>((crc >> 16) & 0xFFu), static_cast<unsigned char>(crc >> 24)};
    sink(tail, 4);
    return file_size;
}

}  // namespace detail

/// The bytes of the model file for `m` (what save_model_file writes). Throws ArgumentError if
/// `m` cannot be written (empty or too long kind, names or keys; duplicates; a tensor whose
/// bytes do not match its dtype and shape).
inline std::vector<unsigned char> serialize_model_file(const ModelFile& m) {
    detail::validate_model_file(m, "embedkit::io::serialize_model_file");
    std::vector<unsigned char> out;
    detail::write_model_file(
        m, [&out](const unsigned char* p, std::size_t n) { out.insert(out.end(), p, p + n); });
    return out;
}

/// Saves `m` to `path` atomically (AtomicFile: temporary file beside the target, fsync,
/// rename over the target, fsync of the folder): afterwards `path` holds the old file or the
/// complete new one, never a mixture. Identical contents give identical bytes. Throws
/// ArgumentError as serialize_model_file (before touching the disk), IoError if writing fails.
inline void save_model_file(const std::string& path, const ModelFile& m) {
    detail::validate_model_file(m, "embedkit::io::save_model_file: '" + path + "'");
    AtomicFile f(path);
    detail::write_model_file(m, [&f](const unsigned char* p, std::size_t n) { f.write(p, n); });
    f.commit();
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Whether parse_model_file verifies the CRC-32. `skip` is for fuzzers and recovery tools:
/// every structural check still runs.
enum class ChecksumCheck { verify, skip };

namespace detail {

[[noreturn]] inline void model_format_error(const std::string& name, const std::string& what) {
    throw FormatError("embedkit::io::model_file: '" + name + "': " + what);
}

// The checks that need only the first min(avail, 48) bytes and the file size: magic, version,
// reserved header fields and the recorded file size. load_model_file runs them before reading
// the whole file, so a large file that is not a model file is rejected without reading it.
inline void check_model_file_prefix(const unsigned char* data, std::size_t avail,
                                    std::uint64_t size, const std::string& name) {
    const std::size_t m =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::min<std::size_t>(avail, 8), size));
    if (m > 0 && std::memcmp(data, model_file_magic, m) != 0) {
        std::string what = "not an embedkit model file (wrong magic)";
        if (m >= 4 && std::memcmp(data + 1, "EKM", 3) == 0)
            what +=
                "; it starts like one, so it was probably damaged by a text-mode transfer "
                "(line endings or the high bit changed): copy it in binary mode";
        model_format_error(name, what);
    }
    if (size < model_file_header_size)
        model_format_error(name, "truncated: " + std::to_string(size) +
                                     " bytes, shorter than the " +
                                     std::to_string(model_file_header_size) + "-byte header");
    const std::uint32_t version = get_u32(data + 8);
    if (version == 0) model_format_error(name, "invalid format version 0");
    if (version > model_file_version)
        model_format_error(name, "format version " + std::to_string(version) +
                                     " is newer than this build of embedkit reads (version " +
                                     std::to_string(model_file_version) + "); update embedkit");
    const std::uint32_t flags = get_u32(data + 12);
    if (flags != 0)
        model_format_error(name,
                           "flags field (offset 12) is " + hex32(flags) + ", version 1 requires 0");
    const std::uint32_t reserved = get_u32(data + 44);
    if (reserved != 0)
        model_format_error(
            name, "reserved field (offset 44) is " + hex32(reserved) + ", version 1 requires 0");
    const std::uint64_t recorded = get_u64(data + 16);
    if (size < recorded)
        model_format_error(name, "truncated: the file has " + std::to_string(size) +
                                     " bytes, its header records " + std::to_string(recorded));
    if (size > recorded)
        model_format_error(name, "trailing garbage: " + std::to_string(size - recorded) +
                                     " bytes past the " + std::to_string(recorded) +
                                     " bytes the header records");
}

// Bounded reads of the metadata section [pos, end).
class ModelFileReader {
public:
    ModelFileReader(const unsigned char* data, std::uint64_t pos, std::uint64_t end,
                    const std::string& name)
        : data_(data), pos_(pos), end_(end), name_(name) {}

    std::uint64_t pos() const noexcept { return pos_; }
    std::uint64_t left() const noexcept { return end_ - pos_; }

    void need(std::uint64_t n, const std::string& what) const {
        if (n > left())
            model_format_error(name_,
                               what + " (" + std::to_string(n) + " bytes at offset " +
                                   std::to_string(pos_) + ") runs past the end of the header (" +
                                   std::to_string(left()) + " bytes left before the data start)");
    }
    std::uint8_t u8(const std::string& what) {
        need(1, what);
        return data_[pos_++];
    }
    std::uint16_t u16(const std::string& what) {
        need(2, what);
        const std::uint16_t v = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
        pos_ += 2;
        return v;
    }
    std::uint32_t u32(const std::string& what) {
        need(4, what);
        const std::uint32_t v = get_u32(data_ + pos_);
        pos_ += 4;
        return v;
    }
    std::uint64_t u64(const std::string& what) {
        need(8, what);
        const std::uint64_t v = get_u64(data_ + pos_);
        pos_ += 8;
        return v;
    }
    std::string bytes(std::uint64_t n, const std::string& what) {
        need(n, what);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(n));
        pos_ += n;
        return s;
    }
    // A length-prefixed name of 1 to `limit` bytes.
    std::string name(std::size_t limit, const std::string& what) {
        const std::uint32_t n = u32(what + " length");
        if (n == 0 || n > limit)
            model_format_error(name_, what + " length is " + std::to_string(n) + ", must be 1 to " +
                                          std::to_string(limit));
        return bytes(n, what);
    }

private:
    const unsigned char* data_;
    std::uint64_t pos_;
    std::uint64_t end_;
    const std::string& name_;
};

inline bool all_zero(const unsigned char* p, std::uint64_t n) noexcept {
    for (std::uint64_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

}  // namespace detail

/// Parses a model file held in memory (`size` bytes at `data`); `name` (usually the path)
/// appears in every error message. Checks, in order: magic, version (newer -> FormatError
/// naming the version this build reads), reserved fields, the recorded file size (truncation,
/// trailing bytes), the CRC-32 ("checksum mismatch: expected X ... got Y"; skipped with
/// ChecksumCheck::skip), then every length, count, name, dtype code, rank, dimension, offset
/// and padding byte against the bytes that remain, before allocating. Throws FormatError; on
/// any input it neither crashes nor allocates more than about twice `size` bytes.
inline ModelFile parse_model_file(const unsigned char* data, std::size_t size,
                                  const std::string& name,
                                  ChecksumCheck check = ChecksumCheck::verify) {
    using detail::model_format_error;
    detail::check_model_file_prefix(data, size, size, name);
    const std::uint64_t body_end = size - 4;  // size >= 48 here
    if (check == ChecksumCheck::verify) {
        const std::uint32_t stored = detail::get_u32(data + body_end);
        const std::uint32_t computed =
            embedkit::detail::crc32(0u, data, static_cast<std::size_t>(body_end));
        if (stored != computed)
            model_format_error(name, "checksum mismatch: expected CRC-32 " + detail::hex32(stored) +
                                         " (stored in the last 4 bytes), got " +
                                         detail::hex32(computed) + " over the first " +
                                         std::to_string(body_end) + " bytes: the file is corrupt");
    }
    if (body_end % model_file_alignment != 0)
        model_format_error(name, "file size " + std::to_string(size) +
                                     " is not 4 more than a multiple of " +
                                     std::to_string(model_file_alignment));
    const std::uint64_t data_start = detail::get_u64(data + 24);
    if (data_start % model_file_alignment != 0 || data_start < model_file_header_size ||
        data_start > body_end)
        model_format_error(
            name, "data start " + std::to_string(data_start) + " is not a multiple of " +
                      std::to_string(model_file_alignment) + " between " +
                      std::to_string(model_file_header_size) + " and " + std::to_string(body_end));
    const std::uint32_t kind_length = detail::get_u32(data + 32);
    const std::uint32_t attribute_count = detail::get_u32(data + 36);
    const std::uint32_t tensor_count = detail::get_u32(data + 40);

    detail::ModelFileReader r(data, model_file_header_size, data_start, name);
    ModelFile m;
    m.source = name;
    if (kind_length == 0 || kind_length > model_file_max_kind_length)
        model_format_error(name, "kind length is " + std::to_string(kind_length) +
                                     ", must be 1 to " +
                                     std::to_string(model_file_max_kind_length));
    m.kind = r.bytes(kind_length, "the kind");

    // Each attribute takes at least 9 bytes (two lengths and a 1-byte key), so a count that
    // cannot fit is rejected before reserving memory for it.
    if (std::uint64_t(attribute_count) * 9 > r.left())
        model_format_error(name, "attribute count " + std::to_string(attribute_count) +
                                     " cannot fit in the " + std::to_string(r.left()) +
                                     " bytes left in the header");
    m.attributes.reserve(attribute_count);
    for (std::uint32_t i = 0; i < attribute_count; ++i) {
        const std::string what = "attribute " + std::to_string(i);
        std::string key = r.name(model_file_max_name_length, what + " key");
        const std::uint32_t n = r.u32(what + " value length");
        std::string value = r.bytes(n, what + " value");
        m.attributes.emplace_back(std::move(key), std::move(value));
    }

    // Each table entry takes at least 29 bytes (length, 1-byte name, dtype, rank, reserved,
    // offset, byte size).
    if (std::uint64_t(tensor_count) * 29 > r.left())
        model_format_error(name, "tensor count " + std::to_string(tensor_count) +
                                     " cannot fit in the " + std::to_string(r.left()) +
                                     " bytes left in the header");
    struct Entry {
        std::uint64_t offset;
        std::uint64_t nbytes;
    };
    std::vector<Entry> entries;
    entries.reserve(tensor_count);
    m.tensors.reserve(tensor_count);
    for (std::uint32_t i = 0; i < tensor_count; ++i) {
        const std::string what = "tensor " + std::to_string(i);
        Tensor t;
        t.name = r.name(model_file_max_name_length, what + " name");
        const std::string tn = what + " (" + detail::quote_name(t.name) + ")";
        const std::uint8_t code = r.u8(tn + " dtype");
        if (!is_valid_dtype_code(code))
            model_format_error(name, tn + " has unknown dtype code " + std::to_string(code) +
                                         " (version 1 knows 1 to 6: f32, f64, i32, i64, u8, u64)");
        t.dtype = static_cast<DType>(code);
        const std::uint8_t rank = r.u8(tn + " rank");
        if (rank > model_file_max_rank)
            model_format_error(name, tn + " has rank " + std::to_string(rank) + ", the limit is " +
                                         std::to_string(model_file_max_rank));
        const std::uint16_t reserved = r.u16(tn + " reserved field");
        if (reserved != 0)
            model_format_error(
                name, tn + " reserved field is " + std::to_string(reserved) + ", must be 0");
        r.need(std::uint64_t(rank) * 8 + 16, tn + " dimensions, offset and byte size");
        t.shape.resize(rank);
        for (std::uint8_t d = 0; d < rank; ++d) t.shape[d] = r.u64(tn + " dimension");
        const std::uint64_t offset = r.u64(tn + " offset");
        const std::uint64_t nbytes = r.u64(tn + " byte size");
        std::uint64_t need = 0;
        if (!detail::shape_byte_size(t.shape, dtype_size(t.dtype), need))
            model_format_error(name, tn + " has shape " + detail::shape_string(t.shape) + " of " +
                                         dtype_name(t.dtype) +
                                         ", whose byte size overflows 64 bits");
        if (nbytes != need)
            model_format_error(name, tn + " records " + std::to_string(nbytes) +
                                         " bytes, its shape " + detail::shape_string(t.shape) +
                                         " of " + dtype_name(t.dtype) + " needs " +
                                         std::to_string(need));
        entries.push_back({offset, nbytes});
        m.tensors.push_back(std::move(t));
    }
    if (const std::string* d = detail::find_duplicate_name(
            m.attributes.size(),
            [&m](std::size_t i) -> const std::string& { return m.attributes[i].first; }))
        model_format_error(name, "attribute key " + detail::quote_name(*d) + " appears twice");
    if (const std::string* d = detail::find_duplicate_name(
            m.tensors.size(),
            [&m](std::size_t i) -> const std::string& { return m.tensors[i].name; }))
        model_format_error(name, "tensor name " + detail::quote_name(*d) + " appears twice");
    const std::uint64_t meta_end = r.pos();
    if (detail::round_up64(meta_end) != data_start)
        model_format_error(name, "the header ends at " + std::to_string(meta_end) +
                                     " so the data should start at " +
                                     std::to_string(detail::round_up64(meta_end)) +
                                     ", but the header records " + std::to_string(data_start));
    if (!detail::all_zero(data + meta_end, data_start - meta_end))
        model_format_error(name, "non-zero padding between the header (ends at " +
                                     std::to_string(meta_end) + ") and the data (starts at " +
                                     std::to_string(data_start) + ")");
    // Payloads: each where the table says, the table saying what the canonical layout says.
    std::uint64_t expected_offset = data_start;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string tn =
            "tensor " + std::to_string(i) + " (" + detail::quote_name(m.tensors[i].name) + ")";
        const std::uint64_t offset = entries[i].offset;
        const std::uint64_t nbytes = entries[i].nbytes;
        if (offset != expected_offset)
            model_format_error(
                name, tn + " data offset is " + std::to_string(offset) + ", expected " +
                          std::to_string(expected_offset) +
                          " (payloads follow the header in table order, each at a multiple of 64)");
        if (nbytes > body_end - offset)
            model_format_error(name, tn + " data (" + std::to_string(nbytes) + " bytes at offset " +
                                         std::to_string(offset) +
                                         ") runs past the end of the data at " +
                                         std::to_string(body_end));
        expected_offset = detail::round_up64(offset + nbytes);  // <= body_end: body_end is aligned
    }
    if (expected_offset != body_end)
        model_format_error(name, std::to_string(body_end - expected_offset) +
                                     " unexpected bytes between the last tensor's data (ends at " +
                                     std::to_string(expected_offset) + ") and the checksum");
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::uint64_t end = entries[i].offset + entries[i].nbytes;
        if (!detail::all_zero(data + end, detail::round_up64(end) - end))
            model_format_error(name, "non-zero padding after the data of tensor " +
                                         std::to_string(i) + " (" +
                                         detail::quote_name(m.tensors[i].name) + ")");
    }
    for (std::size_t i = 0; i < entries.size(); ++i)
        m.tensors[i].bytes.assign(data + entries[i].offset,
                                  data + entries[i].offset + entries[i].nbytes);
    m.rebuild_index();  // models read every tensor by name: one index, not a scan per tensor
    return m;
}

/// Loads the model file at `path`. When `expected_kind` is not empty the file's kind must
/// equal it (FormatError naming both). Throws IoError if the file cannot be opened or read,
/// FormatError (naming the path) if it is not a valid model file: see parse_model_file.
inline ModelFile load_model_file(const std::string& path, const std::string& expected_kind = "") {
    const auto io_fail = [&path](const std::string& what, int e) {
        throw IoError("embedkit::io::load_model_file: " + what + " '" + path +
                      "': " + std::strerror(e));
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) io_fail("cannot open", errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) io_fail("cannot stat", errno);
    if (!S_ISREG(st.st_mode))
        throw IoError("embedkit::io::load_model_file: '" + path + "' is not a regular file");
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (size > std::uint64_t(std::numeric_limits<std::ptrdiff_t>::max()))
        throw IoError("embedkit::io::load_model_file: '" + path +
                      "' is too large for this address space");
    std::vector<unsigned char> buf;
    const auto read_upto = [&](std::size_t n) {
        std::size_t have = buf.size();
        buf.resize(n);
        while (have < n) {
            const ssize_t got = ::read(fd, buf.data() + have, n - have);
            if (got < 0) {
                if (errno == EINTR) continue;
                io_fail("cannot read", errno);
            }
            if (got == 0)
                throw IoError("embedkit::io::load_model_file: '" + path +
                              "' shrank while being read");
            have += static_cast<std::size_t>(got);
        }
    };
    // The header first: a large file that is not a model file is rejected without reading it.
    read_upto(static_cast<std::size_t>(std::min<std::uint64_t>(size, model_file_header_size)));
    detail::check_model_file_prefix(buf.data(), buf.size(), size, path);
    read_upto(static_cast<std::size_t>(size));
    ModelFile m = parse_model_file(buf.data(), buf.size(), path);
    if (!expected_kind.empty() && m.kind != expected_kind)
        throw FormatError("embedkit::io::load_model_file: '" + path + "' holds a model of kind " +
                          detail::quote_name(m.kind) + ", expected " +
                          detail::quote_name(expected_kind));
    return m;
}

}  // namespace embedkit::io
