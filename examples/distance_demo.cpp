// Distance demo: compares a few embeddings with every metric at every SIMD level this CPU has.
//
//   distance_demo [--dim D] [--help]
//
// The "embeddings" are synthetic: a query, a near-duplicate of it, a rescaled copy, a vector
// pointing the opposite way, an unrelated random vector and a zero vector.
#include <embedkit/embedkit.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// A tiny seeded generator (splitmix64) so the demo prints the same numbers everywhere.
class DemoRng {
public:
    explicit DemoRng(std::uint64_t seed) : state_(seed) {}
    float uniform() {  // in [-1, 1)
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        return static_cast<float>(z >> 40) / static_cast<float>(1ull << 23) - 1.0f;
    }

private:
    std::uint64_t state_;
};

void usage() {
    std::puts(
        "usage: distance_demo [--dim D]\n"
        "Compares synthetic embeddings with l2, l2_squared, l1, dot, cosine similarity and\n"
        "cosine distance, at every SIMD level this CPU supports.\n"
        "  --dim D   embedding size (default 384)\n"
        "Set EMBEDKIT_SIMD=scalar|avx2|avx512|neon to cap the automatically chosen level.");
}

}  // namespace

int main(int argc, char** argv) {
    namespace ek = embedkit;
    long dim = 384;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        if (std::strcmp(argv[i], "--dim") == 0 && i + 1 < argc) {
            char* end = nullptr;
            dim = std::strtol(argv[++i], &end, 10);
            if (*end != '\0' || dim <= 0 || dim > (1L << 24)) {
                std::fprintf(stderr, "distance_demo: --dim needs a positive integer, got '%s'\n",
                             argv[i]);
                return 2;
            }
            continue;
        }
        std::fprintf(stderr, "distance_demo: unknown argument '%s' (try --help)\n", argv[i]);
        return 2;
    }

    std::printf("embedkit %s, SIMD level: %s (supported:", ek::version(),
                std::string(ek::simd::level_name(ek::simd::active())).c_str());
    for (ek::simd::Level l : ek::simd::supported())
        std::printf(" %s", std::string(ek::simd::level_name(l)).c_str());
    std::printf(")\n\n");

    DemoRng rng(42);
    const Eigen::Index n = dim;
    ek::VectorF query(n), other(n), noise(n);
    for (Eigen::Index i = 0; i < n; ++i) {
        query[i] = rng.uniform();
        other[i] = rng.uniform();
        noise[i] = 0.05f * rng.uniform();
    }
    struct Candidate {
        const char* name;
        ek::VectorF v;
    };
    const std::vector<Candidate> candidates = {
        {"near-duplicate", query + noise},
        {"query x 3", 3.0f * query},
        {"opposite", -query},
        {"unrelated", other},
        {"zero vector", ek::VectorF::Zero(n)},
    };

    std::printf("query vs (dim %ld)     %10s %10s %10s %10s %8s %8s\n", dim, "l2", "l2_sq", "l1",
                "dot", "cos_sim", "cos_dist");
    for (const Candidate& c : candidates) {
        std::printf("  %-20s %10.4f %10.4f %10.4f %10.4f %8.4f %8.4f\n", c.name, ek::l2(query, c.v),
                    ek::l2_squared(query, c.v), ek::l1(query, c.v), ek::dot(query, c.v),
                    ek::cosine_similarity(query, c.v), ek::cosine_distance(query, c.v));
    }

    std::printf("\nThe same l2_squared and cosine similarity at every level (pointer API):\n");
    const ek::VectorF& near = candidates[0].v;
    for (ek::simd::Level l : ek::simd::supported()) {
        ek::simd::Scoped forced(l);
        std::printf(
            "  %-7s l2_squared %.7g   cosine_similarity %.7g\n",
            std::string(ek::simd::level_name(l)).c_str(),
            static_cast<double>(ek::l2_squared(query.data(), near.data(), query.size())),
            static_cast<double>(ek::cosine_similarity(query.data(), near.data(), query.size())));
    }

    try {
        ek::VectorF shorter(n + 1);
        shorter.setZero();
        (void)ek::l2(query, shorter);
    } catch (const ek::DimensionError& e) {
        std::printf("\nMismatched sizes are an error, not garbage:\n  %s\n", e.what());
    }
    return 0;
}
