// Compact embedding sets: rows stored as float16, bfloat16, int8 or one bit per dimension,
// encoded from a float set and decoded back. The search functions over them are in
// distance/compact.hpp; their .npy files in io/compact_npy.hpp.
//
// What a stored row means (its "decoded" values, which the kernels compute on exactly, up to
// float rounding):
//  * f16:    the IEEE binary16 value of each element (numpy's float16).
//  * bf16:   the bfloat16 value (the top 16 bits of a float).
//  * int8:   code * scale, where scale is the row's (Int8Scale::per_row) or the dimension's
//            (Int8Scale::per_dim), and code in [-128, 127] (the encoder writes [-127, 127]).
//  * binary: 1 where the bit is set, 0 where not; a bit is set when the value was > 0. Bits
//            are packed as numpy's packbits does: the first dimension in the most
//            significant bit of the row's first byte, the last byte padded with zero bits.
// Each f16, bf16 and int8 set also holds the L2 norm of every decoded row (float, computed in
// double), which cosine needs.
#pragma once

#include "detail/half.hpp"
#include "detail/set_view.hpp"
#include "error.hpp"
#include "types.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace embedkit {

/// How a compact set stores one dimension.
enum class Storage : std::uint8_t { f16, bf16, int8, binary };

/// The storage's name: "f16", "bf16", "int8" or "binary".
constexpr std::string_view storage_name(Storage s) noexcept {
    switch (s) {
        case Storage::f16:
            return "f16";
        case Storage::bf16:
            return "bf16";
        case Storage::int8:
            return "int8";
        case Storage::binary:
            return "binary";
    }
    return "unknown";
}

/// Bytes of one stored row of `dim` dimensions.
constexpr std::size_t storage_row_bytes(Storage s, std::size_t dim) noexcept {
    switch (s) {
        case Storage::f16:
        case Storage::bf16:
            return 2 * dim;
        case Storage::int8:
            return dim;
        case Storage::binary:
            return (dim + 7) / 8;
    }
    return 0;
}

/// Where an int8 set's scales come from.
enum class Int8Scale : std::uint8_t {
    per_row,  ///< one scale per row: max |x| of the row / 127
    per_dim,  ///< one scale per dimension, trained on a set: max |x| of the column / 127
};

/// Options of encode().
struct CompactOptions {
    Int8Scale int8_scale = Int8Scale::per_row;
    /// With per_dim: the dimension scales to encode with (from an earlier set's scales(), so
    /// a second set shares the first's grid; values beyond scale * 127 saturate at +-127).
    /// Empty (the default): trained on the set being encoded.
    std::vector<float> dim_scales;
};

/// A set of `rows` embeddings of `dim` dimensions in compact storage. Rows are contiguous
/// (row r at data() + r * row_bytes(), no padding, as in a .npy file); an owned buffer starts
/// on a 64-byte boundary. Copies share the (immutable) data. The data may also be a mapped
/// file (io/compact_npy.hpp), kept alive as long as any copy lives.
class CompactSet {
public:
    CompactSet() = default;

    Eigen::Index rows() const noexcept { return rows_; }
    Eigen::Index dim() const noexcept { return dim_; }
    Storage storage() const noexcept { return storage_; }
    Int8Scale int8_scale() const noexcept { return int8_scale_; }
    std::size_t row_bytes() const noexcept {
        return storage_row_bytes(storage_, static_cast<std::size_t>(dim_));
    }
    /// Bytes of all rows (without scales and norms).
    std::size_t data_bytes() const noexcept {
        return row_bytes() * static_cast<std::size_t>(rows_);
    }
    const unsigned char* data() const noexcept { return data_; }
    const unsigned char* row(Eigen::Index r) const noexcept {
        return data_ + static_cast<std::size_t>(r) * row_bytes();
    }
    /// int8 only: rows() scales (per_row) or dim() scales (per_dim); empty otherwise.
    const std::vector<float>& scales() const noexcept { return scales_; }
    /// The L2 norm of each decoded row (f16, bf16, int8); empty for binary.
    const std::vector<float>& norms() const noexcept { return norms_; }
    /// bf16 only: whether some value is nonzero and of magnitude below 2^-40 (subnormals
    /// included). Pair dot products between two sets without such values may use
    /// instructions that flush subnormals (AVX-512 BF16), which then give float arithmetic's
    /// result; with them, the exact float kernels run. False for other storages.
    bool has_small_values() const noexcept { return small_values_; }

