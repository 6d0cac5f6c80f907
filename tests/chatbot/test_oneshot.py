#!/usr/bin/env python3
"""hookline-chat one-shot mode: -p prints the answer and exits 0, --json
reports the answer, the tool calls and usage, errors give a clear message on
stderr and a non-zero exit. Runs the offline model and a real OpenAI-format
HTTP server on 127.0.0.1 (model_server.py).

Usage: test_oneshot.py PATH/TO/hookline-chat
"""
import atexit
import json
import os
import shutil
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import ModelServer, check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
HAVE_SANDBOX = len(sys.argv) > 2 and sys.argv[2] in ("sandbox", "sandbox+python")
HAVE_PYTHON = len(sys.argv) > 2 and sys.argv[2] == "sandbox+python"
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = tempfile.mkdtemp(prefix="hlchat-oneshot-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)


def chat(*args, env=None, timeout=60):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          env=env or ENV, timeout=timeout, stdin=subprocess.DEVNULL)


def test_offline_answer_uses_the_calculator():
    r = chat("-p", "what is 17*23?")
    check(r.returncode == 0, f"exit 0, got {r.returncode}: {r.stderr}")
    check("391" in r.stdout, f"the answer contains 391: {r.stdout!r}")
    check(r.stdout.endswith("\n"), "the answer ends with a newline")


def test_offline_json_reports_the_tool_call():
    r = chat("-p", "what is 17*23?", "--json")
    check(r.returncode == 0, f"exit 0, got {r.returncode}: {r.stderr}")
    out = json.loads(r.stdout)
    check("391" in out["answer"], f"answer contains 391: {out['answer']!r}")
    check(out["error"] is None, "no error")
    calls = out["tool_calls"]
    check(len(calls) == 1, f"one tool call: {calls}")
    if calls:
        check(calls[0]["name"] == "calculator", "the calculator ran")
        check(calls[0]["arguments"] == {"expression": "17*23"}, f"its arguments: {calls[0]}")
        check(calls[0]["result"] == "391", f"the calculator computed 391: {calls[0]}")
        check(calls[0]["error"] is None, "the tool call succeeded")
    check(out["turns"] == 2, f"two model turns (tool call, answer): {out['turns']}")
    check(out["provider"] == "scripted", "the offline model is the scripted provider")
    check(set(out["usage"]) >= {"input_tokens", "output_tokens"}, "usage is reported")


def test_clock_tool_tells_the_time():
    import datetime
    r = chat("-p", "what time is it in UTC?", "--json")
    out = json.loads(r.stdout)
    calls = out["tool_calls"]
    check(len(calls) == 1 and calls[0]["name"] == "clock" and calls[0]["arguments"] == {"utc": True},
          f"the clock ran in UTC: {calls}")
    if calls and isinstance(calls[0]["result"], str):
        m = re.search(r"\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)Z\)", calls[0]["result"])
        check(m is not None, f"ISO 8601 time in the result: {calls[0]['result']!r}")
        if m:
            told = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
            now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            check(abs((now - told).total_seconds()) < 300, f"the time is now: {told} vs {now}")
        check(calls[0]["result"] in out["answer"], "the answer quotes the clock")


def test_calculator_errors_reach_the_answer():
    r = chat("-p", "what is 1/0", "--json")
    out = json.loads(r.stdout)
    check(r.returncode == 0, "a failing tool is not a failing run")
    calls = out["tool_calls"]
    check(len(calls) == 1 and calls[0]["error"] is not None
          and "division by zero" in calls[0]["error"]["message"],
          f"the tool call failed with a clear message: {calls}")
    check("division by zero" in out["answer"], f"the model saw the error: {out['answer']!r}")


