#include "server/http_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>

#include "backend/describe.h"
#include "runtime/engine.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/scheduler.h"
#include "util/error.h"

namespace concord::server {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// One loaded model with its own cache and scheduler.
struct ModelHost {
  std::string id;
  Engine engine;
  std::optional<ChatFormat> chat;  // null when its template cannot be rendered
  std::string chat_error;
  std::unique_ptr<SchedulerMetrics> observer;
  std::unique_ptr<Scheduler> scheduler;
  int64_t created = 0;

  json describe() const {
    const ModelInfo& info = engine.model->info();
    return {{"id", id},
            {"object", "model"},
            {"created", created},
            {"owned_by", "concord"},
            {"architecture", info.architecture},
            {"file", engine.model_path},
            {"context_length", engine.cache->n_ctx()},
            {"parallel", engine.cache->n_slots()},
            {"chat_format", chat ? json(chat->name) : json()},
            {"backend", provenance_json(engine.provenance)},
            {"capabilities", capabilities_json(engine.backend->capabilities())}};
  }
};

std::string random_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}-{:x}{:06x}", prefix, static_cast<uint64_t>(std::time(nullptr)),
                     counter.fetch_add(1) & 0xffffff);
}

// Generated text can hold bytes that are not UTF-8 (a model may emit any byte token):
// they become U+FFFD instead of failing the response.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status == 503) res.set_header("Retry-After", "1");
  send_json(res, e.status, e.body());
}

// Path patterns as metric labels (model ids stay out of them).
std::string endpoint_label(const std::string& path) {
  for (const char* prefix : {"/v1/models/", "/v1/admin/models/"}) {
    if (path.rfind(prefix, 0) == 0 && path.size() > std::strlen(prefix))
      return std::string(prefix) + "{id}";
  }
  return path;
}

class Server {
 public:
  Server(const ServeOptions& options) : options_(options) {
    describe_server_metrics(metrics_);
    metrics_.gauge("concord_requests_running", "Sequences holding a KV slot", [this](auto& out) {
      for (const auto& h : hosts())
        out.push_back({{{"model", h->id}}, static_cast<double>(h->scheduler->stats().running)});
    });
    metrics_.gauge("concord_requests_waiting", "Requests queued for admission", [this](auto& out) {
      for (const auto& h : hosts())
        out.push_back({{{"model", h->id}}, static_cast<double>(h->scheduler->stats().waiting)});
    });
    metrics_.gauge(
        "concord_kv_cache_usage_ratio", "Used KV-cache positions / capacity", [this](auto& out) {
          for (const auto& h : hosts()) {
            const SchedulerStats s = h->scheduler->stats();
            out.push_back({{{"model", h->id}},
                           s.kv_tokens_total > 0
                               ? static_cast<double>(s.kv_tokens_used) / s.kv_tokens_total
                               : 0.0});
          }
        });
    metrics_.gauge("concord_kv_cache_used_tokens", "Used KV-cache positions", [this](auto& out) {
      for (const auto& h : hosts())
        out.push_back(
            {{{"model", h->id}}, static_cast<double>(h->scheduler->stats().kv_tokens_used)});
    });
    routes();
  }

  int run() {
    // Signals go to the main thread's sigwait, not to handler threads.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    int port = options_.port;
    if (port == 0) {
      port = http_.bind_to_any_port(options_.host);
    } else if (!http_.bind_to_port(options_.host, port)) {
      port = -1;
    }
    if (port < 0) fail("cannot listen on {}:{}", options_.host, options_.port);
    fmt::print("listening on http://{}:{}\n", options_.host, port);
    std::fflush(stdout);
    std::thread listener([this] { http_.listen_after_bind(); });

    try {
      for (const auto& [id, path] : options_.models) load(id, path);
    } catch (const std::exception& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      http_.stop();
      listener.join();
      return 1;
    }
    ready_ = true;
    fmt::print(stderr, "ready: {} model(s), default '{}'\n", options_.models.size(), default_id_);

    int signal = 0;
    sigwait(&signals, &signal);
    fmt::print(stderr, "signal {}: draining (up to {} s)\n", signal, options_.drain_seconds);
    draining_ = true;
    const auto deadline = Clock::now() + std::chrono::duration<double>(options_.drain_seconds);
    while (Clock::now() < deadline && (active_requests_ > 0 || !all_idle()))
      std::this_thread::sleep_for(20ms);
    http_.stop();
    listener.join();
    std::lock_guard lock(hosts_mutex_);
    hosts_.clear();
    return 0;
  }

