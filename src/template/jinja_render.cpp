// Rendering a parsed Jinja template: scopes, statements and expressions. Filters, tests
// and methods live in jinja_builtins.cpp.
#include <ctime>
#include <map>
#include <memory>

#include "template/jinja.h"
#include "template/jinja_builtins.h"
#include "util/error.h"

namespace concord::jinja {
namespace {

using Scope = std::map<std::string, std::shared_ptr<Value>>;

class Renderer {
 public:
  explicit Renderer(const Json& context) {
    scopes_.emplace_back();
    if (context.is_object()) {
      for (auto it = context.begin(); it != context.end(); ++it)
        scopes_.back()[it.key()] = std::make_shared<Value>(it.value());
    }
  }

  void body(const Body& nodes, std::string& out) {
    for (const NodePtr& n : nodes) node(*n, out);
  }

 private:
  [[noreturn]] static void error(int line, const std::string& what) {
    fail("template line {}: {}", line, what);
  }

  std::shared_ptr<Value> find(const std::string& name) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto v = it->find(name);
      if (v != it->end()) return v->second;
    }
    return nullptr;
  }

  void node(const Node& n, std::string& out) {
    switch (n.kind) {
      case Node::Text:
        out += n.text;
        return;
      case Node::Output:
        out += to_text(eval(*n.expr));
        return;
      case Node::If:
        for (const auto& [condition, branch] : n.branches) {
          if (truthy(eval(*condition))) return body(branch, out);
        }
        return body(n.otherwise, out);
      case Node::For:
        return for_loop(n, out);
      case Node::Set:
        return assign(n, eval(*n.expr));
      case Node::SetBlock: {
        std::string text;
        body(n.body, text);
        return assign(n, Value(Json(text)));
      }
      case Node::Macro:
        macros_[n.name] = &n;
        scopes_.back()[n.name] = std::make_shared<Value>(Value(Json(nullptr)));
        scopes_.back()[n.name]->callable = n.name;
        return;
    }
  }

  void assign(const Node& n, Value v) {
    if (n.vars.size() == 1) {
      scopes_.back()[n.vars[0]] = std::make_shared<Value>(std::move(v));
      return;
    }
    std::shared_ptr<Value> target = find(n.vars[0]);
    if (!target || !target->is_namespace)
      error(n.line, "'" + n.vars[0] + "' is not a namespace: only namespace attributes can be set");
    target->data[n.vars[1]] = v.undefined ? Json() : v.data;
  }

