#!/usr/bin/env bats
#
# TLS (SPEC.md, "TLS (connect, listen, echo, forward)"): netkit against
# itself and against peers nobody here wrote (openssl s_server/s_client,
# ncat --ssl, socat OPENSSL, Node's tls module, Python's ssl, gnutls when
# installed). Verification codes, SNI, versions, ALPN, client
# certificates, close_notify and half-close, handshake failures and
# timeouts, the server modes, and the option errors.
#
# Certificates come from tests/tls-certs, made once per file. Peers that
# cannot bind port 0 get a port that netkit bound and released (retried
# when something else takes it first); Node and Python peers bind port 0
# and print a server.listening line as netkit does.

load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export CERTS=$BATS_FILE_TMPDIR/certs
	bash "$BATS_TEST_DIRNAME/tls-certs" "$CERTS"
	export IN64=$BATS_FILE_TMPDIR/in64
	nk_random "$IN64" 64M
	SHA64=$(nk_sha "$IN64")
	# "sha256 Fingerprint=AB:CD:...": what Node prints, after the '='.
	SERVER_FP=$(openssl x509 -noout -fingerprint -sha256 \
	    -in "$CERTS/server.pem" | sed 's/.*=//')
	CLIENT_FP=$(openssl x509 -noout -fingerprint -sha256 \
	    -in "$CERTS/client.pem" | sed 's/.*=//')
	export SHA64 SERVER_FP CLIENT_FP

	# A TLS peer in Node, one connection:
	#   node peer.js server CERTDIR MODE [FILE]  on 127.0.0.1, port 0
	#   node peer.js client PORT CAFILE MODE [FILE]  127.0.0.1, name localhost
	# MODE send: FILE, then end (close_notify, FIN); recv: what arrives
	# to stdout, end at the peer's end; half: the server answers after
	# the client's end, the client sends FILE, ends, and prints the answer.
	# allowHalfOpen everywhere: ends are the script's decision.
	export PEERJS=$BATS_FILE_TMPDIR/peer.js
	cat >"$PEERJS" <<-'EOF'
	const tls = require('tls'), fs = require('fs');
	const role = process.argv[2];
	const [a, b, mode, file] = role === 'server' ?
	    [process.argv[3], null, ...process.argv.slice(4)] :
	    process.argv.slice(3);
	const out = fs.createWriteStream(null, { fd: 1 });
	function serve(s) {
		s.on('error', (e) => {
			process.stderr.write('peer: error ' + (e.code || e.message) + '\n');
			process.exitCode = 1;
		});
		s.on('end', () => process.stderr.write('peer: end\n'));
		if (mode === 'send') {
			s.pipe(out);
			fs.createReadStream(file).pipe(s);
		} else if (mode === 'recv') {
			s.pipe(out);
			s.on('end', () => s.end());
		} else if (role === 'server') {
			let n = 0;
			s.on('data', (d) => { n += d.length; out.write(d); });
			s.on('end', () => s.end('after your end: ' + n + ' bytes\n'));
		} else {
			s.pipe(out);
			s.end(fs.readFileSync(file));
		}
	}
	function secure(s) {
		process.stderr.write('peer: secure ' + s.getProtocol() + ' alpn=' +
		    (s.alpnProtocol || '') + '\n');
	}
	if (role === 'server') {
		const srv = tls.createServer({ allowHalfOpen: true,
		    key: fs.readFileSync(a + '/server.key'),
		    cert: fs.readFileSync(a + '/server.pem') }, (s) => {
			srv.close();
			secure(s);
			serve(s);
		});
		srv.listen(0, '127.0.0.1', () => process.stderr.write(
		    'event=server.listening address=127.0.0.1 port=' +
		    srv.address().port + ' family=IPv4\n'));
	} else {
		const s = tls.connect({ host: '127.0.0.1', port: +a,
		    servername: 'localhost', ca: fs.readFileSync(b),
		    allowHalfOpen: true }, () => secure(s));
		serve(s);
	}
	EOF

	# A TLS server in Python that sends FILE, then ends TCP without
	# close_notify (a FIN on a dup of the socket, the session left
	# alone), reads until the client closes, and exits.
	export NOCN=$BATS_FILE_TMPDIR/nocn.py
	cat >"$NOCN" <<-'EOF'
	import os, socket, ssl, sys
	certs, path = sys.argv[1], sys.argv[2]
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(certs + "/server.pem", certs + "/server.key")
	ls = socket.socket()
	ls.bind(("127.0.0.1", 0))
	ls.listen(1)
	print("event=server.listening address=127.0.0.1 port=%d family=IPv4"
	    % ls.getsockname()[1], file=sys.stderr, flush=True)
	c, _ = ls.accept()
	ls.close()
	s = ctx.wrap_socket(c, server_side=True)
	with open(path, "rb") as f:
	    s.sendall(f.read())
	raw = socket.socket(fileno=os.dup(s.fileno()))
	raw.shutdown(socket.SHUT_WR)
	while raw.recv(65536):
	    pass
	EOF

	# A TLS server in Python that reads until the client's close_notify
	# (a TCP end without it is an error here), then checks that a FIN
	# came after it, says so on stderr, answers, and ends with its own
	# close_notify.
	export HALF=$BATS_FILE_TMPDIR/half.py
	cat >"$HALF" <<-'EOF'
	import os, socket, ssl, sys
	certs = sys.argv[1]
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
	ctx.load_cert_chain(certs + "/server.pem", certs + "/server.key")
	ls = socket.socket()
	ls.bind(("127.0.0.1", 0))
	ls.listen(1)
	print("event=server.listening address=127.0.0.1 port=%d family=IPv4"
	    % ls.getsockname()[1], file=sys.stderr, flush=True)
	c, _ = ls.accept()
	ls.close()
	c.settimeout(30)
	s = ctx.wrap_socket(c, server_side=True, suppress_ragged_eofs=False)
	got = b""
	while True:
	    d = s.recv(65536)
	    if not d:
	        break
	    got += d
	print("half: close_notify after %d bytes" % len(got), file=sys.stderr, flush=True)
	raw = socket.socket(fileno=os.dup(s.fileno()))
	raw.settimeout(30)
	if raw.recv(1, socket.MSG_PEEK) == b"":
	    print("half: then FIN", file=sys.stderr, flush=True)
	sys.stdout.buffer.write(got)
	sys.stdout.flush()
	s.sendall(b"answer after your end: %d bytes\n" % len(got))
	s.unwrap()
	s.close()
	EOF
}

setup() {
	T=$BATS_TEST_TMPDIR
	FED_FDS=()
	KTLS='(none|tx|rx|both)'
}

# tstart NAME CMD...: nk_start, without the test's ends of the fed
# fifos (so that closing one is its reader's EOF, whatever started later).
tstart() {
	local fd closes=''
	for fd in "${FED_FDS[@]}"; do
		closes+=" $fd>&-"
	done
	eval "nk_start \"\$@\" $closes"
}

