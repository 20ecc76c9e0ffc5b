// Loading and saving a model reads and writes its tensors by name: the number of name
// comparisons must grow linearly with the number of tensors (a scan per tensor was quadratic:
// 168 s for a 64,000-tensor autoencoder). Counted through the model file's lookup hook, which
// this executable (and only it: the hook changes inline functions) defines before any include.
#include <cstdint>

namespace lookup_test {
inline std::uint64_t name_compares = 0;
}
#define EMBEDKIT_MODEL_FILE_NAME_COMPARED() (++::lookup_test::name_compares)

#include "models_test_util.hpp"

#include <embedkit/models/autoencoder.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace ek = embedkit;
using modeltest::TempDir;

namespace {

struct Counts {
    std::size_t tensors = 0;
    std::uint64_t save = 0, load = 0;
};

// A deep autoencoder of width-2 layers: 4 (layers + 1) tensors, a few values each.
Counts count_lookups(const std::string& path, std::size_t hidden_layers) {
    ek::models::AutoencoderOptions o;
    o.input = 3;
    o.latent = 2;
    o.hidden.assign(hidden_layers, 2);
    ek::Rng rng(1);
    const ek::models::Autoencoder<float> ae(o, rng);
    Counts c;
    lookup_test::name_compares = 0;
    ae.save(path);
    c.save = lookup_test::name_compares;
    lookup_test::name_compares = 0;
    const auto back = ek::models::Autoencoder<float>::load(path);
    c.load = lookup_test::name_compares;
    c.tensors = ek::io::load_model_file(path).tensors.size();
    const ek::RowMatrixF x = ek::RowMatrixF::Constant(2, 3, 0.5f);
    CHECK(back.reconstruct(x) == ae.reconstruct(x));
    return c;
}

}  // namespace

TEST_CASE("model files: saving and loading compare each tensor name a bounded number of times") {
    TempDir dir;
    const Counts small = count_lookups(dir.file("small.ekm"), 250);
    const Counts large = count_lookups(dir.file("large.ekm"), 2000);
    REQUIRE(small.tensors == 4 * 251);
    REQUIRE(large.tensors == 4 * 2001);
    INFO("save: " << small.save << " / " << large.save << " compares, load: " << small.load << " / "
                  << large.load);
    // At most one verifying comparison per lookup and one lookup per tensor, with room for
    // the few fixed lookups; a scan per tensor would need ~tensors^2 / 2 (16 million here).
    CHECK(large.save <= 2 * large.tensors);
    CHECK(large.load <= 2 * large.tensors);
    // Linear: 8 times the tensors, at most ~8 times the comparisons.
    CHECK(large.load <= 9 * std::max<std::uint64_t>(small.load, 1));
}

TEST_CASE("model files: the name index follows direct edits of the tensor list") {
    ek::io::ModelFile m("test");
    for (int i = 0; i < 5; ++i) m.add("t" + std::to_string(i), std::vector<float>{float(i)});
    REQUIRE(m.find_tensor("t3") == &m.tensors[3]);
    m.tensors[3].name = "renamed";  // in place: the index entry for "t3" is stale
    CHECK(m.find_tensor("t3") == nullptr);
    CHECK(m.find_tensor("renamed") == &m.tensors[3]);
    m.tensors.erase(m.tensors.begin());  // positions shift
    CHECK(m.find_tensor("t4") == &m.tensors[3]);
    CHECK(m.read_vector<float>("t4") == std::vector<float>{4});
    m.add("t0", std::vector<float>{9});  // the index is rebuilt: t0 was erased, so no duplicate
    CHECK_THROWS_AS(m.add("t4", std::vector<float>{1}), ek::ArgumentError);
    CHECK_THROWS_AS(m.add("renamed", std::vector<float>{1}), ek::ArgumentError);
    const ek::io::ModelFile copy = m;  // copies carry a valid index (positions)
    CHECK(copy.find_tensor("t0") == &copy.tensors.back());
    CHECK(copy.read_vector<float>("t0") == std::vector<float>{9});
}
