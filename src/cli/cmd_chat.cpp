// `concord chat [-m MODEL]`: an interactive conversation on stdin/stdout, one message per
// line. The conversation stays in the KV cache between turns; each turn re-renders the
// whole conversation in the model's chat format (runtime/chat_format.h) and prefills only
// the part the cache does not hold yet.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "runtime/chat_format.h"
#include "util/error.h"

namespace concord::cli {

void add_chat_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("chat", "Chat with a model interactively (one message per line)");
  struct Args {
    EngineOptions engine;
    SamplingOptions sampling;
    std::string system;
  };
  auto args = std::make_shared<Args>();
  add_engine_options(*cmd, args->engine);
  add_sampling_options(*cmd, args->sampling);
  cmd->add_option("--system", args->system, "System prompt");
  cmd->callback([args] {
    LoadedEngine e = load_engine(args->engine);
    const ChatFormat format = chat_format_for(*e.file);
    GenerationParams params = args->sampling.to_params();
    if (const TokenId end = end_of_turn_token(format, e.tokenizer->vocab()); end >= 0) {
      params.stop_tokens.push_back(end);
    } else if (!format.end_is_token()) {
      params.stop.push_back(format.end_of_turn());
    }
    std::vector<ChatMessage> messages;
    if (!args->system.empty()) messages.push_back({"system", args->system});
    Sequence seq{e.cache->acquire(), {}};
    fmt::print(stderr, "chatting with {} ({} format: {}); Ctrl-D to quit\n", e.model_path,
               format.name, format.chosen_because);
    for (std::string line; fmt::print("> "), std::fflush(stdout), std::getline(std::cin, line);) {
      if (line.empty()) continue;
      messages.push_back({"user", line});
      const std::vector<TokenId> prompt = format.tokenize(*e.tokenizer, messages, true);
      if (static_cast<int64_t>(prompt.size()) + 1 >= e.cache->n_ctx()) {
        fail("the conversation ({} tokens) no longer fits the context of {} tokens", prompt.size(),
             e.cache->n_ctx());
      }
      const GenerationResult r = generate(*e.model, *e.cache, seq, *e.tokenizer, prompt, params,
                                          [](std::string_view text) {
                                            fmt::print("{}", text);
                                            std::fflush(stdout);
                                          });
      fmt::print("\n");
      messages.push_back({"assistant", r.text});
      if (args->engine.verbose) {
        fmt::print(stderr, "[{} prompt tokens ({} reused), {} generated, {:.1f} t/s, finish: {}]\n",
                   r.n_prompt, r.n_reused, r.tokens.size(),
                   r.decode_seconds > 0 ? r.tokens.size() / r.decode_seconds : 0.0,
                   finish_reason_name(r.finish));
      }
    }
  });
}

}  // namespace concord::cli
