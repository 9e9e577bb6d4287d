// `concord tokenize -m FILE [--ids|--pieces] [--no-bos] [--special] TEXT`: the model's
// tokenizer on a text (no weights are loaded).
#include <fmt/format.h>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace concord::cli {

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Tokenise a text with a model's vocabulary");
  struct Args {
    std::string model, text;
    bool ids = false, pieces = false, no_bos = false, special = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("-m,--model", a->model, "GGUF model or vocabulary file")->required();
  cmd->add_option("text", a->text, "Text to tokenise")->required();
  auto* ids = cmd->add_flag("--ids", a->ids, "Print only the token ids");
  cmd->add_flag("--pieces", a->pieces, "Print only the pieces")->excludes(ids);
  cmd->add_flag("--no-bos", a->no_bos, "Do not add the beginning-of-sequence token");
  cmd->add_flag("--special", a->special, "Parse special-token texts such as <s> as tokens");
  cmd->callback([a] {
    const Tokenizer tok = Tokenizer::from_gguf(gguf::File::open(a->model));
    const std::vector<TokenId> tokens = tok.encode(a->text, !a->no_bos, a->special);
    if (a->ids) {
      std::string line;
      for (TokenId id : tokens) line += (line.empty() ? "" : " ") + std::to_string(id);
      fmt::print("{}\n", line);
      return;
    }
    for (TokenId id : tokens) {
      const std::string& piece = tok.vocab().tokens[static_cast<size_t>(id)];
      if (a->pieces) {
        fmt::print("{}\n", piece);
      } else {
        fmt::print("{:>7} {}\n", id, piece);
      }
    }
  });
}

}  // namespace concord::cli
