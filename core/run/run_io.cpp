// Run folders: run.json (everything but bulk arrays), histograms.bin (histograms,
// grids and activation samples, binary) and weights/<layer>.f32 for layers whose
// quantized weights cannot be recomputed from the checkpoint (GPTQ, AWQ).
//
// histograms.bin, little endian: "QLRUNBIN", u32 version (1), u32 layer count; per layer
// 9 histograms (weight before/after/error, activation before/after, output
// before/after, gradient before/after) then 4 float arrays (scales, zeros, activation
// sample before/after); then "QLRUNEND". Histogram: f64 lo, f64 hi, u32 bins, u64
// counts[bins], u64 count/nan/+inf/-inf, f64 min/max/mean/std/kurtosis,
// u64 outliers/below/above. Float array: u64 n, f32[n].
#include "base/atomic_write.h"
#include "base/error.h"
#include "run/run_folder.h"
#include "run/run_internal.h"
#include "run/run_json_fields.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ql {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;
const char kBinMagic[8] = {'Q', 'L', 'R', 'U', 'N', 'B', 'I', 'N'};
const char kBinEnd[8] = {'Q', 'L', 'R', 'U', 'N', 'E', 'N', 'D'};

// JSON has no NaN/Inf: non-finite doubles are written as strings.
json num(double v) {
    if (std::isfinite(v)) return v;
    if (std::isnan(v)) return "nan";
    return v > 0 ? "inf" : "-inf";
}

double getNum(const json& j, const char* key) {
    const json& v = j.at(key);
    if (v.is_number()) return v.get<double>();
    if (!v.is_string()) throw Error(std::string("field '") + key + "' is not a number");
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    throw Error(std::string("field '") + key + "' is not a number");
}

json configJson(const RunConfig& c) {
    return {{"model_dir", c.modelDir},
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

RunConfig configFrom(const json& j) {
    RunConfig c;
    c.modelDir = j.at("model_dir").get<std::string>();
    c.recipe = j.at("recipe").get<std::string>();
    const json& l = j.at("layers");
    c.layers.include = l.at("include").get<std::vector<std::string>>();
    c.layers.exclude = l.at("exclude").get<std::vector<std::string>>();
    c.layers.kinds = l.at("kinds").get<std::vector<std::string>>();
    c.layers.minParameters = intField<int64_t>(l, "min_parameters", "config.layers", 0);
    c.calibrationText = j.at("calibration_text").get<std::string>();
    c.calibrationWindows = intField<int>(j, "calibration_windows", "config", 0);
    c.calibrationSeq = intField<int>(j, "calibration_seq", "config", 0);
    c.evaluationText = j.at("evaluation_text").get<std::string>();
    c.evalSeq = intField<int>(j, "eval_seq", "config", 0);
    c.evalMaxWindows = intField<int>(j, "eval_max_windows", "config", 0);
    c.evalProtocol = j.at("eval_protocol").get<std::string>();
    c.captureActivations = j.at("capture_activations").get<bool>();
    c.captureGradients = j.at("capture_gradients").get<bool>();
    c.histogramBins = intField<int>(j, "histogram_bins", "config", 0);
    c.threads = intField<int>(j, "threads", "config");
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
            {"weight_after_source", l.weightAfterSource}};
}

LayerResult layerFrom(const json& j) {
    LayerResult l;
    l.name = j.at("name").get<std::string>();
    const std::string at = "layers[" + l.name + "]";
    l.block = intField<int>(j, "block", at, 0);
    l.kind = j.at("kind").get<std::string>();
    l.rows = intField<int64_t>(j, "rows", at, 0);
    l.cols = intField<int64_t>(j, "cols", at, 0);
    l.method = j.at("method").get<std::string>();
    l.fallback = j.at("fallback").get<bool>();
    l.fallbackReason = j.at("fallback_reason").get<std::string>();
    l.weightSqnrDb = getNum(j, "weight_sqnr_db");
    l.outputSqnrDb = getNum(j, "output_sqnr_db");
    l.mse = getNum(j, "mse");
    l.maxAbsError = getNum(j, "max_abs_error");
    l.cosine = getNum(j, "cosine");
    l.parameters = intField<uint64_t>(j, "parameters", at);
    l.bytesFp = intField<uint64_t>(j, "bytes_fp", at);
    l.bytesQ = intField<uint64_t>(j, "bytes_q", at);
    l.gradientNormBefore = getNum(j, "gradient_norm_before");
    l.gradientNormAfter = getNum(j, "gradient_norm_after");
    l.groupSize = intField<int64_t>(j, "group_size", at, 0);
    l.perTensor = j.at("per_tensor").get<bool>();
    l.bits = intField<int>(j, "bits", at, 0, 32);
    l.symmetric = j.at("symmetric").get<bool>();
    l.seconds = getNum(j, "seconds");
    l.weightAfterSource = j.at("weight_after_source").get<std::string>();
    return l;
}

json runJson(const RunResult& r) {
    const PerplexitySummary& p = r.perplexity;
    const MemorySummary& m = r.memory;
    json timings = json::array();
    for (const auto& t : r.timings) timings.push_back({{"phase", t.phase}, {"seconds", t.seconds}});
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
            {"layers", layers}};
}

