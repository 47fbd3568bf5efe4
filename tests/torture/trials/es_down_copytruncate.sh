#!/usr/bin/env bash
# es_down_copytruncate: es_down.sh with two copytruncate rotations during the
# outage (app.log copied to app.log.1, then truncated); paths: only app.log.
TRIAL=es_down_copytruncate ROTATE=copytruncate exec bash "$(dirname "$0")/es_down.sh"
