// Gemma, Gemma 2 and Gemma 3. Common to all: embeddings scaled by sqrt(width), GeGLU
// feed-forward (tanh GELU), NeoX RoPE, output tied to the embedding. GGUF stores the
// RMSNorm weights with Gemma's "1 +" already folded in, so the norms are plain RMSNorm.
//  - Gemma 2: post-norms around attention and FFN outputs, attention and final-logit
//    soft-capping, a sliding window on every other layer (even layers are local).
//  - Gemma 3: post-norms, per-head q/k RMSNorm, five local layers per global one; local
//    layers use RoPE base 10000 and no RoPE scaling, global ones the file's.
// The q·k scale is 1/sqrt(query_pre_attn_scalar): the head size, except for the 27B
// models, whose scalar is width / heads.
#include "model/families.h"

#include <cmath>

namespace concord {
namespace {

void configure_gemma(ModelHparams& hp) {
  hp.scale_embeddings = true;
  hp.activation = Activation::GeluTanh;
  hp.neox_rope = true;
}

// 27B models are recognised by their depth, as GGUF files carry no query_pre_attn_scalar.
void set_attention_scale(ModelHparams& hp, int64_t layers_of_27b) {
  const int64_t scalar = hp.n_layer == layers_of_27b ? hp.n_embd / hp.n_head : hp.head_dim();
  hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(scalar));
}

void read_softcaps(const gguf::File& f, ModelHparams& hp, double attn, double final) {
  hp.attn_softcap =
      static_cast<float>(f.get_float(hp.arch + ".attn_logit_softcapping").value_or(attn));
  hp.final_softcap =
      static_cast<float>(f.get_float(hp.arch + ".final_logit_softcapping").value_or(final));
}

void write_softcaps(gguf::Writer& w, const ModelHparams& hp) {
  if (hp.attn_softcap > 0.0f) w.set(hp.arch + ".attn_logit_softcapping", hp.attn_softcap);
  if (hp.final_softcap > 0.0f) w.set(hp.arch + ".final_logit_softcapping", hp.final_softcap);
}

}  // namespace

const Family kGemmaFamily = {"gemma", configure_gemma, nullptr, nullptr};

const Family kGemma2Family = {"gemma2",
                              [](ModelHparams& hp) {
                                configure_gemma(hp);
                                hp.post_norms = true;
                                hp.swa_period = 2;
                              },
                              [](const gguf::File& f, ModelHparams& hp) {
                                read_softcaps(f, hp, 50.0, 30.0);
                                set_attention_scale(hp, 46);
                              },
                              write_softcaps};

const Family kGemma3Family = {"gemma3",
                              [](ModelHparams& hp) {
                                configure_gemma(hp);
                                hp.post_norms = true;
                                hp.qk_norm = true;
                                hp.swa_period = 6;
                                hp.rope_base_local = 10000.0f;
                                hp.rope_scale_global_only = true;
                              },
                              [](const gguf::File& f, ModelHparams& hp) {
                                read_softcaps(f, hp, 0.0, 0.0);
                                set_attention_scale(hp, 62);
                              },
                              write_softcaps};

}  // namespace concord
