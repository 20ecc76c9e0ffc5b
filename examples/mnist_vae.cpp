// Trains the classic MNIST variational autoencoder (784-256-128-2, BCE·784 + KL, batch 100,
// Adam) and writes its latent space as pictures, embeddings as .npy, the model and metrics.
#include "common/example_support.hpp"

#include <embedkit/models/vae.hpp>
#include <embedkit/viz/image_grid.hpp>
#include <embedkit/viz/scatter.hpp>

#include <chrono>
#include <iostream>

namespace ek = embedkit;
namespace fs = std::filesystem;

namespace {

std::string metrics_json(const ek::nn::History& h, const ek::models::VAEOptions& model,
                         long long batch, long long seed, long long epochs) {
    using example::Json;
    std::ostringstream j;
    j << "{\n  \"model\": \"vae\",\n  \"architecture\": {\"input\": " << model.input
      << ", \"hidden\": [" << Json::sizes(model.hidden) << "], \"latent\": " << model.latent
      << "},\n"
      << "  \"batch\": " << batch << ",\n  \"seed\": " << seed
      << ",\n  \"epochs_planned\": " << epochs << ",\n"
      << "  \"optimizer\": {\"name\": \"adam\", \"learning_rate\": 0.001, \"beta1\": 0.9, "
         "\"beta2\": 0.999, \"epsilon\": 1e-7},\n"
      << "  \"simd\": " << Json::string(std::string(ek::simd::level_name(ek::simd::active())))
      << ",\n"
      << "  \"eigen_simd\": " << Json::string(Eigen::SimdInstructionSetsInUse()) << ",\n"
      << "  \"embedkit_version\": " << Json::string(std::string(ek::version()))
      << ",\n  \"epochs\": [";
    for (std::size_t i = 0; i < h.size(); ++i)
        j << (i ? "," : "") << "\n    {\"epoch\": " << h[i].epoch
          << ", \"loss\": " << Json::number(h[i].loss)
          << ", \"val_loss\": " << Json::number(h[i].val_loss)
          << ", \"seconds\": " << Json::number(h[i].seconds)
          << ", \"val_seconds\": " << Json::number(h[i].val_seconds) << "}";
    j << "\n  ],\n  \"final_val_loss\": " << (h.empty() ? "null" : Json::number(h.back().val_loss))
      << "\n}\n";
    return j.str();
}

// Writes a picture as SVG, and also as PNG when libpng is available; returns e.g.
// "latent.svg, .png".
template <class Write>
std::string both_formats(const fs::path& stem, Write&& write) {
    write(stem.string() + ".svg");
    if (!EMBEDKIT_HAS_PNG) return stem.filename().string() + ".svg";
    write(stem.string() + ".png");
    return stem.filename().string() + ".svg, .png";
}

int run(int argc, char** argv) {
    example::Flags flags(
        "mnist_vae",
        "Trains a variational autoencoder on MNIST (the classic Keras example, with correct\n"
        "sampling) and writes the 2-D latent space of the test set as pictures.");
    example::add_data_flags(flags);
    flags.add("--out", "out/mnist_vae", "output folder");
    flags.add("--epochs", "50", "training epochs");
    flags.add("--latent", "2", "latent dimensions");
    flags.add("--batch", "100", "batch size");
    flags.add("--seed", "42", "random seed (weights, shuffling, sampling)");
    flags.add_switch("--resume", "continue from the checkpoint in --out if there is one");
    if (!flags.parse(argc, argv)) return 0;

    const long long epochs = flags.integer("--epochs", 0, 100000);
    const long long latent = flags.integer("--latent", 1, 4096);
    const long long batch = flags.integer("--batch", 1, 60000);
    const long long seed = flags.integer("--seed", 0, std::numeric_limits<long long>::max());
    const fs::path out = flags.str("--out");
    const std::string dir = example::find_mnist(flags, "mnist_vae");

    const auto train = ek::io::load_mnist(dir, ek::io::MnistSplit::train);
    const auto test = ek::io::load_mnist(dir, ek::io::MnistSplit::test);
    fs::create_directories(out);
    std::cout << "embedkit " << ek::version()
              << " | kernels: " << ek::simd::level_name(ek::simd::active())
              << " | Eigen: " << Eigen::SimdInstructionSetsInUse() << "\n"
              << "MNIST from " << dir << ": " << train.images.rows() << " training, "
              << test.images.rows() << " test images\n";

    ek::models::VAEOptions options;
    options.latent = static_cast<Eigen::Index>(latent);
    ek::Rng rng(static_cast<std::uint64_t>(seed));
    ek::models::VAE<float> vae(options, rng);
    ek::nn::Adam<float> adam;  // Keras defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-7
    ek::models::FitOptions fit;
    fit.epochs = static_cast<int>(epochs);
    fit.batch_size = static_cast<Eigen::Index>(batch);
    fit.checkpoint_path = (out / "checkpoint.ekc").string();
    fit.resume = flags.on("--resume");
    const std::string metrics_path = (out / "metrics.json").string();
    ek::nn::History so_far;
    fit.on_epoch_end = [&](const ek::nn::EpochStats& e) {
        so_far.push_back(e);
        example::write_text_atomic(metrics_path,
                                   metrics_json(so_far, options, batch, seed, epochs));
    };
    if (fit.resume && fs::exists(fit.checkpoint_path))
        std::cout << "resuming from " << fit.checkpoint_path << "\n";
    std::cout << "training " << epochs << " epochs, batch " << batch << ", latent " << latent
              << ", seed " << seed << "\n";
    const ek::nn::History history = vae.fit(train.images, test.images, fit, adam, rng);
    example::write_text_atomic(metrics_path, metrics_json(history, options, batch, seed, epochs));
    vae.save((out / "vae.ekm").string());

    // Embeddings: the mean of q(z|x) for every test image.
    const ek::RowMatrixF z = vae.encode(test.images);
    ek::io::write_npy((out / "embeddings.npy").string(), z);
    ek::io::write_npy((out / "labels.npy").string(), test.labels);

    ek::viz::ScatterOptions scatter;
    scatter.title =
        latent == 2 ? "MNIST test set in the VAE latent space" : "MNIST test set, VAE latent (PCA)";
    scatter.legend_title = "digit";
    scatter.x_label = latent == 2 ? "z[0]" : "PC 1";
    scatter.y_label = latent == 2 ? "z[1]" : "PC 2";
    const ek::RowMatrixF points = example::project_2d(z);
    const std::string latent_files = both_formats(out / "latent", [&](const std::string& p) {
        ek::viz::save_scatter(p, points, test.labels, scatter);
    });

    ek::viz::ImageGridOptions pairs;
    pairs.columns = 16;
    pairs.title = "test images (top) and their reconstructions (bottom)";
    const ek::RowMatrixF originals = test.images.topRows(32);
    const ek::RowMatrixF rebuilt = vae.reconstruct(originals);
    const std::string rec_files = both_formats(out / "reconstructions", [&](const std::string& p) {
        ek::viz::save_image_pairs(p, originals, rebuilt, 28, 28, pairs);
    });

    std::string grid_files = "(latent grid only for --latent 2)";
    if (latent == 2) {
        // The decoder over a 20 x 20 grid of the latent plane, z in [-3, 3]² (the prior's bulk).
        const int side = 20;
        ek::RowMatrixF grid_z(side * side, 2);
        for (int r = 0; r < side; ++r)
            for (int c = 0; c < side; ++c) {
                grid_z(r * side + c, 0) = -3.0f + 6.0f * static_cast<float>(c) / (side - 1);
                grid_z(r * side + c, 1) = 3.0f - 6.0f * static_cast<float>(r) / (side - 1);
            }
        const ek::RowMatrixF decoded = vae.decode(grid_z);
        ek::viz::ImageGridOptions grid;
        grid.columns = side;
        grid.scale = 1;
        grid.padding = 0;
        grid.title = "decoder over the latent plane, z in [-3, 3]^2";
        grid_files = both_formats(out / "latent_grid", [&](const std::string& p) {
            ek::viz::save_image_grid(p, decoded, 28, 28, grid);
        });
    }

    example::print_seed_comparison(z, test.labels);
    if (!history.empty())
        std::cout << "\nfinal epoch " << history.back().epoch << ": loss " << history.back().loss
                  << ", val_loss " << history.back().val_loss << "\n";
    std::cout << "\nwrote to " << out.string() << "/:\n"
              << "  " << latent_files << "    test-set latent space by digit\n"
              << "  " << rec_files << "    originals and reconstructions\n"
              << "  " << grid_files << "    decoder over the latent plane\n"
              << "  embeddings.npy, labels.npy    " << z.rows() << " x " << z.cols()
              << " float32, uint8\n"
              << "  vae.ekm                       the model (docs/FORMAT.md)\n"
              << "  checkpoint.ekc                resume with --resume\n"
              << "  metrics.json                  loss, val_loss and seconds per epoch\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ek::Error& e) {
        std::cerr << "mnist_vae: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "mnist_vae: unexpected error: " << e.what() << "\n";
        return 3;
    }
}
