"""A real JupyterHub on 127.0.0.1 for tests/test_hub.py and benchmarks/bench_hub.py.

The hub starts from the instructor's deploy/jupyterhub_config.py as shipped, with the
work folder as the hub's folder (``COURSE_HUB_DIR``) and the students written into its
allowed_users.txt, as deploy/README.md tells the instructor. On top come only what a test
machine lacks or must not use: free ports on 127.0.0.1, a shared-password login and
local-process servers with one home folder per student under the work folder (no system
accounts here), the bundled MNIST sample and an API token for the caller. Its log (with
the single-user servers' and kernels' output) goes to ``<workdir>/hub.log``. Every
process it starts carries the environment variable ``COURSE_HUB_RUN=<run id>``, so
``Hub.stop`` finds and ends all of them, even ones the hub lost track of.

Notebooks run in a student's server the way JupyterLab runs them: a session through
the server's REST API, then the code cells over the kernel's websocket, both through
the hub's proxy and authenticated with the test's token.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
NOTEBOOKS = ROOT / "notebooks"
# The shared-password login needs at least 8 characters.
PASSWORD = "vanishing-gradients"
MARKER = "COURSE_HUB_RUN"
TEST_SERVICE = "course-test"

# JupyterLab's own settings in each home: no news pop-up over the notebook.
_LAB_SETTINGS = {
    ".jupyter/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class HubError(RuntimeError):
    """The hub, a student's server or a kernel did not do what was asked."""


def missing_requirements() -> list[str]:
    """What a hub run needs and this machine lacks, as readable reasons (empty: nothing)."""
    reasons = []
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        reasons.append("the jupyterhub package is missing (pip install -e '.[test]')")
    try:
        import psutil  # noqa: F401
    except ImportError:
        reasons.append("the psutil package is missing (pip install -e '.[test]')")
    if shutil.which("configurable-http-proxy") is None:
        reasons.append(
            "configurable-http-proxy is not on PATH (npm install -g configurable-http-proxy)"
        )
    return reasons


