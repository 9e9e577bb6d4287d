// `concord perplexity [-m MODEL] (-f FILE | -p TEXT) [--logits-out F]`: the model's
// perplexity on a text, in windows of --ctx tokens. --logits-out writes every scored
// position's raw logits (float32, [n_tokens, n_vocab], row-major) for comparison with
// other implementations.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "runtime/perplexity.h"
#include "util/error.h"

namespace concord::cli {

void add_perplexity_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a model on a text");
  struct Args {
    EngineOptions engine;
    std::string file, text, logits_out;
  };
  auto args = std::make_shared<Args>();
  args->engine.ctx = 512;
  add_engine_options(*cmd, args->engine);
  auto* file = cmd->add_option("-f,--file", args->file, "Text file to score");
  cmd->add_option("-p,--prompt", args->text, "Text to score")->excludes(file);
  cmd->add_option("--logits-out", args->logits_out, "Write the logits (float32) to this file");
  cmd->callback([args] {
    if (args->file.empty() == args->text.empty()) fail("give the text with -f FILE or -p TEXT");
    std::string text = args->text;
    if (!args->file.empty()) {
      std::ifstream in(args->file, std::ios::binary);
      if (!in) fail("cannot read {}", args->file);
      std::ostringstream s;
      s << in.rdbuf();
      text = s.str();
    }
    LoadedEngine e = load_engine(args->engine);
    const std::vector<TokenId> tokens = e.tokenizer->encode(text, true);
    std::ofstream logits_file;
    if (!args->logits_out.empty()) {
      logits_file.open(args->logits_out, std::ios::binary);
      if (!logits_file) fail("cannot write {}", args->logits_out);
    }
    const PerplexityResult r =
        perplexity(*e.model, *e.cache, tokens, [&](int64_t, std::span<const float> rows) {
          if (logits_file.is_open())
            logits_file.write(reinterpret_cast<const char*>(rows.data()),
                              static_cast<std::streamsize>(rows.size_bytes()));
        });
    fmt::print("perplexity {:.4f} | {} tokens scored in {} window(s) of {} | mean NLL {:.4f}\n",
               r.perplexity, r.n_scored, r.n_windows, e.cache->n_ctx(), r.mean_nll);
  });
}

}  // namespace concord::cli
