// Picture files: the format chosen by the file extension, binary PGM encoding, and writing
// the finished bytes atomically (temporary file + rename, see io/atomic_file.hpp).
#pragma once

#include "../../core/config.hpp"
#include "../../core/error.hpp"
#include "../../io/atomic_file.hpp"
#include "png_writer.hpp"
#include "raster.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace embedkit::viz::detail {

enum class PictureFormat { svg, png, pgm };

/// The format named by the extension of `path` (case-insensitive): .svg, .png, and .pgm when
/// allow_pgm. Throws ArgumentError naming `function` and the path for any other extension,
/// and for .png when embedkit was configured without libpng.
inline PictureFormat picture_format(const std::string& path, const char* function, bool allow_pgm) {
    const std::string::size_type slash = path.find_last_of('/');
    const std::string::size_type dot = path.find_last_of('.');
    std::string ext;
    if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
        for (std::size_t i = dot + 1; i < path.size(); ++i)
            ext.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(path[i]))));
    }
    const std::string where = std::string(function) + ": '" + path + "': ";
    if (ext == "svg") return PictureFormat::svg;
    if (ext == "pgm" && allow_pgm) return PictureFormat::pgm;
    if (ext == "png") {
        if (EMBEDKIT_HAS_PNG) return PictureFormat::png;
        throw ArgumentError(
            where +
            "PNG output needs libpng, which this build was configured without; install "
            "libpng-dev (Debian/Ubuntu: apt-get install libpng-dev) and reconfigure with "
            "CMake, or write .svg instead");
    }
    throw ArgumentError(
        where + "unsupported picture format '" + (ext.empty() ? std::string("(none)") : "." + ext) +
        "'; expected .svg or .png" + (allow_pgm ? std::string(" or .pgm") : std::string()));
}

/// A binary PGM (P5, maxval 255) of a grey raster.
inline std::string encode_pgm(const Raster& raster) {
    std::string s =
        "P5\n" + std::to_string(raster.width()) + ' ' + std::to_string(raster.height()) + "\n255\n";
    const std::size_t header = s.size();
    s.resize(header + raster.pixels().size());
    for (std::size_t i = 0; i < raster.pixels().size(); ++i)
        s[header + i] = static_cast<char>(raster.pixels()[i]);
    return s;
}

/// Replaces `path` with `bytes` atomically; IoError on failure.
inline void write_file_atomically(const std::string& path, const void* bytes, std::size_t n) {
    io::AtomicFile f(path);
    f.write(bytes, n);
    f.commit();
}

/// Writes `raster` as PNG or (grey rasters only) PGM.
inline void write_raster(const std::string& path, const Raster& raster, PictureFormat format,
                         const std::string& context) {
    if (format == PictureFormat::pgm) {
        const std::string pgm = encode_pgm(raster);
        write_file_atomically(path, pgm.data(), pgm.size());
        return;
    }
#if EMBEDKIT_HAS_PNG
    const std::vector<unsigned char> png = encode_png(raster, context);
    write_file_atomically(path, png.data(), png.size());
#else
    throw ArgumentError(context + ": '" + path + "': PNG output needs libpng");
#endif
}

}  // namespace embedkit::viz::detail
