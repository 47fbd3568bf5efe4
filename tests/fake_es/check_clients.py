#!/usr/bin/python3
"""Drives the fake Elasticsearch with Debian's python3-elasticsearch (7.17),
a real client that refuses servers not answering like Elasticsearch, and
asserts what it gets back.

    check_clients.py PORT client   index template, bulk, 409s, count, search,
                                   mapping conflicts, get_mapping, cat
    check_clients.py PORT faults   429 items (and the client's own retries),
                                   503, 413, dropped connections, malformed body
    check_clients.py PORT count INDEX   print the document count (for the shell)
    check_clients.py PORT load INDEX N ACKFILE   stream N documents, log acknowledged ids
    check_clients.py PORT verify INDEX ACKFILE   print 'acked present total'
    check_clients.py PORT distinct INDEX FIELD   print 'documents distinct-values'
    check_clients.py PORT tls CAFILE USER:PASSWORD APIKEY
                                   HTTPS with security on: basic auth and API key
                                   accepted (info, bulk, count), a wrong password and
                                   no credentials refused with 401, an untrusted CA
                                   refused by the client
    check_clients.py PORT mtls CAFILE CERT KEY
                                   HTTPS requiring a client certificate: works with
                                   one, the connection fails without

Prints one 'ok'/'FAIL' line per check; exits 1 if any failed.
"""

import datetime
import sys
import warnings

warnings.simplefilter("ignore")  # the 7.17 client warns about 8.x servers and security

from elasticsearch import Elasticsearch, helpers  # noqa: E402
from elasticsearch import exceptions as es_exc  # noqa: E402

failures = 0


def check(name, cond, detail=""):
    global failures
    print("%s %s%s" % ("ok  " if cond else "FAIL", name, "" if cond else "  [%s]" % detail), flush=True)
    if not cond:
        failures += 1


def client(port, **kw):
    return Elasticsearch(["http://127.0.0.1:%d" % port], timeout=30, **kw)


def fake(es, method, path, body=None):
    return es.transport.perform_request(method, path, body=body)


DAY = datetime.datetime(2024, 3, 15, tzinfo=datetime.timezone.utc)
INDEX = "client-2024.03.15"
N = 3000


def doc(i):
    ts = DAY + datetime.timedelta(seconds=20 * i)
    return {"@timestamp": ts.isoformat().replace("+00:00", "Z"), "seq": i, "load": i / 10.0,
            "host": {"name": "h%d" % (i % 5)}, "message": "message number %d" % i,
            "extra.dyn_int": i, "extra": {"dyn_str": "x%d" % (i % 3)}, "dyn_date": "2024-03-15T10:00:00Z",
            "event.dataset": "client.test"}


def actions(rng, index=INDEX, prefix="doc"):
    for i in rng:
        yield {"_op_type": "create", "_index": index, "_id": "%s-%05d" % (prefix, i), "_source": doc(i)}