def test_openai_server_round_trip():
    with ModelServer() as s:
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "test-model",
                 "-p", "what is 6*7?", "--json")
        check(r.returncode == 0, f"exit 0, got {r.returncode}: {r.stderr}")
        out = json.loads(r.stdout) if r.stdout else {}
        check(out.get("answer") == "The answer is 42.", f"answer from the server: {out}")
        calls = out.get("tool_calls", [])
        check(len(calls) == 1 and calls[0]["name"] == "calculator"
              and calls[0]["result"] == "42", f"the calculator ran locally: {calls}")
        check(out.get("usage", {}).get("input_tokens") == 24,
              f"usage summed over both calls: {out.get('usage')}")
        reqs = s.requests()
        check(len(reqs) == 2, f"two model calls, got {len(reqs)}")
        if len(reqs) == 2:
            first, second = reqs[0]["body"], reqs[1]["body"]
            check(first["model"] == "test-model", "--model is sent")
            names = sorted(t["function"]["name"] for t in first.get("tools", []))
            want = ["calculator", "clock"] + (["run_javascript"] if HAVE_SANDBOX else []) + \
                (["run_python"] if HAVE_PYTHON else [])
            check(names == want, f"tools declared: {names}, expected {want}")
            tool_msgs = [m for m in second["messages"] if m["role"] == "tool"]
            check(len(tool_msgs) == 1 and tool_msgs[0]["content"] == "42",
                  f"the tool result went back to the model: {tool_msgs}")

        # Plain -p: the answer alone on stdout.
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "m",
                 "-p", "what is 2^10")
        check(r.returncode == 0 and r.stdout == "The answer is 1024.\n",
              f"plain answer: {r.returncode} {r.stdout!r} {r.stderr!r}")


def test_against_the_providers_test_server():
    text = "Hello, world! Caf\u00e9 \u20ac5 \U0001F600 done."
    # The providers suite's local server speaks both the OpenAI and the
    # Anthropic wire formats; the scenario is the model name before '@'.
    with ModelServer(os.path.join(HERE, "..", "providers", "server.py")) as s:
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "text@chat-openai",
                 "-p", "hi")
        check(r.returncode == 0 and r.stdout == text + "\n",
              f"OpenAI format, UTF-8 answer: {r.returncode} {r.stdout!r} {r.stderr!r}")
        env = dict(ENV, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
        r = chat("--base-url", s.base, "--model", "text@chat-anthropic", "-p", "hi", env=env)
        check(r.returncode == 0 and r.stdout == text + "\n",
              f"ANTHROPIC_API_KEY selects Anthropic: {r.returncode} {r.stdout!r} {r.stderr!r}")
        # The model asks for tools this chatbot does not have: each becomes a
        # NotFound result the model sees, and the run still answers.
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "agent@chat",
                 "-p", "weather?", "--json")
        out = json.loads(r.stdout) if r.stdout else {}
        check(r.returncode == 0 and out.get("answer", "").startswith("Final: "),
              f"unknown tools do not break the run: {r.returncode} {out} {r.stderr!r}")
        calls = out.get("tool_calls", [])
        # Parallel calls are listed as they end, in either order.
        check(sorted(c["name"] for c in calls) == ["get_time", "get_weather"]
              and all(c["error"] and c["error"]["status"] == "NotFound" for c in calls),
              f"both calls are NotFound: {calls}")
        # A refused key: a clear message that never shows the key itself.
        env = dict(ENV, OPENAI_API_KEY="sk-secret-key-abcdef123456")
        r = chat("--base-url", s.base, "--model", "auth@chat", "-p", "hi", env=env)
        check(r.returncode == 1 and "Incorrect API key" in r.stderr,
              f"auth failure explained: {r.returncode} {r.stderr!r}")
        check("sk-secret-key-abcdef123456" not in r.stderr + r.stdout,
              f"the key is never printed: {r.stderr!r}")


def test_no_stream_option():
    with ModelServer() as s:
        args = [BIN, "--provider", "openai", "--base-url", s.base, "--model", "m"]
        r = subprocess.run(args, input="what is 3*3\n", capture_output=True, text=True,
                           env=ENV, timeout=60)
        r2 = subprocess.run(args + ["--no-stream"], input="what is 3*3\n", capture_output=True,
                            text=True, env=ENV, timeout=60)
        check("The answer is 9." in r.stdout and "The answer is 9." in r2.stdout,
              f"both answer: {r.stdout!r} {r2.stdout!r}")
        streams = [q["body"].get("stream", False) for q in s.requests()]
        check(streams == [True, True, False, False],
              f"the REPL streams unless --no-stream: {streams}")


def test_api_key_selects_openai():
    with ModelServer() as s:
        env = dict(ENV, OPENAI_API_KEY="sk-test-key-123")
        r = chat("--base-url", s.base, "--model", "m", "-p", "what is 1+1", env=env)
        check(r.returncode == 0 and "The answer is 2." in r.stdout,
              f"OPENAI_API_KEY picks the OpenAI provider: {r.stdout!r} {r.stderr!r}")
        reqs = s.requests()
        check(bool(reqs) and reqs[0]["authorization"] == "Bearer sk-test-key-123",
              "the key is sent as a bearer token")


