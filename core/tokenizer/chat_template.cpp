// Known chat template families, recognized by their marker strings.
#include "tokenizer/chat_template.h"

#include "base/error.h"
#include "base/file_util.h"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace ql {

namespace {

bool contains(const std::string& text, const char* marker) {
    return text.find(marker) != std::string::npos;
}

// Qwen2.5's template adds this system turn when the conversation has none.
const char* kQwenDefaultSystem =
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

// Llama's templates write `message['content'] | trim`.
std::string trimmed(const std::string& s) {
    const char* space = " \t\n\r";
    const size_t b = s.find_first_not_of(space);
    return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(space) - b + 1);
}

}  // namespace

ChatTemplate recognizeChatTemplate(const std::string& t, const std::string& source) {
    ChatTemplate chat;
    if (contains(t, "<|im_start|>") && contains(t, "<|im_end|>")) {
        chat.family = ChatFamily::ChatML;
        chat.name = "ChatML (Qwen)";
        if (contains(t, kQwenDefaultSystem)) chat.defaultSystem = kQwenDefaultSystem;
        return chat;
    }
    if (contains(t, "<|start_header_id|>") && contains(t, "<|end_header_id|>") &&
        contains(t, "<|eot_id|>")) {
        chat.family = ChatFamily::Llama3;
        chat.name = "Llama-3 headers";
        return chat;
    }
    if (contains(t, "[INST]") && contains(t, "[/INST]")) {
        chat.family = ChatFamily::Llama2;
        chat.name = "Llama-2 [INST]";
        return chat;
    }
    throw Error(source +
                ": chat_template is not one of the known families (ChatML as Qwen's, Llama-2 "
                "[INST], Llama-3 header ids); QuantLens does not evaluate other Jinja "
                "templates: write the formatted prompt yourself and leave out --chat");
}

ChatTemplate detectChatTemplate(const std::string& modelDir) {
    const std::string path = (std::filesystem::path(modelDir) / "tokenizer_config.json").string();
    if (!std::filesystem::is_regular_file(path))
        throw Error(path + " is missing: --chat needs the chat_template it holds");
    const nlohmann::json j =
        nlohmann::json::parse(readRegularFile(path, "a tokenizer_config.json file"), nullptr,
                              /*allow_exceptions=*/false);
    if (!j.is_object()) throw Error(path + " is not a JSON object");
    const auto it = j.find("chat_template");
    if (it == j.end() || it->is_null())
        throw Error(path +
                    " has no chat_template: the model has no chat format (leave out --chat)");
    if (it->is_string()) return recognizeChatTemplate(it->get<std::string>(), path);
    // Some configs list named templates: [{"name": "default", "template": "..."}, ...].
    if (it->is_array())
        for (const auto& entry : *it)
            if (entry.is_object() && entry.value("name", "") == "default" &&
                entry.contains("template") && entry["template"].is_string())
                return recognizeChatTemplate(entry["template"].get<std::string>(), path);
    throw Error(path +
                ": field chat_template is neither a string nor a list with a 'default' template");
}

ChatPrompt chatPrompt(const ChatTemplate& chat, const std::string& user) {
    ChatPrompt p;
    switch (chat.family) {
        case ChatFamily::ChatML:
            if (!chat.defaultSystem.empty())
                p.text = "<|im_start|>system\n" + chat.defaultSystem + "<|im_end|>\n";
            p.text += "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
            p.stopTokens = {"<|im_end|>"};
            break;
        case ChatFamily::Llama2:
            p.bos = true;
            p.text = "[INST] " + trimmed(user) + " [/INST]";
            break;
        case ChatFamily::Llama3:
            p.bos = true;  // <|begin_of_text|>
            p.text = "<|start_header_id|>user<|end_header_id|>\n\n" + trimmed(user) +
                     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
            p.stopTokens = {"<|eot_id|>"};
            break;
    }
    return p;
}

}  // namespace ql
