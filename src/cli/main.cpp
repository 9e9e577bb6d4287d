// concord: one executable, one subcommand per file. Errors from user input print one
// line and exit non-zero; nothing here branches on a backend.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"concord " CONCORD_VERSION " - GGUF language-model inference", "concord"};
  app.require_subcommand(1);
  app.set_version_flag("--version", CONCORD_VERSION);
  concord::cli::add_gguf_command(app);
  concord::cli::add_quantize_command(app);
  concord::cli::add_synth_command(app);
  concord::cli::add_run_command(app);
  concord::cli::add_chat_command(app);
  concord::cli::add_probe_command(app);
  concord::cli::add_parity_command(app);
  concord::cli::add_bench_command(app);
  concord::cli::add_tokenize_command(app);
  concord::cli::add_perplexity_command(app);
  concord::cli::add_template_command(app);
#ifdef CONCORD_WITH_SERVER
  concord::cli::add_serve_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const concord::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
