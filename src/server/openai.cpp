#include "server/openai.h"

#include <fmt/format.h>

#include <cmath>

namespace concord::server {
namespace {

using nlohmann::json;

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, "'" + param + "': " + message, param);
}

// Typed access to optional fields: a present field of the wrong type is an error.
double number(const json& body, const char* key, double fallback, double lo, double hi) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number()) throw bad(key, "expected a number");
  const double v = body[key].get<double>();
  if (!(v >= lo && v <= hi)) throw bad(key, fmt::format("{} is outside [{}, {}]", v, lo, hi));
  return v;
}

int64_t integer(const json& body, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_number_integer()) throw bad(key, "expected an integer");
  const int64_t v = body[key].get<int64_t>();
  if (v < lo || v > hi) throw bad(key, fmt::format("{} is outside [{}, {}]", v, lo, hi));
  return v;
}

bool boolean(const json& body, const char* key, bool fallback) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_boolean()) throw bad(key, "expected true or false");
  return body[key].get<bool>();
}

std::vector<std::string> strings(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return {};
  const json& v = body[key];
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw bad(key, "expected a string or a list of strings");
  std::vector<std::string> out;
  for (const json& item : v) {
    if (!item.is_string()) throw bad(key, "expected a string or a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::vector<ChatMessage> messages(const json& body) {
  if (!body.contains("messages")) throw bad("messages", "required");
  const json& v = body["messages"];
  if (!v.is_array() || v.empty()) throw bad("messages", "expected a non-empty list of messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = fmt::format("messages[{}]", i);
    if (!v[i].is_object()) throw bad(where, "expected an object with role and content");
    const json& role = v[i].value("role", json());
    if (!role.is_string()) throw bad(where + ".role", "expected a string");
    const std::string r = role.get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "developer")
      throw bad(where + ".role", "'" + r + "' is not one of system, developer, user, assistant");
    const json& content = v[i].value("content", json());
    std::string text;
    if (content.is_string()) {
      text = content.get<std::string>();
    } else if (content.is_array()) {  // [{"type": "text", "text": ...}, ...]
      for (const json& part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part["text"].is_string())
          throw bad(where + ".content", "only text content parts are supported");
        text += part["text"].get<std::string>();
      }
    } else {
      throw bad(where + ".content", "expected a string or a list of text parts");
    }
    out.push_back({r == "developer" ? "system" : r, text});
  }
  return out;
}

}  // namespace

json ApiError::body() const {
  return {{"error",
           {{"message", what()},
            {"type", type},
            {"param", param.empty() ? json() : json(param)},
            {"code", code.empty() ? json() : json(code)}}}};
}

