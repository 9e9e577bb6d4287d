// `concord run -m MODEL -p PROMPT [-n N] [sampling] [--backend B]`: stream a completion.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/engine_options.h"

namespace concord::cli {

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Generate text from a prompt, streaming it to stdout");
  struct Args {
    EngineOptions engine;
    SamplingOptions sampling;
    std::string prompt;
    bool no_bos = false;
  };
  auto args = std::make_shared<Args>();
  add_engine_options(*cmd, args->engine);
  add_sampling_options(*cmd, args->sampling);
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text")->required();
  cmd->add_flag("--no-bos", args->no_bos, "Do not add the beginning-of-sequence token");
  cmd->callback([args] {
    LoadedEngine e = load_engine(args->engine);
    const std::vector<TokenId> prompt = e.tokenizer->encode(args->prompt, !args->no_bos);
    Sequence seq{e.cache->acquire(), {}};
    fmt::print("{}", args->prompt);
    std::fflush(stdout);
    const GenerationResult r = generate(*e.model, *e.cache, seq, *e.tokenizer, prompt,
                                        args->sampling.to_params(), [](std::string_view text) {
                                          fmt::print("{}", text);
                                          std::fflush(stdout);
                                        });
    fmt::print("\n");
    std::fflush(stdout);  // the text before the statistics on stderr
    if (args->engine.verbose) {
      const double pp = r.prefill_seconds > 0 ? r.n_prompt / r.prefill_seconds : 0.0;
      const double tg = r.decode_seconds > 0 ? r.tokens.size() / r.decode_seconds : 0.0;
      fmt::print(stderr,
                 "backend {} | load {:.2f} s | prompt {} tokens, {:.1f} t/s | generated {} "
                 "tokens, {:.1f} t/s | finish: {}\n",
                 e.backend->name(), e.load_seconds, r.n_prompt, pp, r.tokens.size(), tg,
                 finish_reason_name(r.finish));
    }
  });
}

}  // namespace concord::cli
