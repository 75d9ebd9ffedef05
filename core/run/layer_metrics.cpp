// Per-layer weight analysis (metrics, real packed memory, histograms, grid) and
// re-binning of weights from the real data.
#include "base/atomic_write.h"
#include "base/error.h"
#include "base/parallel.h"
#include "io/dtype.h"
#include "quant/histogram.h"
#include "quant/method_registry.h"
#include "quant/quantize.h"
#include "quant/weight_analysis.h"
#include "run/checkpoint_source.h"
#include "run/run_internal.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace ql {

namespace {

// Bin range for data compared before/after: the union of both finite ranges.
Range sharedRange(const float* a, const float* b, size_t n) {
    return binnableRange(unionRange(finiteRange(a, n), finiteRange(b, n)));
}

// Byte count of a quantized layer from its real packed buffers (integer grids), or from the
// method's packed layout for methods that keep no codes here (casts, 4-bit codebooks).
uint64_t packedBytes(const LayerQuantization& lq, size_t n, int64_t rows, int64_t cols) {
    const MethodSpec& spec = methodSpec(lq.applied.method);
    // A checkpoint's layer: its bytes as the layout of the type it is stored in.
    if (spec.recompute || spec.bytesFromLayout || lq.fromCheckpoint)
        return spec.bytesFor(lq.applied, rows, cols);
    if (lq.codes.size() == n) return pack(lq.codes.data(), lq.grid).bytes();
    // No codes from the method: recompute them from the grid (same layout, same bytes).
    throw Error("layer '" + lq.name + "': the quantization returned no codes to pack");
}

bool gridReproduces(const LayerWeights& w, const LayerQuantization& lq) {
    std::vector<int32_t> q(w.n);
    std::vector<float> dq(w.n);
    quantizeWithGrid(w.original, lq.grid, q.data(), dq.data());
    return std::memcmp(dq.data(), w.after, w.n * sizeof(float)) == 0;
}

}  // namespace

void checkpointWeight(LayerQuantization& lq, const std::string& name,
                      const QuantizedCheckpoint& checkpoint, int64_t rows, int64_t cols) {
    QuantizedWeight w = checkpoint.layer(name, rows, cols);
    lq.name = name;
    lq.applied = Recipe::parse(w.method);
    lq.fallback = false;
    lq.fallbackReason.clear();
    lq.awqScales.clear();
    lq.outputSqnrDb = std::numeric_limits<double>::quiet_NaN();
    lq.codes.clear();
    lq.grid = QuantGrid();
    lq.dequant = std::move(w.values);
    lq.fromCheckpoint = true;
}

LayerPlace layerPlace(const ModelConfig& c, const LinearLayerInfo& layer) {
    const int gqa = c.numKvHeads > 0 ? std::max(1, c.numHeads / c.numKvHeads) : 1;
    return {layer.name, layer.outFeatures, layer.inFeatures, c.numLayers, gqa};
}

void quantizeWeightOnly(LayerQuantization& lq, const LayerPlace& place, const std::vector<float>& w,
                        const Recipe& recipe) {
    const int64_t rows = place.rows, cols = place.cols;
    lq.name = place.name;
    lq.applied = recipe;
    lq.fromCheckpoint = false;
    lq.fallback = false;
    lq.fallbackReason.clear();
    lq.awqScales.clear();
    lq.outputSqnrDb = std::numeric_limits<double>::quiet_NaN();
    const MethodSpec& spec = methodSpec(recipe.method);
    if (spec.recompute) {
        // llama.cpp formats whose block does not divide the row get another recipe, and
        // llama.cpp mixes choose one per layer.
        const ShapedRecipe shaped = recipeForLayer(recipe, place);
        lq.applied = shaped.recipe;
        lq.fallback = !shaped.fallbackReason.empty();
        lq.fallbackReason = shaped.fallbackReason;
        lq.codes.clear();
        lq.grid = QuantGrid();
        lq.dequant = methodSpec(lq.applied.method).recompute(lq.applied, w.data(), w.size());
        return;
    }
    if (recipe.needsCalibration())
        throw Error("recipe '" + recipe.toString() + "' needs calibration data");
    lq.applied = weightOnlyRecipeFor(recipe, cols, lq.fallbackReason);
    lq.fallback = !lq.fallbackReason.empty();
    lq.grid = computeGrid(w.data(), rows, cols, lq.applied);
    // resize() keeps the capacity of earlier (larger) layers: no new pages to fault in.
    lq.codes.resize(w.size());
    lq.dequant.resize(w.size());
    quantizeWithGrid(w.data(), lq.grid, lq.codes.data(), lq.dequant.data());
}

