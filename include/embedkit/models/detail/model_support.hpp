// Pieces the models share: parameter <-> model-file tensors, architecture attributes, data
// checks and batched inference.
#pragma once

#include "../../core/error.hpp"
#include "../../core/types.hpp"
#include "../../distance/detail/set_view.hpp"
#include "../../io/model_file.hpp"
#include "../../nn/layer.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace embedkit::models::detail {

/// "784,256,128" from {784, 256, 128}.
inline std::string join_sizes(const std::vector<Eigen::Index>& sizes) {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
    return s;
}

/// Parses "784,256,128"; throws FormatError naming the attribute on anything else.
inline std::vector<Eigen::Index> parse_sizes(const std::string& text, const std::string& what) {
    std::vector<Eigen::Index> out;
    std::size_t pos = 0;
    if (text.empty()) return out;
    while (pos <= text.size()) {
        const std::size_t comma = text.find(',', pos);
        const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (item.empty() || item.size() > 9 || item.find_first_not_of("0123456789") != std::string::npos)
            throw FormatError("embedkit::models: attribute '" + what + "' must be a list of positive sizes, got '" +
                              text + "'");
        const long long v = std::stoll(item);
        if (v <= 0) throw FormatError("embedkit::models: attribute '" + what + "' has a zero size: '" + text + "'");
        out.push_back(static_cast<Eigen::Index>(v));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

/// Parses one positive size attribute.
inline Eigen::Index parse_size(const std::string& text, const std::string& what) {
    const auto v = parse_sizes(text, what);
    if (v.size() != 1) throw FormatError("embedkit::models: attribute '" + what + "' must be one size, got '" + text + "'");
    return v[0];
}

/// Checks that the file's attribute `key` equals this model's `value`; FormatError otherwise.
inline void expect_attribute(const io::ModelFile& file, const std::string& key, const std::string& value) {
    const std::string& stored = file.attribute(key);
    if (stored != value)
        throw FormatError("embedkit::models: the file's " + file.kind + " has " + key + " = '" + stored +
                          "', this model has '" + value + "' (another architecture)");
}

/// Checks, before a model is built from a file's size attributes, that the file stores at
/// least as many values as that architecture has parameters. `layers` lists the (inputs,
/// outputs) of every dense layer (weights plus biases each). A file whose sizes were damaged
/// or forged (e.g. a hidden size of 999999999) is then a FormatError naming the file, never a
/// multi-terabyte allocation.
inline void check_parameter_budget(const io::ModelFile& file, const std::string& function,
                                   const std::vector<std::pair<Eigen::Index, Eigen::Index>>& layers) {
    constexpr std::uint64_t cap = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t need = 0;
    for (const auto& [in, out] : layers) {
        // parse_sizes admits at most 9 digits, so in * out + out < 2^63: only the sum can overflow.
        const std::uint64_t n = static_cast<std::uint64_t>(in) * static_cast<std::uint64_t>(out) +
                                static_cast<std::uint64_t>(out);
        need = need > cap - n ? cap : need + n;
    }
    std::uint64_t stored = 0;  // bounded by the file's size: no overflow
    for (const auto& t : file.tensors) {
        const std::size_t item = io::dtype_size(t.dtype);
        if (item > 0) stored += t.bytes.size() / item;
    }
    if (need > stored)
        throw FormatError(function + ": '" + file.source + "' describes an architecture of " + std::to_string(need) +
                          " parameters but stores only " + std::to_string(stored) +
                          " values (damaged size attributes?)");
}

/// Writes every parameter as a tensor under its name.
template <class Scalar>
void write_parameters(io::ModelFile& file, const std::vector<nn::Parameter<Scalar>>& params) {
    for (const auto& p : params) file.add(p.name, p.values());
}

/// Reads every parameter from the tensor of its name; shape or dtype mismatches throw
/// FormatError naming the tensor, and so does a NaN or Inf value (a model file is a trained
/// model: a non-finite weight would only turn every output into NaN).
template <class Scalar>
void read_parameters(const io::ModelFile& file, const std::vector<nn::Parameter<Scalar>>& params) {
    for (const auto& p : params) {
        auto m = p.values();
        file.read_into(p.name, m);
        if (!m.allFinite())
            throw FormatError("embedkit::models: " + file.where() + ": parameter '" + p.name +
                              "' holds NaN or Inf (saved from a diverged run?)");
    }
}

/// Checks that every value is finite and, when `unit_interval`, in [0, 1] (BCE targets).
template <class Scalar>
void check_values(const char* model, const char* fn, const char* what, const embedkit::detail::SetView<Scalar>& v,
                  bool unit_interval) {
    for (Eigen::Index r = 0; r < v.rows; ++r) {
        Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>> row(v.row(r), v.cols);
        if (!row.allFinite())
            throw ArgumentError(std::string("embedkit::models::") + model + "::" + fn + ": " + what + " row " +
                                std::to_string(r) + " holds NaN or Inf");
        if (unit_interval && v.cols > 0 && (row.minCoeff() < Scalar(0) || row.maxCoeff() > Scalar(1)))
            throw ArgumentError(std::string("embedkit::models::") + model + "::" + fn + ": " + what + " row " +
                                std::to_string(r) +
                                " has values outside [0, 1], which binary cross-entropy needs (scale pixels to [0, 1])");
    }
}

/// Runs `step(batch, result)` over `data` in batches of `batch_size` rows (step fills
/// `result`, out_cols wide) and stacks the results into one matrix. Every buffer is local, so
/// a const `step` makes the whole map safe to run on several threads at once.
template <class Scalar, class Step>
RowMatrix<Scalar> map_in_batches(const embedkit::detail::SetView<Scalar>& data, Eigen::Index batch_size,
                                 Eigen::Index out_cols, Step&& step) {
    RowMatrix<Scalar> out(data.rows, out_cols);
    RowMatrix<Scalar> buffer, result;
    for (Eigen::Index s = 0; s < data.rows; s += batch_size) {
        const Eigen::Index rows = std::min(batch_size, data.rows - s);
        buffer.resize(rows, data.cols);
        for (Eigen::Index r = 0; r < rows; ++r)
            std::memcpy(buffer.row(r).data(), data.row(s + r), sizeof(Scalar) * static_cast<std::size_t>(data.cols));
        step(static_cast<const RowMatrix<Scalar>&>(buffer), result);
        out.middleRows(s, rows) = result;
    }
    return out;
}

}  // namespace embedkit::models::detail