def free_ports(count: int) -> list[int]:
    """``count`` different free TCP ports on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class Hub:
    """A JupyterHub with its proxy, run from deploy/jupyterhub_config.py in ``workdir``.

    Use as a context manager, or call ``start()`` and, always, ``stop()``.
    ``students`` are the names written into allowed_users.txt before the hub starts;
    ``spawner_environment`` adds to the students' environment (the test adds the
    offline MNIST sample).
    """

    def __init__(
        self, workdir, *, students=(), spawner_environment=None, start_timeout: float = 60
    ):
        self.workdir = Path(workdir)
        self.students = list(students)
        self.homes = self.workdir / "homes"
        self.log_path = self.workdir / "hub.log"
        self.run_id = uuid.uuid4().hex
        self.token = secrets.token_hex(32)
        self.port, self.hub_port, self.api_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}"
        self.spawner_environment = dict(spawner_environment or {})
        self.start_timeout = start_timeout
        self.process = None
        self._log = None

    # -- lifecycle ----------------------------------------------------------------------

    def config_text(self) -> str:
        """The hub's configuration file: the instructor's, then the test settings."""
        environment = {**self.spawner_environment, MARKER: self.run_id}
        args = ["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if _is_root():
            # Single-user servers run as the hub's user here, and Jupyter refuses root
            # unless told otherwise.
            args.insert(0, "--allow-root")
        scopes = [
            "admin:users",
            "admin:servers",
            "access:servers",
            "list:users",
            "read:users",
            "read:servers",
        ]
        work = self.workdir
        return "\n".join(
            [
                "# Written by tests/hub_support.py: the instructor's configuration, then",
                "# the test's settings (ports, login, spawner, data, token).",
                "c = get_config()  # noqa",
                f"load_subconfig({str(DEPLOY_CONFIG)!r})  # noqa",
                f"c.JupyterHub.bind_url = {self.url + '/'!r}",
                f"c.JupyterHub.hub_bind_url = {f'http://127.0.0.1:{self.hub_port}'!r}",
                f"c.ConfigurableHTTPProxy.api_url = {f'http://127.0.0.1:{self.api_port}'!r}",
                f"c.ConfigurableHTTPProxy.command = {[shutil.which('configurable-http-proxy')]!r}",
                "c.ConfigurableHTTPProxy.should_start = True",
                f"c.ConfigurableHTTPProxy.pid_file = {str(work / 'proxy.pid')!r}",
                f"c.JupyterHub.pid_file = {str(work / 'hub.pid')!r}",
                # No system accounts here: one password for the test's students, and
                # every student's home a folder in workdir. Who may log in stays the
                # instructor's allowed_users.txt.
                'c.JupyterHub.authenticator_class = "shared-password"',
                f"c.SharedPasswordAuthenticator.user_password = {PASSWORD!r}",
                'c.JupyterHub.spawner_class = "simple"',
                f"c.SimpleLocalProcessSpawner.home_dir_template = "
                f"{str(self.homes) + '/{username}'!r}",
                'c.Spawner.ip = "127.0.0.1"',
                f"c.Spawner.args.extend({args!r})",
                f"c.Spawner.environment.update({environment!r})",
                # Some machines need these for OpenBLAS to pick a working kernel.
                'c.Spawner.env_keep.extend(["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"])',
                f"c.JupyterHub.services.append("
                f"{{'name': {TEST_SERVICE!r}, 'api_token': {self.token!r}}})",
                f"c.JupyterHub.load_roles.append({{'name': {TEST_SERVICE!r}, "
                f"'scopes': {scopes!r}, 'services': [{TEST_SERVICE!r}]}})",
                "",
            ]
        )

    def start(self) -> Hub:
        """Start the hub (which starts the proxy) and wait until the proxy routes to it."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.homes.mkdir(exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(self.config_text())
        # The instructor's step: the students who may log in, one name a line.
        (self.workdir / "allowed_users.txt").write_text("".join(f"{n}\n" for n in self.students))
        env = {
            key: value
            for key, value in os.environ.items()
            # A hub started from inside a JupyterHub server must not inherit its identity.
            if not key.startswith(("JUPYTERHUB_", "JPY_"))
        }
        env[MARKER] = self.run_id
        env["COURSE_HUB_DIR"] = str(self.workdir)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise HubError(
                    f"JupyterHub exited with code {self.process.returncode}\n{self.log_tail()}"
                )
            # The hub itself first (asking the proxy earlier only fills the log with
            # 404s), then through the proxy: it is up and routes /hub/ to the hub.
            if _answers(f"http://127.0.0.1:{self.hub_port}/hub/api/") and _answers(
                f"{self.url}/hub/api/"
            ):
                return self
            if time.monotonic() > deadline:
                raise HubError(
                    f"JupyterHub did not answer within {self.start_timeout:.0f} s\n"
                    + self.log_tail()
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Stop the hub, its proxy, every server and kernel; kill what does not stop."""
        try:
            if self.process is not None and self.process.poll() is None:
                # SIGTERM lets the hub stop the students' servers and the proxy itself.
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    _kill_group(self.process.pid)
                    self.process.wait(timeout=10)
        finally:
            self._kill_leftovers()
            if self._log is not None:
                self._log.close()
                self._log = None

    def _kill_leftovers(self) -> None:
        import psutil

        leftovers = self.processes()
        for proc in leftovers:
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=5)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=5)

    def __enter__(self) -> Hub:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- inspection ---------------------------------------------------------------------

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the hub's log, headed by its path (for failure messages)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no hub log at {self.log_path}: {exc})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    def processes(self, user: str | None = None) -> list:
        """Live processes this hub run started (``user``: that student's server and kernels)."""
        import psutil

        found = []
        for proc in psutil.process_iter():
            try:
                env = proc.environ()
            except (psutil.Error, OSError):
                continue
            if env.get(MARKER) != self.run_id:
                continue
            if user is None or env.get("JUPYTERHUB_USER") == user:
                found.append(proc)
        return found

    def home(self, user: str) -> Path:
        """The student's home folder (their server's working directory)."""
        return self.homes / user

    # -- the hub's REST API -------------------------------------------------------------

    def request(self, method: str, url: str, body=None, *, timeout: float = 30):
        """One HTTP request with the test's token; returns ``(status, decoded JSON or None)``."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method: str, path: str, body=None, *, ok=(200, 201, 202, 204)):
        """Call the hub's REST API (``path`` below /hub/api/); raise HubError unless ``ok``."""
        status, answer = self.request(method, f"{self.url}/hub/api/{path.lstrip('/')}", body)
        if status not in ok:
            raise HubError(f"{method} /hub/api/{path} answered {status}: {answer}")
        return answer

    def login(self, user: str, password: str) -> bool:
        """Log in through the hub's login form as a browser does; True if let in."""
        import http.cookiejar

        class _Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None  # a redirect after the form means: logged in

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _Stay)
        with opener.open(f"{self.url}/hub/login", timeout=30) as answer:
            form = answer.read().decode()
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', form)
        fields = {"username": user, "password": password, "_xsrf": xsrf.group(1) if xsrf else ""}
        try:
            with opener.open(
                f"{self.url}/hub/login", urllib.parse.urlencode(fields).encode(), timeout=30
            ) as answer:
                return False  # the form again, with its error
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303):
                return True
            if exc.code == 403:
                return False
            raise HubError(f"the login form answered {exc.code}: {exc.read()[:300]!r}") from None

    def add_users(self, names) -> None:
        """Create the students' accounts and prepare their homes (JupyterLab settings)."""
        names = list(names)
        existing = {user["name"] for user in self.api("GET", "users") or []}
        new = [name for name in names if name not in existing]
        if new:
            self.api("POST", "users", {"usernames": new})
        for name in names:
            for relative, settings in _LAB_SETTINGS.items():
                path = self.home(name) / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(settings))

    def start_servers(self, names, *, timeout: float = 120) -> dict[str, float]:
        """Start the students' servers at once and wait until all are ready.

        Returns the seconds each server took, measured from the request.
        """
        names = list(names)
        started = time.monotonic()
        # The hub holds each request up to 10 s while the server starts (its
        # slow_spawn_timeout), so requests sent one by one would start servers one by one.
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            # 201: started, 202: starting, 400: already running (all fine here).
            list(
                pool.map(
                    lambda name: self.api("POST", f"users/{name}/server", ok=(201, 202, 400)),
                    names,
                )
            )
        took, deadline = {}, started + timeout
        while len(took) < len(names):
            for name in names:
                if name in took:
                    continue
                server = (self.api("GET", f"users/{name}").get("servers") or {}).get("")
                if server and server.get("ready"):
                    took[name] = time.monotonic() - started
                elif not server or not server.get("pending"):
                    raise HubError(f"the server of {name} failed to start\n{self.log_tail()}")
            if len(took) < len(names):
                if time.monotonic() > deadline:
                    waiting = sorted(set(names) - set(took))
                    raise HubError(
                        f"servers of {waiting} not ready after {timeout:.0f} s\n{self.log_tail()}"
                    )
                time.sleep(0.25)
        return took

    def stop_servers(self, names, *, timeout: float = 60) -> None:
        """Stop the students' servers and wait until the hub reports them gone."""
        names = list(names)
        for name in names:
            self.api("DELETE", f"users/{name}/server", ok=(202, 204, 400))
        deadline = time.monotonic() + timeout
        while any(
            (self.api("GET", f"users/{name}").get("servers") or {}).get("") for name in names
        ):
            if time.monotonic() > deadline:
                raise HubError(f"servers of {names} still running after {timeout:.0f} s")
            time.sleep(0.25)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# -- running code in a student's kernel ------------------------------------------------