RowSource tensorRows(const TensorStore& store, const TensorInfo& tensor, int64_t cols) {
    return bytesRows(store.data(tensor), tensor.dtype, cols);
}

RowSource bytesRows(const unsigned char* bytes, DType dtype, int64_t cols) {
    const size_t element = dtypeSize(dtype);
    return [bytes, element, dtype, cols](int64_t row0, int64_t count, float* dst) {
        convertToFloat(dtype, bytes + size_t(row0 * cols) * element, size_t(count * cols), dst);
    };
}

const unsigned char* layerBytes(const TensorStore& store, const TensorInfo& tensor,
                                WeightOnlyBuffers& buf) {
    if (buf.rawName != tensor.name) {
        buf.rawName.clear();
        if (buf.raw.size() < tensor.byteSize) buf.raw.resize(size_t(tensor.byteSize));
        // In pieces on every compute thread: one thread copies ~5-6 GB/s out of the page cache,
        // a serial read was a sixth of a 1.5B analysis's wall time with the other core idle.
        constexpr uint64_t kPiece = uint64_t(4) << 20;
        const size_t pieces = size_t((tensor.byteSize + kPiece - 1) / kPiece);
        parallelChunks(pieces, computeThreads(), [&](int, size_t b, size_t e) {
            const uint64_t at = uint64_t(b) * kPiece;
            const uint64_t end = std::min<uint64_t>(uint64_t(e) * kPiece, tensor.byteSize);
            store.readBytes(tensor, at, end - at, buf.raw.data() + at);
        });
        buf.rawName = tensor.name;
    }
    return buf.raw.data();
}

bool fusedWeightAnalysis(const Recipe& recipe) {
    return recipe.method == QuantMethod::Rtn && !recipe.isCast() && !recipe.quantizesActivations();
}

Recipe weightOnlyRecipeFor(const Recipe& recipe, int64_t cols, std::string& fallbackReason) {
    Recipe applied = recipe;
    fallbackReason.clear();
    if (recipe.granularity == Granularity::Group &&
        (recipe.groupSize <= 0 || cols % recipe.groupSize != 0)) {
        applied.granularity = Granularity::Channel;
        applied.groupSize = 0;
        fallbackReason = "group size " + std::to_string(recipe.groupSize) +
                         " does not divide the row length " + std::to_string(cols) +
                         "; quantized per channel";
    }
    return applied;
}

namespace {
// Beyond it findUnusableWeights flags a value (2^64, see model/weight_check.cpp).
constexpr double kUsableLimit = 1.8446744e19;
}  // namespace

LayerResult analyzeRtnLayer(const LinearLayerInfo& info, const TensorInfo& tensor,
                            const RowSource& rows, const Recipe& recipe, int bins,
                            bool* mayHoldUnusable) {
    LayerResult r;
    r.name = info.name;
    r.block = info.block;
    r.kind = projKindName(info.kind);
    r.rows = info.outFeatures;
    r.cols = info.inFeatures;
    const Recipe applied = weightOnlyRecipeFor(recipe, r.cols, r.fallbackReason);
    r.fallback = !r.fallbackReason.empty();
    r.method = applied.toString();
    WeightAnalysis a = analyzeRtnWeights(rows, r.rows, r.cols, applied, bins);
    if (mayHoldUnusable)
        *mayHoldUnusable = a.metrics.nonFinite > 0 ||
                           (a.weightRange.valid &&
                            (a.weightRange.hi > kUsableLimit || a.weightRange.lo < -kUsableLimit));
    r.weightSqnrDb = a.metrics.sqnrDb;
    r.mse = a.metrics.mse;
    r.maxAbsError = a.metrics.maxAbsError;
    r.cosine = a.metrics.cosine;
    r.outputSqnrDb = std::numeric_limits<double>::quiet_NaN();
    r.parameters = uint64_t(r.rows) * uint64_t(r.cols);
    r.bytesFp = tensor.byteSize;
    r.bytesQ = packedBytes(a.grid);
    r.weightBefore = std::move(a.before);
    r.weightAfter = std::move(a.after);
    r.weightError = std::move(a.error);
    r.groupSize = a.grid.groupSize;
    r.perTensor = a.grid.perTensor;
    r.bits = a.grid.bits;
    r.symmetric = a.grid.symmetric;
    r.scales = std::move(a.grid.scales);
    r.zeros = std::move(a.grid.zeros);
    r.weightAfterSource = "grid";
    return r;
}

