// End-to-end runs of the concord binary: synth -> gguf -> quantize, and its error paths.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/synth.h"
#include "quant/quant.h"

namespace concord {
namespace {

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& args, const std::string& env = "") {
  const std::string command = env + std::string(CONCORD_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(Cli, SynthThenGgufJsonShowsTheRequestedModel) {
  test::TempDir dir;
  const std::string model = dir.file("m.gguf");
  const Result synth = run("synth -o " + model +
                           " --layers 3 --width 128 --heads 4 --kv-heads 2 --ff 256 --vocab 400"
                           " --ctx 64 --type q8_0 --tied --seed 7");
  ASSERT_EQ(synth.exit_code, 0) << synth.output;
  const Result info = run("gguf --json " + model);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  const auto j = nlohmann::json::parse(info.output);
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["metadata"]["llama.block_count"]["value"], 3);
  EXPECT_EQ(j["metadata"]["llama.attention.head_count_kv"]["value"], 2);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["value"]["length"], 400);
  EXPECT_EQ(j["tensors"].size(), 1u + 3 * 9 + 1);  // tied: no output.weight
  for (const auto& t : j["tensors"]) {
    EXPECT_EQ(t["type"], t["shape"].size() == 2 ? "Q8_0" : "F32") << t["name"];
  }
  const Result text = run("gguf " + model);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("blk.2.ffn_down.weight"), std::string::npos);
}

TEST(Cli, QuantizeOutputLoadsAndStaysCloseToTheSource) {
  test::TempDir dir;
  const std::string src = dir.file("f32.gguf"), dst = dir.file("q6k.gguf");
  ASSERT_EQ(run("synth -o " + src + " --width 256 --ff 512 --heads 4 --layers 1").exit_code, 0);
  const Result q = run("quantize " + src + " " + dst + " Q6_K");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const gguf::File a = gguf::File::open(src), b = gguf::File::open(dst);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  EXPECT_EQ(b.get_int("general.file_type"), 18);  // llama.cpp's MOSTLY_Q6_K
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const gguf::TensorInfo &ta = a.tensors()[i], &tb = b.tensors()[i];
    EXPECT_EQ(tb.type, ta.shape.size() == 2 ? GgmlType::Q6_K : GgmlType::F32);
    const auto x = dequantize(ta.type, ta.data, ta.n_elements());
    const auto y = dequantize(tb.type, tb.data, tb.n_elements());
    double err2 = 0, ref2 = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      err2 += (x[k] - y[k]) * (x[k] - y[k]);
      ref2 += x[k] * x[k];
    }
    EXPECT_LE(err2 / ref2, 1e-3) << ta.name;  // Q6_K NMSE on Gaussian weights is ~4e-4
  }
}

// A mix by name, as llama.cpp's Q4_K_M files hold it: Q6_K for the output and for the value
// and down projections of layers 0, 3, 6 and 7 of 8; Q4_K for the other matrices.
TEST(Cli, QuantizeToAMixKeepsSensitiveMatricesInQ6K) {
  test::TempDir dir;
  const std::string src = dir.file("f32.gguf"), dst = dir.file("q4km.gguf");
  ASSERT_EQ(run("synth -o " + src + " --width 256 --ff 512 --heads 4 --layers 8").exit_code, 0);
  const Result q = run("quantize " + src + " " + dst + " q4_k_m");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  EXPECT_NE(q.output.find("Q4_K_M weights"), std::string::npos) << q.output;
  const gguf::File b = gguf::File::open(dst);
  EXPECT_EQ(b.get_int("general.file_type"), 15);  // llama.cpp's MOSTLY_Q4_K_M
  int q6 = 0;
  for (const gguf::TensorInfo& t : b.tensors()) {
    if (t.shape.size() != 2) continue;
    const bool sensitive = t.name == "output.weight" || t.name.ends_with(".attn_v.weight") ||
                           t.name.ends_with(".ffn_down.weight");
    EXPECT_EQ(t.type == GgmlType::Q6_K, t.type != GgmlType::Q4_K) << t.name;
    if (t.type == GgmlType::Q6_K) {
      EXPECT_TRUE(sensitive) << t.name;
      ++q6;
    }
  }
  EXPECT_EQ(q6, 1 + 2 * 4);  // output, and attn_v + ffn_down of 4 layers
  const Result text = run("run -m " + dst + " -p hello -n 4 --backend cpu");
  EXPECT_EQ(text.exit_code, 0) << text.output;
}

