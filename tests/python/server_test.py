#!/usr/bin/env python3
"""Integration tests of `concord serve`, driven by the official openai SDK (PyPI) against
the real binary on 127.0.0.1 at a free port.

    server_test.py CONCORD_BINARY MODEL_GGUF

Exits 77 (skipped) when the openai package is missing.
"""
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

try:
    import openai
except ImportError:
    print("skipped: the openai package is not installed (pip install openai)")
    sys.exit(77)

BINARY = MODEL = None


class Server:
    """A `concord serve` process on a free port."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([BINARY, "serve", "--port", "0", "--backend", "cpu", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://[\d.]+:(\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError("no listening line: " + line + self.proc.stderr.read())
        self.url = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.time() + 60
        while self.get("/health")[0] != 200:
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server did not become ready: " + self.proc.stderr.read())
            time.sleep(0.05)

    def get(self, path, key=None):
        return self.request("GET", path, None, key)

    def request(self, method, path, body=None, key=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if key:
            req.add_header("Authorization", "Bearer " + key)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except urllib.error.URLError:
            return 0, ""

    def client(self, key="none"):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0)

    def metric(self, name):
        text = self.get("/metrics")[1]
        values = [float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
        return sum(values)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()
        self.proc.stderr.close()


def slow_model(directory):
    """A synthetic model slow enough here (tens of tokens/s) that a long request is still
    running when the test acts on it."""
    model = os.path.join(directory, "slow.gguf")
    subprocess.run([BINARY, "synth", "-o", model, "--layers", "8", "--width", "512", "--heads", "8",
                    "--ff", "1536", "--vocab", "8192", "--ctx", "4096", "--seed", "2"],
                   check=True, capture_output=True)
    return model


def token_count(text):
    out = subprocess.run([BINARY, "tokenize", "-m", MODEL, "--ids", text], check=True,
                         capture_output=True, text=True).stdout.split()
    return len(out)


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("-m", "test=" + MODEL, "--parallel", "4", "--ctx", "256")
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def complete(self, prompt, **kw):
        return self.client.completions.create(model="test", prompt=prompt, temperature=0, **kw)

    def stream_text(self, prompt, **kw):
        parts = []
        for chunk in self.client.completions.create(model="test", prompt=prompt, temperature=0,
                                                    stream=True, **kw):
            parts.extend(c.text for c in chunk.choices)
        return "".join(parts)

    def test_completion_and_usage(self):
        r = self.complete("Once upon a time", max_tokens=24)
        self.assertEqual(r.object, "text_completion")
        self.assertEqual(len(r.choices), 1)
        self.assertTrue(r.choices[0].text)
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertEqual(r.usage.prompt_tokens, token_count("Once upon a time"))
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)

    def test_chat(self):
        r = self.client.chat.completions.create(
            model="test", temperature=0, max_tokens=16,
            messages=[{"role": "system", "content": "You tell stories."},
                      {"role": "user", "content": "Tell me about a cat."}])
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertIsInstance(r.choices[0].message.content, str)
        self.assertGreater(r.usage.prompt_tokens, 5)

    def test_streaming_equals_non_streaming(self):
        for prompt in ("Once upon a time", "The little dog"):
            whole = self.complete(prompt, max_tokens=32).choices[0].text
            self.assertEqual(self.stream_text(prompt, max_tokens=32), whole)
        messages = [{"role": "user", "content": "Lily saw a bird."}]
        whole = self.client.chat.completions.create(model="test", messages=messages, temperature=0,
                                                    max_tokens=24).choices[0].message.content
        parts = []
        usage = None
        for chunk in self.client.chat.completions.create(
                model="test", messages=messages, temperature=0, max_tokens=24, stream=True,
                stream_options={"include_usage": True}):
            if chunk.usage:
                usage = chunk.usage
            for c in chunk.choices:
                parts.append(c.delta.content or "")
        self.assertEqual("".join(parts), whole)
        self.assertIsNotNone(usage)
        self.assertGreater(usage.completion_tokens, 0)

    def test_logprobs_shapes(self):
        r = self.complete("Once upon a time", max_tokens=8, logprobs=3)
        lp = r.choices[0].logprobs
        n = r.usage.completion_tokens
        self.assertEqual(len(lp.tokens), n)
        self.assertEqual(len(lp.token_logprobs), n)
        self.assertEqual(len(lp.top_logprobs), n)
        self.assertEqual(len(lp.text_offset), n)
        self.assertTrue(all(len(t) <= 3 for t in lp.top_logprobs))
        self.assertTrue(all(x <= 0 for x in lp.token_logprobs))
        self.assertEqual("".join(lp.tokens), r.choices[0].text)
        c = self.client.chat.completions.create(model="test", temperature=0, max_tokens=6,
                                                messages=[{"role": "user", "content": "Hi"}],
                                                logprobs=True, top_logprobs=2)
        content = c.choices[0].logprobs.content
        self.assertEqual(len(content), c.usage.completion_tokens)
        for item in content:
            self.assertEqual(len(item.top_logprobs), 2)
            self.assertEqual(bytes(item.bytes).decode("utf-8", "replace"), item.token)

    def test_n_choices(self):
        r = self.client.completions.create(model="test", prompt="Once upon a time", n=2,
                                           max_tokens=12, temperature=0.9, seed=3)
        self.assertEqual(sorted(c.index for c in r.choices), [0, 1])
        self.assertEqual(r.usage.prompt_tokens, 2 * token_count("Once upon a time"))

    def test_stop_string(self):
        free = self.complete("Once upon a time", max_tokens=40).choices[0].text
        # A two-character ASCII stop string from the middle of the free-running text.
        start = next((i for i in range(len(free) // 3, len(free) - 1)
                      if free[i:i + 2].isascii() and free[i:i + 2].isprintable()), None)
        self.assertIsNotNone(start, free)
        stop = free[start:start + 2]
        r = self.complete("Once upon a time", max_tokens=40, stop=[stop])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        self.assertEqual(r.choices[0].text, free[:free.index(stop)])

    def test_concurrent_streams_equal_single_runs(self):
        prompts = [f"{name} went to the {place}" for name in ("Tom", "Lily", "Sue", "Ben")
                   for place in ("park", "shop", "sea", "farm")]
        alone = {p: self.complete(p, max_tokens=20).choices[0].text for p in prompts}
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            together = dict(zip(prompts, pool.map(lambda p: self.stream_text(p, max_tokens=20), prompts)))
        self.assertEqual(together, alone)

    def test_errors(self):
        status, body = self.server.request("POST", "/v1/completions", None)
        self.assertEqual(status, 400)
        req = urllib.request.Request(self.server.url + "/v1/completions", data=b"{not json",
                                     method="POST")
        try:
            urllib.request.urlopen(req)
            self.fail("malformed JSON accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 400)
            err = json.loads(e.read())["error"]
            self.assertEqual(set(err), {"message", "type", "param", "code"})
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.completions.create(model="test", prompt="x", max_tokens="many")
        self.assertEqual(e.exception.body["param"], "max_tokens")
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model="test", prompt="x", temperature=7)
        with self.assertRaises(openai.NotFoundError):
            self.client.completions.create(model="no-such-model", prompt="x")
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.completions.create(model="test", prompt="word " * 400, max_tokens=4)
        self.assertIn("context", str(e.exception))
        with self.assertRaises(openai.BadRequestError):
            self.client.chat.completions.create(model="test", messages=[{"role": "robot", "content": "x"}])
        # The server still works after all that.
        self.assertTrue(self.complete("Once", max_tokens=2).choices[0].text is not None)

    def test_models_and_health(self):
        models = self.client.models.list().data
        self.assertEqual([m.id for m in models], ["test"])
        status, body = self.server.get("/v1/models/test")
        self.assertEqual(status, 200)
        described = json.loads(body)
        self.assertEqual(described["backend"]["selected"], "cpu")
        self.assertIn("weight_types", described["capabilities"])
        self.assertEqual(self.server.get("/health")[0], 200)
        self.assertIn("concord_time_to_first_token_seconds_bucket", self.server.get("/metrics")[1])


class DisconnectTest(unittest.TestCase):
    """A client that goes away mid-stream: its sequence is cancelled and its KV freed. A
    synthetic model slow enough (about 20 tokens/s here) that the stream could not have
    finished on its own."""

    def test_disconnect_frees_the_sequence(self):
        scratch = tempfile.mkdtemp()
        try:
            server = Server("-m", "slow=" + slow_model(scratch), "--ctx", "4096")
            try:
                client = server.client()
                stream = client.completions.create(model="slow", prompt="the cat", max_tokens=3000,
                                                   temperature=0, stream=True,
                                                   extra_body={"ignore_eos": True})
                for i, _ in enumerate(stream):
                    if i == 2:
                        break
                self.assertEqual(server.metric("concord_requests_running"), 1)
                stream.close()
                closed = time.time()
                while time.time() - closed < 1.0:
                    if (server.metric("concord_requests_running") == 0
                            and server.metric("concord_kv_cache_used_tokens") == 0):
                        break
                    time.sleep(0.02)
                self.assertEqual(server.metric("concord_requests_running"), 0)
                self.assertEqual(server.metric("concord_kv_cache_used_tokens"), 0)
                self.assertLess(server.metric("concord_time_per_output_token_seconds_count"), 2000)
            finally:
                server.stop()
        finally:
            shutil.rmtree(scratch)


class DrainTest(unittest.TestCase):
    """SIGTERM: the request in flight finishes, new ones are refused, the process exits 0."""

    def test_sigterm_drains_in_flight_requests(self):
        scratch = tempfile.mkdtemp()
        server = Server("-m", "slow=" + slow_model(scratch), "--ctx", "1024", "--drain-seconds", "60")
        try:
            stream = server.client().completions.create(
                model="slow", prompt="the cat", max_tokens=40, temperature=0, stream=True,
                extra_body={"ignore_eos": True})
            chunks = iter(stream)
            first = next(chunks)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            status, body = server.request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
            self.assertEqual(status, 503, body)  # refused while draining
            rest = list(chunks)
            finish = [c.choices[0].finish_reason for c in [first] + rest if c.choices]
            self.assertEqual(finish[-1], "length")
            self.assertEqual(sum(len(c.choices) for c in rest), 39)  # nothing cut short
            self.assertEqual(server.proc.wait(timeout=60), 0)
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
            server.proc.stdout.close()
            server.proc.stderr.close()
            shutil.rmtree(scratch)


class AuthAndAdminTest(unittest.TestCase):
    def test_keys_and_admin(self):
        model_dir = tempfile.mkdtemp()
        try:
            shutil.copy(MODEL, os.path.join(model_dir, "extra.gguf"))
            server = Server("-m", "test=" + MODEL, "--api-key", "secret", "--admin-key", "boss",
                            "--model-dir", model_dir)
            try:
                with self.assertRaises(openai.AuthenticationError):
                    server.client().models.list()
                with self.assertRaises(openai.AuthenticationError):
                    server.client("wrong").models.list()
                self.assertEqual(len(server.client("secret").models.list().data), 1)
                self.assertEqual(server.get("/v1/admin/models", "secret")[0], 401)
                self.assertEqual(server.request("POST", "/v1/admin/models",
                                                {"id": "x", "path": "../../etc/passwd"}, "boss")[0], 400)
                status, _ = server.request("POST", "/v1/admin/models", {"id": "extra", "path": "extra.gguf"},
                                           "boss")
                self.assertEqual(status, 201)
                ids = sorted(m.id for m in server.client("secret").models.list().data)
                self.assertEqual(ids, ["extra", "test"])
                r = server.client("secret").completions.create(model="extra", prompt="Once", max_tokens=3)
                self.assertTrue(r.choices)
                self.assertEqual(server.request("DELETE", "/v1/admin/models/extra", None, "boss")[0], 200)
                with self.assertRaises(openai.NotFoundError):
                    server.client("secret").completions.create(model="extra", prompt="Once", max_tokens=3)
            finally:
                server.stop()
        finally:
            shutil.rmtree(model_dir)


if __name__ == "__main__":
    BINARY, MODEL = sys.argv[1], sys.argv[2]
    if "serve" not in subprocess.run([BINARY, "--help"], capture_output=True, text=True).stdout:
        print("skipped: this concord was built without cpp-httplib (no `serve`)")
        sys.exit(77)
    scratch = tempfile.mkdtemp()
    if not os.path.exists(MODEL):  # ../shared absent: a synthetic model instead
        print(f"{MODEL} absent: using a synthetic model")
        MODEL = os.path.join(scratch, "synthetic.gguf")
        subprocess.run([BINARY, "synth", "-o", MODEL, "--layers", "2", "--width", "64", "--heads", "4",
                        "--ff", "128", "--vocab", "600", "--ctx", "512", "--seed", "1"], check=True,
                       capture_output=True)
    try:
        result = unittest.main(argv=sys.argv[:1], verbosity=2, exit=False).result
    finally:
        shutil.rmtree(scratch)
    sys.exit(0 if result.wasSuccessful() else 1)
