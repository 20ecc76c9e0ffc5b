// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/fuzz_<target>/): small valid
// files made by embedkit's own writers, and near-valid variants (truncated, wrong magic,
// oversized header fields, corrupt gzip, ...). Each file starts with the target's mode byte
// (see the fuzz_*.cpp headers), except for fuzz_json and fuzz_safetensors, which take the
// whole input as the text or file. Usage: fuzz_make_seeds CORPUS_FOLDER  (regenerates in place;
// the output is deterministic).
#include <embedkit/io/detail/crc32.hpp>
#include <embedkit/io/model_file.hpp>
#include <embedkit/core/compact.hpp>
#include <embedkit/io/compact_npy.hpp>
#include <embedkit/io/npy.hpp>
#include <embedkit/io/safetensors.hpp>
#include <embedkit/models/autoencoder.hpp>
#include <embedkit/models/siamese.hpp>
#include <embedkit/models/vae.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

namespace {

fs::path root;

void put(const std::string& target, const std::string& name, unsigned mode, const Bytes& body) {
    const fs::path dir = root / ("fuzz_" + target);
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    const char m = static_cast<char>(mode);
    out.write(&m, 1);
    out.write(reinterpret_cast<const char*>(body.data()),
              static_cast<std::streamsize>(body.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

// A seed without a mode byte (fuzz_json, fuzz_safetensors).
void put_raw(const std::string& target, const std::string& name, const std::string& body) {
    const fs::path dir = root / ("fuzz_" + target);
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}

Bytes slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes gzip(const Bytes& raw) {
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("zlib");
    Bytes out(deflateBound(&z, static_cast<uLong>(raw.size())) + 64);
    z.next_in = const_cast<unsigned char*>(raw.data());
    z.avail_in = static_cast<uInt>(raw.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("zlib deflate");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

void be32(Bytes& b, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

Bytes idx(std::uint32_t magic, std::vector<std::uint32_t> dims, std::size_t payload) {
    Bytes b;
    be32(b, magic);
    for (auto d : dims) be32(b, d);
    for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<unsigned char>(i * 37 % 256));
    return b;
}

Bytes cut(Bytes b, std::size_t n) {
    b.resize(n);
    return b;
}

void idx_seeds() {
    // mode bit 0: labels, bit 1: gzip.
    const Bytes images = idx(0x803, {3, 4, 5}, 60), labels = idx(0x801, {6}, 6);
    put("idx", "images_3x4x5.raw", 0, images);
    put("idx", "labels_6.raw", 1, labels);
    put("idx", "images_3x4x5.gz", 2, gzip(images));
    put("idx", "labels_6.gz", 3, gzip(labels));
    put("idx", "images_truncated_payload.raw", 0, cut(images, 50));
    put("idx", "images_truncated_header.raw", 0, cut(images, 10));
    put("idx", "images_trailing_byte.raw", 0, [&] {
        Bytes b = images;
        b.push_back(7);
        return b;
    }());
    put("idx", "images_label_magic.raw", 0, labels);
    put("idx", "images_zero_rows.raw", 0, idx(0x803, {2, 0, 5}, 0));
    put("idx", "images_huge_count.raw", 0, idx(0x803, {0xFFFFFFFFu, 28, 28}, 16));
    put("idx", "images_huge_image.raw", 0, idx(0x803, {1, 0x10000u, 0x10000u}, 16));
    put("idx", "labels_gzip_announces_2g.gz", 3, gzip(idx(0x801, {0x7FFFFFFFu}, 4096)));
    put("idx", "images_gz_truncated.gz", 2, [&] {
        Bytes g = gzip(images);
        g.resize(g.size() - 9);
        return g;
    }());
    put("idx", "images_gz_two_members.gz", 2, [&] {
        Bytes a = gzip(cut(images, 30)), b = gzip(Bytes(images.begin() + 30, images.end()));
        a.insert(a.end(), b.begin(), b.end());
        return a;
    }());
    put("idx", "images_gz_garbage_after.gz", 2, [&] {
        Bytes g = gzip(images);
        g.push_back(0);
        g.push_back(1);
        return g;
    }());
    put("idx", "images_gz_too_long.gz", 2, gzip([&] {
            Bytes b = images;
            b.resize(b.size() + 100, 0);
            return b;
        }()));
    put("idx", "images_gz_corrupt.gz", 2, [&] {
        Bytes g = gzip(images);
        g[g.size() / 2] ^= 0x55;
        return g;
    }());
}

template <class T>
Bytes npy_of(const std::vector<std::uint64_t>& shape, const std::vector<T>& v,
             const fs::path& tmp) {
    embedkit::io::write_npy<T>(tmp.string(), v.data(), shape);
    return slurp(tmp.string());
}

Bytes npy_raw(const std::string& dict, std::size_t data_bytes, unsigned major = 1) {
    Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
    const std::size_t pre = major == 1 ? 10 : 12;
    std::string h = dict;
    while ((pre + h.size() + 1) % 64 != 0) h.push_back(' ');
    h.push_back('\n');
    for (std::size_t i = 0; i < pre - 8; ++i)
        b.push_back(static_cast<unsigned char>(h.size() >> (8 * i)));
    b.insert(b.end(), h.begin(), h.end());
    for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(static_cast<unsigned char>(i * 11));
    return b;
}

Bytes f4_2x2(const fs::path& tmp) {
    return npy_of<float>({2, 2}, {0.5f, -1e-40f, 3e38f, -0.0f}, tmp);
}

void npy_seeds(const fs::path& tmp) {
    // mode % 11: 0 f4, 1 f8, 2 i4, 3 i8, 4 u1 as a matrix; 5 f4, 6 f8 as map_npy checks;
    // 7 float, 8 double, 9 int32, 10 uint8 with NpyConvert::allow.
    const Bytes f4 = npy_of<float>({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1.5f}, tmp);
    put("npy", "f4_3x4.npy", 0, f4);
    put("npy", "f8_5.npy", 1, npy_of<double>({5}, {1, 2, 3, 4, 5}, tmp));
    put("npy", "i4_2x2.npy", 2, npy_of<std::int32_t>({2, 2}, {1, -2, 3, -4}, tmp));
    put("npy", "i8_3.npy", 3, npy_of<std::int64_t>({3}, {1, 2, 3}, tmp));
    put("npy", "u1_2x3.npy", 4, npy_of<std::uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6}, tmp));
    put("npy", "f4_0x5.npy", 0, npy_of<float>({0, 5}, {}, tmp));
    put("npy", "f4_3x4_map.npy", 5, f4);
    put("npy", "f8_2x2_map.npy", 6, npy_of<double>({2, 2}, {1, 2, 3, 4}, tmp));
    put("npy", "f4_3d.npy", 0, npy_of<float>({1, 2, 2}, {1, 2, 3, 4}, tmp));
    put("npy", "f4_v2_header.npy", 0,
        npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 16, 2));
    put("npy", "f4_fortran.npy", 0,
        npy_raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16));
    put("npy", "f4_big_endian.npy", 0,
        npy_raw("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8));
    put("npy", "f4_huge_zero_shape_map.npy", 5,
        npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551615, 0), }",
                0));
    put("npy", "f4_overflow_shape.npy", 0,
        npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                0));
    put("npy", "f4_truncated_data.npy", 0, cut(f4, f4.size() - 3));
    put("npy", "f4_truncated_header.npy", 0, cut(f4, 40));
    put("npy", "f4_trailing_bytes.npy", 0, [&] {
        Bytes b = f4;
        b.push_back(0);
        return b;
    }());
    put("npy", "f4_dtype_mismatch.npy", 1, f4);
    put("npy", "f4_double_quotes_no_space.npy", 0,
        npy_raw("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(1,1)}", 4));
    put("npy", "f4_repeated_key.npy", 0,
        npy_raw("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4));
    // mode 7..10: NpyConvert::allow into float, double, int32, uint8.
    std::vector<std::uint16_t> halves;  // zeros, subnormals, normals, max, inf, NaNs, both signs
    for (const unsigned h :
         {0x0000u, 0x0001u, 0x03FFu, 0x0400u, 0x3C00u, 0x3555u, 0x7BFFu, 0x7C00u, 0x7C01u, 0x7E00u})
        for (const unsigned sign : {0x0000u, 0x8000u})
            halves.push_back(static_cast<std::uint16_t>(h | sign));
    Bytes f2 = npy_raw("{'descr': '<f2', 'fortran_order': False, 'shape': (4, 5), }", 0);
    for (const std::uint16_t h : halves) {
        f2.push_back(static_cast<unsigned char>(h & 0xFFu));
        f2.push_back(static_cast<unsigned char>(h >> 8));
    }
    put("npy", "f2_4x5_as_float.npy", 7, f2);
    put("npy", "f2_4x5_as_double.npy", 8, f2);
    put("npy", "f2_4x5_no_convert.npy", 0, f2);
    const double fmax = double(std::numeric_limits<float>::max());
    put("npy", "f8_2x3_as_float.npy", 7,
        npy_of<double>({2, 3},
                       {1.0 / 3.0, -fmax, 1e-50, std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::quiet_NaN(), 16777217.0},
                       tmp));
    put("npy", "f8_overflow_as_float.npy", 7, npy_of<double>({3}, {1.0, 1e39, 2.0}, tmp));
    put("npy", "f4_2x2_as_double.npy", 8, f4_2x2(tmp));
    put("npy", "i8_as_i4.npy", 9,
        npy_of<std::int64_t>({2, 2}, {-1, 2147483647, -2147483648LL, 5}, tmp));
    put("npy", "i8_overflow_as_i4.npy", 9, npy_of<std::int64_t>({2}, {1, 1LL << 40}, tmp));
    put("npy", "u2_as_u1.npy", 10,
        npy_raw("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", 6));
    put("npy", "i1_negative_as_u1.npy", 10, npy_of<std::int8_t>({2}, {3, -3}, tmp));
    put("npy", "i4_as_float_refused.npy", 7, npy_of<std::int32_t>({2}, {1, 2}, tmp));
}

void model_seeds(const fs::path& tmp) {
    // mode bit 0: verify the checksum, bit 1: repair the CRC first, bit 2: load as double.
    namespace io = embedkit::io;
    io::ModelFile m("fuzz.sample");
    m.set_attribute("note", "seed");
    m.set_attribute("empty", "");
    m.add("f32", std::vector<float>{1.5f, -2, 3});
    m.add("f64", std::vector<double>{0.25});
    m.add("i32", std::vector<std::int32_t>{-1, 2});
    m.add("i64", std::vector<std::int64_t>{7});
    m.add("u8", std::vector<std::uint8_t>{1, 2, 3, 4, 5});
    m.add("u64", std::vector<std::uint64_t>{9});
    m.add_scalar("scalar", 3.0);
    const float mat[6] = {1, 2, 3, 4, 5, 6};
    m.add("matrix", mat, {2, 3});
    m.add("empty", std::vector<float>{});
    const Bytes file = io::serialize_model_file(m);
    put("model_file", "all_dtypes.ekm", 1, file);
    put("model_file", "all_dtypes_skip_crc.ekm", 0, file);
    put("model_file", "all_dtypes_bad_crc.ekm", 1, [&] {
        Bytes b = file;
        b.back() ^= 1;
        return b;
    }());
    put("model_file", "all_dtypes_truncated.ekm", 1, cut(file, file.size() - 70));
    put("model_file", "all_dtypes_header_only.ekm", 0, cut(file, 48));
    put("model_file", "all_dtypes_version_2.ekm", 2, [&] {
        Bytes b = file;
        b[8] = 2;
        return b;
    }());
    put("model_file", "all_dtypes_huge_tensor_count.ekm", 2, [&] {
        Bytes b = file;
        b[43] = 0x7F;
        return b;
    }());
    put("model_file", "all_dtypes_bad_dtype.ekm", 2, [&] {
        Bytes b = file;  // the first tensor's dtype byte follows its 4-byte length and name
        const std::string name = "f32";
        for (std::size_t i = 48; i + 7 < b.size(); ++i)
            if (std::equal(name.begin(), name.end(), b.begin() + long(i) + 4) && b[i] == 3) {
                b[i + 7] = 9;
                break;
            }
        return b;
    }());
    put("model_file", "minimal.ekm", 1, io::serialize_model_file(io::ModelFile("k")));

    embedkit::Rng rng(1);
    embedkit::models::VAEOptions vo;
    vo.input = 4;
    vo.hidden = {3};
    vo.latent = 2;
    embedkit::models::VAE<float>(vo, rng).save(tmp.string());
    const Bytes vae = slurp(tmp.string());
    put("model_file", "vae_4_3_2.ekm", 3, vae);
    embedkit::models::VAE<double>(vo, rng).save(tmp.string());
    put("model_file", "vae_4_3_2_double.ekm", 7, slurp(tmp.string()));
    put("model_file", "vae_as_double.ekm", 7, vae);
    embedkit::models::AutoencoderOptions ao;
    ao.input = 5;
    ao.hidden = {3};
    ao.latent = 2;
    embedkit::models::Autoencoder<float>(ao, rng).save(tmp.string());
    put("model_file", "autoencoder_5_3_2.ekm", 3, slurp(tmp.string()));
    ao.loss = embedkit::models::Reconstruction::mse;
    embedkit::models::Autoencoder<float>(ao, rng).save(tmp.string());
    put("model_file", "autoencoder_mse.ekm", 3, slurp(tmp.string()));
    embedkit::models::SiameseOptions so;
    so.input = 4;
    so.layers = {3, 2};
    embedkit::models::Siamese<float>(so, rng).save(tmp.string());
    const Bytes siamese = slurp(tmp.string());
    put("model_file", "siamese_4_3_2.ekm", 3, siamese);
    // A Siamese file that announces a far larger network than its tensors hold.
    io::ModelFile big = io::parse_model_file(siamese.data(), siamese.size(), "seed");
    for (auto& kv : big.attributes)
        if (kv.first == "layers") kv.second = "999999999,999999999";
    put("model_file", "siamese_huge_layers.ekm", 3, io::serialize_model_file(big));
}

// fuzz_distance input: mode, level, metric, dim (u16), [set dim (u16)], rows q (u16),
// rows set (u16), k + 4 (u16), values.
Bytes distance(unsigned level, unsigned metric, unsigned dim, unsigned nq, unsigned ns, int k,
               const Bytes& values, int other_dim = -1) {
    Bytes b = {static_cast<unsigned char>(level), static_cast<unsigned char>(metric)};
    const auto u16 = [&b](unsigned v) {
        b.push_back(static_cast<unsigned char>(v & 0xFF));
        b.push_back(static_cast<unsigned char>(v >> 8));
    };
    u16(dim);
    if (other_dim >= 0) u16(static_cast<unsigned>(other_dim));
    u16(nq);
    u16(ns);
    u16(static_cast<unsigned>(k + 4));
    b.insert(b.end(), values.begin(), values.end());
    return b;
}

Bytes floats(std::initializer_list<float> v) {
    Bytes b;
    for (float f : v) {
        unsigned char c[4];
        std::memcpy(c, &f, 4);
        b.insert(b.end(), c, c + 4);
    }
    return b;
}

void distance_seeds() {
    // mode bit 0: double, bit 1: small integers, bit 2: exclude_self, bit 3: other set dimension,
    // bit 4: dimension up to 300, bits 5 and 6: up to 64 rows.
    const char* names[5] = {"l1", "l2", "l2_squared", "dot", "cosine"};
    const Bytes mixed =
        floats({1, -2, 0.5f, 3, 0, 0, -1, 4, 2.5f, 1e-3f, 7, -7, 0.125f, 9, -0.5f, 1});
    const Bytes special =
        floats({std::numeric_limits<float>::quiet_NaN(), 1, std::numeric_limits<float>::infinity(),
                -0.0f, 1e-40f, 3e38f, -3e38f, 2, 0, 0, 0, 0, 1, 1, 1, 1});
    Bytes small;
    for (int i = 0; i < 64; ++i) small.push_back(static_cast<unsigned char>((i * 53) % 97));
    for (unsigned m = 0; m < 5; ++m) {
        const std::string n = names[m];
        put("distance", n + "_float_5x8_d7_k3.bin", 0, distance(1, m, 7, 5, 8, 3, mixed));
        put("distance", n + "_double_10x12_d17_k4_gemm.bin", 1,
            distance(2, m, 17, 10, 12, 4, mixed));
        put("distance", n + "_ties_9x9_d3_exclude_self.bin", 2 | 4,
            distance(0, m, 3, 9, 9, 5, small));
        put("distance", n + "_nan_inf_4x6_d4.bin", 0, distance(1, m, 4, 4, 6, 10, special));
    }
    put("distance", "l2_k_zero.bin", 0, distance(0, 1, 4, 2, 3, 0, mixed));
    put("distance", "l2_k_negative.bin", 0, distance(0, 1, 4, 2, 3, -3, mixed));
    put("distance", "l2_empty_set.bin", 0, distance(0, 1, 4, 2, 0, 1, mixed));
    put("distance", "l2_dim_mismatch.bin", 8, distance(0, 1, 4, 2, 3, 1, mixed, 5));
    put("distance", "dot_exclude_self_one_row.bin", 4, distance(0, 3, 4, 1, 1, 1, mixed));
    put("distance", "cosine_dim_zero.bin", 0, distance(0, 4, 0, 3, 3, 2, mixed));
    put("distance", "l2_squared_long_rows_d300.bin", 1 | 16 | 96,
        distance(2, 2, 300, 9, 20, 7, mixed));
    put("distance", "l1_64x64_d33_k80.bin", 2 | 16 | 96, distance(1, 0, 33, 64, 64, 80, small));
}

// fuzz_tokenizer input: mode (options), max_length byte, text.
void tokenizer_seeds() {
    const auto text = [](unsigned max_length, const std::string& s) {
        Bytes b = {static_cast<unsigned char>(max_length)};
        b.insert(b.end(), s.begin(), s.end());
        return b;
    };
    put("tokenizer", "empty.bin", 0, text(0, ""));
    put("tokenizer", "sentence.bin", 0, text(0, "Hello, world! unaffable [SEP] a[CLS]b 3.14"));
    put("tokenizer", "unicode.bin", 0,
        text(0,
             "\xC4\xB0stanbul \xCE\xA3\xCE\x91\xCE\xA3 Stra\xC3\x9F"
             "e \xE4\xB8\xAD\xE6\x96\x87 "
             "\xED\x95\x9C\xEA\xB5\xAD \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD "
             "\xEF\xBC\xA1 e\xCC\x81 d\xD9\x8D\xF0\x91\x87\x80 \xE2\x80\xA8"));
    static const char controls[] =
        "a\0b\x7F"
        "c\xEF\xBF\xBD"
        "d\xE2\x80\x8B"
        "e\xEE\x80\x80\t\r\n";
    put("tokenizer", "controls.bin", 0, text(0, std::string(controls, sizeof controls - 1)));
    put("tokenizer", "truncated_8.bin", 0, text(7, "one two three four five six seven eight nine"));
    put("tokenizer", "long_word.bin", 0,
        text(0, std::string(101, 'a') + " " + std::string(100, 'b')));
    put("tokenizer", "cased_keep_accents.bin", 1 | 4, text(0, "Caf\xC3\xA9 \xC4\xB0"));
    put("tokenizer", "no_chinese_no_clean.bin", 8 | 16, text(0, "\xE4\xB8\xAD\xE6\x96\x87\x01x"));
    put("tokenizer", "split_special.bin", 32, text(3, "[CLS] [MASK]"));
    put("tokenizer", "tiny_vocab.bin", 64, text(0, "ab aab \xC4\xB0 \xED\x95\x9C ,!"));
    put("tokenizer", "invalid_overlong.bin", 0, text(0, "ok \xE0\x80\xAF"));
    put("tokenizer", "invalid_surrogate.bin", 0, text(0, "\xED\xA0\x80"));
    put("tokenizer", "invalid_truncated.bin", 0, text(0, "abc\xF0\x9F\x98"));
}

void json_seeds() {
    put_raw("json", "config.json",
            "{\n  \"architectures\": [\"BertModel\"],\n  \"hidden_size\": 384,\n"
            "  \"layer_norm_eps\": 1e-12,\n  \"hidden_dropout_prob\": 0.1,\n"
            "  \"use_cache\": true,\n  \"gradient_checkpointing\": false,\n"
            "  \"pad_token_id\": 0,\n  \"position_embedding_type\": \"absolute\",\n"
            "  \"torch_dtype\": null\n}\n");
    std::string vocab = "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{";
    const char* words[] = {"[PAD]",
                           "[UNK]",
                           "[CLS]",
                           "[SEP]",
                           "the",
                           "##s",
                           "\\u00e9t\\u00e9",
                           "\xC3\xA9t\xC3\xA9",
                           "\\\"",
                           "a",
                           "b",
                           "c",
                           "d",
                           "e",
                           "f",
                           "g"};
    for (int i = 0; i < 16; ++i)
        vocab += std::string(i ? "," : "") + "\"" + words[i] + "\":" + std::to_string(i);
    vocab += "}},\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"special\":true}]}";
    put_raw("json", "tokenizer_like.json", vocab);
    put_raw("json", "escapes.json",
            "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0000\\u001F\\u00e9\\u20AC\", "
            "\"\\uD83D\\uDE00\", \"\\udbff\\udfff\", \"\xF0\x9F\x98\x80\xE2\x82\xAC\"]");
    put_raw(
        "json", "numbers.json",
        "[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, "
        "18446744073709551616, 0.5, -2.5e-3, 1E+2, 1e308, 4.9e-324, 1e-400, 123456789.123456789]");
    put_raw("json", "nested_128.json", std::string(128, '[') + std::string(128, ']'));
    put_raw("json", "nested_129.json", std::string(129, '[') + std::string(129, ']'));
    put_raw("json", "duplicate_key.json", "{\"a\": 1, \"b\": {\"a\": 2}, \"a\": 3}");
    std::string big = "{";
    for (int i = 0; i < 20; ++i) big += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":[]";
    put_raw("json", "object_20_members.json", big + "}");
    put_raw("json", "object_21_members_duplicate.json", big + ",\"k7\":{}}");
    put_raw("json", "lone_surrogate.json", "\"\\uD800\\u0041\"");
    put_raw("json", "invalid_utf8.json", "[\"\xED\xA0\x80\", \"\xC0\xAF\"]");
    put_raw("json", "leading_zero.json", "[01]");
    put_raw("json", "trailing.json", "{\"a\": [true, false, null]} x");
    put_raw("json", "control_char.json", "\"a\tb\"");
    put_raw("json", "overflow.json", "[1e999]");
}

void safetensors_seeds(const fs::path& tmp) {
    namespace io = embedkit::io;
    const auto file = [&](const std::vector<io::SafetensorsInput>& t,
                          const std::map<std::string, std::string>& meta) {
        io::write_safetensors(tmp.string(), t, meta);
        const Bytes b = slurp(tmp.string());
        return std::string(b.begin(), b.end());
    };
    const auto raw = [](const std::string& header, std::size_t data) {
        std::string out(8, '\0');
        for (int i = 0; i < 8; ++i)
            out[static_cast<std::size_t>(i)] =
                static_cast<char>((std::uint64_t(header.size()) >> (8 * i)) & 0xFFu);
        out += header;
        for (std::size_t i = 0; i < data; ++i) out.push_back(static_cast<char>(i * 29 % 251));
        return out;
    };
    const float f[6] = {0.5f, -1e-40f, 3e38f, -0.0f, 1.0f, 2.0f};
    const std::uint16_t h[4] = {0x0001, 0x7C00, 0x7E01, 0x3C00};
    const std::int64_t ids[3] = {0, 1, -1};
    const double d[2] = {1.5, -2.0};
    const std::string all =
        file({io::safetensors_f32("w", {2, 3}, f), io::safetensors_f32("b", {6}, f),
              io::safetensors_f32("s", {}, f), io::safetensors_f32("e", {0, 3}, f),
              io::safetensors_f16_bits("h", {2, 2}, h), io::safetensors_bf16_bits("bf", {4}, h),
              io::safetensors_i64("position_ids", {1, 3}, ids), io::safetensors_f64("d", {2}, d)},
             {{"format", "pt"}});
    put_raw("safetensors", "all_dtypes.safetensors", all);
    put_raw("safetensors", "empty_table.safetensors", file({}, {}));
    put_raw("safetensors", "truncated_data.safetensors", all.substr(0, all.size() - 5));
    put_raw("safetensors", "truncated_header.safetensors", all.substr(0, 40));
    std::string past = all;
    past[1] = '\x7f';
    put_raw("safetensors", "header_length_past_eof.safetensors", past);
    const auto entry = [](const std::string& name, const std::string& dtype,
                          const std::string& shape, const std::string& offsets) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
               ",\"data_offsets\":" + offsets + "}";
    };
    put_raw("safetensors", "overlap.safetensors",
            raw("{" + entry("a", "U8", "[12]", "[0,12]") + "," +
                    entry("b", "U8", "[12]", "[8,20]") + "}",
                24));
    put_raw("safetensors", "shape_size_mismatch.safetensors",
            raw("{" + entry("x", "F32", "[2,3]", "[0,20]") + "}", 24));
    put_raw("safetensors", "offsets_past_end.safetensors",
            raw("{" + entry("x", "F32", "[7]", "[0,28]") + "}", 24));
    put_raw("safetensors", "unknown_dtype.safetensors",
            raw("{" + entry("x", "F8_E4M3", "[4]", "[0,4]") + "}", 8));
    put_raw("safetensors", "shape_overflow.safetensors",
            raw("{" + entry("x", "F32", "[4294967296,4294967296]", "[0,0]") + "}", 0));
    put_raw("safetensors", "huge_zero_shape.safetensors",
            raw("{" + entry("x", "F32", "[9223372036854775807,0]", "[0,0]") + "," +
                    entry("y", "BF16", "[2,2]", "[0,8]") + "}  ",
                8));
    put_raw("safetensors", "bad_metadata.safetensors",
            raw("{\"__metadata__\":{\"format\":1}," + entry("x", "U8", "[1]", "[0,1]") + "}", 1));
    put_raw("safetensors", "header_not_object.safetensors", raw("[1, 2]", 0));
    put_raw("safetensors", "oversized_header_length.safetensors",
            std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10));
}

