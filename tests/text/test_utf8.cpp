// UTF-8 decoding (text/detail/utf8.hpp): every well-formed form round-trips; every kind of
// ill-formed sequence is found at the right byte offset.
#include <embedkit/text/detail/utf8.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

namespace {

using embedkit::text::detail::append_utf8;
using embedkit::text::detail::decode_utf8;
using embedkit::text::detail::find_utf8_fault;
using embedkit::text::detail::Utf8Fault;

Utf8Fault fault_of(const std::string& s, std::size_t& at) {
    at = 999;
    return find_utf8_fault(s, at);
}

}  // namespace

TEST_CASE("utf8: every code point outside the surrogates encodes and decodes to itself") {
    std::string s;
    for (char32_t c = 0; c <= 0x10FFFF; ++c) {
        if (c >= 0xD800 && c <= 0xDFFF) continue;
        s.clear();
        append_utf8(s, c);
        const std::size_t want = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        REQUIRE(s.size() == want);
        char32_t got = 0;
        std::size_t len = 0;
        REQUIRE(decode_utf8(s, 0, got, len) == Utf8Fault::none);
        REQUIRE(got == c);
        REQUIRE(len == want);
    }
}

TEST_CASE("utf8: ill-formed sequences are found with their byte offset") {
    std::size_t at = 0;
    CHECK(fault_of("plain ascii", at) == Utf8Fault::none);
    CHECK(fault_of("", at) == Utf8Fault::none);
    CHECK(fault_of("\xC3\xA9t\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80", at) == Utf8Fault::none);
    CHECK(fault_of("ab\x80", at) == Utf8Fault::stray_continuation);
    CHECK(at == 2);
    CHECK(fault_of("\xFF", at) == Utf8Fault::invalid_byte);
    CHECK(at == 0);
    CHECK(fault_of("x\xC0\xAF", at) == Utf8Fault::invalid_byte);  // C0/C1: always overlong
    CHECK(at == 1);
    CHECK(fault_of("x\xE0\x80\xAF", at) == Utf8Fault::overlong);
    CHECK(at == 1);
    CHECK(fault_of("xy\xF0\x8F\xBF\xBF", at) == Utf8Fault::overlong);
    CHECK(at == 2);
    CHECK(fault_of("\xED\xA0\x80", at) == Utf8Fault::surrogate);
    CHECK(fault_of("\xED\xBF\xBF", at) == Utf8Fault::surrogate);
    CHECK(fault_of("\xED\x9F\xBF", at) == Utf8Fault::none);  // U+D7FF
    CHECK(fault_of("\xF4\x90\x80\x80", at) == Utf8Fault::too_large);
    CHECK(fault_of("\xF4\x8F\xBF\xBF", at) == Utf8Fault::none);  // U+10FFFF
    CHECK(fault_of("\xF5\x80\x80\x80", at) == Utf8Fault::invalid_byte);
    CHECK(fault_of("abc\xE2\x82", at) == Utf8Fault::truncated);
    CHECK(at == 3);
    CHECK(fault_of("\xE2\x82z", at) == Utf8Fault::truncated);
    CHECK(at == 0);
    CHECK(fault_of("\xF0\x9F\x98", at) == Utf8Fault::truncated);
    CHECK(fault_of(std::string("\xC3\x00", 2), at) == Utf8Fault::truncated);
}

TEST_CASE("utf8: every two-byte sequence is classified as the definition says") {
    // Exhaustive over lead x second byte with a valid tail: compares with Table 3-7.
    for (unsigned b0 = 0x80; b0 < 0x100; ++b0)
        for (unsigned b1 = 0; b1 < 0x100; ++b1) {
            std::string s;
            s += static_cast<char>(b0);
            s += static_cast<char>(b1);
            s += "\xBF\xBF";
            std::size_t at = 0;
            const Utf8Fault f = find_utf8_fault(s, at);
            bool lead_ok = false;
            if (b0 >= 0xC2 && b0 <= 0xDF) lead_ok = b1 >= 0x80 && b1 <= 0xBF;
            if (b0 == 0xE0) lead_ok = b1 >= 0xA0 && b1 <= 0xBF;
            if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
                lead_ok = b1 >= 0x80 && b1 <= 0xBF;
            if (b0 == 0xED) lead_ok = b1 >= 0x80 && b1 <= 0x9F;
            if (b0 == 0xF0) lead_ok = b1 >= 0x90 && b1 <= 0xBF;
            if (b0 >= 0xF1 && b0 <= 0xF3) lead_ok = b1 >= 0x80 && b1 <= 0xBF;
            if (b0 == 0xF4) lead_ok = b1 >= 0x80 && b1 <= 0x8F;
            INFO("bytes ", b0, " ", b1);
            // A valid first sequence either ends the string validly or the 0xBF tail is a
            // stray continuation after it (for the 2- and 3-byte forms).
            if (lead_ok)
                CHECK((f == Utf8Fault::none || (f == Utf8Fault::stray_continuation && at > 0)));
            else
                CHECK((f != Utf8Fault::none && at == 0));
        }
}
