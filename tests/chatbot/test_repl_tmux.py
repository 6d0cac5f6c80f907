#!/usr/bin/env python3
"""hookline-chat in a real terminal (tmux): the offline model answering
through a tool, /trace with the hook chain lines, slash commands, Ctrl-C
cancelling a slow answer, Ctrl-C at the prompt, /quit and Ctrl-D exiting 0.

Usage: test_repl_tmux.py PATH/TO/hookline-chat
"""
import atexit
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chatlib import ModelServer, Tmux, check, clean_env, finish, run  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="hlchat-test-")
atexit.register(shutil.rmtree, TMP, True)
ENV = clean_env(TMP)
PROMPT = r"(?m)^›\s*$"


def test_offline_model_answers_through_the_calculator():
    log = os.path.join(TMP, "calc.log")
    with Tmux([BIN, "--log", log], ENV) as t:
        # The banner says this is the offline demo and how to connect a model.
        t.wait_for(r"offline demo")
        t.wait_for(r"OPENAI_API_KEY")
        t.wait_for(r"--base-url http://localhost:11434/v1")
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 17*23?")
        # The tool line printed by the chatbot's observer when TOOL_END fires...
        t.wait_for(r'⚙ calculator \{"expression":"17\*23"\} → 391', m)
        # ...and the answer that quotes the tool's result.
        t.wait_for(r"17\*23 = 391 \(worked out by the calculator tool\)", m)
        t.wait_for(PROMPT, m)
        # The log file (written by hooks/observers of the run) saw the tool run.
        with open(log) as f:
            text = f.read()
        check(re.search(r"calculator.*391", text) is not None,
              f"the --log file records the calculator call and its result: {text!r}")

        # /trace: before_tool and after_tool chain lines around the tool call.
        m = t.mark()
        t.type_line("/trace")
        t.wait_for(r"Trace of the last turn", m)
        t.wait_for(r"agent_start\s+agent=assistant input=\"what is 17\*23\?\"", m)
        t.wait_for(r"hook before_tool\s+calculator: .*normalize-math -> continue", m)
        t.wait_for(r'tool_start\s+calculator \{"expression":"17\*23"\}', m)
        t.wait_for(r'tool_end\s+calculator -> "391"', m)
        t.wait_for(r"hook after_tool\s+calculator: .*cap-tool-result -> continue", m)
        t.wait_for(r'agent_end\s+answer="17\*23 = 391', m)
        screen = t.screen()[m:]
        check(screen.index("hook before_tool") < screen.index("tool_start") <
              screen.index("tool_end") < screen.index("hook after_tool"),
              "trace lines come in dispatch order")
        m = t.mark()
        t.type_line("/trace json")
        t.wait_for(r'"type":\s+"tool_end"', m)
        t.wait_for(r'"result":\s+"391"', m)

        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")


