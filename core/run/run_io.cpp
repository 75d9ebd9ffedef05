// Run folders: run.json (everything but bulk arrays), histograms.bin (histograms,
// grids and activation samples, binary) and weights/<layer>.qlw (codes + grid, see
// quant/compact_weights.h) for layers whose quantized weights cannot be recomputed from
// the checkpoint (GPTQ, AWQ). Runs saved before hold weights/<layer>.f32 (float32) instead;
// they load, re-bin and re-save (copied as they are).
//
// histograms.bin, little endian: "QLRUNBIN", u32 version (1..3), u32 layer count; per layer
// 9 histograms (weight before/after/error, activation before/after, output
// before/after, gradient before/after) then float arrays (scales, zeros, activation
// sample before/after; from version 2 the four per-channel arrays); then "QLRUNEND".
// Version 3 leaves a layer's scales and zeros empty when its weights/<layer>.qlw holds
// the same grid (stored layers): a 1.5B GPTQ run's folder is 82 MB smaller. Histogram: f64 lo, f64
// hi, u32 bins, u64 counts[bins], u64 count/nan/+inf/-inf, f64 min/max/mean/std/kurtosis, u64
// outliers/below/above. Float array: u64 n, f32[n].
#include "base/atomic_write.h"
#include "base/error.h"
#include "quant/method_registry.h"
#include "run/json_fields.h"
#include "run/run_folder.h"
#include "run/run_internal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace ql {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;
// histograms.bin: 1 = without, 2 = with the per-channel arrays, 3 = grids of stored
// layers in their .qlw files only (reads all three).
constexpr int kBinVersion = 3;
const char kBinMagic[8] = {'Q', 'L', 'R', 'U', 'N', 'B', 'I', 'N'};
const char kBinEnd[8] = {'Q', 'L', 'R', 'U', 'N', 'E', 'N', 'D'};
// Reader bounds: far above any real run, low enough that nothing computed from them
// overflows or allocates absurdly.
constexpr int kMaxBins = 1 << 20;  // as runQuantization allows
constexpr int64_t kMaxDim = int64_t(1) << 32;
constexpr int64_t kMaxElements = int64_t(1) << 40;
constexpr uint64_t kMaxRunJsonBytes = 256ull << 20;
constexpr uint64_t kMaxHistogramBytes = 4ull << 30;

// JSON has no NaN/Inf: non-finite doubles are written as strings.
json num(double v) {
    if (std::isfinite(v)) return v;
    if (std::isnan(v)) return "nan";
    return v > 0 ? "inf" : "-inf";
}

json overridesJson(const std::vector<RecipeOverride>& overrides) {
    json out = json::array();
    for (const RecipeOverride& o : overrides)
        out.push_back({{"pattern", o.pattern}, {"recipe", o.recipe}});
    return out;
}

json configFields(const RunConfig& c);

json configJson(const RunConfig& c) {
    json j = configFields(c);
    if (!c.checkpoint.empty()) j["checkpoint"] = c.checkpoint;  // only comparison runs
    return j;
}

json configFields(const RunConfig& c) {
    return {{"model_dir", c.modelDir},
            {"overrides", overridesJson(c.overrides)},
            {"recipe", c.recipe},
            {"layers",
             {{"include", c.layers.include},
              {"exclude", c.layers.exclude},
              {"kinds", c.layers.kinds},
              {"min_parameters", c.layers.minParameters}}},
            {"calibration_text", c.calibrationText},
            {"calibration_windows", c.calibrationWindows},
            {"calibration_seq", c.calibrationSeq},
            {"evaluation_text", c.evaluationText},
            {"eval_seq", c.evalSeq},
            {"eval_max_windows", c.evalMaxWindows},
            {"eval_protocol", c.evalProtocol},
            {"capture_activations", c.captureActivations},
            {"capture_gradients", c.captureGradients},
            {"histogram_bins", c.histogramBins},
            {"threads", c.threads}};
}