LayerResult weightOnlyLayer(const TensorStore& store, const LinearLayerInfo& info,
                            const LayerPlace& place, const Recipe& recipe, int bins,
                            WeightOnlyBuffers& buf, UnusableWeights& bad,
                            const QuantizedCheckpoint* quantized) {
    const TensorInfo& tensor = store.get(info.name + ".weight");
    std::vector<float>& w = buf.weight;
    if (!quantized && fusedWeightAnalysis(recipe)) {
        // Streamed from the mapped checkpoint: no float copy of the weight.
        bool suspect = false;
        const RowSource rows =
            bytesRows(layerBytes(store, tensor, buf), tensor.dtype, info.inFeatures);
        LayerResult r = analyzeRtnLayer(info, tensor, rows, recipe, bins, &suspect);
        if (suspect) {
            w.resize(size_t(tensor.numel()));
            convertToFloat(tensor.dtype, layerBytes(store, tensor, buf), w.size(), w.data());
            bad = findUnusableWeights(tensor.name, w.data(), w.size(), info.inFeatures);
        }
        return r;
    }
    w.resize(size_t(tensor.numel()));
    convertToFloat(tensor.dtype, layerBytes(store, tensor, buf), w.size(), w.data());
    bad = findUnusableWeights(tensor.name, w.data(), w.size(), info.inFeatures);
    const auto t0 = std::chrono::steady_clock::now();
    if (quantized)
        checkpointWeight(buf.lq, info.name, *quantized, info.outFeatures, info.inFeatures);
    else
        quantizeWeightOnly(buf.lq, place, w, recipe);
    buf.lq.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return analyzeLayer(info, tensor, w, buf.lq, bins, /*gridExact=*/true, &buf.scratch);
}

LayerResult analyzeLayer(const LinearLayerInfo& info, const TensorInfo& tensor,
                         const std::vector<float>& original, const LayerQuantization& lq, int bins,
                         bool gridExact, std::vector<float>* scratch) {
    if (lq.dequant.size() != original.size())
        throw Error("layer '" + info.name + "': quantized weight has the wrong size");
    return analyzeLayer(info, tensor, {original.data(), lq.dequant.data(), original.size()}, lq,
                        bins, gridExact, scratch);
}

