// profile.hpp: phases count only while a collector is active on the calling thread, pauses
// and nested collectors restore what was there, and other threads are not collected.
#include <doctest/doctest.h>

#include <embedkit/core/profile.hpp>

#include <chrono>
#include <thread>

namespace ek = embedkit;
using ek::profile::Phase;

namespace {

void busy(std::chrono::microseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {}
}

}  // namespace

TEST_CASE("profile: a phase counts only while collecting, into its own slot") {
    {
        ek::profile::Scope phase(Phase::gemm);  // no collector: nothing to add to
        busy(std::chrono::microseconds(200));
    }
    ek::profile::Timings t;
    {
        const ek::profile::Collect collect(t);
        {
            ek::profile::Scope phase(Phase::loss);
            busy(std::chrono::microseconds(2000));
        }
        {
            ek::profile::Scope phase(Phase::optimizer);
            busy(std::chrono::microseconds(1000));
        }
    }
    CHECK(t.loss >= 0.002);
    CHECK(t.optimizer >= 0.001);
    CHECK(t.gemm == 0);
    CHECK(t.activation == 0);
    CHECK(t.other == 0);
    CHECK(t.total() == doctest::Approx(t.loss + t.optimizer));
    {
        ek::profile::Scope phase(Phase::loss);  // after the collector ended: not counted
        busy(std::chrono::microseconds(500));
    }
    CHECK(t.loss < t.total());
    const double loss = t.loss;
    CHECK(loss == t.loss);
    t.reset();
    CHECK(t.total() == 0);
}

TEST_CASE("profile: Pause and nested collectors restore the outer collector") {
    ek::profile::Timings outer, inner;
    const ek::profile::Collect collect(outer);
    {
        const ek::profile::Pause pause;
        ek::profile::Scope phase(Phase::gemm);
        busy(std::chrono::microseconds(500));
    }
    CHECK(outer.gemm == 0);
    {
        const ek::profile::Collect nested(inner);
        ek::profile::Scope phase(Phase::activation);
        busy(std::chrono::microseconds(500));
    }
    CHECK(inner.activation > 0);
    CHECK(outer.activation == 0);
    {
        ek::profile::Scope phase(Phase::other);
        busy(std::chrono::microseconds(500));
    }
    CHECK(outer.other > 0);
}

TEST_CASE("profile: another thread's phases are not collected") {
    ek::profile::Timings t;
    const ek::profile::Collect collect(t);
    std::thread worker([] {
        ek::profile::Scope phase(Phase::gemm);
        busy(std::chrono::microseconds(500));
    });
    worker.join();
    CHECK(t.gemm == 0);
}
