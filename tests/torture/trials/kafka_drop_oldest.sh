#!/usr/bin/env bash
# kafka_drop_oldest: kafka_down.sh with a 1 MiB Kafka spool and
# when_full: drop_oldest: lost = the drops the agent counted, no drop once
# Kafka takes messages again.
TRIAL=kafka_drop_oldest WHEN_FULL=drop_oldest exec bash "$(dirname "$0")/kafka_down.sh"
