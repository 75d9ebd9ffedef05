// Layer selection: name globs, kinds, minimum size; and the projection list of a
// checkpoint read from tensor names alone (weights-only runs do not build a model).
#include "base/error.h"
#include "run/run_internal.h"

#include <algorithm>

namespace ql {

bool globMatch(const std::string& pattern, const std::string& text) {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion.
    size_t p = 0, t = 0, starP = std::string::npos, starT = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            starP = p++;
            starT = t;
        } else if (starP != std::string::npos) {
            p = starP + 1;
            t = ++starT;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

namespace {

bool anyGlob(const std::vector<std::string>& globs, const std::string& name) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return globMatch(g, name); });
}

const std::vector<std::string>& knownKinds() {
    static const std::vector<std::string> kinds = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                   "gate_proj", "up_proj", "down_proj"};
    return kinds;
}

}  // namespace

std::vector<LinearLayerInfo> selectLayers(const std::vector<LinearLayerInfo>& all,
                                          const LayerSelection& selection) {
    for (const auto& k : selection.kinds) {
        if (std::find(knownKinds().begin(), knownKinds().end(), k) == knownKinds().end())
            throw Error("unknown layer kind '" + k +
                        "' (expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or "
                        "down_proj)");
    }
    std::vector<LinearLayerInfo> out;
    for (const auto& l : all) {
        const std::string kind = projKindName(l.kind);
        if (!selection.include.empty() && !anyGlob(selection.include, l.name)) continue;
        if (anyGlob(selection.exclude, l.name)) continue;
        if (!selection.kinds.empty() && std::find(selection.kinds.begin(), selection.kinds.end(),
                                                  kind) == selection.kinds.end())
            continue;
        if (l.outFeatures * l.inFeatures < selection.minParameters) continue;
        out.push_back(l);
    }
    if (out.empty())
        throw Error("the layer selection matches none of the model's " +
                    std::to_string(all.size()) + " projection layers");
    return out;
}

std::vector<LinearLayerInfo> checkpointLinears(const TensorStore& store, int numLayers) {
    static const std::pair<const char*, ProjKind> kinds[] = {
        {"self_attn.q_proj", ProjKind::Q}, {"self_attn.k_proj", ProjKind::K},
        {"self_attn.v_proj", ProjKind::V}, {"self_attn.o_proj", ProjKind::O},
        {"mlp.gate_proj", ProjKind::Gate}, {"mlp.up_proj", ProjKind::Up},
        {"mlp.down_proj", ProjKind::Down}};
    std::vector<LinearLayerInfo> out;
    for (int b = 0; b < numLayers; ++b) {
        for (const auto& [suffix, kind] : kinds) {
            LinearLayerInfo l;
            l.name = "model.layers." + std::to_string(b) + "." + suffix;
            const TensorInfo& t = store.get(l.name + ".weight");
            if (t.shape.size() != 2)
                throw Error("tensor '" + t.name + "' in '" + t.file + "' is not a matrix");
            l.block = b;
            l.kind = kind;
            l.outFeatures = t.shape[0];
            l.inFeatures = t.shape[1];
            l.hasBias = store.find(l.name + ".bias") != nullptr;
            out.push_back(l);
        }
    }
    return out;
}

}  // namespace ql