LayerResult analyzeLayer(const LinearLayerInfo& info, const TensorInfo& tensor, LayerWeights w,
                         const LayerQuantization& lq, int bins, bool gridExact,
                         std::vector<float>* scratch) {
    const size_t n = w.n;
    if (n != size_t(info.outFeatures) * size_t(info.inFeatures))
        throw Error("layer '" + info.name + "': quantized weight has the wrong size");
    const float* original = w.original;
    LayerResult r;
    r.name = info.name;
    r.block = info.block;
    r.kind = projKindName(info.kind);
    r.rows = info.outFeatures;
    r.cols = info.inFeatures;
    r.method = lq.applied.toString();
    r.fallback = lq.fallback;
    r.fallbackReason = lq.fallbackReason;
    r.seconds = lq.seconds;

    // AWQ quantizes W·diag(s); the comparable weight is Q(W·diag(s))·diag(1/s).
    std::vector<float> unscaled;
    const float* after = w.after;
    if (!lq.awqScales.empty()) {
        unscaled.assign(w.after, w.after + n);
        for (size_t i = 0; i < n; ++i) unscaled[i] /= lq.awqScales[i % size_t(r.cols)];
        after = unscaled.data();
    }
    const ErrorMetrics m = errorMetrics(original, after, n);
    r.weightSqnrDb = m.sqnrDb;
    r.mse = m.mse;
    r.maxAbsError = m.maxAbsError;
    r.cosine = m.cosine;
    r.outputSqnrDb = lq.outputSqnrDb;
    r.parameters = n;
    r.bytesFp = tensor.byteSize;
    r.bytesQ = packedBytes(lq, n, r.rows, r.cols);

    if (bins > 0) {  // 0: metrics only (a sweep)
        const Range wr = sharedRange(original, after, n);
        r.weightBefore = computeHistogram(original, n, wr.lo, wr.hi, bins);
        r.weightAfter = computeHistogram(after, n, wr.lo, wr.hi, bins);
        std::vector<float> local;
        std::vector<float>& err = scratch ? *scratch : local;
        err.resize(n);
        for (size_t i = 0; i < n; ++i) err[i] = original[i] - after[i];
        const Range er = binnableRange(finiteRange(err.data(), n));
        r.weightError = computeHistogram(err.data(), n, er.lo, er.hi, bins);
    }

    if (!lq.inputAbsMax.empty()) {
        r.channelInputAbsMax = lq.inputAbsMax;
        r.channelInputMeanAbs = lq.inputMeanAbs;
        r.channelWeightAbsMax.assign(size_t(r.cols), 0.0f);
        for (size_t i = 0; i < n; ++i) {
            float& m = r.channelWeightAbsMax[i % size_t(r.cols)];
            m = std::max(m, std::fabs(original[i]));
        }
    }
    const MethodSpec& spec = methodSpec(lq.applied.method);
    if (spec.recompute) {  // cast or codebook: recomputed from the original and the recipe
        r.bits = lq.applied.isCast() ? 16 : lq.applied.bits;
        r.groupSize = lq.applied.isCast() ? 0 : lq.applied.blockSize;
        r.weightAfterSource = afterSourceName(spec.afterSource);
        return r;
    }
    if (lq.fromCheckpoint) {  // an integer grid in a file: its shape, read again on re-binning
        const Recipe& a = lq.applied;
        r.bits = a.bits;
        r.symmetric = a.symmetric;
        r.perTensor = a.granularity == Granularity::Tensor;
        r.groupSize = a.granularity == Granularity::Group ? a.groupSize : r.cols;
        r.weightAfterSource = "checkpoint";
        return r;
    }
    r.scales = lq.grid.scales;
    r.zeros = lq.grid.zeros;
    r.groupSize = lq.grid.groupSize;
    r.perTensor = lq.grid.perTensor;
    r.bits = lq.grid.bits;
    r.symmetric = lq.grid.symmetric;
    const bool byGrid = lq.awqScales.empty() && spec.afterSource == AfterSource::Grid &&
                        (gridExact || gridReproduces({original, after, n}, lq));
    r.weightAfterSource = byGrid ? "grid" : "stored";
    return r;
}

CompactWeights storedAfterWeights(const LayerQuantization& lq, const std::vector<float>& awqScales,
                                  bool folded, const float* after) {
    const size_t n = size_t(lq.grid.rows) * size_t(lq.grid.cols);
    if (!after) {
        if (lq.dequant.size() != n)
            throw Error("layer '" + lq.name + "': the quantized weight has the wrong size");
        after = lq.dequant.data();
    }
    if (lq.codes.size() != n)
        throw Error("layer '" + lq.name + "': the quantization returned no codes to store");
    CompactWeights w = compactFromCodes(lq.grid, lq.codes, awqScales);
    // Cheap next to GPTQ/AWQ themselves, and what re-binning shows depends on it. Decoded
    // into a pooled tensor: a fresh vector per layer was the largest source of page faults
    // of a GPTQ run's blocks phase (BENCHMARKS.md, "System time under 5 %, measured").
    const at::Tensor scratch = at::empty({int64_t(n)}, at::kFloat);
    float* decoded = scratch.data_ptr<float>();
    w.decodeInto(decoded);
    const size_t cols = size_t(lq.grid.cols);
    for (size_t i = 0; i < n; ++i) {
        const float expect = folded ? after[i] / awqScales[i % cols] : after[i];
        // Values, not bits: decode is bit-exact (test_compact), but the sign of a zero would
        // not be worth failing a run for.
        if (!(decoded[i] == expect) && !(std::isnan(decoded[i]) && std::isnan(expect)))
            throw Error("layer '" + lq.name + "': the compact after-weights differ from the " +
                        "quantized weight at element " + std::to_string(i) + " (" +
                        std::to_string(decoded[i]) + " vs " + std::to_string(expect) + ")");
    }
    return w;
}

// ---- stored after-weights of runs saved before compact storage: "QLWF32\0\0", u64 count,
// count float32 (little endian). Read for old runs; written only by tests. ----

namespace {
const char kWeightMagic[8] = {'Q', 'L', 'W', 'F', '3', '2', 0, 0};
}

