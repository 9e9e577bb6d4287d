#!/usr/bin/env python3
"""Every chat template in ../shared/templates rendered by `concord template` must equal,
byte for byte, what Python Jinja2 renders with the environment Hugging Face uses for chat
templates (trim_blocks, lstrip_blocks, tojson as json.dumps without ASCII escaping,
raise_exception and strftime_now as globals). Conversations: system + user, multi-turn
with and without the generation prompt, and a tool call with its result where a template
takes tools. A template that refuses a conversation (raise_exception) must be refused by
both.

    template_oracle.py CONCORD_BINARY TEMPLATE_DIR

Exits 77 (skipped) when Jinja2 or the template directory is missing.
"""
import json
import os
import subprocess
import sys
from datetime import datetime

try:
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("skipped: Jinja2 is not installed")
    sys.exit(77)


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def python_render(source, messages, add_generation_prompt, tools):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    context = {"messages": messages, "add_generation_prompt": add_generation_prompt,
               "bos_token": "<s>", "eos_token": "</s>"}
    if tools is not None:
        context["tools"] = tools
    return env.from_string(source).render(**context)


WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city"]}}}

CONVERSATIONS = [
    ("system+user", [{"role": "system", "content": "You are terse."},
                     {"role": "user", "content": "What is 2+2?"}], True, None),
    ("multi-turn", [{"role": "user", "content": "Hi there"},
                    {"role": "assistant", "content": "Hello! How can I help?"},
                    {"role": "user", "content": "Tell me a joke, ünïcødé included ✓"}], True, None),
    ("multi-turn, no generation prompt", [{"role": "user", "content": "One"},
                                          {"role": "assistant", "content": "Two"}], False, None),
    ("tool call", [{"role": "system", "content": "Use tools when needed."},
                   {"role": "user", "content": "Weather in Paris?"},
                   {"role": "assistant", "content": "", "tool_calls": [
                       {"type": "function", "function": {"name": "get_weather",
                                                         "arguments": {"city": "Paris"}}}]},
                   {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21}"},
                   {"role": "user", "content": "Thanks"}], True, [WEATHER_TOOL]),
]


def main():
    binary, directory = sys.argv[1], sys.argv[2]
    if not os.path.isdir(directory):
        print(f"skipped: {directory} is absent")
        sys.exit(77)
    failures = 0
    cases = 0
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".jinja"):
            continue
        path = os.path.join(directory, name)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        takes_tools = "tools" in source
        for label, messages, generation, tools in CONVERSATIONS:
            if tools is not None and not takes_tools:
                continue
            cases += 1
            try:
                want, want_error = python_render(source, messages, generation, tools), None
            except TemplateError as e:
                want, want_error = None, str(e)
            cmd = [binary, "template", "--template", path, "--bos", "<s>", "--eos", "</s>",
                   "--messages", json.dumps(messages)]
            if tools is not None:
                cmd += ["--tools", json.dumps(tools)]
            if not generation:
                cmd.append("--no-generation-prompt")
            run = subprocess.run(cmd, capture_output=True)
            got = run.stdout.decode("utf-8")
            if want_error is not None:
                ok = run.returncode != 0 and want_error in run.stderr.decode("utf-8", "replace")
                detail = f"Jinja2 refused ({want_error}); concord: rc {run.returncode} {run.stderr[:200]!r}"
            else:
                ok = run.returncode == 0 and got == want
                detail = f"rc {run.returncode} {run.stderr[:300]!r}"
                if run.returncode == 0 and got != want:
                    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                    detail = f"differs at byte {at}: concord {got[at:at + 60]!r} vs Jinja2 {want[at:at + 60]!r}"
            print(f"{'ok  ' if ok else 'FAIL'} {name} [{label}]" + ("" if ok else ": " + detail))
            failures += not ok
    print(f"{cases - failures} of {cases} renders identical")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