constexpr int kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::vector<RecipeOverride> overridesFrom(const JsonFields& j) {
    std::vector<RecipeOverride> out;
    for (const JsonFields& o : j.objects("overrides")) {
        RecipeOverride r{o.str("pattern"), o.str("recipe")};
        try {
            checkOverride(r);
        } catch (const Error& e) {
            o.fail("recipe", std::string("is not a valid override: ") + e.what());
        }
        out.push_back(std::move(r));
    }
    return out;
}

RunConfig configFrom(const JsonFields& j) {
    RunConfig c;
    c.modelDir = j.str("model_dir");
    c.recipe = j.str("recipe");
    const JsonFields l = j.object("layers");
    c.layers.include = l.strings("include");
    c.layers.exclude = l.strings("exclude");
    c.layers.kinds = l.strings("kinds");
    c.layers.minParameters = l.integer("min_parameters", 0, kInt64Max);
    if (j.has("overrides")) c.overrides = overridesFrom(j);  // runs before issue 10 have none
    c.calibrationText = j.str("calibration_text");
    c.calibrationWindows = j.toInt("calibration_windows", 0, kIntMax);
    c.calibrationSeq = j.toInt("calibration_seq", 0, kIntMax);
    c.evaluationText = j.str("evaluation_text");
    c.evalSeq = j.toInt("eval_seq", 0, kIntMax);
    c.evalMaxWindows = j.toInt("eval_max_windows", 0, kIntMax);
    c.evalProtocol = j.str("eval_protocol");
    c.captureActivations = j.flag("capture_activations");
    c.captureGradients = j.flag("capture_gradients");
    c.histogramBins = j.toInt("histogram_bins", 1, kMaxBins);
    c.threads = j.toInt("threads", std::numeric_limits<int>::min(), kIntMax);
    if (j.has("checkpoint")) c.checkpoint = j.str("checkpoint");
    return c;
}

json layerJson(const LayerResult& l) {
    return {{"name", l.name},
            {"block", l.block},
            {"kind", l.kind},
            {"rows", l.rows},
            {"cols", l.cols},
            {"method", l.method},
            {"fallback", l.fallback},
            {"fallback_reason", l.fallbackReason},
            {"weight_sqnr_db", num(l.weightSqnrDb)},
            {"output_sqnr_db", num(l.outputSqnrDb)},
            {"activation_sqnr_db", num(l.activationSqnrDb)},
            {"activation_clip_lo", num(l.activationClipLo)},
            {"activation_clip_hi", num(l.activationClipHi)},
            {"outlier_column_fraction", num(l.outlierColumnFraction)},
            {"outlier_columns", l.outlierColumns},
            {"outlier_column_windows", l.outlierColumnWindows},
            {"outlier_windows", l.outlierWindows},
            {"output_sqnr_plain_db", num(l.outputSqnrPlainDb)},
            {"mse", num(l.mse)},
            {"max_abs_error", num(l.maxAbsError)},
            {"cosine", num(l.cosine)},
            {"parameters", l.parameters},
            {"bytes_fp", l.bytesFp},
            {"bytes_q", l.bytesQ},
            {"gradient_norm_before", num(l.gradientNormBefore)},
            {"gradient_norm_after", num(l.gradientNormAfter)},
            {"group_size", l.groupSize},
            {"per_tensor", l.perTensor},
            {"bits", l.bits},
            {"symmetric", l.symmetric},
            {"seconds", l.seconds},
            {"weight_after_source", l.weightAfterSource},
            {"unusable_weights", l.unusableWeights},
            {"first_unusable_row", l.firstUnusableRow}};
}

