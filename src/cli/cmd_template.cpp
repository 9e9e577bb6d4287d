// `concord template (-m FILE | --template FILE) --messages JSON [--tools JSON]
// [--no-generation-prompt] [--bos S] [--eos S]`: renders a chat template (the model's
// tokenizer.chat_template, or a Jinja file) for a conversation, as the server would.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "template/jinja.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace concord::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

jinja::Json parse_json_arg(const std::string& text, const char* what) {
  try {
    return jinja::Json::parse(text);
  } catch (const std::exception& e) {
    fail("{} is not valid JSON: {}", what, e.what());
  }
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("template", "Render a chat template for a conversation");
  struct Args {
    std::string model, file, messages, tools, bos, eos;
    bool no_generation_prompt = false;
  };
  auto a = std::make_shared<Args>();
  auto* model = cmd->add_option("-m,--model", a->model, "GGUF file whose chat template to use");
  cmd->add_option("--template", a->file, "A Jinja template file instead")->excludes(model);
  cmd->add_option("--messages", a->messages, "Conversation: JSON list of {role, content}")
      ->required();
  cmd->add_option("--tools", a->tools, "Tools: JSON list of tool definitions");
  cmd->add_flag("--no-generation-prompt", a->no_generation_prompt,
                "Do not open the assistant's turn");
  cmd->add_option("--bos", a->bos, "bos_token (default: the model's)");
  cmd->add_option("--eos", a->eos, "eos_token (default: the model's)");
  cmd->callback([a] {
    std::string source = a->file.empty() ? "" : read_text(a->file);
    jinja::Json context;
    if (!a->model.empty()) {
      const gguf::File f = gguf::File::open(a->model);
      const std::optional<std::string> t = f.get_string("tokenizer.chat_template");
      if (!t) fail("{} has no tokenizer.chat_template", a->model);
      source = *t;
      const Tokenizer tok = Tokenizer::from_gguf(f);
      const Vocab& v = tok.vocab();
      if (v.bos >= 0) context["bos_token"] = v.tokens[static_cast<size_t>(v.bos)];
      if (v.eos >= 0) context["eos_token"] = v.tokens[static_cast<size_t>(v.eos)];
    } else if (a->file.empty()) {
      fail("give the template with -m FILE or --template FILE");
    }
    if (!a->bos.empty()) context["bos_token"] = a->bos;
    if (!a->eos.empty()) context["eos_token"] = a->eos;
    context["messages"] = parse_json_arg(a->messages, "--messages");
    if (!context["messages"].is_array()) fail("--messages must be a JSON list");
    if (!a->tools.empty()) context["tools"] = parse_json_arg(a->tools, "--tools");
    context["add_generation_prompt"] = !a->no_generation_prompt;
    fmt::print("{}", jinja::Template(source).render(context));
  });
}

}  // namespace concord::cli
