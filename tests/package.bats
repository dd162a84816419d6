#!/usr/bin/env bats
#
# The Debian package (debian/): dpkg-buildpackage builds it from a copy of
# the source tree, never in the tree itself (its clean step would remove
# the developer's build); the .deb is unpacked into a scratch root and its
# files are used from there; lintian finds no error in it. The build
# compiles netkit once: about a minute. scripts/bootstrap installs
# dpkg-dev, debhelper and lintian, so CI never skips this file.

load helpers

bats_require_minimum_version 1.5.0

# The source tree: the tests' own, as given by make check.
pkg_top() { (cd "${NETKIT_TESTS:-$BATS_TEST_DIRNAME}/.." && pwd -P); }

# pkg_copy DIR: the source files into DIR. In a git work tree whose top
# this is: the tracked and untracked files git does not ignore, as they
# are now. Otherwise (an unpacked release): its files but the build and
# install directories of make distcheck, made writable.
pkg_copy() {
	local top dest=$1
	top=$(pkg_top)
	if [ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ]; then
		(cd "$top" && git ls-files -z -co --exclude-standard |
		    while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf -) | tar -xf - -C "$dest"
	else
		tar -C "$top" --exclude=./_build --exclude=./_inst -cf - . |
		    tar -xf - -C "$dest"
		chmod -R u+w "$dest"
	fi
}

setup() {
	[ -z "${NETKIT_PACKAGE_ONCE:-}" ] ||
	    skip "the package is built once per CI run (its -Werror run)"
}

setup_file() {
	local tool
	# .ci/run builds the package in its -Werror run; the sanitizer runs
	# would build the same package again (a build that no sanitizer
	# instruments).
	[ -z "${NETKIT_PACKAGE_ONCE:-}" ] || return 0
	for tool in dpkg-buildpackage dh lintian man; do
		command -v "$tool" >/dev/null ||
		    skip "$tool is not installed (scripts/bootstrap installs it)"
	done
	PKG=$BATS_FILE_TMPDIR/pkg
	mkdir -p "$PKG/netkit" "$PKG/root"
	pkg_copy "$PKG/netkit"
	# Not the make of make check: its jobserver and flags stay out.
	(cd "$PKG/netkit" &&
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    DEB_BUILD_OPTIONS=noautodbgsym \
	    timeout 1200 dpkg-buildpackage -us -uc -b) >"$PKG/build.log" 2>&1
	echo $? >"$PKG/build.status"
	DEB=$(ls "$PKG"/netkit_*.deb 2>/dev/null | head -n 1)
	[ -z "$DEB" ] || dpkg -x "$DEB" "$PKG/root"
	export PKG DEB
}

# pkg_built: the build exited 0 and left one netkit .deb; else its log.
pkg_built() {
	if [ "$(cat "$PKG/build.status")" != 0 ] || [ -z "$DEB" ]; then
		echo "dpkg-buildpackage failed ($(cat "$PKG/build.status")):" >&2
		tail -n 40 "$PKG/build.log" >&2
		return 1
	fi
}

@test "dpkg-buildpackage -us -uc -b builds netkit_VERSION_ARCH.deb" {
	pkg_built
	local version arch
	version=$(dpkg-parsechangelog -l "$PKG/netkit/debian/changelog" -S Version)
	arch=$(dpkg --print-architecture)
	[ "$DEB" = "$PKG/netkit_${version}_$arch.deb" ]
	[ "$(dpkg-deb -f "$DEB" Package)" = netkit ]
	# The libraries it links come from ${shlibs:Depends}.
	dpkg-deb -f "$DEB" Depends | grep -q 'libevent'
	dpkg-deb -f "$DEB" Depends | grep -q 'libssl3'
	# The build linted the manual page, and ran no test suite.
	grep -q 'mandoc -T lint' "$PKG/build.log"
	! grep -q 'make.* check' "$PKG/build.log"
}

@test "the package's version is configure.ac's, with a Debian revision" {
	pkg_built
	local upstream version
	upstream=$(sed -nE 's/^AC_INIT\(\[netkit\], \[([^]]+)\].*/\1/p' \
	    "$PKG/netkit/configure.ac")
	[ -n "$upstream" ]
	version=$(dpkg-deb -f "$DEB" Version)
	[ "${version%-*}" = "$upstream" ]
	[ "$version" != "$upstream" ]
}

@test "the installed netkit runs: --version, and a relay through its echo" {
	pkg_built
	local nk=$PKG/root/usr/bin/netkit upstream port
	upstream=$(dpkg-deb -f "$DEB" Version)
	run "$nk" --version
	[ "$status" -eq 0 ]
	[ "$output" = "netkit ${upstream%-*}" ]
	nk_start srv "$nk" echo -U "$BATS_TEST_TMPDIR/e.sock" --events
	nk_wait_line srv 'server\.listening'
	run bash -c "printf hello | timeout 10 '$nk' connect -U '$BATS_TEST_TMPDIR/e.sock'"
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
}

@test "man finds netkit(1) in the installed files" {
	pkg_built
	run man -M "$PKG/root/usr/share/man" -w netkit
	[ "$status" -eq 0 ]
	[ "$output" = "$PKG/root/usr/share/man/man1/netkit.1.gz" ]
	run env MANPATH="$PKG/root/usr/share/man" man -w netkit
	[ "$output" = "$PKG/root/usr/share/man/man1/netkit.1.gz" ]
	zcat "$output" | grep -q '^\.Dt NETKIT 1'
}

@test "the bash completion is installed where bash-completion looks, and completes" {
	pkg_built
	local comp=$PKG/root/usr/share/bash-completion/completions/netkit
	[ -f "$comp" ]
	run bash --norc --noprofile -c '
		source "$1" || exit 3
		PATH=$2:$PATH
		COMP_WORDS=(netkit conn)
		COMP_CWORD=1
		COMP_LINE="netkit conn"
		COMP_POINT=${#COMP_LINE}
		_netkit netkit conn netkit
		printf "%s\n" "${COMPREPLY[@]}"' sh "$comp" "$PKG/root/usr/bin"
	[ "$status" -eq 0 ]
	[ "$output" = connect ]
}

@test "README and the copyright file are in /usr/share/doc/netkit" {
	pkg_built
	local doc=$PKG/root/usr/share/doc/netkit
	[ -f "$doc/copyright" ]
	grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
	    "$doc/copyright"
	[ -f "$doc/README.md.gz" ] || [ -f "$doc/README.md" ]
	[ -f "$doc/changelog.Debian.gz" ]
}

@test "lintian: no error on the .deb" {
	pkg_built
	run --separate-stderr lintian "$DEB"
	# Its warnings and notes go to the test's log.
	printf '%s\n' "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ]
	! printf '%s\n' "$output" | grep -q '^E:'
}

@test "the build left the source tree alone" {
	local top
	top=$(pkg_top)
	[ ! -e "$top/debian/netkit" ]
	[ ! -e "$top/debian/.debhelper" ]
	[ ! -e "$top/debian/files" ]
}
