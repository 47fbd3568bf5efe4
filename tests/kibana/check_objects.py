#!/usr/bin/env python3
"""check_objects.py - the static check of the Kibana saved objects logferry
ships (packaging/kibana/*.ndjson) against the index templates the agent
installs, without a Kibana:

  - every data view is `<prefix>-*` for a default index prefix of the
    configuration schema (`logferry check --print-keys`), and that prefix's
    template (`logferry check --print-template PREFIX -c CONFIG`) matches
    exactly that pattern;
  - every *.pct and *.bytes field of a template has the percent or bytes
    format in the data view on it;
  - every field a data view formats, a Lens column aggregates, a query or
    filter names, or a saved search shows, is mapped in that template, with
    a type that fits: terms on keyword, average/max/... on numbers,
    date_histogram on a date, bytes/percent/duration formats on numbers,
    ranges in queries on numbers or dates;
  - Lens layers are whole (accessors, column order, references between
    columns, a date histogram under counter rates), dashboards' panels sit on
    the 48-column grid without overlapping;
  - every reference of every object points at an object of that type in
    the same file (each file is imported on its own), ids are unique across
    the files and well-formed, the public ids are there, and no object
    claims a newer version than Kibana 8.0.0 (older 8.x would refuse it);
  - the fields of Metricbeat's "[Metricbeat System] Host overview" panels
    (docs/KIBANA.md) are in the metrics template with a fitting type.

    check_objects.py --logferry build/logferry [--dir packaging/kibana]
                     [--config packaging/agent.yml]
    check_objects.py --self-test ...   # breaks copies on purpose: each must fail

Python 3 standard library only. Exit 0 when everything holds, 1 with one
line per problem otherwise.
"""

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys

GRID_COLUMNS = 48
COMPAT = (8, 0, 0)
PUBLIC_IDS = {
    "logferry-metrics": "index-pattern",
    "logferry-syslog": "index-pattern",
    "logferry-host-overview": "dashboard",
    "logferry-logs-overview": "dashboard",
}
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "ip", "boolean"}
# What each Lens operation may aggregate.
FITS = {
    "date_histogram": {"date"},
    "terms": {"keyword", "ip", "boolean", "long", "integer", "short", "byte"},
    "average": NUMERIC,
    "sum": NUMERIC,
    "median": NUMERIC,
    "percentile": NUMERIC,
    "standard_deviation": NUMERIC,
    "min": NUMERIC,
    "max": NUMERIC,
    "unique_count": AGGREGATABLE,
    "last_value": AGGREGATABLE,
    "count": AGGREGATABLE,
}
REFERENCE_OPS = {"counter_rate", "differences", "cumulative_sum", "moving_average"}
NEEDS_NUMBER = {"bytes", "percent", "duration", "number"}

