// quantlens-cli export: a run's quantized model as a folder other tools load (GPTQ) or
// QuantLens reads back (quantlens). GGUF export is a separate piece of work (not in this
// build).
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "run/model_export.h"
#include "run/run.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli export RUN --format gptq|quantlens --out DIR\n"
    "                            [--checkpoint-format gptq|gptq_v2] [--force] [--json]\n"
    "       quantlens-cli export ... --format gguf ...   (see export --format gguf --help)\n"
    "\n"
    "Writes the run's quantized model as a folder:\n"
    "  gptq   model.safetensors (qweight/qzeros/scales/g_idx per quantized linear, other\n"
    "         tensors in their source dtype), config.json with quantization_config, the\n"
    "         tokenizer files and quantlens_report.json; loads in transformers (optimum /\n"
    "         GPTQModel) and vLLM. Runs: rtn or gptq, int2/int4/int8, group-wise or channel-wise\n"
    "         (group_size -1), every decoder projection quantized on one group size.\n"
    "         --checkpoint-format gptq (default) stores zero - 1 as AutoGPTQ does; a group\n"
    "         whose zero point is 0 needs gptq_v2 (GPTQModel), which stores the zero itself.\n"
    "  quantlens  QuantLens's own packed safetensors (codes + float32 grids as the run holds\n"
    "         them, casts as F16/BF16) with the recipe, per-layer method/grid/metrics,\n"
    "         architecture and versions in __metadata__; opens as a model in QuantLens with\n"
    "         the run's dequantized weights bit for bit. Not for nf4/fp4/llama.cpp recipes yet.\n"
    "The run's model folder (run.json's model) must still exist. DIR must be new or empty;\n"
    "an earlier QuantLens export there is replaced only with --force. The folder is written\n"
    "complete beside DIR and renamed into place.\n";

ql::GptqZeroFormat zeroFormat(const Args& args) {
    const std::string f = args.has("checkpoint-format") ? args.value("checkpoint-format") : "gptq";
    if (f == "gptq") return ql::GptqZeroFormat::V1;
    if (f == "gptq_v2") return ql::GptqZeroFormat::V2;
    throw ql::Error("option --checkpoint-format expects gptq or gptq_v2, got '" + f + "'");
}

}  // namespace

int cmdExport(const Argv& argv) {
    // GGUF has its own options and --help.
    const std::vector<std::string> formats = repeated(argv, "--format");
    if (!formats.empty() && formats.back() == "gguf") return exportGguf(argv);
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"format", "out", "checkpoint-format"}, {"json", "force"});
    if (args.positional().size() != 1)
        throw ql::Error("export needs one run folder: RUN (see --help)");
    const std::string format = args.required("format");
    const std::string outDir = args.required("out");
    if (format != "gptq" && format != "quantlens")
        throw ql::Error("option --format expects gptq, quantlens or gguf, got '" + format + "'");
    ql::ModelExportOptions options;
    options.gptqZeros = zeroFormat(args);
    options.replaceExisting = args.flag("force");
    const ql::RunResult run = ql::loadRun(args.positional()[0]);
    const ql::ModelExportResult r = format == "gptq" ? ql::exportGptq(run, outDir, options)
                                                     : ql::exportQuantLens(run, outDir, options);
    for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
    if (args.flag("json")) {
        const nlohmann::json j = {{"folder", r.folder},    {"format", format},
                                  {"files", r.files},      {"bytes", r.bytes},
                                  {"seconds", r.seconds},  {"peak_rss_bytes", r.peakRssBytes},
                                  {"warnings", r.warnings}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << "exported " << run.config.recipe << " run as " << format << " to " << r.folder
              << " (" << r.files.size() << " files, " << r.bytes << " bytes, " << r.seconds
              << " s, peak RSS " << (r.peakRssBytes >> 20) << " MiB)\n";
    return 0;
}

}  // namespace qlcli
