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
#include "base/error.h"
#include "run/run_internal.h"

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
    c.layers.minParameters = l.at("min_parameters").get<int64_t>();
    c.calibrationText = j.at("calibration_text").get<std::string>();
    c.calibrationWindows = j.at("calibration_windows").get<int>();
    c.calibrationSeq = j.at("calibration_seq").get<int>();
    c.evaluationText = j.at("evaluation_text").get<std::string>();
    c.evalSeq = j.at("eval_seq").get<int>();
    c.evalMaxWindows = j.at("eval_max_windows").get<int>();
    c.evalProtocol = j.at("eval_protocol").get<std::string>();
    c.captureActivations = j.at("capture_activations").get<bool>();
    c.captureGradients = j.at("capture_gradients").get<bool>();
    c.histogramBins = j.at("histogram_bins").get<int>();
    c.threads = j.at("threads").get<int>();
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
            {"weight_after_source", l.weightAfterSource},
            {"unusable_weights", l.unusableWeights},
            {"first_unusable_row", l.firstUnusableRow}};
}

LayerResult layerFrom(const json& j) {
    LayerResult l;
    l.name = j.at("name").get<std::string>();
    l.block = j.at("block").get<int>();
    l.kind = j.at("kind").get<std::string>();
    l.rows = j.at("rows").get<int64_t>();
    l.cols = j.at("cols").get<int64_t>();
    l.method = j.at("method").get<std::string>();
    l.fallback = j.at("fallback").get<bool>();
    l.fallbackReason = j.at("fallback_reason").get<std::string>();
    l.weightSqnrDb = getNum(j, "weight_sqnr_db");
    l.outputSqnrDb = getNum(j, "output_sqnr_db");
    l.mse = getNum(j, "mse");
    l.maxAbsError = getNum(j, "max_abs_error");
    l.cosine = getNum(j, "cosine");
    l.parameters = j.at("parameters").get<uint64_t>();
    l.bytesFp = j.at("bytes_fp").get<uint64_t>();
    l.bytesQ = j.at("bytes_q").get<uint64_t>();
    l.gradientNormBefore = getNum(j, "gradient_norm_before");
    l.gradientNormAfter = getNum(j, "gradient_norm_after");
    l.groupSize = j.at("group_size").get<int64_t>();
    l.perTensor = j.at("per_tensor").get<bool>();
    l.bits = j.at("bits").get<int>();
    l.symmetric = j.at("symmetric").get<bool>();
    l.seconds = getNum(j, "seconds");
    l.weightAfterSource = j.at("weight_after_source").get<std::string>();
    // Absent in runs written before these fields existed.
    l.unusableWeights = j.value("unusable_weights", uint64_t(0));
    l.firstUnusableRow = j.value("first_unusable_row", int64_t(-1));
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
            {"data_used",
             {{"calibration_windows", r.calibrationWindowsUsed},
              {"calibration_windows_held_out", r.calibrationWindowsHeldOut},
              {"calibration_tokens", r.calibrationTokens},
              {"output_sqnr_source", r.outputSqnrSource},
              {"output_sqnr_windows", r.outputSqnrWindows}}},
            {"layers", layers}};
}

