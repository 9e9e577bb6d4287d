// Every model family on synthetic weights (the family's real tensor names and metadata):
//  - prefill-then-decode through sliding-window rings equals full recompute with
//    full-length caches, where the window is only a mask (the plain masked reference);
//  - a ragged batch of several sequences equals each sequence run alone;
//  - the optimised CPU backend and CUDA (where present) match the scalar reference.
// Windows (8) and rings (8 + 4 rows) are far shorter than the sequences (40), so every
// local layer wraps its ring several times.
#include <gtest/gtest.h>

#include <cstdlib>

#include "backend/registry.h"
#include "common/model_fixture.h"
#include "model/families.h"
#include "model/synth.h"
#include "util/rng.h"

namespace concord {
namespace {

constexpr int64_t kVocab = 300;
constexpr int64_t kWindow = 8;
constexpr int64_t kStep = 4;  // ring rows = window + step
constexpr int kTokens = 40;

struct Variant {
  std::string arch;
  GgmlType type;
};

gguf::File synthetic(const Variant& v) {
  SynthOptions o;
  ModelHparams& hp = o.hparams;
  hp.arch = v.arch;
  apply_family(hp);
  hp.n_layer = v.arch == "gemma3" ? 6 : 3;  // Gemma 3: five local layers, then a global one
  hp.n_embd = 256;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.key_length = 128;  // q width 512 != model width, as in Gemma
  hp.n_rot = 64;        // partial rotary
  hp.n_ff = 256;
  hp.n_vocab = kVocab;
  hp.n_ctx = 64;
  hp.sliding_window = kWindow;
  hp.tied_embeddings = v.arch.starts_with("gemma");
  if (v.arch == "gemma2") hp.attn_softcap = 50.0f, hp.final_softcap = 30.0f;
  o.weights = v.type;
  o.seed = 7;
  return gguf::File::parse(synthesize(o).to_bytes(), "synthetic " + v.arch);
}

std::vector<TokenId> random_tokens(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenId> t(static_cast<size_t>(n));
  for (TokenId& id : t) id = static_cast<TokenId>(rng.next_u64() % kVocab);
  return t;
}

std::span<const float> row(const std::vector<float>& logits, size_t position) {
  return std::span<const float>(logits).subspan(position * kVocab, kVocab);
}

void expect_close(std::span<const float> got, std::span<const float> want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const test::Similarity s = test::compare(got, want);
  EXPECT_LE(s.nmse, 1e-10) << what << " (max |diff| " << s.max_abs_diff << ")";
}

class Families : public ::testing::TestWithParam<Variant> {};

TEST_P(Families, RingPrefillThenDecodeEqualsMaskedFullRecompute) {
  const std::vector<TokenId> tokens = random_tokens(kTokens, 3);
  for (KvType kv : {KvType::F32, KvType::F16}) {
    test::LoadedModel masked(synthetic(GetParam()), "cpu", 1, 64, kv, /*step_tokens=*/0);
    const std::vector<float> full = masked.all_logits(tokens);
    test::LoadedModel ring(synthetic(GetParam()), "cpu", 1, 64, kv, kStep);
    // Prefill 10 tokens in steps of kStep, then decode the rest one by one.
    const std::vector<float> prefill = ring.all_logits(std::span(tokens).first(10));
    for (size_t i = 0; i < 10; ++i)
      expect_close(row(prefill, i), row(full, i), "prefill position " + std::to_string(i));
    std::vector<float> logits;
    for (int i = 10; i < kTokens; ++i) {
      Batch step;
      step.add(tokens[static_cast<size_t>(i)], i, 0, true);
      ring.model->forward(step, ring.cache->layers(), logits);
      expect_close(row(logits, 0), row(full, static_cast<size_t>(i)),
                   "decode position " + std::to_string(i));
    }
  }
}

TEST_P(Families, RaggedBatchEqualsSequencesAlone) {
  const std::vector<std::vector<TokenId>> seqs = {random_tokens(12, 1), random_tokens(4, 2),
                                                  random_tokens(1, 5)};
  std::vector<std::vector<float>> alone;
  for (const auto& s : seqs) {
    test::LoadedModel m(synthetic(GetParam()), "cpu", 1, 64, KvType::F32, kStep);
    alone.push_back(m.all_logits(s));
  }
  test::LoadedModel m(synthetic(GetParam()), "cpu", 3, 64, KvType::F32, kStep);
  std::vector<float> logits;
  // Sequence 0 runs ahead alone for two steps, then one step mixes all three.
  for (int32_t first : {0, 4}) {
    Batch warm;
    for (int32_t i = first; i < first + 4; ++i)
      warm.add(seqs[0][static_cast<size_t>(i)], i, 0, false);
    m.model->forward(warm, m.cache->layers(), logits);
  }
  Batch mixed;
  std::vector<std::pair<size_t, size_t>> rows;  // (sequence, position) of each logits row
  for (size_t i = 0; i < 4; ++i) {
    mixed.add(seqs[0][8 + i], static_cast<int32_t>(8 + i), 0, true), rows.emplace_back(0, 8 + i);
    mixed.add(seqs[1][i], static_cast<int32_t>(i), 1, true), rows.emplace_back(1, i);
    if (i == 0) mixed.add(seqs[2][0], 0, 2, true), rows.emplace_back(2, 0);
  }
  m.model->forward(mixed, m.cache->layers(), logits);
  ASSERT_EQ(logits.size(), rows.size() * kVocab);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto [s, pos] = rows[r];
    expect_close(row(logits, r), row(alone[s], pos),
                 "sequence " + std::to_string(s) + " position " + std::to_string(pos));
  }
}

// Logits of every position on `backend` against the scalar reference, through rings.
void expect_matches_reference(const Variant& v, const std::string& backend) {
  if (const auto why = find_backend(backend)->unavailable_reason()) {
    GTEST_SKIP() << backend << " backend unavailable: " << *why;
  }
  const std::vector<TokenId> tokens = random_tokens(kTokens, 11);
  test::LoadedModel ref(synthetic(v), "cpu-ref", 1, 64, KvType::F32, kStep);
  test::LoadedModel other(synthetic(v), backend, 1, 64, KvType::F32, kStep);
  const std::vector<float> a = ref.all_logits(tokens), b = other.all_logits(tokens);
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    const test::Similarity s = test::compare(row(b, pos), row(a, pos));
    EXPECT_GE(s.cosine, 0.9999) << backend << " position " << pos;
  }
}

TEST_P(Families, OptimisedCpuMatchesTheReferenceBackend) {
  expect_matches_reference(GetParam(), "cpu");
}

TEST_P(Families, CudaMatchesTheReferenceBackend) {
  expect_matches_reference(GetParam(), "cuda");
}

// F32, Q8_0 and Q4_K by default; CONCORD_FAMILY_TYPES=all adds every weight format (the
// GPU run in scripts/device-check.sh uses it).
std::vector<Variant> variants() {
  const char* env = std::getenv("CONCORD_FAMILY_TYPES");
  const bool all = env != nullptr && std::string(env) == "all";
  const std::vector<GgmlType> types =
      all ? supported_types()
          : std::vector<GgmlType>{GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_K};
  std::vector<Variant> out;
  for (const std::string& arch : family_names()) {
    for (GgmlType type : types) out.push_back({arch, type});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(EveryFamily, Families, ::testing::ValuesIn(variants()),
                         [](const auto& info) {
                           return info.param.arch + "_" + std::string(type_name(info.param.type));
                         });

}  // namespace
}  // namespace concord