# "[Metricbeat System] Host overview" (elastic/beats,
# metricbeat/module/system/_meta/kibana/7/dashboard/Metricbeat-host-overview.ndjson,
# id 79ffd6e0-faa0-11e6-947f-177f697178b8-ecs): its 21 data panels, with the
# fields each uses and how. docs/KIBANA.md lists the same.
HOST_OVERVIEW = [
    ("Network Traffic (Packets)", [("max", "system.network.in.packets"),
                                   ("max", "system.network.out.packets"),
                                   ("terms", "system.network.name")]),
    ("System Load", [("average", "system.load.1"), ("average", "system.load.5"),
                     ("average", "system.load.15")]),
    ("Network Traffic (Bytes)", [("max", "system.network.in.bytes"),
                                 ("max", "system.network.out.bytes"),
                                 ("terms", "system.network.name")]),
    ("Memory Usage", [("average", "system.memory.actual.used.bytes"),
                      ("average", "system.memory.used.bytes"),
                      ("average", "system.memory.free")]),
    ("Top Processes By CPU", [("average", "system.process.cpu.total.pct"),
                              ("terms", "process.name")]),
    ("Processes By Memory", [("average", "system.process.memory.rss.pct"),
                             ("terms", "process.name")]),
    ("CPU Usage", [("average", f"system.cpu.{s}.pct")
                   for s in ("user", "system", "nice", "irq", "softirq", "iowait")]),
    ("Disk IO (Bytes)", [("max", "system.diskio.read.bytes"), ("max", "system.diskio.write.bytes")]),
    ("Load Gauge", [("average", "system.load.5")]),
    ("CPU Usage Gauge", [("average", "system.cpu.user.pct"), ("average", "system.cpu.system.pct"),
                         ("average", "system.cpu.cores")]),
    ("Memory Usage Gauge", [("average", "system.memory.actual.used.pct")]),
    ("Inbound Traffic", [("max", "system.network.in.bytes"), ("terms", "system.network.name")]),
    ("Outbound Traffic", [("max", "system.network.out.bytes"), ("terms", "system.network.name")]),
    ("Disk Usage", [("last_value", "system.filesystem.used.pct"),
                    ("terms", "system.filesystem.mount_point")]),
    ("Swap usage", [("average", "system.memory.swap.used.pct")]),
    ("Memory usage vs total", [("average", "system.memory.actual.used.bytes"),
                               ("average", "system.memory.total")]),
    ("Disk used", [("last_value", "system.fsstat.total_size.used"),
                   ("last_value", "system.fsstat.total_size.total")]),
    ("Packetloss", [("max", "system.network.in.dropped"), ("max", "system.network.out.dropped")]),
    ("Interfaces by Incoming traffic", [("average", "system.network.in.bytes"),
                                        ("terms", "system.network.name")]),
    ("Interfaces by Outgoing traffic", [("average", "system.network.out.bytes"),
                                        ("terms", "system.network.name")]),
    ("Number of processes", [("unique_count", "process.pid")]),
]
HOST_OVERVIEW_QUERY_FIELDS = ["host.name"]  # its query: host.name:"<the host>"

# The attributes each type may carry: those Kibana 8.0 knows that are also in
# the attribute schemas of later Kibanas, which refuse unknown ones
# (dashboard: unknowns 'forbid'; search: schema.object).
ALLOWED_ATTRIBUTES = {
    "index-pattern": {"title", "name", "timeFieldName", "fields", "fieldAttrs", "sourceFilters",
                      "fieldFormatMap", "typeMeta", "runtimeFieldMap", "allowNoIndex"},
    "dashboard": {"title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom",
                  "timeTo", "refreshInterval", "panelsJSON", "optionsJSON", "hits", "version"},
    "search": {"title", "description", "columns", "sort", "grid", "hideChart",
               "kibanaSavedObjectMeta"},
    "lens": {"title", "description", "visualizationType", "state"},
}

KQL_FIELD = re.compile(r"(?<![\w.@\"'])([A-Za-z_@][\w.@]*)\s*(:|<=|>=|<|>)")


def version_tuple(v):
    try:
        return tuple(int(x) for x in v.split("."))
    except (AttributeError, ValueError):
        return None