def run_client(port):
    es = client(port)
    info = es.info()
    check("info: product check passed, version %s" % info["version"]["number"],
          info["tagline"] == "You Know, for Search" and info["version"]["build_flavor"] == "default")

    es.indices.put_index_template(name="client-test", body={
        "index_patterns": ["client-*"], "priority": 100,
        "template": {"settings": {"number_of_shards": 1, "number_of_replicas": 0},
                     "mappings": {"properties": {"@timestamp": {"type": "date"}, "seq": {"type": "long"},
                                                 "load": {"type": "float"}, "host.name": {"type": "keyword"},
                                                 "event": {"properties": {"dataset": {"type": "keyword"}}}}}}})
    got = es.indices.get_index_template(name="client-test")["index_templates"]
    check("put/get index template", got and got[0]["index_template"]["index_patterns"] == ["client-*"], got)
    check("index template exists", es.indices.exists_index_template(name="client-test") is True)

    # ILM as the client's own API sends and reads it (logferry setup's retention).
    es.ilm.put_lifecycle(policy="client-ilm", body={"policy": {
        "_meta": {"managed_by": "client"}, "phases": {"delete": {"min_age": "30d", "actions": {"delete": {}}}}}})
    pol = es.ilm.get_lifecycle(policy="client-ilm")["client-ilm"]
    check("put/get ILM policy", pol["version"] == 1 and
          pol["policy"]["phases"]["delete"]["min_age"] == "30d" and
          pol["policy"]["phases"]["delete"]["actions"]["delete"] == {"delete_searchable_snapshot": True}, pol)
    try:
        es.ilm.get_lifecycle(policy="client-nope")
        check("missing ILM policy: 404", False, "no error")
    except es_exc.NotFoundError as e:
        check("missing ILM policy: 404 %s" % e.error, e.error == "resource_not_found_exception")
    es.indices.create(index="client-ilm-idx", body={"settings": {"index.lifecycle.name": "client-ilm"}})
    ex = es.ilm.explain_lifecycle(index="client-ilm-idx")["indices"]["client-ilm-idx"]
    check("ILM explain of a managed index", ex["managed"] is True and ex["policy"] == "client-ilm", ex)
    es.indices.delete(index="client-ilm-idx")
    es.ilm.delete_lifecycle(policy="client-ilm")

    ok, errors = helpers.bulk(es, actions(range(N)), chunk_size=500, raise_on_error=False)
    check("helpers.bulk indexed %d documents with create" % N, ok == N and not errors, (ok, errors[:2]))

    ok, errors = helpers.bulk(es, actions(range(N)), chunk_size=500, raise_on_error=False)
    conflicts = [e for e in errors if e["create"]["status"] == 409 and
                 e["create"]["error"]["type"] == "version_conflict_engine_exception"]
    check("the same bulk again: %d items 409 version_conflict_engine_exception, none indexed" % len(conflicts),
          ok == 0 and len(conflicts) == N, (ok, len(errors)))

    count = es.count(index="client-*")["count"]
    check("count after both bulks is %d" % count, count == N)
    check("count on a comma list with _all-like wildcard", es.count(index="client-2024.03.15,client-nope*")
          ["count"] == N)

    r = es.search(index="client-*", body={"query": {"term": {"host.name": "h1"}}, "size": 5,
                                          "track_total_hits": True})
    check("search term on keyword: %d hits" % r["hits"]["total"]["value"],
          r["hits"]["total"] == {"value": N // 5, "relation": "eq"} and len(r["hits"]["hits"]) == 5 and
          all(h["_source"]["host"]["name"] == "h1" for h in r["hits"]["hits"]))
    r = es.search(index=INDEX, body={"query": {"range": {"@timestamp": {
        "gte": "2024-03-15T12:00:00Z", "lt": "2024-03-15T13:00:00Z"}}}, "size": 0})
    check("search range on @timestamp: %d hits (one hour)" % r["hits"]["total"]["value"],
          r["hits"]["total"]["value"] == 180)
    r = es.search(index=INDEX, body={"query": {"bool": {"filter": [
        {"range": {"seq": {"gte": 100, "lt": 200}}}, {"term": {"extra.dyn_str.keyword": "x1"}}]}},
        "sort": [{"seq": "desc"}], "size": 3})
    seqs = [h["_source"]["seq"] for h in r["hits"]["hits"]]
    check("bool filter range+term on a .keyword subfield, sorted: %s" % seqs,
          r["hits"]["total"]["value"] == 34 and seqs == [199, 196, 193], r["hits"]["total"])
    r = es.search(index=INDEX, body={"query": {"match": {"message": "number 42"}}, "size": 1}, params={})
    check("match on a text field", r["hits"]["total"]["value"] == N, r["hits"]["total"])
    r = es.search(index=INDEX, q="seq:42")
    check("URI search q=seq:42", r["hits"]["total"]["value"] == 1 and r["hits"]["hits"][0]["_id"] == "doc-00042")
    big = es.search(index=INDEX, body={"query": {"match_all": {}}, "size": 0})
    check("total hits default tracking", big["hits"]["total"] == {"value": N, "relation": "eq"})

    bad = [{"_op_type": "create", "_index": INDEX, "_id": "bad-seq", "_source": {"seq": "not-a-number"}},
           {"_op_type": "create", "_index": INDEX, "_id": "bad-obj", "_source": {"extra": "flat"}},
           {"_op_type": "create", "_index": INDEX, "_id": "coerce", "_source": {"seq": "42", "load": "1.5"}},
           {"_op_type": "create", "_index": INDEX, "_id": "bad-date", "_source": {"@timestamp": "yesterday"}}]
    ok, errors = helpers.bulk(es, bad, raise_on_error=False)
    by_id = {e["create"]["_id"]: e["create"] for e in errors}
    seq_err = by_id.get("bad-seq", {}).get("error", {})
    check("mapping conflict: 400 %s, %s" % (seq_err.get("type"), seq_err.get("reason")),
          by_id.get("bad-seq", {}).get("status") == 400 and
          seq_err.get("type") in ("document_parsing_exception", "mapper_parsing_exception") and
          "failed to parse field [seq] of type [long] in document with id 'bad-seq'" in seq_err.get("reason", "")
          and "Preview of field's value: 'not-a-number'" in seq_err.get("reason", ""), by_id)
    check("object mapped, concrete value sent: 400",
          by_id.get("bad-obj", {}).get("status") == 400 and "tried to parse field [extra] as object, but found a "
          "concrete value" in by_id["bad-obj"]["error"]["reason"], by_id.get("bad-obj"))
    check("a bad date in a date field: 400", by_id.get("bad-date", {}).get("status") == 400, by_id.get("bad-date"))
    check("numeric strings coerce into long/float fields", ok == 1 and "coerce" not in by_id, (ok, by_id.keys()))

    m = es.indices.get_mapping(index=INDEX)[INDEX]["mappings"]["properties"]
    check("mapping: template types kept (seq long, load float, host.name keyword)",
          m["seq"]["type"] == "long" and m["load"]["type"] == "float" and
          m["host"]["properties"]["name"]["type"] == "keyword", m.get("seq"))
    check("mapping: dynamic string is text + keyword subfield",
          m["message"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
          m.get("message"))
    check("mapping: dotted name expanded, dynamic long/date",
          m["extra"]["properties"]["dyn_int"] == {"type": "long"} and m["dyn_date"] == {"type": "date"},
          (m.get("extra"), m.get("dyn_date")))

    rows = es.cat.indices(index="client-*", format="json")
    row = rows[0] if rows else {}
    check("cat.indices json: %s docs.count=%s health=%s" % (row.get("index"), row.get("docs.count"),
                                                            row.get("health")),
          len(rows) == 1 and row["index"] == INDEX and row["docs.count"] == str(N + 1) and row["health"] == "green",
          rows)
    text = es.cat.indices(index="client-*", v=True)
    check("cat.indices text has a header and the row", text.startswith("health") and INDEX in text, text)

    r = es.index(index=INDEX, id="single", body={"seq": 7}, op_type="create")
    check("single-document create", r["result"] == "created" and r["_version"] == 1, r)
    try:
        es.index(index=INDEX, id="single", body={"seq": 7}, op_type="create")
        check("single-document create twice: 409", False, "no error")
    except es_exc.ConflictError as e:
        check("single-document create twice: 409", e.status_code == 409)
    check("get document", es.get(index=INDEX, id="doc-00007")["_source"]["seq"] == 7)
    check("exists on a missing index is False", es.indices.exists(index="client-nope") is False)
    try:
        es.count(index="client-missing")
        check("count on a missing concrete index: 404", False, "no error")
    except es_exc.NotFoundError as e:
        check("count on a missing concrete index: 404 %s" % e.error, e.error == "index_not_found_exception")


def run_faults(port):
    es = client(port)
    fake(es, "PUT", "/_fake/faults", {"reject_429_fraction": 0.3, "seed": 7})
    ok, errors = helpers.bulk(es, actions(range(1000), index="client-faults", prefix="r"), chunk_size=250,
                              raise_on_error=False, max_retries=0)
    rejected = [e for e in errors if e["create"]["status"] == 429 and
                e["create"]["error"]["type"] == "es_rejected_execution_exception"]
    count = es.count(index="client-faults")["count"]
    check("429 fraction 0.3: %d of 1000 items rejected, %d indexed, rejected ones not indexed"
          % (len(rejected), count), 200 <= len(rejected) <= 400 and len(rejected) == len(errors) and
          count == ok == 1000 - len(rejected), (ok, len(errors), count))
    ok, errors = helpers.bulk(es, actions(range(1000), index="client-faults", prefix="r"), chunk_size=250,
                              raise_on_error=False, max_retries=20, initial_backoff=0.01, max_backoff=0.05)
    count = es.count(index="client-faults")["count"]
    others = {e["create"]["status"] for e in errors}
    check("helpers.bulk's own 429 retries complete the set: count %d" % count,
          count == 1000 and others <= {409}, (count, others))
    fake(es, "PUT", "/_fake/faults", {})

    fake(es, "PUT", "/_fake/faults", {"status_503_next": 2})
    retrying = client(port, max_retries=3, retry_on_status=(503,))
    ok, errors = helpers.bulk(retrying, actions(range(10), index="client-faults", prefix="s"), raise_on_error=False)
    st = fake(es, "GET", "/_fake/stats")
    check("503 on the next 2 bulks: the client retried through them (%d faults)" % st["faults"]["status_503"],
          ok == 10 and st["faults"]["status_503"] == 2 and fake(es, "GET", "/_fake/faults")["status_503_next"] == 0)
    fake(es, "PUT", "/_fake/faults", {"status_503_next": 1})
    try:
        client(port, max_retries=0).bulk(body=[{"create": {"_index": "client-faults", "_id": "x503"}}, {"a": 1}])
        check("503 without client retries surfaces as TransportError 503", False, "no error")
    except es_exc.TransportError as e:
        check("503 without client retries surfaces as TransportError 503 %s" % e.error,
              e.status_code == 503 and e.error == "cluster_block_exception", e)

    fake(es, "PUT", "/_fake/faults", {"max_body_bytes": 4096})
    try:
        helpers.bulk(es, actions(range(200), index="client-faults", prefix="big"), chunk_size=200, max_retries=0)
        check("a body over max_body_bytes gets 413", False, "no error")
    except es_exc.TransportError as e:
        check("a body over max_body_bytes gets 413", e.status_code == 413, e)
    ok, _ = helpers.bulk(es, actions(range(5), index="client-faults", prefix="small"), raise_on_error=False)
    check("a small body still passes", ok == 5)

    fake(es, "PUT", "/_fake/faults", {"reset_next": 1, "reset_after_index": True})
    before = es.count(index="client-faults")["count"]
    ok, errors = helpers.bulk(client(port, max_retries=2), actions(range(50), index="client-faults", prefix="rst"),
                              raise_on_error=False)
    after = es.count(index="client-faults")["count"]
    st = fake(es, "GET", "/_fake/stats")
    check("reset after indexing: the client's retry sees 50 x 409, the documents exist once",
          ok == 0 and len(errors) == 50 and {e["create"]["status"] for e in errors} == {409} and
          after == before + 50 and st["faults"]["reset_after_index"] == 1, (ok, len(errors), before, after))
    fake(es, "PUT", "/_fake/faults", {"reset_next": 1})
    try:
        client(port, max_retries=0).bulk(body=[{"create": {"_index": "client-faults", "_id": "rst-x"}}, {"a": 1}])
        check("reset before indexing: ConnectionError, nothing indexed", False, "no error")
    except es_exc.ConnectionError:
        check("reset before indexing: ConnectionError, nothing indexed",
              not es.exists(index="client-faults", id="rst-x"))

    fake(es, "PUT", "/_fake/faults", {"malformed_next": 1})
    try:
        es.bulk(body=[{"create": {"_index": "client-faults", "_id": "mal"}}, {"a": 1}])
        check("malformed answer: SerializationError", False, "no error")
    except es_exc.SerializationError:
        check("malformed answer: SerializationError (the item was indexed)", es.exists(index="client-faults",
                                                                                      id="mal"))
    fake(es, "PUT", "/_fake/faults", {})
    check("faults cleared", fake(es, "GET", "/_fake/faults") == {})


def load(port, index, n, ackfile):
    """Streams n documents in bulks of 500 and appends the ids of every item
    answered 201 to ackfile, until the server goes away (killed mid-stream)."""
    es = client(port, max_retries=0)
    with open(ackfile, "a") as acks:
        for start in range(0, n, 500):
            body = []
            for i in range(start, min(n, start + 500)):
                body += [{"create": {"_index": index, "_id": "k-%06d" % i}}, doc(i)]
            try:
                resp = es.bulk(body=body, params={"filter_path": "items.*._id,items.*.status"})
            except (es_exc.ConnectionError, es_exc.TransportError):
                return 0
            acks.write("".join(it["create"]["_id"] + "\n" for it in resp["items"]
                               if it["create"]["status"] == 201))
            acks.flush()
    return 0


def verify(port, index, ackfile):
    """Every acknowledged id is there after a restart; prints 'acked present total'."""
    es = client(port)
    with open(ackfile) as f:
        acked = [line.strip() for line in f if line.strip()]
    present = 0
    for k in range(0, len(acked), 1000):
        chunk = acked[k:k + 1000]
        r = es.search(index=index, body={"query": {"ids": {"values": chunk}}, "size": 1000, "_source": False})
        present += len(r["hits"]["hits"])
    print(len(acked), present, es.count(index=index)["count"])
    return 0


def distinct(port, index, field):
    """Prints 'documents distinct-values' of field over index (up to 10000 documents)."""
    es = client(port)
    r = es.search(index=index, body={"query": {"match_all": {}}, "size": 10000, "_source": [field]})
    vals = [h["_source"].get(field) for h in r["hits"]["hits"]]
    print(len(vals), len(set(vals)))
    return 0


def tls_client(port, ca, **kw):
    return Elasticsearch(["https://127.0.0.1:%d" % port], ca_certs=ca, verify_certs=True, timeout=30,
                         max_retries=0, **kw)


def run_tls(port, ca, user_password, api_key):
    """The fake over HTTPS with --auth and --api-key, as the real client sees it."""
    user, password = user_password.split(":", 1)
    es = tls_client(port, ca, http_auth=(user, password))
    info = es.info()
    check("https + basic auth: info %s" % info["version"]["number"], info["tagline"] == "You Know, for Search")
    ok, errors = helpers.bulk(es, actions(range(100), index="tls-2024.03.15", prefix="t"), raise_on_error=False)
    check("https + basic auth: helpers.bulk created 100", ok == 100 and not errors, (ok, errors[:1]))
    with_key = tls_client(port, ca, api_key=api_key)
    check("https + API key (base64 id:key): count 100", with_key.count(index="tls-*")["count"] == 100)
    key_id, key = __import__("base64").b64decode(api_key).decode().split(":", 1)
    check("https + API key as (id, key): count 100",
          tls_client(port, ca, api_key=(key_id, key)).count(index="tls-*")["count"] == 100)
    for what, kw in (("a wrong password", {"http_auth": (user, password + "x")}), ("no credentials", {}),
                     ("a wrong API key", {"api_key": ("nope", "nope")})):
        try:
            tls_client(port, ca, **kw).count(index="tls-*")
            check("https + %s: AuthenticationException 401" % what, False, "no error")
        except es_exc.AuthenticationException as e:
            hdr = e.info.get("error", {}).get("header", {}).get("WWW-Authenticate", []) \
                if isinstance(e.info, dict) else []
            check("https + %s: AuthenticationException 401 security_exception, WWW-Authenticate %s"
                  % (what, hdr[:1]), e.status_code == 401 and e.error == "security_exception" and
                  any(h.startswith("Basic") for h in hdr), (e.status_code, e.error, e.info))
    try:
        Elasticsearch(["https://127.0.0.1:%d" % port], timeout=10, max_retries=0,
                      http_auth=(user, password)).info()
        check("https with the system CAs only: the client refuses the certificate", False, "no error")
    except es_exc.SSLError:
        check("https with the system CAs only: the client refuses the certificate (SSLError)", True)
    except es_exc.ConnectionError as e:
        check("https with the system CAs only: the client refuses the certificate", "CERTIFICATE" in str(e), e)


def run_mtls(port, ca, cert, key):
    """The fake requiring a client certificate."""
    es = tls_client(port, ca, client_cert=cert, client_key=key)
    check("https + client certificate: info", es.info()["tagline"] == "You Know, for Search")
    ok, errors = helpers.bulk(es, actions(range(10), index="mtls-2024.03.15", prefix="m"), raise_on_error=False)
    check("https + client certificate: helpers.bulk created 10", ok == 10 and not errors, (ok, errors[:1]))
    try:
        tls_client(port, ca).info()
        check("https without a client certificate: the connection fails", False, "no error")
    except es_exc.ConnectionError as e:  # SSLError is one
        check("https without a client certificate: the connection fails (%s)" % type(e).__name__, True)
    st = fake(es, "GET", "/_fake/stats")["tls"]
    check("the fake counted the refused handshake (%d) and the client certificates (%d)"
          % (st["handshake_failures"], st["client_certs"]), st["handshake_failures"] >= 1 and st["client_certs"] >= 1,
          st)


def run_version(port, want):
    """The fake answering as Elasticsearch `want`: the client's product check
    passes (tagline and build_flavor before 7.14, the header from 7.14), the
    template API that version has works (legacy _template before 7.8, with a
    mapping type in 6.x) and bulk creates index; or, for an OpenSearch, the
    client refuses it as it refuses the real one."""
    es = client(port)
    if want.startswith("opensearch"):
        try:
            es.info()
            check("%s: the client refuses it, as a real OpenSearch" % want, False, "accepted")
        except es_exc.ElasticsearchException as e:
            check("%s: the client refuses it, as a real OpenSearch (%s)" % (want, type(e).__name__), True)
        return
    info = es.info()
    got = info["version"]["number"]
    check("%s: product check passed, version %s" % (want, got), got == want, info)
    vt = tuple(int(x) for x in want.split(".")[:2])
    typed = vt < (7, 0)
    mapping = {"properties": {"seq": {"type": "long"}, "message": {"type": "text"}}}
    es.indices.put_template(name="ver-test", body={
        "index_patterns": ["ver-*"], "order": 5,
        "mappings": {"_doc": mapping} if typed else mapping})
    t = es.indices.get_template(name="ver-test")["ver-test"]
    m = t["mappings"].get("_doc", t["mappings"]) if typed else t["mappings"]
    check("%s: legacy put/get template (%s)" % (want, "typed" if typed else "typeless"),
          t["order"] == 5 and m["properties"]["seq"] == {"type": "long"}, t)
    try:
        es.indices.get_index_template(name="ver-test")
        has_composable = True
    except es_exc.NotFoundError:
        has_composable = True  # the API is there; the template is not
    except es_exc.RequestError:
        has_composable = False
    check("%s: composable templates %s" % (want, "present" if vt >= (7, 8) else "absent"),
          has_composable == (vt >= (7, 8)))
    acts = [{"_op_type": "create", "_index": "ver-2024.03.15", "_id": "v-%d" % i,
             "_source": {"seq": i, "message": "m %d" % i}} for i in range(20)]
    if typed:
        for a in acts:
            a["_type"] = "_doc"
    ok, errors = helpers.bulk(es, acts, raise_on_error=False)
    check("%s: helpers.bulk created 20 documents" % want, ok == 20 and not errors, errors[:2])
    if typed:
        try:
            helpers.bulk(es, [{"_op_type": "create", "_index": "ver-x", "_id": "t", "_source": {}}])
            check("%s: a bulk action without _type is refused" % want, False, "accepted")
        except es_exc.RequestError as e:
            check("%s: a bulk action without _type is refused (%s)" % (want, e.info["error"]["reason"]),
                  "type is missing" in e.info["error"]["reason"])
    es.indices.refresh(index="ver-*")
    check("%s: count 20" % want, es.count(index="ver-*")["count"] == 20)
    mp = es.indices.get_mapping(index="ver-2024.03.15")["ver-2024.03.15"]["mappings"]
    mp = mp.get("_doc", mp)
    check("%s: the legacy template mapped the new index" % want,
          mp["properties"]["message"] == {"type": "text"}, mp)


def main():
    port, what = int(sys.argv[1]), sys.argv[2]
    if what == "version":
        run_version(port, sys.argv[3])
        return 1 if failures else 0
    if what == "count":
        print(client(port).count(index=sys.argv[3])["count"])
        return 0
    if what == "load":
        return load(port, sys.argv[3], int(sys.argv[4]), sys.argv[5])
    if what == "verify":
        return verify(port, sys.argv[3], sys.argv[4])
    if what == "distinct":
        return distinct(port, sys.argv[3], sys.argv[4])
    if what == "tls":
        run_tls(port, *sys.argv[3:6])
        return 1 if failures else 0
    if what == "mtls":
        run_mtls(port, *sys.argv[3:6])
        return 1 if failures else 0
    {"client": run_client, "faults": run_faults}[what](port)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
