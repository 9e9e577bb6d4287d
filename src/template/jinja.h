// A Jinja2 template engine for chat templates (tokenizer.chat_template): the subset the
// templates of the common model families use, rendered byte-identically to Python
// Jinja2 as Hugging Face runs it (trim_blocks and lstrip_blocks on; tojson as json.dumps
// with ensure_ascii off; raise_exception and strftime_now as globals).
//
// Statements: if/elif/else, for (tuple unpacking, loop.*, else, inline if filter), set
// (names, namespace attributes, blocks), macro. Expressions: literals, lists, dicts,
// attribute and index access, slices, calls, filters, tests, arithmetic, comparisons,
// in, and/or/not, the ternary. Filters: trim, length, count, tojson, items, string, list,
// join, first, last, upper, lower, capitalize, title, default, replace, selectattr,
// rejectattr, select, reject, map(attribute), unique, int, float, abs, safe. Tests: defined,
// undefined, none, string, number, integer, float, boolean, mapping, iterable, sequence,
// true, false, equalto/eq, ne, in, odd, even, divisibleby, lower, upper. Anything else is
// an error naming the construct and line.
#pragma once

#include <string>

#include "template/ast.h"
#include "template/value.h"

namespace concord::jinja {

class Template {
 public:
  // Throws concord::Error naming the line and construct it cannot parse.
  explicit Template(const std::string& source) : body_(parse_template(source)) {}
  // `context`: the variables (an object). Throws concord::Error for what it cannot
  // evaluate and, with the template's message, for raise_exception().
  std::string render(const Json& context) const;

 private:
  Body body_;
};

}  // namespace concord::jinja
