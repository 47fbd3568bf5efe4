#!/usr/bin/python3
"""A fake Elasticsearch for logferry's tests (Python 3 standard library only).

It follows the documented REST contract closely enough that real clients
(python3-elasticsearch 7.17, rsyslog's omelasticsearch) cannot tell the
difference for what a log shipper does: GET /, composable index templates,
index auto-creation, dynamic mapping with its type conflicts, _bulk with
per-item results, _count/_search with a small query DSL, _cat. It can inject
faults (429 items, 503s, dropped connections, slow or malformed answers, 413)
and keeps its data in an append-only journal so that a test may SIGKILL it
and start it again. It can also serve HTTPS (optionally requiring a client
certificate) and require basic or API-key authentication, answering 401 as
Elasticsearch does with security on. See README.md next to this file for the
contract it keeps and what it leaves out.

    fake_es.py --port 0 --port-file FILE [--data FILE] [--version 8.11.0]
               [--flavour elasticsearch|opensearch] [--faults JSON|@FILE]
               [--seed N] [--log FILE]
               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
               [--auth USER:PASSWORD] [--api-key BASE64]
"""

import argparse
import base64
import copy
import datetime
import gzip
import ipaddress
import json
import math
import os
import random
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_CONTENT_LENGTH = 100 * 1024 * 1024  # http.max_content_length default
DEFAULT_TRACK_TOTAL_HITS = 10000
MAX_RESULT_WINDOW = 10000


# ---------------------------------------------------------------- errors


class EsError(Exception):
    """A whole-request error, rendered as ES renders exceptions."""

    def __init__(self, status, etype, reason, caused_by=None, headers=None, **extra):
        super().__init__(reason)
        self.status, self.etype, self.reason = status, etype, reason
        self.caused_by, self.extra = caused_by, extra
        self.headers = headers or []  # extra response headers (WWW-Authenticate on a 401)

    def cause(self):
        d = {"type": self.etype, "reason": self.reason}
        d.update(self.extra)
        if self.caused_by:
            d["caused_by"] = self.caused_by
        return d

    def body(self):
        root = {"type": self.etype, "reason": self.reason}
        root.update(self.extra)
        return {"error": dict({"root_cause": [root]}, **self.cause()), "status": self.status}


class DocFail(Exception):
    """A per-document failure (becomes one bulk item's error)."""

    def __init__(self, status, cause):
        super().__init__(cause.get("reason"))
        self.status, self.cause = status, cause


def index_not_found(name):
    return EsError(404, "index_not_found_exception", "no such index [%s]" % name,
                   **{"resource.type": "index_or_alias", "resource.id": name,
                      "index_uuid": "_na_", "index": name})


# ------------------------------------------------------------------ JSON


def _no_constants(name):
    raise ValueError("Non-standard token '%s'" % name)


def _pairs_no_dupes(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError('Duplicate field \'%s\'' % k)
        seen[k] = v
    return seen


def strict_loads(text):
    """JSON as Jackson parses it for ES: no NaN/Infinity, no duplicate keys."""
    return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_pairs_no_dupes)


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def java_str(v):
    """Value preview the way ES prints it (Java toString of the parsed value)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{" + ", ".join("%s=%s" % (k, java_str(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(java_str(x) for x in v) + "]"
    if v is None:
        return "null"
    return str(v)


JAVA_LONG = re.compile(r"^[+-]?\d+$")
JAVA_DOUBLE = re.compile(r"^\s*[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)\s*$")


def simple_match(pattern, s):
    """ES Regex.simpleMatch: only '*' is special."""
    if "*" not in pattern:
        return pattern == s
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), s, re.S) is not None


# ----------------------------------------------------------------- dates

ISO_STRICT = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
ISO_LENIENT = re.compile(
    r"([+-]?\d{1,9})(?:-(\d{1,2})(?:-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?")
NAMED_FORMATS = {
    "strict_date_optional_time": ISO_STRICT, "strict_date_optional_time_nanos": ISO_STRICT,
    "date_optional_time": ISO_LENIENT, "iso8601": ISO_LENIENT,
    "strict_date": "yyyy-MM-dd", "date": "yyyy-MM-dd", "strict_year_month_day": "yyyy-MM-dd",
    "year_month_day": "yyyy-MM-dd", "strict_year_month": "yyyy-MM", "year_month": "yyyy-MM",
    "strict_year": "yyyy", "year": "yyyy", "basic_date": "yyyyMMdd",
    "strict_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "strict_date_time_no_millis": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "date_time_no_millis": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "strict_date_hour_minute_second": "yyyy-MM-dd'T'HH:mm:ss",
    "date_hour_minute_second": "yyyy-MM-dd'T'HH:mm:ss",
    "strict_date_hour_minute_second_millis": "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "date_hour_minute_second_millis": "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "strict_date_hour_minute_second_fraction": "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "date_hour_minute_second_fraction": "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "basic_date_time": "yyyyMMdd'T'HHmmss.SSSXX", "basic_date_time_no_millis": "yyyyMMdd'T'HHmmssXX",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DEFAULT_DATE_FORMAT = "strict_date_optional_time||epoch_millis"
DYNAMIC_DATE_FORMATS = ["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis"]
_pattern_cache = {}


def _zone(z):
    if not z or z in ("Z", "z", "UTC", "GMT"):
        return datetime.timezone.utc
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})?", z)
    if not m:
        raise ValueError("zone")
    off = datetime.timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return datetime.timezone(-off if m.group(1) == "-" else off)


def _epoch_ms(y, mo, d, h=0, mi=0, s=0, frac="", zone=None):
    dt = datetime.datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0),
                           tzinfo=_zone(zone))
    ms = int((frac or "0")[:3].ljust(3, "0"))
    return int(dt.timestamp()) * 1000 + ms


def _compile_java_pattern(fmt):
    """Translate a java.time pattern (yyyy-MM-dd HH:mm:ss.SSSZ ...) to a regex."""
    if fmt in _pattern_cache:
        return _pattern_cache[fmt]
    out, groups = [], []
    for m in re.finditer(r"'([^']*)'|(([A-Za-z])\3*)|(.)", fmt):
        if m.group(1) is not None:
            out.append(re.escape(m.group(1) or "'"))
            continue
        if m.group(4) is not None:
            out.append(re.escape(m.group(4)))
            continue
        run, c = m.group(2), m.group(3)
        n = len(run)
        if c in "yuY":
            out.append(r"(\d{2})" if n == 2 else r"(\d{4})"), groups.append("y2" if n == 2 else "y")
        elif c == "M":
            if n >= 3:
                out.append(r"([A-Za-z]+)"), groups.append("mon")
            else:
                out.append(r"(\d{1,2})" if n == 1 else r"(\d{2})"), groups.append("M")
        elif c in "dHhmsk":
            out.append(r"(\d{1,2})" if n == 1 else r"(\d{2})"), groups.append({"k": "H"}.get(c, c))
        elif c in "Sn":
            out.append(r"(\d{%d})" % n if c == "S" else r"(\d{1,9})"), groups.append("S")
        elif c == "a":
            out.append(r"([AaPp][Mm])"), groups.append("a")
        elif c in "ZXxO":
            out.append(r"(Z|[+-]\d{2}(?::?\d{2})?)"), groups.append("Z")
        elif c in "zV":
            out.append(r"([A-Za-z_/]+)"), groups.append("z")
        else:  # day names, week fields ...: matched, not interpreted
            out.append(r"([A-Za-z0-9]+)"), groups.append("")
    rx = (re.compile("".join(out), re.I), groups)
    _pattern_cache[fmt] = rx
    return rx


def _parse_one_format(fmt, value):
    """Epoch millis of value in one format, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fmt == "epoch_millis":
            return int(value)
        if fmt == "epoch_second":
            return int(value * 1000)
        return None
    if not isinstance(value, str):
        return None
    if fmt in ("epoch_millis", "epoch_second"):
        if not re.fullmatch(r"-?\d+(\.\d+)?", value):
            return None
        return int(float(value) * (1 if fmt == "epoch_millis" else 1000))
    named = NAMED_FORMATS.get(fmt)
    try:
        if isinstance(named, re.Pattern):
            m = named.fullmatch(value)
            if not m:
                return None
            y, mo, d, h, mi, s, frac, z = m.groups()
            return _epoch_ms(y, mo, d, h, mi, s, frac, z)
        if named is None and re.fullmatch(r"[a-z_]+", fmt) and "_" in fmt:
            return 0  # a named format we do not know: accept, cannot check
        rx, groups = _compile_java_pattern(named or fmt)
        m = rx.fullmatch(value)
        if not m:
            return None
        f = {"y": 1970, "M": 1, "d": 1, "H": 0, "m": 0, "s": 0, "S": "", "Z": None}
        pm = None
        for g, v in zip(groups, m.groups()):
            if g == "y2":
                f["y"] = 2000 + int(v)
            elif g == "mon":
                f["M"] = MONTHS.index(v[:3].lower()) + 1
            elif g == "h":
                f["H"] = int(v) % 12
            elif g == "a":
                pm = v.lower() == "pm"
            elif g == "z":
                f["Z"] = None if v.upper() in ("UTC", "GMT", "Z") else "bad"
            elif g:
                f[g] = v
        if pm:
            f["H"] = int(f["H"]) + 12
        return _epoch_ms(f["y"], f["M"], f["d"], f["H"], f["m"], f["s"], f["S"], f["Z"])
    except (ValueError, OverflowError):
        return None


def parse_date(value, fmt=None):
    """Epoch millis or None; fmt is an ES format ('a||b')."""
    for f in (fmt or DEFAULT_DATE_FORMAT).split("||"):
        r = _parse_one_format(f.strip(), value)
        if r is not None:
            return r
    return None


DATE_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
UNIT_MS = {"s": 1000, "m": 60000, "h": 3600000, "H": 3600000, "d": 86400000, "w": 604800000}