def test_errors_are_clear_and_non_zero():
    with ModelServer() as s:
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "unauthorized",
                 "-p", "hi", "--json")
        check(r.returncode != 0, "a refused key fails the run")
        check("hookline-chat:" in r.stderr and "Incorrect API key" in r.stderr,
              f"stderr explains: {r.stderr!r}")
        out = json.loads(r.stdout)
        check(out["answer"] is None and out["error"]["status"].startswith("Auth"),
              f"--json reports the error: {out}")

    # Nothing listens on this port (bound, then closed).
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    r = chat("--provider", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
             "--model", "m", "-p", "hi")
    check(r.returncode != 0 and r.stdout == "", f"connection refused fails: {r.returncode}")
    check("hookline-chat:" in r.stderr, f"with a message: {r.stderr!r}")

    script = os.path.join(TMP, "empty.json")
    with open(script, "w") as f:
        f.write('{"rules": []}')
    r = chat("--script", script, "-p", "anything")
    check(r.returncode == 1 and "exhausted" in r.stderr,
          f"an exhausted script is an error: {r.returncode} {r.stderr!r}")

    r = chat("--script", os.path.join(TMP, "missing.json"), "-p", "x")
    check(r.returncode == 1 and "missing.json" in r.stderr, f"missing script: {r.stderr!r}")


def test_guardrail_keeps_secrets_from_the_model():
    r = chat("-p", "please use my key sk-abcdefghijklmnopqrstuvwxyz0123 for this", "--json")
    check(r.returncode == 0, f"a refusal is an answer: {r.returncode} {r.stderr!r}")
    out = json.loads(r.stdout)
    check("input guardrail" in out["answer"], f"the guardrail's refusal: {out['answer']!r}")
    check(out["turns"] == 0 and out["tool_calls"] == [],
          f"no model call and no tool ran: turns={out['turns']} calls={out['tool_calls']}")
    r = chat("-p", "what is 2+3", "--json")
    check("5" in json.loads(r.stdout)["answer"], "ordinary questions pass the guardrail")
    for text in ("ask-me-anything-about-this-topic-please", "my task-management-system-design"):
        r = chat("-p", text, "--json")
        out = json.loads(r.stdout)
        check("guardrail" not in out["answer"] and out["turns"] == 1,
              f"hyphenated prose is not a key: {text!r} -> {out['answer']!r}")
    for secret in ("sk-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQr", "token ghp_0123456789abcdefghijABCDEFGHIJ",
                   "-----BEGIN RSA PRIVATE KEY-----"):
        r = chat("-p", f"here: {secret}", "--json")
        check("input guardrail" in json.loads(r.stdout)["answer"], f"blocked: {secret!r}")


def test_javascript_tool_when_the_sandbox_is_built():
    r = chat("-p", "run some javascript", "--json")
    check(r.returncode == 0, f"exit 0: {r.stderr!r}")
    out = json.loads(r.stdout)
    names = [c["name"] for c in out["tool_calls"]]
    if not HAVE_SANDBOX:
        # Left out cleanly: no run_javascript tool, the model was not told of one.
        check("run_javascript" not in names, f"no JavaScript tool without the sandbox: {names}")
        return
    # The program calls the calculator from inside JavaScript (code mode):
    # the nested call goes through the same tool path and is reported too.
    check(names == ["calculator", "run_javascript"], f"nested calculator, then the JS tool: {names}")
    js = out["tool_calls"][-1]
    check(js["error"] is None, f"the program ran: {js}")
    res = js["result"] or {}
    check("fib(20) = 6765" in str(res.get("result")) and "17*23 = 391" in str(res.get("result")),
          f"the program's value: {res}")
    check("first ten Fibonacci numbers: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34" in res.get("stdout", ""),
          f"console.log output is captured: {res}")
    check("6765" in out["answer"], f"the answer quotes the program's result: {out['answer']!r}")
    # /trace nests the calculator call under the run_javascript call that made it.
    r = subprocess.run([BIN], input="run some javascript\n/trace\n", capture_output=True,
                       text=True, env=ENV, timeout=60)
    lines = r.stdout.splitlines()
    order = [i for i, line in enumerate(lines) for pat in (
        "  tool_start  run_javascript", "      hook before_tool  calculator: normalize-math",
        "      tool_start  calculator", "      tool_end    calculator -> \"391\"",
        "  tool_end    run_javascript") if line.startswith(pat)]
    check(len(order) == 5 and order == sorted(order),
          f"nested call indented inside the JS call: {r.stdout!r}")


