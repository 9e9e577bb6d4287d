#include "runtime/chat_format.h"

#include "util/error.h"

namespace concord {
namespace {

void check_role(const ChatMessage& m) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant") {
    fail("chat message role '{}' is not one of system, user, assistant", m.role);
  }
}

std::string render_gemma(std::span<const ChatMessage> messages) {
  std::string out, system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      system += m.content + "\n\n";
      continue;
    }
    const char* role = m.role == "assistant" ? "model" : "user";
    out += "<start_of_turn>" + std::string(role) + "\n" + system + m.content + "<end_of_turn>\n";
    system.clear();
  }
  return out;
}

std::string render_tagged(std::span<const ChatMessage> messages, const std::string& open,
                          const std::string& after_role, const std::string& close) {
  std::string out;
  for (const ChatMessage& m : messages) out += open + m.role + after_role + m.content + close;
  return out;
}

std::string render_transcript(std::span<const ChatMessage> messages) {
  std::string out;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      out += m.content + "\n";
    } else {
      out += (m.role == "user" ? "User: " : "Assistant: ") + m.content + "\n";
    }
  }
  return out;
}

}  // namespace

std::string ChatFormat::render(std::span<const ChatMessage> messages,
                               bool add_generation_prompt) const {
  if (messages.empty()) fail("the conversation has no messages");
  for (const ChatMessage& m : messages) check_role(m);
  if (jinja) {
    jinja::Json list = jinja::Json::array();
    for (const ChatMessage& m : messages)
      list.push_back({{"role", m.role}, {"content", m.content}});
    return jinja->render({{"messages", list},
                          {"add_generation_prompt", add_generation_prompt},
                          {"bos_token", bos_token},
                          {"eos_token", eos_token}});
  }
  if (name == "gemma") {
    return render_gemma(messages) + (add_generation_prompt ? "<start_of_turn>model\n" : "");
  }
  if (name == "chatml") {
    return render_tagged(messages, "<|im_start|>", "\n", "<|im_end|>\n") +
           (add_generation_prompt ? "<|im_start|>assistant\n" : "");
  }
  std::string out = render_transcript(messages);
  if (add_generation_prompt) out += "Assistant:";
  return out;
}

std::vector<TokenId> ChatFormat::tokenize(const Tokenizer& tokenizer,
                                          std::span<const ChatMessage> messages,
                                          bool add_generation_prompt) const {
  const std::string text = render(messages, add_generation_prompt);
  const bool has_bos = !bos_token.empty() && text.rfind(bos_token, 0) == 0;
  return tokenizer.encode(text, !has_bos, /*parse_special=*/true);
}

namespace {

// Pieces that end an assistant turn in the common families, most specific first.
constexpr const char* kEndMarkers[] = {"<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>",
                                       "<|end_of_text|>"};

std::string token_text(const Vocab& v, TokenId id) {
  return id >= 0 && static_cast<size_t>(id) < v.tokens.size() ? v.tokens[static_cast<size_t>(id)]
                                                              : "";
}

}  // namespace

ChatFormat chat_format_for(const gguf::File& file) {
  const std::string arch = file.get_string("general.architecture").value_or("");
  if (const std::optional<std::string> source = file.get_string("tokenizer.chat_template")) {
    ChatFormat f{"jinja", "the file's chat template"};
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
  if (arch.starts_with("gemma")) return {"gemma", because, nullptr, "", "", "<end_of_turn>"};
  if (arch.starts_with("qwen")) return {"chatml", because, nullptr, "", "", "<|im_end|>"};
  return {"transcript", "no chat template in the file", nullptr, "", "", "\nUser:"};
}

TokenId end_of_turn_token(const ChatFormat& format, const Vocab& vocab) {
  if (!format.end_is_token() || format.end_marker.empty()) return -1;
  return vocab.find(format.end_of_turn()).value_or(-1);
}

}  // namespace concord