// A layer name becomes a file name (weights/<name>.qlw): it must stay inside the run.
bool safeLayerName(const std::string& name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

// Re-binning a "cast"/"codebook" layer recomputes it from its recipe: `method` must be one.
bool recomputedAs(const std::string& method, const std::string& source) {
    try {
        const MethodSpec& spec = methodSpec(Recipe::parse(method).method);
        return spec.recompute && afterSourceName(spec.afterSource) == source;
    } catch (const Error&) {
        return false;
    }
}

// An array of non-negative integers below `hi` (LLM.int8() outlier columns and counts).
std::vector<int64_t> integers(const JsonFields& j, const char* key, int64_t hi) {
    const auto& v = j.at(key);
    if (!v.is_array()) j.fail(key, "must be an array of integers");
    std::vector<int64_t> out;
    for (const auto& e : v) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= hi)
            j.fail(key, "must hold integers 0 .. " + std::to_string(hi - 1));
        out.push_back(e.get<int64_t>());
    }
    return out;
}

// LLM.int8() statistics (runs saved before have none: left NaN / empty).
void readOutliers(const JsonFields& j, LayerResult& l) {
    l.outlierWindows = j.integer("outlier_windows", 0, kMaxDim);
    l.outlierColumnFraction = j.number("outlier_column_fraction");
    l.outlierColumns = integers(j, "outlier_columns", std::max<int64_t>(1, l.cols));
    l.outlierColumnWindows =
        integers(j, "outlier_column_windows", std::max<int64_t>(1, l.outlierWindows + 1));
    if (l.outlierColumnWindows.size() != l.outlierColumns.size())
        j.fail("outlier_column_windows", "must have one count per outlier column");
    l.outputSqnrPlainDb = j.number("output_sqnr_plain_db");
}

// The clip range of a static activation side, NaN ("nan") otherwise; runs saved before
// have no such fields (left NaN: no clip range drawn).
void readActivationClip(const JsonFields& j, LayerResult& l) {
    l.activationClipLo = j.number("activation_clip_lo");
    l.activationClipHi = j.number("activation_clip_hi");
    if (std::isnan(l.activationClipLo) != std::isnan(l.activationClipHi) ||
        l.activationClipLo > l.activationClipHi)
        j.fail("activation_clip_hi",
               "must be at least activation_clip_lo (both numbers or both \"nan\")");
}

LayerResult layerFrom(const JsonFields& j) {
    LayerResult l;
    l.name = j.str("name");
    if (!safeLayerName(l.name))
        j.fail("name", "must be a layer name without '/', not \"" + l.name + "\"");
    l.block = j.toInt("block", -1, kIntMax);
    l.kind = j.str("kind");
    // Bounds of any real checkpoint; rows x cols is allocated when re-binning.
    l.rows = j.integer("rows", 0, kMaxDim);
    l.cols = j.integer("cols", 0, kMaxDim);
    if (l.rows * l.cols > kMaxElements) j.fail("cols", "makes rows x cols exceed 2^40 elements");
    l.method = j.str("method");
    l.fallback = j.flag("fallback");
    l.fallbackReason = j.str("fallback_reason");
    l.weightSqnrDb = j.number("weight_sqnr_db");
    l.outputSqnrDb = j.number("output_sqnr_db");
    // Runs saved before activation quantization have no such field: not measured.
    l.activationSqnrDb =
        j.has("activation_sqnr_db") ? j.number("activation_sqnr_db") : std::nan("");
    if (j.has("activation_clip_lo")) readActivationClip(j, l);
    if (j.has("outlier_windows")) readOutliers(j, l);
    l.mse = j.number("mse");
    l.maxAbsError = j.number("max_abs_error");
    l.cosine = j.number("cosine");
    l.parameters = j.count("parameters");
    l.bytesFp = j.count("bytes_fp");
    l.bytesQ = j.count("bytes_q");
    l.gradientNormBefore = j.number("gradient_norm_before");
    l.gradientNormAfter = j.number("gradient_norm_after");
    l.groupSize = j.integer("group_size", 0, kMaxDim);
    l.perTensor = j.flag("per_tensor");
    l.bits = j.toInt("bits", 0, 32);
    l.symmetric = j.flag("symmetric");
    l.seconds = j.number("seconds");
    l.weightAfterSource = j.str("weight_after_source");
    const auto& sources = afterSourceNames();
    if (std::find(sources.begin(), sources.end(), l.weightAfterSource) == sources.end())
        j.fail("weight_after_source",
               "must be \"grid\", \"cast\", \"codebook\", \"stored\" or \"checkpoint\", not \"" +
                   l.weightAfterSource + "\"");
    if ((l.weightAfterSource == "cast" || l.weightAfterSource == "codebook") &&
        !recomputedAs(l.method, l.weightAfterSource))
        j.fail("method", "must be a recipe whose weights are recomputed as \"" +
                             l.weightAfterSource + "\" (weight_after_source), not \"" + l.method +
                             "\"");
    if (l.weightAfterSource == "grid" &&
        (l.bits < 2 || l.bits > 8 || l.rows < 1 || l.groupSize < 1 || l.groupSize > l.cols))
        j.fail("group_size",
               "and bits must describe a quantization grid (bits 2 to 8, group size 1 "
               "to cols) for a layer re-quantized from its grid");
    // Absent in runs written before these fields existed.
    if (j.has("unusable_weights")) l.unusableWeights = j.count("unusable_weights");
    if (j.has("first_unusable_row"))
        l.firstUnusableRow = j.integer("first_unusable_row", -1, kMaxDim);
    return l;
}

