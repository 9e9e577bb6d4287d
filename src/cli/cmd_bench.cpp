// `concord bench -m MODEL [-p 512] [-n 128] [-d 0] [-b 1] [-r 3] [--backend B] [--json]`: prompt
// processing (pp) and generation (tg) rates, as llama-bench reports them (-d: with that
// many tokens already in the cache, "pp512 @ d4096"; -b: the tg test decodes that many
// sequences together, "tg128 x4", t/s counting all of them), plus for
// generation the bandwidth achieved (weight bytes read per step x steps/s) and its ratio
// to a copy bandwidth measured in the same run on the same device (the backend's
// device-to-device copy of a buffer far larger than any cache, bytes read + written), and
// for prompts the matrix FLOP rate (2 x layer parameters per token x tokens/s) and its
// ratio to the backend's own dense F16 matmul measured in the same run.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "util/error.h"
#include "util/half.h"
#include "util/rng.h"

namespace concord::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Sequences `-b` may decode together: far past the 8 a decode kernel takes at once.
constexpr int kMaxBenchBatch = 64;

struct Stat {
  double mean = 0, sd = 0;
};
Stat stats(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

// Seconds per call of `op` (work the backend queues): one warm-up call, then the mean of
// `reps`, the device synchronised before and after.
template <typename Op>
double seconds_per_call(Backend& b, int reps, Op op) {
  op();  // warm-up
  b.synchronize();
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) op();
  b.synchronize();
  return std::chrono::duration<double>(Clock::now() - start).count() / reps;
}

// Bytes/s of the backend's device-to-device copy of `bytes`, counting bytes read and written
// (as copy bandwidths are usually quoted): the roofline decode is held to.
double copy_bandwidth(Backend& b, size_t bytes) {
  auto src = b.allocate(bytes), dst = b.allocate(bytes);
  std::vector<uint8_t> host(bytes, 1);
  b.upload(src->data(), host.data(), bytes);
  const double seconds = seconds_per_call(b, 10, [&] { b.copy(dst->data(), src->data(), bytes); });
  return 2.0 * static_cast<double>(bytes) / seconds;
}

// FLOP/s of the backend's dense matmul: an F16 weight of dim x dim times `tokens` rows of
// activations (its prefill path), the roofline prompt processing is held to.
struct MatmulShape {
  int64_t dim;
  int tokens;
};
double matmul_throughput(Backend& b, MatmulShape shape) {
  const int64_t dim = shape.dim;
  const int tokens = shape.tokens;
  const int64_t n_weights = dim * dim, n_x = dim * tokens;
  // Values in [-1, 1) on a short cycle: the timing does not depend on them, the fill is fast.
  std::vector<uint16_t> weights(static_cast<size_t>(n_weights));
  for (int64_t i = 0; i < n_weights; ++i)
    weights[i] = f32_to_f16(static_cast<float>(i % 61) / 30.5f - 1.0f);
  std::vector<float> x(static_cast<size_t>(n_x));
  for (int64_t i = 0; i < n_x; ++i) x[i] = static_cast<float>(i % 53) / 26.5f - 1.0f;
  auto w_buffer = b.allocate(weights.size() * sizeof(uint16_t));
  auto x_buffer = b.allocate(x.size() * sizeof(float)), out = b.allocate(x.size() * sizeof(float));
  b.upload(w_buffer->data(), weights.data(), weights.size() * sizeof(uint16_t));
  b.upload(x_buffer->data(), x.data(), x.size() * sizeof(float));
  const Weight w{GgmlType::F16, dim, dim, w_buffer->data()};
  const auto* in = static_cast<const float*>(x_buffer->data());
  auto* result = static_cast<float*>(out->data());
  const double seconds = seconds_per_call(b, 5, [&] { b.matmul(w, in, result, tokens); });
  return 2.0 * static_cast<double>(n_weights) * tokens / seconds;
}

std::vector<TokenId> random_tokens(int n, int64_t n_vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<TokenId> t(static_cast<size_t>(n));
  for (TokenId& id : t) id = static_cast<TokenId>(rng.next_u64() % static_cast<uint64_t>(n_vocab));
  return t;
}

