#!/usr/bin/env python3
"""gen_kibana.py - writes the Kibana saved objects logferry ships
(packaging/kibana/*.ndjson) from the compact description in this file.

    packaging/kibana/gen_kibana.py            # rewrite the .ndjson files
    packaging/kibana/gen_kibana.py --check    # exit 1 if they differ

Edit the description (DATA_VIEWS, FORMATS, METRICS_FILE, LOGS_FILE), run the
generator, commit both; the test kibana.generated fails when the committed
files are not what the generator writes, and tests/kibana/check_objects.py
checks every field against the index templates logferry installs.

Why the objects look the way they do (docs/KIBANA.md says more):

- Each file is one import, `POST /api/saved_objects/_import`, and holds
  everything its dashboard refers to (its data view included), so the files
  can be imported in any order, alone or together.
- Objects are written as Kibana 8.0.0 exports them (migrationVersion and
  coreMigrationVersion 8.0.0, Lens state with the "indexpattern" datasource
  and "Records" for count). Kibana refuses objects from a newer version than
  itself and migrates older ones on import, so the oldest form is the one
  every 8.x and 9.x takes: each brings them to its own form with its own
  migrations.
- Panels are Lens visualizations by reference (`lnsXY`, `lnsDatatable`) and
  one saved search: no TSVB (its index string would not follow the data
  view) and no by-value panels (their embedded state changes between minors).
- Ids are fixed, readable strings: dashboards are linked by id
  (/app/dashboards#/view/<id>), and importing again with overwrite replaces
  the same objects instead of adding copies.

Python 3 standard library only; the output is byte-for-byte the same on every
run (sorted keys, no timestamps).
"""

import argparse
import difflib
import json
import os
import sys

COMPAT = "8.0.0"  # the Kibana version whose export format we write
HERE = os.path.dirname(os.path.abspath(__file__))


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# ---- data views -------------------------------------------------------------

# Field formats the data views carry, so that Discover, Lens and the
# dashboards show 9.67 % and 1.2 GB instead of 0.0967 and 1234567890.
PCT = {"id": "percent", "params": {"pattern": "0.[00]%"}}
BYTES = {"id": "bytes"}
MS = {
    "id": "duration",
    "params": {"inputFormat": "milliseconds", "outputFormat": "humanizePrecise", "outputPrecision": 1},
}
NS = {
    "id": "duration",
    "params": {"inputFormat": "nanoseconds", "outputFormat": "asMilliseconds", "outputPrecision": 2},
}
SECONDS = {
    "id": "duration",
    "params": {"inputFormat": "seconds", "outputFormat": "humanizePrecise", "outputPrecision": 2},
}

