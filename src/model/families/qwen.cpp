// Qwen 2 and Qwen 3: Llama blocks with NeoX-style RoPE; Qwen 2 adds biases to the q, k and
// v projections, Qwen 3 drops them and RMS-normalises each head of q and k instead.
#include "model/families.h"

namespace concord {

const Family kQwen2Family = {"qwen2",
                             [](ModelHparams& hp) {
                               hp.neox_rope = true;
                               hp.qkv_bias = true;
                             },
                             nullptr, nullptr};

const Family kQwen3Family = {"qwen3",
                             [](ModelHparams& hp) {
                               hp.neox_rope = true;
                               hp.qk_norm = true;
                             },
                             nullptr, nullptr};

}  // namespace concord
