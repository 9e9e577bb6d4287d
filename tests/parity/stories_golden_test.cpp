// External parity: stories260K against what llama.cpp produced for the same prompts
// (../shared/golden): greedy tokens for 128 steps and the logits at the last prompt
// position, for the v1 and v3 files, on every CPU backend.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/model_fixture.h"
#include "common/paths.h"
#include "runtime/generate.h"

namespace concord {
namespace {

struct Case {
  std::string file, backend;
};

class StoriesGolden : public ::testing::TestWithParam<Case> {};

TEST_P(StoriesGolden, GreedyTokensAndLastPromptLogitsMatch) {
  CONCORD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  CONCORD_REQUIRE_SHARED("models/" + GetParam().file);
  std::ifstream in(test::shared_file("golden/stories260K-greedy.json"));
  const auto golden = nlohmann::json::parse(in);
  test::LoadedModel m(gguf::File::open(test::shared_file("models/" + GetParam().file)),
                      GetParam().backend);
  const Tokenizer tok = Tokenizer::from_gguf(*m.file);
  for (const auto& c : golden) {
    const auto prompt = c["prompt_tokens"].get<std::vector<TokenId>>();
    const auto expected = c["greedy_tokens"].get<std::vector<TokenId>>();
    const auto reference_logits = c["last_prompt_logits"].get<std::vector<float>>();

    const std::vector<float> all = m.all_logits(prompt);
    const std::span<const float> last(all.data() + (prompt.size() - 1) * 512, 512);
    const test::Similarity s = test::compare(last, reference_logits);
    EXPECT_LE(s.max_abs_diff, 1e-3) << c["prompt"];
    EXPECT_GE(s.cosine, 0.99999) << c["prompt"];

    Sequence seq{0, {}};
    GenerationParams params;
    params.max_tokens = static_cast<int>(expected.size());
    params.ignore_eos = false;
    const GenerationResult r = generate(*m.model, *m.cache, seq, tok, prompt, params);
    ASSERT_EQ(r.tokens.size(), expected.size()) << "finish " << finish_reason_name(r.finish);
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(r.tokens[i], expected[i]) << c["prompt"] << ": first divergence at step " << i;
    }
    EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(
    FilesAndBackends, StoriesGolden,
    ::testing::Values(Case{"stories260K.gguf", "cpu"}, Case{"stories260K-v1.gguf", "cpu"},
                      Case{"stories260K.gguf", "cpu-ref"}, Case{"stories260K-v1.gguf", "cpu-ref"}),
    [](const auto& info) {
      return std::string(info.param.file.find("v1") != std::string::npos ? "v1_" : "v3_") +
             (info.param.backend == "cpu" ? "cpu" : "cpu_ref");
    });

}  // namespace
}  // namespace concord