CPU_STATES = ("total", "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

# What the agent sends (agent/sampler.c, agent/sysmetrics.c, agent/in_metrics.c).
METRIC_FORMATS = {
    **{f"system.cpu.{s}.pct": PCT for s in CPU_STATES},
    **{f"system.cpu.{s}.norm.pct": PCT for s in CPU_STATES},
    **{
        f"system.memory.{f}": BYTES
        for f in (
            "total",
            "free",
            "cached",
            "used.bytes",
            "actual.free",
            "actual.used.bytes",
            "swap.total",
            "swap.free",
            "swap.used.bytes",
            "hugepages.default_size",
            "hugepages.used.bytes",
        )
    },
    "system.memory.used.pct": PCT,
    "system.memory.actual.used.pct": PCT,
    "system.memory.swap.used.pct": PCT,
    "system.memory.hugepages.used.pct": PCT,
    "system.network.in.bytes": BYTES,
    "system.network.out.bytes": BYTES,
    "system.diskio.read.bytes": BYTES,
    "system.diskio.write.bytes": BYTES,
    "system.diskio.read.time": MS,
    "system.diskio.write.time": MS,
    "system.diskio.io.time": MS,
    **{f"system.filesystem.{f}": BYTES for f in ("total", "free", "available", "used.bytes")},
    "system.filesystem.used.pct": PCT,
    **{f"system.fsstat.total_size.{f}": BYTES for f in ("free", "used", "total")},
    "system.uptime.duration.ms": MS,
    "process.cpu.pct": PCT,
    "process.memory.pct": PCT,
    "system.process.cpu.total.pct": PCT,
    "system.process.cpu.total.norm.pct": PCT,
    "system.process.cpu.total.value": MS,
    "system.process.memory.size": BYTES,
    "system.process.memory.rss.bytes": BYTES,
    "system.process.memory.rss.pct": PCT,
    "system.process.memory.share": BYTES,
    "event.duration": NS,
    "metricset.period": MS,
}

# Typed fields of the shipped grammars (grammars/*.grok) that are sizes or
# durations.
LOG_FORMATS = {
    "http.response.body.bytes": BYTES,
    "haproxy.bytes_read": BYTES,
    "postfix.size": BYTES,
    "postfix.delay": SECONDS,
    **{f"postfix.delays.{f}": SECONDS for f in ("before_qmgr", "in_qmgr", "conn_setup", "transmission")},
    **{f"haproxy.time.{f}": MS for f in ("queue", "connect", "request", "response", "active", "total")},
}

# Every index template logferry installs maps all of these (the agent's own
# fields and the grammars' in use, whatever the prefix), so both data views
# carry them all.
FORMATS = {**METRIC_FORMATS, **LOG_FORMATS}

# id -> (index pattern, display name). The patterns are the default daily
# indices: inputs.metrics.index `metrics` and inputs.files[] / inputs.omprog
# index `syslog`, named <prefix>-YYYY.MM.dd.
DATA_VIEWS = {
    "logferry-metrics": ("metrics-*", "logferry metrics"),
    "logferry-syslog": ("syslog-*", "logferry syslog"),
}


def data_view(view_id):
    title, name = DATA_VIEWS[view_id]
    return {
        "attributes": {
            "fieldAttrs": "{}",
            "fieldFormatMap": dumps(FORMATS),
            "fields": "[]",
            "name": name,
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
            "timeFieldName": "@timestamp",
            "title": title,
            "typeMeta": "{}",
        },
        "coreMigrationVersion": COMPAT,
        "id": view_id,
        "migrationVersion": {"index-pattern": COMPAT},
        "references": [],
        "type": "index-pattern",
    }


# ---- Lens columns ------------------------------------------------------------
# A column is (key, definition); keys become column ids "<key>" in the layer.


def fmt_params(fmt):
    if fmt is None:
        return {}
    return {"format": {"id": fmt, "params": {"decimals": 1 if fmt != "number" else 2}}}


def date_histogram():
    return {
        "dataType": "date",
        "isBucketed": True,
        "label": "@timestamp",
        "operationType": "date_histogram",
        "params": {"interval": "auto"},
        "scale": "interval",
        "sourceField": "@timestamp",
    }


def terms(field, size, order_by=None, label=None):
    """Top values of a keyword field, ranked by column order_by (a key) or
    alphabetically."""
    order = {"type": "column", "columnId": order_by} if order_by else {"type": "alphabetical"}
    col = {
        "dataType": "string",
        "isBucketed": True,
        "label": label or f"Top {size} values of {field}",
        "operationType": "terms",
        "params": {
            "missingBucket": False,
            "orderBy": order,
            "orderDirection": "desc" if order_by else "asc",
            "otherBucket": False,
            "size": size,
        },
        "scale": "ordinal",
        "sourceField": field,
    }
    if label:
        col["customLabel"] = True
    return col


def metric(op, field, label, fmt=None, dtype="number"):
    """average, max, min, sum, unique_count or last_value of a field (dtype
    "string" for the last value of a keyword)."""
    params = fmt_params(fmt)
    if op == "last_value":
        params["sortField"] = "@timestamp"
    col = {
        "customLabel": True,
        "dataType": dtype,
        "isBucketed": False,
        "label": label,
        "operationType": op,
        "scale": "ordinal" if dtype == "string" else "ratio",
        "sourceField": field,
    }
    if params:
        col["params"] = params
    return col


def count(label):
    # "Records" is 8.0's name for "every document"; 8.1's migration renames it.
    return {
        "customLabel": True,
        "dataType": "number",
        "isBucketed": False,
        "label": label,
        "operationType": "count",
        "scale": "ratio",
        "sourceField": "Records",
    }


def counter_rate(of_key, label, fmt=None):
    """Per-second rate of a cumulative counter (the max column of_key):
    Metricbeat's network and diskio counters count since boot."""
    col = {
        "customLabel": True,
        "dataType": "number",
        "isBucketed": False,
        "label": label,
        "operationType": "counter_rate",
        "references": [of_key],
        "scale": "ratio",
        "timeScale": "s",
    }
    if fmt:
        col["params"] = fmt_params(fmt)
    return col


def filters(label, items):
    return {
        "customLabel": True,
        "dataType": "string",
        "isBucketed": True,
        "label": label,
        "operationType": "filters",
        "params": {
            "filters": [{"input": {"language": "kuery", "query": q}, "label": l} for l, q in items]
        },
        "scale": "ordinal",
    }


# ---- Lens visualizations -----------------------------------------------------

LAYER = "layer1"


def lens(vis_id, title, view_id, columns, visualization, vis_type, query="", description=""):
    """A Lens saved object with one layer. columns: list of (key, column),
    bucketed ones first, columns other columns refer to before them."""
    order = [k for k, c in columns if c["isBucketed"]] + [k for k, c in columns if not c["isBucketed"]]
    return {
        "attributes": {
            "description": description,
            "state": {
                "datasourceStates": {
                    "indexpattern": {
                        "layers": {
                            LAYER: {
                                "columnOrder": order,
                                "columns": dict(columns),
                                "incompleteColumns": {},
                            }
                        }
                    }
                },
                "filters": [],
                "query": {"language": "kuery", "query": query},
                "visualization": visualization,
            },
            "title": title,
            "visualizationType": vis_type,
        },
        "coreMigrationVersion": COMPAT,
        "id": vis_id,
        "migrationVersion": {"lens": COMPAT},
        "references": [
            {"id": view_id, "name": "indexpattern-datasource-current-indexpattern", "type": "index-pattern"},
            {"id": view_id, "name": f"indexpattern-datasource-layer-{LAYER}", "type": "index-pattern"},
        ],
        "type": "lens",
    }


def xy(vis_id, title, view_id, series, ys, split=None, helpers=(), query="", description=""):
    """A time chart: x is @timestamp, ys are (key, column) drawn as series
    (line, area, bar_stacked, bar_percentage_stacked...), split an optional
    (key, column) breakdown, helpers columns that ys refer to."""
    # The breakdown goes first (the outer aggregation), so that its top
    # values are those of the whole time range, not of each interval.
    columns = ([split] if split else []) + [("time", date_histogram())]
    columns += list(helpers) + list(ys)
    layer = {
        "accessors": [k for k, _ in ys],
        "layerId": LAYER,
        "layerType": "data",
        "seriesType": series,
        "xAccessor": "time",
    }
    if split:
        layer["splitAccessor"] = split[0]
    visualization = {
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": False, "yRight": False},
        "fittingFunction": "None",
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "layers": [layer],
        "legend": {"isVisible": True, "position": "right"},
        "preferredSeriesType": series,
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "valueLabels": "hide",
    }
    return lens(vis_id, title, view_id, columns, visualization, "lnsXY", query, description)


def table(vis_id, title, view_id, rows, values, sort_by=None, query="", description=""):
    """A table: rows are (key, terms column), values (key, metric column)."""
    columns = list(rows) + list(values)
    visualization = {
        "columns": [{"columnId": k, "isTransposed": False} for k, _ in columns],
        "layerId": LAYER,
        "layerType": "data",
    }
    if sort_by:
        visualization["sorting"] = {"columnId": sort_by, "direction": "desc"}
    return lens(vis_id, title, view_id, columns, visualization, "lnsDatatable", query, description)


# ---- saved search and dashboards --------------------------------------------


def search(search_id, title, view_id, query, columns, description=""):
    source = {
        "filter": [],
        "highlightAll": True,
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
        "query": {"language": "kuery", "query": query},
        "version": True,
    }
    return {
        "attributes": {
            "columns": columns,
            "description": description,
            "grid": {},
            "hideChart": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(source)},
            "sort": [["@timestamp", "desc"]],
            "title": title,
        },
        "coreMigrationVersion": COMPAT,
        "id": search_id,
        "migrationVersion": {"search": COMPAT},
        "references": [
            {
                "id": view_id,
                "name": "kibanaSavedObjectMeta.searchSourceJSON.index",
                "type": "index-pattern",
            }
        ],
        "type": "search",
    }


