"""A real S3 API server on localhost for tests and benchmarks: moto in server mode.

``S3Server.start()`` runs this file as a subprocess on a free port and waits until it
answers. The server is moto's own WSGI application behind werkzeug, with two additions:

* it is **single-threaded** by default, so each request is handled whole before the next.
  moto checks a conditional PUT (``If-None-Match: *``, ``If-Match``) and then stores the
  object in two steps; served from several threads at once, two requests could both pass
  the check. Real S3 evaluates the condition atomically; one request at a time gives the
  tests that same guarantee. ``--threaded`` serves concurrently (benchmarks that only list);
* it counts the requests it receives by kind (``LIST``, ``GET``, ``HEAD``, ``PUT``,
  ``DELETE``, ``POST``), the seconds spent serving them, and the wall time during which at
  least one request was being served ("busy"), readable at ``GET /_requests``
  (``{"counts": {...}, "seconds": {...}, "busy_s": x}``) and reset by ``DELETE /_requests``,
  so tests can assert how many requests an operation makes and benchmarks can tell the
  server's time from the client's;
* ``POST /_latency`` with a number of milliseconds delays every later answer by that much
  (a sleep, outside the busy time): a model of a remote endpoint's round trip;
* ``POST /_bulk`` with ``{"bucket": NAME, "objects": {KEY: TEXT}}`` stores many objects
  straight into moto's backend, without one HTTP request each: benchmarks use it to fill a
  bucket with tens of thousands of objects in seconds. It is not counted.

    python tests/s3_server.py [--port N] [--threaded]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Self

# Credentials the server accepts (moto accepts any); tests put them in store_options.
KEY = "testing"
SECRET = "testing"


def request_kind(method: str, path: str, query: str) -> str:
    """LIST for a bucket-level GET (a listing), else the HTTP method."""
    if method == "GET" and path.strip("/").count("/") == 0 and ("list-type" in query or "prefix" in query or "delimiter" in query):
        return "LIST"
    return method


class _Counting:
    """WSGI middleware: count requests by kind; serve /_requests."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.busy_s = 0.0
        self.latency_s = 0.0
        self._active = 0
        self._busy_since = 0.0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_bulk" and environ["REQUEST_METHOD"] == "POST":
            doc = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
            _bulk_put(doc["bucket"], doc["objects"])
            start_response("204 No Content", [])
            return [b""]
        if path == "/_latency" and environ["REQUEST_METHOD"] == "POST":
            self.latency_s = float(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))) / 1000
            start_response("204 No Content", [])
            return [b""]
        if path == "/_requests":
            with self.lock:
                if environ["REQUEST_METHOD"] == "DELETE":
                    self.counts.clear()
                    self.seconds.clear()
                    self.busy_s = 0.0
                body = json.dumps({"counts": dict(self.counts), "seconds": dict(self.seconds), "busy_s": self.busy_s}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        kind = request_kind(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""))
        if self.latency_s:
            time.sleep(self.latency_s)
        with self.lock:
            t0 = time.perf_counter()
            if self._active == 0:
                self._busy_since = t0
            self._active += 1
        try:
            body = list(self.app(environ, start_response))  # moto answers with whole bodies: no streaming lost
        finally:
            with self.lock:
                t1 = time.perf_counter()
                self.counts[kind] += 1
                self.seconds[kind] += t1 - t0
                self._active -= 1
                if self._active == 0:
                    self.busy_s += t1 - self._busy_since
        return body


def _bulk_put(bucket: str, objects: dict[str, str]) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key, text in objects.items():
        backend.put_object(bucket, key, text.encode())


def serve(port: int, threaded: bool) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = _Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=threaded, request_handler=MotoRequestHandler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


class S3Server:
    """A moto server subprocess; ``endpoint`` is its URL once started."""

    def __init__(self, threaded: bool = False) -> None:
        self.threaded = threaded
        self.proc: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self, timeout: float = 60) -> Self:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--port", "0"] + (["--threaded"] if self.threaded else [])
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        if not line.startswith("READY ") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the moto server did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def options(self) -> dict[str, Any]:
        """s3fs options that reach this server (store_options / remote_options)."""
        return {"endpoint_url": self.endpoint, "key": KEY, "secret": SECRET}

    def toml_options(self) -> str:
        """The same options as the body of an artifacts.toml table."""
        return "".join(f'{k} = "{v}"\n' for k, v in self.options().items())

    def make_bucket(self, name: str) -> str:
        import s3fs

        fs = s3fs.S3FileSystem(**self.options(), skip_instance_cache=True)
        fs.mkdir(name)
        return name

    def counts(self) -> dict[str, int]:
        """Requests received since the last reset, by kind."""
        counts: dict[str, int] = self._requests()["counts"]
        return counts

    def seconds(self) -> dict[str, float]:
        """Seconds the server spent answering them, by kind."""
        seconds: dict[str, float] = self._requests()["seconds"]
        return seconds

    def busy_s(self) -> float:
        """Wall time during which the server was answering at least one request."""
        return float(self._requests()["busy_s"])

    def _requests(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/_requests") as r:
            doc: dict[str, Any] = json.loads(r.read())
        return doc

    def bulk_put(self, bucket: str, objects: dict[str, str]) -> None:
        """Store many text objects at once (see ``POST /_bulk`` in the module docstring)."""
        body = json.dumps({"bucket": bucket, "objects": objects}).encode()
        req = urllib.request.Request(f"{self.endpoint}/_bulk", data=body, method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).close()

    def set_latency(self, ms: float) -> None:
        """Delay every later answer by ``ms`` milliseconds (see ``POST /_latency``)."""
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/_latency", data=str(ms).encode(), method="POST")).close()

    def reset_counts(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/_requests", method="DELETE")).close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="moto S3 server for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threaded", action="store_true")
    args = ap.parse_args()
    serve(args.port, args.threaded)
