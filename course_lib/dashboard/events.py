"""Widget events heard while a run trains on the kernel's main thread.

A run starts in the Run button's handler, so the kernel is busy with that click until the
run ends. Between evaluations, ``KernelEvents()`` takes the messages that reached the
kernel meanwhile and hands the widget ones (a Stop click, a changed control) to their
handlers at once, on the main thread, while the click's request is still busy: Colab
shows only widget updates sent that way (googlecolab/colabtools#3373). Any other request
(a cell to execute, a completion) is given back to the kernel when the run ends, in order.

Why our own: jupyter-ui-poll runs the handlers on a helper thread under ipykernel 6 and
does not work on ipykernel 7. This reads the same messages the kernel would, from the
socket the kernel reads them from (ipykernel 6: the shell socket; ipykernel 7: the pair
the shell channel thread forwards them to).
"""

import asyncio

import zmq

WIDGET_MESSAGES = ("comm_open", "comm_msg", "comm_close")


def _kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return getattr(get_ipython(), "kernel", None)


class KernelEvents:
    """Call it to handle the widget messages waiting for the kernel; ``close()`` at the end.

    Outside a kernel (a script, a test) there is nothing to hear and a call does nothing.
    """

    def __init__(self):
        self._kernel = kernel = _kernel()
        self._socket = None
        self._later = []
        if kernel is None or not hasattr(kernel, "session"):
            return
        channel = getattr(kernel, "shell_channel_thread", None)
        if channel is not None:  # ipykernel 7
            self._socket = channel.manager.get_shell_channel_to_subshell_pair(None).to_socket
        else:  # ipykernel 6
            self._socket = kernel.shell_stream.socket

    def __call__(self):
        """Handle every widget message that arrived; keep other requests for later."""
        if self._socket is None:
            return
        session = self._kernel.session
        while True:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            idents, rest = session.feed_identities(frames, copy=False)
            # The header alone: the kernel checks each message's signature only once.
            kind = session.unpack(rest[1].bytes)["msg_type"]
            if kind in WIDGET_MESSAGES:
                message = session.deserialize(rest, content=True, copy=False)
                # The click's request stays the parent: its updates are sent while it is busy.
                self._kernel.shell_handlers[kind](None, idents, message)
            else:
                self._later.append(frames)

    def close(self):
        """Give the requests kept for later back to the kernel, oldest first."""
        kernel, later, self._later = self._kernel, self._later, []
        for frames in later:
            if hasattr(kernel, "shell_main"):  # ipykernel 7: queued behind the click
                asyncio.ensure_future(kernel.shell_main(None, frames))
            else:
                kernel.schedule_dispatch(kernel.dispatch_shell, frames)