def dashboard(dash_id, title, description, layout, objects):
    """layout: rows of (object id, width, height); widths of a row add up to
    at most 48, Kibana's grid."""
    by_id = {o["id"]: o for o in objects}
    panels, refs, y = [], [], 0
    for row in layout:
        x = 0
        for obj_id, w, h in row:
            index = f"p{len(panels) + 1}"
            ref = f"panel_{index}"
            kind = by_id[obj_id]["type"]
            panels.append(
                {
                    "embeddableConfig": {"enhancements": {}},
                    "gridData": {"h": h, "i": index, "w": w, "x": x, "y": y},
                    "panelIndex": index,
                    "panelRefName": ref,
                    "type": kind,
                    "version": COMPAT,
                }
            )
            refs.append({"id": obj_id, "name": f"{index}:{ref}", "type": kind})
            x += w
        y += max(h for _, _, h in row)
    source = {"filter": [], "query": {"language": "kuery", "query": ""}}
    return {
        "attributes": {
            "description": description,
            "kibanaSavedObjectMeta": {"searchSourceJSON": dumps(source)},
            "optionsJSON": dumps({"hidePanelTitles": False, "syncColors": False, "useMargins": True}),
            "panelsJSON": dumps(panels),
            "refreshInterval": {"pause": False, "value": 60000},
            "timeFrom": "now-24h",
            "timeRestore": True,
            "timeTo": "now",
            "title": title,
            "version": 1,
        },
        "coreMigrationVersion": COMPAT,
        "id": dash_id,
        "migrationVersion": {"dashboard": COMPAT},
        "references": refs,
        "type": "dashboard",
    }


