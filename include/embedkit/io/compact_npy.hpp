// Compact sets (core/compact.hpp) as .npy files numpy reads directly (docs/FORMAT.md,
// "Compact sets"):
//   NAME.npy         the rows: f16 '<f2' (rows, dim); bf16 '<u2' (rows, dim), the bfloat16
//                    bits; int8 '|i1' (rows, dim); binary '|u1' (rows, ceil(dim / 8)), in
//                    np.packbits order (first dimension in the most significant bit).
//   NAME.scales.npy  int8 only, float32: shape (rows,) for per-row scales, (1, dim) for
//                    per-dimension scales.
//   NAME.norms.npy   f16, bf16, int8: float32 (rows,), the L2 norm of each decoded row.
//                    Optional on reading (computed when absent).
// Reading checks every part against the others, including the norms against the rows, so
// files from different writes are a FormatError, never a silent mix.
#pragma once

#include "../core/compact.hpp"
#include "../core/error.hpp"
#include "npy.hpp"

#include <Eigen/Core>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace embedkit::io {

/// The companion file `suffix` ("scales" or "norms") of the compact set at `path`:
/// "x/emb.npy" -> "x/emb.scales.npy" (a path without ".npy" gets ".scales.npy" appended).
inline std::string compact_companion(const std::string& path, const char* suffix) {
    const std::string ext = ".npy";
    const bool has =
        path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0;
    return (has ? path.substr(0, path.size() - ext.size()) : path) + "." + suffix + ext;
}

