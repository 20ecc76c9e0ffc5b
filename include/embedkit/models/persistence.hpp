// Saving, loading and checkpointing models: the one place that knows both nn/ and io/.
//
// A model supplies what is its own and nothing more (see "The model interface" below): its
// kind, the options that describe its architecture, the layout of its networks, and its
// parameters. Saving, loading (without drawing random weights), optimiser state and
// checkpoints are written once, here, for every model.
#pragma once

#include "../core/error.hpp"
#include "../core/progress.hpp"
#include "../core/random.hpp"
#include "../core/types.hpp"
#include "../io/detail/path.hpp"
#include "../io/model_file.hpp"
#include "../nn/activation.hpp"
#include "../nn/init.hpp"
#include "../nn/layer.hpp"
#include "../nn/optim.hpp"
#include "../nn/trainer.hpp"
#include "networks.hpp"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models {

// The model interface, for a model class M with scalar type S:
//   using Scalar = S; using Options = ...;
//   static std::string kind();                    the model-file kind, e.g. "embedkit.vae"
//   template <class O, class Field> static void architecture(O& options, Field&& field);
//       calls field("name", options.member) for every option the file records (O is
//       Options or const Options); the member types are Eigen::Index, a list of them,
//       nn::Activation, or a type with attribute_text/parse_attribute overloads (ADL)
//   static Layout layout(const Options&);         its networks; ArgumentError for bad options
//   M(const Options&, nn::ZeroWeights);           built without drawing random numbers
//   const Options& options() const;
//   std::vector<nn::Parameter<S>> parameters();   and parameters() const (ConstParameter)

