# The connection core and the pump's seams, checked by the C unit driver
# tests/core-test (built from tests/core-test.c and every file of src/
# but main): the buffer, relay_new leaving the connection to its caller
# when an allocation fails, a pump whose end reads and writes through
# struct io_ops (IO_WANT_POLLIN / IO_WANT_POLLOUT, bytes held inside the
# end), and the idle timer's end-then-destroy policy.

load helpers

# The unit driver: $CORE_TEST, else next to this file, else in the build
# tree (make check runs from the top build directory).
core_test() {
	local t
	for t in "${CORE_TEST:-}" "$BATS_TEST_DIRNAME/core-test" \
	    "$PWD/tests/core-test"; do
		if [ -n "$t" ] && [ -x "$t" ]; then
			echo "$t"
			return 0
		fi
	done
	echo "core-test not built (set CORE_TEST)" >&2
	return 1
}

@test "core: buffer, relay_new ownership, io_ops ends, idle policy (unit driver)" {
	local t
	t=$(core_test)
	run timeout 120 "$t"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "core-test: all checks passed" ]
}