json runJson(const RunResult& r) {
    const PerplexitySummary& p = r.perplexity;
    const MemorySummary& m = r.memory;
    json timings = json::array();
    for (const auto& t : r.timings)
        timings.push_back(
            {{"phase", t.phase}, {"seconds", t.seconds}, {"peak_bytes", t.peakBytes}});
    json layers = json::array();
    for (const auto& l : r.layers) layers.push_back(layerJson(l));
    return {{"format", "quantlens-run"},
            {"version", kFormatVersion},
            {"id", r.id},
            {"label", r.label},
            {"created_at", r.createdAt},
            {"model_name", r.modelName},
            {"architecture", r.architecture},
            {"seconds", r.seconds},
            {"has_activations", r.hasActivations},
            {"has_gradients", r.hasGradients},
            {"config", configJson(r.config)},
            {"perplexity",
             {{"valid", p.valid},
              {"ppl_fp", num(p.pplFp)},
              {"ppl_q", num(p.pplQ)},
              {"scored_tokens", p.scoredTokens},
              {"windows", p.windows},
              {"seq", p.seq},
              {"protocol", p.protocol},
              {"kl_mean", num(p.klMean)},
              {"kl_p50", num(p.klP50)},
              {"kl_p90", num(p.klP90)},
              {"kl_p99", num(p.klP99)},
              {"kl_max", num(p.klMax)},
              {"top1_agreement", num(p.top1Agreement)},
              {"tokens_per_second", num(p.tokensPerSecond)}}},
            {"memory",
             {{"parameters_total", m.parametersTotal},
              {"bytes_fp_total", m.bytesFpTotal},
              {"bytes_q_total", m.bytesQTotal},
              {"bytes_fp_quantized", m.bytesFpQuantized},
              {"bytes_q_quantized", m.bytesQQuantized},
              {"peak_rss_bytes", m.peakRssBytes}}},
            {"timings", timings},
            {"warnings", r.warnings},
            {"data_used",
             {{"calibration_windows", r.calibrationWindowsUsed},
              {"calibration_windows_held_out", r.calibrationWindowsHeldOut},
              {"calibration_tokens", r.calibrationTokens},
              {"output_sqnr_source", r.outputSqnrSource},
              {"output_sqnr_windows", r.outputSqnrWindows}}},
            {"layers", layers}};
}