CompletionRequest parse_completion_request(const json& body, bool chat) {
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  CompletionRequest r;
  r.chat = chat;
  if (body.contains("model")) {
    if (!body["model"].is_string()) throw bad("model", "expected a string");
    r.model = body["model"].get<std::string>();
  }
  if (chat) {
    r.messages = messages(body);
  } else {
    if (!body.contains("prompt")) throw bad("prompt", "required");
    r.prompts = strings(body, "prompt");
    if (r.prompts.empty()) throw bad("prompt", "expected at least one prompt");
  }
  GenerationParams& p = r.params;
  const int64_t max_tokens = integer(body, "max_tokens", chat ? 512 : 16, 1, 1 << 20);
  p.max_tokens = static_cast<int>(integer(body, "max_completion_tokens", max_tokens, 1, 1 << 20));
  SamplingParams& s = p.sampling;
  s.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
  if (body.contains("top_p") && s.top_p <= 0.0f) throw bad("top_p", "must be above 0");
  s.top_k = static_cast<int>(integer(body, "top_k", 0, 0, 1 << 30));
  s.min_p = static_cast<float>(number(body, "min_p", 0.0, 0.0, 1.0));
  s.presence_penalty = static_cast<float>(number(body, "presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", 0.0, -2.0, 2.0));
  s.repeat_penalty = static_cast<float>(number(body, "repetition_penalty", 1.0, 1e-3, 10.0));
  const int64_t seed = integer(body, "seed", 0, INT64_MIN, INT64_MAX);
  s.seed = static_cast<uint64_t>(seed);
  p.stop = strings(body, "stop");
  if (p.stop.size() > 16) throw bad("stop", "at most 16 stop strings");
  for (const std::string& stop : p.stop) {
    if (stop.empty()) throw bad("stop", "stop strings must not be empty");
  }
  r.n = static_cast<int>(integer(body, "n", 1, 1, 128));
  p.ignore_eos = boolean(body, "ignore_eos", false);
  if (body.contains("user") && !body["user"].is_string() && !body["user"].is_null())
    throw bad("user", "expected a string");
  if (body.contains("logit_bias") && !body["logit_bias"].is_null()) {
    const json& bias = body["logit_bias"];
    if (!bias.is_object()) throw bad("logit_bias", "expected an object of token id -> bias");
    for (const auto& [key, value] : bias.items()) {
      char* end = nullptr;
      const long id = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0)
        throw bad("logit_bias", "'" + key + "' is not a token id");
      if (!value.is_number()) throw bad("logit_bias", "bias for " + key + " must be a number");
      const double b = value.get<double>();
      if (!(b >= -100.0 && b <= 100.0)) throw bad("logit_bias", "bias must be within [-100, 100]");
      s.logit_bias.emplace_back(static_cast<TokenId>(id),
                                b <= -100.0 ? -INFINITY : static_cast<float>(b));
    }
  }
  if (chat) {
    if (boolean(body, "logprobs", false))
      r.logprobs = static_cast<int>(integer(body, "top_logprobs", 0, 0, 20));
    else if (body.contains("top_logprobs") && !body["top_logprobs"].is_null())
      throw bad("top_logprobs", "needs logprobs: true");
  } else if (body.contains("logprobs") && !body["logprobs"].is_null()) {
    r.logprobs = static_cast<int>(integer(body, "logprobs", 0, 0, 20));
  }
  s.n_top_logprobs = std::max(0, r.logprobs);
  r.stream = boolean(body, "stream", false);
  if (body.contains("stream_options") && !body["stream_options"].is_null()) {
    if (!body["stream_options"].is_object()) throw bad("stream_options", "expected an object");
    r.include_usage = boolean(body["stream_options"], "include_usage", false);
  }
  return r;
}

std::string finish_reason_text(FinishReason reason) {
  return reason == FinishReason::Length ? "length" : "stop";
}

json logprobs_json(const CompletionRequest& request, const Tokenizer& tok,
                   const std::vector<Sample>& samples) {
  auto bytes = [](const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(c);
    return b;
  };
  if (request.chat) {
    json content = json::array();
    for (const Sample& s : samples) {
      const std::string piece = tok.piece(s.token);
      json top = json::array();
      for (const TokenLogprob& t : s.top) {
        const std::string alt = tok.piece(t.token);
        top.push_back({{"token", alt}, {"logprob", t.logprob}, {"bytes", bytes(alt)}});
      }
      content.push_back({{"token", piece},
                         {"logprob", s.logprob},
                         {"bytes", bytes(piece)},
                         {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(),
       offsets = json::array();
  size_t offset = 0;
  for (const Sample& s : samples) {
    const std::string piece = tok.piece(s.token);
    tokens.push_back(piece);
    token_logprobs.push_back(s.logprob);
    json alternatives = json::object();
    for (const TokenLogprob& t : s.top) alternatives[tok.piece(t.token)] = t.logprob;
    top.push_back(alternatives);
    offsets.push_back(offset);
    offset += piece.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", token_logprobs},
          {"top_logprobs", top},
          {"text_offset", offsets}};
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

}  // namespace concord::server
