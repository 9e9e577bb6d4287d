// Writes the fuzzer's seed corpus: small valid GGUF files of every version, with every
// value type, nested arrays and tensors of every supported weight type.
#include <cstdio>
#include <fstream>
#include <string>

#include "gguf/writer.h"
#include "model/synth.h"
#include "quant/quant.h"

using namespace concord;

namespace {

void save(const std::string& dir, const std::string& name, const gguf::Writer& w) {
  const auto bytes = w.to_bytes();
  std::ofstream(dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

gguf::Writer every_type(uint32_t version) {
  gguf::Writer w(version);
  w.set("general.architecture", "llama");
  w.set("u8", uint8_t{1});
  w.set("i16", int16_t{-2});
  w.set("f64", 0.5);
  w.set("flag", true);
  w.set("list", gguf::make_array(gguf::ValueType::String, std::vector<std::string>{"a", "bc"}));
  gguf::Array nested{gguf::ValueType::Array, {}};
  nested.items.emplace_back(gguf::make_array(gguf::ValueType::I64, std::vector<int64_t>{1, 2}));
  w.set("nested", nested);
  std::vector<float> values(256);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 17) - 8.0f;
  for (GgmlType t : supported_types()) {
    w.add_tensor(std::string("t.") + std::string(type_name(t)), t, {256}, quantize(t, values));
  }
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gguf_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (uint32_t v = 1; v <= 3; ++v)
    save(dir, "every-type-v" + std::to_string(v) + ".gguf", every_type(v));
  SynthOptions o;
  o.hparams.n_layer = 1;
  o.hparams.n_embd = 32;
  o.hparams.n_head = 2;
  o.hparams.n_head_kv = 1;
  o.hparams.n_rot = 16;
  o.hparams.n_ff = 64;
  o.hparams.n_vocab = 260;
  o.hparams.tied_embeddings = true;
  o.weights = GgmlType::Q8_0;
  save(dir, "tiny-llama.gguf", synthesize(o));
  return 0;
}
