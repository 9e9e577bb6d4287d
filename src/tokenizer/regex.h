// A small backtracking regular-expression matcher over Unicode code points: the subset
// the BPE pre-tokenizer patterns use (alternation, (?:...), (?i:...), (?!...), (?=...),
// classes with ranges and \p{L} \p{N} \p{P} \p{M} \s \d \w and their negations, . ^ $,
// greedy * + ? {n} {n,} {n,m}). Matching is leftmost-first, as in PCRE; repeated single
// characters are matched without recursion, so long runs cannot exhaust the stack.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace concord {

class CodepointRegex {
 public:
  // Throws concord::Error naming what it cannot parse.
  explicit CodepointRegex(std::string_view pattern);

  // The length (in code points) of the match starting at `pos` of text[begin, end), or -1.
  int64_t match_at(const std::vector<uint32_t>& text, size_t begin, size_t end, size_t pos) const;

 private:
  struct ClassItem {
    uint32_t first, last;  // a range, or a category when `category` is set
    char category = 0;     // 'L', 'N', 'P', 'M', 's' (space), 'd' (digit), 'w' (word)
    bool negated = false;  // \P{..}, \S, \D, \W
  };
  struct Node {
    enum Kind { Char, Class, Any, Group, LookAhead, Begin, End } kind = Char;
    uint32_t ch = 0;
    std::vector<ClassItem> items;  // Class
    bool negated = false;          // Class [^...], LookAhead (?!...)
    bool icase = false;
    int min = 1, max = 1;                    // repetition (max -1: unbounded)
    std::vector<std::vector<int>> branches;  // Group, LookAhead: alternatives of node ids
  };
  struct Matcher;

  int parse_alternatives(std::vector<uint32_t>& p, size_t& i, bool icase, Node::Kind kind);
  int parse_atom(std::vector<uint32_t>& p, size_t& i, bool icase);
  ClassItem parse_escape(std::vector<uint32_t>& p, size_t& i, bool in_class);

  std::vector<Node> nodes_;
  int root_ = -1;
};

}  // namespace concord
