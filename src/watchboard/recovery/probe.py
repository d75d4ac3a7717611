"""Failpoints: named steps of a service a test may stop it at, injected with the service.

Production passes `Failpoints()`, which does nothing; tests/faulty_service.py passes one that
dies (`os._exit`) at a named step, as under kill -9. Never an environment variable: what a
service does is decided by the code that builds it.

The steps (each service calls those it has):

    published   its effects are in the stream; nothing committed, no view put
    committed   state (and outbox) committed; effects not yet published or views not yet put
    flushed     the outbox published; views not yet put
    viewed      views put; the consumer has not yet acked
"""

from __future__ import annotations


class Failpoints:
    def reached(self, point: str) -> None:
        """The service has just done step `point`."""
