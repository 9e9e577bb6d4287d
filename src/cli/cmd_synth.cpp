// `concord synth -o FILE [--arch A] [shape options]`: a model of any supported family
// with seeded random weights and a generated vocabulary.
#include <fmt/format.h>

#include "cli/commands.h"
#include "model/families.h"
#include "model/synth.h"
#include "util/error.h"

namespace concord::cli {

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a synthetic model with random weights");
  struct Args {
    SynthOptions options;
    std::string arch = "llama";
    std::string type = "F32";
    std::string out;
  };
  auto args = std::make_shared<Args>();
  ModelHparams& hp = args->options.hparams;
  cmd->add_option("-o,--output", args->out, "Destination GGUF file")->required();
  cmd->add_option("--arch", args->arch, "Architecture (family)")
      ->check(CLI::IsMember(family_names()))
      ->capture_default_str();
  cmd->add_option("--layers", hp.n_layer, "Transformer blocks")->capture_default_str();
  cmd->add_option("--width", hp.n_embd, "Model width (embedding length)")->capture_default_str();
  cmd->add_option("--heads", hp.n_head, "Query heads")->capture_default_str();
  auto* kv = cmd->add_option("--kv-heads", hp.n_head_kv, "Key/value heads (default: --heads)");
  cmd->add_option("--ff", hp.n_ff, "Feed-forward width")->capture_default_str();
  cmd->add_option("--vocab", hp.n_vocab, "Vocabulary size (>= 259)")->capture_default_str();
  cmd->add_option("--ctx", hp.n_ctx, "Context length")->capture_default_str();
  cmd->add_option("--head-dim", hp.key_length, "Per-head size (default: width / heads)");
  auto* rot = cmd->add_option("--rope-dims", hp.n_rot, "Rotary dimensions (default: head size)");
  cmd->add_option("--window", hp.sliding_window, "Sliding window of the local layers (0: none)");
  cmd->add_option("--rope-base", hp.rope_base, "RoPE frequency base")->capture_default_str();
  cmd->add_option("--type", args->type, "Weight type of the 2-D tensors, or a mix (Q4_K_M, Q5_K_M)")
      ->capture_default_str();
  cmd->add_flag("--tied", hp.tied_embeddings, "Tie the output projection to the embedding");
  cmd->add_option("--seed", args->options.seed, "Random seed")->capture_default_str();
  cmd->add_option("--name", args->options.name, "general.name")->capture_default_str();
  cmd->callback([args, kv, rot] {
    ModelHparams& p = args->options.hparams;
    p.arch = args->arch;
    apply_family(p);  // the family's features on top of the shape given here
    if (kv->count() == 0) p.n_head_kv = p.n_head;
    if (rot->count() == 0) p.n_rot = p.head_dim();
    args->options.weights = WeightPlan::parse(args->type);
    synthesize(args->options).write_file(args->out);
    fmt::print("wrote {}: {}, {} layers, width {}, {}/{} heads, ff {}, vocab {}, {} weights\n",
               args->out, p.arch, p.n_layer, p.n_embd, p.n_head, p.n_head_kv, p.n_ff, p.n_vocab,
               args->options.weights.name());
  });
}

}  // namespace concord::cli
