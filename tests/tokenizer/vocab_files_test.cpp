// Tokenizer test vectors from ../shared/vocab: each text of *.inp must tokenise to the ids
// on the matching line of *.out (no BOS), and detokenise back to the text.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/paths.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace concord {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + sep.size()) {
    parts.push_back(s.substr(start, pos - start));
  }
  parts.push_back(s.substr(start));
  return parts;
}

std::vector<TokenId> parse_ids(const std::string& line) {
  std::vector<TokenId> ids;
  std::istringstream in(line);
  for (TokenId id; in >> id;) ids.push_back(id);
  return ids;
}

class VocabFile : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabFile, EncodesEveryTestTextExactlyAndRoundTrips) {
  const std::string base = "vocab/ggml-vocab-" + GetParam() + ".gguf";
  CONCORD_REQUIRE_SHARED(base);
  const gguf::File file = gguf::File::open(test::shared_file(base));
  const Tokenizer tok = Tokenizer::from_gguf(file);
  std::string inp = read_all(test::shared_file(base + ".inp"));
  std::string out = read_all(test::shared_file(base + ".out"));
  const std::vector<std::string> texts = split(inp, "\n__ggml_vocab_test__\n");
  std::vector<std::string> lines = split(out, "\n");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  ASSERT_EQ(texts.size() - 1, lines.size());  // the .inp ends with a separator
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::vector<TokenId> ids = tok.encode(texts[i], /*add_special=*/false);
    EXPECT_EQ(ids, parse_ids(lines[i])) << "text " << i << ": '" << texts[i] << "'";
    EXPECT_EQ(tok.decode(ids, /*strip_space_prefix=*/true), texts[i]) << "text " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryVocabulary, VocabFile,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "falcon", "deepseek-llm"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace concord