TEST(Cli, BadInputGivesOneClearLineAndNonZeroExit) {
  test::TempDir dir;
  const std::string junk = dir.file("junk.gguf");
  std::ofstream(junk) << "this is not a model";
  const struct {
    std::string args, expected;
  } cases[] = {
      {"gguf /nonexistent.gguf", "error: cannot open '/nonexistent.gguf'"},
      {"gguf " + junk, "not a GGUF file"},
      {"quantize " + junk + " " + dir.file("o.gguf") + " q4_k", "not a GGUF file"},
      {"synth -o " + dir.file("x.gguf") + " --type q9", "unknown weight type 'q9'"},
      {"synth -o " + dir.file("x.gguf") + " --type q4_k --width 64",
       "not a multiple of the Q4_K block size 256"},
      {"synth -o " + dir.file("x.gguf") + " --heads 3", "not divisible by 3 heads"},
  };
  for (const auto& c : cases) {
    const Result r = run(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << " -> " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(Cli, QuantizeRefusesRowsTheFormatCannotHold) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  test::TempDir dir;
  const Result r = run("quantize " + test::shared_file("models/stories260K.gguf").string() + " " +
                       dir.file("q.gguf") + " q4_0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("rows of 172 elements"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("q.gguf")));
}

// A synthetic model rewritten with one metadata value or one tensor changed.
std::string altered_model(const test::TempDir& dir, const std::string& name,
                          const std::string& architecture, const std::string& drop_tensor) {
  SynthOptions o;
  o.hparams.n_layer = 1;
  const gguf::File src = gguf::File::parse(synthesize(o).to_bytes(), "synth");
  gguf::Writer w;
  for (const auto& [key, value] : src.metadata()) w.set(key, value);
  w.set("general.architecture", architecture);
  for (const auto& t : src.tensors()) {
    if (t.name != drop_tensor)
      w.add_tensor(t.name, t.type, t.shape, {t.data.begin(), t.data.end()});
  }
  const std::string path = dir.file(name);
  w.write_file(path);
  return path;
}

TEST(CliRun, BadInputGivesOneClearLineAndNonZeroExit) {
  test::TempDir dir;
  const std::string junk = dir.file("junk.gguf");
  std::ofstream(junk) << "GGUF but not really";
  const std::string bert = altered_model(dir, "bert.gguf", "bert", "");
  const std::string holed = altered_model(dir, "holed.gguf", "llama", "blk.0.ffn_up.weight");
  const std::string good = altered_model(dir, "good.gguf", "llama", "");
  const struct {
    std::string args, expected;
  } cases[] = {
      {"run -m /nonexistent.gguf -p hi", "cannot open '/nonexistent.gguf'"},
      {"run -m " + junk + " -p hi", "unsupported GGUF version 1953849888"},
      {"run -m " + bert + " -p hi",
       "unsupported architecture 'bert' (supported: llama, gemma, gemma2, gemma3, qwen2, qwen3)"},
      {"run -m " + holed + " -p hi", "missing tensor 'blk.0.ffn_up.weight'"},
      {"run -m " + good + " --ctx 8 -p 'a prompt that is far too long for eight tokens'",
       "but the context holds 8"},
      {"run -m " + good + " -p hi --backend tpu", "unknown backend 'tpu'"},
      {"run -m " + good + " -p hi --top-p 0", "top_p 0 must be in (0, 1]"},
      {"run -m " + good + " -p hi --kv-type q8", "KV cache type must be f16 or f32"},
  };
  for (const auto& c : cases) {
    const Result r = run(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << " -> " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(CliRun, StoriesGreedyCompletionWithStopString) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const std::string model = test::shared_file("models/stories260K.gguf").string();
  const Result r = run("run -m " + model + " -p 'Once upon a time' --temp 0 -n 40");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u)
      << r.output;
  // "named Lily" spans several tokens; it must not be emitted, and generation stops.
  const Result s =
      run("run -m " + model + " -p 'Once upon a time' --temp 0 -n 40 --stop 'named Lily'");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(s.output, "Once upon a time, there was a little girl \n");
}

TEST(CliBench, TestsAtADepthAndClearErrors) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const std::string model = test::shared_file("models/stories260K.gguf").string();
  const Result r = run("bench -m " + model + " --backend cpu -p 16 -n 8 -d 32 -r 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["test"], "pp16 @ d32");
  EXPECT_EQ(j["results"][1]["test"], "tg8 @ d32");
  EXPECT_GT(j["results"][1]["tokens_per_second"].get<double>(), 0.0);
  // Prompt rows carry the matrix FLOP rate against the measured matmul, generation rows the
  // bandwidth against the measured copy.
  const auto& pp = j["results"][0];
  const auto& tg = j["results"][1];
  EXPECT_GT(pp["matmul_tflops"].get<double>(), 0.0);
  EXPECT_NEAR(pp["matmul_ratio"].get<double>(),
              pp["tflops"].get<double>() / pp["matmul_tflops"].get<double>(), 1e-9);
  EXPECT_FALSE(pp.contains("bandwidth_ratio"));
  EXPECT_GT(tg["bandwidth_ratio"].get<double>(), 0.0);
  EXPECT_FALSE(tg.contains("matmul_ratio"));
  // -b decodes several sequences together: t/s counts every sequence's tokens.
  const Result batched = run("bench -m " + model + " --backend cpu -p 0 -n 4 -b 3 -r 1 --json");
  ASSERT_EQ(batched.exit_code, 0) << batched.output;
  const auto b = nlohmann::json::parse(batched.output);
  ASSERT_EQ(b["results"].size(), 1u);
  EXPECT_EQ(b["results"][0]["test"], "tg4 x3");
  EXPECT_GT(b["results"][0]["tokens_per_second"].get<double>(), 0.0);
  const Result no_sequences = run("bench -m " + model + " -b 0");
  EXPECT_NE(no_sequences.exit_code, 0);
  EXPECT_NE(no_sequences.output.find("-b must be 1 to 64"), std::string::npos)
      << no_sequences.output;
  const Result negative = run("bench -m " + model + " -d -1");
  EXPECT_NE(negative.exit_code, 0);
  EXPECT_NE(negative.output.find("-d >= 0"), std::string::npos) << negative.output;
  const Result too_deep = run("bench -m " + model + " --backend cpu -d 100 -c 64");
  EXPECT_NE(too_deep.exit_code, 0);
  EXPECT_NE(too_deep.output.find("needs a context of 613"), std::string::npos) << too_deep.output;
}

TEST(CliTokenize, StoriesPromptIds) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const Result r = run("tokenize -m " + test::shared_file("models/stories260K.gguf").string() +
                       " --ids 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "1 403 407 261 378\n");  // the golden prompt_tokens
}

TEST(CliParity, ModelParityWritesAReceipt) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  test::TempDir dir;
  const std::string receipt = dir.file("receipt.json");
  const Result r = run("parity -m " + test::shared_file("models/stories260K.gguf").string() +
                           " --backends ref,cpu -n 32 --receipt " + receipt,
                       "CONCORD_CUDA_TENSOR_DECODE=0 ");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(receipt);
  const auto j = nlohmann::json::parse(in);
  EXPECT_TRUE(j["passed"].get<bool>());
  // Kernel-path switches are recorded with the results they produced.
  EXPECT_EQ(j["environment"]["CONCORD_CUDA_TENSOR_DECODE"], "0");
  EXPECT_EQ(j["model"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(j["backends"]["reference"]["name"], "cpu-ref");
  EXPECT_EQ(j["backends"]["under_test"]["name"], "cpu");
  EXPECT_EQ(j["results"]["prompts"].size(), 4u);
}

TEST(CliParity, OpHarnessFromTheCommandLine) {
  const Result r = run("parity --ops --backend cpu --op swiglu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0 failed"), std::string::npos) << r.output;
  EXPECT_NE(run("parity --ops --op nonsense").output.find("unknown op 'nonsense'"),
            std::string::npos);
}

TEST(CliSelection, UnavailableCudaFallsBackVisiblyAndStrictModeRefuses) {
  CONCORD_REQUIRE_SHARED("models/stories260K.gguf");
  const std::string model = test::shared_file("models/stories260K.gguf").string();
  const Result probe = run("probe --json");
  ASSERT_EQ(probe.exit_code, 0);
  if (nlohmann::json::parse(probe.output)["backends"][0]["available"].get<bool>()) {
    GTEST_SKIP() << "CUDA is usable here: no fallback to observe";
  }
  const Result fallback = run("run -m " + model + " -p Hi -n 4 --temp 0 --backend cuda");
  EXPECT_EQ(fallback.exit_code, 0) << fallback.output;
  EXPECT_NE(
      fallback.output.find(
          "backend: requested=cuda detected=[cpu,cpu-ref] selected=cpu reason=fallback (cuda: "),
      std::string::npos)
      << fallback.output;
  const Result strict = run("run -m " + model + " -p Hi -n 4 --backend cuda", "CONCORD_STRICT=1 ");
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_NE(strict.output.find("CONCORD_STRICT=1 forbids falling back"), std::string::npos)
      << strict.output;
  const Result env = run("run -m " + model + " -p Hi -n 4", "CONCORD_BACKEND=cuda ");
  EXPECT_NE(env.output.find("requested=cuda"), std::string::npos) << env.output;
}

}  // namespace
}  // namespace concord
