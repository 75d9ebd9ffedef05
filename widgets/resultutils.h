// Small helpers shared by the widgets: run handles, layer lookup, number formatting,
// SQNR levels and colours. Widgets only read RunResults; they never modify them.
#pragma once

#include "run/run.h"

#include <QColor>
#include <QString>

#include <memory>
#include <vector>

namespace ql {

// Runs cross threads and views as immutable shared values.
using RunPtr = std::shared_ptr<const RunResult>;
using RunList = std::vector<RunPtr>;

// Layer by full name, nullptr when the run has no such layer.
const LayerResult* findLayer(const RunResult& run, const std::string& name);

// "model.layers.3.self_attn.q_proj" -> "3.q_proj" (compact axis labels).
QString shortLayerName(const std::string& name, int block, const std::string& kind);

// Same thresholds as the engine's sqnrLevel: <10 critical, <20 warning, <30 fair, else good.
SqnrLevel sqnrLevelOf(double db);
// Row background for a level; `dark` picks a palette readable on dark themes.
QColor sqnrColor(SqnrLevel level, bool dark);
QString sqnrLevelName(SqnrLevel level);

QString formatBytes(double bytes);                  // "1.25 MiB"
QString formatCount(double n);                      // "260,032"
QString formatDb(double db);                        // "34.12" or "n/a" / "inf"
QString formatNumber(double v, int precision = 4);  // compact %g-like

// Display name of a run, unique enough for legends: label, else recipe.
QString runDisplayName(const RunResult& run);

// Fallbacks (a layer the recipe could not be applied to as asked: a group size that does
// not divide its rows goes per-channel, a llama.cpp block another type) as the layer table
// shows them: a "Fallback" column of "yes" / "no" with the reason as its tooltip; for a set
// of layers under one recipe, the run names' note "→ channel ×3 of 35" (every layer:
// "→ channel ×35"), or "(3 of 35 layers fell back)" for recipes without groups.
QString fallbackText(bool fallback);
QString fallbackNote(const std::string& recipe, size_t fell, size_t layers);  // empty: none
QString fallbackColumnTitle();                                                // "Fallback"

// Perplexity is only comparable between runs evaluated the same way: same model, evaluation
// text, protocol, sequence length and number of windows. Runs with equal keys share one
// float perplexity; deltas across keys mix the effect of quantization with the settings.
QString evalSettingKey(const RunResult& run);
// "gptq protocol · seq 256 · 17 windows · stories.txt"
QString evalSettingLabel(const RunResult& run);
// What differs between two runs' evaluation settings ("seq 256 vs 512"); empty when equal.
QString evalSettingDifference(const RunResult& a, const RunResult& b);
// Output SQNR is measured on calibration inputs: comparable only for equal keys.
QString calibrationKey(const RunResult& run);
QString calibrationLabel(const RunResult& run);  // "calib.txt · 16 × 256"

}  // namespace ql