@dataclass
class CellResult:
    """One executed cell: its source, nbformat-style outputs, the error if any, and time."""

    source: str
    outputs: list = field(default_factory=list)
    error: dict | None = None
    started: float = 0.0
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """What the cell printed and returned as text (stream and text/plain outputs)."""
        parts = []
        for out in self.outputs:
            if out["output_type"] == "stream":
                parts.append(out["text"])
            elif "text/plain" in out.get("data", {}):
                parts.append(out["data"]["text/plain"] + "\n")
        return "".join(parts)


@dataclass
class NotebookRun:
    """A notebook executed in a student's kernel, cell by cell, stopping at an error."""

    user: str
    path: str
    cells: list = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def error(self) -> dict | None:
        """The first error (``ename``, ``evalue``, ``traceback``), or None."""
        return next((cell.error for cell in self.cells if cell.error), None)

    @property
    def text(self) -> str:
        """Everything the cells printed, in order."""
        return "".join(cell.text for cell in self.cells)

    @property
    def seconds(self) -> float:
        """Wall time of the cells (the kernel was already running)."""
        return self.finished - self.started

    def describe_error(self) -> str:
        """The error as a readable block (ANSI colours removed), or ''."""
        if not self.error:
            return ""
        failed = next(cell for cell in self.cells if cell.error)
        traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(self.error.get("traceback", [])))
        return (
            f"{self.user}: {self.path} raised {self.error['ename']}: {self.error['evalue']}\n"
            f"in the cell:\n{failed.source}\n{traceback}"
        )


