// embedkit::simd: the kernel table per instruction-set level, run-time selection and forcing.
#pragma once

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/types.hpp"
#include "cpu.hpp"
#include "detail/many_kernels.hpp"
#include "kernels_scalar.hpp"
#include "metric.hpp"

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

namespace embedkit::simd {

/// Instruction-set levels. avx2 means AVX2 with FMA; avx512 means AVX-512F.
enum class Level { scalar, avx2, avx512, neon };

/// The level's name as accepted by EMBEDKIT_SIMD: "scalar", "avx2", "avx512" or "neon".
constexpr std::string_view level_name(Level level) noexcept {
    switch (level) {
        case Level::scalar:
            return "scalar";
        case Level::avx2:
            return "avx2";
        case Level::avx512:
            return "avx512";
        case Level::neon:
            return "neon";
    }
    return "unknown";
}

/// The level named `name`, or nothing if the name is not one of level_name()'s.
inline std::optional<Level> parse_level(std::string_view name) noexcept {
    for (Level l : {Level::scalar, Level::avx2, Level::avx512, Level::neon})
        if (level_name(l) == name) return l;
    return std::nullopt;
}

/// True if this build carries kernels for `level` and the CPU (and OS) can run them.
inline bool cpu_supports(Level level) noexcept {
    const CpuFeatures& f = cpu_features();
    switch (level) {
        case Level::scalar:
            return true;
        case Level::avx2:
            return EMBEDKIT_ARCH_X86 && f.avx2;
        case Level::avx512:
            return EMBEDKIT_ARCH_X86 && f.avx512f;
        case Level::neon:
            return EMBEDKIT_ARCH_NEON && f.neon;
    }
    return false;
}

/// Every level this CPU supports, slowest first (scalar is always first).
inline std::vector<Level> supported() {
    std::vector<Level> out;
    for (Level l : {Level::scalar, Level::avx2, Level::avx512, Level::neon})
        if (cpu_supports(l)) out.push_back(l);
    return out;
}

/// The fastest level this CPU supports.
inline Level best() noexcept {
    if (cpu_supports(Level::avx512)) return Level::avx512;
    if (cpu_supports(Level::avx2)) return Level::avx2;
    if (cpu_supports(Level::neon)) return Level::neon;
    return Level::scalar;
}

/// Typed function pointers for one level and one scalar type. Kernels trust their
/// arguments: both pointers address n readable elements (any alignment; unused when n == 0).
template <class Scalar>
struct KernelTable {
    using PairFn = Scalar (*)(const Scalar*, const Scalar*, std::size_t) noexcept;
    using CosineFn = CosineParts<Scalar> (*)(const Scalar*, const Scalar*, std::size_t) noexcept;
    /// out[r] = metric(q, set + r * stride, dim) for r < rows (cosine: the similarity).
    using ManyFn = void (*)(const Scalar* q, const Scalar* set, std::size_t rows, std::size_t dim,
                            std::size_t stride, Scalar* out) noexcept;