def test_python_tool_when_the_guest_is_built():
    # The local model answers "run python: CODE" with a run_python call.
    with ModelServer() as s:
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "m", "-p",
                 "run python: r = await calculator(expression='17*23')\nprint('got', r)\nint(r) + 1",
                 "--json")
        check(r.returncode == 0, f"exit 0: {r.stderr!r}")
        out = json.loads(r.stdout) if r.stdout else {}
        names = [c["name"] for c in out.get("tool_calls", [])]
        if not HAVE_PYTHON:
            check(names == ["run_python"] and out["tool_calls"][0]["error"] is not None,
                  f"no Python tool without the guest: {out}")
            return
        # Python called the calculator (nested, reported too), then answered.
        check(names == ["calculator", "run_python"], f"nested calculator, then run_python: {names}")
        py = out["tool_calls"][-1] if out.get("tool_calls") else {}
        check(py.get("error") is None, f"the program ran: {py}")
        res = py.get("result") or {}
        check(res.get("result") == 392 and res.get("stdout") == "got 391\n",
              f"the program's value and output: {res}")
        check("392" in out.get("answer", ""), f"the answer quotes it: {out.get('answer')!r}")


def test_piped_conversation():
    r = subprocess.run([BIN], input="what is 2+2\n/trace\nwhat time is it\n", capture_output=True,
                       text=True, env=ENV, timeout=60)
    check(r.returncode == 0, f"end of input exits 0: {r.returncode} {r.stderr!r}")
    out = r.stdout
    check("offline demo" in out, "the banner")
    check("› what is 2+2\n" in out and "2+2 = 4" in out, f"question echoed, answered: {out!r}")
    check("hook before_tool" in out, "slash commands work from a pipe")
    check("says the clock tool" in out, "the second question is answered")
    check("\x1b[" not in out and "thinking" not in out, "no colours or spinner when piped")


def test_command_line_errors():
    for args, needle in ((["--provider", "nope"], "unknown provider"),
                         (["--json"], "--json needs a question"),
                         (["--bogus"], "unknown option"),
                         (["-p"], "needs a value"),
                         (["stray"], "unexpected argument")):
        r = chat(*args)
        check(r.returncode == 2 and needle in r.stderr,
              f"{args}: exit 2 with {needle!r}, got {r.returncode} {r.stderr!r}")
    r = chat("--provider", "openai", "-p", "hi")
    check(r.returncode == 1 and "needs OPENAI_API_KEY" in r.stderr,
          f"openai without a key or server: {r.returncode} {r.stderr!r}")
    r = chat("--provider", "anthropic", "-p", "hi")
    check(r.returncode == 1 and "needs ANTHROPIC_API_KEY" in r.stderr,
          f"anthropic without a key: {r.returncode} {r.stderr!r}")
    r = chat("--base-url", "http://127.0.0.1:9/v1", "-p", "hi")
    check(r.returncode == 1 and "--model" in r.stderr,
          f"--base-url without --model: {r.returncode} {r.stderr!r}")
    r = chat("--allow-tools", "calculator,nope", "-p", "hi")
    check(r.returncode == 1 and 'no tool "nope"' in r.stderr,
          f"--allow-tools names an unknown tool: {r.returncode} {r.stderr!r}")
    r = subprocess.run([BIN, "-p", b"caf\xe9 latin-1"], capture_output=True, env=ENV, timeout=60)
    check(r.returncode == 2 and b"not valid UTF-8" in r.stderr, f"bad UTF-8: {r.stderr!r}")
    r = subprocess.run([BIN], input=b"caf\xe9?\nwhat is 1+2\n", capture_output=True, env=ENV,
                       timeout=60)
    # libedit turns the stray byte into '?' (the REPL would refuse it
    # otherwise); either way nothing invalid goes on and the chat continues.
    check(b"1+2 = 3" in r.stdout and r.returncode == 0, f"the chat goes on: {r.stdout!r}")
    try:
        r.stdout.decode("utf-8")
    except UnicodeDecodeError:
        check(False, f"the output is valid UTF-8: {r.stdout!r}")
    r = chat("--help")
    check(r.returncode == 0 and "Usage:" in r.stdout and "--allow-tools" in r.stdout,
          "--help prints the usage")


