// Forward-level checks on synthetic Llama models of every weight format:
//  - prefill-then-decode equals full recompute at every position (KV-cache correctness);
//  - a ragged batch of several sequences equals each sequence run alone;
//  - the optimised CPU backend matches the scalar reference backend.
#include <gtest/gtest.h>

#include "common/model_fixture.h"
#include "model/synth.h"
#include "util/rng.h"

namespace concord {
namespace {

gguf::File synthetic(GgmlType type, bool tied, int n_head_kv) {
  SynthOptions o;
  o.hparams.n_layer = 2;
  o.hparams.n_embd = 256;
  o.hparams.n_head = 4;
  o.hparams.n_head_kv = n_head_kv;
  o.hparams.n_rot = 64;
  o.hparams.n_ff = 512;
  o.hparams.n_vocab = 320;
  o.hparams.n_ctx = 64;
  o.hparams.tied_embeddings = tied;
  o.weights = type;
  o.seed = 100 + static_cast<uint64_t>(type);
  return gguf::File::parse(synthesize(o).to_bytes(), "synthetic");
}

std::vector<TokenId> random_tokens(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenId> t(static_cast<size_t>(n));
  for (TokenId& id : t) id = static_cast<TokenId>(rng.next_u64() % 320);
  return t;
}

constexpr int64_t kVocab = 320;

void expect_rows_equal(std::span<const float> a, std::span<const float> b,
                       const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  const test::Similarity s = test::compare(a, b);
  EXPECT_LE(s.nmse, 1e-10) << what << " (max |diff| " << s.max_abs_diff << ")";
}

struct Shape {
  GgmlType type;
  bool tied;
  int n_head_kv;
};

class SyntheticForward : public ::testing::TestWithParam<Shape> {};

TEST_P(SyntheticForward, PrefillThenDecodeEqualsFullRecompute) {
  const Shape p = GetParam();
  for (KvType kv : {KvType::F32, KvType::F16}) {
    test::LoadedModel m(synthetic(p.type, p.tied, p.n_head_kv), "cpu", 1, 64, kv);
    const std::vector<TokenId> tokens = random_tokens(24, 7);
    const std::vector<float> full = m.all_logits(tokens);
    // Prefill 10 tokens, then decode the rest one by one.
    test::LoadedModel inc(synthetic(p.type, p.tied, p.n_head_kv), "cpu", 1, 64, kv);
    Batch prefill;
    for (int i = 0; i < 10; ++i) prefill.add(tokens[i], i, 0, true);
    std::vector<float> logits;
    inc.model->forward(prefill, inc.cache->layers(), logits);
    expect_rows_equal(logits, std::span<const float>(full).first(10 * kVocab), "prefill");
    for (int i = 10; i < 24; ++i) {
      Batch step;
      step.add(tokens[i], i, 0, true);
      inc.model->forward(step, inc.cache->layers(), logits);
      expect_rows_equal(logits, std::span<const float>(full).subspan(i * kVocab, kVocab),
                        "decode position " + std::to_string(i));
    }
  }
}

TEST_P(SyntheticForward, RaggedBatchEqualsSequencesAlone) {
  const Shape p = GetParam();
  // Three sequences: one mid-decode, one fresh prefill, one single token.
  const std::vector<std::vector<TokenId>> seqs = {random_tokens(9, 1), random_tokens(6, 2),
                                                  random_tokens(1, 3)};
  std::vector<std::vector<float>> alone;
  for (const auto& s : seqs) {
    test::LoadedModel m(synthetic(p.type, p.tied, p.n_head_kv), "cpu", 1, 64);
    alone.push_back(m.all_logits(s));
  }
  test::LoadedModel m(synthetic(p.type, p.tied, p.n_head_kv), "cpu", 3, 64);
  // Step 1: the first 5 tokens of sequence 0 alone (it is "already running").
  Batch warm;
  for (int i = 0; i < 5; ++i) warm.add(seqs[0][i], i, 0, false);
  std::vector<float> logits;
  m.model->forward(warm, m.cache->layers(), logits);
  // Step 2: the rest of sequence 0, all of 1 and 2, interleaved.
  Batch mixed;
  std::vector<std::pair<int, int>> rows;  // (sequence, position) of each logits row
  for (int i = 0; i < 6; ++i) {
    if (i + 5 < 9) mixed.add(seqs[0][i + 5], i + 5, 0, true), rows.emplace_back(0, i + 5);
    mixed.add(seqs[1][i], i, 1, true), rows.emplace_back(1, i);
    if (i == 0) mixed.add(seqs[2][0], 0, 2, true), rows.emplace_back(2, 0);
  }
  m.model->forward(mixed, m.cache->layers(), logits);
  ASSERT_EQ(logits.size(), rows.size() * kVocab);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto [s, pos] = rows[r];
    expect_rows_equal(std::span<const float>(logits).subspan(r * kVocab, kVocab),
                      std::span<const float>(alone[s]).subspan(pos * kVocab, kVocab),
                      "sequence " + std::to_string(s) + " position " + std::to_string(pos));
  }
}

TEST_P(SyntheticForward, OptimisedCpuMatchesTheReferenceBackend) {
  const Shape p = GetParam();
  const std::vector<TokenId> tokens = random_tokens(16, 11);
  test::LoadedModel ref(synthetic(p.type, p.tied, p.n_head_kv), "cpu-ref", 1, 64);
  test::LoadedModel opt(synthetic(p.type, p.tied, p.n_head_kv), "cpu", 1, 64);
  const std::vector<float> a = ref.all_logits(tokens), b = opt.all_logits(tokens);
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const auto ra = std::span<const float>(a).subspan(pos * kVocab, kVocab);
    const auto rb = std::span<const float>(b).subspan(pos * kVocab, kVocab);
    const test::Similarity s = test::compare(rb, ra);
    EXPECT_GE(s.cosine, 0.9999) << "position " << pos;
    EXPECT_EQ(std::max_element(ra.begin(), ra.end()) - ra.begin(),
              std::max_element(rb.begin(), rb.end()) - rb.begin())
        << "top-1 differs at position " << pos;
  }
}

std::vector<Shape> all_shapes() {
  std::vector<Shape> shapes;
  for (GgmlType t : supported_types()) shapes.push_back({t, false, 2});
  shapes.push_back({GgmlType::F32, true, 4});   // tied, multi-head (no GQA)
  shapes.push_back({GgmlType::Q8_0, true, 1});  // multi-query
  return shapes;
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, SyntheticForward, ::testing::ValuesIn(all_shapes()),
                         [](const auto& info) {
                           return std::string(type_name(info.param.type)) +
                                  (info.param.tied ? "_tied" : "") + "_kv" +
                                  std::to_string(info.param.n_head_kv);
                         });

}  // namespace
}  // namespace concord