std::string storedWeightPath(const std::string& folder, const std::string& layer) {
    return folder + "/weights/" + layer + ".qlw";
}

std::string legacyStoredWeightPath(const std::string& folder, const std::string& layer) {
    return folder + "/weights/" + layer + ".f32";
}

void writeStoredWeight(const std::string& path, const std::vector<float>& values) {
    const uint64_t count = values.size();
    std::string bytes(kWeightMagic, 8);
    bytes.append(reinterpret_cast<const char*>(&count), 8);
    if (count) bytes.append(reinterpret_cast<const char*>(values.data()), count * 4);
    writeFileDurable(path, bytes);
}

std::vector<float> readStoredWeight(const std::string& path, uint64_t expectedCount) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("run weights '" + path + "' are missing");
    char magic[8];
    uint64_t count = 0;
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(&count), 8);
    if (!in || std::memcmp(magic, kWeightMagic, 8) != 0 || count != expectedCount)
        throw Error("run weights '" + path + "' are corrupt (bad header)");
    std::vector<float> v(count);
    in.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * 4));
    if (!in) throw Error("run weights '" + path + "' are truncated");
    return v;
}

// ---- rebinning ----

QuantGrid gridOf(const LayerResult& l) {
    QuantGrid g;
    g.bits = l.bits;
    g.symmetric = l.symmetric;
    g.rows = l.rows;
    g.cols = l.cols;
    g.groupSize = l.groupSize;
    g.perTensor = l.perTensor;
    g.scales = l.scales;
    g.zeros = l.zeros;
    return g;
}

namespace {

// A run saved with compact weights has weights/<layer>.qlw; one saved before, .f32.
std::vector<float> storedAfterFromFolder(const std::string& folder, const LayerResult& l,
                                         size_t count) {
    const std::string path = storedWeightPath(folder, l.name);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) &&
        std::filesystem::exists(legacyStoredWeightPath(folder, l.name), ec))
        return readStoredWeight(legacyStoredWeightPath(folder, l.name), count);
    const CompactWeights w = readCompactWeights(path);
    if (w.rows() != l.rows || w.cols() != l.cols)
        throw Error("weights file '" + path + "': field 'rows' / 'cols' is " +
                    std::to_string(w.rows()) + " x " + std::to_string(w.cols()) +
                    " but run.json says " + std::to_string(l.rows) + " x " +
                    std::to_string(l.cols));
    return w.decode();
}

}  // namespace

std::vector<float> afterWeightsOf(const RunResult& run, const LayerResult& l,
                                  const std::vector<float>& original) {
    return afterWeightsOf(run, l, original.data(), original.size());
}

namespace {
// A smoothed codebook layer (SmoothQuant): Q(W·diag(s))·diag(1/s), in the float32 steps the
// run took (methods/smoothquant.h).
std::vector<float> smoothedRecompute(const LayerResult& l, const MethodSpec& spec,
                                     const Recipe& recipe, const float* original, size_t n) {
    const size_t cols = size_t(l.cols);
    if (l.smoothScales.size() != cols || cols == 0 || n % cols != 0)
        throw Error("layer '" + l.name + "': " + std::to_string(l.smoothScales.size()) +
                    " SmoothQuant scales for " + std::to_string(l.cols) + " columns");
    std::vector<float> scaled(original, original + n);
    for (size_t i = 0; i < n; ++i) scaled[i] *= l.smoothScales[i % cols];
    std::vector<float> q = spec.recompute(recipe, scaled.data(), n);
    for (size_t i = 0; i < n; ++i) q[i] /= l.smoothScales[i % cols];
    return q;
}
}  // namespace

