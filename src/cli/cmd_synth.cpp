// `concord synth -o FILE [shape options]`: a Llama-architecture model with seeded random
// weights and a generated vocabulary.
#include <fmt/format.h>

#include "cli/commands.h"
#include "model/synth.h"
#include "util/error.h"

namespace concord::cli {

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a synthetic Llama model with random weights");
  struct Args {
    SynthOptions options;
    std::string type = "F32";
    std::string out;
  };
  auto args = std::make_shared<Args>();
  LlamaHparams& hp = args->options.hparams;
  cmd->add_option("-o,--output", args->out, "Destination GGUF file")->required();
  cmd->add_option("--layers", hp.n_layer, "Transformer blocks")->capture_default_str();
  cmd->add_option("--width", hp.n_embd, "Model width (embedding length)")->capture_default_str();
  cmd->add_option("--heads", hp.n_head, "Query heads")->capture_default_str();
  auto* kv = cmd->add_option("--kv-heads", hp.n_head_kv, "Key/value heads (default: --heads)");
  cmd->add_option("--ff", hp.n_ff, "Feed-forward width")->capture_default_str();
  cmd->add_option("--vocab", hp.n_vocab, "Vocabulary size (>= 259)")->capture_default_str();
  cmd->add_option("--ctx", hp.n_ctx, "Context length")->capture_default_str();
  auto* rot = cmd->add_option("--rope-dims", hp.n_rot, "Rotary dimensions (default: head size)");
  cmd->add_option("--rope-base", hp.rope_base, "RoPE frequency base")->capture_default_str();
  cmd->add_option("--type", args->type, "Weight type of the 2-D tensors")->capture_default_str();
  cmd->add_flag("--tied", hp.tied_embeddings, "Tie the output projection to the embedding");
  cmd->add_option("--seed", args->options.seed, "Random seed")->capture_default_str();
  cmd->add_option("--name", args->options.name, "general.name")->capture_default_str();
  cmd->callback([args, kv, rot] {
    LlamaHparams& p = args->options.hparams;
    if (kv->count() == 0) p.n_head_kv = p.n_head;
    if (rot->count() == 0) p.n_rot = p.n_head > 0 ? p.n_embd / p.n_head : 0;
    args->options.weight_type = parse_type_name(args->type);
    synthesize_llama(args->options).write_file(args->out);
    fmt::print("wrote {}: {} layers, width {}, {}/{} heads, ff {}, vocab {}, {} weights\n",
               args->out, p.n_layer, p.n_embd, p.n_head, p.n_head_kv, p.n_ff, p.n_vocab,
               args->type);
  });
}

}  // namespace concord::cli
