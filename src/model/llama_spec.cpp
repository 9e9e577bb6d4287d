#include "model/llama_spec.h"

#include <fmt/format.h>

#include "util/error.h"

namespace concord {

void LlamaHparams::validate() const {
  auto positive = [](const char* field, int64_t v) {
    if (v <= 0) fail("llama hyper-parameter {} = {} must be positive", field, v);
  };
  positive("n_vocab", n_vocab);
  positive("n_ctx", n_ctx);
  positive("n_embd", n_embd);
  positive("n_layer", n_layer);
  positive("n_head", n_head);
  positive("n_head_kv", n_head_kv);
  positive("n_ff", n_ff);
  if (n_embd % n_head != 0) fail("width {} is not divisible by {} heads", n_embd, n_head);
  if (n_head % n_head_kv != 0) {
    fail("{} query heads are not a multiple of {} key/value heads", n_head, n_head_kv);
  }
  if (n_rot <= 0 || n_rot > head_dim() || n_rot % 2 != 0) {
    fail("rotary dimension {} must be even and within the head size {}", n_rot, head_dim());
  }
  if (!(rms_eps > 0.0f)) fail("RMS norm epsilon {} must be positive", rms_eps);
  if (!(rope_base > 0.0f)) fail("RoPE base {} must be positive", rope_base);
}

LlamaHparams read_llama_hparams(const gguf::File& f) {
  LlamaHparams hp;
  hp.n_ctx = f.require_int("llama.context_length");
  hp.n_embd = f.require_int("llama.embedding_length");
  hp.n_layer = f.require_int("llama.block_count");
  hp.n_ff = f.require_int("llama.feed_forward_length");
  hp.n_head = f.require_int("llama.attention.head_count");
  hp.n_head_kv = f.get_int("llama.attention.head_count_kv").value_or(hp.n_head);
  hp.n_rot =
      f.get_int("llama.rope.dimension_count").value_or(hp.n_head > 0 ? hp.n_embd / hp.n_head : 0);
  hp.rms_eps =
      static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon").value_or(1e-5));
  hp.rope_base = static_cast<float>(f.get_float("llama.rope.freq_base").value_or(10000.0));
  const std::string scaling = f.get_string("llama.rope.scaling.type").value_or("none");
  const double factor = f.get_float("llama.rope.scaling.factor")
                            .value_or(f.get_float("llama.rope.scale_linear").value_or(1.0));
  if (scaling == "linear" || (scaling == "none" && factor != 1.0)) {
    if (!(factor > 0.0)) fail("{}: RoPE scaling factor {} must be positive", f.label(), factor);
    hp.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "llama3") {
    // llama3 scaling arrives as the rope_freqs.weight tensor; others are not implemented.
    fail("{}: RoPE scaling type '{}' is not supported (supported: none, linear, llama3)", f.label(),
         scaling);
  }
  if (const std::optional<int64_t> n = f.get_int("llama.vocab_size")) {
    hp.n_vocab = *n;
  } else if (const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens")) {
    hp.n_vocab = static_cast<int64_t>(tokens->items.size());
  } else {
    const gguf::TensorInfo& embd = f.tensor("token_embd.weight");
    hp.n_vocab = embd.shape.size() == 2 ? embd.shape[1] : 0;
  }
  hp.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  hp.validate();
  return hp;
}

void write_llama_hparams(gguf::Writer& w, const LlamaHparams& hp) {
  hp.validate();
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.set("general.architecture", "llama");
  w.set("llama.vocab_size", u32(hp.n_vocab));
  w.set("llama.context_length", u32(hp.n_ctx));
  w.set("llama.embedding_length", u32(hp.n_embd));
  w.set("llama.block_count", u32(hp.n_layer));
  w.set("llama.feed_forward_length", u32(hp.n_ff));
  w.set("llama.rope.dimension_count", u32(hp.n_rot));
  w.set("llama.attention.head_count", u32(hp.n_head));
  w.set("llama.attention.head_count_kv", u32(hp.n_head_kv));
  w.set("llama.attention.layer_norm_rms_epsilon", hp.rms_eps);
  w.set("llama.rope.freq_base", hp.rope_base);
  if (hp.rope_freq_scale != 1.0f) {
    w.set("llama.rope.scaling.type", "linear");
    w.set("llama.rope.scaling.factor", 1.0f / hp.rope_freq_scale);
  }
}

std::string layer_tensor_name(int64_t layer, const char* suffix) {
  return fmt::format("blk.{}.{}", layer, suffix);
}

std::vector<TensorSpec> llama_tensor_specs(const LlamaHparams& hp) {
  const int64_t d = hp.n_embd, kv = hp.kv_width(), ff = hp.n_ff;
  std::vector<TensorSpec> specs;
  specs.push_back({"token_embd.weight", {d, hp.n_vocab}, true, true});
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    specs.push_back({layer_tensor_name(l, "attn_norm.weight"), {d}, true, false});
    specs.push_back({layer_tensor_name(l, "attn_q.weight"), {d, d}, true, true});
    specs.push_back({layer_tensor_name(l, "attn_k.weight"), {d, kv}, true, true});
    specs.push_back({layer_tensor_name(l, "attn_v.weight"), {d, kv}, true, true});
    specs.push_back({layer_tensor_name(l, "attn_output.weight"), {d, d}, true, true});
    specs.push_back({layer_tensor_name(l, "ffn_norm.weight"), {d}, true, false});
    specs.push_back({layer_tensor_name(l, "ffn_gate.weight"), {d, ff}, true, true});
    specs.push_back({layer_tensor_name(l, "ffn_up.weight"), {d, ff}, true, true});
    specs.push_back({layer_tensor_name(l, "ffn_down.weight"), {ff, d}, true, true});
  }
  specs.push_back({"output_norm.weight", {d}, true, false});
  specs.push_back({"output.weight", {d, hp.n_vocab}, !hp.tied_embeddings, true});
  // Llama 3.x long-context models: per-pair divisors of the RoPE frequencies.
  specs.push_back({"rope_freqs.weight", {hp.n_rot / 2}, false, false});
  return specs;
}

}  // namespace concord
