// Writes the seed corpora of the fuzz harnesses from ../shared into a build folder
// (shared data is never copied into the repository):
//   make_seeds --shared DIR --out DIR [--run RUN_DIR]...
// Large files are shrunk so that the fuzzers spend their time on structure, not bulk:
// safetensors keep every tensor name, dtype and rank with dims cut to 2; the Qwen
// tokenizer.json keeps its normalizer, pre-tokenizer, decoder and special tokens with a
// 400-token vocabulary. A --run folder (from `quantlens-cli quantize`) becomes one input
// of the run harness: u32 length of run.json, run.json, histograms.bin.
#include "base/error.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string readAll(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw ql::Error("cannot read '" + p.string() + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeAll(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out.flush()) throw ql::Error("cannot write '" + p.string() + "'");
    std::printf("  %s (%zu bytes)\n", p.c_str(), bytes.size());
}

// Every tensor with its dims cut to 2, data taken from the start of the original tensor.
void shrinkSafetensors(const fs::path& src, const fs::path& dst) {
    const ql::SafetensorsFile in(src.string());
    std::vector<ql::TensorToWrite> out;
    for (const ql::TensorInfo& t : in.tensors()) {
        ql::TensorToWrite w{t.name, t.dtype, t.shape, {}};
        uint64_t n = ql::dtypeSize(t.dtype);
        for (int64_t& d : w.shape) n *= uint64_t(d = std::min<int64_t>(d, 2));
        const unsigned char* p = in.data(t);
        w.bytes.assign(p, p + std::min<uint64_t>(n, t.byteSize));
        w.bytes.resize(n);
        out.push_back(std::move(w));
    }
    ql::writeSafetensors(dst.string(), out, in.metadata());
    std::printf("  %s\n", dst.c_str());
}

// The original header followed by only the first bytes of data (a truncated download).
void truncatedSafetensors(const fs::path& src, const fs::path& dst) {
    const std::string bytes = readAll(src);
    uint64_t headerLen = 0;
    std::memcpy(&headerLen, bytes.data(), 8);
    writeAll(dst, bytes.substr(0, std::min<uint64_t>(bytes.size(), 8 + headerLen + 64)));
}

// The first `keep` vocabulary ids, the merges among them and the added tokens renumbered
// after them.
std::string shrinkTokenizerJson(const fs::path& src, int keep) {
    json j = json::parse(readAll(src));
    json& model = j.at("model");
    json vocab = json::object();
    for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it)
        if (it->get<int64_t>() < keep) vocab[it.key()] = *it;
    json merges = json::array();
    for (const json& m : model.at("merges")) {
        std::string a, b;
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const size_t space = s.find(' ');
            a = s.substr(0, space);
            b = space == std::string::npos ? "" : s.substr(space + 1);
        } else {
            a = m.at(0).get<std::string>();
            b = m.at(1).get<std::string>();
        }
        if (vocab.contains(a) && vocab.contains(b) && vocab.contains(a + b)) merges.push_back(m);
        if (merges.size() >= size_t(keep)) break;
    }
    model["vocab"] = vocab;
    model["merges"] = merges;
    int next = keep;
    for (json& t : j["added_tokens"]) t["id"] = next++;
    return j.dump(1);
}

std::string packRun(const fs::path& dir) {
    const std::string runJson = readAll(dir / "run.json");
    const auto n = uint32_t(runJson.size());
    std::string out(reinterpret_cast<const char*>(&n), 4);
    return out + runJson + readAll(dir / "histograms.bin");
}

void fromShared(const fs::path& shared, const fs::path& out) {
    for (const char* model : {"stories260k", "tinystories-656k"}) {
        const fs::path m = shared / "models" / model;
        if (!fs::exists(m)) continue;
        writeAll(out / "config" / (std::string(model) + ".json"), readAll(m / "config.json"));
        fs::create_directories(out / "safetensors");
        shrinkSafetensors(m / "model.safetensors",
                          out / "safetensors" / (std::string(model) + ".shrunk"));
        truncatedSafetensors(m / "model.safetensors",
                             out / "safetensors" / (std::string(model) + ".truncated"));
        if (fs::exists(m / "tokenizer.json"))
            writeAll(out / "tokenizer_json" / (std::string(model) + ".json"),
                     readAll(m / "tokenizer.json"));
        if (fs::exists(m / "tokenizer.model"))
            writeAll(out / "tokenizer_model" / (std::string(model) + ".model"),
                     readAll(m / "tokenizer.model"));
    }
    const fs::path qwen = shared / "tokenizers" / "qwen3" / "tokenizer.json";
    if (fs::exists(qwen))
        writeAll(out / "tokenizer_json" / "qwen3-400.json", shrinkTokenizerJson(qwen, 400));
}

}  // namespace

int main(int argc, char** argv) {
    fs::path shared, out;
    std::vector<fs::path> runs;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--shared")
            shared = argv[i + 1];
        else if (a == "--out")
            out = argv[i + 1];
        else if (a == "--run")
            runs.push_back(argv[i + 1]);
    }
    if (out.empty()) {
        std::fprintf(stderr, "usage: make_seeds --shared DIR --out DIR [--run RUN_DIR]...\n");
        return 2;
    }
    try {
        if (!shared.empty()) fromShared(shared, out);
        for (const fs::path& r : runs)
            writeAll(out / "run" / (r.filename().string() + ".run"), packRun(r));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