std::vector<float> afterWeightsOf(const RunResult& run, const LayerResult& l, const float* original,
                                  size_t n) {
    const bool inMemory =
        l.weightAfterSource == "stored" && run.storedWeights && run.storedWeights->contains(l.name);
    if (l.weightAfterSource == "grid" || inMemory) {  // no file to read: written in place
        std::vector<float> w(n);
        afterWeightsInto(run, l, original, n, w.data());
        return w;
    }
    if (l.weightAfterSource == "cast" || l.weightAfterSource == "codebook") {
        const Recipe recipe = Recipe::parse(l.method);
        const MethodSpec& spec = methodSpec(recipe.method);
        if (!spec.recompute || afterSourceName(spec.afterSource) != l.weightAfterSource)
            throw Error("layer '" + l.name + "': method '" + l.method + "' is not a " +
                        l.weightAfterSource);
        if (l.smoothScales.empty()) return spec.recompute(recipe, original, n);
        return smoothedRecompute(l, spec, recipe, original, n);
    }
    if (l.weightAfterSource == "checkpoint") {
        if (run.config.checkpoint.empty())
            throw Error("layer '" + l.name + "': the run names no checkpoint file");
        std::vector<float> w =
            openQuantizedCheckpoint(run.config.checkpoint)->layer(l.name, l.rows, l.cols).values;
        if (w.size() != n)
            throw Error("layer '" + l.name + "': checkpoint weight has the wrong size");
        return w;
    }
    if (l.weightAfterSource == "stored") {
        if (!run.folder.empty()) return storedAfterFromFolder(run.folder, l, n);
        throw Error("the quantized weights of '" + l.name + "' are not available");
    }
    throw Error("layer '" + l.name + "': unknown weight source '" + l.weightAfterSource + "'");
}

void afterWeightsInto(const RunResult& run, const LayerResult& l, const float* original, size_t n,
                      float* out) {
    if (l.weightAfterSource == "grid") {
        if (size_t(l.rows) * size_t(l.cols) != n)
            throw Error("layer '" + l.name + "': grid of " + std::to_string(l.rows) + " x " +
                        std::to_string(l.cols) + " for " + std::to_string(n) + " weights");
        quantizeWithGrid(original, gridOf(l), nullptr, out);
        return;
    }
    if (l.weightAfterSource == "stored" && run.storedWeights &&
        run.storedWeights->contains(l.name)) {
        const CompactWeights w = run.storedWeights->get(l.name);
        if (size_t(w.rows()) * size_t(w.cols()) != n)
            throw Error("layer '" + l.name + "': stored weight has the wrong size");
        w.decodeInto(out);
        return;
    }
    const std::vector<float> w = afterWeightsOf(run, l, original, n);
    std::copy(w.begin(), w.end(), out);
}

CompactWeights layerCodesOf(const RunResult& run, const LayerResult& l, const float* original) {
    if (l.weightAfterSource == "grid") return compactFromWeights(original, gridOf(l));
    if (l.weightAfterSource != "stored")
        throw Error("layer '" + l.name + "' (" + l.method +
                    ") has no integer codes (its weight is " + "a " + l.weightAfterSource + ")");
    if (run.storedWeights && run.storedWeights->contains(l.name))
        return run.storedWeights->get(l.name);
    if (run.folder.empty())
        throw Error("the quantized weights of '" + l.name + "' are not available");
    const std::string path = storedWeightPath(run.folder, l.name);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        throw Error("run '" + run.folder + "' holds no codes for '" + l.name +
                    "' (saved before compact weights; run it again to export it)");
    CompactWeights w = readCompactWeights(path);
    if (w.rows() != l.rows || w.cols() != l.cols)
        throw Error("weights file '" + path + "': field 'rows' / 'cols' does not match run.json");
    return w;
}

Histogram rebinWeights(const RunResult& run, const std::string& layer, const std::string& which,
                       double lo, double hi, int bins) {
    const LayerResult* l = run.layer(layer);
    if (!l) throw Error("the run has no layer '" + layer + "'");
    if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi))
        throw Error("invalid histogram range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                    "]");
    if (bins <= 0) throw Error("histogram bins must be positive");
    if (which != "before" && which != "after" && which != "error")
        throw Error("unknown weight histogram '" + which + "' (before, after or error)");
    const auto store = TensorStore::open(run.config.modelDir);
    const std::vector<float> original = store->readFloat(layer + ".weight");
    // A loaded run is read from disk: its grid covers rows x cols, which must be this weight.
    if (original.size() != uint64_t(l->rows) * uint64_t(l->cols))
        throw Error("run layer '" + layer + "' is " + std::to_string(l->rows) + " x " +
                    std::to_string(l->cols) + " but the weight in '" + run.config.modelDir +
                    "' has " + std::to_string(original.size()) +
                    " values: the run does not belong to this model");
    if (which == "before") return computeHistogram(original.data(), original.size(), lo, hi, bins);
    std::vector<float> after = afterWeightsOf(run, *l, original);
    if (which == "error")
        for (size_t i = 0; i < after.size(); ++i) after[i] = original[i] - after[i];
    return computeHistogram(after.data(), after.size(), lo, hi, bins);
}

}  // namespace ql