class Checker:
    def __init__(self, templates, prefixes):
        self.templates = templates  # index pattern -> {field: type}
        self.prefixes = prefixes  # schema key -> default prefix
        self.problems = []
        self.uses = 0  # field uses looked at

    def bad(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    # -- fields ---------------------------------------------------------------
    def field(self, where, fields, name, allowed, why):
        self.uses += 1
        t = fields.get(name)
        if t is None:
            self.bad(where, f"field {name} ({why}) is not in the template")
        elif allowed is not None and t not in allowed:
            self.bad(where, f"field {name} is {t}, which {why} cannot use")
        return t

    def kql(self, where, fields, query):
        if not isinstance(query, str):
            self.bad(where, f"query is not a string: {query!r}")
            return
        if query.count("(") != query.count(")") or query.count('"') % 2:
            self.bad(where, f"unbalanced query: {query}")
        for name, op in KQL_FIELD.findall(query):
            allowed = NUMERIC | {"date"} if op in ("<", "<=", ">", ">=") else None
            self.field(where, fields, name, allowed, f"query '{op}'")

    # -- objects --------------------------------------------------------------
    def data_view(self, where, obj):
        a = obj["attributes"]
        title = a.get("title")
        fields = self.templates.get(title)
        if fields is None:
            self.bad(where, f"data view title {title!r} is no default index: want one of "
                     + ", ".join(sorted(self.templates)))
            return
        self.field(where, fields, a.get("timeFieldName"), {"date"}, "timeFieldName")
        try:
            formats = json.loads(a.get("fieldFormatMap", "{}"))
        except ValueError as e:
            self.bad(where, f"fieldFormatMap is not JSON: {e}")
            return
        for name, fmt in sorted(formats.items()):
            fid = fmt.get("id") if isinstance(fmt, dict) else None
            self.field(where, fields, name, NUMERIC if fid in NEEDS_NUMBER else None,
                       f"the {fid} format")
        # A mapped fraction or byte count without its format shows as a bare
        # number: new template fields need one here too.
        for name, t in sorted(fields.items()):
            want = "percent" if name.endswith(".pct") else "bytes" if name.endswith(".bytes") else None
            if want and t in NUMERIC and formats.get(name, {}).get("id") != want:
                self.bad(where, f"{name} ({t}) has no {want} format")

    def lens(self, where, obj, views):
        a = obj["attributes"]
        state = a.get("state", {})
        refs = {r["name"]: r for r in obj["references"]}
        layers = state.get("datasourceStates", {}).get("indexpattern", {}).get("layers", {})
        if not layers:
            self.bad(where, "no indexpattern layer")
        if "indexpattern-datasource-current-indexpattern" not in refs:
            self.bad(where, "no indexpattern-datasource-current-indexpattern reference")
        for lid, layer in layers.items():
            ref = refs.get(f"indexpattern-datasource-layer-{lid}")
            view = views.get(ref["id"]) if ref else None
            if view is None:
                self.bad(where, f"layer {lid} has no data view reference in the file")
                continue
            fields = self.templates.get(view["attributes"]["title"], {})
            self.kql(where, fields, state.get("query", {}).get("query", ""))
            self.layer(f"{where} layer {lid}", fields, layer)
        self.visualization(where, a.get("visualizationType"), state.get("visualization", {}), layers)

    def layer(self, where, fields, layer):
        cols = layer.get("columns", {})
        order = layer.get("columnOrder", [])
        if sorted(order) != sorted(cols):
            self.bad(where, f"columnOrder {order} is not the columns {sorted(cols)}")
        has_dates = any(c.get("operationType") == "date_histogram" for c in cols.values())
        for cid, col in sorted(cols.items()):
            w = f"{where} column {cid}"
            op = col.get("operationType")
            src = col.get("sourceField")
            if op in FITS:
                if op == "count" and src in ("Records", "___records___"):
                    pass
                else:
                    self.field(w, fields, src, FITS[op], op)
            elif op in REFERENCE_OPS:
                for r in col.get("references", []):
                    if r not in cols or cols[r].get("isBucketed"):
                        self.bad(w, f"{op} refers to {r}, no metric column of the layer")
                if not has_dates:
                    self.bad(w, f"{op} without a date_histogram in the layer")
            elif op == "filters":
                for f in col.get("params", {}).get("filters", []):
                    self.kql(w, fields, f.get("input", {}).get("query", ""))
            else:
                self.bad(w, f"operation {op!r} is not one this check knows")
            if "filter" in col:
                self.kql(w, fields, col["filter"].get("query", ""))
            order_by = col.get("params", {}).get("orderBy", {})
            if order_by.get("type") == "column":
                target = cols.get(order_by.get("columnId"))
                if not target or target.get("isBucketed"):
                    self.bad(w, f"ranked by {order_by.get('columnId')}, no metric column")
                elif target.get("operationType") in REFERENCE_OPS | {"last_value"}:
                    self.bad(w, "ranked by a column Elasticsearch cannot order terms by")
            fmt = col.get("params", {}).get("format", {}).get("id")
            if fmt and col.get("dataType") != "number":
                self.bad(w, f"{fmt} format on a {col.get('dataType')} column")

    def visualization(self, where, vtype, vis, layers):
        cols = {}
        for lid, layer in layers.items():
            cols.update({(lid, k): v for k, v in layer.get("columns", {}).items()})

        def need(lid, cid, bucketed, what):
            col = cols.get((lid, cid))
            if col is None:
                self.bad(where, f"{what} {cid} is not a column of layer {lid}")
            elif bool(col.get("isBucketed")) != bucketed:
                self.bad(where, f"{what} {cid} is {'not ' if bucketed else ''}a bucket column")
            return col

        if vtype == "lnsXY":
            for layer in vis.get("layers", []):
                lid = layer.get("layerId")
                if layer.get("layerType") != "data":
                    self.bad(where, f"layer {lid}: layerType {layer.get('layerType')!r}")
                x = need(lid, layer.get("xAccessor"), True, "xAccessor")
                if x and x.get("operationType") != "date_histogram":
                    self.bad(where, "x axis is not a date histogram")
                if not layer.get("accessors"):
                    self.bad(where, f"layer {lid} has no accessors")
                for acc in layer.get("accessors", []):
                    need(lid, acc, False, "accessor")
                if layer.get("splitAccessor"):
                    need(lid, layer["splitAccessor"], True, "splitAccessor")
                    order = layers.get(lid, {}).get("columnOrder", [])
                    if layer["splitAccessor"] in order and layer.get("xAccessor") in order and \
                            order.index(layer["splitAccessor"]) > order.index(layer["xAccessor"]):
                        self.bad(where, "the breakdown is inside the date histogram: its top "
                                 "values would change from one interval to the next")
        elif vtype == "lnsDatatable":
            lid = vis.get("layerId")
            shown = [c.get("columnId") for c in vis.get("columns", [])]
            if lid not in layers or sorted(shown) != sorted(layers[lid].get("columns", {})):
                self.bad(where, f"table columns {shown} are not the layer's")
            sort = vis.get("sorting", {}).get("columnId")
            if sort and sort not in shown:
                self.bad(where, f"sorted by {sort}, not a column")
        else:
            self.bad(where, f"visualizationType {vtype!r} is not lnsXY or lnsDatatable")

    def search(self, where, obj, views):
        a = obj["attributes"]
        try:
            source = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
        except (KeyError, ValueError) as e:
            self.bad(where, f"searchSourceJSON: {e}")
            return
        refs = {r["name"]: r for r in obj["references"]}
        ref = refs.get(source.get("indexRefName", ""))
        view = views.get(ref["id"]) if ref else None
        if view is None:
            self.bad(where, "its indexRefName names no data view reference in the file")
            return
        fields = self.templates.get(view["attributes"]["title"], {})
        self.kql(where, fields, source.get("query", {}).get("query", ""))
        for c in a.get("columns", []):
            self.field(where, fields, c, None, "a column")
        for s in a.get("sort", []):
            self.field(where, fields, s[0], {"date"} | NUMERIC | {"keyword"}, "sort")

    def dashboard(self, where, obj, by_id):
        a = obj["attributes"]
        try:
            panels = json.loads(a["panelsJSON"])
            json.loads(a["optionsJSON"])
            source = json.loads(a["kibanaSavedObjectMeta"]["searchSourceJSON"])
        except (KeyError, ValueError) as e:
            self.bad(where, f"{e}")
            return
        if source.get("query", {}).get("query") or source.get("filter"):
            self.bad(where, "a dashboard-wide query or filter would hide data (no data view to check it)")
        refs = {r["name"]: r for r in obj["references"]}
        used, cells, indexes = set(), {}, set()
        for p in panels:
            idx = p.get("panelIndex")
            g = p.get("gridData", {})
            w = f"{where} panel {idx}"
            if idx in indexes:
                self.bad(w, "panelIndex twice")
            indexes.add(idx)
            if g.get("i") != idx:
                self.bad(w, f"gridData.i {g.get('i')!r} is not its panelIndex")
            name = f"{idx}:{p.get('panelRefName')}"
            ref = refs.get(name)
            if ref is None:
                self.bad(w, f"no reference named {name}")
                continue
            used.add(name)
            if ref["type"] != p.get("type"):
                self.bad(w, f"panel type {p.get('type')} but reference type {ref['type']}")
            x, y, wd, h = g.get("x", -1), g.get("y", -1), g.get("w", 0), g.get("h", 0)
            if x < 0 or y < 0 or wd <= 0 or h <= 0 or x + wd > GRID_COLUMNS:
                self.bad(w, f"gridData {g} is off the {GRID_COLUMNS}-column grid")
                continue
            for cx in range(x, x + wd):
                for cy in range(y, y + h):
                    if (cx, cy) in cells:
                        self.bad(w, f"overlaps panel {cells[(cx, cy)]}")
                        break
                    cells[(cx, cy)] = idx
                else:
                    continue
                break
        for name in sorted(set(refs) - used):
            self.bad(where, f"reference {name} belongs to no panel")

    # -- files ----------------------------------------------------------------
    def check_files(self, files):
        """files: {name: [objects]}."""
        seen = {}
        for fname, objs in sorted(files.items()):
            by_id = {}
            for n, obj in enumerate(objs, 1):
                where = f"{fname}:{n}"
                for key in ("id", "type", "attributes", "references"):
                    if key not in obj:
                        self.bad(where, f"no {key}")
                if any(k not in obj for k in ("id", "type", "attributes", "references")):
                    continue
                oid, otype = obj["id"], obj["type"]
                where = f"{fname}:{n} {otype} {oid}"
                if not ID_RE.match(oid):
                    self.bad(where, "id is not lower-case letters, digits and dashes")
                if oid in seen:
                    self.bad(where, f"id also in {seen[oid]}")
                seen[oid] = where
                by_id[oid] = obj
                for ver in (obj.get("coreMigrationVersion"), obj.get("migrationVersion", {}).get(otype)):
                    t = version_tuple(ver)
                    if t is None or t > COMPAT:
                        self.bad(where, f"version {ver!r}: want one no newer than "
                                 + ".".join(map(str, COMPAT)) + " so that every 8.x imports it")
                extra = set(obj["attributes"]) - ALLOWED_ATTRIBUTES.get(otype, set())
                if extra:
                    self.bad(where, f"attributes {sorted(extra)} are not ones every Kibana 8.x and 9.x "
                             "takes for a " + otype)
                if "typeMigrationVersion" in obj:
                    self.bad(where, "typeMigrationVersion is unknown before Kibana 8.8")
            for oid, obj in by_id.items():
                where = f"{fname} {obj['type']} {oid}"
                for r in obj["references"]:
                    target = by_id.get(r.get("id"))
                    if target is None or target["type"] != r.get("type"):
                        self.bad(where, f"reference {r.get('name')} -> {r.get('type')} {r.get('id')}"
                                 " is not an object of this file")
            views = {i: o for i, o in by_id.items() if o["type"] == "index-pattern"}
            for oid, obj in by_id.items():
                where = f"{fname} {obj['type']} {oid}"
                t = obj["type"]
                if t == "index-pattern":
                    self.data_view(where, obj)
                elif t == "lens":
                    self.lens(where, obj, views)
                elif t == "search":
                    self.search(where, obj, views)
                elif t == "dashboard":
                    self.dashboard(where, obj, by_id)
                else:
                    self.bad(where, f"type {t} is not one logferry ships")
        for oid, otype in PUBLIC_IDS.items():
            got = seen.get(oid)
            if got is None or f" {otype} " not in got:
                self.bad("packaging/kibana", f"public id {oid} ({otype}) is gone; docs and links use it")
        titles = {o["attributes"].get("title") for objs in files.values() for o in objs
                  if o.get("type") == "index-pattern"}
        for key, prefix in sorted(self.prefixes.items()):
            if f"{prefix}-*" not in titles:
                self.bad("packaging/kibana", f"no data view for {key}'s default index {prefix}-*")

    def host_overview(self, metrics_pattern):
        fields = self.templates.get(metrics_pattern, {})
        for panel, uses in HOST_OVERVIEW:
            for op, name in uses:
                self.field(f"Metricbeat Host overview '{panel}'", fields, name, FITS[op], op)
        for name in HOST_OVERVIEW_QUERY_FIELDS:
            self.field("Metricbeat Host overview query", fields, name, {"keyword"}, "its query")


# ---- inputs -------------------------------------------------------------------

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[:500]}")
    return p.stdout


