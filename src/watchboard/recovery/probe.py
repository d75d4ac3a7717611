"""Failpoints: named steps of a service a test may stop it at, injected with the service.

Production passes `Failpoints()`, which does nothing; tests/faulty_service.py passes one that
dies (`os._exit`) at a named step, as under kill -9. Never an environment variable: what a
service does is decided by the code that builds it.

The steps (each service calls those it has):

    published          grading: a batch's effects are in the stream; nothing committed, no view put
    committed          a batch (or a timer's change) committed: state, processed ids, outbox;
                       effects not yet published (deadlines, notify) or views not yet put
    flushed            the outbox published after a commit; views not yet put
    delivered          notify: sends recorded with their `notice.*` in the outbox; not yet published
    command-committed  grading: a command's state and outbox committed; not yet published
    command-flushed    grading: a command's effect published; its view not yet put
    ack-committed      notify: an acknowledgement committed; its event not yet published
    ack-flushed        notify: its event published; the view not yet put
"""

from __future__ import annotations


class Failpoints:
    def reached(self, point: str) -> None:
        """The service has just done step `point`."""
