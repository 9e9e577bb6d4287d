// Jinja filters and tests with Python Jinja2's behaviour.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "template/jinja_builtins.h"
#include "util/error.h"

namespace concord::jinja {
namespace {

[[noreturn]] void error(int line, const std::string& what) {
  fail("template line {}: {}", line, what);
}

Json as_list(const Value& v, int line) {
  if (v.undefined) return Json::array();
  if (v.data.is_array()) return v.data;
  Json out = Json::array();
  if (v.data.is_object()) {
    for (auto it = v.data.begin(); it != v.data.end(); ++it) out.push_back(it.key());
  } else if (v.data.is_string()) {
    for (const std::string& c : utf8_chars(v.data.get<std::string>())) out.push_back(c);
  } else {
    error(line, "expected a list, got " + python_repr(v.data));
  }
  return out;
}

std::string change_case(std::string s, bool upper) {
  for (char& c : s)
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// selectattr/rejectattr/select/reject: keep items whose (attribute's) test passes (or fails).
Value select(const Value& v, const Arguments& a, bool by_attribute, bool keep, int line,
             const TestFn& test) {
  Arguments rest;
  size_t next = 0;
  std::string attr;
  if (by_attribute) {
    if (a.positional.empty() || !a.positional[0].is_string())
      error(line, "selectattr/rejectattr need an attribute name");
    attr = a.positional[0].str();
    next = 1;
  }
  std::string test_name = "truthy";
  if (next < a.positional.size()) {
    if (!a.positional[next].is_string()) error(line, "the test name must be a string");
    test_name = a.positional[next].str();
    rest.positional.assign(a.positional.begin() + static_cast<long>(next) + 1, a.positional.end());
  }
  Json out = Json::array();
  for (const Json& item : as_list(v, line)) {
    const Value subject = by_attribute ? attribute(Value(item), attr) : Value(item);
    const bool pass = test_name == "truthy" ? truthy(subject) : test(test_name, subject, rest);
    if (pass == keep) out.push_back(item);
  }
  return Value(out);
}

}  // namespace

Value apply_filter(const std::string& name, const Value& v, const Arguments& a, int line,
                   const TestFn& test) {
  if (name == "trim") {
    const Value* chars = a.get("chars", 0);
    Arguments strip_args;
    if (chars) strip_args.positional.push_back(*chars);
    return call_method(Value(Json(to_text(v))), "strip", strip_args, line);
  }
  if (name == "length" || name == "count") {
    if (v.undefined) return Value(Json(0));
    if (v.data.is_string())
      return Value(Json(static_cast<int64_t>(utf8_chars(v.data.get<std::string>()).size())));
    if (v.data.is_array() || v.data.is_object())
      return Value(Json(static_cast<int64_t>(v.data.size())));
    error(line, "length of " + python_repr(v.data));
  }
  if (name == "tojson") {
    const Value* indent = a.get("indent", 0);
    const int n = indent && !indent->undefined && indent->data.is_number_integer()
                      ? indent->data.get<int>()
                      : -1;
    return Value(Json(to_json(v.undefined ? Json() : v.data, n)));
  }
  if (name == "items") {
    if (v.undefined) return Value(Json::array());
    if (!v.data.is_object()) error(line, "items needs a dict");
    Json out = Json::array();
    for (auto it = v.data.begin(); it != v.data.end(); ++it)
      out.push_back(Json::array({it.key(), it.value()}));
    return Value(out);
  }
  if (name == "string") return Value(Json(to_text(v)));
  if (name == "list") return Value(as_list(v, line));
  if (name == "join") {
    const Value* sep = a.get("d", 0);
    const Value* attr = a.get("attribute", 1);
    std::string out;
    bool first = true;
    for (const Json& item : as_list(v, line)) {
      out += (first ? "" : (sep ? to_text(*sep) : "")) +
             to_text(attr ? attribute(Value(item), to_text(*attr)) : Value(item));
      first = false;
    }
    return Value(Json(out));
  }
  if (name == "first" || name == "last") {
    const Json list = as_list(v, line);
    if (list.empty()) return Value::undef();
    return Value(name == "first" ? list.front() : list.back());
  }
  if (name == "upper" || name == "lower")
    return Value(Json(change_case(to_text(v), name == "upper")));
  if (name == "capitalize") {
    std::string s = change_case(to_text(v), false);
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return Value(Json(s));
  }
  if (name == "title") {
    std::string s = to_text(v);
    bool start = true;
    for (char& c : s) {
      const auto u = static_cast<unsigned char>(c);
      c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
      start = !std::isalnum(u);
    }
    return Value(Json(s));
  }
  if (name == "default" || name == "d") {
    const Value* fallback = a.get("default_value", 0);
    const Value* boolean = a.get("boolean", 1);
    const bool use = v.undefined || (boolean && truthy(*boolean) && !truthy(v));
    return use ? (fallback ? *fallback : Value(Json(""))) : v;
  }
  if (name == "replace") {
    Arguments args;
    args.positional = a.positional;
    return call_method(Value(Json(to_text(v))), "replace", args, line);
  }
  if (name == "selectattr") return select(v, a, true, true, line, test);
  if (name == "rejectattr") return select(v, a, true, false, line, test);
  if (name == "select") return select(v, a, false, true, line, test);
  if (name == "reject") return select(v, a, false, false, line, test);
  if (name == "map") {
    const Value* attr = a.get("attribute", 99);
    Json out = Json::array();
    for (const Json& item : as_list(v, line)) {
      if (attr) {
        const Value x = attribute(Value(item), to_text(*attr));
        out.push_back(x.undefined ? Json() : x.data);
      } else if (!a.positional.empty()) {
        Arguments rest;
        rest.positional.assign(a.positional.begin() + 1, a.positional.end());
        out.push_back(apply_filter(to_text(a.positional[0]), Value(item), rest, line, test).data);
      } else {
        out.push_back(item);
      }
    }
    return Value(out);
  }
  if (name == "unique") {
    Json out = Json::array();
    for (const Json& item : as_list(v, line)) {
      if (std::none_of(out.begin(), out.end(),
                       [&](const Json& x) { return equal(Value(x), Value(item)); }))
        out.push_back(item);
    }
    return Value(out);
  }
  if (name == "int") {
    if (!v.undefined && v.data.is_number())
      return Value(Json(static_cast<int64_t>(v.data.get<double>())));
    try {
      return Value(Json(std::stoll(to_text(v))));
    } catch (...) {
      return Value(Json(0));
    }
  }
  if (name == "float") {
    if (!v.undefined && v.data.is_number()) return Value(Json(v.data.get<double>()));
    try {
      return Value(Json(std::stod(to_text(v))));
    } catch (...) {
      return Value(Json(0.0));
    }
  }
  if (name == "abs")
    return arithmetic(v.data.is_number() && v.data.get<double>() < 0 ? "neg" : "pos", v, Value(),
                      line);
  if (name == "safe") return v;
  error(line, "unsupported filter '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, const Arguments& a, int line) {
  const Json& j = v.data;
  const bool defined = !v.undefined;
  auto arg = [&]() -> const Value& {
    if (a.positional.empty()) error(line, "test '" + name + "' needs an argument");
    return a.positional[0];
  };
  if (name == "defined") return defined;
  if (name == "undefined") return !defined;
  if (name == "none") return defined && j.is_null();
  if (name == "string") return defined && j.is_string();
  if (name == "number") return defined && j.is_number();
  if (name == "integer") return defined && j.is_number_integer();
  if (name == "float") return defined && j.is_number_float();
  if (name == "boolean") return defined && j.is_boolean();
  if (name == "mapping") return defined && j.is_object();
  if (name == "iterable") return defined && (j.is_array() || j.is_object() || j.is_string());
  if (name == "sequence") return defined && (j.is_array() || j.is_string() || j.is_object());
  if (name == "true") return defined && j.is_boolean() && j.get<bool>();
  if (name == "false") return defined && j.is_boolean() && !j.get<bool>();
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return equal(v, arg());
  if (name == "ne" || name == "!=") return !equal(v, arg());
  if (name == "in") return contains(arg(), v, line);
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    const std::string& s = v.str();
    return std::none_of(s.begin(), s.end(), [&](char c) {
      return name == "lower" ? std::isupper(static_cast<unsigned char>(c))
                             : std::islower(static_cast<unsigned char>(c));
    });
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!defined || !j.is_number_integer()) return false;
    const int64_t n = j.get<int64_t>();
    if (name == "odd") return n % 2 != 0;
    if (name == "even") return n % 2 == 0;
    const Value& d = arg();
    return d.data.is_number_integer() && d.data.get<int64_t>() != 0 &&
           n % d.data.get<int64_t>() == 0;
  }
  error(line, "unsupported test '" + name + "'");
}

}  // namespace concord::jinja