def schema_defaults(logferry):
    """Default index prefixes and pattern from the key reference table."""
    want = ("inputs.metrics.index", "inputs.files[].index", "inputs.omprog.index",
            "output.elasticsearch.index")
    found = {}
    for line in run([logferry, "check", "--print-keys"]).splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 4 and cells[1].strip("`") in want:
            found[cells[1].strip("`")] = cells[3].strip("`'")
    missing = [k for k in want if k not in found]
    if missing:
        sys.exit(f"--print-keys has no default for {', '.join(missing)}")
    return found


def template_fields(logferry, config, prefix):
    t = json.loads(run([logferry, "check", "--print-template", prefix, "-c", config]))
    fields = {}

    def walk(props, path):
        for k, v in props.items():
            if "properties" in v:
                walk(v["properties"], path + k + ".")
            else:
                fields[path + k] = v.get("type")

    walk(t["template"]["mappings"]["properties"], "")
    return t["index_patterns"], fields


def load_files(directory):
    files = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.ndjson"))):
        objs = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    objs.append(json.loads(line))
                except ValueError as e:
                    sys.exit(f"{path}:{n}: not JSON: {e}")
        files[os.path.basename(path)] = objs
    if not files:
        sys.exit(f"no .ndjson files in {directory}")
    return files


