#include "cli/engine_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/default_model.h"
#include "util/error.h"

namespace concord::cli {

GenerationParams SamplingOptions::to_params() const {
  GenerationParams p;
  p.max_tokens = max_tokens;
  p.stop = stop;
  p.ignore_eos = ignore_eos;
  p.sampling.temperature = temperature;
  p.sampling.top_k = top_k;
  p.sampling.top_p = top_p;
  p.sampling.min_p = min_p;
  p.sampling.repeat_penalty = repeat_penalty;
  p.sampling.penalty_last_n = repeat_last_n;
  p.sampling.presence_penalty = presence_penalty;
  p.sampling.frequency_penalty = frequency_penalty;
  p.sampling.seed = seed;
  return p;
}

void add_engine_options(CLI::App& cmd, EngineOptions& o) {
  cmd.add_option("-m,--model", o.model_path,
                 "GGUF model file (default: $CONCORD_MODEL, else the installed Gemma 3 270M)");
  cmd.add_option("--backend", o.backend,
                 "Compute backend: auto, cuda, cpu, cpu-ref (default: $CONCORD_BACKEND or auto)");
  cmd.add_option("-t,--threads", o.threads, "CPU threads (0: all hardware threads)")
      ->capture_default_str();
  cmd.add_option("-c,--ctx", o.ctx, "Context length in tokens (0: the model's, at most 8192)")
      ->capture_default_str();
  cmd.add_option("--kv-type", o.kv_type, "KV cache storage: f16 or f32")->capture_default_str();
  cmd.add_flag("-v,--verbose", o.verbose, "Print load time and prompt/generation speed");
}

void add_sampling_options(CLI::App& cmd, SamplingOptions& o) {
  cmd.add_option("-n,--max-tokens", o.max_tokens, "Tokens to generate")->capture_default_str();
  cmd.add_option("--temp", o.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd.add_option("--top-k", o.top_k, "Top-k (0: off)")->capture_default_str();
  cmd.add_option("--top-p", o.top_p, "Top-p (1: off)")->capture_default_str();
  cmd.add_option("--min-p", o.min_p, "Min-p (0: off)")->capture_default_str();
  cmd.add_option("--repeat-penalty", o.repeat_penalty, "Repetition penalty (1: off)")
      ->capture_default_str();
  cmd.add_option("--repeat-last-n", o.repeat_last_n, "Penalty window in tokens")
      ->capture_default_str();
  cmd.add_option("--presence-penalty", o.presence_penalty, "Presence penalty")
      ->capture_default_str();
  cmd.add_option("--frequency-penalty", o.frequency_penalty, "Frequency penalty")
      ->capture_default_str();
  cmd.add_option("--seed", o.seed, "Random seed")->capture_default_str();
  cmd.add_flag("--ignore-eos", o.ignore_eos, "Keep generating past end-of-sequence");
  cmd.add_option("--stop", o.stop, "Stop string (repeatable)");
}

LoadedEngine load_engine(const EngineOptions& o, int n_slots) {
  EngineConfig config;
  config.model_path = o.model_path;
  if (config.model_path.empty()) {
    config.model_path = default_model_path();
    fmt::print(stderr, "model: {} (default)\n", config.model_path);
  }
  config.backend = o.backend;
  config.threads = o.threads;
  config.ctx = o.ctx;
  config.kv_type = parse_kv_type(o.kv_type);
  config.n_slots = n_slots;
  const auto start = std::chrono::steady_clock::now();
  // Progress on stderr for loads that take over a second.
  std::atomic<bool> done{false};
  std::thread progress([&] {
    for (int tenths = 0; !done.load(); ++tenths) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (tenths >= 10 && tenths % 10 == 0 && !done.load()) {
        fmt::print(stderr, "\rloading {} ... {} s", config.model_path, tenths / 10);
        std::fflush(stderr);
      }
    }
  });
  LoadedEngine e;
  try {
    static_cast<Engine&>(e) = open_engine(config);
  } catch (...) {
    done = true;
    progress.join();
    throw;
  }
  done = true;
  progress.join();
  e.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (e.load_seconds >= 1.0)
    fmt::print(stderr, "\rloaded {} in {:.1f} s\n", e.model_path, e.load_seconds);
  // A fallback is always reported; the full provenance line on request.
  if (e.provenance.fallback || o.verbose)
    fmt::print(stderr, "backend: {}\n", e.provenance.to_string());
  return e;
}

}  // namespace concord::cli
