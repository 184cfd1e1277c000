# The device core's sources, listed once so any build (CMake here, an
# ESP-IDF component, a vendor IDE) can include the same list.
set(OTTO_DEVICE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(OTTO_DEVICE_SOURCES
    ${OTTO_DEVICE_DIR}/err.c
    ${OTTO_DEVICE_DIR}/crypto.c
    ${OTTO_DEVICE_DIR}/part.c
    ${OTTO_DEVICE_DIR}/otadata.c
    ${OTTO_DEVICE_DIR}/image.c
    ${OTTO_DEVICE_DIR}/sbv2.c
    ${OTTO_DEVICE_DIR}/boot.c
    ${OTTO_DEVICE_DIR}/ota.c
    ${OTTO_DEVICE_DIR}/kv.c
    ${OTTO_DEVICE_DIR}/json.c
    ${OTTO_DEVICE_DIR}/jobdoc.c
    ${OTTO_DEVICE_DIR}/record.c
    ${OTTO_DEVICE_DIR}/trust.c
    ${OTTO_DEVICE_DIR}/agent.c
    ${OTTO_DEVICE_DIR}/agent_judge.c
    ${OTTO_DEVICE_DIR}/agent_fetch.c
    ${OTTO_DEVICE_DIR}/agent_delta.c
    ${OTTO_DEVICE_DIR}/agent_mcu.c
    ${OTTO_DEVICE_DIR}/agent_report.c
    ${OTTO_DEVICE_DIR}/mcu.c
    ${OTTO_DEVICE_DIR}/stage.c
    ${OTTO_DEVICE_DIR}/relay.c
    ${OTTO_DEVICE_DIR}/delta.c
)
set(OTTO_DEVICE_INCLUDE ${OTTO_DEVICE_DIR}/../include)