RunResult runFrom(const JsonFields& j) {
    if (j.str("format") != "quantlens-run") j.fail("format", "must be \"quantlens-run\"");
    const int64_t version = j.integer("version", 0, kIntMax);
    if (version != kFormatVersion)
        j.fail("version", "is " + std::to_string(version) + ", this QuantLens reads version " +
                              std::to_string(kFormatVersion));
    RunResult r;
    r.id = j.str("id");
    r.label = j.str("label");
    r.createdAt = j.str("created_at");
    r.modelName = j.str("model_name");
    r.architecture = j.str("architecture");
    r.seconds = j.number("seconds");
    r.hasActivations = j.flag("has_activations");
    r.hasGradients = j.flag("has_gradients");
    r.config = configFrom(j.object("config"));
    const JsonFields p = j.object("perplexity");
    PerplexitySummary& ps = r.perplexity;
    ps.valid = p.flag("valid");
    ps.pplFp = p.number("ppl_fp");
    ps.pplQ = p.number("ppl_q");
    ps.scoredTokens = p.integer("scored_tokens", 0, kInt64Max);
    ps.windows = p.toInt("windows", 0, kIntMax);
    ps.seq = p.toInt("seq", 0, kIntMax);
    ps.protocol = p.str("protocol");
    ps.klMean = p.number("kl_mean");
    ps.klP50 = p.number("kl_p50");
    ps.klP90 = p.number("kl_p90");
    ps.klP99 = p.number("kl_p99");
    ps.klMax = p.number("kl_max");
    ps.top1Agreement = p.number("top1_agreement");
    ps.tokensPerSecond = p.number("tokens_per_second");
    const JsonFields m = j.object("memory");
    r.memory.parametersTotal = m.count("parameters_total");
    r.memory.bytesFpTotal = m.count("bytes_fp_total");
    r.memory.bytesQTotal = m.count("bytes_q_total");
    r.memory.bytesFpQuantized = m.count("bytes_fp_quantized");
    r.memory.bytesQQuantized = m.count("bytes_q_quantized");
    r.memory.peakRssBytes = m.count("peak_rss_bytes");
    for (const JsonFields& t : j.objects("timings"))
        r.timings.push_back(
            {t.str("phase"), t.number("seconds"), t.has("peak_bytes") ? t.count("peak_bytes") : 0});
    r.warnings = j.strings("warnings");
    if (j.has("data_used")) {  // absent in older runs
        const JsonFields u = j.object("data_used");
        r.calibrationWindowsUsed = u.toInt("calibration_windows", 0, kIntMax);
        r.calibrationWindowsHeldOut = u.toInt("calibration_windows_held_out", 0, kIntMax);
        r.calibrationTokens = u.integer("calibration_tokens", 0, kInt64Max);
        r.outputSqnrSource = u.str("output_sqnr_source");
        r.outputSqnrWindows = u.toInt("output_sqnr_windows", 0, kIntMax);
    }
    std::set<std::string> names;
    for (const JsonFields& l : j.objects("layers")) {
        r.layers.push_back(layerFrom(l));
        if (!names.insert(r.layers.back().name).second)
            l.fail("name", "repeats layer \"" + r.layers.back().name + "\"");
    }
    return r;
}

// ---- histograms.bin ----

class BinWriter {
public:
    template <class T>
    void put(T v) {
        raw(&v, sizeof v);
    }
    void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
    void histogram(const Histogram& h) {
        put(h.lo);
        put(h.hi);
        put(uint32_t(h.counts.size()));
        raw(h.counts.data(), h.counts.size() * sizeof(uint64_t));
        const HistogramStats& s = h.stats;
        for (uint64_t v : {s.count, s.nanCount, s.posInfCount, s.negInfCount}) put(v);
        for (double v : {s.min, s.max, s.mean, s.std, s.kurtosis}) put(v);
        for (uint64_t v : {s.outliers, s.belowRange, s.aboveRange}) put(v);
    }
    void floats(const std::vector<float>& v) {
        put(uint64_t(v.size()));
        raw(v.data(), v.size() * sizeof(float));
    }
    const std::string& bytes() const { return buf_; }

private:
    std::string buf_;
};

