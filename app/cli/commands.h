// quantlens-cli subcommands. Each takes the arguments after its name, prints its
// result to stdout and returns the exit code; errors are thrown as ql::Error and
// reported by main() as one line on stderr with exit code 1.
#pragma once

#include <string>
#include <vector>

namespace qlcli {

using Argv = std::vector<std::string>;

int cmdInfo(const Argv& args);         // cmd_info.cpp
int cmdTokenize(const Argv& args);     // cmd_tokenize.cpp
int cmdEval(const Argv& args);         // cmd_eval.cpp
int cmdSynth(const Argv& args);        // cmd_synth.cpp
int cmdQuantize(const Argv& args);     // cmd_quantize.cpp
int cmdCompare(const Argv& args);      // cmd_compare.cpp
int exportGguf(const Argv& args);      // cmd_export_gguf.cpp (export --format gguf)
int cmdExport(const Argv& args);       // cmd_export.cpp
int cmdSweep(const Argv& args);        // cmd_sweep.cpp
int cmdInfo(const Argv& args);         // cmd_info.cpp
int cmdTokenize(const Argv& args);     // cmd_tokenize.cpp
int cmdEval(const Argv& args);         // cmd_eval.cpp
int cmdSynth(const Argv& args);        // cmd_synth.cpp
int cmdQuantize(const Argv& args);     // cmd_quantize.cpp
int cmdCompare(const Argv& args);      // cmd_compare.cpp
int cmdSensitivity(const Argv& args);  // cmd_sensitivity.cpp
int cmdPlan(const Argv& args);         // cmd_plan.cpp
int cmdGenerate(const Argv& args);     // cmd_generate.cpp
int cmdBenchInfer(const Argv& args);   // cmd_bench_infer.cpp

// True when args contain --help or -h; prints `usage` to stdout.
bool wantsHelp(const Argv& args, const char* usage);
// Every value of a repeatable option ("--include X" or "--include=X"), in order; Args keeps
// only the last one.
std::vector<std::string> repeated(const Argv& args, const std::string& option);
// Reads a whole file; throws ql::Error naming it if unreadable.
std::string readTextFile(const std::string& path);
// Applies --threads N; 0 keeps the default set by main() (QUANTLENS_THREADS or all cores).
void applyThreads(int threads);
class Args;
// --model: a folder (a model file alone has no config.json or tokenizer); throws
// ql::Error naming the path otherwise.
std::string modelFolderOption(const Args& args);
// --threads: 0 when absent, else an integer in 1..kMaxThreads (throws ql::Error otherwise).
int threadsOption(const Args& args);
// --activations: false for float (the default), true for int8 (throws ql::Error otherwise).
bool int8ActivationsOption(const Args& args);

}  // namespace qlcli
