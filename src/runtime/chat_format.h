// Chat prompts, always rendered by the Jinja engine (template/jinja.h) with messages,
// add_generation_prompt, bos_token and eos_token: a GGUF's tokenizer.chat_template, or,
// for a file without one, a built-in template chosen by its architecture.
//
// Built-in templates (documented in README, "Chat formats"):
//   gemma       <start_of_turn>user\n{system\n\n}{text}<end_of_turn>\n ...
//               <start_of_turn>model\n      (assistant turns are "model"; system merges
//                                          into the first user turn)
//   chatml      <|im_start|>{role}\n{text}<|im_end|>\n ... <|im_start|>assistant\n
//   transcript  {system\n}User: {text}\nAssistant: {text}\n ... User: {text}\nAssistant:
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"

namespace concord {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatFormat {
  std::string name;            // "jinja", or "gemma", "chatml", "transcript"
  std::string chosen_because;  // "the file's chat template", "architecture gemma3 ..."
  std::shared_ptr<const jinja::Template> jinja;  // the file's or the built-in template
  std::string bos_token, eos_token;              // its bos_token / eos_token
  std::string end_marker;  // the piece that ends an assistant turn (see end_of_turn)

  // The prompt text; special-token markers in it must be parsed as tokens. Throws
  // concord::Error for an unknown role, an empty conversation or a template that refuses.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;
  // The prompt as tokens: BOS added unless the rendered text already starts with it.
  std::vector<TokenId> tokenize(const Tokenizer& tokenizer, std::span<const ChatMessage> messages,
                                bool add_generation_prompt) const;
  // Where the assistant's turn ends: a piece that is one token, or a stop string
  // (transcript); empty when only the vocabulary's end tokens end it.
  std::string end_of_turn() const { return end_marker; }
  bool end_is_token() const { return name != "transcript"; }
};

// The format for a model file; throws concord::Error (naming the line and construct) for a
// template the engine cannot parse.
ChatFormat chat_format_for(const gguf::File& file);

// The id of the format's end-of-turn token in `vocab`, or -1 (transcript, or missing).
TokenId end_of_turn_token(const ChatFormat& format, const Vocab& vocab);

}  // namespace concord