def build_checker(args):
    defaults = schema_defaults(args.logferry)
    pattern = defaults.pop("output.elasticsearch.index")
    if pattern != "%{prefix}-%{+YYYY.MM.dd}":
        sys.exit(f"the default index pattern is {pattern}; the data views assume <prefix>-*")
    templates = {}
    for key, prefix in defaults.items():
        patterns, fields = template_fields(args.logferry, args.config, prefix)
        if patterns != [f"{prefix}-*"]:
            sys.exit(f"the template for {prefix} matches {patterns}, not {prefix}-*")
        templates[f"{prefix}-*"] = fields
    return Checker(templates, defaults), f"{defaults['inputs.metrics.index']}-*"


# ---- self-test: each broken copy must be caught ------------------------------

def find(files, oid):
    for objs in files.values():
        for o in objs:
            if o["id"] == oid:
                return o
    raise KeyError(oid)


def lens_layer(obj):
    return next(iter(obj["attributes"]["state"]["datasourceStates"]["indexpattern"]["layers"].values()))


def breakages():
    def text_terms(files):
        col = lens_layer(find(files, "logferry-logs-by-program"))["columns"]["program"]
        col["sourceField"] = "message"

    def unknown_metric(files):
        lens_layer(find(files, "logferry-host-load"))["columns"]["l1"]["sourceField"] = "system.load.2"

    def avg_keyword(files):
        lens_layer(find(files, "logferry-host-load"))["columns"]["l1"]["sourceField"] = "host.name"

    def date_on_keyword(files):
        lens_layer(find(files, "logferry-host-cpu"))["columns"]["time"]["sourceField"] = "host.name"

    def dangling_panel(files):
        find(files, "logferry-host-overview")["references"][0]["id"] = "logferry-nothing"

    def cross_file(files):
        find(files, "logferry-logs-overview")["references"][0]["id"] = "logferry-host-load"
        find(files, "logferry-logs-overview")["references"][0]["type"] = "lens"

    def newer_version(files):
        find(files, "logferry-host-cpu")["migrationVersion"]["lens"] = "8.9.0"

    def duplicate_id(files):
        find(files, "logferry-logs-errors")["id"] = "logferry-host-cpu"

    def query_field(files):
        s = find(files, "logferry-logs-errors")["attributes"]["kibanaSavedObjectMeta"]
        source = json.loads(s["searchSourceJSON"])
        source["query"]["query"] = "log.syslog.severity.codes <= 3"
        s["searchSourceJSON"] = json.dumps(source)

    def range_on_keyword(files):
        find(files, "logferry-host-load")["attributes"]["state"]["query"]["query"] = "host.name > 3"

    def percent_on_keyword(files):
        a = find(files, "logferry-metrics")["attributes"]
        fm = json.loads(a["fieldFormatMap"])
        fm["host.name"] = {"id": "percent"}
        a["fieldFormatMap"] = json.dumps(fm)

    def unformatted(files):
        a = find(files, "logferry-metrics")["attributes"]
        fm = json.loads(a["fieldFormatMap"])
        del fm["system.memory.swap.used.pct"]
        a["fieldFormatMap"] = json.dumps(fm)

    def split_inside(files):
        layer = lens_layer(find(files, "logferry-logs-by-host"))
        layer["columnOrder"] = sorted(layer["columnOrder"], key=lambda c: c != "time")

    def unknown_attribute(files):
        find(files, "logferry-host-overview")["attributes"]["panels"] = []

    def wrong_index(files):
        find(files, "logferry-syslog")["attributes"]["title"] = "logs-*"

    def overlap(files):
        d = find(files, "logferry-host-overview")["attributes"]
        panels = json.loads(d["panelsJSON"])
        panels[1]["gridData"]["y"] = panels[0]["gridData"]["y"]
        d["panelsJSON"] = json.dumps(panels)

    def public_id(files):
        find(files, "logferry-logs-overview")["id"] = "logferry-logs"

    def missing_accessor(files):
        vis = find(files, "logferry-host-swap")["attributes"]["state"]["visualization"]
        vis["layers"][0]["accessors"] = ["nothing"]

    fns = dict(locals())
    return [fns[name] for name in sorted(fns)]