RunResult runFrom(const json& j) {
    if (j.at("format").get<std::string>() != "quantlens-run")
        throw Error("not a QuantLens run (format field)");
    if (j.at("version").get<int>() != kFormatVersion)
        throw Error("unsupported run format version " + std::to_string(j.at("version").get<int>()));
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
    ps.scoredTokens = p.at("scored_tokens").get<int64_t>();
    ps.windows = p.at("windows").get<int>();
    ps.seq = p.at("seq").get<int>();
    ps.protocol = p.at("protocol").get<std::string>();
    ps.klMean = getNum(p, "kl_mean");
    ps.klP50 = getNum(p, "kl_p50");
    ps.klP90 = getNum(p, "kl_p90");
    ps.klP99 = getNum(p, "kl_p99");
    ps.klMax = getNum(p, "kl_max");
    ps.top1Agreement = getNum(p, "top1_agreement");
    ps.tokensPerSecond = getNum(p, "tokens_per_second");
    const json& m = j.at("memory");
    r.memory.parametersTotal = m.at("parameters_total").get<uint64_t>();
    r.memory.bytesFpTotal = m.at("bytes_fp_total").get<uint64_t>();
    r.memory.bytesQTotal = m.at("bytes_q_total").get<uint64_t>();
    r.memory.bytesFpQuantized = m.at("bytes_fp_quantized").get<uint64_t>();
    r.memory.bytesQQuantized = m.at("bytes_q_quantized").get<uint64_t>();
    r.memory.peakRssBytes = m.at("peak_rss_bytes").get<uint64_t>();
    for (const json& t : j.at("timings"))
        r.timings.push_back({t.at("phase").get<std::string>(), getNum(t, "seconds")});
    r.warnings = j.at("warnings").get<std::vector<std::string>>();
    if (const auto u = j.find("data_used"); u != j.end()) {  // absent in older runs
        r.calibrationWindowsUsed = u->at("calibration_windows").get<int>();
        r.calibrationWindowsHeldOut = u->at("calibration_windows_held_out").get<int>();
        r.calibrationTokens = u->at("calibration_tokens").get<int64_t>();
        r.outputSqnrSource = u->at("output_sqnr_source").get<std::string>();
        r.outputSqnrWindows = u->at("output_sqnr_windows").get<int>();
    }
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

void writeFile(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out.flush()) throw Error("cannot write '" + path.string() + "': " + std::strerror(errno));
}

// Unique sibling path "<folder><suffix>XXXXXX" (created as a directory by mkdtemp).
fs::path uniqueSibling(const fs::path& folder, const std::string& suffix) {
    std::string tmpl = folder.string() + suffix + "XXXXXX";
    if (!mkdtemp(tmpl.data()))
        throw Error("cannot create a folder next to '" + folder.string() +
                    "': " + std::strerror(errno));
    return tmpl;
}

void writeRunInto(const RunResult& run, const fs::path& dir) {
    writeFile(dir / "run.json", runJson(run).dump(1) + "\n");
    writeFile(dir / "histograms.bin", histogramsBin(run));
    for (const LayerResult& l : run.layers) {
        if (l.weightAfterSource != "stored") continue;
        fs::create_directories(dir / "weights");
        const std::string target = storedWeightPath(dir.string(), l.name);
        if (run.storedWeights && run.storedWeights->count(l.name)) {
            writeStoredWeight(target, run.storedWeights->at(l.name));
        } else if (!run.folder.empty()) {
            fs::copy_file(storedWeightPath(run.folder, l.name), target);
        } else {
            throw Error("the quantized weights of '" + l.name + "' are not available to save");
        }
    }
}

}  // namespace

void saveRun(const RunResult& run, const std::string& folder) {
    if (folder.empty()) throw Error("no run folder given");
    fs::path dest = fs::absolute(folder).lexically_normal();
    if (!dest.has_filename()) dest = dest.parent_path();
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    const fs::path tmp = uniqueSibling(dest, ".tmp-");
    try {
        writeRunInto(run, tmp);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    // Replace an existing folder only now that the new one is complete.
    fs::path old;
    if (fs::exists(dest)) {
        old = uniqueSibling(dest, ".old-");
        fs::remove(old, ec);
        fs::rename(dest, old, ec);
        if (ec) {
            fs::remove_all(tmp);
            throw Error("cannot replace '" + dest.string() + "': " + ec.message());
        }
    }
    fs::rename(tmp, dest, ec);
    if (ec) {
        if (!old.empty()) fs::rename(old, dest);
        fs::remove_all(tmp);
        throw Error("cannot create '" + dest.string() + "': " + ec.message());
    }
    if (!old.empty()) fs::remove_all(old, ec);
}

RunResult loadRun(const std::string& folder) {
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
