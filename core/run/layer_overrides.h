// Per-layer recipe overrides of a run: "PATTERN=RECIPE", PATTERN a glob (* and ?) on layer
// names such as "model.layers.*.mlp.down_proj". Rule: the LAST override whose pattern
// matches a layer gives its recipe (so general patterns come first and specific ones after,
// as later command-line options win); layers no pattern matches get the run's recipe.
// Override recipes are weight-only (RTN, casts, NF4/FP4, llama.cpp formats): no
// calibration-fitted method (GPTQ/AWQ) and no activation side, so that an overridden layer
// is the same whatever the run's recipe fits to. Plain C++ (no torch).
#pragma once

#include "quant/recipe.h"

#include <string>
#include <vector>

namespace ql {

struct RecipeOverride {
    std::string pattern;  // glob on the layer name
    std::string recipe;   // recipe text
};

// "PATTERN=RECIPE" (split at the last '='). Throws ql::Error naming the text for a missing
// '=', an empty pattern, an unparsable or not weight-only recipe.
RecipeOverride parseOverride(const std::string& text);

// Checks one override (as parseOverride); throws ql::Error naming it.
Recipe checkOverride(const RecipeOverride& o);

// The recipe of each layer in `layerNames` (same order): the last matching override, else
// `base`. Throws ql::Error for an override whose pattern matches none of the layers (a
// typo would otherwise silently quantize everything with the base recipe).
std::vector<Recipe> layerRecipes(const std::vector<std::string>& layerNames, const Recipe& base,
                                 const std::vector<RecipeOverride>& overrides);

// "model.layers.*.mlp.down_proj=rtn:int8:channel:sym"
std::string overrideText(const RecipeOverride& o);

// Layers grouped by recipe, in order of first appearance; group 0 is the base recipe's
// layers (possibly empty), the others the overrides' (quantized first, see run.cpp).
struct RecipeGroup {
    Recipe recipe;
    std::vector<std::string> layers;
};
std::vector<RecipeGroup> groupByRecipe(const std::vector<std::string>& layerNames,
                                       const Recipe& base,
                                       const std::vector<RecipeOverride>& overrides);

}  // namespace ql