def parse_date_math(value, fmt, round_up):
    """Range-query date: 'now-1d/d', '2024-01-01||+1M', or a plain date."""
    if isinstance(value, str) and (value.startswith("now") or "||" in value and not fmt):
        if value.startswith("now"):
            base, ops = time.time() * 1000, value[3:]
        else:
            head, ops = value.split("||", 1)
            base = parse_date(head)
        if base is None:
            return None
        dt = datetime.datetime.fromtimestamp(base / 1000, datetime.timezone.utc)
        for m in DATE_MATH.finditer(ops):
            if m.group(4):
                u = m.group(4)
                parts = {"y": dict(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
                         "M": dict(day=1, hour=0, minute=0, second=0, microsecond=0),
                         "d": dict(hour=0, minute=0, second=0, microsecond=0),
                         "h": dict(minute=0, second=0, microsecond=0), "H": dict(minute=0, second=0, microsecond=0),
                         "m": dict(second=0, microsecond=0), "s": dict(microsecond=0)}.get(u)
                if u == "w":
                    dt = (dt - datetime.timedelta(days=dt.weekday())).replace(hour=0, minute=0, second=0,
                                                                               microsecond=0)
                    span = datetime.timedelta(weeks=1)
                else:
                    dt = dt.replace(**parts)
                    span = None
                if round_up:
                    if u in "yM":
                        nxt = dt.replace(year=dt.year + 1) if u == "y" else (
                            dt.replace(year=dt.year + dt.month // 12, month=dt.month % 12 + 1))
                        dt = nxt - datetime.timedelta(milliseconds=1)
                    else:
                        dt = dt + (span or datetime.timedelta(milliseconds=UNIT_MS[u])) - \
                            datetime.timedelta(milliseconds=1)
            else:
                n = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
                u = m.group(3)
                if u in "yM":
                    months = dt.month - 1 + n * (12 if u == "y" else 1)
                    dt = dt.replace(year=dt.year + months // 12, month=months % 12 + 1)
                else:
                    dt = dt + datetime.timedelta(milliseconds=n * UNIT_MS[u])
        return int(dt.timestamp() * 1000)
    return parse_date(value, fmt)


# ------------------------------------------------------------- mappings

FIELD_TYPES = {
    "text", "keyword", "long", "integer", "short", "byte", "double", "float", "half_float",
    "scaled_float", "unsigned_long", "date", "date_nanos", "boolean", "binary", "ip", "object",
    "nested", "flattened", "geo_point", "geo_shape", "point", "shape", "completion",
    "search_as_you_type", "token_count", "alias", "rank_feature", "rank_features", "dense_vector",
    "sparse_vector", "histogram", "constant_keyword", "wildcard", "match_only_text", "version",
    "integer_range", "float_range", "long_range", "double_range", "date_range", "ip_range", "join",
    "percolator", "aggregate_metric_double", "annotated_text", "murmur3", "counted_keyword"}
FIELD_PARAMS = {
    "type", "index", "store", "doc_values", "fields", "ignore_above", "null_value", "format",
    "coerce", "ignore_malformed", "analyzer", "search_analyzer", "search_quote_analyzer", "norms",
    "copy_to", "meta", "scaling_factor", "eager_global_ordinals", "normalizer", "similarity",
    "index_options", "fielddata", "fielddata_frequency_filter", "time_series_dimension",
    "time_series_metric", "on_script_error", "script", "locale", "split_queries_on_whitespace",
    "boost", "position_increment_gap", "term_vector", "index_phrases", "index_prefixes", "path",
    "dims", "element_type", "index_options", "value", "ignore_z_value", "orientation",
    "max_input_length", "preserve_separators", "preserve_position_increments", "depth_limit",
    "relations", "max_shingle_size", "positive_score_impact", "metrics", "default_metric",
    "properties", "dynamic", "enabled", "subobjects", "include_in_parent", "include_in_root",
    "null_value", "precision_step", "ignore_missing", "enable_position_increments", "synthetic_source_keep"}
ROOT_PARAMS = {"properties", "dynamic", "dynamic_templates", "date_detection", "numeric_detection",
               "dynamic_date_formats", "_source", "_meta", "_routing", "runtime", "enabled",
               "subobjects", "_data_stream_timestamp", "_field_names", "_doc_count", "_size"}
OBJECT_TYPES = ("object", "nested")
ANY_VALUE_TYPES = {"flattened", "geo_point", "geo_shape", "point", "shape", "completion", "join",
                   "dense_vector", "sparse_vector", "histogram", "rank_features", "binary", "percolator",
                   "aggregate_metric_double", "integer_range", "float_range", "long_range",
                   "double_range", "date_range", "ip_range", "alias", "rank_feature"}
STRING_TYPES = {"text", "keyword", "match_only_text", "wildcard", "constant_keyword",
                "search_as_you_type", "version", "annotated_text", "counted_keyword", "token_count"}
INT_RANGES = {"long": (-2 ** 63, 2 ** 63 - 1, "a long"), "integer": (-2 ** 31, 2 ** 31 - 1, "an integer"),
              "short": (-32768, 32767, "a short"), "byte": (-128, 127, "a byte"),
              "unsigned_long": (0, 2 ** 64 - 1, "an unsigned long")}
FLOAT_MAX = {"float": 3.4028235e38, "half_float": 65504.0, "double": float("inf"),
             "scaled_float": float("inf")}
METADATA_FIELDS = {"_id", "_index", "_routing", "_source", "_seq_no", "_primary_term", "_version",
                   "_field_names", "_ignored", "_doc_count", "_tier", "_data_stream_timestamp",
                   "_feature", "_nested_path", "_size", "_type"}


def is_object(d):
    return d is not None and d.get("type", "object") in OBJECT_TYPES


class Mapping:
    """An index mapping: root parameters plus a flat, ordered field table.

    Flat paths ('host.name') make lookups cheap and dotted names trivial; the
    tree that GET _mapping prints is rebuilt from it.
    """

    def __init__(self, root=None, fields=None):
        self.root = root or {}
        self.fields = fields or {}

    @classmethod
    def parse(cls, body):
        """Validate and flatten a user-supplied mappings object."""
        m = cls()
        if not body:
            return m
        if not isinstance(body, dict):
            raise EsError(400, "mapper_parsing_exception", "Failed to parse mapping: mapping must be an object")
        bad = ["%s : %s" % (k, java_str(v)) for k, v in body.items() if k not in ROOT_PARAMS]
        if bad:
            raise EsError(400, "mapper_parsing_exception",
                          "Root mapping definition has unsupported parameters:  [%s]" % "] [".join(bad))
        for k, v in body.items():
            if k != "properties":
                m.root[k] = copy.deepcopy(v)
        for dt in m.root.get("dynamic_templates", []):
            if not isinstance(dt, dict) or len(dt) != 1 or not isinstance(list(dt.values())[0], dict):
                raise EsError(400, "mapper_parsing_exception",
                              "Failed to parse mapping: A dynamic template must be defined with a name")
        m._add_props(body.get("properties", {}), "")
        return m

    def _add_props(self, props, prefix):
        if not isinstance(props, dict):
            raise EsError(400, "mapper_parsing_exception", "Failed to parse mapping: properties must be an object")
        for name, d in props.items():
            parts = name.split(".")
            if not name or "" in parts:
                raise EsError(400, "mapper_parsing_exception",
                              "Failed to parse mapping: field name cannot be an empty string")
            parent = prefix
            for p in parts[:-1]:  # dotted names in mappings expand to objects
                parent = parent + "." + p if parent else p
                self.fields.setdefault(parent, {"type": "object"})
            path = parent + "." + parts[-1] if parent else parts[-1]
            self.fields[path] = self._field_def(path, d)
            if is_object(self.fields[path]):
                self._add_props(d.get("properties", {}), path)

    @staticmethod
    def _field_def(path, d):
        if not isinstance(d, dict):
            raise EsError(400, "mapper_parsing_exception",
                          "Failed to parse mapping: Expected map for property [fields] on field [%s] but got a "
                          "class java.lang.String" % path)
        t = d.get("type", "object")
        if t not in FIELD_TYPES:
            raise EsError(400, "mapper_parsing_exception",
                          "Failed to parse mapping: No handler for type [%s] declared on field [%s]" % (t, path))
        for k in d:
            if k not in FIELD_PARAMS or (k == "properties" and t not in OBJECT_TYPES):
                raise EsError(400, "mapper_parsing_exception",
                              "Failed to parse mapping: unknown parameter [%s] on mapper [%s] of type [%s]"
                              % (k, path, t))
        if t == "scaled_float" and "scaling_factor" not in d:
            raise EsError(400, "mapper_parsing_exception",
                          "Failed to parse mapping: Field [scaling_factor] is required")
        if t in ("date", "date_nanos") and "format" in d:
            for f in str(d["format"]).split("||"):
                if not f.strip():
                    raise EsError(400, "mapper_parsing_exception",
                                  "Failed to parse mapping: Invalid format: [%s]" % d["format"])
        out = {k: copy.deepcopy(v) for k, v in d.items() if k != "properties"}
        if t in OBJECT_TYPES:
            out["type"] = t
        if not isinstance(d.get("fields", {}), dict):
            raise EsError(400, "mapper_parsing_exception", "Failed to parse mapping: [fields] must be an object")
        for sub, sd in d.get("fields", {}).items():
            Mapping._field_def(path + "." + sub, sd)
        return out

    def copy(self):
        return Mapping(copy.deepcopy(self.root), dict(self.fields))

    def merge(self, other, replace=True):
        """Merge other into self. replace=True is template composition (later
        wins); False is PUT _mapping, where a type change is a conflict."""
        for k, v in other.root.items():
            if k == "dynamic_templates" and replace and k in self.root:
                names = {list(t)[0] for t in v}
                self.root[k] = [t for t in self.root[k] if list(t)[0] not in names] + copy.deepcopy(v)
            else:
                self.root[k] = copy.deepcopy(v)
        for path, d in other.fields.items():
            old = self.fields.get(path)
            if old is not None and old.get("type") != d.get("type"):
                if not replace:
                    raise EsError(400, "illegal_argument_exception",
                                  "mapper [%s] cannot be changed from type [%s] to [%s]"
                                  % (path, old.get("type"), d.get("type")))
                if is_object(old) and not is_object(d):  # an object replaced by a leaf loses its children
                    for p in [p for p in self.fields if p.startswith(path + ".")]:
                        del self.fields[p]
            self.fields[path] = dict(d)

    def field_count(self):
        return sum(1 + len(d.get("fields", {})) for d in self.fields.values())

    def tree(self):
        """The mapping as GET _mapping prints it (properties sorted by name)."""
        out = {k: v for k, v in self.root.items()}
        children = {}
        for path in self.fields:
            parent, _, name = path.rpartition(".")
            children.setdefault(parent, []).append((name, path))

        def build(parent):
            props = {}
            for name, path in sorted(children.get(parent, [])):
                d = {k: v for k, v in self.fields[path].items() if not k.startswith("_")}
                if is_object(self.fields[path]):
                    sub = build(path)
                    if d.get("type") == "object" and sub:
                        del d["type"]
                    if sub:
                        d["properties"] = sub
                props[name] = d
            return props

        props = build("")
        if props:
            out["properties"] = props
        return out

    def to_journal(self):
        return {"root": self.root, "fields": [[p, d] for p, d in self.fields.items()]}

    @classmethod
    def from_journal(cls, j):
        return cls(j.get("root", {}), {p: d for p, d in j.get("fields", [])})


def coerce(d, v):
    """The value a field of definition d indexes for JSON value v.

    Raises ValueError(caused_by dict) when ES would reject the value."""
    t = d.get("type")
    if t in STRING_TYPES:
        if isinstance(v, dict):
            raise ValueError({"type": "illegal_state_exception",
                              "reason": "Can't get text on a START_OBJECT"})
        return ("true" if v else "false") if isinstance(v, bool) else (v if isinstance(v, str) else json.dumps(v))
    if t in INT_RANGES:
        lo, hi, what = INT_RANGES[t]
        if isinstance(v, bool) or isinstance(v, dict):
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "Current token (%s) not numeric, can not use numeric value accessors"
                              % ("START_OBJECT" if isinstance(v, dict) else "VALUE_" + str(v).upper())})
        if isinstance(v, str):
            s = v.strip()
            if JAVA_LONG.match(s):
                n = int(s)
            elif JAVA_DOUBLE.match(s) and d.get("coerce", True) is not False:
                f = float(s.rstrip("fFdD"))
                if not math.isfinite(f):
                    raise ValueError({"type": "illegal_argument_exception", "reason": "For input string: \"%s\"" % v})
                n = int(f)
            else:
                raise ValueError({"type": "illegal_argument_exception", "reason": "For input string: \"%s\"" % v})
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError({"type": "illegal_argument_exception", "reason": "Value [%s] is out of range" % v})
            n = int(v)
        else:
            n = v
        if not lo <= n <= hi:
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "Value [%s] is out of range for %s" % (v, what)})
        return n
    if t in FLOAT_MAX:
        if isinstance(v, (bool, dict)):
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "Current token not numeric, can not use numeric value accessors"})
        if isinstance(v, str):
            if not JAVA_DOUBLE.match(v):
                raise ValueError({"type": "number_format_exception", "reason": "For input string: \"%s\"" % v})
            v = float(v.strip().rstrip("fFdD"))
        f = float(v)
        if not math.isfinite(f) or abs(f) > FLOAT_MAX[t]:
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "[%s] supports only finite values, but got [%s]" % (t, v)})
        return f
    if t == "boolean":
        if isinstance(v, bool):
            return v
        if v in ("true", "false"):
            return v == "true"
        if v == "":
            return None
        raise ValueError({"type": "illegal_argument_exception",
                          "reason": "Failed to parse value [%s] as only [true] or [false] are allowed."
                          % java_str(v)})
    if t in ("date", "date_nanos"):
        fmt = d.get("format", DEFAULT_DATE_FORMAT)
        ms = None if isinstance(v, (bool, dict)) else parse_date(v, fmt)
        if ms is None:
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "failed to parse date field [%s] with format [%s]" % (java_str(v), fmt),
                              "caused_by": {"type": "date_time_parse_exception",
                                            "reason": "Failed to parse with all enclosed parsers"}})
        return ms
    if t == "ip":
        try:
            return ipaddress.ip_address(v if isinstance(v, str) else "")
        except ValueError:
            raise ValueError({"type": "illegal_argument_exception",
                              "reason": "'%s' is not an IP string literal." % java_str(v)}) from None
    return v  # types we accept without checking (geo_point, flattened, ...)


def analyze(text):
    """A rough standard analyzer: lowercase word tokens."""
    return re.findall(r"\w+", str(text).lower())