    /// Decoded element (r, i): see the file comment. No bounds checks.
    float value(Eigen::Index r, Eigen::Index i) const noexcept {
        const unsigned char* p = row(r);
        const auto k = static_cast<std::size_t>(i);
        switch (storage_) {
            case Storage::f16:
                return detail::half_bits_to_float(load_u16(p + 2 * k));
            case Storage::bf16:
                return detail::bf16_bits_to_float(load_u16(p + 2 * k));
            case Storage::int8: {
                const float s = int8_scale_ == Int8Scale::per_row
                                    ? scales_[static_cast<std::size_t>(r)]
                                    : scales_[k];
                return s * static_cast<float>(static_cast<signed char>(p[k]));
            }
            case Storage::binary:
                return ((p[k / 8] >> (7 - k % 8)) & 1u) != 0 ? 1.0f : 0.0f;
        }
        return 0.0f;
    }

    /// Assembles a set from its parts (used by the .npy reader and by encode). `keep` owns
    /// the memory at `data` (rows * storage_row_bytes(storage, dim) bytes). Checks the
    /// scales' and norms' sizes and values, a binary row's padding bits (zero) and the
    /// dimension (at least 1); the norms of f16, bf16 and int8 rows are computed from the
    /// rows, and given ones must agree with them (relative 1e-5). Throws ArgumentError
    /// naming what is wrong (`what` names the source).
    static CompactSet from_parts(Storage storage, Eigen::Index rows, Eigen::Index dim,
                                 std::shared_ptr<const void> keep, const unsigned char* data,
                                 Int8Scale int8_scale, std::vector<float> scales,
                                 std::vector<float> norms, const std::string& what);

private:
    static std::uint16_t load_u16(const unsigned char* p) noexcept {
        std::uint16_t v;
        std::memcpy(&v, p, 2);  // little-endian hosts only (as the .npy reader)
        return v;
    }

    Eigen::Index rows_ = 0;
    Eigen::Index dim_ = 0;
    Storage storage_ = Storage::f16;
    Int8Scale int8_scale_ = Int8Scale::per_row;
    std::shared_ptr<const void> keep_;
    const unsigned char* data_ = nullptr;
    std::vector<float> scales_;
    std::vector<float> norms_;
    bool small_values_ = false;
};

namespace detail {

// A zeroed buffer of `bytes` bytes on a 64-byte boundary, freed with the last shared_ptr.
inline std::shared_ptr<unsigned char> aligned_bytes(std::size_t bytes) {
    constexpr std::align_val_t align{64};
    auto* p = static_cast<unsigned char*>(::operator new(std::max<std::size_t>(bytes, 1), align));
    std::memset(p, 0, std::max<std::size_t>(bytes, 1));
    return {p, [](unsigned char* q) { ::operator delete (q, std::align_val_t{64}); }};
}

inline std::string cell(Eigen::Index r, Eigen::Index i) {
    return "row " + std::to_string(r) + ", column " + std::to_string(i);
}

// Sets bit i of a packed binary row (np.packbits order: dimension 0 in the most significant
// bit of byte 0).
inline void set_bit(unsigned char* row, std::size_t i) noexcept {
    row[i / 8] |= static_cast<unsigned char>(0x80u >> (i % 8));
}

// The first of `rows` packed binary rows of `dim` bits with a padding bit set, or -1.
inline Eigen::Index first_padded_row(const unsigned char* data, Eigen::Index rows,
                                     Eigen::Index dim) noexcept {
    if (dim % 8 == 0) return -1;
    const std::size_t rb = (static_cast<std::size_t>(dim) + 7) / 8;
    const auto pad = static_cast<unsigned char>(0xFFu >> (dim % 8));
    for (Eigen::Index r = 0; r < rows; ++r)
        if ((data[static_cast<std::size_t>(r) * rb + rb - 1] & pad) != 0) return r;
    return -1;
}

// Whether a stored norm describes a row whose norm is `want`: relative 1e-5 (both NaN, or
// the same infinity, agree too).
inline bool norms_agree(float given, float want) noexcept {
    if (std::isnan(given) || std::isnan(want)) return std::isnan(given) && std::isnan(want);
    if (std::isinf(want) || std::isinf(given)) return given == want;
    return std::fabs(given - want) <= 1e-5f * want + std::numeric_limits<float>::denorm_min();
}

// The norm of decoded row r, summed in double.
inline float decoded_norm(const CompactSet& s, Eigen::Index r) noexcept {
    double sum = 0;
    for (Eigen::Index i = 0; i < s.dim(); ++i) {
        const double v = s.value(r, i);
        sum += v * v;
    }
    return static_cast<float>(std::sqrt(sum));
}

}  // namespace detail

