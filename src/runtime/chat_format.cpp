#include "runtime/chat_format.h"

#include "util/error.h"

namespace concord {
namespace {

// Built-in templates for files without tokenizer.chat_template, rendered by the same
// engine as a file's own (written for concord; see chat_format.h for the layouts).
constexpr const char* kGemmaTemplate =
    "{%- set ns = namespace(system='') -%}"
    "{%- for m in messages -%}"
    "{%- if m.role == 'system' -%}{%- set ns.system = ns.system + m.content + '\\n\\n' -%}"
    "{%- else -%}"
    "{{ '<start_of_turn>' + ('model' if m.role == 'assistant' else 'user') + '\\n' + ns.system"
    " + m.content + '<end_of_turn>\\n' }}{%- set ns.system = '' -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}";

constexpr const char* kChatmlTemplate =
    "{%- for m in messages -%}"
    "{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}";

constexpr const char* kTranscriptTemplate =
    "{%- for m in messages -%}"
    "{%- if m.role == 'system' -%}{{ m.content + '\\n' }}"
    "{%- else -%}{{ ('User: ' if m.role == 'user' else 'Assistant: ') + m.content + '\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}";

void check_role(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    fail("chat message role '{}' is not one of system, user, assistant", m.role);
  }
}

// Pieces that end an assistant turn in the common families, most specific first.
constexpr const char* kEndMarkers[] = {"<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>",
                                       "<|end_of_text|>"};

std::string token_text(const Vocab& v, TokenId id) {
  return id >= 0 && static_cast<size_t>(id) < v.tokens.size() ? v.tokens[static_cast<size_t>(id)]
                                                              : "";
}

ChatFormat built_in(std::string name, std::string because, const char* source,
                    std::string end_marker) {
  ChatFormat f;
  f.name = std::move(name);
  f.chosen_because = std::move(because);
  f.jinja = std::make_shared<const jinja::Template>(source);
  f.end_marker = std::move(end_marker);
  return f;
}

}  // namespace

std::string ChatFormat::render(std::span<const ChatMessage> messages,
                               bool add_generation_prompt) const {
  if (messages.empty()) fail("the conversation has no messages");
  for (const ChatMessage& m : messages) check_role(m);
  if (!jinja) fail("chat format '{}' has no template", name);
  jinja::Json list = jinja::Json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  return jinja->render({{"messages", list},
                        {"add_generation_prompt", add_generation_prompt},
                        {"bos_token", bos_token},
                        {"eos_token", eos_token}});
}

std::vector<TokenId> ChatFormat::tokenize(const Tokenizer& tokenizer,
                                          std::span<const ChatMessage> messages,
                                          bool add_generation_prompt) const {
  const std::string text = render(messages, add_generation_prompt);
  const bool has_bos = !bos_token.empty() && text.rfind(bos_token, 0) == 0;
  return tokenizer.encode(text, !has_bos, /*parse_special=*/true);
}

ChatFormat chat_format_for(const gguf::File& file) {
  const std::string arch = file.get_string("general.architecture").value_or("");
  if (const std::optional<std::string> source = file.get_string("tokenizer.chat_template")) {
    ChatFormat f;
    f.name = "jinja";
    f.chosen_because = "the file's chat template";
    try {
      f.jinja = std::make_shared<const jinja::Template>(*source);
    } catch (const Error& e) {
      fail("{}: its chat template cannot be used: {}", file.label(), e.what());
    }
    const Vocab vocab = Vocab::from_gguf(file);
    f.bos_token = token_text(vocab, vocab.bos);
    f.eos_token = token_text(vocab, vocab.eos);
    for (const char* marker : kEndMarkers) {
      if (source->find(marker) != std::string::npos && vocab.find(marker)) {
        f.end_marker = marker;
        break;
      }
    }
    return f;
  }
  const std::string because = "architecture " + arch + " without a template";
  if (arch.starts_with("gemma")) return built_in("gemma", because, kGemmaTemplate, "<end_of_turn>");
  if (arch.starts_with("qwen")) return built_in("chatml", because, kChatmlTemplate, "<|im_end|>");
  return built_in("transcript", "no chat template in the file", kTranscriptTemplate, "\nUser:");
}

TokenId end_of_turn_token(const ChatFormat& format, const Vocab& vocab) {
  if (!format.end_is_token() || format.end_marker.empty()) return -1;
  return vocab.find(format.end_of_turn()).value_or(-1);
}

}  // namespace concord
