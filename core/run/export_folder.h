// core/run private: the pieces every model export shares — a folder written complete into
// a temporary sibling and renamed into place, the tokenizer files copied from the model,
// and the short report of the run behind the export.
#pragma once

#include "run/run.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ql {

// The destination must be new, an empty folder, or (with replaceExisting) a folder
// QuantLens wrote (base/output_folder.h); checked in the constructor, before any work.
// Files go to a temporary sibling "<dest>.tmp-XXXXXX", removed again unless commit() ran.
class StagedFolder {
public:
    StagedFolder(const std::string& dest, const std::string& kind, bool replaceExisting);
    ~StagedFolder();
    StagedFolder(const StagedFolder&) = delete;
    StagedFolder& operator=(const StagedFolder&) = delete;

    std::string path(const std::string& file) const { return (tmp_ / file).string(); }
    // Writes a small file durably into the staged folder.
    void writeFile(const std::string& file, const std::string& bytes) const;
    // fsyncs the folder, moves an earlier export away, renames the staged folder to the
    // destination, removes the old one. Returns the destination's absolute path.
    std::string commit();

private:
    std::filesystem::path dest_, tmp_;
    bool committed_ = false;
};

// Copies the tokenizer and generation files the model folder has (tokenizer.json,
// tokenizer.model, tokenizer_config.json, special_tokens_map.json, added_tokens.json,
// vocab.json, merges.txt, generation_config.json); returns the names copied. ql::Error
// when none of tokenizer.json / tokenizer.model is there.
std::vector<std::string> copyTokenizerFiles(const std::string& modelDir, const StagedFolder& out);

// quantlens_report.json: what was exported from which run, the run's metrics (per-layer
// weight/output SQNR, perplexity, KL, memory, peak RSS of the run) and the export's own
// format details (`format` object, merged in as "export").
std::string exportReportJson(const RunResult& run, const std::string& formatJson,
                             const std::vector<std::string>& warnings);

// The model's config.json with "quantization_config" set to the given JSON object
// (ql::Error naming config.json when it is not a JSON object).
std::string configWithQuantization(const std::string& modelDir,
                                   const std::string& quantizationConfigJson);

// GPTQ and QuantLens exports take config.json and the tokenizer files from a Hugging Face
// model folder: ql::Error naming the model and `format` when the run's model is a GGUF file.
void requireModelFolder(const RunResult& run, const std::string& format);

// The sizes of the finished folder's files, sorted by name.
std::vector<std::string> folderFiles(const std::string& folder, uint64_t& totalBytes);

}  // namespace ql