class KernelSession:
    """A notebook session in a student's server, driven through the hub's proxy.

    ``async with KernelSession(hub, user, "course/01.ipynb") as kernel:`` starts a kernel
    for that notebook (its working directory is the notebook's folder) the way JupyterLab
    does, and ``await kernel.execute(code)`` runs code in it. Leaving shuts it down.
    """

    def __init__(self, hub: Hub, user: str, path: str, *, kernel_name: str = "python3"):
        self.hub, self.user, self.path, self.kernel_name = hub, user, path, kernel_name
        self.session_id = None
        self.kernel_id = None
        self._client_session = uuid.uuid4().hex
        self._ws = None
        self._http = None

    def _headers(self) -> dict:
        return {"Authorization": f"token {self.hub.token}"}

    async def _rest(self, method: str, path: str, body=None):
        from tornado.httpclient import AsyncHTTPClient

        if self._http is None:
            self._http = AsyncHTTPClient()
        url = f"{self.hub.url}/user/{self.user}/api/{path}"
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = "application/json"
        answer = await self._http.fetch(
            url,
            method=method,
            headers=headers,
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            raise_error=False,
            request_timeout=120,
        )
        if answer.code not in (200, 201, 204):
            raise HubError(f"{method} {url} answered {answer.code}: {answer.body[:500]!r}")
        return json.loads(answer.body) if answer.body else None

    async def __aenter__(self) -> KernelSession:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session = await self._rest(
            "POST",
            "sessions",
            {
                "path": self.path,
                "name": Path(self.path).name,
                "type": "notebook",
                "kernel": {"name": self.kernel_name},
            },
        )
        self.session_id, self.kernel_id = session["id"], session["kernel"]["id"]
        query = urllib.parse.urlencode({"session_id": self._client_session})
        ws_url = (
            self.hub.url.replace("http://", "ws://", 1)
            + f"/user/{self.user}/api/kernels/{self.kernel_id}/channels?{query}"
        )
        self._ws = await websocket_connect(
            HTTPRequest(ws_url, headers=self._headers(), request_timeout=60),
            max_message_size=256 * 1024 * 1024,
        )
        # The kernel answers kernel_info once it is ready for code.
        await self._request("kernel_info_request", {}, timeout=120)
        return self

    async def __aexit__(self, *exc_info) -> None:
        if self._ws is not None:
            self._ws.close()
        if self.session_id is not None:
            try:
                await self._rest("DELETE", f"sessions/{self.session_id}")
            except Exception:  # the hub's shutdown stops the kernel anyway
                pass

    async def _send(self, msg_type: str, content: dict) -> str:
        msg_id = uuid.uuid4().hex
        self._ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": msg_type,
                        "username": self.user,
                        "session": self._client_session,
                        "date": datetime.now(timezone.utc).isoformat(),
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        return msg_id

    async def _receive(self, deadline: float) -> dict:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            raw = await asyncio.wait_for(self._ws.read_message(), remaining)
            if raw is None:
                raise HubError(
                    f"the kernel websocket of {self.user} closed (kernel died?)\n"
                    + self.hub.log_tail()
                )
            if isinstance(raw, bytes):  # binary frames carry widget buffers; not ours
                continue
            return json.loads(raw)

    async def _request(self, msg_type: str, content: dict, *, timeout: float) -> dict:
        msg_id = await self._send(msg_type, content)
        deadline = time.monotonic() + timeout
        while True:
            msg = await self._receive(deadline)
            if msg.get("channel") == "shell" and msg["parent_header"].get("msg_id") == msg_id:
                return msg["content"]

    async def execute(self, code: str, *, timeout: float = 300) -> CellResult:
        """Run ``code`` as one cell; return its outputs once the kernel is idle again."""
        started = time.monotonic()
        result = CellResult(source=code, started=started)
        msg_id = await self._send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        reply, idle = None, False
        deadline = started + timeout
        try:
            while reply is None or not idle:
                msg = await self._receive(deadline)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["header"]["msg_type"], msg["content"]
                if msg.get("channel") == "shell" and kind == "execute_reply":
                    reply = content
                elif kind == "status":
                    idle = content.get("execution_state") == "idle"
                elif kind == "stream":
                    result.outputs.append(
                        {"output_type": "stream", "name": content["name"], "text": content["text"]}
                    )
                elif kind in ("display_data", "execute_result"):
                    result.outputs.append({"output_type": kind, "data": content.get("data", {})})
                elif kind == "error":
                    result.error = {
                        key: content.get(key) for key in ("ename", "evalue", "traceback")
                    }
                    result.outputs.append({"output_type": "error", **result.error})
        except TimeoutError:
            raise HubError(
                f"a cell in {self.user}'s kernel did not finish within {timeout:.0f} s:\n{code}"
            ) from None
        if reply.get("status") == "error" and result.error is None:
            result.error = {key: reply.get(key) for key in ("ename", "evalue", "traceback")}
        result.seconds = time.monotonic() - started
        return result

    async def run_notebook(self, notebook: dict, *, cell_timeout: float = 300) -> NotebookRun:
        """Run the notebook's code cells in order, as "Run All" does, stopping at an error."""
        run = NotebookRun(user=self.user, path=self.path, started=time.monotonic())
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = cell["source"]
            source = "".join(source) if isinstance(source, list) else source
            result = await self.execute(source, timeout=cell_timeout)
            run.cells.append(result)
            if result.error:
                break
        run.finished = time.monotonic()
        return run

    async def read_notebook(self) -> dict:
        """The notebook as the student's server sees it (through its contents API)."""
        quoted = urllib.parse.quote(self.path)
        model = await self._rest("GET", f"contents/{quoted}?content=1&type=notebook")
        return model["content"]