class BinReader {
public:
    BinReader(std::string data, std::string path) : d_(std::move(data)), path_(std::move(path)) {}
    void raw(void* p, size_t n) {
        if (n > d_.size() - pos_) throw Error("run file '" + path_ + "' is truncated or corrupt");
        if (n == 0) return;  // empty vectors: memcpy must not see their null data pointer
        std::memcpy(p, d_.data() + pos_, n);
        pos_ += n;
    }
    template <class T>
    T get() {
        T v;
        raw(&v, sizeof v);
        return v;
    }
    Histogram histogram() {
        Histogram h;
        h.lo = get<double>();
        h.hi = get<double>();
        const uint32_t bins = get<uint32_t>();
        if (bins > uint32_t(kMaxBins) || bins > (d_.size() - pos_) / 8)
            throw Error("run file '" + path_ + "' is corrupt (bins)");
        // Charts divide by hi - lo: a histogram with bins has a finite, non-empty range.
        if (bins > 0 && !(std::isfinite(h.lo) && std::isfinite(h.hi) && h.lo < h.hi))
            throw Error("run file '" + path_ + "' is corrupt (histogram range)");
        h.counts.resize(bins);
        raw(h.counts.data(), size_t(bins) * 8);
        HistogramStats& s = h.stats;
        for (uint64_t* v : {&s.count, &s.nanCount, &s.posInfCount, &s.negInfCount})
            *v = get<uint64_t>();
        for (double* v : {&s.min, &s.max, &s.mean, &s.std, &s.kurtosis}) *v = get<double>();
        for (uint64_t* v : {&s.outliers, &s.belowRange, &s.aboveRange}) *v = get<uint64_t>();
        return h;
    }
    std::vector<float> floats() {
        const uint64_t n = get<uint64_t>();
        if (n > (d_.size() - pos_) / 4) throw Error("run file '" + path_ + "' is corrupt (array)");
        std::vector<float> v(n);
        raw(v.data(), n * 4);
        return v;
    }
    bool atEnd() const { return pos_ == d_.size(); }

private:
    std::string d_;
    std::string path_;
    size_t pos_ = 0;
};

std::vector<Histogram*> histogramsOf(LayerResult& l) {
    return {&l.weightBefore,     &l.weightAfter,     &l.weightError,
            &l.activationBefore, &l.activationAfter, &l.outputBefore,
            &l.outputAfter,      &l.gradientBefore,  &l.gradientAfter};
}

std::vector<std::vector<float>*> arraysOf(LayerResult& l, int version = kBinVersion) {
    std::vector<std::vector<float>*> a = {&l.scales, &l.zeros, &l.activationSampleBefore,
                                          &l.activationSampleAfter};
    if (version >= 2)
        for (auto* v : {&l.channelInputAbsMax, &l.channelInputMeanAbs, &l.channelWeightAbsMax,
                        &l.smoothScales})
            a.push_back(v);
    return a;
}

// Per-channel arrays hold one value per input channel, or none.
void checkChannels(const LayerResult& l, const std::string& path) {
    for (const auto* v :
         {&l.channelInputAbsMax, &l.channelInputMeanAbs, &l.channelWeightAbsMax, &l.smoothScales})
        if (!v->empty() && int64_t(v->size()) != l.cols)
            throw Error("run file '" + path + "' is corrupt (per-channel ranges of layer '" +
                        l.name + "')");
}

// Whether the layer's weights are saved as a .qlw file, whose grid equals the layer's
// scales and zeros (the quantizer's own grid: layer_metrics.cpp, storedAfterWeights).
bool gridInWeightsFile(const RunResult& run, const LayerResult& l) {
    if (l.weightAfterSource != "stored") return false;
    if (run.storedWeights && run.storedWeights->contains(l.name)) return true;
    std::error_code ec;
    return !run.folder.empty() && fs::exists(storedWeightPath(run.folder, l.name), ec);
}