  void for_loop(const Node& n, std::string& out) {
    const Value iterable = eval(*n.expr);
    std::vector<Json> items;
    if (iterable.undefined || iterable.data.is_null()) {
      if (!iterable.undefined) error(n.line, "cannot loop over none");
    } else if (iterable.data.is_array()) {
      items.assign(iterable.data.begin(), iterable.data.end());
    } else if (iterable.data.is_object()) {
      for (auto it = iterable.data.begin(); it != iterable.data.end(); ++it)
        items.push_back(it.key());
    } else if (iterable.data.is_string()) {
      for (const std::string& c : utf8_chars(iterable.data.get<std::string>())) items.push_back(c);
    } else {
      error(n.line, "cannot loop over " + python_repr(iterable.data));
    }
    auto bind = [&](Scope& scope, const Json& item) {
      if (n.vars.size() == 1) {
        scope[n.vars[0]] = std::make_shared<Value>(item);
        return;
      }
      if (!item.is_array() || item.size() != n.vars.size())
        error(n.line, fmt::format("cannot unpack {} into {} loop variables", python_repr(item),
                                  n.vars.size()));
      for (size_t i = 0; i < n.vars.size(); ++i)
        scope[n.vars[i]] = std::make_shared<Value>(item[i]);
    };
    if (n.condition) {  // `for x in xs if c`: filter first, so loop.* counts what remains
      std::vector<Json> kept;
      for (const Json& item : items) {
        scopes_.emplace_back();
        bind(scopes_.back(), item);
        if (truthy(eval(*n.condition))) kept.push_back(item);
        scopes_.pop_back();
      }
      items = std::move(kept);
    }
    if (items.empty()) return body(n.otherwise, out);
    const auto count = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < count; ++i) {
      scopes_.emplace_back();
      bind(scopes_.back(), items[static_cast<size_t>(i)]);
      Json loop = {{"index0", i},
                   {"index", i + 1},
                   {"first", i == 0},
                   {"last", i + 1 == count},
                   {"length", count},
                   {"revindex", count - i},
                   {"revindex0", count - i - 1}};
      loop["previtem"] = i > 0 ? items[static_cast<size_t>(i - 1)] : Json();
      loop["nextitem"] = i + 1 < count ? items[static_cast<size_t>(i + 1)] : Json();
      scopes_.back()["loop"] = std::make_shared<Value>(loop);
      body(n.body, out);
      scopes_.pop_back();
    }
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Literal:
        return Value(e.value);
      case Expr::Name: {
        if (auto v = find(e.name)) return *v;
        if (is_builtin_function(e.name)) {
          Value f(Json(nullptr));
          f.callable = e.name;
          return f;
        }
        return Value::undef();
      }
      case Expr::Attr:
        return attribute(eval(*e.args[0]), e.name);
      case Expr::Index:
        return subscript(eval(*e.args[0]), eval(*e.args[1]), e.line);
      case Expr::Slice: {
        auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value::undef(); };
        return slice(eval(*e.args[0]), part(1), part(2), part(3), e.line);
      }
      case Expr::Call:
        return call(e);
      case Expr::Filter: {
        Arguments a = arguments(e, 1);
        return apply_filter(
            e.name, eval(*e.args[0]), a, e.line,
            [line = e.line](const std::string& test, const Value& v, const Arguments& args) {
              return apply_test(test, v, args, line);
            });
      }
      case Expr::Test: {
        if (e.name == "defined" || e.name == "undefined") {
          const bool defined = !eval(*e.args[0]).undefined;
          const bool passes = (e.name == "defined") == defined;
          return Value(Json(passes != e.negated));
        }
        Arguments a = arguments(e, 1);
        return Value(Json(apply_test(e.name, eval(*e.args[0]), a, e.line) != e.negated));
      }
      case Expr::Unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not") return Value(Json(!truthy(v)));
        return arithmetic(e.name == "-" ? "neg" : "pos", v, Value(), e.line);
      }
      case Expr::Binary:
        return binary(e);
      case Expr::Ternary: {
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value::undef();
      }
      case Expr::List: {
        Json list = Json::array();
        for (const ExprPtr& item : e.args) list.push_back(eval(*item).data);
        return Value(list);
      }
      case Expr::Dict: {
        Json dict = Json::object();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = eval(*e.args[i]);
          if (!key.is_string()) error(e.line, "dictionary keys must be strings");
          dict[key.str()] = eval(*e.args[i + 1]).data;
        }
        return Value(dict);
      }
    }
    error(e.line, "unknown expression");
  }

  Arguments arguments(const Expr& e, size_t first) {
    Arguments a;
    for (size_t i = first; i < e.args.size(); ++i) a.positional.push_back(eval(*e.args[i]));
    for (const auto& [key, value] : e.kwargs) a.named.emplace_back(key, eval(*value));
    return a;
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.args[0]);
      return truthy(a) ? eval(*e.args[1]) : a;
    }
    if (op == "or") {
      Value a = eval(*e.args[0]);
      return truthy(a) ? a : eval(*e.args[1]);
    }
    const Value a = eval(*e.args[0]), b = eval(*e.args[1]);
    if (op == "==") return Value(Json(equal(a, b)));
    if (op == "!=") return Value(Json(!equal(a, b)));
    if (op == "in" || op == "not in") return Value(Json(contains(b, a, e.line) == (op == "in")));
    if (op == "<" || op == ">" || op == "<=" || op == ">=")
      return Value(Json(compare(op, a, b, e.line)));
    if (op == "~") return Value(Json(to_text(a) + to_text(b)));
    return arithmetic(op, a, b, e.line);
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    Arguments a = arguments(e, 1);
    if (callee.kind == Expr::Attr) {  // a method: "x".strip(), d.items(), ...
      const Value target = eval(*callee.args[0]);
      if (!target.undefined && !target.is_namespace && !target.data.is_null() &&
          (target.data.is_string() || target.data.is_object() || target.data.is_array())) {
        const Value attr = attribute(target, callee.name);
        if (attr.undefined || attr.callable.size())
          return call_method(target, callee.name, a, e.line);
      }
    }
    const Value f = eval(callee);
    if (f.callable.empty()) error(e.line, "'" + describe(callee) + "' is not callable");
    auto macro = macros_.find(f.callable);
    if (macro != macros_.end()) return call_macro(*macro->second, a, e.line);
    if (f.callable == "namespace") {
      Value ns(Json::object());
      ns.is_namespace = true;
      for (const auto& [key, value] : a.named) ns.data[key] = value.data;
      return ns;
    }
    return call_builtin_function(f.callable, a, e.line);
  }

  Value call_macro(const Node& macro, const Arguments& a, int line) {
    if (a.positional.size() > macro.params.size())
      error(line, fmt::format("macro '{}' takes {} arguments, got {}", macro.name,
                              macro.params.size(), a.positional.size()));
    Scope scope;
    for (size_t i = 0; i < macro.params.size(); ++i) {
      const auto& [name, fallback] = macro.params[i];
      Value v = i < a.positional.size() ? a.positional[i]
                : fallback              ? eval(*fallback)
                                        : Value::undef();
      for (const auto& [key, value] : a.named) {
        if (key == name) v = value;
      }
      scope[name] = std::make_shared<Value>(std::move(v));
    }
    // A macro sees the template's top-level names and its parameters, not the caller's.
    std::vector<Scope> saved(scopes_.begin() + 1, scopes_.end());
    scopes_.resize(1);
    scopes_.push_back(std::move(scope));
    std::string out;
    body(macro.body, out);
    scopes_.resize(1);
    scopes_.insert(scopes_.end(), saved.begin(), saved.end());
    return Value(Json(out));
  }

  static std::string describe(const Expr& e) {
    if (e.kind == Expr::Name) return e.name;
    if (e.kind == Expr::Attr) return describe(*e.args[0]) + "." + e.name;
    return "expression";
  }

  std::vector<Scope> scopes_;
  std::map<std::string, const Node*> macros_;
};

}  // namespace

std::string Template::render(const Json& context) const {
  Renderer r(context);
  std::string out;
  r.body(body_, out);
  return out;
}

}  // namespace concord::jinja
