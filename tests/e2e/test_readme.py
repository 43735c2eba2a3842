"""README.md's examples run as written, in order, against a fresh local stack (`python -m app dev`).

A fenced block whose info string ends in ` test` (```python test, ```sh test, ```js test) is an
example to run; GitHub highlights it by its first word as usual. Every Python, JavaScript and
curl example must be marked. Each runs in its own process with the stack's printed demo keys in
its environment: API_URL (the server), PAYER_KEY and PAYER (reader #1, who holds test USDC and
no deposit before the first example). An example fails by exiting non-zero (an `assert`, a
`grep` that finds nothing, an exception); one that prints GraphQL `errors` fails too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import ROOT
from tests.e2e.test_dev_script import clean_env, group_alive, tail, two_free_ports

README = ROOT / "README.md"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
RUNNERS = {"python", "sh", "js"}
STARTUP_LIMIT = 180
EXAMPLE_LIMIT = 120
KEY_LINE = re.compile(r"#(?P<index>\d+) (?P<address>0x[0-9a-fA-F]{40})\s+key (?P<key>0x[0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Example:
    language: str
    code: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language})"


def examples(text: str) -> list[Example]:
    """The blocks marked to run, in the order they appear."""
    found = []
    for match in FENCE.finditer(text):
        words = match["info"].split()
        if len(words) == 2 and words[1] == "test":
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(words[0], match["code"], line))
    return found


def unmarked_code(text: str) -> list[str]:
    """Python and JavaScript blocks, and shell blocks that call curl, not marked to run."""
    missing = []
    for match in FENCE.finditer(text):
        words = match["info"].split()
        if words[-1:] == ["test"]:
            continue
        language = words[0] if words else ""
        if language in {"python", "js"} or (language == "sh" and "curl " in match["code"]):
            missing.append(f"README.md:{text.count(chr(10), 0, match.start()) + 1} ({language})")
    return missing


def test_every_python_js_and_curl_example_is_marked_to_run() -> None:
    text = README.read_text()
    assert unmarked_code(text) == []
    marked = examples(text)
    assert {example.language for example in marked} == RUNNERS
    assert all(example.language in RUNNERS for example in marked)


def test_the_marking_convention_is_read_as_documented() -> None:
    text = "```python test\nprint(1)\n```\n\n```sh\ncurl x\n```\n\n```js\n1\n```\n\n```sh\nscripts/dev\n```\n"
    assert examples(text) == [Example("python", "print(1)\n", 1)]
    assert unmarked_code(text) == ["README.md:5 (sh)", "README.md:9 (js)"]


@pytest.mark.timeout(STARTUP_LIMIT + 20 * EXAMPLE_LIMIT)
def test_the_readme_examples_run_against_a_fresh_dev_stack(tmp_path: Path) -> None:
    to_run = examples(README.read_text())
    chain_port, http_port = two_free_ports()
    url = f"http://127.0.0.1:{http_port}"
    output = tmp_path / "dev.log"
    with open(output, "wb") as sink:
        stack = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "dev",
                "--chain-port",
                str(chain_port),
                "--http-port",
                str(http_port),
            ],
            cwd=ROOT,
            env=clean_env(DATA_DIR=str(tmp_path / "data")),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        keys = wait_for_banner(stack, url, output)
        payer_key, payer = keys[1]
        env = clean_env(API_URL=url, PAYER_KEY=payer_key, PAYER=payer)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        workspace = js_workspace(tmp_path / "js")
        for index, example in enumerate(to_run):
            ran = run(example, index, workspace, env)
            printed = ran.stdout + ran.stderr
            assert ran.returncode == 0, f"{example} failed:\n{example.code}\n{printed}"
            assert '"errors"' not in printed, f"{example} printed GraphQL errors:\n{printed}"
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=60)
        finally:
            if group_alive(stack.pid):
                os.killpg(stack.pid, signal.SIGKILL)
                stack.wait()


def wait_for_banner(stack: subprocess.Popen[bytes], url: str, output: Path) -> dict[int, tuple[str, str]]:
    """The demo accounts the stack printed once it serves: index -> (key, address)."""
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            pytest.fail(f"python -m app dev exited with {stack.returncode}:\n{tail(output)}")
        printed = output.read_text(errors="replace")
        if "Ctrl-C stops everything." in printed:
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
            return {int(m["index"]): (m["key"], m["address"]) for m in KEY_LINE.finditer(printed)}
        time.sleep(0.5)
    pytest.fail(f"python -m app dev did not start within {STARTUP_LIMIT} s:\n{tail(output)}")


def js_workspace(directory: Path) -> Path:
    """The examples' working directory, where JavaScript examples import `micropayments-client`
    (clients/js) and viem as an application that installed them would."""
    modules = directory / "node_modules"
    modules.mkdir(parents=True)
    (modules / "micropayments-client").symlink_to(ROOT / "clients" / "js", target_is_directory=True)
    (modules / "viem").symlink_to(ROOT / "node_modules" / "viem", target_is_directory=True)
    return directory


def run(
    example: Example, index: int, workspace: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    if example.language == "python":
        command = [sys.executable, "-c", example.code]
    elif example.language == "sh":
        bash = shutil.which("bash")
        assert bash is not None
        command = [bash, "-euo", "pipefail", "-c", example.code]
    else:
        node = shutil.which("node")
        assert node is not None, "Node.js is needed (scripts/install says so)"
        script = workspace / f"example-{index}.mjs"
        script.write_text(example.code)
        command = [node, str(script)]
    return subprocess.run(  # in a scratch directory: what an example writes goes there
        command, cwd=workspace, env=env, capture_output=True, text=True, timeout=EXAMPLE_LIMIT, check=False
    )
