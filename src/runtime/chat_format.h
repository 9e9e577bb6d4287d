// Chat prompts for models whose template concord renders with a built-in format: GGUF
// files without tokenizer.chat_template (chosen by architecture), and templates whose
// markers identify a well-known turn format. Until the Jinja template engine exists, any
// other template is refused with a clear error.
//
// Formats (documented in README, "Chat formats"):
//   gemma       <start_of_turn>user\n{system\n\n}{text}<end_of_turn>\n ...
//               <start_of_turn>model\n      (assistant turns are "model"; system merges
//                                          into the first user turn)
//   chatml      <|im_start|>{role}\n{text}<|im_end|>\n ... <|im_start|>assistant\n
//   llama3      <|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|> ...
//   transcript  {system\n}User: {text}\nAssistant: {text}\n ... User: {text}\nAssistant:
#pragma once

#include <span>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

namespace concord {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatFormat {
  std::string name;            // "gemma", "chatml", "llama3" or "transcript"
  std::string chosen_because;  // "architecture gemma3 has no template", ...

  // The prompt text; special-token markers in it must be parsed as tokens. Throws
  // concord::Error for an unknown role or an empty conversation.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;
  // Where the assistant's turn ends: a piece that is one token, or a stop string.
  std::string end_of_turn() const;
  bool end_is_token() const { return name != "transcript"; }
};

// The format for a model file; throws concord::Error for a template none of the built-in
// formats matches, naming what is needed.
ChatFormat chat_format_for(const gguf::File& file);

// The id of the format's end-of-turn token in `vocab`, or -1 (transcript, or missing).
TokenId end_of_turn_token(const ChatFormat& format, const Vocab& vocab);

}  // namespace concord