// fuzz_compact: mode byte, 2-byte length of the rows file, the rows file, then the scales and
// norms files (halves of the rest). Seeds: an int8 set with per-row scales and norms, f16
// with norms, binary with a dimension of 12 (mode bits 1-2 = 1), each read and mapped.
Bytes compact_input(const Bytes& rows, const Bytes& scales, const Bytes& norms) {
    Bytes out(2 + rows.size());
    out[0] = static_cast<unsigned char>(rows.size() & 0xFF);
    out[1] = static_cast<unsigned char>(rows.size() >> 8);
    std::copy(rows.begin(), rows.end(), out.begin() + 2);
    // Equal halves: pad the shorter companion (its own bytes end the .npy, so the padding
    // makes that file invalid only in the seeds that are meant to be).
    Bytes a = scales, b = norms;
    while (a.size() < b.size()) a.push_back(0);
    while (b.size() < a.size()) b.push_back(0);
    out.insert(out.end(), a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

void compact_seeds(const fs::path& tmp) {
    embedkit::RowMatrixF x(3, 12);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float((i * 7) % 11) - 5.0f;
    const std::string p = tmp.string() + ".npy";
    for (const auto st :
         {embedkit::Storage::int8, embedkit::Storage::f16, embedkit::Storage::binary}) {
        embedkit::io::write_compact(p, embedkit::encode(x, st));
        const Bytes rows = slurp(p);
        const std::string sp = embedkit::io::compact_companion(p, "scales");
        const std::string np = embedkit::io::compact_companion(p, "norms");
        const Bytes scales = fs::exists(sp) ? slurp(sp) : Bytes{};
        const Bytes norms = fs::exists(np) ? slurp(np) : Bytes{};
        const std::string name(embedkit::storage_name(st));
        if (st == embedkit::Storage::int8) {
            // Equal-sized companions: both valid. Mode 8 | 16 (scales and norms), read / map.
            put("compact", "int8_read.bin", 8 | 16, compact_input(rows, scales, norms));
            put("compact", "int8_map.bin", 1 | 8 | 16, compact_input(rows, scales, norms));
            put("compact", "int8_no_scales.bin", 0, compact_input(rows, {}, {}));
        } else if (st == embedkit::Storage::f16) {
            put("compact", "f16_norms.bin", 16, compact_input(rows, norms, norms));
            put("compact", "f16_alone.bin", 1, compact_input(rows, {}, {}));
        } else {
            put("compact", "binary_12.bin", 2, compact_input(rows, {}, {}));
            put("compact", "binary_20.bin", 6, compact_input(rows, {}, {}));
        }
        fs::remove(sp);
        fs::remove(np);
    }
    fs::remove(p);
}

}  // namespace

// fuzz_word2vec: mode byte 0 text, 1 binary.
void word2vec_seeds() {
    const auto text = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
    put("word2vec", "text_word2vec_c.txt", 0,
        text("2 3\nthe 0.500000 -1.000000 0.000000 \nof 1.250000 2.000000 -0.000000 \n"));
    put("word2vec", "text_gensim.txt", 0, text("2 2\nx 0.125 -3e-05\ny 1 2\n"));
    put("word2vec", "text_short_row.txt", 0, text("1 3\na 1 2\n"));
    put("word2vec", "text_duplicate.txt", 0, text("2 1\na 1\na 2\n"));
    put("word2vec", "text_nan_inf.txt", 0, text("2 2\na nan inf\nb -inf 1e30\n"));
    Bytes bin = text("2 2\nab ");
    const float v[4] = {1.5f, -2.0f, 0.25f, 3.0f};
    const auto* raw = reinterpret_cast<const unsigned char*>(v);
    bin.insert(bin.end(), raw, raw + 8);
    bin.push_back('\n');
    for (const char c : std::string("cd ")) bin.push_back(static_cast<unsigned char>(c));
    bin.insert(bin.end(), raw + 8, raw + 16);
    bin.push_back('\n');
    put("word2vec", "binary.bin", 1, bin);
    Bytes truncated(bin.begin(), bin.end() - 3);
    put("word2vec", "binary_truncated.bin", 1, truncated);
    put("word2vec", "binary_huge_header.bin", 1, text("100000000 300\n"));
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_FOLDER\n", argv[0]);
        return 2;
    }
    root = argv[1];
    const fs::path tmp = fs::temp_directory_path() / "embedkit_fuzz_make_seeds.tmp";
    idx_seeds();
    npy_seeds(tmp);
    model_seeds(tmp);
    distance_seeds();
    tokenizer_seeds();
    json_seeds();
    safetensors_seeds(tmp);
    compact_seeds(tmp);
    word2vec_seeds();
    fs::remove(tmp);
    std::printf("seeds written under %s\n", root.string().c_str());
    return 0;
}
