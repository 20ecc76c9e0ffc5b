// Several threads at once on the read-only API: the first calls race on the SIMD dispatch's
// initialisation, then distances, search, loaders and the model-file accessors run on shared
// inputs. Every thread's results must equal the single-threaded ones bit for bit. ctest runs
// each case in a fresh process, so every case begins with dispatch uninitialised; the tsan
// preset runs this file under ThreadSanitizer, which fails the case on any data race.
#include <embedkit/embedkit.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

constexpr int thread_count = 6;

// Runs body(t) on thread_count threads released together, so their first calls overlap.
void run_together(const std::function<void(int)>& body) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
        threads.emplace_back([&, t] {
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            body(t);
        });
    while (ready.load() < thread_count) std::this_thread::yield();
    go.store(true, std::memory_order_release);
    for (auto& th : threads) th.join();
}

template <class Scalar>
embedkit::RowMatrix<Scalar> random_set(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    embedkit::Rng rng(seed);
    embedkit::RowMatrix<Scalar> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(rng.normal());
    return m;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

template <class M>
bool same_matrix(const M& a, const M& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(),
                       sizeof(typename M::Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() /
                ("embedkit_threads_" + std::to_string(::getpid()) + "_" +
                 std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

const embedkit::Metric all_metrics[] = {embedkit::Metric::l1, embedkit::Metric::l2,
                                        embedkit::Metric::l2_squared, embedkit::Metric::dot,
                                        embedkit::Metric::cosine};

}  // namespace

TEST_CASE("threads: first calls of the pair functions race on dispatch initialisation") {
    // Lengths cover the vector bodies and the scalar tails of every level.
    const std::vector<std::size_t> lengths = {1, 3, 8, 17, 33, 64, 100, 257};
    const auto af = random_set<float>(1, 257, 1), bf = random_set<float>(1, 257, 2);
    const auto ad = random_set<double>(1, 257, 3), bd = random_set<double>(1, 257, 4);
    struct Results {
        std::vector<float> f;
        std::vector<double> d;
        embedkit::simd::Level level{};
    };
    // Thread t's calls; threads start on different functions and scalar types, so every
    // slot's first use races.
    auto calls = [&](int t, Results& r) {
        for (int rep = 0; rep < 2; ++rep)
            for (std::size_t n : lengths) {
                if ((t + rep) % 2 == 0) {
                    r.f.push_back(embedkit::l2_squared(af.data(), bf.data(), n));
                    r.d.push_back(embedkit::dot(ad.data(), bd.data(), n));
                } else {
                    r.d.push_back(embedkit::l2_squared(ad.data(), bd.data(), n));
                    r.f.push_back(embedkit::dot(af.data(), bf.data(), n));
                }
                r.f.push_back(embedkit::l1(af.data(), bf.data(), n));
                r.f.push_back(embedkit::l2(af.data(), bf.data(), n));
                r.d.push_back(embedkit::cosine_similarity(ad.data(), bd.data(), n));
                r.d.push_back(embedkit::cosine_distance(ad.data(), bd.data(), n));
            }
        r.level = embedkit::simd::active();
    };
    std::vector<Results> got(thread_count);
    run_together([&](int t) { calls(t, got[static_cast<std::size_t>(t)]); });
    // The same calls on this thread afterwards, in each thread's order.
    for (int t = 0; t < thread_count; ++t) {
        INFO("thread ", t);
        Results want;
        calls(t, want);
        const Results& r = got[static_cast<std::size_t>(t)];
        CHECK(r.level == want.level);
        REQUIRE(r.f.size() == want.f.size());
        REQUIRE(r.d.size() == want.d.size());
        for (std::size_t i = 0; i < r.f.size(); ++i) CHECK(same_bits(r.f[i], want.f[i]));
        for (std::size_t i = 0; i < r.d.size(); ++i) CHECK(same_bits(r.d[i], want.d[i]));
    }
}

TEST_CASE("threads: distances pairwise top_k and knn_accuracy on shared sets") {
    const auto set = random_set<float>(700, 37, 11);
    const auto queries = random_set<float>(20, 37, 12);
    std::vector<std::uint8_t> labels(700), query_labels(20);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
    for (std::size_t i = 0; i < query_labels.size(); ++i)
        query_labels[i] = static_cast<std::uint8_t>(i % 10);
    struct Results {
        std::vector<embedkit::Vector<float>> dist;
        std::vector<embedkit::RowMatrix<float>> pairs, scores;
        std::vector<embedkit::RowMatrix<Eigen::Index>> indices;
        double knn1 = -1, knn5 = -1;
        embedkit::RowMatrix<float> normalized;
    };
    auto work = [&](Results& r) {
        for (const auto metric : all_metrics) {
            r.dist.push_back(embedkit::distances(queries.row(3), set, metric));
            r.pairs.push_back(embedkit::pairwise(queries, set, metric));
            const auto found = embedkit::top_k(queries, set, 7, metric);
            r.indices.push_back(found.indices);
            r.scores.push_back(found.scores);
            embedkit::TopKOptions self;
            self.exclude_self = true;
            const auto within = embedkit::top_k(set.topRows(50), set, 3, metric, self);
            r.indices.push_back(within.indices);
            r.scores.push_back(within.scores);
        }
        const auto knn = embedkit::eval::knn_accuracy(set, labels, queries, query_labels);
        r.knn1 = knn.accuracy_at_1;
        r.knn5 = knn.accuracy_at_k;
        r.normalized = set;  // normalize_rows on each thread's own copy
        embedkit::normalize_rows(r.normalized);
    };
    std::vector<Results> got(thread_count);
    run_together([&](int t) { work(got[static_cast<std::size_t>(t)]); });
    Results want;
    work(want);
    for (int t = 0; t < thread_count; ++t) {
        INFO("thread ", t);
        const Results& r = got[static_cast<std::size_t>(t)];
        REQUIRE(r.dist.size() == want.dist.size());
        for (std::size_t i = 0; i < r.dist.size(); ++i) CHECK(same_matrix(r.dist[i], want.dist[i]));
        for (std::size_t i = 0; i < r.pairs.size(); ++i)
            CHECK(same_matrix(r.pairs[i], want.pairs[i]));
        for (std::size_t i = 0; i < r.indices.size(); ++i) {
            CHECK(r.indices[i] == want.indices[i]);
            CHECK(same_matrix(r.scores[i], want.scores[i]));
        }
        CHECK(r.knn1 == want.knn1);
        CHECK(r.knn5 == want.knn5);
        CHECK(same_matrix(r.normalized, want.normalized));
    }
}

TEST_CASE("threads: loaders read the same npy and model files at once") {
    TempDir dir;
    const auto m = random_set<float>(300, 24, 21);
    const std::string npy = dir.file("set.npy"), model_path = dir.file("tower.ekm");
    embedkit::io::write_npy(npy, m);
    embedkit::models::SiameseOptions so;
    so.input = 24;
    so.layers = {16, 8};
    embedkit::Rng rng(5);
    embedkit::models::Siamese<float> tower(so, rng);
    tower.save(model_path);
    const embedkit::io::MappedNpy<float> shared_map = embedkit::io::map_npy<float>(npy);
    const embedkit::io::ModelFile shared_file = embedkit::io::load_model_file(model_path);
    const std::string first_tensor = shared_file.tensors.front().name;

    struct Results {
        embedkit::RowMatrix<float> read, mapped, shared, top;
        std::string kind, tensor_bytes;
        embedkit::RowMatrix<float> embedded;
    };
    std::vector<Results> got(thread_count);
    run_together([&](int t) {
        Results& r = got[static_cast<std::size_t>(t)];
        r.read = embedkit::io::read_npy<float>(npy);
        const auto own_map = embedkit::io::map_npy<float>(npy);
        r.mapped = own_map.matrix();
        r.shared = shared_map.matrix();
        r.top = embedkit::top_k(shared_map.matrix().topRows(4), shared_map.matrix(), 5,
                                embedkit::Metric::l2)
                    .scores;
        r.kind = embedkit::io::load_model_file(model_path).kind;
        const auto& tensor = shared_file.tensor(first_tensor);
        r.tensor_bytes.assign(reinterpret_cast<const char*>(tensor.bytes.data()),
                              tensor.bytes.size());
        // Each thread loads its own model object from the shared file.
        auto loaded = embedkit::models::Siamese<float>::load(model_path);
        r.embedded = loaded.embed(m);
    });
    const auto want_top = embedkit::top_k(m.topRows(4), m, 5, embedkit::Metric::l2).scores;
    const auto want_embedded = tower.embed(m);
    const auto& tensor = shared_file.tensor(first_tensor);
    const std::string want_bytes(reinterpret_cast<const char*>(tensor.bytes.data()),
                                 tensor.bytes.size());
    for (int t = 0; t < thread_count; ++t) {
        INFO("thread ", t);
        const Results& r = got[static_cast<std::size_t>(t)];
        CHECK(same_matrix(r.read, m));
        CHECK(same_matrix(r.mapped, m));
        CHECK(same_matrix(r.shared, m));
        CHECK(same_matrix(r.top, want_top));
        CHECK(r.kind == "embedkit.siamese");
        CHECK(r.tensor_bytes == want_bytes);
        CHECK(same_matrix(r.embedded, want_embedded));
    }
}

TEST_CASE("threads: one model encodes decodes and embeds from several threads at once") {
    // Inference is const (layers' infer): threads share one model, each call with its own buffers.
    embedkit::Rng rng(31);
    embedkit::models::VAEOptions vo;
    vo.input = 60;
    vo.hidden = {40, 20};
    vo.latent = 2;
    const embedkit::models::VAE<float> vae(vo, rng);
    embedkit::models::AutoencoderOptions ao;
    ao.input = 60;
    ao.hidden = {30};
    ao.latent = 4;
    const embedkit::models::Autoencoder<float> ae(ao, rng);
    embedkit::models::SiameseOptions so;
    so.input = 60;
    so.layers = {32, 8};
    const embedkit::models::Siamese<float> tower(so, rng);
    // 85 % zeros, like pixels, so the first layers take their sparse path too (at most a quarter
    // non-zero).
    embedkit::RowMatrix<float> x(230, 60);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = rng.uniform() < 0.85 ? 0.0f : static_cast<float>(rng.uniform());

    struct Results {
        embedkit::RowMatrix<float> mu, image, code, recon, emb;
    };
    auto work = [&](Results& r) {
        r.mu = vae.encode(x, 64);
        r.image = vae.decode(r.mu, 64);
        r.code = ae.encode(x, 50);
        r.recon = ae.reconstruct(x, 50);
        r.emb = tower.embed(x, 100);
    };
    std::vector<Results> got(thread_count);
    run_together([&](int t) { work(got[static_cast<std::size_t>(t)]); });
    Results want;
    work(want);
    for (int t = 0; t < thread_count; ++t) {
        INFO("thread ", t);
        const Results& r = got[static_cast<std::size_t>(t)];
        CHECK(same_matrix(r.mu, want.mu));
        CHECK(same_matrix(r.image, want.image));
        CHECK(same_matrix(r.code, want.code));
        CHECK(same_matrix(r.recon, want.recon));
        CHECK(same_matrix(r.emb, want.emb));
    }
}
