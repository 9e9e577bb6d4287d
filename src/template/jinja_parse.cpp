// Jinja parsing: the template is cut into text, {{ expression }}, {% statement %} and
// {# comment #} segments with Jinja2's whitespace rules as chat templates use them
// (trim_blocks, lstrip_blocks, and the "-" markers), then each expression is parsed by
// recursive descent with Jinja2's precedence:
//   ternary < or < and < not < comparisons, in, is < + - < ~ < * / // % < unary - < ** <
//   primary with postfix .attr [index] (call) and | filter / is test.
#include <algorithm>
#include <cctype>

#include "template/ast.h"
#include "util/error.h"

namespace concord::jinja {
namespace {

struct Segment {
  enum Kind { Text, Expression, Statement } kind;
  std::string source;
  int line;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Finds the end of a tag opened at `from`, skipping quoted strings; npos if unclosed.
size_t find_close(const std::string& s, size_t from, const char* close) {
  char quote = 0;
  for (size_t i = from; i + 1 < s.size(); ++i) {
    if (quote) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == quote) {
        quote = 0;
      }
    } else if (s[i] == '\'' || s[i] == '"') {
      quote = s[i];
    } else if (s[i] == close[0] && s[i + 1] == close[1]) {
      return i;
    }
  }
  return std::string::npos;
}

std::vector<Segment> split(const std::string& src) {
  std::vector<Segment> out;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false, trim_newline_next = false;
  auto count_lines = [&line](const std::string& s) {
    for (char c : s) line += c == '\n';
  };
  while (pos <= src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' &&
           src[open + 1] != '%' && src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open + 1 >= src.size()) open = std::string::npos;
    std::string text = src.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    const int text_line = line;
    count_lines(text);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && is_space(text[k])) ++k;
      text.erase(0, k);
    } else if (trim_newline_next && !text.empty() && text[0] == '\n') {
      text.erase(0, 1);
    } else if (trim_newline_next && text.rfind("\r\n", 0) == 0) {
      text.erase(0, 2);
    }
    strip_next = trim_newline_next = false;
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Segment::Text, text, text_line});
      break;
    }
    const char type = src[open + 1];
    const bool left_strip = open + 2 < src.size() && src[open + 2] == '-';
    const bool left_keep = open + 2 < src.size() && src[open + 2] == '+';
    if (left_strip) {
      while (!text.empty() && is_space(text.back())) text.pop_back();
    } else if (type != '{' && !left_keep) {
      // lstrip_blocks: spaces and tabs between the start of a line and a block tag go.
      size_t k = open;
      while (k > pos && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      if (k == 0 || src[k - 1] == '\n') text.resize(text.size() - std::min(text.size(), open - k));
    }
    if (!text.empty()) out.push_back({Segment::Text, text, text_line});
    const char* close = type == '{' ? "}}" : type == '%' ? "%}" : "#}";
    const size_t body_start = open + 2 + (left_strip || left_keep ? 1 : 0);
    const size_t end =
        type == '#' ? src.find(close, body_start) : find_close(src, body_start, close);
    if (end == std::string::npos) fail("template line {}: '{{{}' is never closed", line, type);
    const bool right_strip = end > body_start && src[end - 1] == '-';
    std::string inner = src.substr(body_start, end - body_start - (right_strip ? 1 : 0));
    if (type == '{') out.push_back({Segment::Expression, inner, line});
    if (type == '%') out.push_back({Segment::Statement, inner, line});
    count_lines(src.substr(open, end + 2 - open));
    strip_next = right_strip;
    trim_newline_next = !right_strip && type != '{';  // trim_blocks
    pos = end + 2;
  }
  return out;
}

// --- expression tokens ----------------------------------------------------------------------

struct Token {
  enum Kind { Name, Number, String, Op, End } kind;
  std::string text;
  Json number;
};