# ---- the host dashboard (metrics-*) -------------------------------------------

M = "logferry-metrics"
NET = "event.dataset: system.network and not system.network.name: lo"


def host_objects():
    cpu_states = ("user", "system", "nice", "iowait", "irq", "softirq", "steal")
    objs = [
        table(
            "logferry-host-summary",
            "[logferry] Hosts",
            M,
            rows=[("host", terms("host.name", 50, order_by="cpu", label="Host"))],
            values=[
                ("uptime", metric("last_value", "system.uptime.duration.ms", "Uptime")),
                ("load5", metric("last_value", "system.load.5", "Load 5 min", "number")),
                ("cpu", metric("average", "system.cpu.total.norm.pct", "CPU", "percent")),
                ("mem", metric("average", "system.memory.actual.used.pct", "Memory", "percent")),
                ("swap", metric("average", "system.memory.swap.used.pct", "Swap", "percent")),
                ("disk", metric("max", "system.filesystem.used.pct", "Fullest file system", "percent")),
            ],
            sort_by="cpu",
            description="One row per host: the latest uptime and 5-minute load, CPU, memory and "
            "swap used over the time range, the fullest file system.",
        ),
        xy(
            "logferry-host-load",
            "[logferry] Load average",
            M,
            "line",
            ys=[
                ("l1", metric("average", "system.load.1", "1 min", "number")),
                ("l5", metric("average", "system.load.5", "5 min", "number")),
                ("l15", metric("average", "system.load.15", "15 min", "number")),
            ],
            query="event.dataset: system.load",
        ),
        xy(
            "logferry-host-cpu",
            "[logferry] CPU used per host",
            M,
            "line",
            ys=[("cpu", metric("average", "system.cpu.total.norm.pct", "CPU used", "percent"))],
            split=("host", terms("host.name", 10, order_by="cpu")),
            query="event.dataset: system.cpu",
            description="system.cpu.total.norm.pct: the share of all cores that was busy.",
        ),
        xy(
            "logferry-host-cpu-states",
            "[logferry] CPU time by state",
            M,
            "area_stacked",
            ys=[
                (s, metric("average", f"system.cpu.{s}.norm.pct", s, "percent"))
                for s in cpu_states
            ],
            query="event.dataset: system.cpu",
        ),
        xy(
            "logferry-host-memory",
            "[logferry] Memory used per host",
            M,
            "line",
            ys=[("mem", metric("average", "system.memory.actual.used.pct", "Memory used", "percent"))],
            split=("host", terms("host.name", 10, order_by="mem")),
            query="event.dataset: system.memory",
            description="system.memory.actual.used.pct: used without buffers and page cache.",
        ),
        xy(
            "logferry-host-swap",
            "[logferry] Swap used per host",
            M,
            "line",
            ys=[("swap", metric("average", "system.memory.swap.used.pct", "Swap used", "percent"))],
            split=("host", terms("host.name", 10, order_by="swap")),
            query="event.dataset: system.memory",
        ),
    ]
    for direction, verb in (("in", "received"), ("out", "sent")):
        objs.append(
            xy(
                f"logferry-host-network-{direction}",
                f"[logferry] Network {verb} per interface",
                M,
                "line",
                ys=[("rate", counter_rate("max", f"Bytes {verb}/s", "bytes"))],
                helpers=[("max", metric("max", f"system.network.{direction}.bytes", "Counter"))],
                split=("nic", terms("system.network.name", 10)),
                query=NET,
                description="Rate of the interface's byte counter; filter on one host "
                "(host.name) to read it per host.",
            )
        )
    for direction, verb in (("read", "read"), ("write", "written")):
        objs.append(
            xy(
                f"logferry-host-diskio-{direction}",
                f"[logferry] Disk bytes {verb} per device",
                M,
                "line",
                ys=[("rate", counter_rate("max", f"Bytes {verb}/s", "bytes"))],
                helpers=[("max", metric("max", f"system.diskio.{direction}.bytes", "Counter"))],
                split=("dev", terms("system.diskio.name", 10)),
                query="event.dataset: system.diskio",
                description="Rate of the device's byte counter; filter on one host "
                "(host.name) to read it per host.",
            )
        )
    objs += [
        table(
            "logferry-host-filesystems",
            "[logferry] File system use per host",
            M,
            rows=[
                ("host", terms("host.name", 20, order_by="peak", label="Host")),
                ("mount", terms("system.filesystem.mount_point", 10, order_by="peak", label="Mount point")),
            ],
            values=[
                # Elasticsearch cannot rank terms by a last value (top_hits).
                ("peak", metric("max", "system.filesystem.used.pct", "Used (peak)", "percent")),
                ("used", metric("last_value", "system.filesystem.used.pct", "Used (now)", "percent")),
                ("avail", metric("last_value", "system.filesystem.available", "Available", "bytes")),
                ("total", metric("last_value", "system.filesystem.total", "Size", "bytes")),
                ("type", metric("last_value", "system.filesystem.type", "Type", dtype="string")),
            ],
            sort_by="peak",
            query="event.dataset: system.filesystem",
        ),
        table(
            "logferry-host-top-cpu",
            "[logferry] Top processes by CPU",
            M,
            rows=[
                ("host", terms("host.name", 10, order_by="cpu", label="Host")),
                ("proc", terms("process.name", 5, order_by="cpu", label="Process")),
            ],
            values=[
                ("cpu", metric("max", "system.process.cpu.total.norm.pct", "CPU (peak)", "percent")),
                ("rss", metric("max", "system.process.memory.rss.bytes", "Memory (peak RSS)", "bytes")),
            ],
            sort_by="cpu",
            query="event.dataset: system.process",
            description="The agent reports the top_processes busiest and largest processes "
            "of each sample.",
        ),
        table(
            "logferry-host-top-memory",
            "[logferry] Top processes by memory",
            M,
            rows=[
                ("host", terms("host.name", 10, order_by="rss", label="Host")),
                ("proc", terms("process.name", 5, order_by="rss", label="Process")),
            ],
            values=[
                ("rss", metric("max", "system.process.memory.rss.bytes", "Memory (peak RSS)", "bytes")),
                ("pct", metric("max", "system.process.memory.rss.pct", "Share of RAM", "percent")),
                ("cpu", metric("max", "system.process.cpu.total.norm.pct", "CPU (peak)", "percent")),
            ],
            sort_by="rss",
            query="event.dataset: system.process",
        ),
    ]
    layout = [
        [("logferry-host-summary", 48, 12)],
        [("logferry-host-load", 24, 12), ("logferry-host-cpu", 24, 12)],
        [("logferry-host-cpu-states", 24, 12), ("logferry-host-memory", 24, 12)],
        [("logferry-host-swap", 24, 12), ("logferry-host-filesystems", 24, 12)],
        [("logferry-host-network-in", 24, 12), ("logferry-host-network-out", 24, 12)],
        [("logferry-host-diskio-read", 24, 12), ("logferry-host-diskio-write", 24, 12)],
        [("logferry-host-top-cpu", 24, 14), ("logferry-host-top-memory", 24, 14)],
    ]
    dash = dashboard(
        "logferry-host-overview",
        "[logferry] Host overview",
        "System metrics from logferry agents (inputs.metrics, index metrics-*): load, CPU, "
        "memory, swap, network, disk I/O, file systems and top processes. Type host.name: NAME "
        "in the query bar for one host; the network and disk rates are per interface and device, "
        "so read them one host at a time.",
        layout,
        objs,
    )
    return [data_view(M)] + objs + [dash]


