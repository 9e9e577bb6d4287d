// Prometheus metrics of the server, rendered in the text exposition format (version
// 0.0.4): counters and histograms with labels, gauges sampled at scrape time.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/scheduler.h"

namespace concord::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  void count(const std::string& name, const Labels& labels, double amount = 1.0);
  void observe(const std::string& name, const Labels& labels, double value);
  // Declares a metric (HELP and TYPE lines); histograms take their bucket bounds.
  void describe(const std::string& name, const std::string& type, const std::string& help,
                std::vector<double> buckets = {});
  // Gauges read when scraped: each call appends (labels, value) samples.
  using GaugeSource = std::function<void(std::vector<std::pair<Labels, double>>&)>;
  void gauge(const std::string& name, const std::string& help, GaugeSource source);

  std::string render() const;

 private:
  struct Histogram {
    std::vector<double> counts;  // per bucket, cumulative at render
    double sum = 0.0;
    uint64_t count = 0;
  };
  struct Family {
    std::string type, help;
    std::vector<double> buckets;
    std::map<Labels, double> values;         // counters
    std::map<Labels, Histogram> histograms;  // histograms
    GaugeSource gauge;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Adapts scheduler callbacks to histograms labelled with the model id.
class SchedulerMetrics : public SchedulerObserver {
 public:
  SchedulerMetrics(Metrics& metrics, std::string model)
      : metrics_(metrics), model_(std::move(model)) {}
  void on_admitted(double queue_seconds) override;
  void on_first_token(double seconds) override;
  void on_token(double seconds) override;
  void on_step(int batch_tokens) override;

 private:
  Metrics& metrics_;
  std::string model_;
};

// Declares every metric the server exports.
void describe_server_metrics(Metrics& metrics);

}  // namespace concord::server
