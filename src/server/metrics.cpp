#include "server/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace concord::server {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help,
                       std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  f.buckets = std::move(buckets);
}

void Metrics::count(const std::string& name, const Labels& labels, double amount) {
  std::lock_guard lock(mutex_);
  families_[name].values[labels] += amount;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  Histogram& h = f.histograms[labels];
  h.counts.resize(f.buckets.size(), 0.0);
  for (size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) {
      h.counts[i] += 1;
      break;
    }
  }
  h.sum += value;
  ++h.count;
}

void Metrics::gauge(const std::string& name, const std::string& help, GaugeSource source) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  f.type = "gauge";
  f.help = help;
  f.gauge = std::move(source);
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    if (f.gauge) {
      std::vector<std::pair<Labels, double>> samples;
      f.gauge(samples);
      for (const auto& [labels, v] : samples)
        out += name + label_text(labels) + " " + number(v) + "\n";
    }
    for (const auto& [labels, v] : f.values)
      out += name + label_text(labels) + " " + number(v) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      double cumulative = 0.0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += i < h.counts.size() ? h.counts[i] : 0.0;
        out += name + "_bucket" + label_text(labels, "le=\"" + number(f.buckets[i]) + "\"") + " " +
               number(cumulative) + "\n";
      }
      out += name + "_bucket" + label_text(labels, "le=\"+Inf\"") + " " + number(h.count) + "\n";
      out += name + "_sum" + label_text(labels) + " " + number(h.sum) + "\n";
      out += name + "_count" + label_text(labels) + " " + number(h.count) + "\n";
    }
  }
  return out;
}

void SchedulerMetrics::on_admitted(double s) {
  metrics_.observe("concord_queue_wait_seconds", {{"model", model_}}, s);
}
void SchedulerMetrics::on_first_token(double s) {
  metrics_.observe("concord_time_to_first_token_seconds", {{"model", model_}}, s);
}
void SchedulerMetrics::on_token(double s) {
  metrics_.observe("concord_time_per_output_token_seconds", {{"model", model_}}, s);
}
void SchedulerMetrics::on_step(int tokens) {
  metrics_.observe("concord_batch_tokens", {{"model", model_}}, tokens);
}

void describe_server_metrics(Metrics& m) {
  const std::vector<double> latency = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  m.describe("concord_requests_total", "counter", "HTTP requests by endpoint and status");
  m.describe("concord_request_errors_total", "counter",
             "HTTP error responses by endpoint and status");
  m.describe("concord_prompt_tokens_total", "counter", "Prompt tokens processed per model");
  m.describe("concord_generated_tokens_total", "counter", "Tokens generated per model");
  m.describe("concord_backend_selections_total", "counter",
             "Model loads by requested and selected backend");
  m.describe("concord_backend_fallbacks_total", "counter",
             "Model loads that fell back from the requested backend");
  m.describe("concord_queue_wait_seconds", "histogram", "Time from arrival to admission", latency);
  m.describe("concord_time_to_first_token_seconds", "histogram", "Time from arrival to first token",
             latency);
  m.describe("concord_time_per_output_token_seconds", "histogram",
             "Time between consecutive tokens of a sequence", latency);
  m.describe("concord_batch_tokens", "histogram", "Tokens per forward step",
             {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
}

}  // namespace concord::server