RunResult runFrom(const json& j) {
    if (j.at("format").get<std::string>() != "quantlens-run")
        throw Error("not a QuantLens run (format field)");
    const int version = intField<int>(j, "version", "");
    if (version != kFormatVersion)
        throw Error("unsupported run format version " + std::to_string(version));
    RunResult r;
    r.id = j.at("id").get<std::string>();
    r.label = j.at("label").get<std::string>();
    r.createdAt = j.at("created_at").get<std::string>();
    r.modelName = j.at("model_name").get<std::string>();
    r.architecture = j.at("architecture").get<std::string>();
    r.seconds = getNum(j, "seconds");
    r.hasActivations = j.at("has_activations").get<bool>();
    r.hasGradients = j.at("has_gradients").get<bool>();
    r.config = configFrom(j.at("config"));
    const json& p = j.at("perplexity");
    PerplexitySummary& ps = r.perplexity;
    ps.valid = p.at("valid").get<bool>();
    ps.pplFp = getNum(p, "ppl_fp");
    ps.pplQ = getNum(p, "ppl_q");
    ps.scoredTokens = intField<int64_t>(p, "scored_tokens", "perplexity", 0);
    ps.windows = intField<int>(p, "windows", "perplexity", 0);
    ps.seq = intField<int>(p, "seq", "perplexity", 0);
    ps.protocol = p.at("protocol").get<std::string>();
    ps.klMean = getNum(p, "kl_mean");
    ps.klP50 = getNum(p, "kl_p50");
    ps.klP90 = getNum(p, "kl_p90");
    ps.klP99 = getNum(p, "kl_p99");
    ps.klMax = getNum(p, "kl_max");
    ps.top1Agreement = getNum(p, "top1_agreement");
    ps.tokensPerSecond = getNum(p, "tokens_per_second");
    const json& m = j.at("memory");
    r.memory.parametersTotal = intField<uint64_t>(m, "parameters_total", "memory");
    r.memory.bytesFpTotal = intField<uint64_t>(m, "bytes_fp_total", "memory");
    r.memory.bytesQTotal = intField<uint64_t>(m, "bytes_q_total", "memory");
    r.memory.bytesFpQuantized = intField<uint64_t>(m, "bytes_fp_quantized", "memory");
    r.memory.bytesQQuantized = intField<uint64_t>(m, "bytes_q_quantized", "memory");
    r.memory.peakRssBytes = intField<uint64_t>(m, "peak_rss_bytes", "memory");
    for (const json& t : j.at("timings"))
        r.timings.push_back({t.at("phase").get<std::string>(), getNum(t, "seconds")});
    r.warnings = j.at("warnings").get<std::vector<std::string>>();
    for (const json& l : j.at("layers")) r.layers.push_back(layerFrom(l));
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
        if (bins > (d_.size() - pos_) / 8)
            throw Error("run file '" + path_ + "' is corrupt (bins)");
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

std::vector<std::vector<float>*> arraysOf(LayerResult& l) {
    return {&l.scales, &l.zeros, &l.activationSampleBefore, &l.activationSampleAfter};
}

std::string histogramsBin(const RunResult& run) {
    BinWriter w;
    w.raw(kBinMagic, 8);
    w.put(uint32_t(kFormatVersion));
    w.put(uint32_t(run.layers.size()));
    for (const LayerResult& cl : run.layers) {
        LayerResult& l = const_cast<LayerResult&>(cl);  // accessors only read here
        for (const Histogram* h : histogramsOf(l)) w.histogram(*h);
        for (const auto* a : arraysOf(l)) w.floats(*a);
    }
    w.raw(kBinEnd, 8);
    return w.bytes();
}

void readHistogramsBin(const std::string& path, RunResult& run) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("run file '" + path + "' is missing");
    std::ostringstream ss;
    ss << in.rdbuf();
    BinReader r(ss.str(), path);
    char magic[8];
    r.raw(magic, 8);
    if (std::memcmp(magic, kBinMagic, 8) != 0)
        throw Error("'" + path + "' is not a QuantLens histogram file");
    if (r.get<uint32_t>() != uint32_t(kFormatVersion))
        throw Error("'" + path + "' has an unsupported version");
    if (r.get<uint32_t>() != run.layers.size())
        throw Error("'" + path + "' does not match run.json (layer count)");
    for (LayerResult& l : run.layers) {
        for (Histogram* h : histogramsOf(l)) *h = r.histogram();
        for (auto* a : arraysOf(l)) *a = r.floats();
    }
    r.raw(magic, 8);
    if (std::memcmp(magic, kBinEnd, 8) != 0 || !r.atEnd())
        throw Error("run file '" + path + "' is corrupt (end marker)");
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
        const std::string target = storedWeightPath(dir.string(), l.name);
        if (run.storedWeights && run.storedWeights->count(l.name)) {
            writeStoredWeight(target, run.storedWeights->at(l.name));
        } else if (!run.folder.empty()) {
            const std::string source = storedWeightPath(run.folder, l.name);
            std::ifstream in(source, std::ios::binary);
            std::ostringstream bytes;
            if (!(in && bytes << in.rdbuf()))
                throw Error("cannot read '" + source + "' to save the run");
            writeFileDurable(target, bytes.str());
        } else {
            throw Error("the quantized weights of '" + l.name + "' are not available to save");
        }
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
    if (!fs::is_directory(dir)) throw Error("run folder '" + folder + "' does not exist");
    std::ifstream in(jsonPath, std::ios::binary);
    if (!in) throw Error("'" + folder + "' is not a run folder: run.json is missing");
    RunResult run;
    try {
        run = runFrom(json::parse(in));
    } catch (const json::exception& e) {
        throw Error("run file '" + jsonPath.string() + "' is corrupt: " + e.what());
    } catch (const Error& e) {
        throw Error("run file '" + jsonPath.string() + "': " + e.what());
    }
    readHistogramsBin((dir / "histograms.bin").string(), run);
    run.folder = folder;
    return run;
}

}  // namespace ql
