#!/usr/bin/env node
// The differential corpus for "netkit isip", and Node's own answers for it.
//
//   node isip-corpus.js [COUNT]        print COUNT (default 50000) tricky
//                                      strings, one per line, always the
//                                      same ones (seeded PRNG)
//   node isip-corpus.js --node [-4|-6] print net.isIP() (or isIPv4/isIPv6,
//                                      as true/false) for each stdin line,
//                                      the way "netkit isip" reads them
//
// Strings never contain "\n"; non-ASCII ones are valid UTF-8, so Node and
// netkit see the same characters.
'use strict';

const net = require('net');

// Answer for each line of stdin, streaming, as "netkit isip" does.
function reference(flag) {
	const fn = flag === '-4' ? (s) => String(net.isIPv4(s))
	    : flag === '-6' ? (s) => String(net.isIPv6(s))
	    : (s) => String(net.isIP(s));
	let rest = '';
	process.stdin.setEncoding('utf8');
	process.stdin.on('data', (chunk) => {
		const lines = (rest + chunk).split('\n');
		rest = lines.pop();
		if (lines.length > 0)
			process.stdout.write(lines.map(fn).join('\n') + '\n');
	});
	process.stdin.on('end', () => {
		if (rest !== '')
			process.stdout.write(fn(rest) + '\n');
	});
}

// mulberry32: a small seeded PRNG, so the corpus is the same every run.
function prng(seed) {
	return function () {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function generate(count) {
	const rnd = prng(0x15e1b);
	const int = (n) => Math.floor(rnd() * n);
	const pick = (a) => a[int(a.length)];
	const chance = (p) => rnd() < p;
	const out = [];
	const emit = (s) => out.push(s.replace(/\n/g, ''));

	const HEX = '0123456789abcdefABCDEF';
	const OCTETS = ['0', '00', '01', '001', '000', '1', '9', '10', '09',
	    '99', '100', '199', '200', '249', '250', '255', '256', '260', '300',
	    '999', '1000', '0255', '-1', '+1', ' 1', '1 ', '', 'a', '0x1',
	    '1e1', '٣', '１'];
	const ZONECH = 'abcxyzAZ09-.:';
	const ODD = [' ', '\t', '\r', '\0', '%', '[', ']', '/', '_', '+', ',',
	    ';', '#', '@', '~', '*', '\\', '"', "'", 'g', 'G', 'x', 'X', 'z',
	    'é', '\u00a0', '１', '٣', '😀', '\u200b', '\ufeff', '\u0085'];
	const ALPHA = HEX + ':::...%%' + ZONECH + ODD.join('');

	const octet = () => chance(0.9) ? String(int(256)) : pick(OCTETS);
	const v4 = () => [octet(), octet(), octet(), octet()].join('.');
	const group = () => {
		let g = '';
		const n = 1 + int(chance(0.1) ? 6 : 4);
		for (let i = 0; i < n; i++)
			g += HEX[int(HEX.length)];
		return g;
	};
	const zone = () => {
		let z = '';
		const n = int(8);
		for (let i = 0; i < n; i++)
			z += chance(0.95) ? ZONECH[int(ZONECH.length)] : pick(ODD);
		return '%' + z;
	};
	// An IPv6 address: ngroups groups, "::" at position cut (or none),
	// maybe an IPv4 address as the last two groups, maybe a zone id.
	const v6 = () => {
		const tail = chance(0.25);
		const n = tail ? int(8) : int(10);
		const groups = [];
		for (let i = 0; i < n; i++)
			groups.push(group());
		let s;
		if (chance(0.7)) {
			const cut = int(n + 1);
			s = groups.slice(0, cut).join(':') + '::' +
			    groups.slice(cut).join(':');
			if (tail)
				s += (cut < n ? ':' : '') + v4();
		} else {
			s = groups.join(':');
			if (tail)
				s += (n > 0 ? ':' : '') + v4();
		}
		if (chance(0.2))
			s += zone();
		return s;
	};
	// Small edits: insert, delete, replace, duplicate, truncate.
	const mutate = (s) => {
		const k = int(4);
		for (let i = 0; i < k; i++) {
			const at = int(s.length + 1);
			switch (int(7)) {
			case 0:
				s = s.slice(0, at) + ALPHA[int(ALPHA.length)] +
				    s.slice(at);
				break;
			case 1:
				s = s.slice(0, at) + s.slice(at + 1);
				break;
			case 2:
				s = s.slice(0, at) + pick(ODD.concat(
				    [':', '.', '::', '0', 'f'])) + s.slice(at + 1);
				break;
			case 3:
				s = s.slice(0, at) + s.slice(int(s.length)) ;
				break;
			case 4:
				s = s.slice(0, at) + '0' + s.slice(at);
				break;
			case 5:
				s = s.slice(0, at) + pick([':', '::', '.',
				    '%', ':' + group()]) + s.slice(at);
				break;
			default:
				s = s + s.slice(0, at);
				break;
			}
		}
		return s;
	};

	// Every shape of IPv6 address: k groups, "::" or not, m groups,
	// IPv4 tail or not, zone id or not.
	for (let k = 0; k <= 9; k++) {
		for (let m = 0; m <= 9; m++) {
			for (const sep of ['::', ':', ':::', '']) {
				for (const tail of [false, true]) {
					const l = Array.from({ length: k }, group);
					const r = Array.from({ length: m }, group);
					let s = l.join(':') + sep + r.join(':');
					if (tail)
						s += (m > 0 ? ':' : '') + v4();
					emit(s);
					emit(s + '%eth0');
				}
			}
		}
	}
	// Every octet shape in every position.
	for (const o of OCTETS) {
		for (let pos = 0; pos < 4; pos++) {
			const q = ['1', '2', '3', '4'];
			q[pos] = o;
			emit(q.join('.'));
			emit('::ffff:' + q.join('.'));
		}
	}
	// Every ASCII character and a few others, alone and in a zone id.
	for (let c = 0; c < 128; c++) {
		if (c === 10)
			continue;
		const ch = String.fromCharCode(c);
		emit(ch);
		emit('fe80::1%' + ch);
		emit('fe80::1%a' + ch + 'b');
		emit('1.2.3.4' + ch);
		emit(ch + '::1');
	}
	for (const ch of ODD)
		emit('::1%' + ch);
	emit('');

	while (out.length < count) {
		const r = rnd();
		if (r < 0.2)
			emit(v4());
		else if (r < 0.45)
			emit(v6());
		else if (r < 0.65)
			emit(mutate(v4()));
		else if (r < 0.9)
			emit(mutate(v6()));
		else if (r < 0.97) {
			let s = '';
			const n = int(20);
			for (let i = 0; i < n; i++)
				s += ALPHA[int(ALPHA.length)];
			emit(s);
		} else
			emit('');
	}
	out.length = count > out.length ? out.length : count;
	return out;
}

if (process.argv[2] === '--node')
	reference(process.argv[3]);
else {
	const count = process.argv[2] !== undefined ?
	    parseInt(process.argv[2], 10) : 50000;
	process.stdout.write(generate(count).join('\n') + '\n');
}
