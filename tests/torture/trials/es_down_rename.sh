#!/usr/bin/env bash
# es_down_rename: es_down.sh with two rename rotations during the outage
# (app.log -> app.log.1, a new app.log); paths: only app.log.
TRIAL=es_down_rename ROTATE=rename exec bash "$(dirname "$0")/es_down.sh"