namespace detail {

inline const char* compact_dtype(Storage s) noexcept {
    switch (s) {
        case Storage::f16:
            return "<f2";
        case Storage::bf16:
            return "<u2";
        case Storage::int8:
            return "|i1";
        case Storage::binary:
            return "|u1";
    }
    return "";
}

inline bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// The rows of a compact file: where they are and what they are.
struct CompactLayout {
    Storage storage = Storage::f16;
    Eigen::Index rows = 0;
    Eigen::Index dim = 0;
    std::size_t data_offset = 0;
};

inline CompactLayout compact_layout(const NpyHeader& h, const std::string& path,
                                    Eigen::Index binary_dim) {
    const std::string fn = "embedkit::io::read_compact: '" + path + "': ";
    CompactLayout l;
    if (h.dtype == "<f2")
        l.storage = Storage::f16;
    else if (h.dtype == "<u2")
        l.storage = Storage::bf16;
    else if (h.dtype == "|i1")
        l.storage = Storage::int8;
    else if (h.dtype == "|u1")
        l.storage = Storage::binary;
    else
        throw FormatError(fn + "dtype '" + h.dtype +
                          "' is not a compact set's ('<f2' f16, '<u2' bf16, '|i1' int8, "
                          "'|u1' binary)");
    if (h.fortran_order) throw FormatError(fn + "Fortran-order array (expected C order)");
    if (h.shape.size() != 2)
        throw FormatError(fn + "expected a 2-D array, got shape " + npy_shape_string(h.shape));
    const std::uint64_t limit = std::uint64_t(1) << 40;
    if (h.shape[0] > limit || h.shape[1] > limit)
        throw FormatError(fn + "shape " + npy_shape_string(h.shape) + " too large");
    l.rows = static_cast<Eigen::Index>(h.shape[0]);
    l.dim = static_cast<Eigen::Index>(h.shape[1]);
    if (binary_dim < -1 || binary_dim > (Eigen::Index(1) << 40))
        throw ArgumentError(
            "embedkit::io::read_compact: binary_dim must be -1 (8 x the row "
            "bytes) or a dimension from 1 to 2^40, got " +
            std::to_string(binary_dim));
    if (l.storage == Storage::binary) {
        const Eigen::Index bytes = l.dim;
        l.dim = binary_dim >= 0 ? binary_dim : 8 * bytes;
        if ((l.dim + 7) / 8 != bytes)
            throw FormatError(fn + std::to_string(bytes) + " bytes per row cannot hold " +
                              std::to_string(l.dim) + " dimensions (expected " +
                              std::to_string((l.dim + 7) / 8) + ")");
    } else if (binary_dim >= 0 && binary_dim != l.dim) {
        throw FormatError(fn + (l.storage == Storage::int8 ? "an " : "a ") +
                          std::string(storage_name(l.storage)) + " set of dimension " +
                          std::to_string(l.dim) + ", not " + std::to_string(binary_dim));
    }
    if (l.dim == 0)
        throw FormatError(fn + "rows of 0 dimensions (a compact set needs at least one)");
    l.data_offset = h.data_offset;
    return l;
}

// Reads a float32 companion, or returns false if it does not exist.
inline bool read_companion(const std::string& path, std::vector<std::uint64_t>& shape,
                           std::vector<float>& values) {
    if (!file_exists(path)) return false;
    const NpyHeader h = read_npy_header(path);
    if (h.dtype != "<f4")
        throw FormatError("embedkit::io::read_compact: '" + path + "': dtype '" + h.dtype +
                          "', expected '<f4' (float32)");
    shape = h.shape;
    if (shape.size() != 1 && shape.size() != 2)
        throw FormatError("embedkit::io::read_compact: '" + path + "': shape " +
                          npy_shape_string(shape) + ", expected 1-D or 2-D");
    const RowMatrix<float> m = read_npy<float>(path);
    values.assign(m.data(), m.data() + m.size());
    return true;
}

// Assembles the set from its rows and companions, checking them against each other.
inline CompactSet compact_assemble(const std::string& path, const CompactLayout& l,
                                   std::shared_ptr<const void> keep, const unsigned char* data) {
    const std::string fn = "embedkit::io::read_compact: ";
    if (l.storage == Storage::binary) {
        const Eigen::Index r = embedkit::detail::first_padded_row(data, l.rows, l.dim);
        if (r >= 0)
            throw FormatError(fn + "'" + path + "': row " + std::to_string(r) +
                              " has bits set past dimension " + std::to_string(l.dim) +
                              " (the padding must be zero)");
    }
    std::vector<float> scales;
    Int8Scale kind = Int8Scale::per_row;
    if (l.storage == Storage::int8) {
        const std::string sp = compact_companion(path, "scales");
        std::vector<std::uint64_t> shape;
        if (!read_companion(sp, shape, scales))
            throw FormatError(fn + "'" + path + "' is an int8 set, but its scales file '" + sp +
                              "' does not exist");
        if (shape.size() == 1 && shape[0] == std::uint64_t(l.rows))
            kind = Int8Scale::per_row;
        else if (shape.size() == 2 && shape[0] == 1 && shape[1] == std::uint64_t(l.dim))
            kind = Int8Scale::per_dim;
        else
            throw FormatError(fn + "'" + sp + "': shape " + npy_shape_string(shape) +
                              " fits neither per-row scales (" + std::to_string(l.rows) +
                              ",) nor per-dimension scales (1, " + std::to_string(l.dim) + ")");
        for (std::size_t i = 0; i < scales.size(); ++i)
            if (!(scales[i] >= 0.0f) || !std::isfinite(scales[i]))
                throw FormatError(fn + "'" + sp + "': scale " + std::to_string(i) + " is " +
                                  std::to_string(scales[i]) + " (scales must be finite and >= 0)");
    }
    std::vector<float> norms;
    std::string np;
    if (l.storage != Storage::binary) {
        np = compact_companion(path, "norms");
        std::vector<std::uint64_t> shape;
        if (read_companion(np, shape, norms) &&
            !(shape.size() == 1 && shape[0] == std::uint64_t(l.rows)))
            throw FormatError(fn + "'" + np + "': shape " + npy_shape_string(shape) +
                              ", expected (" + std::to_string(l.rows) + ",)");
    }
    const std::vector<float> given = norms;
    CompactSet s = CompactSet::from_parts(l.storage, l.rows, l.dim, std::move(keep), data, kind,
                                          std::move(scales), {}, path);
    // The norms file must describe these rows (and scales): files from different writes
    // disagree here.
    for (std::size_t r = 0; r < given.size(); ++r) {
        const float want = s.norms()[r];
        if (!embedkit::detail::norms_agree(given[r], want))
            throw FormatError(fn + "'" + np + "': norm " + std::to_string(r) + " is " +
                              std::to_string(given[r]) + " but the row's is " +
                              std::to_string(want) +
                              " (the files are from different writes, or the set was changed)");
    }
    return s;
}

struct Unmapper {
    std::size_t size;
    void operator()(const void* p) const noexcept { ::munmap(const_cast<void*>(p), size); }
};

}  // namespace detail

