// The default model (Gemma 3 270M, Q4_K_M; scripts/install-model.sh) answers like a correct
// implementation of it: facts a 270M base model gets right, a low perplexity on an English
// paragraph, and the Gemma chat format. Skips with a message where it is not installed.
//
// The model is the pretrained google/gemma-3-270m, not the instruction-tuned one: asked in
// the chat format it rambles - identically in llama.cpp (see the #7 note) - so the facts
// are asked as completions.
#include <gtest/gtest.h>

#include <cmath>

#include "common/model_fixture.h"
#include "runtime/chat_format.h"
#include "runtime/default_model.h"
#include "runtime/generate.h"
#include "runtime/perplexity.h"
#include "util/error.h"

namespace concord {
namespace {

// A fixed paragraph of plain English (written for this test).
constexpr const char* kParagraph =
    "The history of the bicycle begins in the early nineteenth century, when inventors in "
    "Europe built wooden machines that riders pushed along with their feet. Over the "
    "following decades, pedals, chains and rubber tyres turned these curiosities into a "
    "practical means of transport. By the end of the century, millions of people in towns "
    "and villages rode bicycles to work, to school and to visit friends, and the bicycle "
    "had changed the way ordinary families thought about distance and freedom.";

// Perplexity of this paragraph (91 tokens): 16.60 with concord (cpu, F16 KV cache), 16.64
// with llama.cpp (llama-cpp-python 0.3.36, same file). A subtly wrong model (a misplaced
// norm, a wrong RoPE layout, a broken window) scores far higher; 20 leaves room for
// rounding differences between backends only.
constexpr double kMaxPerplexity = 20.0;

class DefaultModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      path_ = default_model_path();
    } catch (const Error& e) {
      path_.clear();
      reason_ = e.what();
    }
  }
  void SetUp() override {
    if (path_.empty()) GTEST_SKIP() << "default model not installed: " << reason_;
  }
  static test::LoadedModel load(int64_t n_ctx = 512) {
    return test::LoadedModel(gguf::File::open(path_), "cpu", 1, n_ctx, KvType::F16);
  }
  static std::string complete(test::LoadedModel& m, const std::string& prompt, int n) {
    const Tokenizer tok = Tokenizer::from_gguf(*m.file);
    Sequence seq{0, {}};
    GenerationParams p;
    p.max_tokens = n;
    return generate(*m.model, *m.cache, seq, tok, tok.encode(prompt, true), p).text;
  }

  static inline std::string path_, reason_;
};

TEST_F(DefaultModel, IsGemma3WithTheGemmaChatFormat) {
  const gguf::File f = gguf::File::open(path_);
  EXPECT_EQ(f.get_string("general.architecture").value_or(""), "gemma3");
  const ChatFormat format = chat_format_for(f);
  EXPECT_EQ(format.name, "gemma");
  const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(format.render(chat, true),
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
  const Tokenizer tok = Tokenizer::from_gguf(f);
  EXPECT_GE(end_of_turn_token(format, tok.vocab()), 0);
}

TEST_F(DefaultModel, AnswersFactsItKnows) {
  test::LoadedModel m = load();
  struct Fact {
    const char* prompt;
    const char* answer;
  };
  for (const Fact& f : {Fact{"Question: What is the capital of France?\nAnswer:", "Paris"},
                        Fact{"Question: What is the capital of Japan?\nAnswer:", "Tokyo"},
                        Fact{"Water freezes at a temperature of", "0 degrees"},
                        Fact{"Monday, Tuesday, Wednesday,", "Thursday"}}) {
    const std::string text = complete(m, f.prompt, 6);
    EXPECT_NE(text.find(f.answer), std::string::npos) << f.prompt << " -> " << text;
  }
}

TEST_F(DefaultModel, PerplexityOfAnEnglishParagraphIsLow) {
  test::LoadedModel m = load();
  const Tokenizer tok = Tokenizer::from_gguf(*m.file);
  const std::vector<TokenId> tokens = tok.encode(kParagraph, true);
  const double perplexity_value = perplexity(*m.model, *m.cache, tokens).perplexity;
  RecordProperty("perplexity", std::to_string(perplexity_value));
  EXPECT_LT(perplexity_value, kMaxPerplexity) << "over " << tokens.size() << " tokens";
  EXPECT_GT(perplexity_value, 1.0);
}

}  // namespace
}  // namespace concord