std::string histogramsBin(const RunResult& run) {
    BinWriter w;
    w.raw(kBinMagic, 8);
    w.put(uint32_t(kBinVersion));
    w.put(uint32_t(run.layers.size()));
    const std::vector<float> none;
    for (const LayerResult& cl : run.layers) {
        LayerResult& l = const_cast<LayerResult&>(cl);  // accessors only read here
        for (const Histogram* h : histogramsOf(l)) w.histogram(*h);
        const bool inWeightsFile = gridInWeightsFile(run, l);
        for (const auto* a : arraysOf(l))
            w.floats(inWeightsFile && (a == &l.scales || a == &l.zeros) ? none : *a);
    }
    w.raw(kBinEnd, 8);
    return w.bytes();
}

// A stored layer's scales and zeros from its .qlw file (histograms.bin version 3), which
// must hold this layer's grid.
void gridFromWeightsFile(LayerResult& l, const std::string& folder) {
    const std::string path = storedWeightPath(folder, l.name);
    const QuantGrid g = readCompactGrid(path);
    const int64_t groupSize = l.perTensor ? g.groupSize : l.groupSize;
    if (g.rows != l.rows || g.cols != l.cols || g.bits != l.bits || g.symmetric != l.symmetric ||
        g.perTensor != l.perTensor || g.groupSize != groupSize)
        throw Error("weights file '" + path + "': field 'rows' / 'cols' / grid does not match " +
                    "layer '" + l.name + "' of run.json");
    l.scales = g.scales;
    l.zeros = g.zeros;
}

// The whole file, checked to be a regular file first: a directory or a FIFO named like a
// run file must fail with a message, not throw from the stream or block forever.
std::string readRunFile(const fs::path& path, uint64_t maxBytes) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (!fs::exists(st)) throw Error("run file '" + path.string() + "' is missing");
    if (!fs::is_regular_file(st)) throw Error("run file '" + path.string() + "' is not a file");
    const uintmax_t size = fs::file_size(path, ec);
    if (ec || size > maxBytes)
        throw Error("run file '" + path.string() + "' is larger than " +
                    std::to_string(maxBytes >> 20) + " MB");
    std::ifstream in(path, std::ios::binary);
    std::string bytes(size_t(size), '\0');
    if (!in || !in.read(bytes.data(), std::streamsize(size)))
        throw Error("cannot read run file '" + path.string() + "': " + std::strerror(errno));
    return bytes;
}

// What re-binning reads through the grid (QuantGrid::scaleAt) must exist.
void checkGrid(const LayerResult& l, const std::string& path) {
    if (l.weightAfterSource != "grid") return;
    const uint64_t groups =
        l.perTensor ? 1 : uint64_t(l.rows) * uint64_t((l.cols + l.groupSize - 1) / l.groupSize);
    const bool finite =
        std::all_of(l.scales.begin(), l.scales.end(), [](float v) { return std::isfinite(v); }) &&
        std::all_of(l.zeros.begin(), l.zeros.end(), [](float v) { return std::isfinite(v); });
    if (l.scales.size() != groups || l.zeros.size() != (l.symmetric ? 0 : groups) || !finite)
        throw Error("run file '" + path + "' is corrupt (grid of layer '" + l.name + "')");
}

void readHistogramsBin(const std::string& path, RunResult& run, const std::string& folder) {
    BinReader r(readRunFile(path, kMaxHistogramBytes), path);
    char magic[8];
    r.raw(magic, 8);
    if (std::memcmp(magic, kBinMagic, 8) != 0)
        throw Error("'" + path + "' is not a QuantLens histogram file");
    const uint32_t version = r.get<uint32_t>();
    if (version < 1 || version > uint32_t(kBinVersion))
        throw Error("'" + path + "' has an unsupported version");
    if (r.get<uint32_t>() != run.layers.size())
        throw Error("'" + path + "' does not match run.json (layer count)");
    for (LayerResult& l : run.layers) {
        for (Histogram* h : histogramsOf(l)) *h = r.histogram();
        for (auto* a : arraysOf(l, int(version))) *a = r.floats();
        if (version >= 3 && l.weightAfterSource == "stored" && l.scales.empty())
            gridFromWeightsFile(l, folder);
        checkGrid(l, path);
        checkChannels(l, path);
    }
    r.raw(magic, 8);
    if (std::memcmp(magic, kBinEnd, 8) != 0 || !r.atEnd())
        throw Error("run file '" + path + "' is corrupt (end marker)");
}