# ---- the logs dashboard (syslog-*) --------------------------------------------

S = "logferry-syslog"
FAILED = "_grokparsefailure"
SSHD_FAILURE = "process.name: sshd and system.auth.ssh.event: (Failed or Invalid)"
ERRORS = (
    "log.syslog.severity.code <= 3 or log.level: (error or err or crit or critical or alert "
    "or emerg or fatal) or message: (error or fatal or panic or segfault)"
)


def logs_objects():
    # Log lines name their host in host.hostname (the syslog header, or
    # rsyslog's property through omprog): with a central rsyslog host.name is
    # the aggregator's agent for every line.
    objs = []
    for key, field, what in (
        ("host", "host.hostname", "host"),
        ("program", "process.name", "program"),
        ("dataset", "event.dataset", "dataset"),
    ):
        objs.append(
            xy(
                f"logferry-logs-by-{key}",
                f"[logferry] Log lines per {what}",
                S,
                "bar_stacked",
                ys=[("lines", count("Lines"))],
                split=(key, terms(field, 10, order_by="lines")),
            )
        )
    objs += [
        xy(
            "logferry-logs-grok-failure-share",
            "[logferry] Grok failure rate",
            S,
            "bar_percentage_stacked",
            ys=[("lines", count("Lines"))],
            split=(
                "outcome",
                filters("Parsed", [("parsed", f"not tags: {FAILED}"), (FAILED, f"tags: {FAILED}")]),
            ),
            description="Share of lines no expression of the grammar matched (tagged "
            "_grokparsefailure).",
        ),
        table(
            "logferry-logs-grok-failures",
            "[logferry] Programs whose lines fail grok",
            S,
            rows=[
                ("program", terms("process.name", 10, order_by="lines", label="Program")),
                ("dataset", terms("event.dataset", 3, order_by="lines", label="Dataset")),
            ],
            # Lines no header matched have no host.hostname: count agents.
            values=[("lines", count("Unparsed lines")), ("agents", metric("unique_count", "host.name", "Agents"))],
            sort_by="lines",
            query=f"tags: {FAILED}",
        ),
        table(
            "logferry-logs-sshd-failures",
            "[logferry] Top sshd failures by source address",
            S,
            rows=[("source", terms("source.ip", 10, order_by="failures", label="Source address"))],
            values=[
                ("failures", count("Failures")),
                ("users", metric("unique_count", "user.name", "User names tried")),
                ("hosts", metric("unique_count", "host.hostname", "Hosts")),
            ],
            sort_by="failures",
            query=SSHD_FAILURE,
            description="sshd 'Failed ...' and 'Invalid user' lines (grammars/sshd.grok).",
        ),
        search(
            "logferry-logs-errors",
            "[logferry] Latest errors",
            S,
            ERRORS,
            ["host.hostname", "process.name", "log.syslog.severity.name", "message"],
            description="Lines of severity err or worse, or that say error, fatal, panic or "
            "segfault.",
        ),
    ]
    layout = [
        [("logferry-logs-by-host", 24, 12), ("logferry-logs-by-program", 24, 12)],
        [("logferry-logs-by-dataset", 24, 12), ("logferry-logs-grok-failure-share", 24, 12)],
        [("logferry-logs-sshd-failures", 24, 14), ("logferry-logs-grok-failures", 24, 14)],
        [("logferry-logs-errors", 48, 18)],
    ]
    dash = dashboard(
        "logferry-logs-overview",
        "[logferry] Logs overview",
        "Log lines from logferry agents (index syslog-*): volume per host, program and "
        "dataset, grok failures, sshd authentication failures, latest errors.",
        layout,
        objs,
    )
    return [data_view(S)] + objs + [dash]


FILES = {
    "logferry-metrics.ndjson": host_objects,
    "logferry-logs.ndjson": logs_objects,
}


def render(make):
    return "".join(dumps(o) + "\n" for o in make())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    ap.add_argument("--dir", default=HERE, help="where the .ndjson files are (default: next to this script)")
    args = ap.parse_args()
    stale = 0
    for name, make in FILES.items():
        path = os.path.join(args.dir, name)
        want = render(make)
        if args.check:
            try:
                with open(path, encoding="utf-8") as f:
                    have = f.read()
            except OSError as e:
                print(f"{path}: {e.strerror}", file=sys.stderr)
                stale += 1
                continue
            if have != want:
                stale += 1
                print(f"{path}: differs from what gen_kibana.py writes; run it and commit:", file=sys.stderr)
                diff = difflib.unified_diff(
                    have.splitlines(), want.splitlines(), "committed", "generated", lineterm="", n=0
                )
                for line in list(diff)[:10]:
                    print("  " + line[:300], file=sys.stderr)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(want)
    if args.check and not stale:
        print(f"{len(FILES)} files match the generator")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
