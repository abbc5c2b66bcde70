# Helpers the benchmark scripts share; sourced, not run.

# wait_for FILE PATTERN SECONDS PID: until FILE holds PATTERN (0) or PID died / time ran out (1).
wait_for() {
    local i
    for i in $(seq 1 $(($3 * 10))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
