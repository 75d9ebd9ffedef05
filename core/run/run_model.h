// A run's quantized model for inference (generate, bench-infer): its layers' after-weights
// (recomputed from the grid or the cast, read from stored codes or its checkpoint, as
// every other view of the run gets them) put into the float model it was made from,
// simulated in float32.
#pragma once

#include "run/run.h"

#include <string>
#include <vector>

namespace ql {

class Model;

// Restores `model`'s float weights, then sets every quantized layer of `run` (its
// after-weights). Returns notes for the user, e.g. that the run's activation side is not
// simulated. Throws ql::Error naming the run and layer when a layer is not in the model or
// has another shape (a run of another model), or its weights cannot be recomputed.
std::vector<std::string> applyRunWeights(Model& model, const RunResult& run);

// The layer check of applyRunWeights alone (nothing is changed): to refuse a run of another
// model before any work is done with the others.
void checkRunFitsModel(const Model& model, const RunResult& run);

}  // namespace ql