std::vector<Token> lex(const std::string& s, int line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_space(c)) {
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Name, s.substr(i, j - i), {}});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      bool is_float = false;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      const std::string text = s.substr(i, j - i);
      out.push_back(
          {Token::Number, text, is_float ? Json(std::stod(text)) : Json(std::stoll(text))});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string value;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[++j];
          value += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        } else {
          value += s[j];
        }
      }
      if (j >= s.size()) fail("template line {}: unterminated string", line);
      out.push_back({Token::String, value, {}});
      i = j + 1;
    } else {
      static const char* two[] = {"==", "!=", "<=", ">=", "//", "**"};
      std::string op(1, c);
      for (const char* t : two) {
        if (s.compare(i, 2, t) == 0) op = t;
      }
      if (std::string("+-*/%<>()[]{}.,:|~=!").find(c) == std::string::npos)
        fail("template line {}: unexpected character '{}'", line, c);
      out.push_back({Token::Op, op, {}});
      i += op.size();
    }
  }
  out.push_back({Token::End, "", {}});
  return out;
}

class ExprParser {
 public:
  ExprParser(const std::string& source, int line) : tokens_(lex(source, line)), line_(line) {}

  ExprPtr expression() { return ternary(); }
  ExprPtr iterable() { return or_expr(); }  // `for x in y if c`: the if is a loop filter
  bool at_end() const { return peek().kind == Token::End; }
  bool accept_name(const char* name) {
    if (peek().kind == Token::Name && peek().text == name) return ++pos_, true;
    return false;
  }
  bool accept_op(const char* op) {
    if (peek().kind == Token::Op && peek().text == op) return ++pos_, true;
    return false;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(fmt::format("expected '{}'", op));
  }
  std::string name() {
    if (peek().kind != Token::Name) error("expected a name");
    return tokens_[pos_++].text;
  }
  void expect_end() {
    if (!at_end()) error("unexpected '" + peek().text + "'");
  }
  [[noreturn]] void error(const std::string& what) const {
    fail("template line {}: {} (at '{}')", line_, what, peek().text);
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  ExprPtr make(Expr::Kind kind, std::string name = "") {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->name = std::move(name);
    e->line = line_;
    return e;
  }
  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Binary, std::move(op));
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr ternary() {
    ExprPtr value = or_expr();
    if (accept_name("if")) {
      auto e = make(Expr::Ternary);
      ExprPtr condition = or_expr();
      ExprPtr otherwise = accept_name("else") ? ternary() : nullptr;
      e->args.push_back(std::move(value));
      e->args.push_back(std::move(condition));
      e->args.push_back(std::move(otherwise));
      return e;
    }
    return value;
  }
  ExprPtr or_expr() {
    ExprPtr e = and_expr();
    while (accept_name("or")) e = binary("or", std::move(e), and_expr());
    return e;
  }
  ExprPtr and_expr() {
    ExprPtr e = not_expr();
    while (accept_name("and")) e = binary("and", std::move(e), not_expr());
    return e;
  }
  ExprPtr not_expr() {
    if (accept_name("not")) {
      auto e = make(Expr::Unary, "not");
      e->args.push_back(not_expr());
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr e = additive();
    for (;;) {
      if (peek().kind == Token::Op &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
           peek().text == "<=" || peek().text == ">=")) {
        const std::string op = tokens_[pos_++].text;
        e = binary(op, std::move(e), additive());
      } else if (accept_name("in")) {
        e = binary("in", std::move(e), additive());
      } else if (peek().kind == Token::Name && peek().text == "not" &&
                 peek(1).kind == Token::Name && peek(1).text == "in") {
        pos_ += 2;
        e = binary("not in", std::move(e), additive());
      } else {
        return e;
      }
    }
  }
  ExprPtr additive() {
    ExprPtr e = concat();
    while (peek().kind == Token::Op && (peek().text == "+" || peek().text == "-")) {
      const std::string op = tokens_[pos_++].text;
      e = binary(op, std::move(e), concat());
    }
    return e;
  }
  ExprPtr concat() {
    ExprPtr e = multiplicative();
    while (accept_op("~")) e = binary("~", std::move(e), multiplicative());
    return e;
  }
  ExprPtr multiplicative() {
    ExprPtr e = unary();
    while (peek().kind == Token::Op && (peek().text == "*" || peek().text == "/" ||
                                        peek().text == "//" || peek().text == "%")) {
      const std::string op = tokens_[pos_++].text;
      e = binary(op, std::move(e), unary());
    }
    return e;
  }
  ExprPtr unary() {
    if (peek().kind == Token::Op && (peek().text == "-" || peek().text == "+")) {
      auto e = make(Expr::Unary, tokens_[pos_++].text);
      e->args.push_back(unary());
      return e;
    }
    ExprPtr e = postfix(primary());
    if (accept_op("**")) e = binary("**", std::move(e), unary());
    return e;
  }

