#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "model/synth.h"
#include "util/error.h"

namespace concord {
namespace {

Tokenizer synthetic_tokenizer() {
  SynthOptions o;
  o.hparams.n_vocab = 700;
  o.hparams.n_layer = 1;
  return Tokenizer::from_gguf(gguf::File::parse(synthesize(o).to_bytes(), "synth"));
}

TEST(Tokenizer, StoriesGoldenPromptTokens) {
  CONCORD_REQUIRE_SHARED("golden/stories260K-greedy.json");
  const Tokenizer tok =
      Tokenizer::from_gguf(gguf::File::open(test::shared_file("models/stories260K.gguf")));
  std::ifstream in(test::shared_file("golden/stories260K-greedy.json"));
  const auto golden = nlohmann::json::parse(in);
  ASSERT_EQ(golden.size(), 5u);
  for (const auto& c : golden) {
    const std::string prompt = c["prompt"];
    EXPECT_EQ(tok.encode(prompt), c["prompt_tokens"].get<std::vector<TokenId>>()) << prompt;
  }
}

TEST(Tokenizer, SyntheticVocabularyRoundTripsAnyBytes) {
  const Tokenizer tok = synthetic_tokenizer();
  for (const std::string text :
       {"hello world", "  two  spaces ", "ünïcödé 🦙", "\n\t\x01", "THE END."}) {
    const auto ids = tok.encode(text, false);
    EXPECT_EQ(tok.decode(ids, true), text);
  }
  EXPECT_EQ(tok.encode("", true), std::vector<TokenId>{1});  // just BOS
}

TEST(Tokenizer, SpecialTokensParseOnlyWhenAsked) {
  const Tokenizer tok = synthetic_tokenizer();
  const auto parsed = tok.encode("a</s>b", false, /*parse_special=*/true);
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), 2), parsed.end());
  const auto plain = tok.encode("a</s>b", false, false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), 2), plain.end());
  EXPECT_EQ(tok.decode(plain, true), "a</s>b");
  EXPECT_EQ(tok.piece(2), "");
  EXPECT_EQ(tok.piece(2, true), "</s>");
  EXPECT_THROW(tok.piece(100000), Error);
}

TEST(StreamDecoder, HoldsBackIncompleteUtf8) {
  const Tokenizer tok = synthetic_tokenizer();
  // "é" is two bytes; with no piece for it, it becomes two byte tokens.
  const auto ids = tok.encode("é!", false);
  StreamDecoder stream(tok);
  std::string text;
  std::vector<std::string> chunks;
  for (TokenId id : ids) {
    chunks.push_back(stream.push(id));
    text += chunks.back();
  }
  text += stream.flush();
  EXPECT_EQ(text, " é!");
  for (const std::string& c : chunks) {
    // No chunk ends inside a multi-byte character.
    if (!c.empty()) {
      EXPECT_NE(static_cast<unsigned char>(c.back()) >> 6, 0b11u) << c;
    }
  }
}

}  // namespace
}  // namespace concord