inline CompactSet CompactSet::from_parts(Storage storage, Eigen::Index rows, Eigen::Index dim,
                                         std::shared_ptr<const void> keep,
                                         const unsigned char* data, Int8Scale int8_scale,
                                         std::vector<float> scales, std::vector<float> norms,
                                         const std::string& what) {
    const std::string fn = "embedkit::CompactSet: " + what + ": ";
    if (storage_name(storage) == "unknown")
        throw ArgumentError(fn + "unknown storage (enum value " +
                            std::to_string(static_cast<int>(storage)) + ")");
    if (rows < 0 || dim < 0)
        throw ArgumentError(fn + "negative size " + std::to_string(rows) + " x " +
                            std::to_string(dim));
    if (data == nullptr && rows > 0 && dim > 0) throw ArgumentError(fn + "no data");
    if (storage == Storage::int8) {
        if (int8_scale != Int8Scale::per_row && int8_scale != Int8Scale::per_dim)
            throw ArgumentError(fn + "unknown int8 scale kind (enum value " +
                                std::to_string(static_cast<int>(int8_scale)) + ")");
        const Eigen::Index want = int8_scale == Int8Scale::per_row ? rows : dim;
        if (static_cast<Eigen::Index>(scales.size()) != want)
            throw ArgumentError(fn + std::to_string(scales.size()) + " scales for " +
                                std::to_string(want) +
                                (int8_scale == Int8Scale::per_row ? " rows" : " dimensions"));
        for (std::size_t i = 0; i < scales.size(); ++i)
            if (!(scales[i] >= 0.0f) || !std::isfinite(scales[i]))
                throw ArgumentError(fn + "scale " + std::to_string(i) + " is " +
                                    std::to_string(scales[i]) +
                                    " (scales must be finite and >= 0)");
    } else if (!scales.empty()) {
        throw ArgumentError(fn + "scales given for a " + std::string(storage_name(storage)) +
                            " set (only int8 sets have scales)");
    }
    if (dim == 0 && rows > 0)
        throw ArgumentError(fn + "rows of 0 dimensions (a compact set needs at least one)");
    if (storage == Storage::binary && !norms.empty())
        throw ArgumentError(fn + "norms given for a binary set");
    if (storage == Storage::binary) {
        const Eigen::Index r = detail::first_padded_row(data, rows, dim);
        if (r >= 0)
            throw ArgumentError(fn + "row " + std::to_string(r) + " has bits set past dimension " +
                                std::to_string(dim) + " (the padding must be zero)");
    }
    if (!norms.empty() && static_cast<Eigen::Index>(norms.size()) != rows)
        throw ArgumentError(fn + std::to_string(norms.size()) + " norms for " +
                            std::to_string(rows) + " rows");
    for (std::size_t i = 0; i < norms.size(); ++i)
        if (!(norms[i] >= 0.0f) && !std::isnan(norms[i]))
            throw ArgumentError(fn + "norm " + std::to_string(i) + " is negative");
    CompactSet s;
    s.rows_ = rows;
    s.dim_ = dim;
    s.storage_ = storage;
    s.int8_scale_ = storage == Storage::int8 ? int8_scale : Int8Scale::per_row;
    s.keep_ = std::move(keep);
    s.data_ = data;
    s.scales_ = std::move(scales);
    if (storage != Storage::binary) {
        // Norms are always computed from the rows; given ones must agree (relative 1e-5).
        s.norms_.resize(static_cast<std::size_t>(rows));
        for (Eigen::Index r = 0; r < rows; ++r) {
            s.norms_[static_cast<std::size_t>(r)] = detail::decoded_norm(s, r);
            if (storage == Storage::bf16 && !s.small_values_)  // the row is in cache now
                for (Eigen::Index i = 0; i < dim && !s.small_values_; ++i)
                    s.small_values_ = detail::bf16_is_small(load_u16(s.row(r) + 2 * i));
        }
        for (std::size_t r = 0; r < norms.size(); ++r)
            if (!detail::norms_agree(norms[r], s.norms_[r]))
                throw ArgumentError(fn + "norm " + std::to_string(r) + " is " +
                                    std::to_string(norms[r]) + " but the row's is " +
                                    std::to_string(s.norms_[r]));
    }
    return s;
}