def test_trace_shows_mutated_arguments():
    with Tmux([BIN], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 12 x 7")
        # The model sent "12 x 7"; the normalize-math hook rewrote it.
        t.wait_for(r'⚙ calculator \{"expression":"12 \* 7"\} → 84', m)
        t.wait_for(r"12 x 7 = 84", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/trace")
        t.wait_for(r'calls calculator \{"expression":"12 x 7"\}', m)
        t.wait_for(r'normalize-math -> continue with new arguments \{"expression":"12 \* 7"\}', m)
        t.wait_for(r'tool_start\s+calculator \{"expression":"12 \* 7"\}', m)
        # Line editing and history: Up twice recalls the question (the last
        # line is /trace), Enter asks it again.
        m = t.mark()
        t.send("Up")
        t.send("Up")
        t.send("Enter")
        t.wait_for(r"12 x 7 = 84", m)
        t.wait_for(PROMPT, m)
        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")


def test_slash_commands():
    save1 = os.path.join(TMP, "conv.json")
    save2 = os.path.join(TMP, "after-reset.json")
    with Tmux([BIN], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("/help")
        for cmd in ("/tools", "/hooks", "/trace", "/reset", "/save FILE", "/quit"):
            t.wait_for(re.escape(cmd), m)
        m = t.mark()
        t.type_line("/tools")
        t.wait_for(r"calculator\(expression: string\)", m)
        t.wait_for(r"clock\(utc\?: boolean\)", m)
        m = t.mark()
        t.type_line("/hooks")
        t.wait_for(r"before_tool\s+normalize-math", m)
        t.wait_for(r"after_tool\s+cap-tool-result", m)
        m = t.mark()
        t.send("-l", "/tr")
        t.send("Tab")                      # completes to "/trace "
        t.send("Enter")
        t.wait_for(r"No trace yet", m)
        m = t.mark()
        t.type_line("/nonsense")
        t.wait_for(r"unknown command /nonsense", m)

        m = t.mark()
        t.type_line("what time is it?")
        t.wait_for(r"says the clock tool", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line(f"/save {save1}")
        t.wait_for(r"Saved \d+ messages to", m)
        with open(save1) as f:
            conv = json.load(f)
        texts = json.dumps(conv["messages"])
        check("what time is it?" in texts, "the saved conversation has the question")
        check('"tool_call"' in texts and '"clock"' in texts,
              "the saved conversation has the clock tool call")

        m = t.mark()
        t.type_line("/reset")
        t.wait_for(r"Conversation forgotten", m)
        t.type_line(f"/save {save2}")
        t.wait_for(r"Saved 0 messages", m)
        with open(save2) as f:
            check(json.load(f)["messages"] == [], "/reset empties the conversation")

        m = t.mark()
        t.type_line("/save /nonexistent-dir/x.json")
        t.wait_for(r"cannot write /nonexistent-dir/x.json", m)
        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")


def test_ctrl_c_cancels_a_slow_answer():
    script = os.path.join(TMP, "slow.json")
    with open(script, "w") as f:
        json.dump({"rules": [
            {"match": "slow", "steps": [{"text": "too late to matter", "delay_ms": 60000}]},
            {"match": "quick", "steps": [{"text": "quick answer here"}]},
        ]}, f)
    with Tmux([BIN, "--script", script], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("a slow question")
        t.wait_for(r"thinking…", m)          # the spinner while the model waits
        t.send("C-c")
        t.wait_for(r"\(cancelled\)", m)      # long before the 60 s step would end
        t.wait_for(PROMPT, m)
        check("too late to matter" not in t.screen(), "the cancelled answer never appears")
        m = t.mark()
        t.type_line("a quick one")
        t.wait_for(r"quick answer here", m)
        t.wait_for(PROMPT, m)
        # Ctrl-C at the prompt clears the line and keeps the chatbot running.
        t.send("-l", "half-typed")
        t.send("C-c")
        m = t.mark()
        t.type_line("quick again")
        t.wait_for(r"quick answer here", m)
        t.wait_for(PROMPT, m)
        t.send("C-d")
        check(t.dead_status() == 0, "Ctrl-D exits with status 0")


def test_allow_tools_refuses_other_tools():
    with Tmux([BIN, "--allow-tools", "clock"], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 2+2")
        # The allowlist hook overrides the call: the calculator never runs and
        # its result is the refusal, which the offline model quotes.
        t.wait_for(r"not (allowed|on the allowlist)", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/trace")
        t.wait_for(r"hook before_tool\s+calculator: .*allowlist -> override", m)
        check(re.search(r"tool_end\s+calculator", t.screen()[m:]) is None,
              "the calculator did not run")
        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")


def test_streams_from_an_openai_format_server():
    with ModelServer() as server:
        base = server.base
        with Tmux([BIN, "--provider", "openai", "--base-url", base, "--model", "test-model"],
                  ENV) as t:
            t.wait_for(rf"model test-model at {re.escape(base)}")
            t.wait_for(PROMPT)
            m = t.mark()
            t.type_line("what is 6*7?")
            t.wait_for(r'⚙ calculator \{"expression":"6\*7"\} → 42', m)
            t.wait_for(r"The answer is 42\.", m)
            # Usage of both model calls (12 + 12 in, 5 + 5 out), as the server reported.
            t.wait_for(r"\[24 in · 10 out tokens · [0-9.]+ s\]", m)
            t.wait_for(PROMPT, m)
            t.type_line("/quit")
            status = t.dead_status()
            check(status == 0, f"/quit exits with status 0, got {status}")

        # Tokens appear as they arrive: with 0.4 s between pieces, the
        # screen shows the start of the answer while the rest is not there.
        with Tmux([BIN, "--provider", "openai", "--base-url", base, "--model", "slow-stream"],
                  ENV) as t:
            t.wait_for(PROMPT)
            m = t.mark()
            t.type_line("what is 1+1?")
            t.wait_for(r"→ 2\n", m)
            seen = t.wait_for(r"The answer", m)
            partial = t.last_screen[m:] if seen else ""
            check(seen is not None and "is 2." not in partial,
                  f"part of the answer is shown before the rest arrives: {partial!r}")
            t.wait_for(r"The answer is 2\.", m)
            t.send("C-d")
            check(t.dead_status() == 0, "Ctrl-D exits with status 0")
        reqs = server.requests()
        check(len(reqs) == 4 and all(q["body"].get("stream") is True for q in reqs),
              f"the REPL asked for streamed responses: {[q['body'].get('stream') for q in reqs]}")


def test_control_characters_are_shown_not_obeyed():
    """A hostile model (or a tool result quoting it) must not command the
    terminal: no new window title, no cleared screen, no hidden or
    overwritten text; each control character is shown instead."""
    with ModelServer() as server:
        base = server.base
        env = {k: v for k, v in ENV.items() if k != "NO_COLOR"}  # our own styles stay on
        with Tmux([BIN, "--provider", "openai", "--base-url", base, "--model", "control-chars"],
                  env) as t:
            t.wait_for(PROMPT)
            title = t.tmux("display-message", "-p", "-t", "chat", "#{pane_title}").stdout
            m = t.mark()
            t.type_line("hello")
            # The tool line: the calculator refused the expression it was
            # given, which carries an OSC 0 of its own.
            t.wait_for(r"⚙ calculator .*TOOL-TITLE", m)
            t.wait_for(r"\[24 in · 10 out tokens", m)
            t.wait_for(PROMPT, m)
            shown = t.screen()
            answer = shown[m:]
            for visible in ["before^[]0;PWNED-TITLE^G", "^[[2J^[[Hcleared", "^[[8mhidden",
                            "over^MXX", "<U+009B>31mc1", "^[]52;c;SGVsbG8=^Gend"]:
                check(visible in answer, f"{visible!r} is shown as text: {answer!r}")
            check("hookline-chat" in shown[:m], f"the screen was not cleared: {shown!r}")
            after = t.tmux("display-message", "-p", "-t", "chat", "#{pane_title}").stdout
            check(after == title and "TITLE" not in after,
                  f"the window title is unchanged: {title!r} -> {after!r}")
            styled = t.screen(escapes=True)
            check("\x1b[8m" not in styled and "\x1b]" not in styled,
                  f"no hidden text and no OSC reached the terminal: {styled[m:]!r}")
            check(re.search(r"\x1b\[[0-9;]*2m", styled) is not None,
                  f"the chatbot's own dim style still works: {styled!r}")
            t.send("C-d")
            check(t.dead_status() == 0, "Ctrl-D exits with status 0")

        # -p on a terminal goes through the same filter; piped, the answer
        # keeps its bytes (it is the model's answer, for a file or a program).
        with Tmux([BIN, "--provider", "openai", "--base-url", base, "--model", "control-chars",
                   "-p", "hello"], ENV) as t:
            t.wait_for(r"(?m)^EXIT=0$")
            check("^[[2J^[[Hcleared" in t.screen(), f"-p shows them too: {t.screen()!r}")
        out = subprocess.run([BIN, "--provider", "openai", "--base-url", base, "--model",
                              "control-chars", "-p", "hello"], env=ENV, capture_output=True)
        check(out.returncode == 0 and b"\x1b[2J\x1b[Hcleared" in out.stdout
              and b"\xc2\x9b31m" in out.stdout,
              f"piped output keeps the answer's bytes: {out!r}")


def test_guardrail_in_the_trace():
    with Tmux([BIN], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("my key is sk-abcdefghijklmnopqrstuvwxyz0123")
        t.wait_for(r"input guardrail kept it from the model", m)
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("/trace")
        t.wait_for(r"hook before_agent guardrail -> override", m)
        t.wait_for(r"agent_end\s+answer=\"That message looks like it contains a secret", m)
        check("lm_start" not in t.screen()[m:], "the model was not called")
        t.type_line("/quit")
        status = t.dead_status()
        check(status == 0, f"/quit exits with status 0, got {status}")


def test_markdown_is_rendered_on_a_colour_terminal():
    script = os.path.join(TMP, "md.json")
    with open(script, "w") as f:
        json.dump({"rules": [{"match": "md", "steps": [
            {"text": "Some **bold words** and `x = 1` here."}]}]}, f)
    env = {k: v for k, v in ENV.items() if k != "NO_COLOR"}
    with Tmux([BIN, "--script", script], env) as t:
        t.wait_for(r"(?m)^›\s*$")
        m = t.mark()
        t.type_line("md please")
        t.wait_for(r"Some bold words and x = 1 here\.", m)  # markers gone
        t.wait_for(r"(?m)^›\s*$", m)
        styled = t.screen(escapes=True)
        check(re.search(r"\x1b\[1mbold words\x1b\[0m", styled) is not None,
              f"**bold** is shown bold: {styled!r}")
        check(re.search(r"\x1b\[36mx = 1\x1b\[(0|39)m", styled) is not None,
              f"`code` is shown in colour: {styled!r}")
        t.send("C-d")
        check(t.dead_status() == 0, "Ctrl-D exits with status 0")


def test_multi_line_questions():
    script = os.path.join(TMP, "lines.json")
    with open(script, "w") as f:
        json.dump({"rules": [
            {"match": "^first part\n second part$", "steps": [{"text": "got both lines"}]},
            {"match": ".", "steps": [{"text": "got something else"}]}]}, f)
    with Tmux([BIN, "--script", script], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("first part\\")
        t.wait_for(r"(?m)^…\s*$", m)      # the continuation prompt
        t.type_line(" second part")
        t.wait_for(r"got both lines", m)
        t.wait_for(PROMPT, m)
        # Ctrl-C in the middle of a multi-line question drops it.
        m = t.mark()
        t.type_line("dropped\\")
        t.wait_for(r"(?m)^…\s*$", m)
        t.send("C-c")
        t.wait_for(PROMPT, m)
        m = t.mark()
        t.type_line("other")
        t.wait_for(r"got something else", m)
        # Ctrl-D at the prompt, not while the answer still ends: under
        # load it could come before the prompt was back (make test saw it).
        t.wait_for(PROMPT, m)
        t.send("C-d")
        check(t.dead_status() == 0, "Ctrl-D exits with status 0")


def test_history_is_kept_between_sessions():
    with open(ENV["HOOKLINE_CHAT_HISTORY"]) as f:
        saved = f.read().replace("\\040", " ")  # libedit writes spaces as \040
    check("what is 12 x 7" in saved, f"questions are saved to the history file: {saved!r}")
    with Tmux([BIN], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        newest = saved.rstrip("\n").split("\n")[-1]
        t.send("Up")  # recalls the newest line of the previous sessions
        t.wait_for(re.escape(newest), m)
        t.send("C-u")  # libedit: kill the line
        t.send("C-d")
        check(t.dead_status() == 0, "Ctrl-D exits with status 0")


def test_history_keeps_secrets_out():
    """Lines with API-key-like strings, and lines the input guardrail
    refused, never reach the history file; ordinary lines do."""
    hist = os.path.join(TMP, "history-secrets")
    env = dict(ENV, HOOKLINE_CHAT_HISTORY=hist)
    secrets = [
        "my key is sk-abcdefghijklmnopqrstuvwxyz0123",               # guardrail and filter
        "use AIzaSyA1234567890abcdefghijklmnopqrstu for maps",      # Google key: filter only
        "Authorization: Bearer abc123def456ghi789jkl",               # bearer token
        "the token is 0123456789abcdef0123456789abcdef01234567",     # long hex
        "b64 dGhpcyBpcyBhIHNlY3JldCB0b2tlbjEyMzQ1Njc4OTA=",          # long base64
        "anthropic sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",   # Anthropic key
    ]
    # Refused by the guardrail (a private key header) though it has no
    # key-like token: only the guardrail's verdict keeps it out.
    refused = "here it is: -----BEGIN RSA PRIVATE KEY-----"
    with Tmux([BIN], env) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("what is 2+2")
        t.wait_for(r"2\+2 = 4", m)
        t.wait_for(PROMPT, m)
        for line in secrets + [refused]:
            m = t.mark()
            t.type_line(line)
            t.wait_for(PROMPT, m)
        check("input guardrail kept it from the model" in t.screen(),
              "the guardrail refused the private key line")
        # Up recalls the last line that was kept: the question, not a secret.
        m = t.mark()
        t.send("Up")
        t.wait_for(r"(?m)what is 2\+2\s*$", m)
        t.send("C-u")
        t.type_line("/quit")
        check(t.dead_status() == 0, "/quit exits with status 0")
    with open(hist) as f:
        saved = f.read().replace("\\040", " ")  # libedit writes spaces as \040
    check("what is 2+2" in saved and "/quit" in saved, f"ordinary lines are kept: {saved!r}")
    for line in secrets:
        token = max(line.split(), key=len)
        check(token not in saved, f"{line!r} stays out of the history file: {saved!r}")
    check("PRIVATE KEY" not in saved, f"the refused line stays out of the history file: {saved!r}")
    mode = os.stat(hist).st_mode & 0o777
    check(mode == 0o600, f"the history file is private (0600), got {oct(mode)}")


def test_ctrl_c_cancels_a_streamed_answer():
    """Ctrl-C while a scripted model streams an answer word by word stops
    it at once, says so, never echoes ^C into the answer, and the chat goes
    on."""
    words = " ".join(f"w{i}" for i in range(2000)) + " THE-END"
    script = os.path.join(TMP, "long.json")
    with open(script, "w") as f:
        json.dump({"rules": [
            {"match": "long", "steps": [{"text": words}]},
            {"match": "quick", "steps": [{"text": "quick answer here"}]},
        ]}, f)
    with Tmux([BIN, "--script", script], ENV) as t:
        t.wait_for(PROMPT)
        m = t.mark()
        t.type_line("a long answer please")
        t.wait_for(r"w0 w1 w2 w3 w4 w5 ", m)   # streaming has started
        t.send("C-c")
        # The whole answer takes 30 s or more (a pause per word on a
        # terminal); cancelled, it stops long before.
        t.wait_for(r"\(cancelled\)", m)
        t.wait_for(PROMPT, m)
        screen = t.screen()
        check("THE-END" not in screen, "the rest of the cancelled answer never appears")
        check("^C" not in screen, f"no ^C echoed into the answer: {screen[m:]!r}")
        m = t.mark()
        t.type_line("a quick one")
        t.wait_for(r"quick answer here", m)
        t.wait_for(PROMPT, m)
        # The terminal's settings are restored after the answer: at the
        # prompt libedit handles Ctrl-C (a fresh line) and the chat goes on.
        t.send("-l", "half-typed")
        t.send("C-c")
        m = t.mark()
        t.type_line("quick again")
        t.wait_for(r"quick answer here", m)
        # At the prompt: keys typed while an answer is shown go to the
        # watch for Ctrl-C, not to the line editor.
        t.wait_for(PROMPT, m)
        t.send("C-d")
        check(t.dead_status() == 0, "Ctrl-D exits with status 0")
    # The same in one-shot mode on a terminal: -p streams, Ctrl-C ends it
    # with the cancelled status (130).
    with Tmux([BIN, "--script", script, "-p", "a long answer please"], ENV) as t:
        t.wait_for(r"w0 w1 w2 w3 w4 w5 ")
        t.send("C-c")
        t.wait_for(r"hookline-chat: cancelled")
        check(t.dead_status() == 130, "-p cancelled exits with status 130")
        screen = t.screen()
        check("THE-END" not in screen and "^C" not in screen,
              f"-p: the answer stops, no ^C: {screen!r}")
    # The terminal's ECHOCTL is restored when the program ends (sh runs
    # `stty -a` after it, in the same terminal).
    with Tmux(["sh", "-c", f'"{BIN}" --script "{script}" -p quick; stty -a'], ENV) as t:
        t.wait_for(r"quick answer here")
        t.wait_for(r"EXIT=0")
        check(re.search(r"(?<!-)echoctl", t.screen()) is not None,
              f"echoctl is on again after the program: {t.screen()!r}")


def test_oneshot_streams_on_a_terminal():
    """-p on a terminal streams the answer as it arrives (the REPL's
    behaviour); piped, it prints the whole answer once (test_oneshot.py)."""
    with ModelServer() as server:
        base = server.base
        with Tmux([BIN, "--provider", "openai", "--base-url", base, "--model", "slow-stream",
                   "-p", "what is 1+1?"], ENV) as t:
            seen = t.wait_for(r"The answer")
            partial = t.last_screen if seen else ""
            check(seen is not None and "is 2." not in partial,
                  f"part of the answer is shown before the rest arrives: {partial!r}")
            t.wait_for(r"The answer is 2\.")
            check(t.dead_status() == 0, "-p exits 0")
            screen = t.screen()
            check(screen.count("The answer is 2.") == 1,
                  f"the streamed answer is not printed a second time: {screen!r}")
        reqs = server.requests()
        check(len(reqs) == 2 and all(q["body"].get("stream") is True for q in reqs),
              f"-p on a terminal asks for streamed responses: {[q['body'].get('stream') for q in reqs]}")


run(test_offline_model_answers_through_the_calculator)
run(test_trace_shows_mutated_arguments)
run(test_slash_commands)
run(test_ctrl_c_cancels_a_slow_answer)
run(test_allow_tools_refuses_other_tools)
run(test_streams_from_an_openai_format_server)
run(test_control_characters_are_shown_not_obeyed)
run(test_guardrail_in_the_trace)
run(test_multi_line_questions)
run(test_history_is_kept_between_sessions)
run(test_markdown_is_rendered_on_a_colour_terminal)
run(test_history_keeps_secrets_out)
run(test_ctrl_c_cancels_a_streamed_answer)
run(test_oneshot_streams_on_a_terminal)
finish()
