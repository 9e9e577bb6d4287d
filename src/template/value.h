// Values of the Jinja template engine: JSON data (what chat templates receive: messages,
// tools, strings, numbers) plus "undefined", with Python's rules for truth, printing and
// serialisation - templates are written against Python Jinja2, and their output must be
// byte-identical to it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace concord::jinja {

using Json = nlohmann::ordered_json;  // dicts keep insertion order, as Python's do

struct Value {
  Json data;
  bool undefined = false;
  bool is_namespace = false;  // namespace(...) objects: attributes can be assigned
  std::string callable;       // a macro or built-in function of this name

  Value() : undefined(true) {}
  Value(Json j) : data(std::move(j)) {}  // NOLINT: implicit by design
  static Value undef() { return Value(); }

  bool is_none() const { return !undefined && data.is_null(); }
  bool is_string() const { return !undefined && data.is_string(); }
  const std::string& str() const { return data.get_ref<const std::string&>(); }
};

// Python truthiness: undefined, None, False, 0, "", [] and {} are false.
bool truthy(const Value& v);
// str(v) as Python prints it: True/False/None, 1.0 for floats, repr for lists and dicts.
std::string to_text(const Value& v);
// Python's repr of JSON data (strings quoted with '...').
std::string python_repr(const Json& j);
// json.dumps(v, ensure_ascii=False, indent=indent, separators=None): ", " and ": "
// separators, or newlines and `indent` spaces when indent >= 0.
std::string to_json(const Json& j, int indent = -1);
// Python equality (1 == 1.0, lists and dicts element-wise).
bool equal(const Value& a, const Value& b);

}  // namespace concord::jinja
