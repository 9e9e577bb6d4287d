// The parsed form of a Jinja template (internal to template/): expressions and
// statements as the parser (jinja_parse.cpp) builds them and the renderer walks them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace concord::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    Literal,  // value
    Name,     // name
    Attr,     // a.name
    Index,    // a[b]
    Slice,    // a[b:c:d] (absent parts null)
    Call,     // a(args, kwargs)
    Filter,   // a | name(args, kwargs)
    Test,     // a is [not] name(args)
    Unary,    // op a ("not", "-", "+")
    Binary,   // a op b
    Ternary,  // a if b else c  -> args {a, b, c}
    List,     // [args]
    Dict,     // {kwargs-like pairs of args: key, value, key, value, ...}
  } kind;
  int line = 0;
  Json value;        // Literal
  std::string name;  // Name, Attr, Filter, Test, Unary/Binary operator
  bool negated = false;
  std::vector<ExprPtr> args;  // operands, call/filter arguments, list items, dict items
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum Kind { Text, Output, If, For, Set, SetBlock, Macro } kind;
  int line = 0;
  std::string text;  // Text
  ExprPtr expr;      // Output, Set value, For iterable
  // If: one (condition, body) per if/elif, then `otherwise` for else.
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, otherwise;           // For body / else; SetBlock and Macro body
  std::vector<std::string> vars;  // For loop variables; Set target (name or ns, attr)
  ExprPtr condition;              // For ... if condition
  std::string name;               // Macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters and defaults
};

// Parses a template; throws concord::Error naming the line and the construct.
Body parse_template(const std::string& source);

}  // namespace concord::jinja
