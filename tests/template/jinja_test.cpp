// The Jinja engine on small templates: each construct, Python's semantics where they
// differ from C++'s, whitespace control, and errors that name the construct. (Full chat
// templates are checked against Python Jinja2 by tests/python/template_oracle.py.)
#include "template/jinja.h"

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "model/synth.h"
#include "runtime/chat_format.h"
#include "util/error.h"

namespace concord::jinja {
namespace {

std::string render(const std::string& source, const Json& context = Json::object()) {
  return Template(source).render(context);
}

TEST(Jinja, ExpressionsFollowPython) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 % 3 }}|{{ 1 / 2 }}|{{ 2 ** 3 }}"),
            "7|3|2|0.5|8");
  EXPECT_EQ(render("{{ 'a' ~ 1 }}|{{ 'ab' * 2 }}|{{ [1, 2] + [3] }}"), "a1|abab|[1, 2, 3]");
  EXPECT_EQ(render("{{ true }}|{{ none }}|{{ 2.0 }}|{{ {'k': 'v'} }}"), "True|None|2.0|{'k': 'v'}");
  EXPECT_EQ(render("{{ x if x else 'empty' }}|{{ '' or 'b' }}|{{ 'a' and 'b' }}", {{"x", ""}}),
            "empty|b|b");
  EXPECT_EQ(render("{{ 'b' in 'abc' }}|{{ 2 not in [1, 3] }}|{{ 'k' in {'k': 1} }}"),
            "True|True|True");
  EXPECT_EQ(render("{{ m[1:] }}|{{ m[::-1] }}|{{ m[-1] }}|{{ 'héllo'[1] }}", {{"m", {1, 2, 3}}}),
            "[2, 3]|[3, 2, 1]|3|é");
}

TEST(Jinja, StatementsScopesAndLoops) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}"
                   "{% else %}none{% endfor %}",
                   {{"xs", {"a", "b"}}}),
            "1a,2b");
  EXPECT_EQ(render("{% for x in xs %}x{% else %}none{% endfor %}", {{"xs", Json::array()}}),
            "none");
  EXPECT_EQ(render("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", {{"d", {{"a", 1}}}}),
            "a=1;");
  EXPECT_EQ(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}"), "24");
  // set inside a loop does not leak; namespace attributes do.
  EXPECT_EQ(render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1,2] %}"
                   "{% set n = n + x %}{% set ns.n = ns.n + x %}{% endfor %}{{ n }} {{ ns.n }}"),
            "0 3");
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('bob') }} {{ greet('amy', punct='?') }}"),
            "hi bob! hi amy?");
  EXPECT_EQ(render("{% set block %}inner{% endset %}[{{ block }}]"), "[inner]");
}

TEST(Jinja, FiltersTestsAndMethods) {
  const Json ctx = {{"msgs", {{{"role", "user"}, {"c", "x"}}, {{"role", "bot"}}}}};
  EXPECT_EQ(render("{{ msgs | selectattr('role', 'equalto', 'user') | list | length }}", ctx), "1");
  EXPECT_EQ(render("{{ ['a','b'] | join(', ') }}|{{ '  t  ' | trim }}|{{ 'ab' | upper }}"),
            "a, b|t|AB");
  EXPECT_EQ(render("{{ {'a': [1, 'é']} | tojson }}|{{ {'a': 1} | tojson(indent=2) }}"),
            "{\"a\": [1, \"é\"]}|{\n  \"a\": 1\n}");
  EXPECT_EQ(render("{{ x is defined }}{{ y is not defined }}{{ x is string }}{{ n is none }}",
                   {{"x", "s"}, {"n", nullptr}}),
            "TrueTrueTrueTrue");
  EXPECT_EQ(render("{{ 'a,b'.split(',') }}|{{ '\\nx'.lstrip('\\n') }}|{{ 'ab'.startswith('a') }}"),
            "['a', 'b']|x|True");
  EXPECT_EQ(render("{{ d.get('z', 5) }}|{{ d.items() | list }}", {{"d", {{"a", 1}}}}),
            "5|[['a', 1]]");
}

TEST(Jinja, WhitespaceControlAsHuggingFaceConfiguresIt) {
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it.
  EXPECT_EQ(render("{% if true %}\n  yes\n  {% endif %}\nafter"), "  yes\nafter");
  EXPECT_EQ(render("a  {{- ' b ' -}}  c"), "a b c");
  EXPECT_EQ(render("{# comment #}\nx"), "x");
}

TEST(Jinja, ErrorsNameTheConstructAndLine) {
  auto message = [](const std::string& source, const Json& ctx = Json::object()) {
    try {
      render(source, ctx);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("line\n{% while x %}{% endwhile %}")
                .find("line 2: unsupported statement '{% while %}'"),
            std::string::npos);
  EXPECT_NE(message("{{ x | frobnicate }}").find("unsupported filter 'frobnicate'"),
            std::string::npos);
  EXPECT_NE(message("{{ x is weird }}").find("unsupported test 'weird'"), std::string::npos);
  EXPECT_NE(message("{{ x ").find("never closed"), std::string::npos);
  EXPECT_NE(message("{% if x %}open").find("expected {% endif %}"), std::string::npos);
  EXPECT_NE(message("{{ raise_exception('no system role') }}").find("no system role"),
            std::string::npos);
  EXPECT_NE(message("{{ 'a' + 1 }}").find("unsupported operands for +"), std::string::npos);
}

TEST(ChatFormat, UsesTheFilesTemplateAndAvoidsADoubleBos) {
  SynthOptions o;
  o.hparams.n_layer = 1;
  gguf::Writer w = synthesize(o);
  w.set("tokenizer.chat_template",
        "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}");
  const gguf::File f = gguf::File::parse(w.to_bytes(), "synth");
  const ChatFormat format = chat_format_for(f);
  EXPECT_EQ(format.name, "jinja");
  const std::vector<ChatMessage> chat = {{"user", "hi"}};
  EXPECT_EQ(format.render(chat, true), "<s><user>hi</s><assistant>");
  const Tokenizer tok = Tokenizer::from_gguf(f);
  const std::vector<TokenId> ids = format.tokenize(tok, chat, true);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], tok.vocab().bos);
  EXPECT_NE(ids[1], tok.vocab().bos);  // the template's <s> is the only BOS

  w.set("tokenizer.chat_template", "{% for m in messages %}{% unknown %}{% endfor %}");
  const gguf::File bad = gguf::File::parse(w.to_bytes(), "bad");
  EXPECT_THROW(chat_format_for(bad), Error);
}

}  // namespace
}  // namespace concord::jinja
