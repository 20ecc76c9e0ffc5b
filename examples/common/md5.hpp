// MD5 message digest (RFC 1321), used only to verify downloaded files against their published
// sums. MD5 is not collision resistant; here it guards against truncated or corrupted
// transfers, not against an attacker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace example::detail {

/// Incremental MD5: update() any number of times, then digest() once.
class Md5 {
public:
    Md5() noexcept = default;

    /// Feeds n bytes.
    void update(const unsigned char* data, std::size_t n) noexcept {
        length_ += static_cast<std::uint64_t>(n);
        if (fill_ > 0) {
            const std::size_t take = n < 64 - fill_ ? n : 64 - fill_;
            for (std::size_t i = 0; i < take; ++i) block_[fill_ + i] = data[i];
            fill_ += take;
            data += take;
            n -= take;
            if (fill_ < 64) return;
            transform(block_.data());
            fill_ = 0;
        }
        while (n >= 64) {
            transform(data);
            data += 64;
            n -= 64;
        }
        for (std::size_t i = 0; i < n; ++i) block_[i] = data[i];
        fill_ = n;
    }

    /// Finishes the message (RFC 1321 §3.1-3.2: a 1 bit, zeros up to 56 mod 64 bytes, then
    /// the bit length as a little-endian 64-bit number) and returns the 16-byte digest.
    std::array<unsigned char, 16> digest() noexcept {
        const std::uint64_t bits = length_ * 8u;
        static const unsigned char pad[64] = {0x80};
        const std::size_t pad_len = fill_ < 56 ? 56 - fill_ : 120 - fill_;
        update(pad, pad_len);
        unsigned char len_bytes[8];
        for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(bits >> (8 * i));
        update(len_bytes, 8);
        std::array<unsigned char, 16> out{};
        for (int w = 0; w < 4; ++w)
            for (int b = 0; b < 4; ++b)
                out[static_cast<std::size_t>(4 * w + b)] =
                    static_cast<unsigned char>(state_[static_cast<std::size_t>(w)] >> (8 * b));
        return out;
    }

    /// digest() as 32 lowercase hexadecimal digits (the form md5sum prints).
    std::string hex_digest() {
        static const char digits[] = "0123456789abcdef";
        const std::array<unsigned char, 16> d = digest();
        std::string s(32, '0');
        for (std::size_t i = 0; i < 16; ++i) {
            s[2 * i] = digits[d[i] >> 4];
            s[2 * i + 1] = digits[d[i] & 0x0F];
        }
        return s;
    }

private:
    static std::uint32_t rotl(std::uint32_t x, unsigned s) noexcept {
        return (x << s) | (x >> (32u - s));
    }

    // One 64-byte block (RFC 1321 §3.4): four rounds of 16 steps; round r uses the auxiliary
    // function F, G, H or I, message word g(r, i) and the shift s[r][i % 4].
    void transform(const unsigned char* p) noexcept {
        // K[i] = floor(|sin(i + 1)| * 2^32), the table T of RFC 1321.
        static constexpr std::uint32_t k[64] = {
            0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu, 0x4787c62au,
            0xa8304613u, 0xfd469501u, 0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu,
            0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u, 0xf61e2562u, 0xc040b340u,
            0x265e5a51u, 0xe9b6c7aau, 0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
            0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu, 0xa9e3e905u, 0xfcefa3f8u,
            0x676f02d9u, 0x8d2a4c8au, 0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu,
            0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u, 0x289b7ec6u, 0xeaa127fau,
            0xd4ef3085u, 0x04881d05u, 0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
            0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u,
            0xffeff47du, 0x85845dd1u, 0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u,
            0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
        };
        static constexpr unsigned shift[4][4] = {
            {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
        std::uint32_t m[16];
        for (std::size_t i = 0; i < 16; ++i)  // words are little-endian
            m[i] = std::uint32_t(p[4 * i]) | (std::uint32_t(p[4 * i + 1]) << 8) |
                   (std::uint32_t(p[4 * i + 2]) << 16) | (std::uint32_t(p[4 * i + 3]) << 24);
        std::uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
        for (unsigned i = 0; i < 64; ++i) {
            const unsigned round = i / 16;
            std::uint32_t f;
            unsigned g;
            switch (round) {
                case 0:
                    f = (b & c) | (~b & d);
                    g = i;
                    break;
                case 1:
                    f = (b & d) | (c & ~d);
                    g = (5 * i + 1) % 16;
                    break;
                case 2:
                    f = b ^ c ^ d;
                    g = (3 * i + 5) % 16;
                    break;
                default:
                    f = c ^ (b | ~d);
                    g = (7 * i) % 16;
                    break;
            }
            const std::uint32_t next = b + rotl(a + f + k[i] + m[g], shift[round][i % 4]);
            a = d;
            d = c;
            c = b;
            b = next;
        }
        state_[0] += a;
        state_[1] += b;
        state_[2] += c;
        state_[3] += d;
    }

    std::array<std::uint32_t, 4> state_ = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    std::array<unsigned char, 64> block_{};
    std::size_t fill_ = 0;
    std::uint64_t length_ = 0;
};

}  // namespace example::detail
