#include "model/synth.h"

#include <gtest/gtest.h>

#include <set>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "util/error.h"

namespace concord {
namespace {

SynthOptions options(GgmlType type, bool tied) {
  SynthOptions o;
  o.hparams.n_layer = 2;
  o.hparams.n_embd = 256;
  o.hparams.n_head = 8;
  o.hparams.n_head_kv = 2;
  o.hparams.n_rot = 32;
  o.hparams.n_ff = 512;
  o.hparams.n_vocab = 300;
  o.hparams.n_ctx = 128;
  o.hparams.tied_embeddings = tied;
  o.weights = type;
  return o;
}

class SynthEveryType : public ::testing::TestWithParam<GgmlType> {};

TEST_P(SynthEveryType, LoadsBackWithTheRequestedShapesAndTypes) {
  for (bool tied : {false, true}) {
    const SynthOptions o = options(GetParam(), tied);
    const gguf::File f = gguf::File::parse(synthesize(o).to_bytes(), "synth");
    const ModelHparams hp = read_hparams(f);
    EXPECT_EQ(hp.n_layer, 2);
    EXPECT_EQ(hp.n_embd, 256);
    EXPECT_EQ(hp.n_head, 8);
    EXPECT_EQ(hp.n_head_kv, 2);
    EXPECT_EQ(hp.n_ff, 512);
    EXPECT_EQ(hp.n_vocab, 300);
    EXPECT_EQ(hp.n_ctx, 128);
    EXPECT_EQ(hp.tied_embeddings, tied);
    size_t expected_tensors = 0;
    for (const TensorSpec& spec : tensor_specs(hp)) {
      const gguf::TensorInfo* t = f.find_tensor(spec.name);
      if (!spec.required) {
        EXPECT_EQ(t, nullptr) << spec.name;
        continue;
      }
      ++expected_tensors;
      ASSERT_NE(t, nullptr) << spec.name;
      EXPECT_EQ(t->shape, spec.shape) << spec.name;
      EXPECT_EQ(t->type, spec.is_matrix ? GetParam() : GgmlType::F32) << spec.name;
      const std::vector<float> v = dequantize(t->type, t->data, t->n_elements());
      for (float x : v) ASSERT_TRUE(std::isfinite(x)) << spec.name;
    }
    EXPECT_EQ(f.tensors().size(), expected_tensors);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SynthEveryType, ::testing::ValuesIn(supported_types()),
                         [](const auto& info) { return std::string(type_name(info.param)); });

TEST(Synth, SameSeedSameBytesOtherSeedOtherWeights) {
  SynthOptions o = options(GgmlType::Q8_0, false);
  const auto a = synthesize(o).to_bytes();
  EXPECT_EQ(a, synthesize(o).to_bytes());
  o.seed = 43;
  EXPECT_NE(a, synthesize(o).to_bytes());
}

TEST(Synth, RejectsShapesTheWeightTypeCannotHold) {
  SynthOptions o = options(GgmlType::Q4_K, false);
  o.hparams.n_embd = 64;
  o.hparams.n_rot = 8;
  try {
    synthesize(o);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("token_embd.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Q4_K block size 256"), std::string::npos) << msg;
  }
  o = options(GgmlType::F32, false);
  o.hparams.n_vocab = 100;
  EXPECT_THROW(synthesize(o), Error);
  o = options(GgmlType::F32, false);
  o.hparams.n_head_kv = 3;
  EXPECT_THROW(synthesize(o), Error);
}

TEST(SynthVocab, EveryPieceIsReachableByMergingTwoEarlierOnes) {
  const SynthVocab v = make_synth_vocab(1000);
  ASSERT_EQ(v.tokens.size(), 1000u);
  EXPECT_EQ(v.tokens[0], "<unk>");
  EXPECT_EQ(v.tokens[1], "<s>");
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.tokens[258], "<0xFF>");
  std::set<std::string> seen;
  for (size_t i = 259; i < v.tokens.size(); ++i) {
    const std::string& piece = v.tokens[i];
    EXPECT_TRUE(seen.insert(piece).second) << "duplicate piece " << piece;
    if (v.types[i] != 1) continue;
    const bool single_char = piece.size() == 1 || piece == "\xe2\x96\x81";
    bool reachable = single_char;
    for (size_t cut = 1; cut < piece.size() && !reachable; ++cut) {
      reachable = seen.count(piece.substr(0, cut)) && seen.count(piece.substr(cut));
    }
    EXPECT_TRUE(reachable) << piece;
  }
}

}  // namespace
}  // namespace concord
