# TLS servers under garbage: random bytes, a real ClientHello cut short or
# with flipped bytes, a record that promises more than it sends, garbage
# after a ClientHello, and nothing at all (tests/tls-garbage.py). The
# server ends every such connection (an error, or the handshake timeout),
# never crashes or hangs, keeps serving, and a single listen writes one
# error line and exits 1.

load helpers

setup_file() {
	CERTS=$BATS_FILE_TMPDIR/certs
	"$BATS_TEST_DIRNAME/tls-certs" "$CERTS"
	export CERTS
}

# The garbage driver, from the source tree.
garbage() { timeout 120 python3 "$BATS_TEST_DIRNAME/tls-garbage.py" "$@"; }

@test "echo --tls: 120 garbage and truncated handshakes all ended, the server still serves" {
	local n
	nk_echo_server srv --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -t 300
	run garbage "$PORT" 120 7
	echo "$output"
	[ "$status" -eq 0 ]
	nk_running srv
	# Every connection closed with an error; nothing but events on stderr.
	n=$(nk_events srv socket.close | grep -c 'had_error=true' || true)
	[ "$n" -eq 120 ]
	[ -z "$(grep -v '^event=' "$(nk_err srv)" || true)" ]
	# A real client is still served.
	run bash -c "printf 'still here' | timeout 10 \"\$NETKIT\" connect --tls \
	    --tls-ca '$CERTS/ca.pem' 127.0.0.1 $PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "still here" ]
	nk_kill srv
	nk_wait srv
	[ "$NK_STATUS" -eq 0 ]
}

@test "listen --tls: a garbage handshake is one error line and exit 1" {
	local seed
	for seed in 1 2 3 4 5 6; do
		nk_listen srv --tls --tls-cert "$CERTS/server.pem" \
		    --tls-key "$CERTS/server.key" -t 300
		run garbage "$PORT" 1 "$seed"
		[ "$status" -eq 0 ]
		nk_wait srv
		[ "$NK_STATUS" -eq 1 ]
		run grep -vc '^event=' "$(nk_err srv)"
		[ "$output" = 1 ]
		grep -Eq "^netkit: listen 127\.0\.0\.1:[0-9]+: .* \((ERR_SSL_[A-Z0-9_]+|ECONNRESET|ETIMEDOUT)\)\$" \
		    "$(nk_err srv)"
	done
}
