#include "template/jinja_builtins.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "util/error.h"

namespace concord::jinja {
namespace {

[[noreturn]] void error(int line, const std::string& what) {
  fail("template line {}: {}", line, what);
}

constexpr const char* kWhitespace = " \t\n\r\x0b\x0c";

std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && chars.find(s[b]) != std::string::npos) ++b;
  }
  if (right) {
    while (e > b && chars.find(s[e - 1]) != std::string::npos) --e;
  }
  return s.substr(b, e - b);
}

const std::string& text_of(const Value& v, const char* what, int line) {
  if (!v.is_string())
    error(line, fmt::format("{} needs a string, got {}", what,
                            v.undefined ? "undefined" : python_repr(v.data)));
  return v.str();
}

int64_t int_of(const Value& v, int line) {
  if (v.undefined || !v.data.is_number()) error(line, "expected a number");
  return v.data.is_number_integer() ? v.data.get<int64_t>()
                                    : static_cast<int64_t>(v.data.get<double>());
}

Json items_of(const Json& dict) {
  Json out = Json::array();
  for (auto it = dict.begin(); it != dict.end(); ++it)
    out.push_back(Json::array({it.key(), it.value()}));
  return out;
}

std::vector<std::string> split(const std::string& s, const Value* sep) {
  std::vector<std::string> out;
  if (sep == nullptr || sep->is_none() || sep->undefined) {  // runs of whitespace
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && std::string(kWhitespace).find(s[i]) != std::string::npos) ++i;
      size_t j = i;
      while (j < s.size() && std::string(kWhitespace).find(s[j]) == std::string::npos) ++j;
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& d = sep->str();
  if (d.empty()) fail("split: empty separator");
  size_t start = 0;
  for (size_t p; (p = s.find(d, start)) != std::string::npos; start = p + d.size())
    out.push_back(s.substr(start, p - start));
  out.push_back(s.substr(start));
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
  return s;
}

}  // namespace

