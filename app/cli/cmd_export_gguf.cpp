// quantlens-cli export RUN --format gguf --out FILE (or --model DIR --recipe R instead of RUN):
// a GGUF file llama.cpp loads (run/gguf_export.h).
#include "args.h"
#include "base/error.h"
#include "commands.h"
#include "run/gguf_export.h"
#include "run/run.h"

#include <iostream>

namespace qlcli {

namespace {

const char* kUsage =
    "Usage: quantlens-cli export RUN --format gguf --out FILE [--llama-types]\n"
    "       quantlens-cli export --model DIR --recipe RECIPE --format gguf --out FILE\n"
    "                            [--llama-types]\n"
    "\n"
    "Writes a GGUF v3 file that llama.cpp loads (architecture and tokenizer metadata,\n"
    "llama.cpp tensor names and q/k layout), atomically.\n"
    "\n"
    "  RUN            a run folder whose recipe is a llama.cpp format or mix (q8_0 .. q6_k,\n"
    "                 q2_k_mix, q3_k_s .. q5_k_m), fp16 or bf16: every layer in the type the\n"
    "                 run gave it\n"
    "  --model DIR    a model folder (or .gguf file) instead, with --recipe: f32, f16, bf16\n"
    "                 (every 2-D weight, as convert_hf_to_gguf.py --outtype) or a llama.cpp\n"
    "                 recipe\n"
    "  --format gguf  (export --help: the GPTQ and QuantLens folder formats)\n"
    "  --out FILE     the .gguf file to write\n"
    "  --llama-types  the token embedding and output head quantized as llama-quantize does\n"
    "                 for the recipe (its file exactly); default: they stay float32, so the\n"
    "                 file is the model the run measured\n"
    "\n"
    "Supported: Llama and Mistral folders with a SentencePiece tokenizer.model, Qwen2 and\n"
    "Qwen3 folders with their tokenizer.json, and .gguf models (a run of one, or --model\n"
    "X.gguf): their own metadata is kept, as llama-quantize keeps it.\n";

}  // namespace

int exportGguf(const Argv& argv) {
    if (wantsHelp(argv, kUsage)) return 0;
    const Args args(argv, {"format", "out", "model", "recipe"}, {"llama-types"});
    args.allowPositional(1);
    const std::string format = args.required("format");
    if (format != "gguf") throw ql::Error("--format " + format + ": this command writes gguf only");
    const std::string out = args.required("out");
    ql::GgufExportOptions options;
    options.llamaQuantizeTypes = args.flag("llama-types");
    if (args.has("model")) {
        if (!args.positional().empty())
            throw ql::Error("give either a run folder or --model, not both");
        ql::exportModelGguf(modelFolderOption(args), args.required("recipe"), out, options);
    } else {
        if (args.positional().empty())
            throw ql::Error("missing the run folder to export (or --model DIR --recipe R)");
        if (args.has("recipe"))
            throw ql::Error("--recipe goes with --model; a run exports its own recipe");
        ql::exportRunGguf(ql::loadRun(args.positional()[0]), out, options);
    }
    std::cout << "wrote " << out << "\n";
    return 0;
}

}  // namespace qlcli