// Seconds to prefill `tokens` into `slot` at positions from `first_position` as one batch, or as
// few as the cache's sliding-window rings allow (logits for the last token).
double time_prefill(Engine& e, const std::vector<TokenId>& tokens, int32_t first_position,
                    int slot = 0) {
  const size_t step =
      e.cache->step_tokens() > 0 ? static_cast<size_t>(e.cache->step_tokens()) : tokens.size();
  Batch b;
  const auto start = Clock::now();
  for (size_t first = 0; first < tokens.size(); first += step) {
    b.clear();
    for (size_t i = first; i < std::min(tokens.size(), first + step); ++i)
      b.add(tokens[i], first_position + static_cast<int32_t>(i), slot, i + 1 == tokens.size());
    e.model->forward(b, e.cache->layers());  // logits left where the step wrote them
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds to decode `tokens` one at a time from position `first_position` in each of `slots`
// together: a step carries one token of every sequence (logits for each, as serving does).
double time_decode(Engine& e, const std::vector<TokenId>& tokens, int32_t first_position,
                   const std::vector<int>& slots) {
  Batch b;
  const auto start = Clock::now();
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.clear();
    for (const int slot : slots)
      b.add(tokens[i], first_position + static_cast<int32_t>(i), slot, true);
    e.model->forward(b, e.cache->layers());  // logits left where the step wrote them
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt-processing and generation speed");
  struct Args {
    EngineOptions engine;
    int pp = 512, tg = 128, depth = 0, reps = 3, batch = 1;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  add_engine_options(*cmd, a->engine);
  cmd->add_option("-p,--n-prompt", a->pp, "Prompt tokens (pp test; 0 to skip)")
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", a->tg, "Generated tokens (tg test; 0 to skip)")
      ->capture_default_str();
  cmd->add_option("-d,--depth", a->depth,
                  "Tokens already in the cache before each test (prefilled, not timed)")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", a->reps, "Repetitions of each test")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch,
                  "Sequences the tg test decodes together, a token of each per step (t/s counts "
                  "all of them)")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] {
    if (a->reps < 1 || a->pp < 0 || a->tg < 0 || a->depth < 0)
      fail("bench: -r must be >= 1 and -p, -n, -d >= 0 (got -r {} -p {} -n {} -d {})", a->reps,
           a->pp, a->tg, a->depth);
    if (a->batch < 1 || a->batch > kMaxBenchBatch)
      fail("bench: -b must be 1 to {} sequences (got {})", kMaxBenchBatch, a->batch);
    EngineOptions o = a->engine;
    const int needed = a->depth + std::max(a->pp, a->tg) + 1;
    if (o.ctx == 0) o.ctx = needed;
    if (o.ctx < needed)
      fail("bench: -d {} plus the longest test ({} tokens) needs a context of {}, -c is {}",
           a->depth, std::max(a->pp, a->tg), needed, o.ctx);
    LoadedEngine e = load_engine(o, a->batch);
    const ModelInfo& info = e.model->info();
    std::vector<int> slots;  // slot 0 also serves the pp test
    for (int i = 0; i < a->batch; ++i) slots.push_back(e.cache->acquire());
    // Bytes a decode step reads: every weight once, except the embedding table (one row).
    const double bytes_per_token = static_cast<double>(info.weight_bytes - info.embedding_bytes);
    const bool gpu = e.backend->name() == "cuda";
    const double copy_bw = copy_bandwidth(*e.backend, gpu ? size_t{1} << 30 : size_t{1} << 26);
    // A prompt token's matrix FLOPs (attention's excluded), held to the backend's own matmul.
    const double flops_per_token = 2.0 * static_cast<double>(info.layer_params);
    const MatmulShape matmul_shape = gpu ? MatmulShape{8192, 4096} : MatmulShape{1024, 256};
    const double matmul_flops = a->pp > 0 ? matmul_throughput(*e.backend, matmul_shape) : 0.0;

    // The cache holds `depth` tokens before the tests, which write only after them (in a
    // sliding-window ring they overwrite older rows, as generation at that depth would).
    if (a->depth > 0) {
      const auto context = random_tokens(a->depth, info.n_vocab, 3);
      for (const int slot : slots) time_prefill(e, context, 0, slot);
    }
    const std::string depth_suffix = a->depth > 0 ? fmt::format(" @ d{}", a->depth) : "";
    nlohmann::json rows = nlohmann::json::array();
    auto report = [&](const std::string& test, int n_tokens, const std::vector<double>& seconds,
                      bool decode) {
      std::vector<double> rates;
      for (double s : seconds) rates.push_back(n_tokens / s);
      const Stat st = stats(rates);
      nlohmann::json row = {{"test", test}, {"tokens_per_second", st.mean}, {"sd", st.sd}};
      if (decode) {
        // A step reads the weights once for all its sequences.
        const double steps_per_second = st.mean / a->batch;
        row["bandwidth_gbs"] = bytes_per_token * steps_per_second / 1e9;
        row["copy_bandwidth_gbs"] = copy_bw / 1e9;
        row["bandwidth_ratio"] = bytes_per_token * steps_per_second / copy_bw;
      } else {
        row["tflops"] = flops_per_token * st.mean / 1e12;
        row["matmul_tflops"] = matmul_flops / 1e12;
        row["matmul_ratio"] = flops_per_token * st.mean / matmul_flops;
      }
      rows.push_back(row);
    };
    if (a->pp > 0) {
      const auto tokens = random_tokens(a->pp, info.n_vocab, 1);
      time_prefill(e, tokens, a->depth);  // warm-up
      std::vector<double> s;
      for (int r = 0; r < a->reps; ++r) s.push_back(time_prefill(e, tokens, a->depth));
      report(fmt::format("pp{}{}", a->pp, depth_suffix), a->pp, s, false);
    }
    if (a->tg > 0) {
      const auto tokens = random_tokens(a->tg, info.n_vocab, 2);
      time_decode(e, std::vector<TokenId>(tokens.begin(), tokens.begin() + std::min(8, a->tg)),
                  a->depth, slots);  // warm-up
      std::vector<double> s;
      for (int r = 0; r < a->reps; ++r) s.push_back(time_decode(e, tokens, a->depth, slots));
      const std::string batch_suffix = a->batch > 1 ? fmt::format(" x{}", a->batch) : "";
      report(fmt::format("tg{}{}{}", a->tg, batch_suffix, depth_suffix), a->tg * a->batch, s, true);
    }
    std::string types;
    for (GgmlType t : info.weight_types)
      types += (types.empty() ? "" : "+") + std::string(type_name(t));
    if (a->json) {
      fmt::print("{}\n", nlohmann::json{{"model", e.model_path},
                                        {"weight_types", types},
                                        {"params", info.n_params},
                                        {"weight_bytes", info.weight_bytes},
                                        {"backend", e.backend->name()},
                                        {"device", e.backend->capabilities().devices.at(0).name},
                                        {"results", rows}}
                             .dump(2));
      return;
    }
    // Columns as llama-bench's, then the roofline ratios (GB/s for generation, TFLOP/s for
    // prompts: the last two columns, so scripts that read the first nine keep working).
    fmt::print(
        "| {:<24} | {:>9} | {:>8} | {:<7} | {:>14} | {:>18} | {:>10} | {:>6} | {:>8} | {:>9} |\n",
        "model", "size GiB", "params", "backend", "test", "t/s", "GB/s", "of copy", "TFLOP/s",
        "of matmul");
    for (const auto& r : rows) {
      const bool decode = r.contains("bandwidth_gbs");
      const auto percent = [](double ratio) { return fmt::format("{:.0f}%", 100 * ratio); };
      fmt::print(
          "| {:<24} | {:>9.2f} | {:>7.2f}B | {:<7} | {:>14} | {:>10.2f} ± {:>5.2f} | {:>10} | "
          "{:>7} | {:>8} | {:>9} |\n",
          types, static_cast<double>(info.weight_bytes) / (1 << 30),
          static_cast<double>(info.n_params) / 1e9, e.backend->name(), r["test"].get<std::string>(),
          r["tokens_per_second"].get<double>(), r["sd"].get<double>(),
          decode ? fmt::format("{:.1f}", r["bandwidth_gbs"].get<double>()) : "",
          decode ? percent(r["bandwidth_ratio"].get<double>()) : "",
          decode ? "" : fmt::format("{:.3g}", r["tflops"].get<double>()),
          decode ? "" : percent(r["matmul_ratio"].get<double>()));
    }
    fmt::print("copy bandwidth (device-to-device copy, read + written): {:.1f} GB/s\n",
               copy_bw / 1e9);
    if (a->pp > 0) {
      fmt::print(
          "matmul throughput (F16 weight {0}x{0} times {1} rows, the prefill path): {2:.3g} "
          "TFLOP/s\n",
          matmul_shape.dim, matmul_shape.tokens, matmul_flops / 1e12);
    }
  });
}

}  // namespace concord::cli