/// The per-dimension int8 scales of `set` (max |x| of each column / 127), for
/// CompactOptions::dim_scales. Throws ArgumentError on a non-finite value (naming it).
template <class D>
std::vector<float> train_int8_scales(const Eigen::MatrixBase<D>& set) {
    const detail::SetView<typename D::Scalar> v =
        detail::view_set("train_int8_scales", "the set", set);
    std::vector<float> m(static_cast<std::size_t>(v.cols), 0.0f);
    for (Eigen::Index r = 0; r < v.rows; ++r)
        for (Eigen::Index i = 0; i < v.cols; ++i) {
            const auto x = static_cast<float>(v.row(r)[i]);
            if (!std::isfinite(x))
                throw ArgumentError("embedkit::train_int8_scales: the value at " +
                                    detail::cell(r, i) + " is not finite");
            m[static_cast<std::size_t>(i)] = std::max(m[static_cast<std::size_t>(i)], std::fabs(x));
        }
    for (float& s : m) s /= 127.0f;
    return m;
}

/// Encodes a float (or double: each value is first rounded to float) row-major set.
///  * f16 / bf16: each value rounded to nearest, ties to even. Inf and NaN are kept; a
///    finite value beyond the format's range (f16: |x| >= 65520, which would round to inf)
///    throws ArgumentError naming its row and column.
///  * int8: code = x / scale rounded to nearest (ties to even, as np.rint), in [-127, 127]; per_row
///  scale =
///    max |x| of the row / 127 (0 for a zero row, whose codes are 0); per_dim scales trained
///    on the set or taken from options.dim_scales (then values beyond the grid saturate).
///    |x - decoded| <= scale / 2 (plus float rounding) for every value within the grid.
///  * binary: bit = (x > 0).
/// int8 and binary refuse NaN and infinities, every storage a double beyond float's range
/// and rows of 0 dimensions, and dim_scales are for int8 only (ArgumentError naming row and
/// column where there is one).
template <class D>
CompactSet encode(const Eigen::MatrixBase<D>& set, Storage storage, CompactOptions options = {}) {
    const detail::SetView<typename D::Scalar> v = detail::view_set("encode", "the set", set);
    const std::string fn = "embedkit::encode: ";
    if (storage_name(storage) == "unknown")
        throw ArgumentError(fn + "unknown storage (enum value " +
                            std::to_string(static_cast<int>(storage)) + ")");
    const auto dim = static_cast<std::size_t>(v.cols);
    const std::size_t rb = storage_row_bytes(storage, dim);
    std::shared_ptr<unsigned char> buf =
        detail::aligned_bytes(rb * static_cast<std::size_t>(v.rows));
    std::vector<float> scales;
    if (v.cols == 0 && v.rows > 0)
        throw ArgumentError(fn + "rows of 0 dimensions (a compact set needs at least one)");
    if (!options.dim_scales.empty() && storage != Storage::int8)
        throw ArgumentError(fn + "dim_scales given for a " + std::string(storage_name(storage)) +
                            " set (only int8 has scales)");
    // A double beyond float's range would become an infinity in the cast: refused first.
    const auto at = [&](Eigen::Index r, Eigen::Index i) {
        const double orig = static_cast<double>(v.row(r)[i]);
        const auto x = static_cast<float>(orig);
        if (std::isfinite(orig) && !std::isfinite(x))
            throw ArgumentError(fn + "the value " + std::to_string(orig) + " at " +
                                detail::cell(r, i) + " is beyond float's range");
        return x;
    };
    const auto finite = [&](Eigen::Index r, Eigen::Index i, float x) {
        if (!std::isfinite(x))
            throw ArgumentError(fn + "the value at " + detail::cell(r, i) + " is " +
                                std::to_string(x) + "; " + std::string(storage_name(storage)) +
                                " stores finite values only");
    };
    for (Eigen::Index r = 0; r < v.rows; ++r) {
        unsigned char* out = buf.get() + static_cast<std::size_t>(r) * rb;
        switch (storage) {
            case Storage::f16:
            case Storage::bf16:
                for (Eigen::Index i = 0; i < v.cols; ++i) {
                    const float x = at(r, i);
                    const std::uint16_t h = storage == Storage::f16 ? detail::float_to_half_bits(x)
                                                                    : detail::float_to_bf16_bits(x);
                    if (std::isfinite(x) &&
                        (h & 0x7FFFu) == (storage == Storage::f16 ? 0x7C00u : 0x7F80u))
                        throw ArgumentError(fn + "the value " + std::to_string(x) + " at " +
                                            detail::cell(r, i) + " is beyond " +
                                            std::string(storage_name(storage)) +
                                            "'s range (it would become infinite)" +
                                            (storage == Storage::f16 ? "; use bf16" : ""));
                    std::memcpy(out + 2 * static_cast<std::size_t>(i), &h, 2);
                }
                break;
            case Storage::binary:
                for (Eigen::Index i = 0; i < v.cols; ++i) {
                    const float x = at(r, i);
                    finite(r, i, x);
                    if (x > 0.0f) detail::set_bit(out, static_cast<std::size_t>(i));
                }
                break;
            case Storage::int8:
                break;
        }
    }
    if (storage == Storage::int8) {
        const bool per_row = options.int8_scale == Int8Scale::per_row;
        if (!per_row && options.int8_scale != Int8Scale::per_dim)
            throw ArgumentError(fn + "unknown int8 scale kind (enum value " +
                                std::to_string(static_cast<int>(options.int8_scale)) + ")");
        for (Eigen::Index r = 0; r < v.rows; ++r)
            for (Eigen::Index i = 0; i < v.cols; ++i) finite(r, i, at(r, i));
        if (per_row) {
            if (!options.dim_scales.empty())
                throw ArgumentError(fn + "dim_scales given with Int8Scale::per_row");
            scales.assign(static_cast<std::size_t>(v.rows), 0.0f);
            for (Eigen::Index r = 0; r < v.rows; ++r) {
                float m = 0.0f;
                for (Eigen::Index i = 0; i < v.cols; ++i) m = std::max(m, std::fabs(at(r, i)));
                scales[static_cast<std::size_t>(r)] = m / 127.0f;
            }
        } else if (options.dim_scales.empty()) {
            scales = train_int8_scales(set);
        } else {
            scales = options.dim_scales;
            if (scales.size() != dim)
                throw DimensionError(fn + std::to_string(scales.size()) +
                                     " dim_scales for a set of dimension " + std::to_string(dim));
            for (std::size_t i = 0; i < dim; ++i)
                if (!(scales[i] >= 0.0f) || !std::isfinite(scales[i]))
                    throw ArgumentError(fn + "dim_scales[" + std::to_string(i) + "] is " +
                                        std::to_string(scales[i]) +
                                        " (scales must be finite and >= 0)");
        }
        for (Eigen::Index r = 0; r < v.rows; ++r) {
            auto* out =
                reinterpret_cast<signed char*>(buf.get() + static_cast<std::size_t>(r) * rb);
            for (Eigen::Index i = 0; i < v.cols; ++i) {
                const float s = scales[static_cast<std::size_t>(per_row ? r : i)];
                const float c = s > 0.0f ? std::nearbyint(at(r, i) / s) : 0.0f;
                out[i] = static_cast<signed char>(std::clamp(c, -127.0f, 127.0f));
            }
        }
    }
    const unsigned char* data = buf.get();
    return CompactSet::from_parts(storage, v.rows, v.cols,
                                  std::shared_ptr<const void>(std::move(buf)), data,
                                  options.int8_scale, std::move(scales), {}, "encode");
}

/// The decoded values of every row (rows x dim floats; see the file comment).
inline RowMatrix<float> decode(const CompactSet& set) {
    RowMatrix<float> out(set.rows(), set.dim());
    for (Eigen::Index r = 0; r < set.rows(); ++r)
        for (Eigen::Index i = 0; i < set.dim(); ++i) out(r, i) = set.value(r, i);
    return out;
}

}  // namespace embedkit