// A loaded run's stored weights, copied as they are: .qlw, or .f32 of a run saved before.
void copyStoredWeight(const std::string& from, const std::string& to, const std::string& layer) {
    std::error_code ec;
    std::string source = storedWeightPath(from, layer), target = storedWeightPath(to, layer);
    if (!fs::exists(source, ec) && fs::exists(legacyStoredWeightPath(from, layer), ec)) {
        source = legacyStoredWeightPath(from, layer);
        target = legacyStoredWeightPath(to, layer);
    }
    std::ifstream in(source, std::ios::binary);
    std::ostringstream bytes;
    if (!(in && bytes << in.rdbuf())) throw Error("cannot read '" + source + "' to save the run");
    writeFileDurable(target, bytes.str());
}

void writeRunInto(const RunResult& run, const fs::path& dir) {
    writeFileDurable((dir / "run.json").string(), runJson(run).dump(1) + "\n");
    crashPoint("run-json-written");
    writeFileDurable((dir / "histograms.bin").string(), histogramsBin(run));
    for (const LayerResult& l : run.layers) {
        if (l.weightAfterSource != "stored") continue;
        std::error_code ec;
        fs::create_directories(dir / "weights", ec);
        if (ec) throw Error("cannot create '" + (dir / "weights").string() + "'");
        if (run.storedWeights && run.storedWeights->contains(l.name))
            run.storedWeights->saveTo(l.name, storedWeightPath(dir.string(), l.name));
        else if (!run.folder.empty())
            copyStoredWeight(run.folder, dir.string(), l.name);
        else
            throw Error("the quantized weights of '" + l.name + "' are not available to save");
    }
    if (fs::exists(dir / "weights")) syncDirectory((dir / "weights").string());
    syncDirectory(dir.string());
}

}  // namespace

void saveRun(const RunResult& run, const std::string& folder, Overwrite overwrite) {
    const fs::path dest = runfolder::destination(folder);
    const runfolder::DirLock lock(dest.parent_path(), true);
    runfolder::recover(dest);
    // Checked again under the lock: the destination may have changed since the caller's check.
    if (runfolder::inspect(dest) == RunDestination::ExistingRun &&
        overwrite != Overwrite::ExistingRun)
        throw Error("'" + dest.string() + "' already holds a QuantLens run; replacing it needs " +
                    "confirmation (--force on the command line)");
    const fs::path tmp = runfolder::makeSibling(dest, ".tmp-");
    crashPoint("run-temp-created");
    try {
        writeRunInto(run, tmp);
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp, ec);
        throw;
    }
    crashPoint("run-temp-complete");
    runfolder::replace(tmp, dest);
}

RunResult loadRun(const std::string& folder) {
    runfolder::beforeLoad(folder);
    const fs::path dir(folder);
    const fs::path jsonPath = dir / "run.json";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error("run folder '" + folder + "' does not exist");
    if (!fs::exists(jsonPath, ec))
        throw Error("'" + folder + "' is not a run folder: run.json is missing");
    const std::string text = readRunFile(jsonPath, kMaxRunJsonBytes);
    json parsed;
    try {
        parsed = json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error("run file '" + jsonPath.string() + "' is not valid JSON (error at byte " +
                    std::to_string(e.byte) + ")");
    } catch (const json::exception&) {  // out_of_range: a number such as 1e400
        throw Error("run file '" + jsonPath.string() +
                    "' is not valid JSON (a number is too large to represent)");
    }
    RunResult run = runFrom(JsonFields(parsed, jsonPath.string()));
    readHistogramsBin((dir / "histograms.bin").string(), run, folder);
    run.folder = folder;
    return run;
}

}  // namespace ql
