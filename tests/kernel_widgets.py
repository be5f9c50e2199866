"""A real kernel driven as a browser drives it: cells executed, widgets used by comm messages.

``WidgetKernel(python)`` starts an IPython kernel with that Python (through jupyter_client,
from a kernel spec of our own in a temporary folder), installs a small recording hook in
it, and keeps every IOPub message with the time it arrived. The hook marks each widget
message (``comm_*``) with the name of the thread that sent it, in the message's metadata,
so the test can see which thread sent what and for which request.
"""

import json
import queue
import time
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

# Runs inside the kernel: every widget message carries the name of the thread sending it.
RECORD_THREADS = """
import threading as _threading
from IPython import get_ipython as _get_ipython

_session = _get_ipython().kernel.session
_send = _session.send

def _send_with_thread(stream, msg_or_type, *args, **kwargs):
    if isinstance(msg_or_type, str) and msg_or_type.startswith("comm_"):
        metadata = dict(kwargs.get("metadata") or {})
        metadata["sender_thread"] = _threading.current_thread().name
        kwargs["metadata"] = metadata
    return _send(stream, msg_or_type, *args, **kwargs)

_session.send = _send_with_thread
"""


class WidgetKernel:
    """A kernel of ``python`` in ``folder`` with ``env``; every IOPub message is kept."""

    def __init__(self, python, folder, env):
        spec_dir = Path(folder) / "kernels" / "under-test"
        spec_dir.mkdir(parents=True)
        argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "under test", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        specs = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
        self.manager = KernelManager(kernel_name="under-test", kernel_spec_manager=specs)
        self.manager.start_kernel(cwd=str(folder), env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.messages = []  # (arrival time, IOPub message), in order
        self.subshell = None  # where widget messages go: the main shell, or this subshell
        self.execute(RECORD_THREADS)

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

    # ------------------------------------------------------------ receiving

    def _receive(self, timeout):
        try:
            message = self.client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return None
        self.messages.append((time.perf_counter(), message))
        return message

    def wait_for(self, predicate, timeout, what, since=0):
        """The first IOPub message from the ``since``-th on with ``predicate(message)``,
        reading more until ``timeout`` seconds have passed."""
        deadline = time.perf_counter() + timeout
        for _, message in self.messages[since:]:
            if predicate(message):
                return message
        while time.perf_counter() < deadline:
            message = self._receive(timeout=max(0.0, deadline - time.perf_counter()))
            if message is not None and predicate(message):
                return message
        raise AssertionError(f"no {what} within {timeout} s")

    def wait_idle(self, msg_id, timeout=120):
        """Wait until the request ``msg_id`` has been handled (its 'idle' status)."""
        return self.wait_for(
            lambda m: (
                m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
                and m["parent_header"].get("msg_id") == msg_id
            ),
            timeout,
            f"idle status for {msg_id}",
        )

    # ------------------------------------------------------------ sending

    def execute(self, code, timeout=120):
        """Run a cell and wait for it; its execute reply (an error fails the test)."""
        msg_id = self.client.execute(code)
        reply = self.client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=timeout)
        assert reply["content"]["status"] == "ok", reply["content"]
        self.wait_idle(msg_id, timeout)
        return reply

    def comms_over_a_subshell(self):
        """Send widget messages to a subshell from now on, as JupyterLab 4.6 does by default
        with a kernel that has subshells (its setting commsOverSubshells: perCommTarget)."""
        request = self.client.session.msg("create_subshell_request", {})
        self.client.control_channel.send(request)
        reply = self.client.get_control_msg(timeout=30)
        assert reply["content"]["status"] == "ok", reply["content"]
        self.subshell = reply["content"]["subshell_id"]

    def send_comm(self, comm_id, data):
        """A comm message as a browser's widget manager sends it; its msg_id."""
        message = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        if self.subshell is not None:
            message["header"]["subshell_id"] = self.subshell
        self.client.shell_channel.send(message)
        return message["header"]["msg_id"]

    def click(self, comm_id):
        return self.send_comm(comm_id, {"method": "custom", "content": {"event": "click"}})

    def set_value(self, comm_id, value):
        state = {"method": "update", "state": {"value": value}, "buffer_paths": []}
        return self.send_comm(comm_id, state)

    # ------------------------------------------------------------ reading

    def widgets(self):
        """{comm_id: state} of every widget the kernel opened, with the updates it sent."""
        states = {}
        for _, message in self.messages:
            comm_id = message["content"].get("comm_id")
            if message["msg_type"] == "comm_open":
                states[comm_id] = dict(message["content"]["data"].get("state", {}))
            elif comm_id in states:
                states[comm_id].update(value_updates(message, comm_id))
        return states

    def find(self, css_class):
        """The comm id of the one widget that has ``css_class`` (``add_class``) now."""
        found = [
            comm_id
            for comm_id, state in self.widgets().items()
            if css_class in state.get("_dom_classes", ())
        ]
        assert len(found) == 1, f"{len(found)} widgets of class {css_class}"
        return found[0]

    def audit(self):
        """Each widget message as (sending thread, whether its request was busy), in order.

        A request is busy from its 'busy' status to its 'idle' one (IOPub keeps order).
        """
        busy = set()
        seen = []
        for _, message in self.messages:
            parent = message["parent_header"].get("msg_id")
            if message["msg_type"] == "status":
                state = message["content"]["execution_state"]
                (busy.add if state == "busy" else busy.discard)(parent)
            elif message["msg_type"].startswith("comm_"):
                thread = message["metadata"].get("sender_thread")
                seen.append((thread, parent in busy, message))
        return seen


def value_updates(message, comm_id):
    """The state a comm_msg sends for widget ``comm_id`` ({} if it is not one)."""
    if message["msg_type"] != "comm_msg" or message["content"]["comm_id"] != comm_id:
        return {}
    data = message["content"]["data"]
    return data.get("state", {}) if data.get("method") in ("update", "echo_update") else {}
