# The connection core and the pump's seams, checked by the C unit driver
# tests/core-test (built from tests/core-test.c and every file of src/
# but main): the buffer, relay_new leaving the connection to its caller
# when an allocation fails, a pump whose end reads and writes through
# struct io_ops (IO_WANT_POLLIN / IO_WANT_POLLOUT, bytes held inside the
# end), and the idle timer's end-then-destroy policy.

load helpers

# The unit driver: $CORE_TEST, or tests/core-test of the build.
core_test() { nk_built core-test "${CORE_TEST:-}"; }

@test "core: buffer, relay_new ownership, io_ops ends, idle policy (unit driver)" {
	local t
	t=$(core_test)
	run timeout 120 "$t"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "core-test: all checks passed" ]
}