# fed NAME CMD...: tstart CMD with its stdin from a new fifo; the test's
# end of it is $FED_FD (write to it; close it for EOF).
fed() {
	local name=$1 fifo=$T/$1.fifo
	shift
	mkfifo "$fifo"
	NK_STDIN=$fifo tstart "$name" "$@"
	exec {FED_FD}>"$fifo"
	FED_FDS+=("$FED_FD")
}

# tls_listen NAME CERT KEY [OPTIONS...]: netkit listen --tls on
# 127.0.0.1 port 0 with $CERTS/CERT.pem and $CERTS/KEY.key; sets $PORT.
# Its stdin is a fed fifo ($FED_FD) that stays open: a server whose stdin
# ended at once would end the session (close_notify) before its client
# read any of its own stdin, and the client would then send none of it
# (SPEC.md, "The relay": the peer's end stops reading stdin).
# With NK_STDIN set, its stdin is that file instead.
tls_listen() {
	local name=$1 cert=$2 key=$3 start=fed
	shift 3
	[ -n "${NK_STDIN:-}" ] && start=tstart
	"$start" "$name" "$NETKIT" listen --events --tls \
	    --tls-cert "$CERTS/$cert.pem" --tls-key "$CERTS/$key.key" \
	    -H 127.0.0.1 "$@" 0
	PORT=$(nk_port "$name") || return 1
}

# peer_on_port NAME: a peer started with tstart listens on port 0 and
# says so as netkit does; sets $PORT.
peer_on_port() { PORT=$(nk_port "$1" 20) || return 1; }

# nk_free_port: set $PORT to a loopback port that netkit just bound and
# released.
nk_free_port() {
	tstart probe "$NETKIT" listen --events -H 127.0.0.1 0
	PORT=$(nk_port probe) || return 1
	nk_kill probe
	nk_wait probe 10
}

