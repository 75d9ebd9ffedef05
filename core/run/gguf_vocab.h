// run-private: the byte-level BPE vocabulary of a tokenizer.json (Qwen2 / Qwen3) as GGUF
// tokenizer metadata, as convert_hf_to_gguf.py writes it (tokenizer.ggml.model "gpt2"): the
// tokens in id order with gaps filled by "[PAD<id>]", their types (normal, control for special
// added tokens, user-defined for the other added tokens, unused for the gaps), the merges as
// "a b", the pre-tokenizer name llama.cpp knows it by, the special token ids.
#pragma once

#include "io/gguf_writer.h"
#include "io/model_config.h"

#include <string>

namespace ql {

// Throws ql::Error naming tokenizer.json and the field for a vocabulary that is not byte-level
// BPE or whose pre-tokenizer llama.cpp has no name for.
void addBytePairVocab(GgufWriter& w, const ModelConfig& c, const std::string& modelDir);

}  // namespace ql
