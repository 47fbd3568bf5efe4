#!/usr/bin/env python3
"""A fake Kibana for the tests of `logferry setup` (tests/fake_kibana/README.md).

Standard library only; binds 127.0.0.1. It checks what Kibana 8 and 9 check
when saved objects are imported and answers in their shapes:

  GET  /api/status                       version, overall level
  POST /api/saved_objects/_import        multipart/form-data, one NDJSON "file" part
  POST /api/saved_objects/_bulk_get      [{type, id}, ...]
  GET  /api/saved_objects/TYPE/ID
  /s/SPACE/api/...                       the same in a space
  GET  /_fake/requests, /_fake/objects, PUT /_fake/faults   test controls
"""
import argparse
import base64
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

# The saved object types a Kibana 8/9 with the default plugins imports.
KNOWN_TYPES = {"index-pattern", "dashboard", "visualization", "search", "lens", "map", "tag", "config",
               "query", "event-annotation-group", "links", "canvas-workpad", "canvas-element",
               "graph-workspace", "url", "infrastructure-ui-source", "metrics-explorer-view"}
ICONS = {"index-pattern": "indexPatternApp", "dashboard": "dashboardApp", "visualization": "visualizeApp",
         "lens": "lensApp", "search": "discoverApp", "tag": "tag"}
MAX_PAYLOAD = 26214400  # savedObjects.maxImportPayloadBytes
MAX_OBJECTS = 10000     # savedObjects.maxImportExportSize
IMPORT_PARAMS = {"overwrite", "createNewCopies", "compatibilityMode"}


class KbnError(Exception):
    def __init__(self, status, error, message):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message

    def body(self):
        return {"statusCode": self.status, "error": self.error, "message": self.message}


def bad(message):
    return KbnError(400, "Bad Request", message)


def parse_multipart(ctype, body):
    """{name: (filename, bytes)} of a multipart/form-data body; KbnError when malformed."""
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        raise bad("Invalid multipart payload format")
    delim = b"--" + m.group(1).encode()
    if not body.startswith(delim):
        raise bad("Invalid multipart payload format")
    parts = {}
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            return parts
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise bad("Invalid multipart payload format")
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise bad("Invalid multipart payload format")
        disp = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                for item in v.split(";")[1:]:
                    a, _, b = item.strip().partition("=")
                    disp[a] = b.strip('"')
        if "name" not in disp:
            raise bad("Invalid multipart payload format")
        parts[disp["name"]] = (disp.get("filename"), data)
    raise bad("Invalid multipart payload format")  # no closing delimiter


class Kibana:
    def __init__(self, args):
        self.version = args.version
        self.lock = threading.Lock()
        self.spaces = {}  # space -> {(type, id): object}
        self.requests = []
        self.faults = {}
        self.auth = args.auth.split(":", 1) if args.auth else None
        self.api_key = args.api_key
        self.uuid = str(uuid.uuid4())

    def store(self, space):
        return self.spaces.setdefault(space, {})


