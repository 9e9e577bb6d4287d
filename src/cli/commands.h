// Each subcommand registers itself on the root app; one file per subcommand.
#pragma once

#include <CLI/CLI.hpp>

namespace concord::cli {

void add_gguf_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_probe_command(CLI::App& app);
void add_parity_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_serve_command(CLI::App& app);  // only with CONCORD_WITH_SERVER

}  // namespace concord::cli
