#!/usr/bin/env bash
# logferry agent -> the fake Elasticsearch answering as each cluster it
# serves (issue 12, item 4): for every flavour the documents are indexed,
# logferry's template is installed through the API that version has
# (_index_template, or the legacy _template for Elasticsearch 6.8 and
# 7.0-7.7) and applied to the new index (log.offset is a long, which no
# dynamic mapping would make a keyword... the fake maps an unknown integer as
# long too, so the check is on message_as_text's mark: `message` is text with
# no keyword subfield, which only the template gives). Then:
#   future    Elasticsearch 10.0.0: used with a warning, not refused
#   too_old   Elasticsearch 6.2.4: refused with the reason ("too old"),
#             never called unreachable, and nothing indexed
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=es_lib.bash
source "$(dirname "$0")/es_lib.bash"

N=50
# The mapping of `message` in every index of PREFIX-*: "text" (the
# template's) or "text+keyword" (dynamic mapping: no template applied).
message_mapping() { # NAME PREFIX
  es "$1" "/$2-*/_mapping" | "$PY" -c '
import json, sys
out = set()
for ix in json.load(sys.stdin).values():
    m = ix["mappings"]
    m = m.get("_doc", m) if "properties" not in m else m
    f = m.get("properties", {}).get("message", {})
    out.add(f.get("type", "none") + ("+keyword" if "fields" in f else ""))
print(",".join(sorted(out)) or "none")'
}
# Whether the template API of that fake holds logferry-PREFIX, marked as ours.
template_is_ours() { # NAME API PREFIX
  es "$1" "/$2/logferry-$3" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
if "index_templates" in d:
    meta = d["index_templates"][0]["index_template"]["_meta"]
else:
    m = d["logferry-" + sys.argv[1]]["mappings"]
    meta = m.get("_meta") or m.get("_doc", {}).get("_meta")
sys.exit(0 if meta and meta.get("managed_by") == "logferry" else 1)' "$3"
}

run_flavour() { # CASE API EXPECTED-NAME fake options...
  local case=$1 api=$2 name=$3
  shift 3
  start_fake "$case" "$@"
  local prefix=${case//_/-}
  write_agent_config "$case" "[${fake_url[$case]}]"
  lines "$case" $N > "$tmp/$case/log/a.log"
  start_agent "$case"
  check "$case: $N lines indexed" wait_until 30 count_is "$case" "$prefix-*" $N
  stop_agent
  check "$case: the agent names the server ($name)" agent_log_has "$case" "$name"
  check "$case: template installed with $api" template_is_ours "$case" "$api" "$prefix"
  check "$case: the template mapped the index (message: $(message_mapping "$case" "$prefix"))" \
    test "$(message_mapping "$case" "$prefix")" = text
  check "$case: nothing called unreachable" not agent_log_has "$case" unreachable
  stop_fake "$case"
}
not() { ! "$@"; }

run_flavour es6_8 _template "Elasticsearch 6.8.23 (legacy _template API, mapping type _doc)" \
  --version 6.8.23
run_flavour es7_0 _template "Elasticsearch 7.0.1 (legacy _template API)" --version 7.0.1
run_flavour es7_7 _template "Elasticsearch 7.7.1 (legacy _template API)" --version 7.7.1
run_flavour es7_8 _index_template "Elasticsearch 7.8.0" --version 7.8.0
run_flavour es7_17 _index_template "Elasticsearch 7.17.15" --version 7.17.15
run_flavour es8 _index_template "Elasticsearch 8.11.0" --version 8.11.0
run_flavour es9 _index_template "Elasticsearch 9.0.0" --version 9.0.0
run_flavour os1 _index_template "OpenSearch 1.3.14" --flavour opensearch --version 1.3.14
run_flavour os2 _index_template "OpenSearch 2.11.0" --flavour opensearch --version 2.11.0
run_flavour os3 _index_template "OpenSearch 3.0.0" --flavour opensearch --version 3.0.0
run_flavour os_compat _index_template "OpenSearch (compatibility mode: reports 7.10.2)" \
  --flavour opensearch --version 2.11.0 --opensearch-compat distribution
run_flavour os_compat_bare _index_template "OpenSearch (compatibility mode: reports 7.10.2)" \
  --flavour opensearch --version 1.3.14 --opensearch-compat bare

# ---- a future major: used, with a warning -----------------------------------------------
run_flavour future _index_template "Elasticsearch 10.0.0" --version 10.0.0
check "future: warned as newer than logferry knows" agent_log_has future "newer than logferry knows"

# ---- too old: refused with the reason, never "unreachable" -------------------------------
start_fake too_old --version 6.2.4
write_agent_config too_old "[${fake_url[too_old]}]"
lines too_old 5 > "$tmp/too_old/log/a.log"
start_agent too_old
check "too_old: refused as too old" wait_until 30 agent_log_has too_old \
  "Elasticsearch 6.2.4 is too old: logferry needs Elasticsearch 6.8 or later"
check "too_old: the spool says why" wait_until 30 agent_log_has too_old \
  "Elasticsearch 6.2.4 is not supported: spooling"
stop_agent
check "too_old: never called unreachable" not agent_log_has too_old unreachable
check "too_old: nothing indexed" count_is too_old 'too-old-*' 0
check "too_old: no bulk request was sent" test "$(stat_of too_old bulk.requests)" = 0
stop_fake too_old

finish
