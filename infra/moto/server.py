"""Serves moto (the AWS emulator) on one loopback port for the local stack and the tests.

Why not `python -m moto.server`: we bind port 0 and print the port we got (no
port races between parallel test packages), and we serialise DynamoDB calls.
moto's HTTP server is threaded and its DynamoDB backend holds no per-item lock,
so a conditional write's check and its update are not guaranteed atomic under
concurrent requests (see docs/emulator.md). Real DynamoDB is. Serialising only
DynamoDB keeps SQS long polls, KMS and Secrets Manager concurrent.

DynamoDB Streams calls only read records made (under the lock) by the
writes, so they stay outside it: a stream page of 100 records with both
images takes moto a while to serialise, and every write used to wait on it.

We also make moto's SQS linear in a queue's depth (fast_sqs below), and keep
its request log quiet unless asked (--log-requests): formatting a log line
per call took an eighth of its time under load. What it answers does not
change.
"""
import argparse
import io
import signal
import sys
import threading
import time
import traceback

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class SerializeDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        # DynamoDB calls carry X-Amz-Target: DynamoDB_20120810.*; DynamoDB
        # Streams calls (DynamoDBStreams_*) do not match.
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                # Drain the response inside the lock so the whole call is one step.
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class QuietRequestHandler(MotoRequestHandler):
    """MotoRequestHandler without the access log line per request (errors are still logged)."""

    def log_request(self, code="-", size="-"):
        pass


class KeepAliveRequestHandler(QuietRequestHandler):
    """Keeps each connection open for the client's next call, as AWS's
    endpoints do. werkzeug's own handler answers every request with
    Connection: close, so an SDK client would dial a new TCP connection for
    each call, work a client of AWS does not do (--keep-alive).

    It reads the request's body whole (Content-Length) before the app runs
    and sends the app's answer with its length, so no byte of one request
    is left to be read as the next one's. Requests it cannot frame that way
    (chunked bodies, Expect: 100-continue) go to werkzeug's handler, which
    closes their connection as before.
    """

    protocol_version = "HTTP/1.1"
    # The answer's head and body go out in two writes: without this the
    # body waits for the client's delayed acknowledgement of the head (40 ms).
    disable_nagle_algorithm = True

    def run_wsgi(self):
        if "Transfer-Encoding" in self.headers or "Expect" in self.headers:
            return super().run_wsgi()
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        answer = {}
        chunks = []

        def start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, headers
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            self.server.log("error", "Error on request:\n%s", traceback.format_exc())
            self.close_connection = True
            self.send_error(500)
            return
        body = b"".join(chunks)
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in answer["headers"]:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def fast_sqs():
    """moto's SQS works out, for each message it receives, whether the
    message outlived the queue's retention period by computing every queue
    attribute, and ApproximateNumberOfMessages* among them walk every message
    of the queue with a clock read (datetime arithmetic) per message. A
    receive of ten messages from a queue of 1,000 so made some 30,000 clock
    reads: with a deep dispatch queue moto spent most of its time there, every
    call slowed down and the queue deepened. Read the retention period alone,
    and read the clock with time.time(): the same answers, in linear time.
    """
    from moto.sqs import models

    original_unix_time = models.unix_time

    def unix_time(dt=None):
        return time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt=None):
        return unix_time(dt) * 1000.0

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        retention = float(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threaded-dynamodb", action="store_true",
                        help="do not serialise DynamoDB calls (only to reproduce the race)")
    parser.add_argument("--log-requests", action="store_true", help="log every request (werkzeug's access log)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="keep connections open between requests, as AWS does (werkzeug closes each one)")
    args = parser.parse_args()
    fast_sqs()

    app = DomainDispatcherApplication(create_backend_app)
    if not args.threaded_dynamodb:
        app = SerializeDynamoDB(app)
    handler = MotoRequestHandler if args.log_requests else QuietRequestHandler
    if args.keep_alive:
        handler = KeepAliveRequestHandler
    server = make_server(args.host, args.port, app, threaded=True, request_handler=handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    print(f"moto listening on http://{args.host}:{server.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