namespace detail {

/// "784,256,128" from {784, 256, 128}.
inline std::string join_sizes(const std::vector<Eigen::Index>& sizes) {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
    return s;
}

/// Parses "784,256,128" (possibly empty); throws FormatError naming the attribute on
/// anything else, a zero size included.
inline std::vector<Eigen::Index> parse_sizes(const std::string& text, const std::string& key) {
    std::vector<Eigen::Index> out;
    if (text.empty()) return out;
    std::size_t pos = 0;
    while (true) {
        const std::size_t comma = text.find(',', pos);
        const std::string item =
            text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        // At most 9 digits: sizes stay far below 2^63 and their products below 2^63 too.
        if (item.empty() || item.size() > 9 ||
            item.find_first_not_of("0123456789") != std::string::npos)
            throw FormatError("embedkit::models: attribute '" + key +
                              "' must be a list of positive sizes, got '" + text + "'");
        const long long v = std::stoll(item);
        if (v <= 0)
            throw FormatError("embedkit::models: attribute '" + key + "' has a zero size: '" +
                              text + "'");
        out.push_back(static_cast<Eigen::Index>(v));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

// Attribute codecs of the option types every model uses; a model's own enumerations bring
// theirs (found by argument-dependent lookup).
inline std::string attribute_text(Eigen::Index v) { return std::to_string(v); }
inline std::string attribute_text(const std::vector<Eigen::Index>& v) { return join_sizes(v); }
inline std::string attribute_text(nn::Activation a) { return nn::activation_name(a); }

inline void parse_attribute(const std::string& text, const std::string& key, Eigen::Index& out) {
    const auto v = parse_sizes(text, key);
    if (v.size() != 1)
        throw FormatError("embedkit::models: attribute '" + key + "' must be one size, got '" +
                          text + "'");
    out = v[0];
}
inline void parse_attribute(const std::string& text, const std::string& key,
                            std::vector<Eigen::Index>& out) {
    out = parse_sizes(text, key);
}
inline void parse_attribute(const std::string& text, const std::string& key, nn::Activation& out) {
    try {
        out = nn::parse_activation(text);
    } catch (const ArgumentError& e) {
        throw FormatError("embedkit::models: attribute '" + key + "': " + e.what());
    }
}

template <class Scalar>
const char* scalar_name() noexcept {
    return sizeof(Scalar) == 4 ? "float32" : "float64";
}

}  // namespace detail

/// Writes the model's kind, architecture attributes and parameters into `file`.
template <class Model>
void write_model(io::ModelFile& file, const Model& model) {
    using detail::attribute_text;
    if (file.kind.empty()) file.kind = Model::kind();
    Model::architecture(model.options(), [&](const char* key, const auto& value) {
        file.set_attribute(key, attribute_text(value));
    });
    file.set_attribute("scalar", detail::scalar_name<typename Model::Scalar>());
    for (const auto& p : model.parameters()) file.add(p.name, p.values());
}

/// Reads the parameters stored in `file` into `model`, whose architecture must be the one the
/// file records. Throws FormatError naming the attribute that differs ("another
/// architecture"), a tensor that is missing or has another shape or dtype, or a parameter
/// holding NaN or Inf (a model file is a trained model: a non-finite weight would only turn
/// every output into NaN).
template <class Model>
void read_weights(const io::ModelFile& file, Model& model) {
    using detail::attribute_text;
    Model::architecture(model.options(), [&](const char* key, const auto& value) {
        const std::string& stored = file.attribute(key);
        const std::string mine = attribute_text(value);
        if (stored != mine)
            throw FormatError("embedkit::models: the file's " + file.kind + " has " + key + " = '" +
                              stored + "', this model has '" + mine + "' (another architecture)");
    });
    for (const auto& p : model.parameters()) {
        auto m = p.values();
        file.read_into(p.name, m);
        if (!m.allFinite())
            throw FormatError("embedkit::models: " + file.where() + ": parameter '" + p.name +
                              "' holds NaN or Inf (saved from a diverged run?)");
    }
}

/// Saves `model` atomically in the model-file format (docs/FORMAT.md). Throws IoError.
template <class Model>
void save_model(const Model& model, const std::string& path) {
    io::ModelFile file;
    write_model(file, model);
    io::save_model_file(path, file);
}

/// Loads a model written by save_model: its options come from the file's attributes, the
/// model is built with zero weights (no random numbers drawn) and the stored values are read
/// into it. Before anything is allocated, the file must store at least as many values as the
/// architecture it describes has parameters, so damaged or forged sizes (a hidden width of
/// 999999999) are a FormatError naming the file, never a huge allocation. Throws IoError
/// (missing file) or FormatError (another kind, corrupt, malformed or inconsistent
/// attributes, tensors that do not match, a NaN or Inf weight).
template <class Model>
Model load_model(const std::string& path) {
    const io::ModelFile file = io::load_model_file(path, Model::kind());
    const std::string fn = "embedkit::models::load: '" + path + "' (" + Model::kind() + ")";
    typename Model::Options options;
    Model::architecture(options, [&](const char* key, auto& value) {
        using detail::parse_attribute;
        try {
            parse_attribute(file.attribute(key), key, value);
        } catch (const FormatError& e) {
            throw FormatError(fn + ": " + e.what());  // name the file
        }
    });
    Layout layout;
    try {
        layout = Model::layout(options);
    } catch (const ArgumentError& e) {
        throw FormatError(fn + ": " + e.what());
    }
    const std::uint64_t need = parameter_count(layout);
    std::uint64_t stored = 0;  // bounded by the file's size: no overflow
    for (const auto& t : file.tensors) {
        const std::size_t item = io::dtype_size(t.dtype);
        if (item > 0) stored += t.bytes.size() / item;
    }
    if (need > stored)
        throw FormatError(fn + " describes an architecture of " + std::to_string(need) +
                          " parameters but stores only " + std::to_string(stored) +
                          " values (damaged size attributes?)");
    Model model(options, nn::zero_weights);
    read_weights(file, model);
    return model;
}

/// Gives a model class `save(path)` and a static `load(path)` (CRTP: `class M : public
/// Persistent<M>`).
template <class Model>
class Persistent {
public:
    /// Saves atomically in the model-file format (docs/FORMAT.md). Throws IoError.
    void save(const std::string& path) const { save_model(static_cast<const Model&>(*this), path); }
    /// Loads a model written by `save` (see load_model).
    static Model load(const std::string& path) { return load_model<Model>(path); }
};

// ---------------------------------------------------------------------------------------------
// Optimiser state

/// Writes an optimiser's state as the tensors "<prefix>step", "<prefix>count" and
/// "<prefix>slot<k>.<i>" (state vector k of parameter i), with its name as attribute
/// "<prefix>name".
template <class Scalar>
void write_optimizer_state(io::ModelFile& file, const std::string& prefix,
                           const nn::Optimizer<Scalar>& opt) {
    file.set_attribute(prefix + "name", opt.name());
    file.add_scalar(prefix + "step", opt.steps());
    file.add_scalar(prefix + "count", static_cast<std::uint64_t>(opt.slots().size()));
    for (std::size_t i = 0; i < opt.slots().size(); ++i)
        for (std::size_t k = 0; k < opt.slots()[i].size(); ++k)
            file.add(prefix + "slot" + std::to_string(k) + "." + std::to_string(i),
                     opt.slots()[i][k]);
}

/// Restores the state written by write_optimizer_state for the parameter list `params` (the
/// model's `parameters()`, in the order `step` will get them). Everything is checked before
/// the state is replaced, so a forged or damaged checkpoint never resumes into a state that
/// `step` would turn into NaN. Throws FormatError, naming the file and the tensor, when the
/// state was written by another optimiser, is incomplete, holds state for another number of
/// parameters (0 after steps were taken included), has a slot whose length differs from its
/// parameter's, a NaN or Inf in a slot, a negative value where the optimiser keeps squares
/// (Adam's second moment), or a step counter at 2^64 - 1 that the next step could not
/// increment.
template <class Scalar>
void read_optimizer_state(const io::ModelFile& file, const std::string& prefix,
                          nn::Optimizer<Scalar>& opt,
                          const std::vector<nn::Parameter<Scalar>>& params) {
    const std::string fn = "embedkit::models::read_optimizer_state: ";
    const auto fail = [&](const std::string& key, const std::string& what) {
        throw FormatError(fn + file.where() + ": tensor '" + key + "' " + what);
    };
    const std::string stored = file.attribute(prefix + "name");
    if (stored != opt.name())
        throw FormatError(fn + "the file holds the state of '" + stored + "', this optimiser is '" +
                          opt.name() + "'");
    const auto count = file.scalar<std::uint64_t>(prefix + "count");
    const std::size_t per = opt.slots_per_parameter();
    // Each slot is a tensor of the file, so a count the file cannot hold is refused before
    // the state is allocated (a forged count would otherwise be a huge allocation).
    if (count > file.tensors.size() / std::max<std::size_t>(1, per))
        throw FormatError(fn + file.where() + " records the state of " + std::to_string(count) +
                          " parameters but holds only " + std::to_string(file.tensors.size()) +
                          " tensors");
    const auto steps = file.scalar<std::uint64_t>(prefix + "step");
    // The next step increments the counter; at 2^64 - 1 it would wrap to 0, and Adam's bias
    // correction 1 - beta1^0 = 0 would divide by zero.
    if (steps == std::numeric_limits<std::uint64_t>::max())
        fail(prefix + "step", "is 2^64 - 1, the next step could not increment it");
    // No state at all is a fresh optimiser (it sizes its state on the first step); after
    // steps were taken it would silently restart the moments, so the count must match.
    if (count != params.size() && !(count == 0 && steps == 0))
        fail(prefix + "count", "records the state of " + std::to_string(count) +
                                   " parameters after " + std::to_string(steps) +
                                   " steps, the model has " + std::to_string(params.size()));
    std::vector<std::vector<Vector<Scalar>>> slots(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < slots.size(); ++i) {
        slots[i].resize(per);
        for (std::size_t k = 0; k < per; ++k) {
            const std::string key = prefix + "slot" + std::to_string(k) + "." + std::to_string(i);
            const auto& t = file.tensor(key);
            if (t.shape.size() != 1) fail(key, "is not 1-D");
            if (t.shape[0] != static_cast<std::uint64_t>(params[i].size()))
                fail(key, "has " + std::to_string(t.shape[0]) + " values, parameter " +
                              std::to_string(i) + " ('" + params[i].name + "') has " +
                              std::to_string(params[i].size()));
            auto& slot = slots[i][k];
            slot.resize(params[i].size());
            file.read_into(key, slot);
            const std::string problem = opt.slot_problem(k, slot);
            if (!problem.empty()) fail(key, problem);
        }
    }
    opt.set_state(steps, std::move(slots), params);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/// The contents of a checkpoint (model, optimiser state, epoch, Rng state, history, and the
/// batch size and training rows a resume must match) as a model file of kind
/// "<model kind>.checkpoint".
template <class Model>
io::ModelFile checkpoint_file(const Model& model, const nn::Optimizer<typename Model::Scalar>& opt,
                              const Rng& rng, const nn::History& history, Eigen::Index batch_size,
                              Eigen::Index train_rows) {
    io::ModelFile file;
    file.kind = Model::kind() + ".checkpoint";
    write_model(file, model);
    write_optimizer_state(file, "optimizer.", opt);
    file.set_attribute("fit.batch_size", std::to_string(batch_size));
    file.set_attribute("fit.train_rows", std::to_string(train_rows));
    file.add_scalar("fit.epoch", static_cast<std::uint64_t>(history.size()));
    const auto& s = rng.state();
    file.add("rng.state", std::vector<std::uint64_t>(s.begin(), s.end()));
    std::vector<double> loss, val, sec, vsec, vacc, rate;
    for (const auto& e : history) {
        loss.push_back(e.loss);
        val.push_back(e.val_loss);
        sec.push_back(e.seconds);
        vsec.push_back(e.val_seconds);
        vacc.push_back(e.val_accuracy);
        rate.push_back(e.learning_rate);
    }
    file.add("history.loss", loss);
    file.add("history.val_loss", val);
    file.add("history.seconds", sec);
    file.add("history.val_seconds", vsec);
    file.add("history.val_accuracy", vacc);
    file.add("history.learning_rate", rate);
    return file;
}

/// Writes checkpoint_file(...) atomically to `path`. Throws IoError.
template <class Model>
void save_checkpoint(const std::string& path, const Model& model,
                     const nn::Optimizer<typename Model::Scalar>& opt, const Rng& rng,
                     const nn::History& history, Eigen::Index batch_size, Eigen::Index train_rows) {
    io::save_model_file(path, checkpoint_file(model, opt, rng, history, batch_size, train_rows));
}

/// Restores a checkpoint into `model`, `opt` and `rng` and returns its history. Throws
/// ArgumentError when it was written with another batch size or number of training rows (the
/// resumed run would not be the same run), FormatError for another kind or architecture, a
/// damaged or inconsistent file (nothing is half-restored into the optimiser), IoError.
template <class Model>
nn::History load_checkpoint(const std::string& path, Model& model,
                            nn::Optimizer<typename Model::Scalar>& opt, Rng& rng,
                            Eigen::Index batch_size, Eigen::Index train_rows) {
    const io::ModelFile file = io::load_model_file(path, Model::kind() + ".checkpoint");
    const std::string fn = "embedkit::models::load_checkpoint: '" + path + "'";
    if (file.attribute("fit.batch_size") != std::to_string(batch_size))
        throw ArgumentError(fn + " was written with batch size " +
                            file.attribute("fit.batch_size") + ", this run uses " +
                            std::to_string(batch_size) +
                            "; resuming would not continue the same run");
    if (file.attribute("fit.train_rows") != std::to_string(train_rows))
        throw ArgumentError(fn + " was written for " + file.attribute("fit.train_rows") +
                            " training rows, this run has " + std::to_string(train_rows));
    read_weights(file, model);
    read_optimizer_state(file, "optimizer.", opt, model.parameters());
    const auto words = file.read_vector<std::uint64_t>("rng.state");
    if (words.size() != 4)
        throw FormatError(fn + ": rng.state must hold 4 words, got " +
                          std::to_string(words.size()));
    if ((words[0] | words[1] | words[2] | words[3]) == 0)
        throw FormatError(fn + ": rng.state is all zeros, which is not a generator state");
    rng.set_state({words[0], words[1], words[2], words[3]});
    const auto epochs = file.scalar<std::uint64_t>("fit.epoch");
    const auto loss = file.read_vector<double>("history.loss");
    const auto val = file.read_vector<double>("history.val_loss");
    const auto sec = file.read_vector<double>("history.seconds");
    const auto vsec = file.read_vector<double>("history.val_seconds");
    const auto vacc = file.read_vector<double>("history.val_accuracy");
    if (loss.size() != epochs || val.size() != epochs || sec.size() != epochs ||
        vsec.size() != epochs || vacc.size() != epochs)
        throw FormatError(fn + ": history length does not match its epoch count " +
                          std::to_string(epochs));
    // Checkpoints written before the rates were recorded have no history.learning_rate.
    std::vector<double> rate(epochs, std::numeric_limits<double>::quiet_NaN());
    if (file.has_tensor("history.learning_rate")) {
        rate = file.read_vector<double>("history.learning_rate");
        if (rate.size() != epochs)
            throw FormatError(fn + ": history length does not match its epoch count " +
                              std::to_string(epochs));
    }
    nn::History history;
    for (std::size_t i = 0; i < loss.size(); ++i)
        history.push_back(
            {static_cast<int>(i + 1), loss[i], val[i], sec[i], vsec[i], vacc[i], rate[i]});
    return history;
}

/// The fit-loop callback that writes a checkpoint after every epoch and, with `resume`,
/// restores the run from `path` before the first epoch when that file exists (the run then
/// proceeds exactly as if it had never stopped).
template <class Model>
class CheckpointCallback final : public nn::FitCallback {
public:
    CheckpointCallback(std::string path, bool resume, Model& model,
                       nn::Optimizer<typename Model::Scalar>& opt, Rng& rng,
                       Eigen::Index batch_size, Eigen::Index train_rows)
        : path_(std::move(path)),
          resume_(resume),
          model_(model),
          opt_(opt),
          rng_(rng),
          batch_size_(batch_size),
          train_rows_(train_rows) {}

    void on_fit_begin(nn::History& history) override {
        if (resume_ && embedkit::detail::path_exists(path_))
            history = load_checkpoint(path_, model_, opt_, rng_, batch_size_, train_rows_);
    }
    void on_epoch_end(const nn::EpochStats&, const nn::History& history) override {
        save_checkpoint(path_, model_, opt_, rng_, history, batch_size_, train_rows_);
    }

private:
    std::string path_;
    bool resume_;
    Model& model_;
    nn::Optimizer<typename Model::Scalar>& opt_;
    Rng& rng_;
    Eigen::Index batch_size_, train_rows_;
};

/// Settings of a model's `fit`: the loop's (nn::FitOptions) plus the progress display and
/// checkpoints, which `fit` wires into the loop as callbacks.
struct FitOptions : nn::FitOptions {
    FitOptions() = default;
    /// The loop's settings with the defaults below (progress shown, no checkpoints).
    FitOptions(const nn::FitOptions& loop) : nn::FitOptions(loop) {}  // NOLINT: implicit on purpose

    /// Progress display: a bar with loss and ETA on a terminal, one line per epoch otherwise.
    ProgressOptions progress;
    /// When set, an atomic checkpoint (model, optimiser state, epoch, Rng state, history) is
    /// written here after every epoch.
    std::string checkpoint_path;
    /// Continue from `checkpoint_path` when that file exists (the run then proceeds exactly as
    /// if it had never stopped); start afresh when it does not.
    bool resume = false;
};

/// Runs `loop(nn_options)` (a model's training loop) with the checkpoint and progress
/// callbacks of `options` placed before the caller's own. `train_rows` identifies the data in
/// the checkpoint (a resume on other data is refused). A NumericError (the loss became NaN)
/// then also names the last checkpoint, which it leaves untouched.
template <class Model, class Loop>
nn::History fit_with_callbacks(Model& model, const FitOptions& options,
                               nn::Optimizer<typename Model::Scalar>& optimizer, Rng& rng,
                               Eigen::Index train_rows, Loop&& loop) {
    if (options.resume && options.checkpoint_path.empty())
        throw ArgumentError("embedkit::models::fit: resume needs a checkpoint_path");
    nn::FitOptions run = options;
    run.callbacks.clear();
    if (!options.checkpoint_path.empty())
        run.callbacks.push_back(std::make_shared<CheckpointCallback<Model>>(
            options.checkpoint_path, options.resume, model, optimizer, rng, options.batch_size,
            train_rows));
    run.callbacks.push_back(std::make_shared<nn::ProgressCallback>(options.progress));
    run.callbacks.insert(run.callbacks.end(), options.callbacks.begin(), options.callbacks.end());
    try {
        return loop(static_cast<const nn::FitOptions&>(run));
    } catch (const NumericError& e) {
        if (options.checkpoint_path.empty()) throw;
        throw NumericError(std::string(e.what()) + "; the last checkpoint '" +
                           options.checkpoint_path + "' is untouched");
    }
}

}  // namespace embedkit::models
