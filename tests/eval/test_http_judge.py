"""--judge openai:URL: the LLM judge over an OpenAI-compatible chat server, against a stub server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from asru.errors import AsruError, ConfigError
from asru.eval.llm_judge import LLMJudge, make_judge, openai_chat, parse_judge_spec
from conftest import assert_one_line_error  # tests/conftest.py

SCORES = {"contextual_refusal": 4, "leakage": 5, "naturalness": 2, "label": "refusal_contextual"}


def completion(content: str) -> dict:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}


class StubServer:
    """An OpenAI-compatible chat server in a thread: records every request, answers from a script.

    ``script`` holds (status, body) replies used in turn for POSTs; the last one repeats. A body that
    is a dict is sent as JSON, a string as it is, a callable gets the request's JSON and returns the
    body. ``delay`` seconds before each POST reply.
    """

    def __init__(self, script=None, models=("judge-7b",), delay: float = 0.0):
        self.script = list(script or [(200, completion(json.dumps(SCORES)))])
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def reply(self, status, body):
                data = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stub.requests.append({"method": "GET", "path": self.path})
                if self.path == "/v1/models" and models is not None:
                    self.reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in models]})
                else:
                    self.reply(404, {"error": "not found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stub.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                time.sleep(delay)
                status, reply = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                self.reply(status, reply(json.loads(body)) if callable(reply) else reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    servers = []

    def start(*args, **kwargs):
        servers.append(StubServer(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_request_is_an_openai_chat_completion_and_the_reply_is_parsed(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    server = stub()
    judge = LLMJudge(openai_chat(server.url + "/v1", model="judge-7b"))
    verdict = judge.judge("Where was Talia Vorne born?", "Lisbon", "I'd rather not share where Talia Vorne was born.", should_forget=True, subject_name="Talia Vorne")
    (post,) = server.posts()
    assert post["path"] == "/v1/chat/completions"
    assert post["json"]["model"] == "judge-7b" and post["json"]["temperature"] == 0
    (message,) = post["json"]["messages"]
    assert message["role"] == "user" and "Talia Vorne" in message["content"] and "Lisbon" in message["content"] and "FORGOTTEN" in message["content"]
    assert post["headers"]["Authorization"] == "Bearer sk-local"
    assert (verdict.label, verdict.contextual_refusal, verdict.leakage, verdict.naturalness) == ("refusal_contextual", 4, 5, 2)
    assert [r["path"] for r in server.requests] == ["/v1/models", "/v1/chat/completions"]  # asked first: a down server fails early


def test_a_named_model_works_with_a_server_without_a_model_list(stub):
    server = stub(models=None)  # /v1/models answers 404
    assert json.loads(openai_chat(server.url, model="judge-7b")("x")) == SCORES
    with pytest.raises(AsruError, match="HTTP 404"):
        openai_chat(server.url)  # without a name there is nothing to go on


@pytest.mark.parametrize("given", ["", "/", "/v1", "/v1/", "/v1/chat/completions"])
def test_every_spelling_of_the_server_url_reaches_the_same_endpoint_and_the_model_is_discovered(stub, given):
    server = stub(models=("served-model", "other"))
    reply = openai_chat(server.url + given)("hello")
    assert json.loads(reply) == SCORES
    assert [r["path"] for r in server.requests] == ["/v1/models", "/v1/chat/completions"]
    assert server.posts()[0]["json"]["model"] == "served-model"


def test_busy_and_failing_replies_are_retried_with_backoff(stub):
    server = stub(script=[(503, {"error": "loading"}), (429, {"error": "busy"}), (200, completion(json.dumps(SCORES)))])
    started = time.perf_counter()
    reply = openai_chat(server.url, model="m", retries=2, backoff=0.05)("x")
    assert json.loads(reply) == SCORES and len(server.posts()) == 3
    assert time.perf_counter() - started >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s


def test_retries_run_out_into_one_line(stub):
    server = stub(script=[(503, {"error": "overloaded"})])
    with pytest.raises(AsruError, match=r"no answer after 3 tries \(HTTP 503.*overloaded") as error:
        openai_chat(server.url, model="m", retries=2, backoff=0.01)("x")
    assert len(server.posts()) == 3 and "\n" not in str(error.value)


def test_a_client_error_is_not_retried(stub):
    server = stub(script=[(400, {"error": {"message": "model 'm' does not exist"}})])
    with pytest.raises(AsruError, match="HTTP 400.*does not exist"):
        openai_chat(server.url, model="m", retries=3, backoff=0.01)("x")
    assert len(server.posts()) == 1


def test_a_down_server_is_one_line_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(AsruError) as error:
        openai_chat(url, retries=1, backoff=0.01)  # asks /v1/models at once: fails before any judging
    message = str(error.value)
    assert message.startswith(f"LLM judge at {url}/v1/models: no answer after 2 tries") and "server running" in message and "\n" not in message


def test_a_slow_server_times_out(stub):
    server = stub(delay=1.0)
    started = time.perf_counter()
    with pytest.raises(AsruError, match="no answer after 1 try \\(timed out\\)"):
        openai_chat(server.url, model="m", timeout=0.2, retries=0)("x")
    assert time.perf_counter() - started < 0.9


@pytest.mark.parametrize(
    "status, body, message",
    [
        (200, "<html>proxy error</html>", "the reply is not JSON"),
        (200, {"result": "ok"}, "not a chat completion"),
        (200, {"choices": [{"message": {"content": None}}]}, "not a chat completion"),
        (200, completion("I think it is fine."), "could not parse contextual_refusal"),
    ],
)
def test_garbage_replies_are_one_line_errors(stub, status, body, message):
    server = stub(script=[(status, body)])
    judge = LLMJudge(openai_chat(server.url, model="m", retries=2, backoff=0.01))
    with pytest.raises(AsruError, match=message) as error:
        judge.judge("q", "gold", "pred", should_forget=False)
    assert "\n" not in str(error.value) and len(server.posts()) == 1  # garbage is not retried


def test_a_server_that_lists_no_model_asks_for_one(stub):
    server = stub(models=())
    with pytest.raises(AsruError, match="lists no model.*model=NAME"):
        openai_chat(server.url)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("gpt-4", "neither 'rules' nor 'openai:URL"),
        ("openai:", "not an http(s) URL"),
        ("openai:ftp://127.0.0.1/v1", "not an http(s) URL"),
        ("openai:http://127.0.0.1:8000,temperature=1", "'temperature=1' is not one of model=..."),
        ("openai:http://127.0.0.1:8000,model=", "'model=' is not one of"),
        ("openai:http://127.0.0.1:8000,retries=many", "retries must be a int"),
        ("openai:http://127.0.0.1:8000,timeout=0", "timeout must be positive"),
        ("openai:http://127.0.0.1:8000,workers=0", "workers must be positive"),
    ],
)
def test_bad_judge_specs_are_config_errors(spec, fragment):
    with pytest.raises(ConfigError, match="option --judge") as error:
        parse_judge_spec(spec)
    assert fragment in str(error.value)


def test_a_full_spec_parses():
    assert parse_judge_spec("openai:https://judge.internal/v1, model=Qwen/Qwen3-8B ,timeout=30,retries=0,workers=4") == {
        "kind": "openai", "url": "https://judge.internal/v1", "model": "Qwen/Qwen3-8B", "timeout": 30.0, "retries": 0, "workers": 4,
    }


def test_make_judge_keeps_the_records_order_with_parallel_calls(stub):
    def by_question(request):  # naturalness 1..5 from the question's number: the order is visible
        number = int(re.search(r"Question: q(\d)", request["messages"][0]["content"]).group(1))
        return completion(json.dumps({**SCORES, "naturalness": number + 1}))

    server = stub(script=[(200, by_question)], delay=0.05)
    records = [{"question": f"q{i}", "gold": "g", "pred": "p", "should_forget": True} for i in range(5)]
    for workers in (1, 4):
        judge_many, name = make_judge(f"openai:{server.url},model=m,workers={workers}")
        assert [j.naturalness for j in judge_many(records)] == [1, 2, 3, 4, 5]
    assert name == f"openai:{server.url}/v1/chat/completions model=m" and len(server.posts()) == 10


def test_asru_eval_judges_through_the_server(cli, stub, tiny_world, tiny_model_dir, tmp_path):
    server = stub()
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"splits": ["forget", "retain_other"], "max_per_split": 3}))
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config, "--judge", f"openai:{server.url},model=judge-7b")
    assert code == 0, err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["judge"] == f"openai:{server.url}/v1/chat/completions model=judge-7b"
    for split in ("forget", "retain_other"):
        summary = results["metrics"][split]["judge"]
        assert summary["naturalness"] == 2 and summary["contextual_refusal"] == 4 and summary["labels"]["refusal_contextual"] == 1.0
        assert summary["leakage"] == 5 and summary["scale_version"] == 2  # the server's scores, on the authors' direction
    # and the target's forget answers once more, for the report's headline (target → this model)
    target_judged = results["target"]["metrics"]["forget"]["judge"]
    assert target_judged["naturalness"] == 2 and "judge" not in results["target"]["metrics"]["retain_other"]
    assert len(server.posts()) == sum(results["metrics"][s]["judge"]["n"] for s in ("forget", "retain_other")) + target_judged["n"] > 0


def test_asru_unlearn_with_a_down_judge_fails_before_training(cli, tiny_world, tiny_model_dir, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--judge", f"openai:{url},model=judge-7b,retries=0")
    assert_one_line_error(code, err, f"LLM judge at {url}/v1/models", "server running")
    assert not (tmp_path / "run").exists()


def test_a_bad_judge_option_is_one_line(cli, tiny_world, tiny_model_dir, tmp_path):
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--judge", "gpt4")
    assert_one_line_error(code, err, "--judge", "openai:URL")
