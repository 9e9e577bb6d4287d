// Continuous batching for one model: every forward step carries the next token of each
// decoding sequence plus prefill chunks of newly admitted ones (a ragged batch), within a
// token budget. Requests wait in a bounded FIFO queue and are admitted when the KV cache
// has a free slot for each of their n sequences; a cancelled request (client gone) frees
// its slots before the next step.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "model/model.h"
#include "runtime/generate.h"
#include "runtime/kv_cache.h"
#include "tokenizer/tokenizer.h"

namespace concord::server {

using Clock = std::chrono::steady_clock;

struct GenerationRequest {
  std::vector<TokenId> prompt;
  GenerationParams params;
  int n = 1;  // independent sequences (choices) from the same prompt
};

// Something that happened to one sequence of a request.
struct SequenceEvent {
  int index = 0;                // choice index within the request
  std::string text;             // text that became visible
  std::vector<Sample> samples;  // tokens accepted with this event (for logprobs)
  std::optional<FinishReason> finish;
  std::optional<std::string> error;  // the sequence failed (ends it)
  int n_generated = 0;               // tokens generated so far
};

// The link between a request's consumer (an HTTP handler) and the scheduler.
class RequestHandle {
 public:
  explicit RequestHandle(int n_sequences) : open_(n_sequences) {}
  // Waits up to `timeout` for the next event; false when none came.
  bool next(SequenceEvent& event, std::chrono::milliseconds timeout);
  // The consumer is gone: the scheduler drops the request's sequences at its next step.
  void cancel();
  bool cancelled() const;
  bool finished() const;  // every sequence has ended and every event was taken

  // Scheduler side.
  void push(SequenceEvent event);

  Clock::time_point enqueued = Clock::now();

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<SequenceEvent> events_;
  int open_;
  bool cancelled_ = false;
};

// Timings and sizes the scheduler reports (to metrics).
class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void on_admitted(double queue_seconds) = 0;
  virtual void on_first_token(double seconds_since_enqueue) = 0;
  virtual void on_token(double seconds_since_previous) = 0;
  virtual void on_step(int batch_tokens) = 0;
};

struct SchedulerOptions {
  int max_queue = 64;          // waiting requests beyond this are refused
  int max_batch_tokens = 512;  // tokens per forward step
};

struct SchedulerStats {
  int running = 0;  // sequences holding a KV slot
  int waiting = 0;  // requests in the queue
  int64_t kv_tokens_used = 0, kv_tokens_total = 0;
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Scheduler {
 public:
  Scheduler(Model& model, KvCache& cache, const Tokenizer& tokenizer, SchedulerOptions options,
            SchedulerObserver* observer = nullptr);
  ~Scheduler();  // stops the loop; unfinished requests end with no finish reason

  // Throws QueueFull when the queue is full, concord::Error for a request that can never
  // run (prompt over the context, more sequences than slots).
  std::shared_ptr<RequestHandle> submit(GenerationRequest request);
  SchedulerStats stats() const;
  bool idle() const;

 private:
  struct Sequence;
  struct Pending {
    GenerationRequest request;
    std::shared_ptr<RequestHandle> handle;
  };
  void loop();
  void admit();
  void drop_cancelled();
  bool step();  // false when there was nothing to do

  Model& model_;
  KvCache& cache_;
  const Tokenizer& tokenizer_;
  SchedulerOptions options_;
  SchedulerObserver* observer_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  std::vector<std::unique_ptr<Sequence>> running_;  // loop thread only (size under mutex)
  int n_running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace concord::server