    Level level;
    PairFn dot;
    PairFn l2_squared;
    PairFn l1;
    CosineFn cosine;  ///< returns a.b, a.a, b.b; finished by detail::finish_cosine_*
    ManyFn dot_many;
    ManyFn l2_squared_many;
    ManyFn l1_many;
    ManyFn cosine_many;
};

namespace detail {

// Brace-initialises the table of one level from the kernels named <metric>_<SUFFIX>.
#define EMBEDKIT_LEVEL_TABLE(LEVEL, SUFFIX)                                                    \
    {                                                                                          \
        Level::LEVEL, &embedkit::detail::dot_##SUFFIX, &embedkit::detail::l2_squared_##SUFFIX, \
            &embedkit::detail::l1_##SUFFIX, &embedkit::detail::cosine_##SUFFIX,                \
            &embedkit::detail::dot_many_##SUFFIX, &embedkit::detail::l2_squared_many_##SUFFIX, \
            &embedkit::detail::l1_many_##SUFFIX, &embedkit::detail::cosine_many_##SUFFIX       \
    }

// One static const table per level and scalar type.
template <class Scalar>
inline const KernelTable<Scalar>* table_for([[maybe_unused]] Level level) noexcept {
    static const KernelTable<Scalar> scalar = EMBEDKIT_LEVEL_TABLE(scalar, scalar);
#if EMBEDKIT_ARCH_X86
    static const KernelTable<Scalar> avx2 = EMBEDKIT_LEVEL_TABLE(avx2, avx2);
    static const KernelTable<Scalar> avx512 = EMBEDKIT_LEVEL_TABLE(avx512, avx512);
    if (level == Level::avx512) return &avx512;
    if (level == Level::avx2) return &avx2;
#endif
#if EMBEDKIT_ARCH_NEON
    static const KernelTable<Scalar> neon = EMBEDKIT_LEVEL_TABLE(neon, neon);
    if (level == Level::neon) return &neon;
#endif
    return &scalar;
}

#undef EMBEDKIT_LEVEL_TABLE

// "a <= b" for capping: scalar is below every level, avx2 below avx512; levels of different
// architectures are not comparable.
constexpr bool level_at_most(Level a, Level cap) noexcept {
    if (a == cap || a == Level::scalar) return true;
    return a == Level::avx2 && cap == Level::avx512;
}

// The level at start-up: the best one, capped by EMBEDKIT_SIMD. Never throws: an unusable
// value prints one warning naming the variable and is ignored.
inline Level initial_level() noexcept {
    const Level top = best();
    const char* env = std::getenv("EMBEDKIT_SIMD");
    if (env == nullptr || *env == '\0') return top;
    const std::optional<Level> cap = parse_level(env);
    if (!cap) {
        std::fprintf(stderr,
                     "embedkit: ignoring EMBEDKIT_SIMD=%s (expected scalar, avx2, avx512 or "
                     "neon)\n",
                     env);
        return top;
    }
    if (!cpu_supports(*cap) && !level_at_most(top, *cap)) {
        std::fprintf(stderr,
                     "embedkit: ignoring EMBEDKIT_SIMD=%s (not a level of this CPU; using %s)\n",
                     env, std::string(level_name(top)).c_str());
        return top;
    }
    // The highest supported level at or below the cap.
    for (Level l : {Level::avx512, Level::avx2, Level::neon, Level::scalar})
        if (cpu_supports(l) && level_at_most(l, *cap)) return l;
    return Level::scalar;
}

template <class Scalar>
inline std::atomic<const KernelTable<Scalar>*>& active_slot() noexcept;

// The active level as a plain code, for the compile-time fast path below: one compare of a
// byte in memory with a constant. Constant-initialised to "none" (-1), so the fast path is
// not taken before the state has been initialised through the tables.
inline std::atomic<signed char>& active_level_code() noexcept {
    static std::atomic<signed char> code{-1};
    return code;
}

// The level in force. Constructing it (once, thread-safely, on first use) chooses the initial
// level and installs its tables; set() installs another level's.
struct ActiveState {
    std::atomic<Level> level;

    explicit ActiveState(Level l) noexcept : level(l) { install(l); }