 private:
  std::vector<std::shared_ptr<ModelHost>> hosts() const {
    std::lock_guard lock(hosts_mutex_);
    std::vector<std::shared_ptr<ModelHost>> out;
    for (const auto& [id, h] : hosts_) out.push_back(h);
    return out;
  }

  bool all_idle() const {
    for (const auto& h : hosts()) {
      if (!h->scheduler->idle()) return false;
    }
    return true;
  }

  std::shared_ptr<ModelHost> load(const std::string& id, const std::string& path) {
    {
      std::lock_guard lock(hosts_mutex_);
      if (hosts_.count(id))
        throw ApiError(409, "a model with id '" + id + "' is already loaded", "id");
    }
    auto host = std::make_shared<ModelHost>();
    host->id = id;
    EngineConfig config;
    config.model_path = path;
    config.backend = options_.backend;
    config.threads = options_.threads;
    config.ctx = options_.ctx;
    config.kv_type = options_.kv_type;
    config.n_slots = options_.parallel;
    host->engine = open_engine(config);
    try {
      host->chat = chat_format_for(*host->engine.file);
    } catch (const Error& e) {
      host->chat_error = e.what();
    }
    host->observer = std::make_unique<SchedulerMetrics>(metrics_, id);
    SchedulerOptions so;
    so.max_queue = options_.max_queue;
    so.max_batch_tokens = std::max(512, options_.parallel);
    host->scheduler =
        std::make_unique<Scheduler>(*host->engine.model, *host->engine.cache,
                                    *host->engine.tokenizer, so, host->observer.get());
    host->created = static_cast<int64_t>(std::time(nullptr));
    const Provenance& p = host->engine.provenance;
    metrics_.count("concord_backend_selections_total",
                   {{"model", id}, {"requested", p.requested}, {"selected", p.selected}});
    if (p.fallback)
      metrics_.count("concord_backend_fallbacks_total", {{"model", id}, {"selected", p.selected}});
    fmt::print(stderr, "model '{}': {} on {} ({})\n", id, host->engine.model_path, p.selected,
               p.reason);
    std::lock_guard lock(hosts_mutex_);
    if (hosts_.empty() || default_id_.empty()) default_id_ = id;
    hosts_[id] = host;
    return host;
  }

  std::shared_ptr<ModelHost> find(const std::string& id) const {
    std::lock_guard lock(hosts_mutex_);
    const std::string& key = id.empty() ? default_id_ : id;
    auto it = hosts_.find(key);
    if (it == hosts_.end())
      throw ApiError(404, "the model '" + key + "' does not exist", "model",
                     "invalid_request_error", "model_not_found");
    return it->second;
  }

  bool authorized(const httplib::Request& req, const std::string& key) const {
    if (key.empty()) return true;
    return req.get_header_value("Authorization") == "Bearer " + key;
  }

