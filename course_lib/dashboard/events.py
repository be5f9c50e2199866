"""Widget events heard while a run trains inside the Run button's handler (ipykernel 6, 7).

The widget messages (Stop, a changed control) go to their handlers at once, on the thread
of the click (the main one; under JupyterLab 4.6 and ipykernel 7, widget messages go to a
subshell), while its request is busy: Colab shows only widget updates sent so (colabtools
#3373). Other requests go back to the kernel when the run ends. Not jupyter-ui-poll: under
ipykernel 6 it runs the handlers on a thread of its own, and it fails under ipykernel 7.
"""

import asyncio
import threading

import zmq
from IPython import get_ipython

WIDGET_MESSAGES = ("comm_open", "comm_msg", "comm_close")


class KernelEvents:
    """Call it to handle the widget messages waiting for the kernel (outside a kernel: none);
    ``close()`` at the end of the run."""

    def __init__(self):
        self._kernel = kernel = getattr(get_ipython(), "kernel", None)
        self._socket, self._later = None, []
        channel = getattr(kernel, "shell_channel_thread", None)
        if channel is not None:  # ipykernel 7: forwarded to the thread of the click's shell
            self._subshell = channel.manager.subshell_id_from_thread_id(threading.get_ident())
            pair = channel.manager.get_shell_channel_to_subshell_pair(self._subshell)
            self._socket = pair.to_socket
        elif hasattr(kernel, "shell_stream"):  # ipykernel 6
            self._socket = kernel.shell_stream.socket

    def __call__(self):
        """Handle every widget message that arrived; keep other requests for later."""
        while self._socket is not None:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            session = self._kernel.session
            idents, rest = session.feed_identities(frames, copy=False)
            # The header alone: a signature may be checked only once, by whoever handles it.
            kind = session.unpack(rest[1].bytes)["msg_type"]
            if kind not in WIDGET_MESSAGES:
                self._later.append(frames)
                continue
            message = session.deserialize(rest, content=True, copy=False)
            # The click's request stays the parent: its updates are sent while it is busy.
            self._kernel.shell_handlers[kind](None, idents, message)

    def close(self):
        """Give the requests kept for later back to the kernel, oldest first."""
        kernel, later, self._later = self._kernel, self._later, []
        for frames in later:
            if hasattr(kernel, "shell_main"):  # ipykernel 7: they queue behind the click
                asyncio.ensure_future(kernel.shell_main(self._subshell, frames))
            else:
                kernel.schedule_dispatch(kernel.dispatch_shell, frames)
