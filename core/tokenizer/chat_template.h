// Chat prompts from tokenizer_config.json's chat_template, without a Jinja engine: the
// template is recognized as one of the known families by its marker strings and the single
// user turn (plus the generation prompt) is written as that family writes it. Any other
// template is refused with a message naming the file (a wrong prompt format would make
// every comparison meaningless, so nothing is guessed).
#pragma once

#include <string>
#include <vector>

namespace ql {

enum class ChatFamily {
    ChatML,  // Qwen: <|im_start|>role\n...<|im_end|>\n
    Llama2,  // <s>[INST] ... [/INST]
    Llama3,  // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
};

struct ChatTemplate {
    ChatFamily family = ChatFamily::ChatML;
    std::string name;           // "ChatML (Qwen)", "Llama-2 [INST]", "Llama-3 headers"
    std::string defaultSystem;  // a system turn the template adds when none is given
};

// Recognizes the chat_template of <modelDir>/tokenizer_config.json. Throws ql::Error naming
// the file when it is missing, has no chat_template, or the template is of another family.
ChatTemplate detectChatTemplate(const std::string& modelDir);
// The same from the template text; `source` names it in errors.
ChatTemplate recognizeChatTemplate(const std::string& templateText, const std::string& source);

struct ChatPrompt {
    bool bos = false;                     // put the tokenizer's BOS id first
    std::string text;                     // encode with special tokens matched
    std::vector<std::string> stopTokens;  // the end-of-turn token(s) of the family
};

// One user message followed by the assistant's generation prompt.
ChatPrompt chatPrompt(const ChatTemplate& chat, const std::string& userMessage);

}  // namespace ql