# listening PORT: whether something listens on TCP PORT.
listening() {
	local hex f files=()
	hex=$(printf '%04X' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		[ -r "$f" ] && files+=("$f")
	done
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
	    END { exit !f }' "${files[@]}"
}

# peer_listen NAME CMD...: start a peer that cannot bind port 0 on a free
# port ("@PORT@" in CMD is replaced by it) and wait until it listens;
# when it exits first (the port was taken meanwhile), try another port,
# three times in all. Sets $PORT.
peer_listen() {
	local name=$1 try a deadline args
	shift
	for try in 1 2 3; do
		nk_free_port || return 1
		args=()
		for a in "$@"; do
			args+=("${a//@PORT@/$PORT}")
		done
		tstart "$name" "${args[@]}"
		deadline=$((SECONDS + 20))
		while ! listening "$PORT"; do
			if ! nk_running "$name"; then
				echo "$name exited before listening (try $try):" >&2
				cat "$(nk_err "$name")" >&2
				nk_wait "$name" 5
				continue 2
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				echo "$name: nothing listens on $PORT after 20 s" >&2
				return 1
			fi
			sleep 0.02
		done
		return 0
	done
	return 1
}

# done_ok NAME [SECONDS]: NAME exits 0 (its stderr shown if not).
done_ok() { nk_ok "$1" "${2:-30}"; }

# done_status NAME STATUS [SECONDS]: NAME exits with STATUS.
done_status() {
	nk_wait "$1" "${3:-30}" || return 1
	if [ "$NK_STATUS" != "$2" ]; then
		echo "$1 exited $NK_STATUS, want $2:" >&2
		cat "$(nk_err "$1")" >&2
		return 1
	fi
}

# error_lines NAME: NAME's stderr lines that are not events.
error_lines() { grep -v -e '^event=' -e '^{"event"' "$(nk_err "$1")" || true; }

# one_error NAME REGEX: NAME wrote exactly one line that is not an event,
# and it matches the extended REGEX.
one_error() {
	run error_lines "$1"
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "$2"
}

# secure_line NAME: NAME's one socket.secure event.
secure_line() {
	run nk_events "$1" socket.secure
	assert_equal "${#lines[@]}" 1
	SECURE=$output
}

# line_no NAME REGEX: the number of NAME's first stderr line matching REGEX.
line_no() { grep -nEm1 -- "$2" "$(nk_err "$1")" | cut -d: -f1; }

# rx NAME: a fixed string as an extended regex (dots, brackets...).
rx() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# ---------------------------------------------------------------------
# netkit to netkit

@test "connect --tls-ca to listen --tls: bytes both ways, socket.secure on both sides, close_notify, exit 0" {
	printf 'from client\n' >"$T/cin"
	tls_listen srv server server --allow-half-open
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	# The client's stdin EOF: close_notify, FIN, and it keeps reading.
	nk_wait_line srv '^event=socket\.end '
	printf 'from server\n' >&"$FED_FD"
	exec {FED_FD}>&-
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "from client"
	assert_equal "$(cat "$(nk_out cli)")" "from server"

	secure_line cli
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=TLS_[A-Z0-9_]+ alpn=\"\" servername=\"\" authorized=true peer=localhost fingerprint256=$SERVER_FP ktls=$KTLS\$"
	secure_line srv
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=TLS_[A-Z0-9_]+ alpn=\"\" servername=\"\" authorized=false peer=\"\" fingerprint256=\"\" ktls=$KTLS\$"
	# The cipher is the same on both sides.
	assert_equal "$(nk_events cli socket.secure | grep -o 'cipher=[^ ]*')" \
	    "$(nk_events srv socket.secure | grep -o 'cipher=[^ ]*')"

	# Order: connect, secure, data, end; the server: connection, secure, data.
	local c s d
	c=$(line_no cli '^event=socket\.connect ')
	s=$(line_no cli '^event=socket\.secure ')
	d=$(line_no cli '^event=socket\.data ')
	[ "$c" -lt "$s" ] && [ "$s" -lt "$d" ]
	c=$(line_no srv '^event=server\.connection ')
	s=$(line_no srv '^event=socket\.secure ')
	d=$(line_no srv '^event=socket\.data ')
	[ "$c" -lt "$s" ] && [ "$s" -lt "$d" ]

	run nk_events srv socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=12 bytes_written=12"
	run nk_events srv socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=12 bytes_written=12"
	[ -z "$(error_lines cli)" ]
	[ -z "$(error_lines srv)" ]
}

@test "--events=json: socket.secure and socket.end parse as JSON, authorized and close_notify are booleans" {
	need_python
	printf 'hello' >"$T/cin"
	tls_listen srv server server
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events=json --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "hello"
	run "$PY" -c '
import json, sys
want = sys.argv[2]
ev = [json.loads(l) for l in open(sys.argv[1])]
sec = [e for e in ev if e["event"] == "socket.secure"]
assert len(sec) == 1, sec
s = sec[0]
assert s["authorized"] is True, s
assert "authorization_error" not in s, s
assert s["id"] == 1 and s["protocol"] == "TLSv1.3", s
assert s["alpn"] == "" and s["servername"] == "", s
assert s["peer"] == "localhost" and s["fingerprint256"] == want, s
assert s["ktls"] in ("none", "tx", "rx", "both"), s
end = [e for e in ev if e["event"] == "socket.end"]
assert len(end) == 1 and end[0]["close_notify"] is True, end
print("ok")
' "$(nk_err cli)" "$SERVER_FP"
	assert_success
	assert_output ok
}

# ---------------------------------------------------------------------
# Verification by the client

# verify_fails CERT KEY CODE HOST [CONNECT OPTIONS...]: a server with
# $CERTS/CERT.pem; connect --tls --tls-ca $VF_CA (default ca.pem; empty:
# no --tls-ca; a later --tls-ca in the options wins) to HOST fails with
# CODE: one line, exit 1, no socket.secure, nothing of its stdin sent,
# and the server got none of it. Sets $LINE to the error line.
verify_fails() {
	local cert=$1 key=$2 code=$3 host=$4 ca=()
	shift 4
	[ -n "${VF_CA-$CERTS/ca.pem}" ] && ca=(--tls-ca "${VF_CA-$CERTS/ca.pem}")
	printf 'secret stdin bytes\n' >"$T/cin"
	tls_listen srv "$cert" "$key"
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    "${ca[@]}" "$@" "$host" "$PORT"
	done_status cli 1
	one_error cli "^netkit: connect $(rx "$host"):$PORT: .+ \($code\)\$"
	LINE=$output
	run nk_events cli socket.error
	assert_output --regexp "^event=socket\.error id=1 code=$code message="
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0"
	run nk_events cli socket.secure
	assert_output ""
	# The server: whatever it makes of the abandoned session, no byte
	# of the client's stdin reached it.
	nk_wait srv 30
	[ ! -s "$(nk_out srv)" ]
	run nk_events srv socket.close
	[ -z "$output" ] || assert_output --regexp '^event=socket\.close id=1 had_error=(true|false) bytes_read=0 '
	run nk_events srv socket.data
	assert_output ""
}

@test "verify: self-signed certificate, DEPTH_ZERO_SELF_SIGNED_CERT, the exact line" {
	verify_fails self self DEPTH_ZERO_SELF_SIGNED_CERT 127.0.0.1
	assert_equal "$LINE" "netkit: connect 127.0.0.1:$PORT: certificate verify failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)"
}

@test "verify: expired certificate, CERT_HAS_EXPIRED" {
	verify_fails expired server CERT_HAS_EXPIRED 127.0.0.1
	assert_regex "$LINE" ': certificate verify failed: .+ \(CERT_HAS_EXPIRED\)$'
}

@test "verify: certificate not yet valid, CERT_NOT_YET_VALID" {
	verify_fails future server CERT_NOT_YET_VALID 127.0.0.1
	assert_regex "$LINE" ': certificate verify failed: .+ \(CERT_NOT_YET_VALID\)$'
}

@test "verify: wrong name, to 127.0.0.1, ERR_TLS_CERT_ALTNAME_INVALID" {
	verify_fails wrongname server ERR_TLS_CERT_ALTNAME_INVALID 127.0.0.1
}

@test "verify: wrong name, to localhost, ERR_TLS_CERT_ALTNAME_INVALID" {
	verify_fails wrongname server ERR_TLS_CERT_ALTNAME_INVALID localhost -4
}

@test "verify: the name is matched against the SAN, never the CN (CN=localhost, no SAN)" {
	verify_fails cnonly server ERR_TLS_CERT_ALTNAME_INVALID localhost -4
}

@test "verify: a leaf served without its intermediate, UNABLE_TO_VERIFY_LEAF_SIGNATURE" {
	verify_fails leaf leaf UNABLE_TO_VERIFY_LEAF_SIGNATURE localhost -4
	assert_regex "$LINE" ': certificate verify failed: .+ \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$'
}

@test "verify: a CA we do not trust (--tls-ca other-ca.pem), UNABLE_TO_VERIFY_LEAF_SIGNATURE" {
	verify_fails server server UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1 \
	    --tls-ca "$CERTS/other-ca.pem"
}

@test "verify: leaf and intermediate from a CA we do not trust, UNABLE_TO_GET_ISSUER_CERT_LOCALLY" {
	verify_fails chain leaf UNABLE_TO_GET_ISSUER_CERT_LOCALLY 127.0.0.1 \
	    --tls-ca "$CERTS/other-ca.pem"
}

@test "verify: a whole chain up to a root we do not trust, SELF_SIGNED_CERT_IN_CHAIN" {
	cat "$CERTS/chain.pem" "$CERTS/ca.pem" >"$CERTS/full-$BATS_TEST_NUMBER.pem"
	verify_fails "full-$BATS_TEST_NUMBER" leaf SELF_SIGNED_CERT_IN_CHAIN \
	    127.0.0.1 --tls-ca "$CERTS/other-ca.pem"
}

# Every handshake failure of connect goes through this path; a sanitizer
# build fails each test of it with a report on stderr.
@test "connect: a failed verification reads no freed memory (valgrind)" {
	command -v valgrind >/dev/null || skip "valgrind not installed"
	! ldd "$NETKIT" 2>/dev/null | grep -q libasan ||
	    skip "a sanitizer build (the tests above show it there)"
	tls_listen srv self self
	run --separate-stderr timeout 60 valgrind -q --error-exitcode=99 \
	    "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT" \
	    </dev/null
	assert_equal "$status" 1
	assert_equal "$stderr" "netkit: connect 127.0.0.1:$PORT: certificate verify failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)"
}

@test "verify: chain.pem (leaf + intermediate) served verifies against the CA, exit 0" {
	printf 'through the chain\n' >"$T/cin"
	tls_listen srv chain leaf
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" -4 localhost "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "through the chain"
	secure_line cli
	assert_regex "$SECURE" ' servername=localhost authorized=true peer=localhost '
	[ -z "$(error_lines cli)" ]
}

@test "verify: --tls-ca a hashed directory (openssl rehash) verifies" {
	mkdir "$T/cadir"
	cp "$CERTS/ca.pem" "$T/cadir/"
	openssl rehash "$T/cadir" 2>/dev/null || c_rehash "$T/cadir" >/dev/null ||
	    skip "neither openssl rehash nor c_rehash"
	printf 'hashed\n' >"$T/cin"
	tls_listen srv server server
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$T/cadir" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "hashed"
	secure_line cli
	assert_regex "$SECURE" ' authorized=true peer=localhost '
}

@test "verify: without --tls-ca the system store is used, and it does not know the test CA" {
	VF_CA='' verify_fails server server UNABLE_TO_VERIFY_LEAF_SIGNATURE 127.0.0.1
}

@test "--tls-insecure: connects anyway, one warning line, authorized=false with authorization_error" {
	printf 'anyway\n' >"$T/cin"
	tls_listen srv self self
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-insecure 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "anyway"
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .*DEPTH_ZERO_SELF_SIGNED_CERT"
	local fp
	fp=$(openssl x509 -noout -fingerprint -sha256 -in "$CERTS/self.pem" | sed 's/.*=//')
	secure_line cli
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=[^ ]+ alpn=\"\" servername=\"\" authorized=false authorization_error=DEPTH_ZERO_SELF_SIGNED_CERT peer=localhost fingerprint256=$fp ktls=$KTLS\$"
}

@test "--tls-insecure with a name mismatch: authorization_error=ERR_TLS_CERT_ALTNAME_INVALID" {
	printf 'anyway\n' >"$T/cin"
	tls_listen srv wrongname server
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-insecure 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "anyway"
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .*ERR_TLS_CERT_ALTNAME_INVALID"
	secure_line cli
	assert_regex "$SECURE" ' authorized=false authorization_error=ERR_TLS_CERT_ALTNAME_INVALID peer=other\.example '
}

@test "--tls-insecure -q: no warning line, exit 0" {
	printf 'quietly\n' >"$T/cin"
	tls_listen srv self self
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect -q --tls --tls-insecure \
	    127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "quietly"
	[ ! -s "$(nk_err cli)" ]
}

# ---------------------------------------------------------------------
# SNI and the name checked

@test "--tls-servername localhost to 127.0.0.1: SNI sent, verified against that name" {
	printf 'sni\n' >"$T/cin"
	tls_listen srv server server
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-servername localhost 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "sni"
	secure_line srv
	assert_regex "$SECURE" ' servername=localhost '
	secure_line cli
	assert_regex "$SECURE" ' servername=localhost authorized=true peer=localhost '
}

@test "--tls-servername other.example: the server sees it, a certificate for it verifies" {
	printf 'other\n' >"$T/cin"
	tls_listen srv wrongname server
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-servername other.example \
	    127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "other"
	secure_line srv
	assert_regex "$SECURE" ' servername=other\.example '
	secure_line cli
	assert_regex "$SECURE" ' servername=other\.example authorized=true peer=other\.example '
}

@test "--tls-servername other.example against a localhost certificate: ERR_TLS_CERT_ALTNAME_INVALID" {
	verify_fails server server ERR_TLS_CERT_ALTNAME_INVALID 127.0.0.1 \
	    --tls-servername other.example
}

@test "an IP literal sends no SNI (servername=\"\"), a host name does" {
	tls_listen srv server server
	tstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	secure_line srv
	assert_regex "$SECURE" ' servername="" '

	tls_listen srv2 server server
	tstart cli2 "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" -4 localhost "$PORT"
	done_ok cli2
	done_ok srv2
	secure_line srv2
	assert_regex "$SECURE" ' servername=localhost '
}

# ---------------------------------------------------------------------
# Versions (openssl s_server and s_client as peers)

# s_server_rev VERSION: openssl s_server -VERSION -rev (each line comes
# back reversed) for one connection; sets $PORT.
s_server_rev() {
	peer_listen peer openssl s_server -accept 127.0.0.1:@PORT@ \
	    -cert "$CERTS/server.pem" -key "$CERTS/server.key" "-$1" -rev \
	    -naccept 1
}

s_server_version() {
	printf 'hello netkit\nsecond line\n' >"$T/cin"
	s_server_rev "$1"
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok peer
	assert_equal "$(cat "$(nk_out cli)")" "$(printf 'tikten olleh\nenil dnoces')"
	secure_line cli
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=$2 cipher=[^ ]+ alpn=\"\" servername=\"\" authorized=true peer=localhost fingerprint256=$SERVER_FP "
	grep -qx "Protocol version: $2" "$(nk_err peer)"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
}

@test "openssl s_server -tls1_2 -rev: TLSv1.2, lines reversed byte for byte" {
	s_server_version tls1_2 'TLSv1\.2'
}

@test "openssl s_server -tls1_3 -rev: TLSv1.3, lines reversed byte for byte" {
	s_server_version tls1_3 'TLSv1\.3'
}

@test "--tls-min-version 1.3 against a TLS 1.2-only server: ERR_SSL_ code, exit 1" {
	printf 'never sent\n' >"$T/cin"
	s_server_rev tls1_2
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-min-version 1.3 127.0.0.1 "$PORT"
	done_status cli 1
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .+ \(ERR_SSL_[A-Z0-9_]+\)\$"
	run nk_events cli socket.secure
	assert_output ""
	nk_wait peer 30
}

# s_client_version OPT PROTOCOL: openssl s_client OPT connects to listen
# --tls; a line each way; the listen side sees PROTOCOL.
s_client_version() {
	printf 'from s_client\n' >"$T/pin"
	tls_listen srv server server
	# -quiet ignores its stdin's EOF: it ends at netkit's close_notify.
	NK_STDIN=$T/pin tstart peer openssl s_client -connect "127.0.0.1:$PORT" \
	    "$1" -CAfile "$CERTS/ca.pem" -verify_return_error \
	    -verify_ip 127.0.0.1 -quiet
	nk_wait_size "$(nk_out srv)" 14 20
	printf 'from netkit\n' >&"$FED_FD"
	nk_wait_size "$(nk_out peer)" 12 20
	exec {FED_FD}>&-
	done_ok srv
	done_ok peer
	assert_equal "$(cat "$(nk_out srv)")" "from s_client"
	assert_equal "$(cat "$(nk_out peer)")" "from netkit"
	secure_line srv
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=$2 "
}

@test "openssl s_client -tls1_2 to listen --tls: TLSv1.2, a line each way" {
	s_client_version -tls1_2 'TLSv1\.2'
}

@test "openssl s_client -tls1_3 to listen --tls: TLSv1.3, a line each way" {
	s_client_version -tls1_3 'TLSv1\.3'
}

@test "listen --tls-min-version 1.3 refuses a TLS 1.2 client: one ERR_SSL_ line, exit 1" {
	tls_listen srv server server --tls-min-version 1.3
	run timeout 30 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 \
	    -quiet </dev/null
	assert_failure
	done_status srv 1
	one_error srv "^netkit: listen 127\.0\.0\.1:[0-9]+: .+ \(ERR_SSL_[A-Z0-9_]+\)\$"
	run nk_events srv socket.close
	assert_output --regexp '^event=socket\.close id=1 had_error=true '
}

# ---------------------------------------------------------------------
# ALPN

@test "ALPN: the server picks the first of its own list that the client offers, alpn= on both sides" {
	printf 'h2 please\n' >"$T/cin"
	tls_listen srv server server --tls-alpn h2,http/1.1
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-alpn http/1.1,h2 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "h2 please"
	secure_line srv
	assert_regex "$SECURE" ' alpn=h2 '
	secure_line cli
	assert_regex "$SECURE" ' alpn=h2 '

	tls_listen srv2 server server --tls-alpn spdy/1,http/1.1,h2
	tstart cli2 "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    --tls-alpn h2,http/1.1 127.0.0.1 "$PORT"
	done_ok cli2
	done_ok srv2
	secure_line srv2
	assert_regex "$SECURE" ' alpn=http/1\.1 '
	secure_line cli2
	assert_regex "$SECURE" ' alpn=http/1\.1 '
}

@test "ALPN mismatch: the handshake fails, NO_APPLICATION_PROTOCOL, exit 1 both sides" {
	printf 'never\n' >"$T/cin"
	tls_listen srv server server --tls-alpn h2
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-alpn http/1.1 127.0.0.1 "$PORT"
	done_status cli 1
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .+ \(ERR_SSL_[A-Z0-9_]*NO_APPLICATION_PROTOCOL\)\$"
	done_status srv 1
	one_error srv "^netkit: listen 127\.0\.0\.1:[0-9]+: .+ \(ERR_SSL_[A-Z0-9_]*NO_APPLICATION_PROTOCOL\)\$"
	[ ! -s "$(nk_out srv)" ]
	run nk_events cli socket.secure
	assert_output ""
}

# ---------------------------------------------------------------------
# Client certificates

@test "--tls-verify-client accepts client.pem: authorized=true peer=netkit-client on the server" {
	printf 'mutual\n' >"$T/cin"
	tls_listen srv server server --tls-verify-client --tls-ca "$CERTS/ca.pem"
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-cert "$CERTS/client.pem" \
	    --tls-key "$CERTS/client.key" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "mutual"
	secure_line srv
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=[^ ]+ alpn=\"\" servername=\"\" authorized=true peer=netkit-client fingerprint256=$CLIENT_FP ktls=$KTLS\$"
	secure_line cli
	assert_regex "$SECURE" ' authorized=true peer=localhost '
}

# refused_client CODE [CONNECT OPTIONS...]: listen --tls-verify-client
# refuses the client: socket.error and socket.close had_error=true, one
# line, exit 1; the client fails with CODE (its stdin stays open and
# empty, so that nothing of its own is in flight).
refused_client() {
	local code=$1
	shift
	tls_listen srv server server --tls-verify-client --tls-ca "$CERTS/$SRV_CA"
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" "$@" \
	    127.0.0.1 "$PORT"
	done_status srv 1
	one_error srv "^netkit: listen 127\.0\.0\.1:[0-9]+: .+ \(ERR_SSL_[A-Z0-9_]+\)\$"
	run nk_events srv socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ERR_SSL_[A-Z0-9_]+ message='
	run tail -n 2 "$(nk_err srv)"
	assert_line --index 0 --regexp '^event=socket\.close id=1 had_error=true bytes_read=0 bytes_written=0$'
	assert_line --index 1 'event=server.close'
	run nk_events srv socket.secure
	assert_output ""
	done_status cli 1
	exec {FED_FD}>&-
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .+ \($code\)\$"
}

@test "--tls-verify-client refuses a client without a certificate" {
	SRV_CA=ca.pem refused_client ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED
}

@test "--tls-verify-client refuses a client certificate from a CA it does not trust (client: ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)" {
	SRV_CA=other-ca.pem refused_client ERR_SSL_TLSV1_ALERT_UNKNOWN_CA \
	    --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key"
}

# ---------------------------------------------------------------------
# Real peers: a known payload each way, 64 MiB by sha256

@test "ncat --ssl -l: netkit connect, a line each way" {
	command -v ncat >/dev/null || skip "ncat not installed"
	printf 'from ncat\n' >"$T/pin"
	NK_STDIN=$T/pin peer_listen peer ncat -l --ssl \
	    --ssl-cert "$CERTS/server.pem" --ssl-key "$CERTS/server.key" \
	    127.0.0.1 @PORT@
	fed cli "$NETKIT" connect --events --tls --allow-half-open \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	nk_wait_size "$(nk_out cli)" 10 20
	printf 'from netkit\n' >&"$FED_FD"
	nk_wait_size "$(nk_out peer)" 12 20
	exec {FED_FD}>&-
	done_ok cli
	nk_wait peer 30
	assert_equal "$(cat "$(nk_out cli)")" "from ncat"
	assert_equal "$(cat "$(nk_out peer)")" "from netkit"
	secure_line cli
	assert_regex "$SECURE" ' authorized=true peer=localhost '
}

@test "ncat --ssl client to listen --tls: a line each way" {
	command -v ncat >/dev/null || skip "ncat not installed"
	printf 'from ncat\n' >"$T/pin"
	tls_listen srv server server --allow-half-open
	local srv_fd=$FED_FD
	NK_STDIN=$T/pin tstart peer ncat --ssl --ssl-verify \
	    --ssl-trustfile "$CERTS/ca.pem" -4 localhost "$PORT"
	nk_wait_size "$(nk_out srv)" 10 20
	printf 'from netkit\n' >&"$srv_fd"
	nk_wait_size "$(nk_out peer)" 12 20
	exec {srv_fd}>&-
	done_ok srv
	nk_wait peer 30
	assert_equal "$(cat "$(nk_out srv)")" "from ncat"
	assert_equal "$(cat "$(nk_out peer)")" "from netkit"
	secure_line srv
	assert_regex "$SECURE" ' servername=localhost '
}

@test "socat OPENSSL client to listen --tls: a line each way" {
	command -v socat >/dev/null || skip "socat not installed"
	printf 'from socat\n' >"$T/pin"
	tls_listen srv server server --allow-half-open
	local srv_fd=$FED_FD
	NK_STDIN=$T/pin tstart peer socat -t 30 - \
	    "OPENSSL:localhost:$PORT,pf=ip4,cafile=$CERTS/ca.pem"
	nk_wait_size "$(nk_out srv)" 11 20
	printf 'from netkit\n' >&"$srv_fd"
	nk_wait_size "$(nk_out peer)" 12 20
	exec {srv_fd}>&-
	done_ok srv
	done_ok peer
	assert_equal "$(cat "$(nk_out srv)")" "from socat"
	assert_equal "$(cat "$(nk_out peer)")" "from netkit"
}

# socat_listen DIRECTION: socat -u OPENSSL-LISTEN on a free port, one
# connection: "recv" to its stdout, "send" its stdin ($NK_STDIN).
socat_listen() {
	local l="OPENSSL-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,cert=$CERTS/server.pem,key=$CERTS/server.key,verify=0"
	if [ "$1" = recv ]; then
		peer_listen peer socat -u "$l" -
	else
		peer_listen peer socat -u - "$l"
	fi
}

@test "socat OPENSSL-LISTEN: netkit connect sends 64 MiB, sha256 equal" {
	command -v socat >/dev/null || skip "socat not installed"
	socat_listen recv
	NK_STDIN=$IN64 tstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$PORT"
	done_ok cli 60
	done_ok peer 60
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHA64"
	[ ! -s "$(nk_out cli)" ]
}

@test "socat OPENSSL-LISTEN: netkit connect receives 64 MiB, sha256 equal" {
	command -v socat >/dev/null || skip "socat not installed"
	NK_STDIN=$IN64 socat_listen send
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$PORT"
	done_ok cli 60
	exec {FED_FD}>&-
	done_ok peer 60
	assert_equal "$(nk_sha "$(nk_out cli)")" "$SHA64"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
}

@test "node tls client sends 64 MiB to listen --tls, sha256 equal, close_notify" {
	tls_listen srv server server
	tstart peer node "$PEERJS" client "$PORT" "$CERTS/ca.pem" send "$IN64"
	done_ok srv 60
	done_ok peer 60
	assert_equal "$(nk_sha "$(nk_out srv)")" "$SHA64"
	run nk_events srv socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	[ ! -s "$(nk_out peer)" ]
}

@test "listen --tls sends 64 MiB to a node tls client, sha256 equal" {
	NK_STDIN=$IN64 tls_listen srv server server
	tstart peer node "$PEERJS" client "$PORT" "$CERTS/ca.pem" recv
	done_ok peer 60
	done_ok srv 60
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHA64"
	grep -qx 'peer: secure TLSv1.3 alpn=' "$(nk_err peer)"
}

@test "connect --tls receives 64 MiB from a node tls server, sha256 equal" {
	tstart peer node "$PEERJS" server "$CERTS" send "$IN64"
	peer_on_port peer
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$PORT"
	done_ok cli 60
	exec {FED_FD}>&-
	done_ok peer 60
	assert_equal "$(nk_sha "$(nk_out cli)")" "$SHA64"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
}

@test "connect --tls sends 64 MiB to a node tls server, sha256 equal" {
	tstart peer node "$PEERJS" server "$CERTS" recv
	peer_on_port peer
	NK_STDIN=$IN64 tstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$PORT"
	done_ok cli 60
	done_ok peer 60
	assert_equal "$(nk_sha "$(nk_out peer)")" "$SHA64"
	[ ! -s "$(nk_out cli)" ]
}

@test "gnutls-cli to listen --tls: a line each way" {
	command -v gnutls-cli >/dev/null || skip "gnutls-cli not installed"
	tls_listen srv server server --allow-half-open
	local srv_fd=$FED_FD
	fed peer gnutls-cli --x509cafile="$CERTS/ca.pem" --port="$PORT" localhost
	local peer_fd=$FED_FD
	printf 'from gnutls\n' >&"$peer_fd"
	nk_wait_size "$(nk_out srv)" 12 20
	printf 'from netkit\n' >&"$srv_fd"
	nk_until 20 "gnutls-cli got the line" grep -q '^from netkit$' "$(nk_out peer)"
	exec {srv_fd}>&-
	done_ok srv
	exec {peer_fd}>&-
	nk_wait peer 30
	assert_equal "$(cat "$(nk_out srv)")" "from gnutls"
}

@test "gnutls-serv --echo: netkit connect gets its line back" {
	command -v gnutls-serv >/dev/null || skip "gnutls-serv not installed"
	printf 'echo me\n' >"$T/cin"
	peer_listen peer gnutls-serv --echo --x509certfile="$CERTS/server.pem" \
	    --x509keyfile="$CERTS/server.key" --port=@PORT@
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	assert_equal "$(cat "$(nk_out cli)")" "echo me"
	secure_line cli
	assert_regex "$SECURE" ' authorized=true peer=localhost '
}

# ---------------------------------------------------------------------
# The end of a session: close_notify, FIN, half-close

@test "half-close, connect: stdin EOF sends close_notify then FIN and keeps reading; the answer arrives, exit 0" {
	need_python
	printf 'question' >"$T/cin"
	tstart peer "$PY" "$HALF" "$CERTS"
	peer_on_port peer
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "question"
	assert_equal "$(cat "$(nk_out cli)")" "answer after your end: 8 bytes"
	run grep '^half: ' "$(nk_err peer)"
	assert_output "$(printf 'half: close_notify after 8 bytes\nhalf: then FIN')"
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	[ -z "$(error_lines cli)" ]
}

@test "half-close, connect: a node tls server with allowHalfOpen answers after the client's end" {
	printf 'question' >"$T/cin"
	tstart peer node "$PEERJS" server "$CERTS" half
	peer_on_port peer
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_ok cli
	done_ok peer
	assert_equal "$(cat "$(nk_out peer)")" "question"
	assert_equal "$(cat "$(nk_out cli)")" "after your end: 8 bytes"
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=24 bytes_written=8"
}

@test "half-close, listen: socket.end close_notify=true from a node client, then --allow-half-open answers" {
	printf 'question' >"$T/pin"
	tls_listen srv server server --allow-half-open
	tstart peer node "$PEERJS" client "$PORT" "$CERTS/ca.pem" half "$T/pin"
	nk_wait_line srv '^event=socket\.end '
	run nk_events srv socket.end
	assert_output "event=socket.end id=1 close_notify=true"
	printf 'the answer\n' >&"$FED_FD"
	exec {FED_FD}>&-
	done_ok srv
	done_ok peer
	assert_equal "$(cat "$(nk_out srv)")" "question"
	assert_equal "$(cat "$(nk_out peer)")" "the answer"
	grep -qx 'peer: end' "$(nk_err peer)"
}

# nocn_transfer [CONNECT OPTIONS...]: a Python server sends 300 kB and
# ends TCP without close_notify; connect receives them (its stdin open).
nocn_transfer() {
	need_python
	nk_random "$T/data" 300000
	tstart peer "$PY" "$NOCN" "$CERTS" "$T/data"
	peer_on_port peer
	fed cli "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" "$@" \
	    127.0.0.1 "$PORT"
	done_ok cli
	exec {FED_FD}>&-
	done_ok peer
	cmp "$T/data" "$(nk_out cli)"
}

@test "no close_notify: a peer that just closes TCP ends the session as a FIN would, the data before intact, exit 0" {
	nocn_transfer
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=300000 bytes_written=0"
}

@test "no close_notify: socket.end close_notify=false and the warning line, none with -q" {
	nocn_transfer
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=false"
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: peer closed without close_notify \(data may be truncated\)\$"

	rm -f "$T/cli.fifo" # a second run in the same test
	nocn_transfer -q
	run nk_events cli socket.end
	assert_output "event=socket.end id=1 close_notify=false"
	[ -z "$(error_lines cli)" ]
}

# ---------------------------------------------------------------------
# Handshake failures and timeouts

@test "a peer that does not speak TLS: an ERR_SSL_ code, exit 1, none of stdin sent" {
	printf 'HTTP/1.0 200 OK\r\n\r\nplain text\n' >"$T/pin"
	printf 'secret stdin bytes\n' >"$T/cin"
	NK_STDIN=$T/pin tstart plain "$NETKIT" listen --events -H 127.0.0.1 0
	PORT=$(nk_port plain)
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done_status cli 1
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .+ \(ERR_SSL_[A-Z0-9_]+\)\$"
	run nk_events cli socket.close
	assert_output "event=socket.close id=1 had_error=true bytes_read=0 bytes_written=0"
	nk_wait plain 30
	run grep -c 'secret' "$(nk_out plain)"
	assert_output 0
}

@test "a peer that accepts and never speaks: connect --tls -w 1000 fails with ETIMEDOUT" {
	nk_peer_listen peer read-all
	local t0=$SECONDS
	printf 'never sent\n' >"$T/cin"
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" -w 1000 127.0.0.1 "$PORT"
	done_status cli 1 30
	[ $((SECONDS - t0)) -lt 25 ]
	one_error cli "^netkit: connect 127\.0\.0\.1:$PORT: .+ \(ETIMEDOUT\)\$"
	run nk_events cli socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ETIMEDOUT '
	run bash -c 'grep "^event=" "$1" | tail -n 1' _ "$(nk_err cli)"
	assert_output --regexp '^event=socket\.close id=1 had_error=true bytes_read=0 bytes_written=0$'
	done_ok peer
	run grep -c 'never sent' "$(nk_out peer)"
	assert_output 0
}

@test "listen --tls -t 1000 and a client that connects and never speaks: ETIMEDOUT, socket.close, exit 1" {
	tls_listen srv server server -t 1000
	nk_client peer expect-eof
	done_status srv 1 30
	one_error srv "^netkit: listen 127\.0\.0\.1:[0-9]+: .+ \(ETIMEDOUT\)\$"
	run nk_events srv socket.error
	assert_output --regexp '^event=socket\.error id=1 code=ETIMEDOUT '
	run tail -n 2 "$(nk_err srv)"
	assert_line --index 0 --regexp '^event=socket\.close id=1 had_error=true '
	assert_line --index 1 'event=server.close'
	done_ok peer
}

# ---------------------------------------------------------------------
# Server modes, UNIX sockets, encodings

@test "listen -k --tls: three clients at once, each one's bytes reach stdout, stdin reaches each" {
	tls_listen srv server server -k
	local srv_fd=$FED_FD i fd cfd=()
	for i in 1 2 3; do
		fed "c$i" "$NETKIT" connect --events --tls --tls-ca "$CERTS/ca.pem" \
		    127.0.0.1 "$PORT"
		cfd[i]=$FED_FD
		printf 'from client %s\n' "$i" >&"${cfd[i]}"
	done
	nk_wait_count srv '^event=socket\.secure ' 3 20
	nk_wait_lines "$(nk_out srv)" 3 20
	printf 'to everyone\n' >&"$srv_fd"
	for i in 1 2 3; do
		nk_wait_size "$(nk_out "c$i")" 12 20
		fd=${cfd[i]}
		exec {fd}>&-
	done
	for i in 1 2 3; do
		done_ok "c$i"
		assert_equal "$(cat "$(nk_out "c$i")")" "to everyone"
		secure_line "c$i"
		assert_regex "$SECURE" ' authorized=true peer=localhost '
	done
	nk_wait_count srv '^event=socket\.close ' 3 20
	nk_signal srv TERM
	done_ok srv
	run sort "$(nk_out srv)"
	assert_output "$(printf 'from client 1\nfrom client 2\nfrom client 3')"
	run nk_events srv socket.end
	assert_equal "${#lines[@]}" 3
	for i in 0 1 2; do
		assert_regex "${lines[i]}" '^event=socket\.end id=[123] close_notify=true$'
	done
}

@test "listen -k --tls: a client that fails its handshake does not stop the server" {
	tls_listen srv server server -k --tls-verify-client --tls-ca "$CERTS/ca.pem"
	# Not TLS at all, then TLS without a certificate: both refused.
	run timeout 30 "$NKPEER" script connect 127.0.0.1 "$PORT" \
	    send:'GET / HTTP/1.0\r\n\r\n' read-all
	run timeout 30 "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    127.0.0.1 "$PORT" </dev/null
	assert_failure 1
	nk_wait_count srv '^event=socket\.close ' 2 20
	run nk_events srv socket.error
	assert_equal "${#lines[@]}" 2
	assert_regex "${lines[0]}" '^event=socket\.error id=1 code=ERR_SSL_[A-Z0-9_]+ '
	assert_regex "${lines[1]}" '^event=socket\.error id=2 code=ERR_SSL_[A-Z0-9_]+ '
	run nk_events srv socket.close
	assert_regex "${lines[0]}" '^event=socket\.close id=1 had_error=true bytes_read=0 bytes_written=0$'
	assert_regex "${lines[1]}" '^event=socket\.close id=2 had_error=true bytes_read=0 bytes_written=0$'
	nk_running srv
	# A good client is still served.
	printf 'still here\n' >"$T/cin"
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" \
	    --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key" \
	    127.0.0.1 "$PORT"
	done_ok cli
	nk_wait_lines "$(nk_out srv)" 1 20
	assert_equal "$(cat "$(nk_out srv)")" "still here"
	secure_line srv
	assert_regex "$SECURE" '^event=socket\.secure id=3 .* authorized=true peer=netkit-client '
	nk_signal srv TERM
	done_ok srv
}

@test "echo --tls: 20 clients at once, each verified, each gets its bytes back" {
	tstart srv "$NETKIT" echo --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" -H 127.0.0.1 -p 0
	PORT=$(nk_port srv)
	local i
	for i in $(seq 20); do
		nk_random "$T/in$i" 65536
		NK_STDIN=$T/in$i tstart "c$i" "$NETKIT" connect --events --tls \
		    --tls-ca "$CERTS/ca.pem" 127.0.0.1 "$PORT"
	done
	for i in $(seq 20); do
		done_ok "c$i" 60
		cmp "$T/in$i" "$(nk_out "c$i")"
		secure_line "c$i"
		assert_regex "$SECURE" ' authorized=true peer=localhost '
	done
	nk_wait_count srv '^event=socket\.close ' 20 30
	run nk_events srv socket.close
	for i in $(seq 0 19); do
		assert_regex "${lines[i]}" '^event=socket\.close id=[0-9]+ had_error=false bytes_read=65536 bytes_written=65536$'
	done
	run nk_events srv socket.secure
	assert_equal "${#lines[@]}" 20
	nk_signal srv TERM
	done_ok srv
	[ ! -s "$(nk_out srv)" ]
}

@test "--tls over -U: a UNIX socket, bytes both ways, verified with --tls-servername" {
	local sock=$T/tls.sock
	printf 'over unix\n' >"$T/cin"
	fed srv "$NETKIT" listen --events --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --allow-half-open -U "$sock"
	nk_wait_line srv '^event=server\.listening '
	NK_STDIN=$T/cin tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$CERTS/ca.pem" --tls-servername localhost -U "$sock"
	nk_wait_line srv '^event=socket\.end '
	printf 'and back\n' >&"$FED_FD"
	exec {FED_FD}>&-
	done_ok cli
	done_ok srv
	assert_equal "$(cat "$(nk_out srv)")" "over unix"
	assert_equal "$(cat "$(nk_out cli)")" "and back"
	secure_line cli
	assert_regex "$SECURE" "^event=socket\.secure id=1 protocol=TLSv1\.3 cipher=[^ ]+ alpn=\"\" servername=localhost authorized=true peer=localhost fingerprint256=$SERVER_FP ktls=$KTLS\$"
	secure_line srv
	assert_regex "$SECURE" ' servername=localhost '
	[ ! -e "$sock" ]
}

@test "--tls with --encoding hex: the plaintext, in lowercase hex" {
	printf 'hello\n' >"$T/pin"
	NK_STDIN=$T/pin tls_listen srv server server
	fed cli "$NETKIT" connect --tls --tls-ca "$CERTS/ca.pem" --encoding hex \
	    127.0.0.1 "$PORT"
	done_ok cli
	exec {FED_FD}>&-
	done_ok srv
	assert_equal "$(cat "$(nk_out cli)")" "68656c6c6f0a"
}

# ---------------------------------------------------------------------
# Configuration errors

@test "a key that does not match its certificate: exit 1 at start, one line, before any connection" {
	local cmd
	for cmd in listen echo; do
		run --separate-stderr timeout 10 "$NETKIT" "$cmd" --events --tls \
		    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/client.key" \
		    -H 127.0.0.1 -p 0
		assert_equal "$cmd $status" "$cmd 1"
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" "^netkit: $cmd .*\(ERR_SSL_KEY_VALUES_MISMATCH\)\$"
	done
	nk_listen plain -H 127.0.0.1
	run --separate-stderr timeout 10 "$NETKIT" connect --events --tls \
	    --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/server.key" \
	    127.0.0.1 "$PORT"
	assert_equal "$status" 1
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" '^netkit: connect .*\(ERR_SSL_KEY_VALUES_MISMATCH\)$'
}

@test "a missing --tls-cert or --tls-key file: exit 1, one line naming it" {
	run --separate-stderr timeout 10 "$NETKIT" listen --tls \
	    --tls-cert "$T/none.pem" --tls-key "$CERTS/server.key" -H 127.0.0.1 0
	assert_equal "$status" 1
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^netkit: listen .*$(rx "$T/none.pem").*\([A-Z0-9_]+\)\$"

	run --separate-stderr timeout 10 "$NETKIT" echo --tls \
	    --tls-cert "$CERTS/server.pem" --tls-key "$T/none.key" -p 0
	assert_equal "$status" 1
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^netkit: echo .*$(rx "$T/none.key").*\([A-Z0-9_]+\)\$"
}

@test "a missing --tls-ca file: exit 1 at start, one line naming it" {
	nk_listen plain -H 127.0.0.1
	NK_STDIN=/dev/null tstart cli "$NETKIT" connect --events --tls \
	    --tls-ca "$T/none-ca.pem" 127.0.0.1 "$PORT"
	done_status cli 1
	one_error cli "^netkit: connect .*$(rx "$T/none-ca.pem").*\([A-Z0-9_]+\)\$"
	# Before any connection.
	run nk_events cli socket.connect
	assert_output ""
}

@test "a missing --tls-cert file names ENOENT" {
	run --separate-stderr timeout 10 "$NETKIT" listen --tls \
	    --tls-cert "$T/none.pem" --tls-key "$CERTS/server.key" -H 127.0.0.1 0
	assert_equal "$status" 1
	assert_regex "$stderr" "^netkit: listen .*$(rx "$T/none.pem").*\(ENOENT\)\$"
}

# usage ARGS...: netkit ARGS is a usage error: exit 2, one line.
usage() {
	run --separate-stderr timeout 10 "$NETKIT" "$@"
	assert_equal "netkit $* => $status" "netkit $* => 2"
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" '^netkit: '
	assert_output ""
}

@test "usage: listen and echo --tls without --tls-cert and --tls-key" {
	usage listen --tls 0
	usage listen --tls --tls-cert "$CERTS/server.pem" 0
	usage listen --tls --tls-key "$CERTS/server.key" 0
	usage echo --tls -p 0
	usage echo --tls --tls-cert "$CERTS/server.pem" -p 0
}

@test "usage: --tls-* options without --tls" {
	usage connect --tls-ca "$CERTS/ca.pem" 127.0.0.1 9
	usage connect --tls-servername localhost 127.0.0.1 9
	usage connect --tls-insecure 127.0.0.1 9
	usage connect --tls-alpn h2 127.0.0.1 9
	usage connect --tls-min-version 1.3 127.0.0.1 9
	usage connect --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key" 127.0.0.1 9
	usage listen --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" 0
	usage listen --tls-verify-client --tls-ca "$CERTS/ca.pem" 0
	usage echo --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" -p 0
}

@test "usage: --tls-verify-client without --tls-ca" {
	usage listen --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-verify-client 0
	usage echo --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-verify-client -p 0
}

@test "usage: --tls-min-version other than 1.2 or 1.3" {
	local v
	for v in 1.1 1.0 1.4 13 ''; do
		usage connect --tls --tls-min-version "$v" 127.0.0.1 9
	done
	usage listen --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-min-version 1.1 0
}

@test "usage: options that do not apply (--tls-insecure, --tls-servername on a server; --tls-verify-client on connect)" {
	usage listen --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-insecure 0
	usage echo --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-insecure -p 0
	usage listen --tls --tls-cert "$CERTS/server.pem" \
	    --tls-key "$CERTS/server.key" --tls-servername localhost 0
	usage connect --tls --tls-verify-client --tls-ca "$CERTS/ca.pem" 127.0.0.1 9
}

# -e over TLS: the command sees plaintext (a socket pair bridged to the
# session), NETKIT_* name the connection, socket.close counts plaintext.
@test "listen --tls -e: the command sees plaintext and the peer's address; exit is the command's" {
	nk_start srv "$NETKIT" listen --events --tls \
	    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    -H 127.0.0.1 -e 'echo "peer $NETKIT_REMOTE_ADDR"; tr a-z A-Z; exit 7' 0
	PORT=$(nk_port srv)
	run --separate-stderr bash -c "printf 'hello tls' | timeout 20 \
	    \"\$NETKIT\" connect --tls --tls-ca '$CERTS/ca.pem' 127.0.0.1 $PORT"
	[ "$status" -eq 0 ]
	[ "$output" = "peer 127.0.0.1
HELLO TLS" ]
	nk_wait srv 20
	[ "$NK_STATUS" -eq 7 ]
	run nk_events srv socket.close
	assert_output "event=socket.close id=1 had_error=false bytes_read=9 bytes_written=24"
}

@test "connect --tls -e: the command talks to the server in plaintext; exit is the command's" {
	printf 'server line\n' >"$T/srv.in"
	NK_STDIN=$T/srv.in tls_listen srv2 server server
	run --separate-stderr timeout 20 "$NETKIT" connect --tls \
	    --tls-ca "$CERTS/ca.pem" -e 'read x; echo "got: $x"; exit 3' \
	    127.0.0.1 "$PORT"
	[ "$status" -eq 3 ]
	nk_wait srv2 20
	[ "$(cat "$(nk_out srv2)")" = "got: server line" ]
}

@test "listen -k --tls -e: each client its own command, plaintext both ways" {
	local i
	nk_start srv "$NETKIT" listen -k --events --tls \
	    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
	    -H 127.0.0.1 -e 'tr a-z A-Z' 0
	PORT=$(nk_port srv)
	for i in 1 2 3; do
		run bash -c "printf 'client $i' | timeout 20 \"\$NETKIT\" connect \
		    --tls --tls-ca '$CERTS/ca.pem' 127.0.0.1 $PORT"
		[ "$status" -eq 0 ]
		[ "$output" = "CLIENT $i" ]
	done
	nk_wait_line srv '^event=socket\.close id=3 '
	[ "$(nk_events srv socket.close | grep -c 'had_error=false')" -eq 3 ]
}
