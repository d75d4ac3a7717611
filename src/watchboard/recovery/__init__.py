"""Nothing lost, nothing stuck (issue 12): views fitted to one message and put only after their
facts, views reconciled with the state, state rebuilt from the stream, failpoints for tests.

    views      fit each view to the server's max_payload and put it
    reconcile  compare a service's KV keys with its state and repair them
    rebuild    replay the stream into a service's empty store before it serves
    probe      named steps a test may stop a service at (production: nothing)
"""