  void call_arguments(Expr& e) {  // after "("
    while (!accept_op(")")) {
      if (peek().kind == Token::Name && peek(1).kind == Token::Op && peek(1).text == "=") {
        std::string key = tokens_[pos_].text;
        pos_ += 2;
        e.kwargs.emplace_back(std::move(key), expression());
      } else {
        e.args.push_back(expression());
      }
      if (!accept_op(",")) {
        expect_op(")");
        break;
      }
    }
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (accept_op(".")) {
        auto a = make(Expr::Attr, name());
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (accept_op("[")) {
        e = subscript(std::move(e));
      } else if (accept_op("(")) {
        auto c = make(Expr::Call);
        c->args.push_back(std::move(e));
        call_arguments(*c);
        e = std::move(c);
      } else if (accept_op("|")) {
        auto f = make(Expr::Filter, name());
        f->args.push_back(std::move(e));
        if (accept_op("(")) call_arguments(*f);
        e = std::move(f);
      } else if (accept_name("is")) {
        auto t = make(Expr::Test);
        t->negated = accept_name("not");
        t->name = name();
        t->args.push_back(std::move(e));
        if (accept_op("(")) {
          call_arguments(*t);
        } else if (peek().kind == Token::String || peek().kind == Token::Number ||
                   (peek().kind == Token::Name && peek().text != "and" && peek().text != "or" &&
                    peek().text != "else" && peek().text != "if")) {
          t->args.push_back(primary());  // "is equalto 'x'" without parentheses
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  ExprPtr subscript(ExprPtr target) {  // after "["
    ExprPtr parts[3];
    int colons = 0;
    while (!accept_op("]")) {
      if (accept_op(":")) {
        if (++colons > 2) error("too many ':' in a slice");
      } else {
        parts[colons] = expression();
      }
    }
    if (colons == 0) {
      if (!parts[0]) error("empty subscript");
      auto e = make(Expr::Index);
      e->args.push_back(std::move(target));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(Expr::Slice);
    e->args.push_back(std::move(target));
    for (ExprPtr& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  ExprPtr primary() {
    const Token t = peek();
    if (t.kind == Token::String) {
      ++pos_;
      auto e = make(Expr::Literal);
      e->value = t.text;
      while (peek().kind == Token::String)
        e->value = e->value.get<std::string>() + tokens_[pos_++].text;
      return e;
    }
    if (t.kind == Token::Number) {
      ++pos_;
      auto e = make(Expr::Literal);
      e->value = t.number;
      return e;
    }
    if (t.kind == Token::Name) {
      ++pos_;
      auto e = make(Expr::Literal);
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        e->value = t.text == "true" || t.text == "True";
        return e;
      }
      if (t.text == "none" || t.text == "None") {
        e->value = nullptr;
        return e;
      }
      e->kind = Expr::Name;
      e->name = t.text;
      return e;
    }
    if (accept_op("(")) {
      ExprPtr first = expression();
      if (accept_op(",")) {  // a tuple: a list for our purposes
        auto list = make(Expr::List);
        list->args.push_back(std::move(first));
        while (!accept_op(")")) {
          list->args.push_back(expression());
          if (!accept_op(",")) {
            expect_op(")");
            break;
          }
        }
        return list;
      }
      expect_op(")");
      return first;
    }
    if (accept_op("[")) {
      auto list = make(Expr::List);
      while (!accept_op("]")) {
        list->args.push_back(expression());
        if (!accept_op(",")) {
          expect_op("]");
          break;
        }
      }
      return list;
    }
    if (accept_op("{")) {
      auto dict = make(Expr::Dict);
      while (!accept_op("}")) {
        dict->args.push_back(expression());
        expect_op(":");
        dict->args.push_back(expression());
        if (!accept_op(",")) {
          expect_op("}");
          break;
        }
      }
      return dict;
    }
    error("expected a value");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_;
};

// --- statements ---------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::vector<Segment> segments) : segments_(std::move(segments)) {}

  Body parse_all() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  static std::string keyword(const std::string& source) {
    size_t i = 0;
    while (i < source.size() && is_space(source[i])) ++i;
    size_t j = i;
    while (j < source.size() &&
           (std::isalpha(static_cast<unsigned char>(source[j])) || source[j] == '_'))
      ++j;
    return source.substr(i, j - i);
  }

  // Parses until one of `ends` (a statement keyword); returns it in `found`.
  Body parse_body(const std::vector<std::string>& ends, std::string& found) {
    Body body;
    while (pos_ < segments_.size()) {
      const Segment& s = segments_[pos_];
      if (s.kind == Segment::Text) {
        body.push_back(node(Node::Text, s.line));
        body.back()->text = s.source;
        ++pos_;
        continue;
      }
      if (s.kind == Segment::Expression) {
        ExprParser p(s.source, s.line);
        auto n = node(Node::Output, s.line);
        n->expr = p.expression();
        p.expect_end();
        body.push_back(std::move(n));
        ++pos_;
        continue;
      }
      const std::string kw = keyword(s.source);
      for (const std::string& e : ends) {
        if (kw == e) {
          found = kw;
          return body;
        }
      }
      ++pos_;
      body.push_back(statement(kw, s));
    }
    if (!ends.empty())
      fail("template: the template ends inside a block; expected {{% {} %}}", ends.back());
    return body;
  }

  NodePtr node(Node::Kind kind, int line) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = line;
    return n;
  }

  NodePtr statement(const std::string& kw, const Segment& s) {
    ExprParser p(s.source, s.line);
    p.name();  // the keyword
    if (kw == "if") {
      auto n = node(Node::If, s.line);
      ExprPtr condition = p.expression();
      p.expect_end();
      for (;;) {
        std::string found;
        Body body = parse_body({"elif", "else", "endif"}, found);
        n->branches.emplace_back(std::move(condition), std::move(body));
        const Segment& end = segments_[pos_++];
        if (found == "elif") {
          ExprParser q(end.source, end.line);
          q.name();
          condition = q.expression();
          q.expect_end();
          continue;
        }
        if (found == "else") {
          n->otherwise = parse_body({"endif"}, found);
          ++pos_;
        }
        return n;
      }
    }
    if (kw == "for") {
      auto n = node(Node::For, s.line);
      n->vars.push_back(p.name());
      while (p.accept_op(",")) n->vars.push_back(p.name());
      if (!p.accept_name("in")) p.error("expected 'in'");
      n->expr = p.iterable();
      if (p.accept_name("if")) n->condition = p.expression();
      if (p.accept_name("recursive")) p.error("recursive loops are not supported");
      p.expect_end();
      std::string found;
      n->body = parse_body({"else", "endfor"}, found);
      ++pos_;
      if (found == "else") {
        n->otherwise = parse_body({"endfor"}, found);
        ++pos_;
      }
      return n;
    }
    if (kw == "set") {
      std::vector<std::string> target = {p.name()};
      if (p.accept_op(".")) target.push_back(p.name());
      if (p.accept_op("=")) {
        auto n = node(Node::Set, s.line);
        n->vars = std::move(target);
        n->expr = p.expression();
        p.expect_end();
        return n;
      }
      p.expect_end();
      auto n = node(Node::SetBlock, s.line);
      n->vars = std::move(target);
      std::string found;
      n->body = parse_body({"endset"}, found);
      ++pos_;
      return n;
    }
    if (kw == "macro") {
      auto n = node(Node::Macro, s.line);
      n->name = p.name();
      p.expect_op("(");
      while (!p.accept_op(")")) {
        std::string param = p.name();
        ExprPtr fallback = p.accept_op("=") ? p.expression() : nullptr;
        n->params.emplace_back(std::move(param), std::move(fallback));
        if (!p.accept_op(",")) {
          p.expect_op(")");
          break;
        }
      }
      p.expect_end();
      std::string found;
      n->body = parse_body({"endmacro"}, found);
      ++pos_;
      return n;
    }
    fail("template line {}: unsupported statement '{{% {} %}}' (supported: if, for, set, macro)",
         s.line, kw.empty() ? s.source : kw);
  }

  std::vector<Segment> segments_;
  size_t pos_ = 0;
};

}  // namespace

Body parse_template(const std::string& source) {
  return Parser(split(source)).parse_all();
}

}  // namespace concord::jinja