@dataclass
class StudentResult:
    """What one student's kernel did in ``run_notebooks_together``."""

    user: str
    kernel_start: float
    run: NotebookRun
    after: list


async def run_notebooks_together(
    hub: Hub, paths: dict, *, after=(), cell_timeout: float = 300
) -> dict:
    """Every student runs their notebook at the same moment, as if "Run All" were pressed together.

    ``paths`` maps each student to a notebook path in their home. Each opens a kernel
    for it and reads it through their server; once all kernels are up, all run the code
    cells at once; then each runs the ``after`` cells in the same kernel. Returns a
    ``StudentResult`` per student.
    """
    ready, start_line, results = [], asyncio.Event(), {}

    async def student(user: str, path: str) -> None:
        opened = time.monotonic()
        async with KernelSession(hub, user, path) as kernel:
            kernel_start = time.monotonic() - opened
            notebook = await kernel.read_notebook()
            ready.append(user)
            await start_line.wait()
            run = await kernel.run_notebook(notebook, cell_timeout=cell_timeout)
            extra = []
            for code in after:
                extra.append(await kernel.execute(code, timeout=cell_timeout))
        results[user] = StudentResult(user, kernel_start, run, extra)

    tasks = [asyncio.create_task(student(user, path)) for user, path in paths.items()]
    try:
        while len(ready) < len(tasks):
            for task in tasks:
                if task.done():
                    task.result()  # a student who failed before the start line: raise now
            await asyncio.sleep(0.05)
        start_line.set()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return results
