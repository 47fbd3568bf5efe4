# Makes logferry.yml(5) from packaging/man/logferry.yml.5.in: the lines
# @AGENT_KEYS@ and @SHIPPER_KEYS@ become what `logferry check [--shipper]
# --print-keys=roff` prints, from the same tables the daemons read their
# files with. Run with -DLOGFERRY=binary -DINPUT=... -DOUTPUT=... -DVERSION=...
cmake_minimum_required(VERSION 3.18)
foreach(var LOGFERRY INPUT OUTPUT VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "manpage.cmake: ${var} is not set")
  endif()
endforeach()
execute_process(COMMAND ${LOGFERRY} check --print-keys=roff
                OUTPUT_VARIABLE agent_keys RESULT_VARIABLE rc1)
execute_process(COMMAND ${LOGFERRY} check --shipper --print-keys=roff
                OUTPUT_VARIABLE shipper_keys RESULT_VARIABLE rc2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: ${LOGFERRY} check --print-keys=roff failed (${rc1}, ${rc2})")
endif()
file(READ ${INPUT} page)
string(REPLACE "@AGENT_KEYS@\n" "${agent_keys}" page "${page}")
string(REPLACE "@SHIPPER_KEYS@\n" "${shipper_keys}" page "${page}")
string(REPLACE "@VERSION@" "${VERSION}" page "${page}")
file(WRITE ${OUTPUT} "${page}")
