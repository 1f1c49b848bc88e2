"""Run a moto server on a free loopback port for panka's tests.

Prints `port=<n>` on stdout once it listens, then serves until its stdin
closes (the test process that started it ended, however it ended).

Every request is handled under one lock: real S3 and DynamoDB evaluate a
conditional write atomically, while moto's threaded server checks the
condition and stores the item in separate steps. Serializing requests gives
the tests AWS's semantics without changing moto.
"""

import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class Serialized:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # Materialize the body inside the lock so the whole request is one step.
            return list(self.app(environ, start_response))


def main():
    os.environ.setdefault("MOTO_PORT", "0")
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        0,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    os.environ["MOTO_PORT"] = str(server.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"port={server.port}", flush=True)
    # Block until the parent closes our stdin (or dies).
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
