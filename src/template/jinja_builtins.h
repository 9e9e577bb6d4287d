// What Jinja expressions can do to values: attribute and index access, slices,
// operators, filters, tests, string/dict methods and global functions, each with
// Python's semantics (internal to template/).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace concord::jinja {

struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
  // The argument called `name`, else the positional one at `index`, else null.
  const Value* get(const std::string& name, size_t index) const;
};

std::vector<std::string> utf8_chars(const std::string& s);  // one string per code point

Value attribute(const Value& target, const std::string& name);
Value subscript(const Value& target, const Value& key, int line);
Value slice(const Value& target, const Value& start, const Value& stop, const Value& step,
            int line);
bool contains(const Value& container, const Value& item, int line);
bool compare(const std::string& op, const Value& a, const Value& b, int line);
// + - * / // % ** and unary "neg" / "pos" (b unused).
Value arithmetic(const std::string& op, const Value& a, const Value& b, int line);

bool is_builtin_function(const std::string& name);  // raise_exception, strftime_now, range
Value call_builtin_function(const std::string& name, const Arguments& args, int line);
Value call_method(const Value& target, const std::string& name, const Arguments& args, int line);

using TestFn = std::function<bool(const std::string& test, const Value& v, const Arguments& args)>;
Value apply_filter(const std::string& name, const Value& v, const Arguments& args, int line,
                   const TestFn& test);
bool apply_test(const std::string& name, const Value& v, const Arguments& args, int line);

}  // namespace concord::jinja
