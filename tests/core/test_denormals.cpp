// ScopedFlushDenormals: sets flush-to-zero on this thread while alive, restores on every exit.
#include <embedkit/core/denormals.hpp>

#include <doctest/doctest.h>

#include <stdexcept>

namespace ek = embedkit;

namespace {
// A denormal float (1e-40) computed at run time: zero when results are flushed.
float denormal_product() {
    volatile float tiny = 1e-30f;
    return tiny * 1e-10f;
}
}  // namespace

TEST_CASE("denormals: the guard flushes while alive and restores, also when unwinding") {
    if (ek::detail::flush_denormal_bits == 0) {
        MESSAGE("no flush-to-zero control on this target: the guard does nothing");
        return;
    }
    const bool outside = ek::denormals_flushed();
    REQUIRE_FALSE(outside);  // the default mode of a new program
    CHECK(denormal_product() != 0.0f);
    {
        const ek::ScopedFlushDenormals guard;
        CHECK(ek::denormals_flushed());
        CHECK(denormal_product() == 0.0f);
        {
            const ek::ScopedFlushDenormals nested;
            CHECK(ek::denormals_flushed());
        }
        CHECK(ek::denormals_flushed());  // the nested guard restored the outer one's mode
    }
    CHECK_FALSE(ek::denormals_flushed());
    CHECK(denormal_product() != 0.0f);
    try {
        const ek::ScopedFlushDenormals guard;
        throw std::runtime_error("unwind");
    } catch (const std::runtime_error&) {}
    CHECK_FALSE(ek::denormals_flushed());
}