def self_test(args):
    checker, metrics = build_checker(args)
    pristine = load_files(args.dir)
    checker.check_files(pristine)
    if checker.problems:
        print("the shipped objects fail already:", *checker.problems, sep="\n  ")
        return 1
    missed = 0
    for breakage in breakages():
        files = copy.deepcopy(pristine)
        breakage(files)
        checker.problems = []
        checker.check_files(files)
        if checker.problems:
            print(f"ok   {breakage.__name__}: {checker.problems[0]}")
        else:
            print(f"FAIL {breakage.__name__}: not detected")
            missed += 1
    print(f"{missed} breakages not detected")
    return 1 if missed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--logferry", required=True, help="the logferry binary")
    ap.add_argument("--dir", default=os.path.join(root, "packaging", "kibana"))
    ap.add_argument("--config", default=os.path.join(root, "packaging", "agent.yml"),
                    help="the configuration whose grammars shape the templates")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args)
    checker, metrics = build_checker(args)
    files = load_files(args.dir)
    checker.check_files(files)
    checker.host_overview(metrics)
    for p in checker.problems:
        print(p)
    n = sum(len(o) for o in files.values())
    print(f"{n} objects in {len(files)} files, {checker.uses} field uses against the templates for "
          f"{', '.join(sorted(checker.templates))}: {len(checker.problems)} problems")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
