#include "server/scheduler.h"

#include <algorithm>

#include "runtime/continuation.h"
#include "util/error.h"

namespace concord::server {
namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

// --- RequestHandle ------------------------------------------------------------------------

bool RequestHandle::next(SequenceEvent& event, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [this] { return !events_.empty(); })) return false;
  event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestHandle::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
}

bool RequestHandle::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

bool RequestHandle::finished() const {
  std::lock_guard lock(mutex_);
  return open_ == 0 && events_.empty();
}

void RequestHandle::push(SequenceEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (event.finish || event.error) --open_;
    events_.push_back(std::move(event));
  }
  ready_.notify_all();
}

// --- Scheduler ------------------------------------------------------------------------------

struct Scheduler::Sequence {
  std::shared_ptr<RequestHandle> handle;
  int index = 0;
  int slot = -1;
  std::vector<TokenId> tokens;  // the prompt, then every accepted token
  size_t n_prompt = 0;
  size_t n_cached = 0;  // leading tokens whose keys/values are in the cache
  Continuation continuation;
  Clock::time_point last_token;
  bool started = false, done = false;

  Sequence(const Tokenizer& tok, const GenerationParams& params, int32_t n_vocab)
      : continuation(tok, params, n_vocab) {}
  bool prefilling() const { return n_cached < n_prompt; }
  // Decoding: the last accepted token still has to go through the model.
  bool decoding() const { return !prefilling() && n_cached + 1 == tokens.size(); }
};

Scheduler::Scheduler(Model& model, KvCache& cache, const Tokenizer& tokenizer,
                     SchedulerOptions options, SchedulerObserver* observer)
    : model_(model), cache_(cache), tokenizer_(tokenizer), options_(options), observer_(observer) {
  if (options_.max_batch_tokens < cache.n_slots()) {
    fail("the step budget of {} tokens is below the {} parallel sequences",
         options_.max_batch_tokens, cache.n_slots());
  }
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& s : running_) {
    if (!s->done) s->handle->push({s->index, "", {}, std::nullopt, "the server is shutting down"});
  }
  for (Pending& p : queue_) {
    for (int i = 0; i < p.request.n; ++i)
      p.handle->push({i, "", {}, std::nullopt, "the server is shutting down"});
  }
}

std::shared_ptr<RequestHandle> Scheduler::submit(GenerationRequest request) {
  if (request.prompt.empty()) fail("the prompt is empty");
  if (static_cast<int64_t>(request.prompt.size()) >= cache_.n_ctx()) {
    fail("the prompt has {} tokens but the context holds {}", request.prompt.size(),
         cache_.n_ctx());
  }
  if (request.n < 1 || request.n > cache_.n_slots()) {
    fail("n = {} must be between 1 and the {} parallel sequences", request.n, cache_.n_slots());
  }
  request.params.sampling.validate(static_cast<int32_t>(model_.info().n_vocab));
  auto handle = std::make_shared<RequestHandle>(request.n);
  {
    std::lock_guard lock(mutex_);
    if (static_cast<int>(queue_.size()) >= options_.max_queue) {
      throw QueueFull("the request queue is full");
    }
    queue_.push_back({std::move(request), handle});
  }
  wake_.notify_all();
  return handle;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  SchedulerStats s;
  s.running = n_running_;
  s.waiting = static_cast<int>(queue_.size());
  s.kv_tokens_total = cache_.n_ctx() * cache_.n_slots();
  for (int slot = 0; slot < cache_.n_slots(); ++slot) s.kv_tokens_used += cache_.length(slot);
  return s;
}

bool Scheduler::idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && n_running_ == 0;
}

void Scheduler::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || n_running_ > 0; });
      if (stopping_) return;
    }
    drop_cancelled();
    admit();
    try {
      step();
    } catch (const std::exception& e) {
      for (auto& s : running_) {
        if (!s->done) s->handle->push({s->index, "", {}, std::nullopt, e.what()});
        s->done = true;
      }
    }
    drop_cancelled();  // also removes what finished
  }
}