const Value* Arguments::get(const std::string& name, size_t index) const {
  for (const auto& [key, value] : named) {
    if (key == name) return &value;
  }
  return index < positional.size() ? &positional[index] : nullptr;
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

Value attribute(const Value& target, const std::string& name) {
  if (target.undefined || !target.data.is_object()) return Value::undef();
  auto it = target.data.find(name);
  return it == target.data.end() ? Value::undef() : Value(*it);
}

Value subscript(const Value& target, const Value& key, int line) {
  if (target.undefined) return Value::undef();
  const Json& t = target.data;
  if (t.is_object()) {
    if (!key.is_string()) return Value::undef();
    auto it = t.find(key.str());
    return it == t.end() ? Value::undef() : Value(*it);
  }
  if (t.is_array() || t.is_string()) {
    if (key.undefined || !key.data.is_number_integer())
      error(line, "list and string indices must be integers");
    const std::vector<std::string> chars =
        t.is_string() ? utf8_chars(t.get<std::string>()) : std::vector<std::string>{};
    const auto size = static_cast<int64_t>(t.is_string() ? chars.size() : t.size());
    int64_t i = key.data.get<int64_t>();
    if (i < 0) i += size;
    if (i < 0 || i >= size) return Value::undef();
    return t.is_string() ? Value(Json(chars[static_cast<size_t>(i)]))
                         : Value(t[static_cast<size_t>(i)]);
  }
  return Value::undef();
}

Value slice(const Value& target, const Value& start, const Value& stop, const Value& step,
            int line) {
  const bool is_text = target.is_string();
  if (target.undefined || (!target.data.is_array() && !is_text))
    error(line, "only lists and strings can be sliced");
  std::vector<Json> items;
  if (is_text) {
    for (const std::string& c : utf8_chars(target.str())) items.push_back(c);
  } else {
    items.assign(target.data.begin(), target.data.end());
  }
  const auto n = static_cast<int64_t>(items.size());
  const int64_t by = step.undefined || step.is_none() ? 1 : int_of(step, line);
  if (by == 0) error(line, "slice step cannot be zero");
  auto bound = [&](const Value& v, int64_t fallback) {
    if (v.undefined || v.is_none()) return fallback;
    int64_t i = int_of(v, line);
    if (i < 0) i += n;
    return by > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t from = bound(start, by > 0 ? 0 : n - 1), to = bound(stop, by > 0 ? n : -1);
  Json out = Json::array();
  std::string text;
  for (int64_t i = from; by > 0 ? i < to : i > to; i += by) {
    if (is_text) {
      text += items[static_cast<size_t>(i)].get<std::string>();
    } else {
      out.push_back(items[static_cast<size_t>(i)]);
    }
  }
  return is_text ? Value(Json(text)) : Value(out);
}

bool contains(const Value& container, const Value& item, int line) {
  if (container.undefined) return false;  // Jinja2's Undefined iterates as empty
  const Json& c = container.data;
  if (c.is_string())
    return c.get<std::string>().find(text_of(item, "'in' on a string", line)) != std::string::npos;
  if (c.is_array()) {
    return std::any_of(c.begin(), c.end(), [&](const Json& x) { return equal(Value(x), item); });
  }
  if (c.is_object()) return item.is_string() && c.contains(item.str());
  error(line, "'in' needs a string, list or dict on its right");
}

bool compare(const std::string& op, const Value& a, const Value& b, int line) {
  int order = 0;
  if (!a.undefined && !b.undefined && a.data.is_number() && b.data.is_number()) {
    const double x = a.data.get<double>(), y = b.data.get<double>();
    order = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.is_string() && b.is_string()) {
    order = a.str().compare(b.str());
    order = order < 0 ? -1 : order > 0 ? 1 : 0;
  } else {
    error(line, "cannot compare " + to_text(a) + " and " + to_text(b) + " with " + op);
  }
  if (op == "<") return order < 0;
  if (op == ">") return order > 0;
  if (op == "<=") return order <= 0;
  return order >= 0;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b, int line) {
  if (op == "neg" || op == "pos") {
    if (a.undefined || !a.data.is_number())
      error(line, "unary " + std::string(op == "neg" ? "-" : "+") + " needs a number");
    if (op == "pos") return a;
    return a.data.is_number_integer() ? Value(Json(-a.data.get<int64_t>()))
                                      : Value(Json(-a.data.get<double>()));
  }
  if (op == "+" && !a.undefined && !b.undefined) {
    if (a.data.is_string() && b.data.is_string()) return Value(Json(a.str() + b.str()));
    if (a.data.is_array() && b.data.is_array()) {
      Json out = a.data;
      out.insert(out.end(), b.data.begin(), b.data.end());
      return Value(out);
    }
  }
  if (op == "*" && !a.undefined && !b.undefined && a.data.is_string() &&
      b.data.is_number_integer()) {
    std::string out;
    for (int64_t i = 0; i < b.data.get<int64_t>(); ++i) out += a.str();
    return Value(Json(out));
  }
  if (a.undefined || b.undefined || !a.data.is_number() || !b.data.is_number() ||
      a.data.is_boolean() || b.data.is_boolean()) {
    error(line, fmt::format("unsupported operands for {}: {} and {}", op,
                            a.undefined ? "undefined" : python_repr(a.data),
                            b.undefined ? "undefined" : python_repr(b.data)));
  }
  const bool ints = a.data.is_number_integer() && b.data.is_number_integer();
  const double x = a.data.get<double>(), y = b.data.get<double>();
  if (op == "+")
    return ints ? Value(Json(a.data.get<int64_t>() + b.data.get<int64_t>())) : Value(Json(x + y));
  if (op == "-")
    return ints ? Value(Json(a.data.get<int64_t>() - b.data.get<int64_t>())) : Value(Json(x - y));
  if (op == "*")
    return ints ? Value(Json(a.data.get<int64_t>() * b.data.get<int64_t>())) : Value(Json(x * y));
  if (y == 0.0 && (op == "/" || op == "//" || op == "%")) error(line, "division by zero");
  if (op == "/") return Value(Json(x / y));
  if (op == "//")
    return ints ? Value(Json(static_cast<int64_t>(std::floor(x / y))))
                : Value(Json(std::floor(x / y)));
  if (op == "%") {
    const double m = x - y * std::floor(x / y);
    return ints ? Value(Json(static_cast<int64_t>(m))) : Value(Json(m));
  }
  if (op == "**")
    return ints && y >= 0 ? Value(Json(static_cast<int64_t>(std::pow(x, y))))
                          : Value(Json(std::pow(x, y)));
  error(line, "unknown operator " + op);
}

bool is_builtin_function(const std::string& name) {
  return name == "raise_exception" || name == "strftime_now" || name == "range" ||
         name == "namespace";
}

Value call_builtin_function(const std::string& name, const Arguments& a, int line) {
  if (name == "raise_exception") {
    const Value* msg = a.get("message", 0);
    fail("the chat template refused the conversation: {}", msg ? to_text(*msg) : "(no message)");
  }
  if (name == "strftime_now") {
    const Value* format = a.get("format", 0);
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buffer[256];
    const size_t n =
        std::strftime(buffer, sizeof buffer,
                      text_of(format ? *format : Value(), "strftime_now", line).c_str(), &tm);
    return Value(Json(std::string(buffer, n)));
  }
  if (name == "range") {
    int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) {
      stop = int_of(a.positional[0], line);
    } else if (a.positional.size() >= 2) {
      start = int_of(a.positional[0], line);
      stop = int_of(a.positional[1], line);
      if (a.positional.size() > 2) step = int_of(a.positional[2], line);
    }
    if (step == 0) error(line, "range() step cannot be zero");
    Json out = Json::array();
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
    return Value(out);
  }
  error(line, "'" + name + "' is not a function");
}

Value call_method(const Value& target, const std::string& name, const Arguments& a, int line) {
  const Json& t = target.data;
  if (t.is_string()) {
    const std::string& s = t.get_ref<const std::string&>();
    const Value* chars = a.get("chars", 0);
    const std::string set = chars && chars->is_string() ? chars->str() : kWhitespace;
    if (name == "strip") return Value(Json(strip(s, set, true, true)));
    if (name == "lstrip") return Value(Json(strip(s, set, true, false)));
    if (name == "rstrip") return Value(Json(strip(s, set, false, true)));
    if (name == "upper" || name == "lower") {
      std::string out = s;
      for (char& c : out)
        c = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                              : std::tolower(static_cast<unsigned char>(c)));
      return Value(Json(out));
    }
    if (name == "split") {
      Json out = Json::array();
      for (std::string& part : split(s, a.get("sep", 0))) out.push_back(std::move(part));
      return Value(out);
    }
    if (name == "replace") {
      const Value* from = a.get("old", 0);
      const Value* to = a.get("new", 1);
      if (!from || !to) error(line, "replace() needs two strings");
      return Value(
          Json(replace_all(s, text_of(*from, "replace", line), text_of(*to, "replace", line))));
    }
    if (name == "startswith" || name == "endswith") {
      const Value* arg = a.get("prefix", 0);
      if (!arg) error(line, name + "() needs an argument");
      std::vector<std::string> options;
      if (arg->data.is_array()) {
        for (const Json& o : arg->data) options.push_back(o.get<std::string>());
      } else {
        options.push_back(text_of(*arg, name.c_str(), line));
      }
      for (const std::string& o : options) {
        if (name == "startswith"
                ? s.rfind(o, 0) == 0
                : (s.size() >= o.size() && s.compare(s.size() - o.size(), o.size(), o) == 0))
          return Value(Json(true));
      }
      return Value(Json(false));
    }
  }
  if (t.is_object()) {
    if (name == "items") return Value(items_of(t));
    if (name == "keys" || name == "values") {
      Json out = Json::array();
      for (auto it = t.begin(); it != t.end(); ++it)
        out.push_back(name == "keys" ? Json(it.key()) : it.value());
      return Value(out);
    }
    if (name == "get") {
      const Value* key = a.get("key", 0);
      const Value* fallback = a.get("default", 1);
      if (key && key->is_string() && t.contains(key->str())) return Value(t[key->str()]);
      return fallback ? *fallback : Value(Json(nullptr));
    }
  }
  error(line, fmt::format("unsupported method '{}' on {}", name,
                          t.is_string()   ? "a string"
                          : t.is_object() ? "a dict"
                                          : "a list"));
}

}  // namespace concord::jinja
