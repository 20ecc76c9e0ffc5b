// Umbrella header: includes every public embedkit header.
#pragma once

#include "version.hpp"

#include "core/compact.hpp"
#include "core/config.hpp"
#include "core/denormals.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/profile.hpp"
#include "core/progress.hpp"
#include "core/random.hpp"
#include "core/threads.hpp"
#include "core/types.hpp"

#include "distance/compact.hpp"
#include "distance/compact_kernels.hpp"
#include "distance/cpu.hpp"
#include "distance/dispatch.hpp"
#include "distance/metric.hpp"
#include "distance/pair.hpp"
#include "distance/pairwise.hpp"
#include "distance/topk.hpp"

#include "linalg/gemm.hpp"
#include "linalg/packed_linear.hpp"

#include "data/pairs.hpp"

#include "io/atomic_file.hpp"
#include "io/compact_npy.hpp"
#include "io/json.hpp"
#include "io/mnist.hpp"
#include "io/model_file.hpp"
#include "io/npy.hpp"
#include "io/safetensors.hpp"

#include "nn/activation.hpp"
#include "nn/dense.hpp"
#include "nn/gradcheck.hpp"
#include "nn/init.hpp"
#include "nn/layer.hpp"
#include "nn/loss.hpp"
#include "nn/optim.hpp"
#include "nn/sequential.hpp"
#include "nn/trainer.hpp"

#include "eval/knn.hpp"

#include "models/autoencoder.hpp"
#include "models/networks.hpp"
#include "models/persistence.hpp"
#include "models/siamese.hpp"
#include "models/vae.hpp"

#include "text/wordpiece.hpp"

#include "viz/image_grid.hpp"
#include "viz/scatter.hpp"