    void set(Level l) noexcept {
        install(l);
        level.store(l, std::memory_order_release);
    }

private:
    static void install(Level l) noexcept {
        active_slot<float>().store(table_for<float>(l), std::memory_order_release);
        active_slot<double>().store(table_for<double>(l), std::memory_order_release);
        active_level_code().store(static_cast<signed char>(l), std::memory_order_release);
    }
};

// The only global state of the library: one per program (inline function, function-local
// static, initialised thread-safely on first use).
inline ActiveState& state() noexcept {
    static ActiveState s(initial_level());
    return s;
}

// Before the first call the active slot points at this table, whose entries initialise the
// dispatch state and then forward to the real kernel. Every later call costs one load of the
// slot and one indirect call: no initialisation guard on the hot path.
template <class Scalar>
struct Resolver {
    static Scalar dot(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
        state();
        return active_slot<Scalar>().load(std::memory_order_acquire)->dot(a, b, n);
    }
    static Scalar l2_squared(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
        state();
        return active_slot<Scalar>().load(std::memory_order_acquire)->l2_squared(a, b, n);
    }
    static Scalar l1(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
        state();
        return active_slot<Scalar>().load(std::memory_order_acquire)->l1(a, b, n);
    }
    static CosineParts<Scalar> cosine(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
        state();
        return active_slot<Scalar>().load(std::memory_order_acquire)->cosine(a, b, n);
    }
    static void dot_many(const Scalar* q, const Scalar* s, std::size_t rows, std::size_t dim,
                         std::size_t stride, Scalar* out) noexcept {
        state();
        active_slot<Scalar>()
            .load(std::memory_order_acquire)
            ->dot_many(q, s, rows, dim, stride, out);
    }
    static void l2_squared_many(const Scalar* q, const Scalar* s, std::size_t rows, std::size_t dim,
                                std::size_t stride, Scalar* out) noexcept {
        state();
        active_slot<Scalar>()
            .load(std::memory_order_acquire)
            ->l2_squared_many(q, s, rows, dim, stride, out);
    }
    static void l1_many(const Scalar* q, const Scalar* s, std::size_t rows, std::size_t dim,
                        std::size_t stride, Scalar* out) noexcept {
        state();
        active_slot<Scalar>()
            .load(std::memory_order_acquire)
            ->l1_many(q, s, rows, dim, stride, out);
    }
    static void cosine_many(const Scalar* q, const Scalar* s, std::size_t rows, std::size_t dim,
                            std::size_t stride, Scalar* out) noexcept {
        state();
        active_slot<Scalar>()
            .load(std::memory_order_acquire)
            ->cosine_many(q, s, rows, dim, stride, out);
    }
    static constexpr KernelTable<Scalar> table = {
        Level::scalar,    &dot,     &l2_squared, &l1, &cosine, &dot_many,
        &l2_squared_many, &l1_many, &cosine_many};
};

// The active table's slot. Constant-initialised (to the resolver), so reading it needs no
// guard; the state above replaces it with a real level's table.
template <class Scalar>
inline std::atomic<const KernelTable<Scalar>*>& active_slot() noexcept {
    static std::atomic<const KernelTable<Scalar>*> slot{&Resolver<Scalar>::table};
    return slot;
}

/// The active kernel table for `Scalar`: fetched once per public call, never per pair.
template <class Scalar>
inline const KernelTable<Scalar>& active_table() noexcept {
    static_assert(is_supported_scalar_v<Scalar>, "embedkit kernels support float and double");
    return *active_slot<Scalar>().load(std::memory_order_acquire);
}

// ---- Compile-time level. When the translation unit's own flags already guarantee a level
// (-mavx512f, -mavx2 -mfma, -march=native, or any aarch64 build), the pair functions check
// whether that level is the active one and, if so, call its kernel directly, where the
// compiler can inline it: a dimension-16 distance then costs about what Eigen's inlined
// expression does, instead of an extra indirect call. Forcing another level, or capping it
// with EMBEDKIT_SIMD, still takes effect: the check fails and the table is used.
#if EMBEDKIT_ARCH_X86 && defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
#define EMBEDKIT_STATIC_LEVEL avx512
#elif EMBEDKIT_ARCH_X86 && defined(__AVX2__) && defined(__FMA__)
#define EMBEDKIT_STATIC_LEVEL avx2
#elif EMBEDKIT_ARCH_NEON
#define EMBEDKIT_STATIC_LEVEL neon
#endif

// The pair functions' bodies differ with the compile-time level, so each level's versions live
// in an inline namespace of their own (as Highway's per-target namespaces do): a program whose
// files are built with different flags gets one set of pair functions per level, each called only
// from the files built for it, instead of one body the linker picks for all (an ODR violation
// that could run AVX-512 code from a file built for a CPU without it). Callers write
// embedkit::l2 as before; the namespace only changes the symbols. This separates the pair
// functions only: other inline code (the scalar and batch kernels, Eigen) is still one copy the
// linker picks, so a program that mixes -m flags must run on CPUs that have all of them.
#if defined(EMBEDKIT_STATIC_LEVEL) && defined(__AVX512F__)
#define EMBEDKIT_LEVEL_NAMESPACE compiled_for_avx512
#elif defined(EMBEDKIT_STATIC_LEVEL) && EMBEDKIT_ARCH_X86
#define EMBEDKIT_LEVEL_NAMESPACE compiled_for_avx2
#elif defined(EMBEDKIT_STATIC_LEVEL)
#define EMBEDKIT_LEVEL_NAMESPACE compiled_for_neon
#else
#define EMBEDKIT_LEVEL_NAMESPACE compiled_for_baseline
#endif

#if defined(EMBEDKIT_STATIC_LEVEL)
#define EMBEDKIT_STATIC_KERNELS_CAT2(a, b) a##b
#define EMBEDKIT_STATIC_KERNELS_CAT(a, b) EMBEDKIT_STATIC_KERNELS_CAT2(a, b)
#define EMBEDKIT_STATIC_KERNEL(NAME) \
    embedkit::detail::EMBEDKIT_STATIC_KERNELS_CAT(NAME##_, EMBEDKIT_STATIC_LEVEL)

// These helpers' bodies depend on the level too: same namespace as the pair functions.
inline namespace EMBEDKIT_LEVEL_NAMESPACE {

/// True if the active level is the one this translation unit was compiled for.
template <class Scalar>
inline bool static_level_active() noexcept {
    return active_level_code().load(std::memory_order_relaxed) ==
           static_cast<signed char>(Level::EMBEDKIT_STATIC_LEVEL);
}

template <class Scalar>
inline Scalar static_dot(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    return EMBEDKIT_STATIC_KERNEL(dot)(a, b, n);
}
template <class Scalar>
inline Scalar static_l2_squared(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    return EMBEDKIT_STATIC_KERNEL(l2_squared)(a, b, n);
}
template <class Scalar>
inline Scalar static_l1(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    return EMBEDKIT_STATIC_KERNEL(l1)(a, b, n);
}
template <class Scalar>
inline CosineParts<Scalar> static_cosine(const Scalar* a, const Scalar* b, std::size_t n) noexcept {
    return EMBEDKIT_STATIC_KERNEL(cosine)(a, b, n);
}

}  // namespace EMBEDKIT_LEVEL_NAMESPACE
#undef EMBEDKIT_STATIC_KERNEL
#undef EMBEDKIT_STATIC_KERNELS_CAT
#undef EMBEDKIT_STATIC_KERNELS_CAT2
#endif

}  // namespace detail

/// The level the distance functions use now.
inline Level active() noexcept { return detail::state().level.load(std::memory_order_acquire); }

/// Makes every later call use `level`. Throws ArgumentError if this CPU or build lacks it.
/// Affects all threads; meant for tests, benchmarks and bug reports.
inline void force(Level level) {
    if (!cpu_supports(level))
        throw ArgumentError("embedkit::simd::force: this CPU does not support level '" +
                            std::string(level_name(level)) + "'");
    detail::state().set(level);
}

/// Forces a level for the lifetime of the object and restores the previous one afterwards.
class Scoped {
public:
    explicit Scoped(Level level) : previous_(active()) { force(level); }
    ~Scoped() { detail::state().set(previous_); }
    Scoped(const Scoped&) = delete;
    Scoped& operator=(const Scoped&) = delete;

private:
    Level previous_;
};

}  // namespace embedkit::simd