// FIFO: the oldest request goes first; nothing overtakes it while it waits for slots.
void Scheduler::admit() {
  std::lock_guard lock(mutex_);
  while (!queue_.empty()) {
    Pending& p = queue_.front();
    if (p.handle->cancelled()) {
      queue_.pop_front();
      continue;
    }
    if (cache_.n_free() < p.request.n) break;
    if (observer_) observer_->on_admitted(seconds_between(p.handle->enqueued, Clock::now()));
    for (int i = 0; i < p.request.n; ++i) {
      GenerationParams params = p.request.params;
      params.sampling.seed += static_cast<uint64_t>(i);  // distinct choices when sampling
      auto s = std::make_unique<Sequence>(tokenizer_, params,
                                          static_cast<int32_t>(model_.info().n_vocab));
      s->handle = p.handle;
      s->index = i;
      s->slot = cache_.acquire();
      s->tokens = p.request.prompt;
      s->n_prompt = p.request.prompt.size();
      running_.push_back(std::move(s));
    }
    n_running_ = static_cast<int>(running_.size());
    queue_.pop_front();
  }
}

void Scheduler::drop_cancelled() {
  std::lock_guard lock(mutex_);
  std::erase_if(running_, [this](const std::unique_ptr<Sequence>& s) {
    if (!s->done && !s->handle->cancelled()) return false;
    cache_.release(s->slot);
    return true;
  });
  n_running_ = static_cast<int>(running_.size());
}

bool Scheduler::step() {
  Batch batch;
  std::vector<Sequence*> owners;  // the sequence of each logits row
  std::vector<size_t> added(running_.size(), 0);
  int budget = options_.max_batch_tokens;
  // Decode tokens first: one per running sequence, never starved by prefills.
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence& s = *running_[i];
    if (s.done || !s.decoding()) continue;
    batch.add(s.tokens.back(), static_cast<int32_t>(s.n_cached), s.slot, true);
    owners.push_back(&s);
    added[i] = 1;
    --budget;
  }
  // Prefill chunks with what is left, oldest sequence first.
  const int64_t ring = cache_.step_tokens();
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& s = *running_[i];
    if (s.done || !s.prefilling()) continue;
    size_t chunk = std::min(s.n_prompt - s.n_cached, static_cast<size_t>(budget));
    if (ring > 0) chunk = std::min(chunk, static_cast<size_t>(ring));
    for (size_t k = 0; k < chunk; ++k) {
      const size_t pos = s.n_cached + k;
      const bool last = pos + 1 == s.n_prompt;
      batch.add(s.tokens[pos], static_cast<int32_t>(pos), s.slot, last);
      if (last) owners.push_back(&s);
    }
    added[i] = chunk;
    budget -= static_cast<int>(chunk);
  }
  if (batch.size() == 0) return false;

  const std::span<const float> logits = model_.forward(batch, cache_.layers());
  if (observer_) observer_->on_step(batch.size());
  {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < running_.size(); ++i) {
      running_[i]->n_cached += added[i];
      if (added[i] > 0)
        cache_.set_length(running_[i]->slot, static_cast<int64_t>(running_[i]->n_cached));
    }
  }

  const auto n_vocab = static_cast<size_t>(model_.info().n_vocab);
  const auto now = Clock::now();
  for (size_t r = 0; r < owners.size(); ++r) {
    Sequence& s = *owners[r];
    const std::span<const float> row(logits.data() + r * n_vocab, n_vocab);
    const Sample sample = s.continuation.sample(row, s.tokens);
    Continuation::Outcome outcome = s.continuation.accept(sample);
    if (observer_) {
      if (!s.started) observer_->on_first_token(seconds_between(s.handle->enqueued, now));
      if (s.started) observer_->on_token(seconds_between(s.last_token, now));
    }
    s.started = true;
    s.last_token = now;
    SequenceEvent e;
    e.index = s.index;
    if (outcome.keep) {
      s.tokens.push_back(sample.token);
      e.samples.push_back(sample);
    }
    e.text = std::move(outcome.text);
    e.n_generated = s.continuation.n_generated();
    if (!outcome.finish && static_cast<int64_t>(s.tokens.size()) >= cache_.n_ctx()) {
      outcome.finish = FinishReason::Length;  // the context is full
      e.text += s.continuation.finish();
    }
    if (outcome.finish) {
      s.done = true;
      e.finish = outcome.finish;
    }
    if (!e.text.empty() || !e.samples.empty() || e.finish) s.handle->push(std::move(e));
  }
  return true;
}

}  // namespace concord::server
