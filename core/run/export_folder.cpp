// Staged export folders, tokenizer copies and the export report (export_folder.h).
#include "run/export_folder.h"

#include "base/atomic_write.h"
#include "base/error.h"
#include "base/file_util.h"
#include "base/output_folder.h"
#include "base/process_env.h"
#include "io/gguf_model.h"
#include "run/run_folder.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace ql {

namespace fs = std::filesystem;

StagedFolder::StagedFolder(const std::string& dest, const std::string& kind, bool replaceExisting)
    : dest_(runfolder::destination(dest)) {
    const OutputFolder state = checkOutputFolder(dest_.string());
    if (state == OutputFolder::Ours && !replaceExisting)
        throw Error("'" + dest_.string() +
                    "' holds an earlier QuantLens export; replace it with --force");
    tmp_ = runfolder::makeSibling(dest_, ".tmp-");
    try {
        claimOutputFolder(tmp_.string(), kind);  // the marker first: a partial export is ours
    } catch (...) {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
        throw;
    }
}

StagedFolder::~StagedFolder() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(tmp_, ec);
}

void StagedFolder::writeFile(const std::string& file, const std::string& bytes) const {
    writeFileDurable(path(file), bytes);
}

std::string StagedFolder::commit() {
    syncDirectory(tmp_.string());
    std::error_code ec;
    fs::path old;
    if (fs::exists(fs::symlink_status(dest_, ec))) {
        // Checked again now: the destination must still be empty or ours.
        checkOutputFolder(dest_.string());
        old = runfolder::makeSibling(dest_, ".old-");
        fs::remove(old, ec);
        if (std::rename(dest_.c_str(), old.c_str()) != 0)
            throw Error("cannot replace '" + dest_.string() + "': " + describeErrno(errno));
    }
    if (std::rename(tmp_.c_str(), dest_.c_str()) != 0) {
        const int err = errno;
        if (!old.empty()) std::rename(old.c_str(), dest_.c_str());
        throw Error("cannot move the export into '" + dest_.string() + "': " + describeErrno(err));
    }
    committed_ = true;
    syncDirectory(dest_.parent_path().string());
    if (!old.empty()) fs::remove_all(old, ec);
    return dest_.string();
}

std::vector<std::string> copyTokenizerFiles(const std::string& modelDir, const StagedFolder& out) {
    static const char* kFiles[] = {"tokenizer.json",
                                   "tokenizer.model",
                                   "tokenizer_config.json",
                                   "special_tokens_map.json",
                                   "added_tokens.json",
                                   "vocab.json",
                                   "merges.txt",
                                   "generation_config.json"};
    std::vector<std::string> copied;
    for (const char* name : kFiles) {
        const fs::path src = fs::path(modelDir) / name;
        std::error_code ec;
        if (!fs::is_regular_file(src, ec)) continue;
        out.writeFile(name, readRegularFile(src.string(), "a tokenizer file", uint64_t(1) << 31));
        copied.push_back(name);
    }
    const bool tokenizer = std::any_of(copied.begin(), copied.end(), [](const std::string& f) {
        return f == "tokenizer.json" || f == "tokenizer.model";
    });
    if (!tokenizer)
        throw Error("model folder '" + modelDir +
                    "' has no tokenizer.json or tokenizer.model to put beside the export");
    return copied;
}

std::string exportReportJson(const RunResult& run, const std::string& formatJson,
                             const std::vector<std::string>& warnings) {
    nlohmann::ordered_json j;
    j["format"] = "quantlens-export-report";
    j["export"] = nlohmann::json::parse(formatJson);
    j["source_model"] = run.config.modelDir;
    j["run_folder"] = run.folder;
    j["warnings"] = warnings;
    j["export_peak_rss_bytes"] = peakResidentBytes();
    j["run"] = nlohmann::json::parse(runSummaryJson(run));
    return j.dump(2) + "\n";
}

std::string configWithQuantization(const std::string& modelDir,
                                   const std::string& quantizationConfigJson) {
    const std::string path = modelDir + "/config.json";
    nlohmann::ordered_json config;
    try {
        config = nlohmann::ordered_json::parse(readRegularFile(path, "config.json"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(path + ": " + jsonErrorReason(e));
    }
    if (!config.is_object()) throw Error(path + ": not a JSON object");
    config["quantization_config"] = nlohmann::ordered_json::parse(quantizationConfigJson);
    return config.dump(2) + "\n";
}

void requireModelFolder(const RunResult& run, const std::string& format) {
    if (isGgufFile(run.config.modelDir))
        throw Error("the run's model '" + run.config.modelDir + "' is a GGUF file; a " + format +
                    " export needs the Hugging Face model folder (config.json, tokenizer "
                    "files): export this run as GGUF, or make the run from the model's folder");
}

std::vector<std::string> folderFiles(const std::string& folder, uint64_t& totalBytes) {
    std::vector<std::string> names;
    totalBytes = 0;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        names.push_back(it->path().filename().string());
        totalBytes += it->file_size(ec);
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace ql
