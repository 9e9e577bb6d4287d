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
  if (name == "gemma") {
    return render_gemma(messages) + (add_generation_prompt ? "<start_of_turn>model\n" : "");
  }
  if (name == "chatml") {
    return render_tagged(messages, "<|im_start|>", "\n", "<|im_end|>\n") +
           (add_generation_prompt ? "<|im_start|>assistant\n" : "");
  }
  if (name == "llama3") {
    return render_tagged(messages, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>") +
           (add_generation_prompt ? "<|start_header_id|>assistant<|end_header_id|>\n\n" : "");
  }
  std::string out = render_transcript(messages);
  if (add_generation_prompt) out += "Assistant:";
  return out;
}

std::string ChatFormat::end_of_turn() const {
  if (name == "gemma") return "<end_of_turn>";
  if (name == "chatml") return "<|im_end|>";
  if (name == "llama3") return "<|eot_id|>";
  return "\nUser:";
}

ChatFormat chat_format_for(const gguf::File& file) {
  const std::string arch = file.get_string("general.architecture").value_or("");
  if (const std::optional<std::string> tmpl = file.get_string("tokenizer.chat_template")) {
    struct Marker {
      const char* text;
      const char* format;
    };
    for (const Marker& m : {Marker{"<start_of_turn>", "gemma"}, Marker{"<|im_start|>", "chatml"},
                            Marker{"<|start_header_id|>", "llama3"}}) {
      if (tmpl->find(m.text) != std::string::npos)
        return {m.format, fmt::format("its chat template uses {} markers", m.text)};
    }
    fail(
        "{}: its chat template is not one of the turn formats concord renders without a "
        "template engine (gemma, chatml, llama3); the Jinja engine is not built yet",
        file.label());
  }
  if (arch.starts_with("gemma")) return {"gemma", "architecture " + arch + " without a template"};
  if (arch.starts_with("qwen")) return {"chatml", "architecture " + arch + " without a template"};
  return {"transcript", "no chat template in the file"};
}

TokenId end_of_turn_token(const ChatFormat& format, const Vocab& vocab) {
  if (!format.end_is_token()) return -1;
  return vocab.find(format.end_of_turn()).value_or(-1);
}

}  // namespace concord