  void routes() {
    http_.new_task_queue = [] { return new httplib::ThreadPool(128); };
    http_.set_payload_max_length(16u << 20);
    http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const bool admin = req.path.rfind("/v1/admin/", 0) == 0;
      const std::string& key =
          admin && !options_.admin_key.empty() ? options_.admin_key : options_.api_key;
      if (req.path.rfind("/v1/", 0) == 0 && !authorized(req, key)) {
        send_error(
            res,
            ApiError(401, admin ? "a valid admin key is required" : "invalid or missing API key",
                     "", "invalid_request_error", "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.path.rfind("/v1/", 0) == 0 && !ready_) {
        send_error(res,
                   ApiError(503, "the server is still loading its models", "", "server_error"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const Labels labels = {{"endpoint", endpoint_label(req.path)},
                             {"status", std::to_string(res.status)}};
      metrics_.count("concord_requests_total", labels);
      if (res.status >= 400) metrics_.count("concord_request_errors_total", labels);
    });
    http_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const ApiError& e) {
            send_error(res, e);
          } catch (const std::exception& e) {
            send_error(res, ApiError(500, e.what(), "", "server_error"));
          }
        });
    http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        send_error(res, ApiError(404, "no route for " + req.method + " " + req.path, "",
                                 "invalid_request_error", "not_found"));
    });

    http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, ready_ ? 200 : 503, {{"status", ready_ ? "ok" : "loading"}});
    });
    http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.render(), "text/plain; version=0.0.4");
    });
    http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json data = json::array();
      for (const auto& h : hosts()) data.push_back(h->describe());
      send_json(res, 200, {{"object", "list"}, {"data", data}});
    });
    http_.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      send_json(res, 200, find(req.matches[1])->describe());
    });
    http_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(req, res, false);
    });
    http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      complete(req, res, true);
    });
    admin_routes();
  }

  void admin_routes() {
    http_.Get("/v1/admin/models", [this](const httplib::Request&, httplib::Response& res) {
      json data = json::array();
      for (const auto& h : hosts()) {
        json d = h->describe();
        const SchedulerStats s = h->scheduler->stats();
        d["running"] = s.running;
        d["waiting"] = s.waiting;
        d["default"] = h->id == default_id_;
        data.push_back(d);
      }
      send_json(res, 200, {{"object", "list"}, {"data", data}});
    });
    http_.Post("/v1/admin/models", [this](const httplib::Request& req, httplib::Response& res) {
      const json body = parse_body(req);
      if (!body.is_object() || !body.value("id", json()).is_string() ||
          !body.value("path", json()).is_string())
        throw ApiError(400, "expected {\"id\": string, \"path\": string}");
      const std::string id = body["id"], path = body["path"];
      if (id.empty()) throw ApiError(400, "'id' must not be empty", "id");
      send_json(res, 201, load(id, resolve_in_model_dir(path))->describe());
    });
    http_.Delete(R"(/v1/admin/models/(.+))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   const std::string id = req.matches[1];
                   std::lock_guard lock(hosts_mutex_);
                   if (!hosts_.erase(id))
                     throw ApiError(404, "the model '" + id + "' does not exist", "id",
                                    "invalid_request_error", "model_not_found");
                   if (default_id_ == id) default_id_ = hosts_.empty() ? "" : hosts_.begin()->first;
                   send_json(res, 200, {{"id", id}, {"object", "model"}, {"deleted", true}});
                 });
  }

  // A path given to the admin API, inside --model-dir (no escapes through .. or links).
  std::string resolve_in_model_dir(const std::string& path) const {
    namespace fs = std::filesystem;
    if (options_.model_dir.empty())
      throw ApiError(403, "loading models at run time needs --model-dir", "path",
                     "permission_error");
    const fs::path dir = fs::canonical(options_.model_dir);
    std::error_code ec;
    const fs::path full = fs::weakly_canonical(dir / path, ec);
    const std::string prefix = dir.string() + "/";
    if (ec || full.string().rfind(prefix, 0) != 0)
      throw ApiError(400, "'" + path + "' is outside the model directory", "path");
    if (!fs::is_regular_file(full))
      throw ApiError(404, "no model file '" + path + "' in the model directory", "path");
    return full.string();
  }

  static json parse_body(const httplib::Request& req) {
    try {
      return json::parse(req.body);
    } catch (const json::parse_error& e) {
      throw ApiError(400, std::string("the body is not valid JSON: ") + e.what());
    }
  }

  struct Job {  // one prompt's sequences
    std::shared_ptr<RequestHandle> handle;
    int prompt_tokens = 0;
    int first_choice = 0;
  };

  void complete(const httplib::Request& req, httplib::Response& res, bool chat) {
    if (draining_) throw ApiError(503, "the server is shutting down", "", "server_error");
    CompletionRequest request = parse_completion_request(parse_body(req), chat);
    std::shared_ptr<ModelHost> host = find(request.model);
    const Tokenizer& tok = *host->engine.tokenizer;
    std::vector<std::vector<TokenId>> prompts;
    if (chat) {
      if (!host->chat) throw ApiError(400, host->chat_error, "messages");
      try {
        prompts.push_back(host->chat->tokenize(tok, request.messages, true));
      } catch (const Error& e) {  // e.g. the template refuses the conversation
        throw ApiError(400, e.what(), "messages");
      }
      if (const TokenId end = end_of_turn_token(*host->chat, tok.vocab()); end >= 0) {
        request.params.stop_tokens.push_back(end);
      } else if (!host->chat->end_is_token()) {
        request.params.stop.push_back(host->chat->end_of_turn());
      }
    } else {
      for (const std::string& p : request.prompts) prompts.push_back(tok.encode(p, true));
    }
    if (request.n > host->engine.cache->n_slots())
      throw ApiError(400,
                     fmt::format("n = {} exceeds the {} parallel sequences", request.n,
                                 host->engine.cache->n_slots()),
                     "n");
    for (const auto& bias : request.params.sampling.logit_bias) {
      if (bias.first >= host->engine.model->info().n_vocab)
        throw ApiError(400, fmt::format("token id {} is outside the vocabulary", bias.first),
                       "logit_bias");
    }
    for (const auto& p : prompts) {
      if (static_cast<int64_t>(p.size()) + 1 > host->engine.cache->n_ctx())
        throw ApiError(400,
                       fmt::format("the prompt has {} tokens but the context holds {}", p.size(),
                                   host->engine.cache->n_ctx()),
                       chat ? "messages" : "prompt", "invalid_request_error",
                       "context_length_exceeded");
    }
    auto jobs = std::make_shared<std::vector<Job>>();
    for (size_t i = 0; i < prompts.size(); ++i) {
      try {
        jobs->push_back({host->scheduler->submit({prompts[i], request.params, request.n}),
                         static_cast<int>(prompts[i].size()), static_cast<int>(i) * request.n});
      } catch (const QueueFull&) {
        for (Job& j : *jobs) j.handle->cancel();
        throw ApiError(503, "the server is busy: the request queue is full", "", "server_error",
                       "queue_full");
      } catch (const Error& e) {
        for (Job& j : *jobs) j.handle->cancel();
        throw ApiError(400, e.what());
      }
      metrics_.count("concord_prompt_tokens_total", {{"model", host->id}},
                     static_cast<double>(prompts[i].size()));
    }
    if (request.stream) {
      stream(res, host, std::make_shared<CompletionRequest>(std::move(request)), jobs);
    } else {
      respond(res, *host, request, *jobs);
    }
  }

  json response_head(const std::string& id, const CompletionRequest& r, const ModelHost& host,
                     bool chunk) const {
    const char* object =
        r.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    return {{"id", id}, {"object", object}, {"created", std::time(nullptr)}, {"model", host.id}};
  }

  void respond(httplib::Response& res, ModelHost& host, const CompletionRequest& r,
               std::vector<Job>& jobs) {
    // Counted as in flight while it runs; on any exit its unfinished sequences are dropped.
    ++active_requests_;
    struct Done {
      std::atomic<int>& n;
      std::vector<Job>& jobs;
      ~Done() {
        for (Job& j : jobs) j.handle->cancel();
        --n;
      }
    } done{active_requests_, jobs};
    std::vector<ChoiceResult> choices(jobs.size() * static_cast<size_t>(r.n));
    int prompt_tokens = 0;
    for (Job& job : jobs) {
      prompt_tokens += job.prompt_tokens * r.n;
      while (!job.handle->finished()) {
        SequenceEvent e;
        if (!job.handle->next(e, 100ms)) continue;
        if (e.error) throw ApiError(500, *e.error, "", "server_error");
        ChoiceResult& c = choices[static_cast<size_t>(job.first_choice + e.index)];
        c.text += e.text;
        c.samples.insert(c.samples.end(), e.samples.begin(), e.samples.end());
        c.n_generated = e.n_generated;
        if (e.finish) c.finish = *e.finish;
      }
    }
    json out = response_head(random_id(r.chat ? "chatcmpl" : "cmpl"), r, host, false);
    json list = json::array();
    int generated = 0;
    const Tokenizer& tok = *host.engine.tokenizer;
    for (size_t i = 0; i < choices.size(); ++i) {
      const ChoiceResult& c = choices[i];
      generated += static_cast<int>(c.samples.size());
      json choice = {{"index", i}, {"finish_reason", finish_reason_text(c.finish)}};
      choice["logprobs"] = r.logprobs >= 0 ? logprobs_json(r, tok, c.samples) : json();
      if (r.chat) {
        choice["message"] = {{"role", "assistant"}, {"content", c.text}};
      } else {
        choice["text"] = c.text;
      }
      list.push_back(choice);
    }
    out["choices"] = list;
    out["usage"] = usage_json(prompt_tokens, generated);
    metrics_.count("concord_generated_tokens_total", {{"model", host.id}}, generated);
    send_json(res, 200, out);
  }

  void stream(httplib::Response& res, std::shared_ptr<ModelHost> host,
              std::shared_ptr<CompletionRequest> r, std::shared_ptr<std::vector<Job>> jobs) {
    ++active_requests_;
    const std::string id = random_id(r->chat ? "chatcmpl" : "cmpl");
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, host, r, jobs, id](size_t, httplib::DataSink& sink) {
          try {
            return stream_events(sink, *host, *r, *jobs, id);
          } catch (const std::exception& e) {  // never let an exception end the process
            for (Job& j : *jobs) j.handle->cancel();
            const std::string line =
                "data: " + dump({{"error", {{"message", e.what()}, {"type", "server_error"}}}}) +
                "\n\n";
            sink.write(line.data(), line.size());
            return false;
          }
        },
        [this, jobs](bool) {
          for (Job& j : *jobs) j.handle->cancel();  // no-op when finished
          --active_requests_;
        });
  }

  // Writes the request's events as Server-Sent Events until every sequence has finished;
  // false (and the request cancelled) when the client goes away.
  bool stream_events(httplib::DataSink& sink, ModelHost& host, const CompletionRequest& request,
                     std::vector<Job>& jobs, const std::string& id) {
    auto send = [&sink](const json& j) {
      const std::string line = "data: " + dump(j) + "\n\n";
      return sink.write(line.data(), line.size());
    };
    const Tokenizer& tok = *host.engine.tokenizer;
    int generated = 0, prompt_tokens = 0;
    std::vector<bool> started(jobs.size() * static_cast<size_t>(request.n), false);
    for (Job& job : jobs) prompt_tokens += job.prompt_tokens * request.n;
    auto cancel_all = [&] {
      for (Job& j : jobs) j.handle->cancel();
    };
    for (Job& job : jobs) {
      while (!job.handle->finished()) {
        SequenceEvent e;
        if (!job.handle->next(e, 50ms)) {
          if (!sink.is_writable()) {  // the client went away
            cancel_all();
            return false;
          }
          continue;
        }
        const size_t index = static_cast<size_t>(job.first_choice + e.index);
        json chunk = response_head(id, request, host, true);
        json choice = {{"index", index},
                       {"finish_reason", e.finish ? json(finish_reason_text(*e.finish)) : json()}};
        if (e.error) {
          send({{"error", {{"message", *e.error}, {"type", "server_error"}}}});
          cancel_all();
          return false;
        }
        generated += static_cast<int>(e.samples.size());
        choice["logprobs"] =
            request.logprobs >= 0 ? logprobs_json(request, tok, e.samples) : json();
        if (request.chat) {
          json delta = json::object();
          if (!started[index]) delta["role"] = "assistant";
          if (!e.text.empty() || !started[index]) delta["content"] = e.text;
          choice["delta"] = delta;
        } else {
          choice["text"] = e.text;
        }
        started[index] = true;
        chunk["choices"] = json::array({choice});
        if (!send(chunk)) {
          cancel_all();
          return false;
        }
      }
    }
    if (request.include_usage) {
      json chunk = response_head(id, request, host, true);
      chunk["choices"] = json::array();
      chunk["usage"] = usage_json(prompt_tokens, generated);
      send(chunk);
    }
    metrics_.count("concord_generated_tokens_total", {{"model", host.id}}, generated);
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  }

  ServeOptions options_;
  Metrics metrics_;
  httplib::Server http_;
  mutable std::mutex hosts_mutex_;
  std::map<std::string, std::shared_ptr<ModelHost>> hosts_;
  std::string default_id_;
  std::atomic<bool> ready_{false}, draining_{false};
  std::atomic<int> active_requests_{0};
};

}  // namespace

int serve(const ServeOptions& options) {
  Server server(options);
  return server.run();
}

}  // namespace concord::server
