// Encodes a Raster as PNG through libpng (only when EMBEDKIT_HAS_PNG is 1).
#pragma once

#include "../../core/config.hpp"
#include "../../core/error.hpp"
#include "raster.hpp"

#include <cstddef>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#if EMBEDKIT_HAS_PNG
#include <csetjmp>
#include <png.h>
#endif

namespace embedkit::viz::detail {

#if EMBEDKIT_HAS_PNG

// libpng reports errors with longjmp, which must not cross C++ frames that own objects.
// Everything between setjmp and the end of png_encode_rows therefore uses plain C types
// only, and the byte sink records an allocation failure instead of throwing through libpng.
struct PngSink {
    std::vector<unsigned char>* bytes;
    bool out_of_memory;
    char message[128];
};

extern "C" inline void embedkit_png_write(png_structp png, png_bytep data, png_size_t n) {
    PngSink* sink = static_cast<PngSink*>(png_get_io_ptr(png));
    if (sink->out_of_memory) return;
    try {
        sink->bytes->insert(sink->bytes->end(), data, data + n);
    } catch (const std::bad_alloc&) {
        sink->out_of_memory = true;
    }
}

extern "C" inline void embedkit_png_flush(png_structp) {}

extern "C" inline void embedkit_png_error(png_structp png, png_const_charp message) {
    PngSink* sink = static_cast<PngSink*>(png_get_error_ptr(png));
    std::strncpy(sink->message, message, sizeof sink->message - 1);
    sink->message[sizeof sink->message - 1] = '\0';
    png_longjmp(png, 1);
}

extern "C" inline void embedkit_png_warning(png_structp, png_const_charp) {}

// Returns false on a libpng error (its message in sink->message).
inline bool png_encode_rows(PngSink* sink, const unsigned char* pixels, png_uint_32 width,
                            png_uint_32 height, int channels) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, embedkit_png_error,
                                              embedkit_png_warning);
    if (png == nullptr) return false;
    png_infop info = png_create_info_struct(png);
    if (info == nullptr) {
        png_destroy_write_struct(&png, nullptr);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, sink, embedkit_png_write, embedkit_png_flush);
    png_set_IHDR(png, info, width, height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const std::size_t stride = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
    for (png_uint_32 y = 0; y < height; ++y) png_write_row(png, pixels + y * stride);
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

/// The PNG file (8-bit grey or RGB, no interlacing) of `raster`; throws Error naming
/// `context` if libpng fails and std::bad_alloc when memory runs out.
inline std::vector<unsigned char> encode_png(const Raster& raster, const std::string& context) {
    std::vector<unsigned char> bytes;
    bytes.reserve(raster.pixels().size() / 4 + 1024);
    PngSink sink{&bytes, false, {}};
    const bool ok =
        png_encode_rows(&sink, raster.pixels().data(), static_cast<png_uint_32>(raster.width()),
                        static_cast<png_uint_32>(raster.height()), raster.channels());
    if (sink.out_of_memory) throw std::bad_alloc();
    if (!ok)
        throw Error(
            context + ": libpng failed: " +
            (sink.message[0] != '\0' ? std::string(sink.message) : std::string("out of memory")));
    return bytes;
}

#endif  // EMBEDKIT_HAS_PNG

}  // namespace embedkit::viz::detail
