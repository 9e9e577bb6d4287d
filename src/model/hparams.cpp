#include "model/hparams.h"

#include <fmt/format.h>

#include "model/families.h"
#include "util/error.h"

namespace concord {
namespace {

std::string unsupported(const std::string& arch) {
  std::string list;
  for (const std::string& name : family_names()) list += (list.empty() ? "" : ", ") + name;
  return fmt::format("unsupported architecture '{}' (supported: {})", arch, list);
}

const Family& family_of(const std::string& arch) {
  const Family* f = find_family(arch);
  if (f == nullptr) fail("{}", unsupported(arch));
  return *f;
}

}  // namespace

int64_t ModelHparams::layer_window(int64_t layer) const {
  if (sliding_window <= 0) return 0;
  if (swa_period <= 0) return sliding_window;
  return (layer + 1) % swa_period != 0 ? sliding_window : 0;
}

float ModelHparams::layer_rope_base(int64_t layer) const {
  return layer_window(layer) > 0 && rope_base_local > 0.0f ? rope_base_local : rope_base;
}

float ModelHparams::layer_rope_freq_scale(int64_t layer) const {
  return layer_window(layer) > 0 && rope_scale_global_only ? 1.0f : rope_freq_scale;
}

void ModelHparams::validate() const {
  auto positive = [this](const char* field, int64_t v) {
    if (v <= 0) fail("{} hyper-parameter {} = {} must be positive", arch, field, v);
  };
  positive("n_vocab", n_vocab);
  positive("n_ctx", n_ctx);
  positive("n_embd", n_embd);
  positive("n_layer", n_layer);
  positive("n_head", n_head);
  positive("n_head_kv", n_head_kv);
  positive("n_ff", n_ff);
  if (key_length < 0) fail("head size {} must be positive", key_length);
  if (key_length == 0 && n_embd % n_head != 0) {
    fail("width {} is not divisible by {} heads (and no key_length is given)", n_embd, n_head);
  }
  if (n_head % n_head_kv != 0) {
    fail("{} query heads are not a multiple of {} key/value heads", n_head, n_head_kv);
  }
  if (n_rot <= 0 || n_rot > head_dim() || n_rot % 2 != 0) {
    fail("rotary dimension {} must be even and within the head size {}", n_rot, head_dim());
  }
  if (!(rms_eps > 0.0f)) fail("RMS norm epsilon {} must be positive", rms_eps);
  if (!(rope_base > 0.0f)) fail("RoPE base {} must be positive", rope_base);
  if (sliding_window < 0) fail("sliding window {} must be >= 0", sliding_window);
  if (sliding_window > 0 && sliding_window > n_ctx) {
    fail("sliding window {} exceeds the context length {}", sliding_window, n_ctx);
  }
}

ModelHparams read_hparams(const gguf::File& f) {
  const std::optional<std::string> arch = f.get_string("general.architecture");
  if (!arch) fail("{}: missing metadata key 'general.architecture'", f.label());
  const Family* family = find_family(*arch);
  if (family == nullptr) fail("{}: {}", f.label(), unsupported(*arch));
  ModelHparams hp;
  hp.arch = *arch;
  family->configure(hp);
  auto key = [&hp](const char* suffix) { return hp.arch + "." + suffix; };
  hp.n_ctx = f.require_int(key("context_length"));
  hp.n_embd = f.require_int(key("embedding_length"));
  hp.n_layer = f.require_int(key("block_count"));
  hp.n_ff = f.require_int(key("feed_forward_length"));
  hp.n_head = f.require_int(key("attention.head_count"));
  hp.n_head_kv = f.get_int(key("attention.head_count_kv")).value_or(hp.n_head);
  hp.key_length = f.get_int(key("attention.key_length")).value_or(0);
  const int64_t value_length = f.get_int(key("attention.value_length")).value_or(hp.key_length);
  if (value_length != hp.key_length) {
    fail("{}: key length {} differs from value length {}, which concord does not support",
         f.label(), hp.key_length, value_length);
  }
  const int64_t head =
      hp.key_length > 0 ? hp.key_length : (hp.n_head > 0 ? hp.n_embd / hp.n_head : 0);
  hp.n_rot = f.get_int(key("rope.dimension_count")).value_or(head);
  hp.rms_eps =
      static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon")).value_or(1e-5));
  hp.rope_base = static_cast<float>(f.get_float(key("rope.freq_base")).value_or(10000.0));
  hp.sliding_window = f.get_int(key("attention.sliding_window")).value_or(0);
  if (const std::optional<int64_t> period = f.get_int(key("attention.sliding_window_pattern"))) {
    hp.swa_period = static_cast<int>(*period);
  }
  const std::string scaling = f.get_string(key("rope.scaling.type")).value_or("none");
  const double factor = f.get_float(key("rope.scaling.factor"))
                            .value_or(f.get_float(key("rope.scale_linear")).value_or(1.0));
  if (scaling == "linear" || (scaling == "none" && factor != 1.0)) {
    if (!(factor > 0.0)) fail("{}: RoPE scaling factor {} must be positive", f.label(), factor);
    hp.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling != "none" && scaling != "llama3") {
    // llama3 scaling arrives as the rope_freqs.weight tensor; others are not implemented.
    fail("{}: RoPE scaling type '{}' is not supported (supported: none, linear, llama3)", f.label(),
         scaling);
  }
  if (const std::optional<int64_t> n = f.get_int(key("vocab_size"))) {
    hp.n_vocab = *n;
  } else if (const gguf::Array* tokens = f.get_array("tokenizer.ggml.tokens")) {
    hp.n_vocab = static_cast<int64_t>(tokens->items.size());
  } else {
    const gguf::TensorInfo& embd = f.tensor("token_embd.weight");
    hp.n_vocab = embd.shape.size() == 2 ? embd.shape[1] : 0;
  }
  hp.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  if (family->read != nullptr) family->read(f, hp);
  try {
    hp.validate();
  } catch (const Error& e) {
    fail("{}: {}", f.label(), e.what());
  }
  return hp;
}

void write_hparams(gguf::Writer& w, const ModelHparams& hp) {
  hp.validate();
  const Family& family = family_of(hp.arch);
  auto key = [&hp](const char* suffix) { return hp.arch + "." + suffix; };
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.set("general.architecture", hp.arch);
  w.set(key("vocab_size"), u32(hp.n_vocab));
  w.set(key("context_length"), u32(hp.n_ctx));
  w.set(key("embedding_length"), u32(hp.n_embd));
  w.set(key("block_count"), u32(hp.n_layer));
  w.set(key("feed_forward_length"), u32(hp.n_ff));
  w.set(key("rope.dimension_count"), u32(hp.n_rot));
  w.set(key("attention.head_count"), u32(hp.n_head));
  w.set(key("attention.head_count_kv"), u32(hp.n_head_kv));
  if (hp.key_length > 0) {
    w.set(key("attention.key_length"), u32(hp.key_length));
    w.set(key("attention.value_length"), u32(hp.key_length));
  }
  w.set(key("attention.layer_norm_rms_epsilon"), hp.rms_eps);
  w.set(key("rope.freq_base"), hp.rope_base);
  if (hp.sliding_window > 0) w.set(key("attention.sliding_window"), u32(hp.sliding_window));
  if (hp.rope_freq_scale != 1.0f) {
    w.set(key("rope.scaling.type"), "linear");
    w.set(key("rope.scaling.factor"), 1.0f / hp.rope_freq_scale);
  }
  if (family.write != nullptr) family.write(w, hp);
}

void apply_family(ModelHparams& hp) {
  family_of(hp.arch).configure(hp);
}

std::string layer_tensor_name(int64_t layer, const char* suffix) {
  return fmt::format("blk.{}.{}", layer, suffix);
}

std::vector<TensorSpec> tensor_specs(const ModelHparams& hp) {
  const int64_t d = hp.n_embd, q = hp.q_width(), kv = hp.kv_width(), ff = hp.n_ff;
  const int64_t head = hp.head_dim();
  std::vector<TensorSpec> specs;
  auto matrix = [&specs](std::string name, int64_t n_in, int64_t n_out, bool required = true) {
    specs.push_back({std::move(name), {n_in, n_out}, required, true});
  };
  auto vector = [&specs](std::string name, int64_t n, bool required = true) {
    specs.push_back({std::move(name), {n}, required, false});
  };
  matrix("token_embd.weight", d, hp.n_vocab);
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    auto name = [l](const char* suffix) { return layer_tensor_name(l, suffix); };
    vector(name("attn_norm.weight"), d);
    matrix(name("attn_q.weight"), d, q);
    matrix(name("attn_k.weight"), d, kv);
    matrix(name("attn_v.weight"), d, kv);
    if (hp.qkv_bias) {
      vector(name("attn_q.bias"), q);
      vector(name("attn_k.bias"), kv);
      vector(name("attn_v.bias"), kv);
    }
    if (hp.qk_norm) {
      vector(name("attn_q_norm.weight"), head);
      vector(name("attn_k_norm.weight"), head);
    }
    matrix(name("attn_output.weight"), q, d);
    if (hp.post_norms) vector(name("post_attention_norm.weight"), d);
    vector(name("ffn_norm.weight"), d);
    matrix(name("ffn_gate.weight"), d, ff);
    matrix(name("ffn_up.weight"), d, ff);
    matrix(name("ffn_down.weight"), ff, d);
    if (hp.post_norms) vector(name("post_ffw_norm.weight"), d);
  }
  vector("output_norm.weight", d);
  matrix("output.weight", d, hp.n_vocab, !hp.tied_embeddings);
  // Llama 3.x long-context models: per-pair divisors of the RoPE frequencies.
  vector("rope_freqs.weight", hp.n_rot / 2, false);
  return specs;
}

}  // namespace concord
