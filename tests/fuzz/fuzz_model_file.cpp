// Fuzz target: the model-file reader and the typed model loaders on top of it.
// Input: byte 0 holds the choices, the rest is the file.
//   bit 0  parse with ChecksumCheck::verify (set) or ChecksumCheck::skip
//   bit 1  first overwrite the last 4 bytes with the CRC-32 of the rest, so that mutated
//          files pass the checksum and reach the structural checks and the loaders
//   bit 2  load models as double instead of float
// Checked on success: the parsed contents serialise back to exactly the input bytes (the
// format has one canonical layout), and reading every tensor through the typed accessors
// either works or throws an embedkit error. Files of kind embedkit.vae, embedkit.autoencoder
// or embedkit.siamese whose checksum holds are also written to a temporary file and loaded
// with VAE::load, Autoencoder::load or Siamese::load (the models load from a path only).
#include "fuzz_util.hpp"

#include <embedkit/io/detail/crc32.hpp>
#include <embedkit/io/model_file.hpp>
#include <embedkit/models/autoencoder.hpp>
#include <embedkit/models/siamese.hpp>
#include <embedkit/models/vae.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

constexpr const char* target = "fuzz_model_file";

// The scratch file the typed loaders read, one per process, removed at exit. The name lives
// on the heap and is never destroyed, so the exit handler can still read it (a static string
// would be destroyed before a handler registered during its own initialisation runs).
const std::string& scratch_path() {
    static const std::string* const path = [] {
        const char* dir = std::getenv("TMPDIR");
        const auto* p =
            new std::string(std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                            "/embedkit_fuzz_model_" + std::to_string(::getpid()) + ".ekm");
        std::atexit([] { std::remove(scratch_path().c_str()); });
        return p;
    }();
    return *path;
}

void write_scratch(const unsigned char* data, std::size_t size) {
    std::FILE* f = std::fopen(scratch_path().c_str(), "wb");
    if (f == nullptr) fuzz::violated(target, "cannot create the scratch file");
    const bool ok = std::fwrite(data, 1, size, f) == size;
    if (std::fclose(f) != 0 || !ok) fuzz::violated(target, "cannot write the scratch file");
}

template <class T>
void read_as(const embedkit::io::ModelFile& m, const embedkit::io::Tensor& t) {
    try {
        const std::vector<T> v = m.read_vector<T>(t.name);
        FUZZ_CHECK(target, v.size() * sizeof(T) == t.bytes.size());
    } catch (const embedkit::Error&) {}
    try {
        const embedkit::RowMatrix<T> x = m.read_matrix<T>(t.name);
        FUZZ_CHECK(target, static_cast<std::size_t>(x.size()) * sizeof(T) == t.bytes.size());
    } catch (const embedkit::Error&) {}
}

template <class Scalar>
void load_model(const std::string& kind) {
    namespace models = embedkit::models;
    if (kind == "embedkit.vae") {
        (void)models::VAE<Scalar>::load(scratch_path());
    } else if (kind == "embedkit.autoencoder") {
        (void)models::Autoencoder<Scalar>::load(scratch_path());
    } else if (kind == "embedkit.siamese") {
        (void)models::Siamese<Scalar>::load(scratch_path());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned mode = data[0];
    std::vector<unsigned char> file(data + 1, data + size);
    if ((mode & 2) != 0 && file.size() >= 4) {
        const std::size_t body = file.size() - 4;
        const std::uint32_t crc = embedkit::detail::crc32(0u, file.data(), body);
        for (int b = 0; b < 4; ++b)
            file[body + std::size_t(b)] = static_cast<unsigned char>(crc >> (8 * b));
    }
    const auto check =
        (mode & 1) != 0 ? embedkit::io::ChecksumCheck::verify : embedkit::io::ChecksumCheck::skip;
    embedkit::io::ModelFile m;
    try {
        m = embedkit::io::parse_model_file(file.data(), file.size(), "fuzz.ekm", check);
    } catch (const embedkit::Error&) {
        return 0;  // a rejected file: the expected outcome for malformed input
    }

    // One canonical layout: the contents serialise to the same bytes (the CRC aside when it
    // was not verified), and parse back to the same contents.
    const std::vector<unsigned char> again = embedkit::io::serialize_model_file(m);
    FUZZ_CHECK(target, again.size() == file.size());
    FUZZ_CHECK(target, std::memcmp(again.data(), file.data(), file.size() - 4) == 0);
    const bool crc_ok =
        std::memcmp(again.data() + file.size() - 4, file.data() + file.size() - 4, 4) == 0;
    if (check == embedkit::io::ChecksumCheck::verify) FUZZ_CHECK(target, crc_ok);
    FUZZ_CHECK(target, embedkit::io::parse_model_file(again.data(), again.size(), "again") == m);

    for (const embedkit::io::Tensor& t : m.tensors) {
        read_as<float>(m, t);
        read_as<double>(m, t);
        read_as<std::int32_t>(m, t);
        read_as<std::int64_t>(m, t);
        read_as<std::uint8_t>(m, t);
        read_as<std::uint64_t>(m, t);
    }

    if (crc_ok && (m.kind == "embedkit.vae" || m.kind == "embedkit.autoencoder" ||
                   m.kind == "embedkit.siamese")) {
        write_scratch(file.data(), file.size());
        try {
            if ((mode & 4) != 0)
                load_model<double>(m.kind);
            else
                load_model<float>(m.kind);
        } catch (const embedkit::Error&) {
            // Wrong architecture, missing tensors, another scalar type: expected.
        }
    }
    return 0;
}
