# Helpers shared by integration scripts. Sourced, not run: its name does not
# end in .sh, so ctest does not take it for a test.
#
#   check NAME COMMAND...       runs COMMAND; "ok NAME" or "FAIL NAME", counted
#   wait_until SECONDS COMMAND  polls COMMAND until it succeeds or time is up
#   free_port                   a TCP port on 127.0.0.1 that is free now
failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else
    echo "FAIL $what"
    failures=$((failures + 1))
  fi
}
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