/// Writes `set` as NAME.npy plus its companions (see the file comment), each atomically:
/// companions first, the rows last; a companion that does not apply (a scales file beside
/// an f16 set, say, from an earlier write) is removed. Throws IoError if a file cannot be
/// written.
inline void write_compact(const std::string& path, const CompactSet& set) {
    const auto rows = static_cast<std::uint64_t>(set.rows());
    const std::string sp = compact_companion(path, "scales");
    const std::string np = compact_companion(path, "norms");
    if (set.storage() == Storage::int8) {
        const std::vector<std::uint64_t> shape =
            set.int8_scale() == Int8Scale::per_row
                ? std::vector<std::uint64_t>{rows}
                : std::vector<std::uint64_t>{1, static_cast<std::uint64_t>(set.dim())};
        write_npy<float>(sp, set.scales().data(), shape);
    } else if (::unlink(sp.c_str()) != 0 && errno != ENOENT) {
        throw IoError("embedkit::io::write_compact: cannot remove '" + sp +
                      "': " + std::strerror(errno));
    }
    if (set.storage() != Storage::binary)
        write_npy<float>(np, set.norms().data(), {rows});
    else if (::unlink(np.c_str()) != 0 && errno != ENOENT)
        throw IoError("embedkit::io::write_compact: cannot remove '" + np +
                      "': " + std::strerror(errno));
    const std::vector<std::uint64_t> shape{rows, set.storage() == Storage::binary
                                                     ? static_cast<std::uint64_t>(set.row_bytes())
                                                     : static_cast<std::uint64_t>(set.dim())};
    const char* descr = detail::compact_dtype(set.storage());
    if (set.storage() == Storage::f16 || set.storage() == Storage::bf16) {
        NpyWriter<std::uint16_t> w(path, shape, descr);
        // Rows hold 2-byte elements, possibly unaligned for uint16_t in a mapped set: copy.
        std::vector<std::uint16_t> buf(static_cast<std::size_t>(set.dim()));
        for (Eigen::Index r = 0; r < set.rows(); ++r) {
            std::memcpy(buf.data(), set.row(r), set.row_bytes());
            w.append(buf.data(), buf.size());
        }
        w.commit();
    } else if (set.storage() == Storage::int8) {
        write_npy<std::int8_t>(path, reinterpret_cast<const std::int8_t*>(set.data()), shape);
    } else {
        write_npy<std::uint8_t>(path, set.data(), shape);
    }
}

/// Reads a compact set written by write_compact (or by numpy in the same form) into memory.
/// `binary_dim`: a binary file's dimension (its rows hold ceil(dim / 8) bytes); -1 takes
/// 8 x bytes. Throws IoError if a file cannot be read, FormatError if a file is not a compact
/// set's part or the parts disagree (naming the file and what).
inline CompactSet read_compact(const std::string& path, Eigen::Index binary_dim = -1) {
    const NpyHeader h = read_npy_header(path);
    const detail::CompactLayout l = detail::compact_layout(h, path, binary_dim);
    const std::size_t bytes = storage_row_bytes(l.storage, static_cast<std::size_t>(l.dim)) *
                              static_cast<std::size_t>(l.rows);
    std::shared_ptr<unsigned char> buf = embedkit::detail::aligned_bytes(bytes);
    std::unique_ptr<std::FILE, detail::FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f || std::fseek(f.get(), static_cast<long>(l.data_offset), SEEK_SET) != 0 ||
        std::fread(buf.get(), 1, bytes, f.get()) != bytes)
        throw IoError("embedkit::io::read_compact: cannot read the data of '" + path + "'");
    const unsigned char* data = buf.get();
    return detail::compact_assemble(path, l, std::shared_ptr<const void>(std::move(buf)), data);
}

/// As read_compact, but the rows stay in the file, memory-mapped (read-only, shared): a set
/// larger than memory can be searched, pages coming in as the scan reaches them. Reading
/// still passes over the rows once to check them against their norms. The mapping lives as
/// long as any copy of the returned set. Throws as read_compact, and IoError if the file
/// cannot be mapped.
inline CompactSet map_compact(const std::string& path, Eigen::Index binary_dim = -1) {
    if (!detail::host_is_little_endian())
        throw IoError("embedkit::io::map_compact: big-endian hosts are not supported");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw IoError("embedkit::io::map_compact: cannot open '" + path +
                      "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw IoError("embedkit::io::map_compact: '" + path + "' is not a readable file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
        ::close(fd);
        throw FormatError("embedkit::io::npy: '" + path + "': file is empty");
    }
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    const int e = errno;
    ::close(fd);
    if (p == MAP_FAILED)
        throw IoError("embedkit::io::map_compact: cannot map '" + path + "': " + std::strerror(e));
    std::shared_ptr<const void> keep(p, detail::Unmapper{size});
    const auto* bytes = static_cast<const unsigned char*>(p);
    const NpyHeader h = detail::parse_npy_header(bytes, size, size, path);
    const detail::CompactLayout l = detail::compact_layout(h, path, binary_dim);
    return detail::compact_assemble(path, l, std::move(keep), bytes + l.data_offset);
}

}  // namespace embedkit::io
