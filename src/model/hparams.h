// A decoder-only transformer's hyper-parameters and tensor list, written once for every
// family: the loader reads them from GGUF metadata (`<arch>.*` keys), `synth` writes
// them, and both use the same tensor list. What differs between families (norm placement,
// activation, RoPE layout, sliding windows) is a set of features that each family's file
// (model/families/) switches on; see model/families.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace concord {

enum class Activation { SiLU, GeluTanh };  // of the gated feed-forward (SwiGLU, GeGLU)

struct ModelHparams {
  std::string arch = "llama";  // general.architecture: selects the family
  int64_t n_vocab = 512;
  int64_t n_ctx = 512;  // training context (<arch>.context_length)
  int64_t n_embd = 64;  // model width
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 4;   // < n_head for grouped-query attention
  int64_t n_ff = 172;      // feed-forward width
  int64_t key_length = 0;  // per-head size; 0: n_embd / n_head
  int64_t n_rot = 16;      // rotary dimensions per head (usually the head size)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor (<arch>.rope.scaling.*)
  bool tied_embeddings = false;  // no output.weight: logits use token_embd.weight
  int64_t sliding_window = 0;    // > 0: local layers attend to this many positions

  // Family features (set by the family, not read from metadata).
  Activation activation = Activation::SiLU;
  bool neox_rope = false;         // RoPE pairs (i, i + n_rot/2) instead of (2i, 2i+1)
  bool qkv_bias = false;          // attn_{q,k,v}.bias (Qwen 2)
  bool qk_norm = false;           // per-head RMSNorm of q and k before RoPE (Qwen 3, Gemma 3)
  bool post_norms = false;        // RMSNorm of the attention and FFN outputs (Gemma 2/3)
  bool scale_embeddings = false;  // embeddings times sqrt(n_embd) (Gemma)
  float attn_scale = 0.0f;        // q·k scale; 0: 1/sqrt(head size)
  float attn_softcap = 0.0f;      // > 0: attention scores soft-capped (Gemma 2)
  float final_softcap = 0.0f;     // > 0: logits soft-capped (Gemma 2)
  int swa_period = 0;             // sliding window on every layer (0), or all but every Nth (Gemma)
  float rope_base_local = 0.0f;   // RoPE base of sliding-window layers; 0: rope_base
  bool rope_scale_global_only = false;  // linear RoPE scaling skips local layers (Gemma 3)

  int64_t head_dim() const { return key_length > 0 ? key_length : n_embd / n_head; }
  int64_t q_width() const { return head_dim() * n_head; }
  int64_t kv_width() const { return head_dim() * n_head_kv; }
  // The sliding window of `layer`, or 0 for a global layer.
  int64_t layer_window(int64_t layer) const;
  float layer_rope_base(int64_t layer) const;
  float layer_rope_freq_scale(int64_t layer) const;
  // Throws concord::Error naming the inconsistent field.
  void validate() const;
};

// Reads the `<arch>.*` keys of general.architecture's family (and the vocabulary size from
// the token list or the embedding); throws for an architecture concord does not know.
ModelHparams read_hparams(const gguf::File& file);
void write_hparams(gguf::Writer& writer, const ModelHparams& hp);
// Switches on the features of hp.arch's family (for `synth`); throws for an unknown one.
void apply_family(ModelHparams& hp);

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the input (contiguous) dimension
  bool required = true;
  bool is_matrix = false;  // a 2-D weight (quantisable); 1-D norms and biases stay F32
};

// Every tensor of the model, in file order.
std::vector<TensorSpec> tensor_specs(const ModelHparams& hp);

std::string layer_tensor_name(int64_t layer, const char* suffix);  // "blk.3.attn_q.weight"

}  // namespace concord