class DocParser:
    """Maps one document against an index mapping, as DocumentParser does.

    New fields go to self.pending and are committed only if the whole
    document parses (a failed document adds no mapping)."""

    def __init__(self, index, doc_id, raw, es):
        self.m, self.doc_id, self.raw, self.es = index.mapping, doc_id, raw, es
        self.ignore_malformed = index.settings.get("index.mapping.ignore_malformed") == "true"
        self.limit = int(index.settings.get("index.mapping.total_fields.limit", "1000"))
        self.pending = {}

    def fail(self, reason, etype=None, caused_by=None, near=None):
        cause = {"type": etype or self.es.parse_exc, "reason": self.es.loc(self.raw, near) + reason}
        if caused_by:
            cause["caused_by"] = caused_by
        raise DocFail(400, cause)

    def lookup(self, path):
        d = self.pending.get(path)
        return d if d is not None else self.m.fields.get(path)

    def dynamic_of(self, parent):
        while parent:
            d = self.lookup(parent)
            if d is not None and "dynamic" in d:
                return str(d["dynamic"]).lower()
            parent = parent.rpartition(".")[0]
        return str(self.m.root.get("dynamic", "true")).lower()

    def parse(self, doc):
        if self.m.root.get("enabled") is False:
            return {}
        self.walk(doc, "")
        if self.pending:
            added = sum(1 + len(d.get("fields", {})) for d in self.pending.values())
            if self.m.field_count() + added > self.limit:
                raise DocFail(400, {"type": "illegal_argument_exception",
                                    "reason": "Limit of total fields [%d] has been exceeded while adding new "
                                              "fields [%d]" % (self.limit, added)})
        return self.pending

    def strict(self, name, parent):
        self.fail("mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed"
                  % (name, parent or "_doc"), etype="strict_dynamic_mapping_exception", near=name)

    def walk(self, obj, prefix):
        for key, val in obj.items():
            if not key.strip():
                self.fail("field name cannot be an empty string")
            if not prefix and key in METADATA_FIELDS:
                self.fail("Field [%s] is a metadata field and cannot be added inside a document. "
                          "Use the index API request parameters." % key, near=key)
            parts = key.split(".")
            if "" in parts:
                self.fail("object field starting or ending with a [.] makes object resolution ambiguous: [%s]"
                          % key, near=key)
            parent, skip = prefix, False
            for p in parts[:-1]:  # "a.b": 1 is {"a": {"b": 1}}
                path = parent + "." + p if parent else p
                d = self.lookup(path)
                if d is None:
                    dyn = self.dynamic_of(parent)
                    if dyn == "strict":
                        self.strict(p, parent)
                    if dyn != "true":
                        skip = True
                        break
                    d = self.dynamic_object(path, p)
                elif not is_object(d):
                    if d.get("type") == "flattened":
                        skip = True
                        break
                    self.fail("Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be "
                              "of type object but found [%s]." % ((prefix + "." if prefix else "") + key, path,
                                                                 d.get("type")), near=key)
                if d.get("enabled") is False:
                    skip = True
                    break
                parent = path
            if not skip:
                self.value(parent + "." + parts[-1] if parent else parts[-1], parts[-1], parent, val)

    def dynamic_object(self, path, name):
        d = self.template_for(path, name, "object") or {"type": "object"}
        self.pending[path] = d
        return d

    def value(self, path, name, parent, val):
        if val is None:
            return
        if isinstance(val, list):
            for v in val:
                self.value(path, name, parent, v)
            return
        d = self.lookup(path)
        if isinstance(val, dict):
            if d is None:
                dyn = self.dynamic_of(parent)
                if dyn == "strict":
                    self.strict(name, parent)
                if dyn != "true":
                    return
                d = self.dynamic_object(path, name)
            if not is_object(d):
                return self.leaf(path, d, val)
            if d.get("enabled") is not False:
                self.walk(val, path)
            return
        if d is None:
            dyn = self.dynamic_of(parent)
            if dyn == "strict":
                self.strict(name, parent)
            if dyn != "true":
                return
            d = self.dynamic_leaf(path, name, val)
            if d is None:
                return
            self.pending[path] = d
        elif is_object(d):
            self.fail("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value"
                      % (path, name), near=name)
        self.leaf(path, d, val)

    def leaf(self, path, d, val):
        if d.get("type") in ANY_VALUE_TYPES:
            return
        for sub, sd in [(path, d)] + [(path + "." + k, x) for k, x in d.get("fields", {}).items()]:
            try:
                coerce(sd, val)
            except ValueError as e:
                if sd.get("ignore_malformed", self.ignore_malformed) and sd.get("type") not in STRING_TYPES:
                    continue
                self.fail("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's "
                          "value: '%s'" % (sub, sd.get("type"), self.doc_id, java_str(val)),
                          caused_by=e.args[0], near=path.rpartition(".")[2])

    def dynamic_leaf(self, path, name, val):
        root = self.m.root
        if isinstance(val, bool):
            mt, d = "boolean", {"type": "boolean"}
        elif isinstance(val, int):
            mt, d = "long", {"type": "long"}
        elif isinstance(val, float):
            mt, d = "double", {"type": "float"}
        else:
            is_long, is_double = bool(JAVA_LONG.match(val)), bool(JAVA_DOUBLE.match(val))
            mt, d = "string", {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
            if is_long and root.get("numeric_detection") is True:
                mt, d = "long", {"type": "long"}
            elif is_double and root.get("numeric_detection") is True:
                mt, d = "double", {"type": "float"}
            elif not is_long and not is_double and root.get("date_detection", True) is not False:
                # ES refuses pure numbers here: too likely to be false positives
                for fmt in root.get("dynamic_date_formats", DYNAMIC_DATE_FORMATS):
                    if parse_date(val, fmt) is not None:
                        mt, d = "date", {"type": "date"}
                        if fmt != "strict_date_optional_time":
                            d["format"] = fmt
                        break
        t = self.template_for(path, name, mt)
        if t == "runtime":
            return None
        return t or d

    def template_for(self, path, name, mt):
        for entry in self.m.root.get("dynamic_templates", []):
            spec = list(entry.values())[0]
            mmt = spec.get("match_mapping_type")
            if mmt is not None:
                mmts = mmt if isinstance(mmt, list) else [mmt]
                if "*" not in mmts and mt not in mmts:
                    continue
            if not self._matches(spec, "match", name) or not self._matches(spec, "path_match", path):
                continue
            if self._matches(spec, "unmatch", name, default=False) or \
                    self._matches(spec, "path_unmatch", path, default=False):
                continue
            if "runtime" in spec:
                return "runtime" if mt != "object" else None
            mapping = spec.get("mapping", {})
            if mt == "object" and mapping.get("type", "object") not in OBJECT_TYPES + ("flattened",):
                continue
            dyn_type = {"string": "text", "double": "float"}.get(mt, mt)

            def subst(x):
                if isinstance(x, str):
                    return x.replace("{name}", name).replace("{dynamic_type}", dyn_type)
                if isinstance(x, dict):
                    return {k: subst(v) for k, v in x.items()}
                if isinstance(x, list):
                    return [subst(v) for v in x]
                return x

            d = subst(mapping)
            d.setdefault("type", dyn_type)
            return d
        return None

    def _matches(self, spec, key, s, default=True):
        pats = spec.get(key)
        if pats is None:
            return default
        for p in (pats if isinstance(pats, list) else [pats]):
            if spec.get("match_pattern") == "regex" and key in ("match", "unmatch"):
                if re.fullmatch(p, s):
                    return True
            elif simple_match(p, s):
                return True
        return False


# --------------------------------------------------------------- storage


def flat_settings(settings, prefix=""):
    out = {}
    for k, v in (settings or {}).items():
        key = prefix + k
        if isinstance(v, dict):
            out.update(flat_settings(v, key + "."))
        else:
            out[key] = ("true" if v else "false") if isinstance(v, bool) else (
                [str(x) for x in v] if isinstance(v, list) else str(v))
    return {(k if k.startswith("index.") else "index." + k): v for k, v in out.items()}


KNOWN_SETTINGS = re.compile(
    r"index\.(number_of_shards|number_of_replicas|refresh_interval|codec|hidden|priority|"
    r"auto_expand_replicas|max_result_window|max_inner_result_window|max_docvalue_fields_search|"
    r"max_script_fields|max_ngram_diff|max_shingle_diff|max_refresh_listeners|max_terms_count|"
    r"max_regex_length|default_pipeline|final_pipeline|mode|routing_path|time_series\..*|"
    r"provided_name|creation_date|uuid|version\..*|(mapping|lifecycle|analysis|routing|translog|merge|"
    r"search|indexing|store|blocks|sort|query|unassigned|highlight|similarity|shard|soft_deletes|"
    r"write|frozen|plugin|ccr|xpack|requests|load_fixed_bitset_filters_eagerly|gc_deletes|"
    r"check_on_startup|fast_refresh|number_of_routing_shards|routing_partition_size|"
    r"format|verified_before_close|data_path|queries|warmer|compound_format)(\..*)?)$")


def validate_settings(flat):
    for k, v in flat.items():
        if not KNOWN_SETTINGS.match(k):
            raise EsError(400, "illegal_argument_exception",
                          "unknown setting [%s] please check that any required plugins are installed, or check "
                          "the breaking changes documentation for removed settings" % k)
        if k in ("index.number_of_shards", "index.number_of_replicas", "index.mapping.total_fields.limit"):
            if not re.fullmatch(r"\d+", str(v)) or (k == "index.number_of_shards" and not 1 <= int(v) <= 1024):
                raise EsError(400, "illegal_argument_exception",
                              "Failed to parse value [%s] for setting [%s]" % (v, k))


def validate_index_name(name):
    why = None
    if name != name.lower():
        why = "must be lowercase"
    elif name in (".", ".."):
        why = "must not be '.' or '..'"
    elif name[:1] in "_-+":
        why = "must not start with '_', '-', or '+'"
    elif any(c in name for c in '\\/*?"<>| ,#:'):
        why = "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
    elif len(name.encode()) > 255:
        why = "index name is too long, (%d > 255)" % len(name.encode())
    elif not name:
        why = "must not be empty"
    if why:
        raise EsError(400, "invalid_index_name_exception", "Invalid index name [%s], %s" % (name, why),
                      index_uuid="_na_", index=name)


class Index:
    def __init__(self, name, settings, mapping, aliases, uid=None, created=None):
        self.name, self.settings, self.mapping, self.aliases = name, settings, mapping, aliases
        self.uuid = uid or base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()
        self.created = created or int(time.time() * 1000)
        self.docs = {}  # id -> [raw source text, version, seq_no]
        self.seq = 0
        self.bytes = 0

    @property
    def shards(self):
        return int(self.settings.get("index.number_of_shards", "1"))

    @property
    def replicas(self):
        return int(self.settings.get("index.number_of_replicas", "1"))

    def health(self):
        return "green" if self.replicas == 0 else "yellow"  # one node: replicas stay unassigned

    def shards_info(self):
        return {"total": 1 + self.replicas, "successful": 1, "failed": 0}

    def put(self, doc_id, raw, version, seq):
        old = self.docs.get(doc_id)
        if old:
            self.bytes -= len(old[0])
        self.docs[doc_id] = [raw, version, seq]
        self.bytes += len(raw)
        self.seq = max(self.seq, seq + 1)

    def settings_tree(self):
        tree = {}
        for k, v in sorted(self.settings.items()):
            node = tree
            parts = k.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = v
        return tree


class Journal:
    """Append-only NDJSON journal; each write is flushed before the client
    is answered, so a SIGKILL loses nothing that was acknowledged."""

    def __init__(self, path):
        self.path = path
        self.f = None

    def replay(self):
        if not self.path or not os.path.exists(self.path):
            return []
        records, good = [], 0
        with open(self.path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break  # torn last line: the fake died mid-write, nothing answered for it
            try:
                records.append(json.loads(data[pos:nl]))
            except ValueError:
                if data.find(b"\n", nl + 1) >= 0:
                    raise SystemExit("fake_es: %s: corrupt journal line at byte %d" % (self.path, pos))
                break
            pos = good = nl + 1
        if good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return records

    def open(self):
        if self.path:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            self.f = open(self.path, "a", encoding="utf-8")
            if new:
                self.write([{"t": "hdr", "format": "fake_es-journal", "v": 1}])

    def write(self, records):
        if self.f and records:
            self.f.write("".join(dumps(r) + "\n" for r in records))
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()
            self.f = None


# ----------------------------------------------------------------- faults

FAULT_KEYS = {
    "reject_429_fraction": float, "reject_429_next": int,
    "item_503_fraction": float, "item_503_next": int,
    "status_503_fraction": float, "status_503_next": int,
    "status_429_fraction": float, "status_429_next": int,
    "slow_ms": int, "reset_fraction": float, "reset_next": int, "reset_after_index": bool,
    "malformed_next": int, "max_body_bytes": int, "seed": int,
}


def validate_faults(f):
    if not isinstance(f, dict):
        raise EsError(400, "illegal_argument_exception", "faults must be a JSON object")
    for k, v in f.items():
        want = FAULT_KEYS.get(k)
        if want is None:
            raise EsError(400, "illegal_argument_exception",
                          "unknown fault [%s], known: %s" % (k, ", ".join(sorted(FAULT_KEYS))))
        ok = isinstance(v, bool) if want is bool else (
            isinstance(v, (int, float)) and not isinstance(v, bool) and (want is float or v == int(v)))
        if not ok or (want is float and not 0 <= v <= 1) or (want is int and v < 0):
            raise EsError(400, "illegal_argument_exception", "bad value for fault [%s]: %s" % (k, java_str(v)))
    return {k: (want(v)) for k, v in f.items() for want in [FAULT_KEYS[k]]}


# ------------------------------------------------------------ filter_path


def filter_path(obj, spec):
    """ES filter_path: comma-separated dotted paths, '*' within a name, '**'
    for any depth, leading '-' to exclude."""
    paths = [p.strip() for p in spec.split(",") if p.strip()]
    inc = [p.split(".") for p in paths if not p.startswith("-")]
    exc = [p[1:].split(".") for p in paths if p.startswith("-")]
    if inc:
        obj = _include(obj, inc)
        if obj is None:
            obj = {}
    if exc:
        obj = _exclude(obj, exc)
    return obj


def _advance(pats, key):
    """Patterns remaining after matching key; True if one is complete."""
    rest, done = [], False
    for p in pats:
        if p[0] == "**":
            rest.append(p)
            if len(p) > 1 and simple_match(p[1], key):
                if len(p) == 2:
                    done = True
                else:
                    rest.append(p[2:])
        elif simple_match(p[0], key):
            if len(p) == 1:
                done = True
            else:
                rest.append(p[1:])
    return rest, done


def _include(obj, pats):
    if isinstance(obj, list):
        kept = [x for x in (_include(v, pats) for v in obj) if x is not None]
        return kept or None
    if not isinstance(obj, dict):
        return None
    out = {}
    for k, v in obj.items():
        rest, done = _advance(pats, k)
        if done:
            out[k] = v
        elif rest:
            sub = _include(v, rest)
            if sub is not None:
                out[k] = sub
    return out or None


def _exclude(obj, pats):
    if isinstance(obj, list):
        return [_exclude(v, pats) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        rest, done = _advance(pats, k)
        if not done:
            out[k] = _exclude(v, rest) if rest else v
    return out


# ----------------------------------------------------------------- search


def source_filter(src, spec):
    """_source filtering: includes/excludes by full path, wildcards allowed;
    'a.b' selects {"a": {"b": ..}} and {"a.b": ..} alike."""
    if isinstance(spec, (str, list)):
        spec = {"includes": spec}
    inc, exc = spec.get("includes", spec.get("include", [])), spec.get("excludes", spec.get("exclude", []))
    inc, exc = ([inc] if isinstance(inc, str) else inc), ([exc] if isinstance(exc, str) else exc)

    def under(path, pats):  # path or one of its ancestors matches
        return any(simple_match(p, path) or path.startswith(p + ".") for p in pats)

    def walk(obj, prefix):
        out = {}
        for k, v in obj.items():
            path = prefix + "." + k if prefix else k
            if under(path, exc):
                continue
            if isinstance(v, dict):
                sub = walk(v, path) if inc and not under(path, inc) else (walk(v, path) if exc else v)
                if sub or under(path, inc) or not inc:
                    out[k] = sub
            elif not inc or under(path, inc):
                out[k] = v
        return out

    return walk(src, "")


def flatten_source(src, prefix="", out=None):
    """path -> list of leaf values (arrays expanded, dotted names split)."""
    if out is None:
        out = {}
    if isinstance(src, dict):
        for k, v in src.items():
            flatten_source(v, prefix + "." + k if prefix else k, out)
    elif isinstance(src, list):
        for v in src:
            flatten_source(v, prefix, out)
    elif src is not None:
        out.setdefault(prefix, []).append(src)
    return out


class Query:
    """Evaluates a small query DSL over one index's documents."""

    def __init__(self, q):
        self.q = q if q is not None else {"match_all": {}}
        self.check(self.q)

    def check(self, q):
        if not isinstance(q, dict) or len(q) != 1:
            raise EsError(400, "parsing_exception", "[_na] query malformed, must start with start_object")
        kind, body = next(iter(q.items()))
        if kind not in ("match_all", "match_none", "term", "terms", "range", "bool", "match", "match_phrase",
                        "exists", "ids", "prefix", "wildcard", "constant_score"):
            raise EsError(400, "parsing_exception", "unknown query [%s]" % kind, line=1, col=12)
        if not isinstance(body, dict) or (not body and kind not in ("match_all", "match_none", "bool")):
            raise EsError(400, "parsing_exception", "[%s] query malformed, no start_object after query name"
                          % kind, line=1, col=12)
        if kind == "bool":
            for clause in ("must", "filter", "should", "must_not"):
                cs = body.get(clause, [])
                for c in (cs if isinstance(cs, list) else [cs]):
                    self.check(c)
        if kind == "constant_score":
            self.check(body.get("filter"))

    def field(self, index, name):
        """(definition, source path) for a query field, or (None, None)."""
        d = index.mapping.fields.get(name)
        if d is not None and not is_object(d):
            return d, name
        parent, _, sub = name.rpartition(".")
        pd = index.mapping.fields.get(parent)
        if pd is not None and sub in pd.get("fields", {}):
            return pd["fields"][sub], parent
        return None, None

    def values(self, index, flat, name):
        d, path = self.field(index, name)
        if d is None:
            return None, []
        out = []
        for v in flat.get(path, []):
            try:
                x = coerce(d, v)
            except ValueError:
                continue
            if d.get("type") == "keyword" and len(x) > int(d.get("ignore_above", 2 ** 31)):
                continue
            if d.get("type") in ("text", "match_only_text"):
                out.extend(analyze(x))
            elif x is not None:
                out.append(x)
        return d, out

    def norm(self, d, v):
        """A query value converted as the field would index it."""
        try:
            return coerce(d, v) if d.get("type") not in ("text", "match_only_text") else str(v)
        except ValueError:
            raise EsError(400, "query_shard_exception", "failed to create query: %s" % java_str(v)) from None

    def matches(self, index, doc_id, flat, q=None):
        q = self.q if q is None else q
        kind, body = next(iter(q.items()))
        if kind == "match_all":
            return True
        if kind == "match_none":
            return False
        if kind == "constant_score":
            return self.matches(index, doc_id, flat, body["filter"])
        if kind == "ids":
            return doc_id in body.get("values", [])
        if kind == "bool":
            def clauses(k):
                c = body.get(k, [])
                return c if isinstance(c, list) else [c]

            if not all(self.matches(index, doc_id, flat, c) for c in clauses("must") + clauses("filter")):
                return False
            if any(self.matches(index, doc_id, flat, c) for c in clauses("must_not")):
                return False
            should = clauses("should")
            msm = body.get("minimum_should_match",
                           1 if should and not (clauses("must") or clauses("filter")) else 0)
            return sum(1 for c in should if self.matches(index, doc_id, flat, c)) >= int(msm)
        fname, spec = next(iter(body.items()))
        if kind == "exists":
            return bool(self.values(index, flat, body.get("field"))[1])
        d, vals = self.values(index, flat, fname)
        if d is None:
            return False
        if kind == "term":
            v = spec.get("value") if isinstance(spec, dict) else spec
            if isinstance(spec, dict) and spec.get("case_insensitive"):
                return str(v).lower() in [str(x).lower() for x in vals]
            return self.norm(d, v) in vals
        if kind == "terms":
            return any(self.norm(d, v) in vals for v in spec)
        if kind in ("prefix", "wildcard"):
            v = spec.get("value") if isinstance(spec, dict) else spec
            if kind == "prefix":
                return any(str(x).startswith(v) for x in vals)
            return any(re.fullmatch(re.escape(v).replace(r"\*", ".*").replace(r"\?", "."), str(x)) for x in vals)
        if kind in ("match", "match_phrase"):
            v = spec.get("query") if isinstance(spec, dict) else spec
            if d.get("type") not in ("text", "match_only_text"):
                return self.norm(d, v) in vals
            toks = analyze(v)
            if kind == "match_phrase":
                n = len(toks)
                return any(vals[i:i + n] == toks for i in range(len(vals) - n + 1)) if n else False
            op = (spec.get("operator", "or") if isinstance(spec, dict) else "or").lower()
            hits = [t in vals for t in toks]
            return all(hits) if op == "and" else any(hits)
        if kind == "range":
            t, fmt = d.get("type"), spec.get("format", d.get("format"))

            def bound(k):
                v = spec[k]
                if t in ("date", "date_nanos"):
                    ms = parse_date_math(v, spec.get("format"), round_up=k in ("gt", "lte"))
                    if ms is None:
                        raise EsError(400, "parse_exception", "failed to parse date field [%s] with format [%s]"
                                      % (v, fmt or DEFAULT_DATE_FORMAT))
                    return ms
                return self.norm(d, v)

            for x in vals:
                ok = True
                for k, op in (("gte", "__ge__"), ("gt", "__gt__"), ("lte", "__le__"), ("lt", "__lt__")):
                    if k in spec and spec[k] is not None:
                        try:
                            ok = ok and getattr(x, op)(bound(k)) is True
                        except TypeError:
                            ok = False
                if ok:
                    return True
            return False
        return False


def parse_q(q):
    """URI search ?q=: '*', 'field:value', or bare terms."""
    if q in ("*", "*:*", ""):
        return {"match_all": {}}
    m = re.fullmatch(r"([\w.@]+):(.+)", q)
    if m:
        v = m.group(2).strip('"')
        return {"match": {m.group(1): v}}
    raise EsError(400, "query_shard_exception", "fake_es supports only q=field:value and q=*")


# ----------------------------------------------------------------- server


class FakeES:
    def __init__(self, args):
        self.flavour = args.flavour
        self.version = args.version or ("2.11.0" if args.flavour == "opensearch" else "8.11.0")
        self.vt = tuple(int(x) for x in re.findall(r"\d+", self.version)[:3])
        self.major = self.vt[0] if args.flavour == "elasticsearch" else 7
        # What each Elasticsearch before 7.8 lacks: composable templates
        # (only the legacy _template API); 6.x also wants a mapping type in
        # legacy templates and "_type" in every bulk action.
        self.legacy_only = args.flavour == "elasticsearch" and self.vt < (7, 8)
        self.typed = args.flavour == "elasticsearch" and self.major < 7
        # OpenSearch's compatibility.override_main_response_version: GET /
        # claims 7.10.2; with "bare", without version.distribution either.
        self.os_compat = args.opensearch_compat if args.flavour == "opensearch" else None
        # ES 8.8 renamed the per-document failure and prefixed its reason with the position.
        self.new_parse_exc = args.flavour == "elasticsearch" and self.vt >= (8, 8)
        self.parse_exc = "document_parsing_exception" if self.new_parse_exc else "mapper_parsing_exception"
        self.lock = threading.RLock()
        self.indices, self.templates, self.components, self.legacy = {}, {}, {}, {}
        # Lifecycle: ILM policies (Elasticsearch), ISM policies and the
        # policy ISM attached to each index at its creation (OpenSearch).
        self.ilm, self.ism, self.ism_managed = {}, {}, {}
        self.ism_seq = 0
        self.cluster_uuid = base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode()
        self.node_name = "fake-es-" + socket.gethostname()
        self.rng = random.Random(args.seed)  # fault decisions only
        self.faults = validate_faults(json.loads(args.faults)) if args.faults else {}
        if "seed" in self.faults:
            self.rng.seed(self.faults["seed"])
        self.stats = self.new_stats()
        self.recent = []
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        self.journal = Journal(args.data)
        records = self.journal.replay()
        for r in records:
            self.apply(r)
        self.journal.open()
        # Generated _ids: reproducible for a given seed and journal, but never
        # the same sequence again after a restart (they would collide).
        self.id_rng = random.Random("%d/%d" % (args.seed, len(records)))
        # Security: with --auth and/or --api-key every request but /_fake/*
        # must authenticate with one of them.
        self.auth_user, self.auth_password = (args.auth.split(":", 1) if args.auth else (None, None))
        self.api_key = args.api_key
        self.security = bool(args.auth or args.api_key)
        self.tls = bool(args.tls_cert)

    def new_id(self):
        return base64.urlsafe_b64encode(self.id_rng.getrandbits(120).to_bytes(15, "big")).decode()

    def new_stats(self):
        return {"requests": 0, "connections": 0, "by_endpoint": {}, "by_status": {},
                "bulk": {"requests": 0, "items": 0, "items_by_status": {}, "bytes": 0,
                         "gzip_requests": 0, "chunked_requests": 0},
                "faults": {k: 0 for k in ("reset", "reset_after_index", "status_503", "status_429",
                                          "malformed", "too_large", "slowed", "item_429", "item_503")},
                "tls": {"handshakes": 0, "handshake_failures": 0, "client_certs": 0, "last_failure": None},
                "auth": {"basic": 0, "api_key": 0, "missing": 0, "rejected": 0},
                "started": datetime.datetime.now(datetime.timezone.utc).isoformat()}

    def loc(self, raw, near):
        """'[1:N] ' prefix of ES >= 8.8 reasons (N: roughly where the value is)."""
        if not self.new_parse_exc:
            return ""
        col = 1
        if near is not None and raw:
            i = raw.find('"%s"' % near)
            if i >= 0:
                j = raw.find(":", i + len(near) + 2)
                col = (j if j >= 0 else i) + 2
        return "[1:%d] " % col

    # -- journal replay and mutation -------------------------------------------------

    def apply(self, r):
        """Apply one journal record (replay) — the same effects the live path has."""
        t = r.get("t")
        if t == "ix":
            ix = Index(r["n"], r["settings"], Mapping.from_journal(r["mappings"]), r.get("aliases", {}),
                       r["uuid"], r["ct"])
            self.indices[ix.name] = ix
            if self.flavour == "opensearch":
                self.ism_attach(ix.name, r["ct"])
        elif t == "ixd":
            self.indices.pop(r["n"], None)
            self.ism_managed.pop(r["n"], None)
        elif t == "map":
            self.indices[r["n"]].mapping = Mapping.from_journal(r["mappings"])
        elif t == "doc":
            self.indices[r["n"]].put(r["id"], r["src"], r["v"], r["s"])
        elif t == "del":
            ix = self.indices[r["n"]]
            old = ix.docs.pop(r["id"], None)
            if old:
                ix.bytes -= len(old[0])
            ix.seq = max(ix.seq, r["s"] + 1)
        elif t == "tpl":
            self.templates[r["n"]] = r["b"]
        elif t == "tpld":
            self.templates.pop(r["n"], None)
        elif t == "ctpl":
            self.components[r["n"]] = r["b"]
        elif t == "ctpld":
            self.components.pop(r["n"], None)
        elif t == "ltpl":
            self.legacy[r["n"]] = r["b"]
        elif t == "ltpld":
            self.legacy.pop(r["n"], None)
        elif t == "ilm":
            self.ilm[r["n"]] = r["p"]
        elif t == "ilmd":
            self.ilm.pop(r["n"], None)
        elif t == "ism":
            self.ism[r["n"]] = r["p"]
            self.ism_seq = max(self.ism_seq, r["p"]["_seq_no"] + 1)
        elif t == "ismd":
            self.ism.pop(r["n"], None)
        elif t == "wipe":
            self.indices.clear(), self.templates.clear(), self.components.clear(), self.legacy.clear()
            self.ilm.clear(), self.ism.clear(), self.ism_managed.clear()

    def commit(self, records):
        """Journal first, then apply: an answer never outruns the journal."""
        self.journal.write(records)
        for r in records:
            self.apply(r)

    # -- templates and index creation ----------------------------------------------

    def compose(self, name):
        """settings, Mapping, aliases from the highest-priority matching template."""
        best = None
        for tname, t in self.templates.items():
            if any(simple_match(p, name) for p in t["index_patterns"]):
                if best is None or t.get("priority", 0) > best[1].get("priority", 0):
                    best = (tname, t)
        settings, mapping, aliases = {}, Mapping(), {}
        parts = []
        if best:
            parts = [self.components[c].get("template", {}) for c in best[1].get("composed_of", [])
                     if c in self.components] + [best[1].get("template", {})]
        else:
            # No composable template matches: every matching legacy one
            # applies, the higher order last (it wins), as in ES.
            parts = sorted((t for t in self.legacy.values()
                            if any(simple_match(p, name) for p in t["index_patterns"])),
                           key=lambda t: t.get("order", 0))
        if parts:
            for part in parts:
                settings.update(flat_settings(part.get("settings")))
                mapping.merge(Mapping.parse(part.get("mappings")))
                aliases.update(part.get("aliases", {}))
        return settings, mapping, aliases

    def check_flavour_settings(self, flat):
        """OpenSearch has no ILM: its settings are unknown there, as any unknown one."""
        for k in flat:
            if self.flavour == "opensearch" and k.startswith("index.lifecycle."):
                raise EsError(400, "illegal_argument_exception",
                              "unknown setting [%s] please check that any required plugins are installed, or check "
                              "the breaking changes documentation for removed settings" % k)

    # -- lifecycle: ILM (Elasticsearch) and ISM (OpenSearch) --------------------------

    def ism_attach(self, index, created_ms):
        """ISM gives a new index the policy whose ism_template matches it best
        (highest priority), if that template is older than the index."""
        best = None
        for pid, p in self.ism.items():
            for t in p["policy"].get("ism_template") or []:
                if any(simple_match(pat, index) for pat in t.get("index_patterns", [])) and \
                        t.get("last_updated_time", 0) <= created_ms and \
                        (best is None or t.get("priority", 0) > best[1]):
                    best = (pid, t.get("priority", 0))
        if best and not index.startswith("."):
            self.ism_managed[index] = best[0]

    def index_record(self, name, body=None):
        """The journal record creating index name (templates, then body)."""
        validate_index_name(name)
        body = body or {}
        settings, mapping, aliases = self.compose(name)
        s = flat_settings(body.get("settings"))
        validate_settings(s)
        self.check_flavour_settings(s)
        settings.update(s)
        mapping.merge(Mapping.parse(body.get("mappings")))
        aliases.update(body.get("aliases", {}))
        settings.setdefault("index.number_of_shards", "1")
        settings.setdefault("index.number_of_replicas", "1")
        ix = Index(name, settings, mapping, aliases)
        settings.update({"index.provided_name": name, "index.creation_date": str(ix.created),
                         "index.uuid": ix.uuid, "index.version.created": "8500003" if self.major >= 8 else "7170099"})
        return {"t": "ix", "n": name, "uuid": ix.uuid, "ct": ix.created, "settings": settings,
                "mappings": mapping.to_journal(), "aliases": aliases}

    def include_type_name(self, param):
        """Whether legacy template mappings are wrapped in a type: 6.x yes unless
        include_type_name=false, 7.x no unless true, 8+ never (no parameter)."""
        if param is None:
            return self.typed
        return param in ("", "true")

    def validate_legacy_template(self, name, body, typed):
        """PUT _template/<name>: the normalised (typeless) body, or the 400 ES gives."""
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        allowed = {"index_patterns", "order", "version", "settings", "mappings", "aliases"}
        for k in body:
            if k not in allowed:
                # The legacy parser reads an unknown key as a mapping type in 6.x and refuses it in 7+.
                raise EsError(400, "illegal_argument_exception" if not self.typed else "mapper_parsing_exception",
                              "unknown key [%s] in the template " % k)
        pats = body.get("index_patterns")
        if isinstance(pats, str):
            pats = [pats]
        if not pats:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: index patterns are missing;")
        mappings = body.get("mappings") or {}
        if not isinstance(mappings, dict):
            raise EsError(400, "mapper_parsing_exception", "Failed to parse mapping: mappings must be an object")
        if typed and mappings:
            if len(mappings) != 1 or not isinstance(next(iter(mappings.values())), dict):
                raise EsError(400, "mapper_parsing_exception",
                              "Root mapping definition has unsupported parameters: %s"
                              % "[" + ", ".join(sorted(mappings)) + "]")
            tname, mappings = next(iter(mappings.items()))
            if tname in ROOT_PARAMS or tname.startswith("_") and tname != "_doc":
                raise EsError(400, "mapper_parsing_exception",
                              "Root mapping definition has unsupported parameters:  [%s]" % tname)
        elif mappings and len(mappings) == 1 and "_doc" in mappings and self.major >= 7:
            raise EsError(400, "illegal_argument_exception",
                          "The mapping definition cannot be nested under a type [_doc] unless include_type_name "
                          "is set to true.")
        validate_settings(flat_settings(body.get("settings")))
        Mapping.parse(mappings)
        out = {"index_patterns": pats, "order": int(body.get("order", 0)), "settings": body.get("settings") or {},
               "mappings": mappings, "aliases": body.get("aliases") or {}}
        if "version" in body:
            out["version"] = body["version"]
        return out

    def validate_template(self, name, body, component=False):
        if not isinstance(body, dict):
            raise EsError(400, "parse_exception", "request body is required")
        allowed = {"template", "version", "_meta", "deprecated"} | (
            set() if component else {"index_patterns", "composed_of", "priority", "data_stream",
                                     "allow_auto_create", "ignore_missing_component_templates"})
        for k in body:
            if k not in allowed:
                raise EsError(400, "x_content_parse_exception", "[1:2] [%s] unknown field [%s]"
                              % ("component_template" if component else "index_template", k))
        tpl = body.get("template", {}) or {}
        for k in tpl:
            if k not in ("settings", "mappings", "aliases", "lifecycle"):
                raise EsError(400, "x_content_parse_exception", "[1:2] [template] unknown field [%s]" % k)
        validate_settings(flat_settings(tpl.get("settings")))
        self.check_flavour_settings(flat_settings(tpl.get("settings")))
        Mapping.parse(tpl.get("mappings"))
        if component:
            return dict(body)
        pats = body.get("index_patterns")
        if isinstance(pats, str):
            pats = [pats]
        if not pats:
            raise EsError(400, "action_request_validation_exception",
                          "Validation Failed: 1: index patterns are missing;")
        missing = [c for c in body.get("composed_of", []) if c not in self.components]
        if missing:
            raise EsError(400, "invalid_index_template_exception",
                          "index_template [%s] invalid, cause [index template [%s] specifies component templates "
                          "%s that do not exist]" % (name, name, "[" + ", ".join(missing) + "]"))
        prio = body.get("priority", 0)
        for other, t in self.templates.items():
            if other == name or t.get("priority", 0) != prio:
                continue
            if any(simple_match(a, b) or simple_match(b, a) for a in pats for b in t["index_patterns"]):
                raise EsError(400, "illegal_argument_exception",
                              "index template [%s] has index patterns %s matching patterns from existing templates "
                              "[%s] with patterns (%s => %s) that have the same priority [%d], multiple index "
                              "templates may not match during index creation, please use a different priority"
                              % (name, "[" + ", ".join(pats) + "]", other, other,
                                 "[" + ", ".join(t["index_patterns"]) + "]", prio))
        out = dict(body, index_patterns=pats)
        return out

    def resolve(self, expr, must_exist=True):
        """Index names for a path expression: names, wildcards, comma lists, _all, -excl."""
        names = []
        if expr in (None, "", "_all", "*"):
            return [n for n in self.indices if not n.startswith(".")]
        for part in expr.split(","):
            if part.startswith("-") and names:
                names = [n for n in names if not simple_match(part[1:], n)]
            elif "*" in part:
                names += [n for n in self.indices if simple_match(part, n) and n not in names and
                          (part.startswith(".") or not n.startswith("."))]
            elif part in self.indices:
                if part not in names:
                    names.append(part)
            elif must_exist:
                raise index_not_found(part)
        return names

    # -- documents -----------------------------------------------------------------

    def doc_write(self, op, index_name, doc_id, raw_src, meta, records):
        """One index/create/update/delete; returns (status, item body).

        Mutations are added to records (journal order); the caller commits
        them before answering."""
        ix = self.indices.get(index_name)
        item = self.item_base(index_name, doc_id)
        try:
            validate_index_name(index_name)
            pipeline = meta.get("pipeline")
            if pipeline and pipeline != "_none":
                raise DocFail(400, {"type": "illegal_argument_exception",
                                    "reason": "pipeline with id [%s] does not exist" % pipeline})
            if ix is None:
                if op == "delete":
                    raise DocFail(404, index_not_found(index_name).cause())
                if meta.get("require_alias") in (True, "true"):
                    raise DocFail(404, dict(index_not_found(index_name).cause(),
                                            reason="no such index [%s] and [require_alias] request flag is [true] "
                                                   "and [%s] is not an alias" % (index_name, index_name)))
                rec = self.index_record(index_name)
                self.commit_pending(records, [rec])
                ix = self.indices[index_name]
        except EsError as e:
            raise DocFail(e.status, e.cause()) from None
        existing = ix.docs.get(doc_id) if doc_id is not None else None
        conflict_base = {"index_uuid": ix.uuid, "shard": "0", "index": index_name}
        if "if_seq_no" in meta and (existing is None or existing[2] != int(meta["if_seq_no"])):
            raise DocFail(409, dict({"type": "version_conflict_engine_exception",
                                     "reason": "[%s]: version conflict, required seqNo [%s], primary term [1]. %s"
                                               % (doc_id, meta["if_seq_no"],
                                                  "current document has seqNo [%d] and primary term [1]"
                                                  % existing[2] if existing else "but no document was found")},
                                    **conflict_base))
        if op == "delete":
            seq = ix.seq
            if existing is None:
                item.update(_version=1, result="not_found", _shards=ix.shards_info(), _seq_no=seq,
                            _primary_term=1)
                self.commit_pending(records, [{"t": "del", "n": index_name, "id": doc_id, "v": 1, "s": seq}])
                return 404, item
            v = existing[1] + 1
            self.commit_pending(records, [{"t": "del", "n": index_name, "id": doc_id, "v": v, "s": seq}])
            item.update(_version=v, result="deleted", _shards=ix.shards_info(), _seq_no=seq, _primary_term=1)
            return 200, item
        if op == "create" and existing is not None:
            raise DocFail(409, dict({"type": "version_conflict_engine_exception",
                                     "reason": "[%s]: version conflict, document already exists (current version "
                                               "[%d])" % (doc_id, existing[1])}, **conflict_base))
        try:
            src = strict_loads(raw_src)
        except (ValueError, RecursionError) as e:
            raise DocFail(400, {"type": self.parse_exc, "reason": self.loc(raw_src, None) + "failed to parse",
                                "caused_by": {"type": "x_content_parse_exception" if self.major >= 8 else
                                              "json_parse_exception", "reason": str(e)}}) from None
        if op == "update":
            src, raw_src, noop = self.update_source(ix, doc_id, existing, src, raw_src)
            if noop:
                item.update(_version=existing[1], result="noop",
                            _shards={"total": 0, "successful": 0, "failed": 0},
                            _seq_no=existing[2], _primary_term=1)
                return 200, item
        if not isinstance(src, dict):
            raise DocFail(400, {"type": self.parse_exc, "reason": self.loc(raw_src, None) + "failed to parse",
                                "caused_by": {"type": "not_x_content_exception",
                                              "reason": "Compressor detection can only be called on some "
                                                        "xcontent bytes or compressed xcontent bytes"}})
        pending = DocParser(ix, doc_id, raw_src, self).parse(src)
        recs = []
        if pending:
            m = ix.mapping.copy()
            m.fields.update(pending)
            recs.append({"t": "map", "n": index_name, "mappings": m.to_journal()})
        v = existing[1] + 1 if existing else 1
        seq = ix.seq
        recs.append({"t": "doc", "n": index_name, "id": doc_id, "v": v, "s": seq, "src": raw_src})
        self.commit_pending(records, recs)
        item.update(_version=v, result="updated" if existing else "created", _shards=ix.shards_info(),
                    _seq_no=seq, _primary_term=1)
        return (200 if existing else 201), item

    def item_base(self, index_name, doc_id):
        if self.major < 8:  # 7.x still names the (single) type
            return {"_index": index_name, "_type": "_doc", "_id": doc_id}
        return {"_index": index_name, "_id": doc_id}

    def commit_pending(self, records, recs):
        """Apply now (later items must see them); journal with the batch."""
        for r in recs:
            self.apply(r)
        records.extend(recs)

    def update_source(self, ix, doc_id, existing, body, raw):
        if not isinstance(body, dict):
            raise DocFail(400, {"type": "x_content_parse_exception", "reason": "[1:1] update body must be an object"})
        for k in body:
            if k not in ("doc", "upsert", "doc_as_upsert", "detect_noop", "script", "scripted_upsert", "_source"):
                raise DocFail(400, {"type": "x_content_parse_exception",
                                    "reason": "[1:2] [UpdateRequest] unknown field [%s]" % k})
        if "script" in body:
            raise DocFail(400, {"type": "illegal_argument_exception", "reason": "fake_es does not run scripts"})
        if existing is None:
            if body.get("doc_as_upsert") and "doc" in body:
                new = body["doc"]
            elif "upsert" in body:
                new = body["upsert"]
            else:
                raise DocFail(404, {"type": "document_missing_exception", "reason": "[%s]: document missing" % doc_id,
                                    "index_uuid": ix.uuid, "shard": "0", "index": ix.name})
            return new, dumps(new), False
        old = json.loads(existing[0])

        def merge(a, b):
            out = dict(a)
            for k, v in b.items():
                out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
            return out

        new = merge(old, body.get("doc", {}))
        return new, dumps(new), new == old and body.get("detect_noop", True)

    # -- read helpers ----------------------------------------------------------------

    def search_docs(self, names, query):
        """(index, id, raw source) of matching documents, in index order."""
        for n in names:
            ix = self.indices[n]
            for doc_id, (raw, _v, _s) in list(ix.docs.items()):
                if "match_all" in query.q:
                    yield ix, doc_id, raw
                    continue
                if "ids" in query.q:
                    if query.matches(ix, doc_id, {}):
                        yield ix, doc_id, raw
                    continue
                if query.matches(ix, doc_id, flatten_source(json.loads(raw))):
                    yield ix, doc_id, raw

    def cat_human(self, n):
        for unit in ("b", "kb", "mb", "gb"):
            if n < 1024 or unit == "gb":
                return ("%d%s" % (n, unit)) if unit == "b" else ("%.1f%s" % (n, unit))
            n /= 1024.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    es = None  # set by main()
    params, status, meta = {}, 0, {}  # per request, set by dispatch()

    # -- plumbing --------------------------------------------------------------------

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.es.lock:
            self.es.stats["connections"] += 1

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def handle(self):
        if isinstance(self.connection, ssl.SSLSocket) and not self.tls_handshake():
            return
        super().handle()

    def tls_handshake(self):
        """The handshake runs here, in the connection's thread, not in accept():
        a client that connects and never speaks TLS must not stall the others.
        A failure (the client refused our certificate, or brought none when one
        is required) is counted and logged, and the connection closed."""
        es = self.es
        try:
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(self.timeout)
        except (ssl.SSLError, OSError) as e:
            with es.lock:
                es.stats["tls"]["handshake_failures"] += 1
                es.stats["tls"]["last_failure"] = str(e)
            self.log_message("TLS handshake failed: %s", e)
            self.close_connection = True
            # OpenSSL has sent its alert ("certificate required"...). Closing
            # with the client's request unread would send a RST that can
            # overtake the alert; a FIN after it, and reading what the client
            # sent, lets the client see why, as it does from Elasticsearch.
            try:
                self.connection.settimeout(0.5)
                self.connection.shutdown(socket.SHUT_WR)  # drops the TLS layer: plain reads below
                while self.connection.recv(65536):
                    pass
            except OSError:
                pass
            return False
        with es.lock:
            es.stats["tls"]["handshakes"] += 1
            es.stats["tls"]["client_certs"] += int(bool(self.connection.getpeercert()))
        return True

    # What Elasticsearch 8 sends with a 401 when security is on.
    WWW_AUTHENTICATE = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]

    def authenticate(self):
        """Security on: the request must carry the --auth user and password
        (Basic) or the --api-key (ApiKey); anything else is ES's 401, with its
        reasons and WWW-Authenticate headers. Credentials are never echoed."""
        es, hdr = self.es, self.headers.get("Authorization")

        def deny(reason, **extra):
            with es.lock:
                es.stats["auth"]["missing" if hdr is None else "rejected"] += 1
            raise EsError(401, "security_exception", reason,
                          headers=[("WWW-Authenticate", v) for v in self.WWW_AUTHENTICATE],
                          header={"WWW-Authenticate": list(self.WWW_AUTHENTICATE)}, **extra)

        anonymous = "unable to authenticate with provided credentials and anonymous access is not allowed for " \
                    "this request"
        if not hdr:
            deny("missing authentication credentials for REST request [%s]" % self.path)
        scheme, _, cred = hdr.strip().partition(" ")
        scheme, cred = scheme.lower(), cred.strip()
        if scheme == "basic":
            try:
                user, sep, password = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                deny(anonymous)
            if not sep:
                deny(anonymous)
            if es.auth_user is None or user != es.auth_user or password != es.auth_password:
                deny("unable to authenticate user [%s] for REST request [%s]" % (user, self.path))
            kind = "basic"
        elif scheme == "apikey":
            if not es.api_key or cred != es.api_key:
                try:
                    key_id = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")[0]
                except (ValueError, UnicodeDecodeError):
                    key_id = "?"
                deny(anonymous, additional_unsuccessful_credentials="API key: unable to find apikey with id %s"
                     % key_id)
            kind = "api_key"
        else:
            deny(anonymous)
        with es.lock:
            es.stats["auth"][kind] += 1

    def log_message(self, fmt, *args):
        if self.es.log:
            self.es.log.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), fmt % args))
            self.es.log.flush()

    def handle_expect_100(self):
        # Refuse an oversized body before the client sends it, as ES does.
        n = int(self.headers.get("Content-Length") or 0)
        if n > self.max_body():
            self.too_large(drain=False)
            return False
        return super().handle_expect_100()

    def max_body(self):
        return min(MAX_CONTENT_LENGTH, self.es.faults.get("max_body_bytes", MAX_CONTENT_LENGTH))

    def too_large(self, drain=True):
        with self.es.lock:
            self.es.stats["faults"]["too_large"] += 1
        if drain:  # read and drop the body so the client sees the 413, not a reset
            try:
                self.read_body(limit=None)
            except (OSError, ValueError):
                pass
        self.close_connection = True
        self.send(413, b"", ctype=None)

    def read_body(self, limit):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if limit is not None and total > limit:
                    raise OverflowError()
                data = self.rfile.read(size)
                if limit is not None:
                    chunks.append(data)
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if limit is not None and n > limit:
            raise OverflowError()
        if limit is None:
            while n > 0:
                n -= len(self.rfile.read(min(n, 1 << 20)) or b"x" * n)
            return b""
        return self.rfile.read(n) if n else b""

    def reset(self):
        """Drop the connection without an answer (RST, like a crashed node)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def send(self, status, body, ctype="json", extra=None):
        """One write per response (no Nagle stalls); ES's headers, no Server/Date."""
        if isinstance(body, (dict, list)):
            if self.params.get("filter_path"):
                body = filter_path(body, self.params["filter_path"])
            if "pretty" in self.params and self.params["pretty"] != "false":
                body = (json.dumps(body, ensure_ascii=False, indent=2, separators=(",", " : ")) + "\n").encode()
            else:
                body = dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        headers = []
        if self.es.flavour == "elasticsearch" and self.es.vt >= (7, 14):
            headers.append(("X-elastic-product", "Elasticsearch"))
        if ctype == "json":
            headers.append(("content-type", self.json_ctype()))
        elif ctype:
            headers.append(("content-type", ctype))
        if self.headers.get("X-Opaque-Id"):
            headers.append(("X-Opaque-Id", self.headers["X-Opaque-Id"]))
        headers += extra or []
        if body and "gzip" in self.headers.get("Accept-Encoding", "") and self.command != "HEAD":
            body = gzip.compress(body, 1)
            headers.append(("content-encoding", "gzip"))
        headers.append(("content-length", str(len(body))))
        if self.close_connection:
            headers.append(("connection", "close"))
        reason = self.responses.get(status, ("",))[0]
        head = "HTTP/1.1 %d %s\r\n" % (status, reason) + "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        self.wfile.write(head.encode("latin-1") + (body if self.command != "HEAD" else b""))
        self.status = status
        self.log_request(status, len(body))

    def json_ctype(self):
        want = (self.headers.get("Accept") or "") + (self.headers.get("Content-Type") or "")
        m = re.search(r"compatible-with=(\d+)", want)
        if m and self.es.flavour == "elasticsearch":
            return "application/vnd.elasticsearch+json;compatible-with=%s" % m.group(1)
        return "application/json" if self.es.major >= 8 else "application/json; charset=UTF-8"

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    def dispatch(self):
        es = self.es
        self.status, self.params, self.meta = 0, {}, {}
        t0 = time.time()
        url = urlsplit(self.path)
        self.params = dict(parse_qsl(url.query, keep_blank_values=True))
        segs = [unquote(s) for s in url.path.split("/") if s]
        endpoint = self.endpoint_name(segs)
        with es.lock:
            es.stats["requests"] += 1
            es.stats["by_endpoint"][endpoint] = es.stats["by_endpoint"].get(endpoint, 0) + 1
        try:
            try:
                body = self.read_body(self.max_body())
            except OverflowError:
                return self.too_large()
            raw_len = len(body)
            enc = self.headers.get("Content-Encoding", "").lower()
            if body and enc in ("gzip", "deflate"):
                try:
                    body = gzip.decompress(body) if enc == "gzip" else zlib.decompress(body)
                except (OSError, zlib.error, EOFError):
                    raise EsError(400, "illegal_argument_exception", "failed to decompress request body") from None
            if self.es.security and segs[:1] != ["_fake"]:
                self.authenticate()  # after the body is read, so that the connection stays usable
            self.body = body
            self.meta = {"raw_len": raw_len, "gzip": enc == "gzip",
                         "chunked": "chunked" in self.headers.get("Transfer-Encoding", "").lower()}
            if body and not segs[:1] == ["_fake"]:
                self.check_content_type()
            self.route(segs)
        except EsError as e:
            self.send(e.status, e.body(), extra=e.headers)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        except Exception as e:  # a bug here: say so like ES would, keep serving
            import traceback
            traceback.print_exc()
            self.close_connection = True
            try:
                self.send(500, EsError(500, "exception", "fake_es internal error: %r" % e).body())
            except OSError:
                pass
        finally:
            with es.lock:
                if self.status:
                    k = str(self.status)
                    es.stats["by_status"][k] = es.stats["by_status"].get(k, 0) + 1
                es.recent.append({"method": self.command, "path": self.path, "status": self.status or None,
                                  "content_type": self.headers.get("Content-Type"),
                                  "content_encoding": self.headers.get("Content-Encoding"),
                                  "transfer_encoding": self.headers.get("Transfer-Encoding"),
                                  "body_bytes": self.meta.get("raw_len"),
                                  "ms": int((time.time() - t0) * 1000)})
                del es.recent[:-200]

    @staticmethod
    def endpoint_name(segs):
        for s in segs:
            if s.startswith("_"):
                return s[1:] + ("/" + segs[segs.index(s) + 1] if s in ("_cat", "_fake", "_cluster")
                                and len(segs) > segs.index(s) + 1 else "")
        return "index" if segs else "root"

    def check_content_type(self):
        ct = self.headers.get("Content-Type")
        if ct is None:
            raise_406("Content-Type header is missing")
        mt = ct.split(";")[0].strip().lower()
        if mt not in ("application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
                      "application/vnd.elasticsearch+x-ndjson"):
            raise_406("Content-Type header [%s] is not supported" % ct)

    def json_body(self, required=False):
        if not self.body:
            if required:
                raise EsError(400, "parse_exception", "request body is required")
            return {}
        try:
            text = self.body.decode("utf-8")
            return strict_loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise EsError(400, "x_content_parse_exception", "[1:1] %s" % e) from None

    def check_params(self, allowed):
        base = {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
        for k in self.params:
            if k not in allowed and k not in base:
                raise EsError(400, "illegal_argument_exception", "request [%s] contains unrecognized parameter: [%s]"
                              % (urlsplit(self.path).path, k))

    # -- routing ---------------------------------------------------------------------

    def route(self, segs):
        m, n = self.command, len(segs)
        first = segs[0] if segs else ""
        legacy = self.es.legacy_only
        os_ = self.es.flavour == "opensearch"
        table = [
            (n == 0, ("GET", "HEAD"), self.info),
            (first == "_fake", ("GET", "PUT", "POST", "DELETE"), self.fake),
            (first == "_bulk" and n == 1, ("POST", "PUT"), lambda: self.bulk(None)),
            (n == 2 and segs[1] == "_bulk", ("POST", "PUT"), lambda: self.bulk(segs[0])),
            # Composable templates came with 7.8: before, no handler knows these paths.
            (first == "_index_template" and n == 1 and not legacy, ("GET",), lambda: self.get_templates(None, False)),
            (first == "_index_template" and n == 2 and not legacy, ("GET", "HEAD", "PUT", "POST", "DELETE"),
             lambda: self.template(segs[1], False)),
            (first == "_component_template" and n == 1 and not legacy, ("GET",),
             lambda: self.get_templates(None, True)),
            (first == "_component_template" and n == 2 and not legacy, ("GET", "HEAD", "PUT", "POST", "DELETE"),
             lambda: self.template(segs[1], True)),
            (first == "_template" and n == 1, ("GET",), lambda: self.get_legacy_templates(None)),
            (first == "_template" and n == 2, ("GET", "HEAD", "PUT", "POST", "DELETE"),
             lambda: self.legacy_template(segs[1])),
            (first == "_mapping" and n == 1, ("GET",), lambda: self.get_mapping(None)),
            (n == 2 and segs[1] == "_mapping", ("GET", "PUT", "POST"), lambda: self.mapping(segs[0])),
            (n == 2 and segs[1] == "_settings", ("GET",), lambda: self.get_index(segs[0], "settings")),
            (first in ("_count", "_search") and n == 1, ("GET", "POST"), lambda: self.search(None, first)),
            (n == 2 and segs[1] in ("_count", "_search"), ("GET", "POST"), lambda: self.search(segs[0], segs[1])),
            # ILM exists in every Elasticsearch we emulate (6.6+); OpenSearch has ISM instead.
            (first == "_ilm" and n == 2 and segs[1] == "policy" and not os_, ("GET",), lambda: self.ilm_get(None)),
            (first == "_ilm" and n == 3 and segs[1] == "policy" and not os_, ("GET", "PUT", "DELETE"),
             lambda: self.ilm_policy(segs[2])),
            (n == 3 and segs[1:] == ["_ilm", "explain"] and not os_, ("GET",), lambda: self.ilm_explain(segs[0])),
            (first == "_plugins" and n == 3 and segs[1:] == ["_ism", "policies"] and os_, ("GET",),
             lambda: self.ism_get(None)),
            (first == "_plugins" and n == 4 and segs[1:3] == ["_ism", "policies"] and os_, ("GET", "PUT", "DELETE"),
             lambda: self.ism_policy(segs[3])),
            (first == "_plugins" and n == 4 and segs[1:3] == ["_ism", "explain"] and os_, ("GET", "POST"),
             lambda: self.ism_explain(segs[3])),
            (first == "_refresh" and n == 1, ("GET", "POST"), lambda: self.refresh(None)),
            (n == 2 and segs[1] == "_refresh", ("GET", "POST"), lambda: self.refresh(segs[0])),
            (first == "_cat" and n in (2, 3) and segs[1] in ("indices", "count", "health", "templates"), ("GET",),
             lambda: self.cat(segs[1], segs[2] if n == 3 else None)),
            (first == "_cluster" and n in (2, 3) and segs[1] == "health", ("GET",),
             lambda: self.cluster_health(segs[2] if n == 3 else None)),
            (n == 2 and segs[1] == "_doc", ("POST",), lambda: self.single_doc(segs[0], None, "index")),
            (n == 3 and segs[1] == "_doc", ("GET", "HEAD", "PUT", "POST", "DELETE"),
             lambda: self.single_doc(segs[0], segs[2], None)),
            (n == 3 and segs[1] == "_create", ("PUT", "POST"), lambda: self.single_doc(segs[0], segs[2], "create")),
            (n == 1 and not first.startswith("_"), ("GET", "HEAD", "PUT", "DELETE"), lambda: self.index(first)),
        ]
        for cond, methods, fn in table:
            if cond:
                if m not in methods:
                    raise EsError(405, "method_not_allowed",
                                  "Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]"
                                  % (self.path, m, ", ".join(sorted(methods))))
                return fn()
        raise EsError(400, "illegal_argument_exception",
                      "no handler found for uri [%s] and method [%s]" % (self.path, m))

    # -- endpoints -------------------------------------------------------------------

    def info(self):
        es = self.es
        if es.flavour == "opensearch":
            lucene = {1: "8.10.1", 2: "9.7.0"}.get(es.vt[0], "10.1.0")
            version = {"distribution": "opensearch", "number": es.version, "build_type": "tar",
                       "build_hash": "fake000000000000000000000000000000000000",
                       "build_date": "2023-10-13T02:55:55.511945994Z", "build_snapshot": False,
                       "lucene_version": lucene,
                       "minimum_wire_compatibility_version": "7.10.0" if es.vt[0] < 3 else "2.19.0",
                       "minimum_index_compatibility_version": "7.0.0" if es.vt[0] < 3 else "2.0.0"}
            if es.os_compat:
                version["number"] = "7.10.2"
                if es.os_compat == "bare":
                    del version["distribution"]
            tagline = "The OpenSearch Project: https://opensearch.org/"
        else:
            lucene = {6: "7.7.3", 7: "8.11.1", 8: "9.8.0"}.get(es.major, "10.1.0")
            wire = {6: "5.6.0", 7: "6.8.0", 8: "7.17.0"}.get(es.major, "8.18.0")
            index_compat = {6: "5.0.0", 7: "6.0.0-beta1", 8: "7.0.0"}.get(es.major, "8.0.0")
            version = {"number": es.version, "build_flavor": "default", "build_type": "docker",
                       "build_hash": "fake000000000000000000000000000000000000",
                       "build_date": "2023-11-04T10:04:57.184859352Z", "build_snapshot": False,
                       "lucene_version": lucene,
                       "minimum_wire_compatibility_version": wire,
                       "minimum_index_compatibility_version": index_compat}
            tagline = "You Know, for Search"
        self.send(200, {"name": es.node_name, "cluster_name": "fake-es", "cluster_uuid": es.cluster_uuid,
                        "version": version, "tagline": tagline})

    def fake(self):
        """/_fake/faults, /_fake/stats, /_fake/requests, /_fake/data: test controls."""
        es, segs = self.es, [s for s in urlsplit(self.path).path.split("/") if s]
        what = segs[1] if len(segs) > 1 else ""
        with es.lock:
            if what == "faults" and self.command == "GET":
                return self.send(200, es.faults)
            if what == "faults" and self.command in ("PUT", "POST"):
                new = validate_faults(self.json_body())
                es.faults = new if self.command == "PUT" else dict(es.faults, **new)
                if "seed" in new:
                    es.rng.seed(new["seed"])
                return self.send(200, es.faults)
            if what == "stats" and self.command == "GET":
                st = copy.deepcopy(es.stats)
                st["docs"] = sum(len(ix.docs) for ix in es.indices.values())
                st["indices"] = len(es.indices)
                st["version"], st["flavour"] = es.version, es.flavour
                return self.send(200, st)
            if what == "stats" and self.command == "DELETE":
                es.stats = es.new_stats()
                return self.send(200, {"acknowledged": True})
            if what == "requests" and self.command == "GET":
                return self.send(200, {"requests": es.recent})
            if what == "data" and self.command == "DELETE":
                es.commit([{"t": "wipe"}])
                return self.send(200, {"acknowledged": True})
        raise EsError(400, "illegal_argument_exception",
                      "no handler found for uri [%s] and method [%s]" % (self.path, self.command))

    def fault_roll(self, key_next, key_fraction, stat):
        """Consume a *_next counter or roll a *_fraction (under the lock)."""
        es = self.es
        if es.faults.get(key_next, 0) > 0:
            es.faults[key_next] -= 1
            hit = True
        else:
            hit = key_fraction is not None and es.rng.random() < es.faults.get(key_fraction, 0)
        if hit and stat:
            es.stats["faults"][stat] += 1
        return hit

    def bulk(self, url_index):
        es = self.es
        allowed = {"pipeline", "refresh", "routing", "timeout", "wait_for_active_shards", "require_alias",
                   "require_data_stream", "_source", "_source_includes", "_source_excludes",
                   "list_executed_pipelines"} | ({"type"} if es.major < 8 else set())
        self.check_params(allowed)
        t0 = time.time()
        ops = self.parse_bulk(url_index)
        with es.lock:
            es.stats["bulk"]["requests"] += 1
            es.stats["bulk"]["bytes"] += self.meta["raw_len"]
            es.stats["bulk"]["gzip_requests"] += int(self.meta["gzip"])
            es.stats["bulk"]["chunked_requests"] += int(self.meta["chunked"])
            if self.fault_roll("status_503_next", "status_503_fraction", "status_503"):
                raise EsError(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
            if self.fault_roll("status_429_next", "status_429_fraction", "status_429"):
                n = len(self.body)
                raise EsError(429, "circuit_breaking_exception",
                              "[parent] Data too large, data for [<http_request>] would be [%d/%s], which is larger "
                              "than the limit of [1024/1kb]" % (n, es.cat_human(n)),
                              bytes_wanted=n, bytes_limit=1024, durability="TRANSIENT")
            reset = self.fault_roll("reset_next", "reset_fraction", None)
            after = reset and es.faults.get("reset_after_index", False)
            if reset and not after:
                es.stats["faults"]["reset"] += 1
                return self.reset()
            slow = es.faults.get("slow_ms", 0)
        if slow:
            with es.lock:
                es.stats["faults"]["slowed"] += 1
            time.sleep(slow / 1000.0)
        items, errors, records = [], False, []
        with es.lock:
            try:
                for op, meta, raw in ops:
                    status, body = self.bulk_item(op, meta, raw, records)
                    body["status"] = status
                    errors = errors or "error" in body
                    items.append({op: body})
                    k = str(status)
                    es.stats["bulk"]["items_by_status"][k] = es.stats["bulk"]["items_by_status"].get(k, 0) + 1
                es.stats["bulk"]["items"] += len(ops)
            finally:
                es.journal.write(records)  # what is applied is journaled, before the answer leaves
            if after:
                es.stats["faults"]["reset_after_index"] += 1
                return self.reset()
            malformed = self.fault_roll("malformed_next", None, "malformed")
        resp = {"took": int((time.time() - t0) * 1000), "errors": errors, "items": items}
        if malformed:
            text = dumps(resp).encode()
            return self.send(200, text[: max(1, len(text) // 2)])
        self.send(200, resp)

    def bulk_item(self, op, meta, raw, records):
        es = self.es
        doc_id = meta.get("_id")
        index_name = meta["_index"]
        if doc_id is None and op in ("index", "create"):
            doc_id = es.new_id()
        base = es.item_base(index_name, doc_id)
        if self.fault_roll("reject_429_next", "reject_429_fraction", "item_429"):
            return 429, dict(base, error={
                "type": "es_rejected_execution_exception",
                "reason": "rejected execution of org.elasticsearch.action.support.replication.TransportWriteAction"
                          "$1/WrappedActionListener on EsThreadPoolExecutor[name = %s/write, queue capacity = "
                          "10000, task execution EWMA = 1.2ms, total task execution time = 1.4m]" % es.node_name})
        if self.fault_roll("item_503_next", "item_503_fraction", "item_503"):
            return 503, dict(base, error={
                "type": "unavailable_shards_exception",
                "reason": "[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest [[%s][0]] "
                          "containing [1] requests]" % (index_name, index_name)})
        try:
            if "\0bad_utf8" in meta:
                raise DocFail(400, {"type": es.parse_exc, "reason": es.loc(None, None) + "failed to parse",
                                    "caused_by": {"type": "json_parse_exception", "reason": meta["\0bad_utf8"]}})
            return es.doc_write(op, index_name, doc_id, raw, meta, records)
        except DocFail as f:
            return f.status, dict(base, error=f.cause)

    def parse_bulk(self, url_index):
        """[(op, meta, raw source)] or a whole-request error, as ES's BulkRequestParser."""
        es, body = self.es, self.body
        if not body:
            raise EsError(400, "parse_exception", "request body is required")
        if not body.endswith(b"\n"):
            raise EsError(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        lines = body.split(b"\n")[:-1]
        ops, problems, i = [], [], 0
        allowed_meta = {"_index", "_id", "routing", "version", "version_type", "if_seq_no", "if_primary_term",
                        "pipeline", "require_alias", "retry_on_conflict", "dynamic_templates", "_source",
                        "require_data_stream", "list_executed_pipelines", "op_type"}
        if es.major < 8:
            allowed_meta |= {"_type"}
        while i < len(lines):
            line, lineno = lines[i], i + 1
            i += 1
            if not line.strip():
                continue
            try:
                action = strict_loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise EsError(400, "x_content_parse_exception", "[%d:1] %s" % (lineno, e)) from None
            if not isinstance(action, dict):
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found "
                              "[VALUE_%s]" % (lineno, "STRING" if isinstance(action, str) else "NUMBER"))
            if not action:
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected FIELD_NAME but found [END_OBJECT]"
                              % lineno)
            op, meta = next(iter(action.items()))
            if op not in ("index", "create", "update", "delete"):
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected one of [create, delete, index, update] "
                              "but found [%s]" % (lineno, op))
            if not isinstance(meta, dict):
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected START_OBJECT but found [VALUE_STRING]"
                              % lineno)
            for k in meta:
                if k not in allowed_meta or (k == "retry_on_conflict" and op != "update"):
                    raise EsError(400, "illegal_argument_exception",
                                  "Action/metadata line [%d] contains an unknown parameter [%s]" % (lineno, k))
            meta = dict(meta)
            if meta.get("op_type") == "create" and op == "index":
                op = "create"
            if "_id" in meta and meta["_id"] is not None:
                meta["_id"] = str(meta["_id"])
            meta.setdefault("_index", url_index)
            if "pipeline" not in meta and self.params.get("pipeline"):
                meta["pipeline"] = self.params["pipeline"]
            if "require_alias" not in meta and self.params.get("require_alias") in ("", "true"):
                meta["require_alias"] = True
            if meta["_index"] is None:
                problems.append("index is missing")
            if es.typed and not meta.get("_type") and not self.params.get("type"):
                problems.append("type is missing")
            if op in ("update", "delete") and not meta.get("_id"):
                problems.append("id is missing")
            if meta.get("_id") == "":
                problems.append("if _id is specified it must not be empty")
            elif meta.get("_id") and len(meta["_id"].encode()) > 512:
                problems.append("id [%s] is too long, must be no longer than 512 bytes but was: %d"
                                % (meta["_id"], len(meta["_id"].encode())))
            raw = None
            if op != "delete":
                if i >= len(lines):
                    raise EsError(400, "illegal_argument_exception",
                                  "The bulk request must be terminated by a newline [\\n]")
                try:
                    raw = lines[i].decode("utf-8")
                except UnicodeDecodeError as e:
                    # Jackson rejects invalid UTF-8 in the document: that item fails alone.
                    raw = lines[i].decode("utf-8", "replace")
                    meta["\0bad_utf8"] = "Invalid UTF-8 in document: %s" % e
                i += 1
                if not raw.strip():
                    problems.append("source is missing")
                if op == "update":
                    try:
                        u = strict_loads(raw)
                    except ValueError as e:
                        raise EsError(400, "x_content_parse_exception", "[%d:1] %s" % (i, e)) from None
                    if not isinstance(u, dict):
                        raise EsError(400, "x_content_parse_exception", "[%d:1] update body must be an object" % i)
            ops.append((op, meta, raw))
        if problems:
            raise EsError(400, "action_request_validation_exception", "Validation Failed: " + "".join(
                "%d: %s;" % (k + 1, p) for k, p in enumerate(problems)))
        if not ops:
            raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
        return ops

    def single_doc(self, index_name, doc_id, op):
        es, m = self.es, self.command
        if m in ("GET", "HEAD"):
            with es.lock:
                ix = es.indices.get(index_name)
                if ix is None:
                    raise index_not_found(index_name)
                d = ix.docs.get(doc_id)
                if d is None:
                    return self.send(404, {"_index": index_name, "_id": doc_id, "found": False})
                return self.send(200, {"_index": index_name, "_id": doc_id, "_version": d[1], "_seq_no": d[2],
                                       "_primary_term": 1, "found": True, "_source": json.loads(d[0])})
        if m == "DELETE":
            op = "delete"
        elif op is None:
            op = "create" if self.params.get("op_type") == "create" else "index"
        self.check_params({"refresh", "routing", "timeout", "version", "version_type", "if_seq_no",
                           "if_primary_term", "op_type", "pipeline", "wait_for_active_shards", "require_alias"})
        raw = None
        if op != "delete":
            if not self.body:
                raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;")
            try:
                raw = self.body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise EsError(400, es.parse_exc, "failed to parse",
                              caused_by={"type": "json_parse_exception", "reason": str(e)}) from None
        meta = {k: v for k, v in self.params.items() if k in ("pipeline", "if_seq_no", "require_alias")}
        records = []
        with es.lock:
            if doc_id is None:
                doc_id = es.new_id()
            try:
                status, item = es.doc_write(op, index_name, doc_id, raw.strip() if raw else raw, meta, records)
            except DocFail as f:
                es.journal.write(records)
                c = f.cause
                raise EsError(f.status, c["type"], c["reason"], c.get("caused_by"),
                              **{k: v for k, v in c.items() if k not in ("type", "reason", "caused_by")}) from None
            es.journal.write(records)
        self.send(status, item)

    def index(self, name):
        es, m = self.es, self.command
        with es.lock:
            if m == "HEAD":
                return self.send(200 if name in es.indices else 404, b"")
            if m == "PUT":
                self.check_params({"wait_for_active_shards", "timeout", "master_timeout"} |
                                  ({"include_type_name"} if es.major < 8 else set()))
                body = self.json_body()
                for k in body:
                    if k not in ("settings", "mappings", "aliases"):
                        raise EsError(400, "parse_exception", "unknown key [%s] for create index" % k)
                if name in es.indices:
                    raise EsError(400, "resource_already_exists_exception",
                                  "index [%s/%s] already exists" % (name, es.indices[name].uuid),
                                  index_uuid=es.indices[name].uuid, index=name)
                es.commit([es.index_record(name, body)])
                return self.send(200, {"acknowledged": True, "shards_acknowledged": True, "index": name})
            if m == "DELETE":
                if "*" in name or name == "_all":
                    raise EsError(400, "illegal_argument_exception",
                                  "Wildcard expressions or all indices are not allowed")
                names = es.resolve(name)
                es.commit([{"t": "ixd", "n": n} for n in names])
                return self.send(200, {"acknowledged": True})
            return self.get_index(name, None)

    def get_index(self, expr, only):
        es = self.es
        with es.lock:
            out = {}
            for n in es.resolve(expr):
                ix = es.indices[n]
                entry = {"aliases": ix.aliases, "mappings": ix.mapping.tree(), "settings": ix.settings_tree()}
                out[n] = {only: entry[only]} if only else entry
        self.send(200, out)

    def get_mapping(self, expr):
        es = self.es
        with es.lock:
            out = {n: {"mappings": es.indices[n].mapping.tree()} for n in es.resolve(expr)}
        self.send(200, out)

    def mapping(self, expr):
        if self.command == "GET":
            return self.get_mapping(expr)
        es = self.es
        new = Mapping.parse(self.json_body(required=True))
        with es.lock:
            names = es.resolve(expr)
            recs = []
            for n in names:
                m = es.indices[n].mapping.copy()
                m.merge(new, replace=False)
                recs.append({"t": "map", "n": n, "mappings": m.to_journal()})
            es.commit(recs)
        self.send(200, {"acknowledged": True})

    def template(self, name, component):
        es, m = self.es, self.command
        store, kind = (es.components, "component_template") if component else (es.templates, "index_template")
        with es.lock:
            if m in ("GET", "HEAD"):
                if m == "HEAD":
                    return self.send(200 if any(simple_match(name, n) for n in store) else 404, b"")
                return self.get_templates(name, component)
            if m == "DELETE":
                if name not in store:
                    raise EsError(404, "resource_not_found_exception", "%s matching [%s] not found"
                                  % (kind.replace("_", " "), name))
                es.commit([{"t": "ctpld" if component else "tpld", "n": name}])
                return self.send(200, {"acknowledged": True})
            self.check_params({"create", "master_timeout", "cause", "timeout"})
            body = es.validate_template(name, self.json_body(required=True), component)
            if self.params.get("create") in ("", "true") and name in store:
                raise EsError(400, "illegal_argument_exception",
                              "%s [%s] already exists" % (kind.replace("_", " "), name))
            es.commit([{"t": "ctpl" if component else "tpl", "n": name, "b": body}])
        self.send(200, {"acknowledged": True})

    def legacy_template(self, name):
        """GET/HEAD/PUT/DELETE _template/<name>: the legacy API (deprecated in 7.8, still in 8 and 9)."""
        es, m = self.es, self.command
        with es.lock:
            if m in ("GET", "HEAD"):
                if m == "HEAD":
                    return self.send(200 if any(simple_match(name, n) for n in es.legacy) else 404, b"")
                return self.get_legacy_templates(name)
            if m == "DELETE":
                if name not in es.legacy:
                    raise EsError(404, "index_template_missing_exception", "index_template [%s] missing" % name)
                es.commit([{"t": "ltpld", "n": name}])
                return self.send(200, {"acknowledged": True})
            self.check_params({"create", "order", "master_timeout", "cause", "timeout"}
                              | ({"include_type_name"} if es.major < 8 else set()))
            typed = es.include_type_name(self.params.get("include_type_name"))
            body = es.validate_legacy_template(name, self.json_body(required=True), typed)
            if self.params.get("create") in ("", "true") and name in es.legacy:
                raise EsError(400, "illegal_argument_exception", "index_template [%s] already exists" % name)
            es.commit([{"t": "ltpl", "n": name, "b": body}])
        self.send(200, {"acknowledged": True})

    def get_legacy_templates(self, name):
        es = self.es
        self.check_params({"flat_settings", "local", "master_timeout"}
                          | ({"include_type_name"} if es.major < 8 else set()))
        typed = es.include_type_name(self.params.get("include_type_name"))
        with es.lock:
            found = {}
            for n, t in sorted(es.legacy.items()):
                if name is None or any(simple_match(p, n) for p in name.split(",")):
                    t = copy.deepcopy(t)
                    if typed and t["mappings"]:
                        t["mappings"] = {"_doc": t["mappings"]}
                    found[n] = t
        # ES answers an unknown name with 404 and an empty object.
        self.send(404 if name is not None and "*" not in name and not found else 200, found)

    def get_templates(self, name, component):
        es = self.es
        store, kind = (es.components, "component_template") if component else (es.templates, "index_template")
        with es.lock:
            found = [{"name": n, kind: t} for n, t in sorted(store.items())
                     if name is None or any(simple_match(p, n) for p in name.split(","))]
        if name is not None and "*" not in name and not found:
            raise EsError(404, "resource_not_found_exception", "%s matching [%s] not found"
                          % (kind.replace("_", " "), name))
        self.send(200, {kind + "s": found})

    # -- ILM (Elasticsearch) ---------------------------------------------------------

    ILM_PHASES = {"hot": {"rollover", "set_priority", "unfollow", "readonly", "shrink", "forcemerge",
                          "searchable_snapshot", "downsample"},
                  "warm": {"allocate", "migrate", "set_priority", "unfollow", "readonly", "shrink",
                           "forcemerge", "downsample"},
                  "cold": {"allocate", "migrate", "set_priority", "unfollow", "readonly", "freeze",
                           "searchable_snapshot", "downsample"},
                  "frozen": {"searchable_snapshot", "unfollow"},
                  "delete": {"wait_for_snapshot", "delete"}}
    TIME_VALUE = re.compile(r"^-?\d+(\.\d+)?(nanos|micros|ms|s|m|h|d)$")

    def ilm_validate(self, name, body):
        es = self.es
        if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
            raise EsError(400, "parse_exception", "request body is required" if not body else
                          "[put_lifecycle_request] failed to parse field [policy]")
        for k in body:
            if k != "policy":
                raise EsError(400, "x_content_parse_exception", "[1:2] [put_lifecycle_request] unknown field [%s]" % k)
        pol = body["policy"]
        allowed = {"phases"} | ({"_meta"} if es.vt >= (7, 14) else set()) | (
            {"deprecated"} if es.vt >= (8, 7) else set())
        for k in pol:
            if k not in allowed:
                raise EsError(400, "x_content_parse_exception", "[1:12] [lifecycle_policy] unknown field [%s]" % k)
        phases = pol.get("phases")
        if not isinstance(phases, dict):
            raise EsError(400, "x_content_parse_exception", "[1:12] [lifecycle_policy] phases is required")
        out = {}
        for ph, d in phases.items():
            if ph not in self.ILM_PHASES:
                raise EsError(400, "illegal_argument_exception",
                              "Lifecycle does not support phase [%s]" % ph)
            d = d or {}
            age = d.get("min_age", "0ms")
            if not isinstance(age, str) or not self.TIME_VALUE.match(age):
                raise EsError(400, "x_content_parse_exception",
                              "[1:40] [phase] failed to parse field [min_age]",
                              caused_by={"type": "illegal_argument_exception",
                                         "reason": "failed to parse setting [min_age] with value [%s] as a time "
                                                   "value: unit is missing or unrecognized" % age})
            acts = {}
            for a, spec in (d.get("actions") or {}).items():
                if a not in self.ILM_PHASES[ph]:
                    raise EsError(400, "illegal_argument_exception",
                                  "invalid action [%s] defined in phase [%s]" % (a, ph))
                spec = dict(spec or {})
                if a == "delete":  # what ES adds when it stores the policy
                    spec.setdefault("delete_searchable_snapshot", True)
                acts[a] = spec
            out[ph] = {"min_age": age, "actions": acts}
        stored = {"phases": out}
        if "_meta" in pol:
            stored["_meta"] = pol["_meta"]
        return stored

    def ilm_entry(self, name, p):
        es = self.es
        e = {"version": p["version"], "modified_date": p["modified_date"], "policy": p["policy"]}
        if es.vt >= (7, 12):
            e["in_use_by"] = {
                "indices": sorted(n for n, ix in es.indices.items()
                                  if ix.settings.get("index.lifecycle.name") == name),
                "data_streams": [],
                "composable_templates": sorted(
                    t for t, b in es.templates.items()
                    if flat_settings((b.get("template") or {}).get("settings")).get("index.lifecycle.name") == name)}
        return e

    def ilm_get(self, name):
        es = self.es
        with es.lock:
            if name is None:
                return self.send(200, {n: self.ilm_entry(n, p) for n, p in sorted(es.ilm.items())})
            found = {n: self.ilm_entry(n, p) for n, p in es.ilm.items()
                     if any(simple_match(x, n) for x in name.split(","))}
        if not found:
            raise EsError(404, "resource_not_found_exception", "Lifecycle policy not found: %s" % name)
        self.send(200, found)

    def ilm_policy(self, name):
        es, m = self.es, self.command
        if m == "GET":
            self.check_params({"master_timeout", "timeout"})
            return self.ilm_get(name)
        with es.lock:
            if m == "DELETE":
                if name not in es.ilm:
                    raise EsError(404, "resource_not_found_exception", "Lifecycle policy not found: %s" % name)
                users = [n for n, ix in es.indices.items() if ix.settings.get("index.lifecycle.name") == name]
                if users:
                    raise EsError(400, "illegal_argument_exception",
                                  "Cannot delete policy [%s]. It is in use by one or more indices: [%s]"
                                  % (name, ", ".join(sorted(users))))
                es.commit([{"t": "ilmd", "n": name}])
                return self.send(200, {"acknowledged": True})
            self.check_params({"master_timeout", "timeout"})
            stored = self.ilm_validate(name, self.json_body(required=True))
            old = es.ilm.get(name)
            now = datetime.datetime.now(datetime.timezone.utc)
            rec = {"version": old["version"] + 1 if old else 1,
                   "modified_date": now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000),
                   "policy": stored}
            # ES does not bump the version of a policy put again unchanged.
            if old and old["policy"] == stored:
                rec = old
            es.commit([{"t": "ilm", "n": name, "p": rec}])
        self.send(200, {"acknowledged": True})

    def ilm_explain(self, expr):
        es = self.es
        with es.lock:
            out = {}
            for n in es.resolve(expr):
                ix = es.indices[n]
                pol = ix.settings.get("index.lifecycle.name")
                if pol:
                    out[n] = {"index": n, "managed": True, "policy": pol,
                              "index_creation_date_millis": ix.created, "lifecycle_date_millis": ix.created,
                              "phase": "new", "action": "complete", "step": "complete"}
                else:
                    out[n] = {"index": n, "managed": False}
        self.send(200, {"indices": out})

    # -- ISM (OpenSearch) ------------------------------------------------------------

    def ism_validate(self, name, body):
        if not isinstance(body, dict) or not isinstance(body.get("policy"), dict):
            raise EsError(400, "illegal_argument_exception", "Required [policy] is missing" if body else
                          "Request body is empty")
        pol = body["policy"]
        for k in pol:
            if k not in ("policy_id", "description", "default_state", "states", "ism_template",
                         "error_notification", "schema_version", "last_updated_time", "user"):
                raise EsError(400, "x_content_parse_exception", "[1:12] Invalid field: [%s] found in Policy." % k)
        states = pol.get("states")
        if not isinstance(states, list) or not states:
            raise EsError(400, "illegal_argument_exception", "Policy must have at least one state")
        names = [st.get("name") for st in states]
        if pol.get("default_state") not in names:
            raise EsError(400, "illegal_argument_exception",
                          "Policy default_state [%s] is not a valid state" % pol.get("default_state"))
        for st in states:
            for tr in st.get("transitions") or []:
                if tr.get("state_name") not in names:
                    raise EsError(400, "illegal_argument_exception",
                                  "Policy contains a transition to a state [%s] that does not exist"
                                  % tr.get("state_name"))
                age = (tr.get("conditions") or {}).get("min_index_age")
                if age is not None and not self.TIME_VALUE.match(str(age)):
                    raise EsError(400, "illegal_argument_exception",
                                  "failed to parse setting [min_index_age] with value [%s] as a time value: "
                                  "unit is missing or unrecognized" % age)
        tpls = pol.get("ism_template") or []
        if isinstance(tpls, dict):
            tpls = [tpls]
        es = self.es
        for t in tpls:
            for other, op in es.ism.items():
                if other == name:
                    continue
                for ot in op["policy"].get("ism_template") or []:
                    if ot.get("priority", 0) == t.get("priority", 0) and any(
                            simple_match(a, b) or simple_match(b, a)
                            for a in t.get("index_patterns", []) for b in ot.get("index_patterns", [])):
                        raise EsError(400, "illegal_argument_exception",
                                      "New policy %s has an ISM template with index pattern %s matching existing "
                                      "policy templates, please use a different priority than %d"
                                      % (name, t.get("index_patterns"), t.get("priority", 0)))
        return pol, tpls

    def ism_get(self, name):
        es = self.es
        with es.lock:
            pols = [{"_id": n, "_seq_no": p["_seq_no"], "_primary_term": p["_primary_term"],
                     "policy": {"policy": p["policy"]}} for n, p in sorted(es.ism.items())]
        self.send(200, {"policies": pols, "total_policies": len(pols)})

    def ism_policy(self, name):
        es, m = self.es, self.command
        with es.lock:
            old = es.ism.get(name)
            if m == "GET":
                if not old:
                    raise EsError(404, "status_exception", "Policy not found")
                return self.send(200, {"_id": name, "_version": old["_version"], "_seq_no": old["_seq_no"],
                                       "_primary_term": old["_primary_term"], "policy": old["policy"]})
            if m == "DELETE":
                if not old:
                    return self.send(404, {"_index": ".opendistro-ism-config", "_id": name, "_version": 1,
                                           "result": "not_found", "_shards": {"total": 2, "successful": 1,
                                                                               "failed": 0},
                                           "_seq_no": es.ism_seq, "_primary_term": 1})
                es.commit([{"t": "ismd", "n": name}])
                return self.send(200, {"_index": ".opendistro-ism-config", "_id": name, "result": "deleted"})
            self.check_params({"if_seq_no", "if_primary_term"})
            seq, term = self.params.get("if_seq_no"), self.params.get("if_primary_term")
            if old and (seq is None or term is None):
                raise EsError(409, "version_conflict_engine_exception",
                              "[%s]: version conflict, document already exists (current version [%d])"
                              % (name, old["_version"]), index=".opendistro-ism-config", shard="0")
            if seq is not None or term is not None:
                cur = (old["_seq_no"], old["_primary_term"]) if old else (-2, 0)
                if (seq, term) != (str(cur[0]), str(cur[1])):
                    why = ("required seqNo [%s], primary term [%s]. current document has seqNo [%d] and primary "
                           "term [%d]" % (seq, term, cur[0], cur[1])) if old else (
                        "required seqNo [%s], primary term [%s]. but no document was found" % (seq, term))
                    raise EsError(409, "version_conflict_engine_exception", "[%s]: version conflict, %s" % (name, why),
                                  index=".opendistro-ism-config", shard="0")
            pol, tpls = self.ism_validate(name, self.json_body(required=True))
            now = int(time.time() * 1000)
            stored = {"policy_id": name, "description": pol.get("description", ""), "last_updated_time": now,
                      "schema_version": 21, "error_notification": pol.get("error_notification"),
                      "default_state": pol["default_state"], "states": pol["states"],
                      "ism_template": [dict(t, last_updated_time=now) for t in tpls] or None}
            rec = {"_version": old["_version"] + 1 if old else 1, "_seq_no": es.ism_seq, "_primary_term": 1,
                   "policy": stored}
            es.commit([{"t": "ism", "n": name, "p": rec}])
        self.send(200 if old else 201, {"_id": name, "_version": rec["_version"], "_primary_term": 1,
                                        "_seq_no": rec["_seq_no"], "policy": {"policy": stored}})

    def ism_explain(self, expr):
        es = self.es
        with es.lock:
            out, managed = {}, 0
            for n in es.resolve(expr):
                pid = es.ism_managed.get(n)
                if pid:
                    managed += 1
                    out[n] = {"index.plugins.index_state_management.policy_id": pid,
                              "index.opendistro.index_state_management.policy_id": pid,
                              "index": n, "index_uuid": es.indices[n].uuid, "policy_id": pid, "enabled": True}
                else:
                    out[n] = {"index.plugins.index_state_management.policy_id": None,
                              "index.opendistro.index_state_management.policy_id": None, "enabled": None}
            out["total_managed_indices"] = managed
        self.send(200, out)

    def refresh(self, expr):
        es = self.es
        with es.lock:
            names = es.resolve(expr)
            total = sum(es.indices[n].shards * (1 + es.indices[n].replicas) for n in names)
            ok = sum(es.indices[n].shards for n in names)
        self.send(200, {"_shards": {"total": total, "successful": ok, "failed": 0}})

    def search(self, expr, kind):
        es = self.es
        if kind == "_count":
            self.check_params({"q", "df", "analyzer", "default_operator", "lenient", "analyze_wildcard",
                               "ignore_unavailable", "allow_no_indices", "expand_wildcards", "min_score",
                               "preference", "routing", "terminate_after", "ignore_throttled"})
        body = self.json_body()
        allowed_body = {"query"} if kind == "_count" else {
            "query", "size", "from", "sort", "track_total_hits", "_source", "timeout", "seq_no_primary_term",
            "version", "stored_fields", "fields", "docvalue_fields", "explain", "min_score", "terminate_after"}
        for k in body:
            if k in ("aggs", "aggregations"):
                raise EsError(400, "illegal_argument_exception", "fake_es does not implement aggregations")
            if k not in allowed_body:
                raise EsError(400, "parsing_exception", "request does not support [%s]" % k, line=1, col=2)
        q = body.get("query")
        if "q" in self.params:
            q = parse_q(self.params["q"])
        query = Query(q)
        with es.lock:
            names = es.resolve(expr, must_exist=self.params.get("ignore_unavailable") not in ("", "true"))
            shards = sum(es.indices[n].shards for n in names)
            sh = {"total": shards, "successful": shards, "skipped": 0, "failed": 0}
            if kind == "_count":
                if q is None or "match_all" in query.q:
                    count = sum(len(es.indices[n].docs) for n in names)
                else:
                    count = sum(1 for _ in es.search_docs(names, query))
                return self.send(200, {"count": count, "_shards": sh})
            size = int(self.params.get("size", body.get("size", 10)))
            frm = int(self.params.get("from", body.get("from", 0)))
            if frm + size > MAX_RESULT_WINDOW:
                raise EsError(400, "illegal_argument_exception",
                              "Result window is too large, from + size must be less than or equal to: [%d] but was "
                              "[%d]. See the scroll api for a more efficient way to request large data sets. This "
                              "limit can be set by changing the [index.max_result_window] index level setting."
                              % (MAX_RESULT_WINDOW, frm + size))
            hits = list(es.search_docs(names, query))
        sort = self.sort_spec(body.get("sort"), self.params.get("sort"))
        if sort:
            hits = self.sort_hits(hits, sort, query)
        total = len(hits)
        tth = body.get("track_total_hits", self.params.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS))
        tth = {"true": True, "false": False}.get(tth, tth) if isinstance(tth, str) else tth
        if isinstance(tth, str):
            tth = int(tth)
        out_hits = []
        want_src = body.get("_source", True)
        for ix, doc_id, raw in hits[frm:frm + size]:
            h = dict(es.item_base(ix.name, doc_id), _score=None if sort else 1.0)
            if want_src is not False:
                src = json.loads(raw)
                if want_src is not True:
                    src = source_filter(src, want_src)
                h["_source"] = src
            if sort:
                h["sort"] = self.sort_key_values(ix, doc_id, raw, sort, query)
            out_hits.append(h)
        hits_obj = {"max_score": None if sort or not hits else 1.0, "hits": out_hits}
        if tth is True:
            hits_obj = dict({"total": {"value": total, "relation": "eq"}}, **hits_obj)
        elif tth is not False:
            hits_obj = dict({"total": {"value": min(total, int(tth)),
                                       "relation": "eq" if total <= int(tth) else "gte"}}, **hits_obj)
        self.send(200, {"took": 1, "timed_out": False, "_shards": sh, "hits": hits_obj})

    @staticmethod
    def sort_spec(sort, param):
        if param:
            sort = [{p.split(":")[0]: {"order": (p.split(":") + ["asc"])[1]}} for p in param.split(",")]
        if not sort:
            return []
        out = []
        for s in (sort if isinstance(sort, list) else [sort]):
            if isinstance(s, str):
                out.append((s, "desc" if s == "_score" else "asc"))
            else:
                f, o = next(iter(s.items()))
                out.append((f, o.get("order", "asc") if isinstance(o, dict) else o))
        return out

    def sort_key_values(self, ix, doc_id, raw, sort, query):
        flat = flatten_source(json.loads(raw))
        vals = []
        for f, order in sort:
            if f == "_doc":
                vals.append(ix.docs[doc_id][2])
                continue
            if f == "_score":
                vals.append(1.0)
                continue
            d, _ = query.field(ix, f)
            if d is not None and d.get("type") in ("text", "match_only_text"):
                raise EsError(400, "illegal_argument_exception",
                              "Text fields are not optimised for operations that require per-document field data "
                              "like aggregations and sorting, so these operations are disabled by default. Please "
                              "use a keyword field instead. Alternatively, set fielddata=true on [%s] in order to "
                              "load field data by uninverting the inverted index. Note that this can use significant "
                              "memory." % f)
            _, v = query.values(ix, flat, f)
            vals.append((min(v) if order == "asc" else max(v)) if v else None)
        return vals

    def sort_hits(self, hits, sort, query):
        keyed = [(self.sort_key_values(ix, i, raw, sort, query), (ix, i, raw)) for ix, i, raw in hits]
        for pos in reversed(range(len(sort))):
            desc = sort[pos][1] == "desc"
            present = [k for k in keyed if k[0][pos] is not None]
            missing = [k for k in keyed if k[0][pos] is None]
            present.sort(key=lambda k: k[0][pos], reverse=desc)
            keyed = present + missing  # missing values sort last either way
        return [h for _, h in keyed]

    def cat(self, what, expr):
        es = self.es
        with es.lock:
            if what == "health":
                st = self.health_info(None)
                cols = ["epoch", "timestamp", "cluster", "status", "node.total", "node.data", "shards", "pri",
                        "relo", "init", "unassign", "pending_tasks", "max_task_wait_time", "active_shards_percent"]
                now = time.time()
                rows = [[str(int(now)), time.strftime("%H:%M:%S", time.gmtime(now)), "fake-es", st["status"], "1",
                         "1", str(st["active_shards"]), str(st["active_primary_shards"]), "0", "0",
                         str(st["unassigned_shards"]), "0", "-", "%.1f%%" % st["active_shards_percent_as_number"]]]
            elif what == "count":
                names = es.resolve(expr)
                now = time.time()
                cols = ["epoch", "timestamp", "count"]
                rows = [[str(int(now)), time.strftime("%H:%M:%S", time.gmtime(now)),
                         str(sum(len(es.indices[n].docs) for n in names))]]
            elif what == "templates":
                cols = ["name", "index_patterns", "order", "version", "composed_of"]
                rows = [[n, "[" + ", ".join(t["index_patterns"]) + "]", str(t.get("priority", 0)),
                         str(t.get("version", "")), "[" + ", ".join(t.get("composed_of", [])) + "]"]
                        for n, t in sorted(es.templates.items())]
            else:
                cols = ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
                        "store.size", "pri.store.size"]
                rows = []
                for n in es.resolve(expr):
                    ix = es.indices[n]
                    size = self.params.get("bytes") == "b" and str(ix.bytes) or es.cat_human(ix.bytes)
                    rows.append([ix.health(), "open", n, ix.uuid, str(ix.shards), str(ix.replicas),
                                 str(len(ix.docs)), "0", size, size])
        h = self.params.get("h")
        if h:
            idx = [cols.index(c) for c in h.split(",") if c in cols]
            cols, rows = [cols[i] for i in idx], [[r[i] for i in idx] for r in rows]
        s = self.params.get("s")
        if s:
            key, _, order = s.partition(":")
            if key in cols:
                i = cols.index(key)
                rows.sort(key=lambda r: (int(r[i]) if r[i].isdigit() else r[i]), reverse=order == "desc")
        if self.params.get("format") == "json":
            return self.send(200, [dict(zip(cols, r)) for r in rows])
        table = ([cols] if self.params.get("v") in ("", "true") else []) + rows
        widths = [max(len(r[i]) for r in table) for i in range(len(cols))] if table else []
        text = "".join(" ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in table)
        self.send(200, text, ctype="text/plain; charset=UTF-8")

    def health_info(self, expr):
        es = self.es
        names = es.resolve(expr)
        pri = sum(es.indices[n].shards for n in names)
        unassigned = sum(es.indices[n].shards * es.indices[n].replicas for n in names)
        status = "yellow" if unassigned else "green"
        return {"cluster_name": "fake-es", "status": status, "timed_out": False, "number_of_nodes": 1,
                "number_of_data_nodes": 1, "active_primary_shards": pri, "active_shards": pri,
                "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": unassigned,
                "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
                "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0 * pri / (pri + unassigned) if pri + unassigned else 100.0}

    def cluster_health(self, expr):
        with self.es.lock:
            st = self.health_info(expr)
        want = self.params.get("wait_for_status")
        if want and {"green": 0, "yellow": 1, "red": 2}[st["status"]] > {"green": 0, "yellow": 1, "red": 2}[want]:
            st["timed_out"] = True  # answered at once: nothing would change while waiting
            return self.send(408, st)
        self.send(200, st)


def raise_406(msg):
    e = EsError(406, "", msg)
    e.body = lambda: {"error": msg, "status": 406}
    raise e


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="A fake Elasticsearch for tests (binds 127.0.0.1 only).")
    ap.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    ap.add_argument("--port-file", help="written (atomically) with the port once listening")
    ap.add_argument("--data", help="journal file: data survives restarts (and SIGKILL)")
    ap.add_argument("--version", help="version to claim (default 8.11.0; 2.11.0 for opensearch)")
    ap.add_argument("--flavour", choices=("elasticsearch", "opensearch"), default="elasticsearch")
    ap.add_argument("--opensearch-compat", choices=("distribution", "bare"),
                    help="OpenSearch's compatibility.override_main_response_version: GET / says 7.10.2, with "
                         "version.distribution (distribution) or without it (bare)")
    ap.add_argument("--faults", help="initial faults: a JSON object, or @FILE")
    ap.add_argument("--seed", type=int, default=1234, help="seed for fault decisions and generated ids")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
    ap.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    ap.add_argument("--tls-client-ca", metavar="FILE",
                    help="require a client certificate signed by one of these CAs (PEM)")
    ap.add_argument("--auth", metavar="USER:PASSWORD", help="security on: require basic authentication")
    ap.add_argument("--api-key", metavar="BASE64",
                    help="security on: accept 'Authorization: ApiKey BASE64' (base64 of id:key)")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key) or (args.tls_client_ca and not args.tls_cert):
        ap.error("--tls-cert and --tls-key go together; --tls-client-ca needs them")
    if args.auth is not None and ":" not in args.auth:
        ap.error("--auth takes USER:PASSWORD")
    if args.faults and args.faults.startswith("@"):
        with open(args.faults[1:], encoding="utf-8") as f:
            args.faults = f.read()
    try:
        es = FakeES(args)
    except EsError as e:
        sys.exit("fake_es: bad --faults: %s" % e.reason)
    Handler.es = es
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # as ES 8 by default
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED  # xpack.security.http.ssl.client_authentication: required
            ctx.load_verify_locations(args.tls_client_ca)
        # Accepted sockets inherit do_handshake_on_connect=False: see Handler.tls_handshake.
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    def stop(_sig, _frame):
        # shutdown() waits for serve_forever, which runs in this thread: ask from another one
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    with es.lock:  # let a bulk being journaled finish
        es.journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
