// `concord chat -m MODEL`: an interactive conversation on stdin/stdout. The conversation
// stays in the KV cache between turns; each turn prefills only the new text.
//
// Prompt format: models whose GGUF carries a chat template need the template engine
// (not built yet: such models are refused with a clear message). Models without one use
// the documented fallback transcript:
//   [system prompt "\n"] "User: " message "\nAssistant:" reply "\n" ...
// with "\nUser:" as a stop string.
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/engine_options.h"
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
    Engine e = load_engine(args->engine);
    if (e.file->find("tokenizer.chat_template") != nullptr) {
      fail(
          "{} has a Jinja chat template, and concord's template engine is not built yet; "
          "use `concord run` with a hand-formatted prompt",
          args->engine.model_path);
    }
    GenerationParams params = args->sampling.to_params();
    params.stop.push_back("\nUser:");
    Sequence seq{e.cache->acquire(), {}};
    std::string transcript = args->system.empty() ? "" : args->system + "\n";
    fmt::print(stderr, "chatting with {} (fallback transcript format); Ctrl-D to quit\n",
               args->engine.model_path);
    for (std::string line; fmt::print("> "), std::fflush(stdout), std::getline(std::cin, line);) {
      if (line.empty()) continue;
      transcript += "User: " + line + "\nAssistant:";
      const std::vector<TokenId> prompt = e.tokenizer->encode(transcript, true);
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
      transcript += r.text + "\n";
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
