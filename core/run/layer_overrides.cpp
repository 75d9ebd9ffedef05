// Per-layer recipe overrides (see layer_overrides.h).
#include "run/layer_overrides.h"

#include "base/error.h"
#include "quant/method_registry.h"
#include "run/run_internal.h"

namespace ql {

std::string overrideText(const RecipeOverride& o) {
    return o.pattern + "=" + o.recipe;
}

Recipe checkOverride(const RecipeOverride& o) {
    const std::string what = "override '" + overrideText(o) + "'";
    if (o.pattern.empty()) throw Error(what + ": the layer pattern is empty");
    if (o.recipe.empty()) throw Error(what + ": the recipe is empty");
    Recipe r;
    try {
        r = Recipe::parse(o.recipe);
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
    if (methodSpec(r.method).needsCalibration)
        throw Error(what + ": '" + methodName(r.method) +
                    "' fits to calibration data; an override must be weight-only (rtn, fp16, "
                    "bf16, nf4/fp4, llama.cpp formats)");
    if (r.quantizesActivations() || r.method == QuantMethod::LlmInt8)
        throw Error(what + ": an override cannot quantize activations (weight-only recipes)");
    return r;
}

RecipeOverride parseOverride(const std::string& text) {
    const auto eq = text.rfind('=');
    if (eq == std::string::npos)
        throw Error("override '" + text +
                    "': expected PATTERN=RECIPE, e.g. "
                    "'model.layers.*.mlp.down_proj=rtn:int8:channel:sym'");
    RecipeOverride o{text.substr(0, eq), text.substr(eq + 1)};
    checkOverride(o);
    return o;
}

std::vector<Recipe> layerRecipes(const std::vector<std::string>& layerNames, const Recipe& base,
                                 const std::vector<RecipeOverride>& overrides) {
    std::vector<Recipe> parsed;
    for (const RecipeOverride& o : overrides) parsed.push_back(checkOverride(o));
    std::vector<bool> used(overrides.size(), false);
    std::vector<Recipe> out;
    out.reserve(layerNames.size());
    for (const std::string& name : layerNames) {
        Recipe r = base;
        for (size_t i = overrides.size(); i-- > 0;) {  // last match wins
            if (!globMatch(overrides[i].pattern, name)) continue;
            r = parsed[i];
            used[i] = true;
            break;
        }
        out.push_back(r);
    }
    for (size_t i = 0; i < overrides.size(); ++i) {
        if (used[i]) continue;
        bool matchesAny = false;  // shadowed by a later override is fine; no match at all is not
        for (const std::string& name : layerNames)
            matchesAny = matchesAny || globMatch(overrides[i].pattern, name);
        if (!matchesAny)
            throw Error("override '" + overrideText(overrides[i]) +
                        "': the pattern matches none of the selected layers");
    }
    return out;
}

std::vector<RecipeGroup> groupByRecipe(const std::vector<std::string>& layerNames,
                                       const Recipe& base,
                                       const std::vector<RecipeOverride>& overrides) {
    const std::vector<Recipe> recipes = layerRecipes(layerNames, base, overrides);
    std::vector<RecipeGroup> groups{{base, {}}};
    const std::string baseText = base.toString();
    for (size_t i = 0; i < layerNames.size(); ++i) {
        const std::string text = recipes[i].toString();
        size_t g = 0;
        if (text != baseText) {
            g = 1;
            while (g < groups.size() && groups[g].recipe.toString() != text) ++g;
            if (g == groups.size()) groups.push_back({recipes[i], {}});
        }
        groups[g].layers.push_back(layerNames[i]);
    }
    return groups;
}

}  // namespace ql