def test_piped_oneshot_prints_the_whole_answer():
    """-p to a pipe asks for no stream and prints the answer once, whole
    (a script reads a complete answer); --help says when -p streams."""
    with ModelServer() as s:
        r = chat("--provider", "openai", "--base-url", s.base, "--model", "slow-stream",
                 "-p", "what is 5*5?")
        check(r.returncode == 0 and r.stdout == "The answer is 25.\n",
              f"the whole answer, once: {r.returncode} {r.stdout!r} {r.stderr!r}")
        streams = [q["body"].get("stream", False) for q in s.requests()]
        check(streams == [False, False], f"piped -p does not stream: {streams}")
    r = chat("--help")
    usage = " ".join(r.stdout.split())
    check("streams" in usage and "terminal" in usage and "pipe" in usage,
          f"--help says when -p streams: {r.stdout!r}")


def test_long_input_errors_are_short():
    """A 6,000-character question: the error says what is wrong, and
    neither the error nor the answer repeats the whole input."""
    expr = "1+" * 3000 + "1"
    r = chat("-p", "what is " + expr, "--json")
    check(r.returncode == 0, f"exit 0: {r.returncode} {r.stderr!r}")
    out = json.loads(r.stdout)
    calls = out["tool_calls"]
    err = calls[0]["error"] if calls else None
    check(err is not None and "longer than 4096 characters" in err["message"],
          f"the calculator's real error is kept: {err}")
    if err:
        check(len(err["message"]) < 300 and "..." in err["message"],
              f"the error quotes at most the start of the input: {len(err['message'])} chars")
    check("longer than 4096 characters" in out["answer"], f"the answer says why: {out['answer'][:300]!r}")
    check(len(out["answer"]) < 1000, f"the answer does not repeat the input: {len(out['answer'])} chars")
    r = chat("-p", "what is " + expr)
    check(len(r.stdout) + len(r.stderr) < 1000 and "longer than 4096" in r.stdout,
          f"-p: a short answer with the error: {len(r.stdout)} {r.stdout[:300]!r}")
    # The REPL from a pipe: its transcript echoes the question once (as a
    # terminal would); the tool line and the answer quote at most its start.
    r = subprocess.run([BIN], input="what is " + expr + "\n", capture_output=True, text=True,
                       env=ENV, timeout=60)
    rest = len(r.stdout) - len(expr)
    check(r.stdout.count(expr) == 1 and rest < 2000 and "longer than 4096" in r.stdout,
          f"REPL: one echo of the input, then the error: {r.stdout.count(expr)} echoes, "
          f"{rest} more characters: {r.stdout[-600:]!r}")


def test_trace_json_has_integer_times():
    """/trace json prints time_ns (nanoseconds since the epoch) as an
    integer, not as a floating-point number."""
    import time
    r = subprocess.run([BIN], input="what is 2+2\n/trace json\n", capture_output=True,
                       text=True, env=ENV, timeout=60)
    at = r.stdout.find("\n[")
    check(at >= 0, f"a JSON array is printed: {r.stdout!r}")
    if at < 0:
        return
    events, end = json.JSONDecoder().raw_decode(r.stdout, at + 1)
    text = r.stdout[at + 1:end]
    times = [e.get("time_ns") for e in events]
    check(len(events) > 5 and all(isinstance(t, int) for t in times),
          f"every time_ns is an integer: {times}")
    check(re.search(r'"time_ns":\s*[0-9]+[.eE]', text) is None, "no fraction or exponent")
    now = time.time()
    check(all(isinstance(t, int) and abs(t / 1e9 - now) < 3600 for t in times),
          f"time_ns is the wall-clock time in nanoseconds: {times[:3]} vs {now}")


run(test_offline_answer_uses_the_calculator)
run(test_offline_json_reports_the_tool_call)
run(test_clock_tool_tells_the_time)
run(test_calculator_errors_reach_the_answer)
run(test_openai_server_round_trip)
run(test_against_the_providers_test_server)
run(test_no_stream_option)
run(test_api_key_selects_openai)
run(test_errors_are_clear_and_non_zero)
run(test_guardrail_keeps_secrets_from_the_model)
run(test_javascript_tool_when_the_sandbox_is_built)
run(test_python_tool_when_the_guest_is_built)
run(test_piped_conversation)
run(test_command_line_errors)
run(test_piped_oneshot_prints_the_whole_answer)
run(test_long_input_errors_are_short)
run(test_trace_json_has_integer_times)
finish()
