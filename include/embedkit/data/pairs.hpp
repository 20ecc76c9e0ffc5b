// Positive and negative pairs from labelled samples, seeded, for training Siamese networks.
#pragma once

#include "../core/error.hpp"
#include "../core/labels.hpp"
#include "../core/random.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace embedkit::data {

/// How many partners every sample gets in make_pairs.
struct PairOptions {
    std::size_t positives_per_sample =
        1;  ///< partners with the same label (never the sample itself)
    std::size_t negatives_per_sample = 1;  ///< partners with another label
};

/// Pairs of sample indices: pair p is (first[p], second[p]); similar[p] is 1 when the two
/// samples have the same label and 0 otherwise. The three vectors have equal length.
struct Pairs {
    std::vector<std::uint32_t> first, second;
    std::vector<std::uint8_t> similar;

    /// The number of pairs.
    std::size_t size() const noexcept { return first.size(); }
};

/// Pairs for every sample of a labelled set: labels[i] is the label of sample i, of any
/// integer type (uint8_t, int32_t, int64_t, uint64_t, ...; negative values allowed). Labels
/// are only compared, never narrowed: relabelling the classes (e.g. 300, 70000, -5, 2^40 to
/// 0..3, keeping their order) gives the same pairs.
///
/// For every sample i = 0, 1, ..., n-1 in order, first `positives_per_sample` pairs
/// (i, j) with j != i drawn uniformly from the other samples with i's label, then
/// `negatives_per_sample` pairs (i, j) with j drawn uniformly from all samples with another
/// label (so a label is picked in proportion to its frequency). Partners are drawn
/// independently, with replacement. Each partner costs exactly one rng.uniform_index() call,
/// in the order the pairs appear, so the result depends only on the labels, the options and
/// the generator's state (and the generator advances by n * (positives + negatives) draws).
/// Pair i * (positives + negatives) + t is sample i's t-th pair; the pairs are not shuffled.
///
/// With the defaults, n samples give 2n pairs, exactly half similar (MNIST's 60,000 training
/// labels: 120,000 pairs). Memory: the pairs plus three lists of n entries; time: one sort
/// of the labels plus the pairs.
///
/// Throws ArgumentError when `labels` is empty or has more than 2^32 - 1 entries, when
/// positives are requested and some label has a single sample (named in the message), when
/// negatives are requested and all samples share one label, or when the pair count overflows.
template <class L = std::uint8_t>  // the default serves braced lists: make_pairs({0, 1, 1, 0}, rng)
Pairs make_pairs(const std::vector<L>& labels, Rng& rng, const PairOptions& options = {}) {
    static_assert(is_label_type_v<L>,
                  "embedkit::data::make_pairs: labels must be a std::vector of an integer type "
                  "(uint8_t, int32_t, int64_t, ...), not bool or floating point");
    const std::string fn = "embedkit::data::make_pairs: ";
    const std::size_t n = labels.size();
    if (n == 0) throw ArgumentError(fn + "labels are empty");
    if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint32_t>::max())
        throw ArgumentError(
            fn + "at most 2^32 - 1 samples are supported (pair indices are 32-bit), got " +
            std::to_string(n));
    const std::size_t pos = options.positives_per_sample;
    const std::size_t neg = options.negatives_per_sample;
    const std::size_t per_sample = pos + neg;
    if (per_sample < pos ||
        (per_sample > 0 && n > std::numeric_limits<std::size_t>::max() / per_sample))
        throw ArgumentError(fn + "the number of pairs overflows: " + std::to_string(n) +
                            " samples x (" + std::to_string(pos) + " + " + std::to_string(neg) +
                            ") partners");

    // Dense classes 0..k-1 in ascending label order (for uint8_t labels the order of the
    // byte values, so the pairs are those of a table indexed by the byte).
    const auto cls = embedkit::detail::label_classes(labels);
    const std::size_t k = cls.count();
    // Counting sort of the sample indices by class: the samples of class c are
    // by_label[offset[c] .. offset[c] + count[c]), in increasing index order.
    std::vector<std::size_t> count(k, 0);
    for (std::size_t c : cls.classes) ++count[c];
    for (std::size_t c = 0; c < k; ++c)
        if (pos > 0 && count[c] == 1)
            throw ArgumentError(
                fn + "label " + embedkit::detail::label_to_string(cls.values[c]) +
                " has a single sample, so it has no positive partner (positives_per_sample = " +
                std::to_string(pos) + ")");
    if (neg > 0 && k < 2)
        throw ArgumentError(
            fn + "every sample has label " + embedkit::detail::label_to_string(labels[0]) +
            ", so there is no negative partner (negatives_per_sample = " + std::to_string(neg) +
            ")");

    std::vector<std::size_t> offset(k, 0);
    for (std::size_t c = 1; c < k; ++c) offset[c] = offset[c - 1] + count[c - 1];
    std::vector<std::uint32_t> by_label(n);
    {
        std::vector<std::size_t> next = offset;
        for (std::size_t i = 0; i < n; ++i)
            by_label[next[cls.classes[i]]++] = static_cast<std::uint32_t>(i);
    }

    Pairs out;
    const std::size_t total = n * per_sample;
    out.first.reserve(total);
    out.second.reserve(total);
    out.similar.reserve(total);
    // seen[c]: how many samples of class c precede the current one, i.e. the current
    // sample's position in its class's list (samples are visited in index order).
    std::vector<std::size_t> seen(k, 0);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t l = cls.classes[i];
        const std::size_t c = count[l];
        const std::size_t self = seen[l]++;
        const std::uint32_t* same = by_label.data() + offset[l];
        for (std::size_t t = 0; t < pos; ++t) {
            // A uniform position among the c - 1 others: skip over the sample's own position.
            std::size_t r = static_cast<std::size_t>(rng.uniform_index(c - 1));
            if (r >= self) ++r;
            out.first.push_back(static_cast<std::uint32_t>(i));
            out.second.push_back(same[r]);
            out.similar.push_back(1);
        }
        for (std::size_t t = 0; t < neg; ++t) {
            // A uniform position among the n - c samples outside the class's block of by_label.
            std::size_t r = static_cast<std::size_t>(rng.uniform_index(n - c));
            if (r >= offset[l]) r += c;
            out.first.push_back(static_cast<std::uint32_t>(i));
            out.second.push_back(by_label[r]);
            out.similar.push_back(0);
        }
    }
    return out;
}

}  // namespace embedkit::data
