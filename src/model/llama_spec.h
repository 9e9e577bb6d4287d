// The Llama architecture's hyper-parameters and tensor list, written once: the loader
// reads them from GGUF metadata, `synth` writes them, and both use the same tensor list.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace concord {

struct LlamaHparams {
  int64_t n_vocab = 512;
  int64_t n_ctx = 512;  // training context (llama.context_length)
  int64_t n_embd = 64;  // model width
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 4;  // < n_head for grouped-query attention
  int64_t n_ff = 172;     // feed-forward width
  int64_t n_rot = 16;     // rotary dimensions per head (usually head_dim)
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor (llama.rope.scaling.*)
  bool tied_embeddings = false;  // no output.weight: logits use token_embd.weight

  int64_t head_dim() const { return n_embd / n_head; }
  int64_t kv_width() const { return head_dim() * n_head_kv; }
  // Throws concord::Error naming the inconsistent field.
  void validate() const;
};

// Reads `llama.*` keys (and the vocabulary size from the token list or the embedding).
LlamaHparams read_llama_hparams(const gguf::File& file);
void write_llama_hparams(gguf::Writer& writer, const LlamaHparams& hp);

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the input (contiguous) dimension
  bool required = true;
  bool is_matrix = false;  // a 2-D weight (quantisable); 1-D norms stay F32
};

// Every tensor of a Llama model, in file order.
std::vector<TensorSpec> llama_tensor_specs(const LlamaHparams& hp);

std::string layer_tensor_name(int64_t layer, const char* suffix);  // "blk.3.attn_q.weight"

}  // namespace concord