class Handler(BaseHTTPRequestHandler):
    kbn = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.status = status

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def authenticate(self):
        kbn = self.kbn
        if not kbn.auth and not kbn.api_key:
            return
        h = self.headers.get("Authorization", "")
        if h.startswith("Basic ") and kbn.auth:
            try:
                user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            except ValueError:
                user, pw = "", None
            if [user, pw] == kbn.auth:
                return
            raise KbnError(401, "Unauthorized",
                           "[security_exception\n\tRoot causes:\n\t\tsecurity_exception: unable to authenticate "
                           "user [%s] for REST request [/_security/_authenticate]]: unable to authenticate user "
                           "[%s] for REST request [/_security/_authenticate]" % (user, user))
        if h.startswith("ApiKey ") and kbn.api_key and h[7:] == kbn.api_key:
            return
        raise KbnError(401, "Unauthorized", "Unauthorized")

    def dispatch(self):
        kbn = self.kbn
        self.status = 0
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        segs = [unquote(s) for s in url.path.split("/") if s]
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        try:
            if segs[:1] == ["_fake"]:
                return self.fake(segs, body)
            with kbn.lock:
                kbn.requests.append({"method": self.command, "path": self.path,
                                     "kbn-xsrf": self.headers.get("kbn-xsrf"),
                                     "content_type": self.headers.get("Content-Type")})
            space = "default"
            if segs[:1] == ["s"] and len(segs) > 2:
                space, segs = segs[1], segs[2:]
            self.authenticate()
            if self.command != "GET" and self.headers.get("kbn-xsrf") is None:
                raise bad("Request must contain a kbn-xsrf header.")
            route = "/".join(segs)
            if route == "api/status" and self.command == "GET":
                return self.status_api()
            if route == "api/saved_objects/_import" and self.command == "POST":
                if kbn.faults.get("import_status"):
                    st = kbn.faults["import_status"]
                    raise KbnError(st, "Internal Server Error" if st >= 500 else "Bad Request",
                                   "injected fault: import refused")
                return self.import_api(space, params, body)
            if route == "api/saved_objects/_bulk_get" and self.command == "POST":
                return self.bulk_get(space, body)
            if len(segs) == 4 and segs[:2] == ["api", "saved_objects"] and self.command == "GET":
                return self.get_object(space, segs[2], segs[3])
            raise KbnError(404, "Not Found", "Not Found")
        except KbnError as e:
            self.send(e.status, e.body())
        finally:
            with kbn.lock:
                if kbn.requests and segs[:1] != ["_fake"]:
                    kbn.requests[-1]["status"] = self.status

    def fake(self, segs, body):
        kbn = self.kbn
        what = segs[1] if len(segs) > 1 else ""
        with kbn.lock:
            if what == "requests":
                return self.send(200, kbn.requests)
            if what == "objects":
                return self.send(200, {sp: sorted("%s/%s" % k for k in objs) for sp, objs in kbn.spaces.items()})
            if what == "faults" and self.command in ("PUT", "POST"):
                kbn.faults = json.loads(body or b"{}")
                return self.send(200, kbn.faults)
        self.send(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})

    def status_api(self):
        kbn = self.kbn
        level = kbn.faults.get("status_level", "available")
        self.send(200 if level != "unavailable" else 503, {
            "name": "fake-kibana", "uuid": kbn.uuid,
            "version": {"number": kbn.version, "build_hash": "fake", "build_number": 1, "build_snapshot": False,
                        "build_flavor": "traditional"},
            "status": {"overall": {"level": level, "summary": "All services and plugins are available"
                                   if level == "available" else "Some services are " + level},
                       "core": {"elasticsearch": {"level": "available", "summary": "Elasticsearch is available"},
                                "savedObjects": {"level": "available", "summary": "SavedObjects service has "
                                                                                  "completed migrations"}},
                       "plugins": {}},
            "metrics": {"last_updated": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}})

    def import_api(self, space, params, body):
        kbn = self.kbn
        for k in params:
            if k not in IMPORT_PARAMS:
                raise bad("[request query.%s]: definition for this key is missing" % k)
        flag = {k: params.get(k) in ("true", "") for k in IMPORT_PARAMS if k in params}
        if flag.get("overwrite") and flag.get("createNewCopies"):
            raise bad("[request query]: cannot use [overwrite] with [createNewCopies]")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            raise KbnError(415, "Unsupported Media Type", "Unsupported Media Type")
        if len(body) > MAX_PAYLOAD:
            raise KbnError(413, "Request Entity Too Large",
                           "Payload content length greater than maximum allowed: %d" % MAX_PAYLOAD)
        parts = parse_multipart(ctype, body)
        if "file" not in parts:
            raise bad("[request body.file]: expected value of type [Stream] but got [undefined]")
        filename, data = parts["file"]
        ext = os.path.splitext(filename or "")[1]
        if ext != ".ndjson":
            raise bad("Invalid file extension %s" % ext)
        objs = []
        for line in data.decode("utf-8").split("\n"):
            if not line.strip():
                continue
            try:
                o = json.loads(line)
            except ValueError as e:
                raise bad("Unexpected token in JSON: %s" % e) from None
            if isinstance(o, dict) and "exportedCount" in o and "type" not in o:
                continue  # an export's summary line
            if not isinstance(o, dict) or not isinstance(o.get("type"), str) or not isinstance(o.get("id"), str):
                raise bad("Invalid saved object: type and id are required")
            objs.append(o)
        if len(objs) > MAX_OBJECTS:
            raise bad("Can't import more than %d objects" % MAX_OBJECTS)
        with kbn.lock:
            stored = kbn.store(space)
            errors, ok = [], []
            importable = {(o["type"], o["id"]) for o in objs if o["type"] in KNOWN_TYPES}
            for o in objs:
                title = (o.get("attributes") or {}).get("title", "")
                meta = {"title": title, "icon": ICONS.get(o["type"], "questionInCircle")}
                base = {"id": o["id"], "type": o["type"], "title": title, "meta": meta}
                if o["type"] not in KNOWN_TYPES:
                    errors.append(dict(base, error={"type": "unsupported_type"}))
                    continue
                missing = [{"type": r.get("type"), "id": r.get("id")} for r in o.get("references") or []
                           if (r.get("type"), r.get("id")) not in importable and
                           (r.get("type"), r.get("id")) not in stored]
                if missing:
                    errors.append(dict(base, error={"type": "missing_references", "references": missing}))
                    continue
                key = (o["type"], o["id"])
                if key in stored and not flag.get("overwrite"):
                    errors.append(dict(base, error={"type": "conflict"}))
                    continue
                ok.append((key, o))
            # Kibana writes what passed, even when others failed.
            results = []
            for key, o in ok:
                existed = key in stored
                saved = {"id": o["id"], "type": o["type"], "namespaces": [space],
                         "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                         "version": "WzEsMV0=", "attributes": o.get("attributes", {}),
                         "references": o.get("references") or [], "managed": bool(o.get("managed", False))}
                stored[key] = saved
                r = {"type": o["type"], "id": o["id"],
                     "meta": {"title": (o.get("attributes") or {}).get("title", ""),
                              "icon": ICONS.get(o["type"], "questionInCircle")}}
                if existed:
                    r["overwrite"] = True
                results.append(r)
        answer = {"success": not errors, "successCount": len(results)}
        if results:
            answer["successResults"] = results
        if errors:
            answer["errors"] = errors
        self.send(200, answer)

    def bulk_get(self, space, body):
        try:
            asks = json.loads(body or b"null")
        except ValueError:
            raise bad("[request body]: could not parse array value from json input") from None
        if not isinstance(asks, list):
            raise bad("[request body]: expected value of type [array] but got [%s]" % type(asks).__name__)
        out = []
        with self.kbn.lock:
            stored = self.kbn.store(space)
            for a in asks:
                t, i = (a or {}).get("type"), (a or {}).get("id")
                if t not in KNOWN_TYPES:
                    out.append({"id": i, "type": t, "error": {
                        "statusCode": 400, "error": "Bad Request",
                        "message": "Unsupported saved object type: '%s': Bad Request" % t}})
                elif (t, i) in stored:
                    out.append(stored[(t, i)])
                else:
                    out.append({"id": i, "type": t, "error": {
                        "statusCode": 404, "error": "Not Found",
                        "message": "Saved object [%s/%s] not found" % (t, i)}})
        self.send(200, {"saved_objects": out})

    def get_object(self, space, t, i):
        with self.kbn.lock:
            o = self.kbn.store(space).get((t, i))
        if not o:
            raise KbnError(404, "Not Found", "Saved object [%s/%s] not found" % (t, i))
        self.send(200, o)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="A fake Kibana for tests (binds 127.0.0.1 only).")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="written (atomically) with the port once listening")
    ap.add_argument("--version", default="8.15.0")
    ap.add_argument("--auth", metavar="USER:PASSWORD", help="require basic authentication")
    ap.add_argument("--api-key", metavar="BASE64", help="accept 'Authorization: ApiKey BASE64'")
    args = ap.parse_args(argv)
    Handler.kbn = Kibana(args)
    server = Server(("127.0.0.1", args.port), Handler)
    if args.port_file:
        tmp = args.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, args.port_file)

    def stop(_sig, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
