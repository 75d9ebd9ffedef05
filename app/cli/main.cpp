// quantlens-cli: the QuantLens engine without a GUI.
#include "args.h"
#include "base/error.h"
#include "base/file_util.h"
#include "base/process_env.h"
#include "commands.h"
#include "io/gguf_model.h"
#include "model/model.h"
#include "model/tensor_pool.h"

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace qlcli {

bool wantsHelp(const Argv& args, const char* usage) {
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return true;
        }
    }
    return false;
}

std::vector<std::string> repeated(const Argv& args, const std::string& option) {
    std::vector<std::string> out;
    const std::string eq = option + "=";
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == option && i + 1 < args.size())
            out.push_back(args[++i]);
        else if (args[i].rfind(eq, 0) == 0)
            out.push_back(args[i].substr(eq.size()));
    }
    return out;
}

std::string readTextFile(const std::string& path) {
    // Regular files only: a directory used to read as empty ("0 tokens"), a FIFO blocks.
    return ql::readRegularFile(path, "a text file", uint64_t(4) << 30);
}

std::string modelFolderOption(const Args& args) {
    const std::string dir = args.required("model");
    std::error_code ec;
    if (ql::isGgufFile(dir)) return dir;  // a GGUF file is a whole model
    if (!std::filesystem::is_directory(dir, ec))
        throw ql::Error("--model " + dir + ": " +
                        (std::filesystem::exists(dir, ec) ? "is a file" : "no such folder") +
                        ", expected a model folder (config.json, safetensors, tokenizer) or a "
                        ".gguf file");
    return dir;
}

void applyThreads(int threads) {
    if (threads != 0) ql::setComputeThreads(threads);
}

int threadsOption(const Args& args) {
    if (!args.has("threads")) return 0;
    const int t = args.intValue("threads", 0);
    if (t < 1 || t > ql::kMaxThreads)
        throw ql::Error("option --threads expects a number of threads in 1.." +
                        std::to_string(ql::kMaxThreads) + ", got '" + args.value("threads") + "'");
    return t;
}

bool int8ActivationsOption(const Args& args) {
    const std::string activations = args.value("activations", "float");
    if (activations != "float" && activations != "int8")
        throw ql::Error("--activations must be float or int8, not '" + activations + "'");
    return activations == "int8";
}

}  // namespace qlcli

namespace {

const char* kUsage =
    "Usage: quantlens-cli COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  info MODEL        architecture, parameters, dtypes, bytes, tensor list\n"
    "  tokenize          tokenize a text file (count, sha256 of ids, first ids)\n"
    "  eval              perplexity of a model on a text\n"
    "  synth             write a model folder with RANDOM weights of a real model's shapes\n"
    "  quantize          quantize a model with a recipe and write a run folder\n"
    "  compare           compare two run folders side by side (CSV)\n"
    "  export            write a run's quantized model: GGUF, GPTQ or QuantLens packed\n"
    "  sweep             weights-only metrics per layer for several recipes at once\n"
    "  sensitivity       measured per-layer/block/kind sensitivity to a recipe (dKL, dppl)\n"
    "  plan              mixed-precision plan under a memory budget (--override lines)\n"
    "  generate          texts of the float model and runs side by side, per-token KL\n"
    "  bench-infer       prefill/decode tokens/s, weight + KV memory, bandwidth limit\n"
    "\n"
    "Run 'quantlens-cli COMMAND --help' for the options of a command.\n";

}  // namespace

int main(int argc, char** argv) {
    ql::prepareProcessEnvironment(argv, ql::requestedThreads(argc, argv));
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::cout << kUsage;
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    const qlcli::Argv args(argv + 2, argv + argc);
    try {
        ql::setComputeThreads(ql::requestedThreads(0, argv));  // QUANTLENS_THREADS or all
        ql::installTensorPool();  // reuse large tensors: no page-fault storms
        struct PoolReport {       // QL_POOL_STATS=1: the pool's counters at exit (diagnostic)
            ~PoolReport() {
                if (!std::getenv("QL_POOL_STATS")) return;
                const ql::TensorPoolStats s = ql::tensorPoolStats();
                std::cerr << "tensor pool: installed " << s.installed << ", hits " << s.hits
                          << ", misses " << s.misses << ", fresh " << (s.freshBytes >> 20)
                          << " MiB, cached " << (s.cachedBytes >> 20) << " MiB\n";
            }
        } poolReport;
        if (command == "info") return qlcli::cmdInfo(args);
        if (command == "tokenize") return qlcli::cmdTokenize(args);
        if (command == "eval") return qlcli::cmdEval(args);
        if (command == "synth") return qlcli::cmdSynth(args);
        if (command == "quantize") return qlcli::cmdQuantize(args);
        if (command == "compare") return qlcli::cmdCompare(args);
        if (command == "export") return qlcli::cmdExport(args);
        if (command == "sweep") return qlcli::cmdSweep(args);
        if (command == "sensitivity") return qlcli::cmdSensitivity(args);
        if (command == "plan") return qlcli::cmdPlan(args);
        if (command == "generate") return qlcli::cmdGenerate(args);
        if (command == "bench-infer") return qlcli::cmdBenchInfer(args);
        std::cerr << "quantlens-cli: unknown command '" << command << "' (see --help)\n";
        return 2;
    } catch (const ql::Cancelled& e) {
        std::cerr << "quantlens-cli " << command << ": " << e.what() << "\n";
        return 130;
    } catch (const std::exception& e) {
        std::cerr << "quantlens-cli " << command << ": error: " << e.what() << "\n";
        return 1;
    }
}
