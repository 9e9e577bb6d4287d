#include "template/value.h"

#include <fmt/format.h>

#include <cmath>

namespace concord::jinja {
namespace {

// Python's repr of a float: shortest round-trip digits, ".0" on integral values.
std::string float_text(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string quote_python(const std::string& s) {
  const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = use_double ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == static_cast<unsigned char>(q)) {
      out += '\\', out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + q;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void write_json(const Json& j, int indent, int depth, std::string& out) {
  const std::string pad =
      indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent * (depth + 1)), ' ') : "";
  const std::string end_pad =
      indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent * depth), ' ') : "";
  const char* item_sep = indent >= 0 ? "," : ", ";
  if (j.is_object()) {
    if (j.empty()) {
      out += "{}";
      return;
    }
    out += "{";
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!first) out += item_sep;
      first = false;
      out += pad + json_string(it.key()) + ": ";
      write_json(it.value(), indent, depth + 1, out);
    }
    out += end_pad + "}";
  } else if (j.is_array()) {
    if (j.empty()) {
      out += "[]";
      return;
    }
    out += "[";
    for (size_t i = 0; i < j.size(); ++i) {
      if (i) out += item_sep;
      out += pad;
      write_json(j[i], indent, depth + 1, out);
    }
    out += end_pad + "]";
  } else if (j.is_string()) {
    out += json_string(j.get<std::string>());
  } else if (j.is_boolean()) {
    out += j.get<bool>() ? "true" : "false";
  } else if (j.is_null()) {
    out += "null";
  } else if (j.is_number_float()) {
    const double d = j.get<double>();
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                           : float_text(d);
  } else {
    out += j.dump();
  }
}

}  // namespace

bool truthy(const Value& v) {
  if (v.undefined) return false;
  const Json& j = v.data;
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number()) return j.get<double>() != 0.0;
  if (j.is_string()) return !j.get_ref<const std::string&>().empty();  // json::empty() is
  if (j.is_array() || j.is_object()) return !j.empty();                // false for strings
  return true;
}

std::string python_repr(const Json& j) {
  if (j.is_string()) return quote_python(j.get<std::string>());
  if (j.is_null()) return "None";
  if (j.is_boolean()) return j.get<bool>() ? "True" : "False";
  if (j.is_number_float()) return float_text(j.get<double>());
  if (j.is_number()) return j.dump();
  std::string out;
  if (j.is_array()) {
    out = "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + python_repr(j[i]);
    return out + "]";
  }
  out = "{";
  bool first = true;
  for (auto it = j.begin(); it != j.end(); ++it) {
    out += (first ? "" : ", ") + quote_python(it.key()) + ": " + python_repr(it.value());
    first = false;
  }
  return out + "}";
}

std::string to_text(const Value& v) {
  if (v.undefined) return "";
  if (v.data.is_string()) return v.data.get<std::string>();
  return python_repr(v.data);
}

std::string to_json(const Json& j, int indent) {
  std::string out;
  write_json(j, indent, 0, out);
  return out;
}

bool equal(const Value& a, const Value& b) {
  if (a.undefined || b.undefined) return a.undefined && b.undefined;
  if (a.data.is_number() && b.data.is_number()) return a.data.get<double>() == b.data.get<double>();
  if (a.data.is_boolean() && b.data.is_number())
    return (a.data.get<bool>() ? 1.0 : 0.0) == b.data.get<double>();
  if (a.data.is_number() && b.data.is_boolean()) return equal(b, a);
  return a.data == b.data;
}

}  // namespace concord::jinja
