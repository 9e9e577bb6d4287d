// The OpenAI wire format: request bodies of /v1/completions and /v1/chat/completions
// checked and turned into generation parameters, and the response objects and stream
// chunks built from what the scheduler produced.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/chat_format.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"

namespace concord::server {

// An error answered as {"error": {"message", "type", "param", "code"}}.
struct ApiError : std::runtime_error {
  int status;
  std::string type, param, code;
  ApiError(int status, std::string message, std::string param = "",
           std::string type = "invalid_request_error", std::string code = "")
      : std::runtime_error(std::move(message)),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  nlohmann::json body() const;
};

struct CompletionRequest {
  bool chat = false;
  std::string model;                  // empty: the default model
  std::vector<std::string> prompts;   // completions: one or more
  std::vector<ChatMessage> messages;  // chat
  GenerationParams params;
  int n = 1;
  bool stream = false, include_usage = false;
  int logprobs = -1;  // -1: none; else alternatives per token (chat: top_logprobs)
};

// Throws ApiError (400) naming the parameter at fault.
CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat);

// One choice's outcome, accumulated from scheduler events.
struct ChoiceResult {
  std::string text;
  std::vector<Sample> samples;
  FinishReason finish = FinishReason::Length;
  int n_generated = 0;
};

std::string finish_reason_text(FinishReason reason);  // "stop" or "length"

// The logprobs object of one choice (completions or chat shape); `text_offset` counts from
// the start of the completion.
nlohmann::json logprobs_json(const CompletionRequest& request, const Tokenizer& tokenizer,
                             const std::vector<Sample>& samples);

nlohmann::json usage_json(int prompt_tokens, int completion_tokens);

}  // namespace concord::server
