#include "tokenizer/regex.h"

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace concord {
namespace {

bool in_category(char category, uint32_t cp) {
  switch (category) {
    case 'L':
      return unicode::is_letter(cp);
    case 'N':
      return unicode::is_number(cp);
    case 'P':
      return unicode::is_punctuation(cp);
    case 'M':
      return unicode::is_mark(cp);
    case 's':
      return unicode::is_whitespace(cp);
    case 'd':
      return unicode::is_number(cp);
    case 'w':
      return unicode::is_letter(cp) || unicode::is_number(cp) || cp == '_' || unicode::is_mark(cp);
    default:
      return false;
  }
}

}  // namespace

// Backtracking with continuations: match(node, pos, k) calls k(end) for each way the node
// can match from pos, most greedy first, and stops at the first k that succeeds.
struct CodepointRegex::Matcher {
  const CodepointRegex& re;
  const std::vector<uint32_t>& text;
  size_t begin, end;

  class Cont {  // a non-owning reference to a callable bool(size_t)
   public:
    template <typename F>
    Cont(const F& f)
        : object_(&f),
          call_([](const void* o, size_t p) { return (*static_cast<const F*>(o))(p); }) {}
    bool operator()(size_t p) const { return call_(object_, p); }

   private:
    const void* object_;
    bool (*call_)(const void*, size_t);
  };

  bool single(const Node& n, uint32_t cp) const {
    const uint32_t c = n.icase ? unicode::to_lower(cp) : cp;
    switch (n.kind) {
      case Node::Char:
        return c == n.ch;
      case Node::Any:
        return cp != '\n';
      case Node::Class: {
        bool hit = false;
        for (const ClassItem& item : n.items) {
          const bool in = item.category ? in_category(item.category, cp) != item.negated
                                        : (c >= item.first && c <= item.last) ||
                                              (cp >= item.first && cp <= item.last);
          if (in) {
            hit = true;
            break;
          }
        }
        return hit != n.negated;
      }
      default:
        return false;
    }
  }

  bool sequence(const std::vector<int>& seq, size_t i, size_t pos, Cont k) const {
    if (i == seq.size()) return k(pos);
    const auto next = [&](size_t p) { return sequence(seq, i + 1, p, k); };
    return repeat(re.nodes_[static_cast<size_t>(seq[i])], pos, next);
  }

  bool repeat(const Node& n, size_t pos, Cont k) const {
    if (n.kind == Node::Char || n.kind == Node::Class || n.kind == Node::Any) {
      size_t count = 0;  // how many single characters match, greedily
      while (pos + count < end && (n.max < 0 || count < static_cast<size_t>(n.max)) &&
             single(n, text[pos + count]))
        ++count;
      for (size_t c = count + 1; c-- > static_cast<size_t>(n.min);) {
        if (k(pos + c)) return true;
      }
      return false;
    }
    return repeat_group(n, 0, pos, k);
  }

  bool repeat_group(const Node& n, int done, size_t pos, Cont k) const {
    if (n.max < 0 || done < n.max) {
      const auto more = [&](size_t p) {
        if (p == pos && done >= n.min) return false;  // an empty iteration makes no progress
        return repeat_group(n, done + 1, p, k);
      };
      if (once(n, pos, more)) return true;
    }
    return done >= n.min && k(pos);
  }

  bool once(const Node& n, size_t pos, Cont k) const {
    switch (n.kind) {
      case Node::Group:
        for (const std::vector<int>& branch : n.branches) {
          if (sequence(branch, 0, pos, k)) return true;
        }
        return false;
      case Node::LookAhead: {
        bool found = false;
        const auto accept = [](size_t) { return true; };
        for (const std::vector<int>& branch : n.branches)
          found = found || sequence(branch, 0, pos, accept);
        return found != n.negated && k(pos);
      }
      case Node::Begin:
        return pos == begin && k(pos);
      case Node::End:
        return pos == end && k(pos);
      default:
        return pos < end && single(n, text[pos]) && k(pos + 1);
    }
  }
};

CodepointRegex::CodepointRegex(std::string_view pattern) {
  std::vector<uint32_t> p = unicode::decode_utf8(pattern);
  size_t i = 0;
  root_ = parse_alternatives(p, i, false, Node::Group);
  if (i != p.size()) fail("regex '{}': unbalanced ')' at {}", pattern, i);
}

int64_t CodepointRegex::match_at(const std::vector<uint32_t>& text, size_t begin, size_t end,
                                 size_t pos) const {
  Matcher m{*this, text, begin, end};
  int64_t length = -1;
  const auto record = [&](size_t p) {
    length = static_cast<int64_t>(p - pos);
    return true;
  };
  m.once(nodes_[static_cast<size_t>(root_)], pos, record);
  return length;
}

int CodepointRegex::parse_alternatives(std::vector<uint32_t>& p, size_t& i, bool icase,
                                       Node::Kind kind) {
  Node group;
  group.kind = kind;
  group.branches.emplace_back();
  while (i < p.size() && p[i] != ')') {
    if (p[i] == '|') {
      ++i;
      group.branches.emplace_back();
      continue;
    }
    const int atom = parse_atom(p, i, icase);
    Node& n = nodes_[static_cast<size_t>(atom)];
    if (i < p.size() && (p[i] == '*' || p[i] == '+' || p[i] == '?')) {
      n.min = p[i] == '+' ? 1 : 0;
      n.max = p[i] == '?' ? 1 : -1;
      ++i;
    } else if (i < p.size() && p[i] == '{') {
      size_t j = i + 1;
      auto number = [&] {
        int v = 0;
        while (j < p.size() && p[j] >= '0' && p[j] <= '9')
          v = v * 10 + static_cast<int>(p[j++] - '0');
        return v;
      };
      n.min = number();
      n.max = n.min;
      if (j < p.size() && p[j] == ',') {
        ++j;
        n.max = (j < p.size() && p[j] == '}') ? -1 : number();
      }
      if (j >= p.size() || p[j] != '}') fail("regex: malformed {{n,m}} repetition");
      i = j + 1;
    }
    if (i < p.size() && (p[i] == '?' || p[i] == '+'))
      fail("regex: lazy and possessive quantifiers are not supported");
    group.branches.back().push_back(atom);
  }
  nodes_.push_back(std::move(group));
  return static_cast<int>(nodes_.size() - 1);
}

CodepointRegex::ClassItem CodepointRegex::parse_escape(std::vector<uint32_t>& p, size_t& i,
                                                       bool in_class) {
  if (i >= p.size()) fail("regex: trailing backslash");
  const uint32_t c = p[i++];
  switch (c) {
    case 'p':
    case 'P': {
      if (i + 2 >= p.size() || p[i] != '{' || p[i + 2] != '}')
        fail("regex: only \\p{{X}} with a one-letter category is supported");
      const char category = static_cast<char>(p[i + 1]);
      if (category != 'L' && category != 'N' && category != 'P' && category != 'M')
        fail("regex: unsupported category \\p{{{}}}", category);
      i += 3;
      return {0, 0, category, c == 'P'};
    }
    case 's':
    case 'S':
      return {0, 0, 's', c == 'S'};
    case 'd':
    case 'D':
      return {0, 0, 'd', c == 'D'};
    case 'w':
    case 'W':
      return {0, 0, 'w', c == 'W'};
    case 'n':
      return {'\n', '\n'};
    case 'r':
      return {'\r', '\r'};
    case 't':
      return {'\t', '\t'};
    default:
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        fail("regex: unsupported escape \\{}", static_cast<char>(c));
      (void)in_class;
      return {c, c};
  }
}

int CodepointRegex::parse_atom(std::vector<uint32_t>& p, size_t& i, bool icase) {
  Node n;
  n.icase = icase;
  const uint32_t c = p[i++];
  if (c == '(') {
    Node::Kind kind = Node::Group;
    bool group_icase = icase, negated = false;
    if (i < p.size() && p[i] == '?') {
      const uint32_t t = i + 1 < p.size() ? p[i + 1] : 0;
      if (t == ':') {
        i += 2;
      } else if (t == 'i' && i + 2 < p.size() && p[i + 2] == ':') {
        group_icase = true;
        i += 3;
      } else if (t == '!' || t == '=') {
        kind = Node::LookAhead;
        negated = t == '!';
        i += 2;
      } else {
        fail("regex: unsupported group syntax (?{}", static_cast<char>(t));
      }
    }
    const int group = parse_alternatives(p, i, group_icase, kind);
    if (i >= p.size() || p[i] != ')') fail("regex: missing ')'");
    ++i;
    nodes_[static_cast<size_t>(group)].negated = negated;
    return group;
  }
  if (c == '[') {
    n.kind = Node::Class;
    if (i < p.size() && p[i] == '^') {
      n.negated = true;
      ++i;
    }
    bool first = true;
    while (i < p.size() && (p[i] != ']' || first)) {
      first = false;
      ClassItem item = p[i] == '\\' ? (++i, parse_escape(p, i, true)) : ClassItem{p[i], p[i++]};
      if (!item.category && i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
        ++i;
        const ClassItem last =
            p[i] == '\\' ? (++i, parse_escape(p, i, true)) : ClassItem{p[i], p[i++]};
        item.last = last.first;
      }
      n.items.push_back(item);
    }
    if (i >= p.size()) fail("regex: missing ']'");
    ++i;
  } else if (c == '\\') {
    const ClassItem item = parse_escape(p, i, false);
    if (item.category) {
      n.kind = Node::Class;
      n.items.push_back(item);
    } else {
      n.ch = icase ? unicode::to_lower(item.first) : item.first;
    }
  } else if (c == '.') {
    n.kind = Node::Any;
  } else if (c == '^') {
    n.kind = Node::Begin;
  } else if (c == '$') {
    n.kind = Node::End;
  } else if (c == '*' || c == '+' || c == '?' || c == ')') {
    fail("regex: '{}' has nothing to repeat", static_cast<char>(c));
  } else {
    n.ch = icase ? unicode::to_lower(c) : c;
  }
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size() - 1);
}

}  // namespace concord
