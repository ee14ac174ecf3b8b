#!/usr/bin/env node
/*
 * otlp_check.mjs: reads an OTLP/HTTP JSON body (an ExportTraceServiceRequest)
 * on stdin and checks it strictly against the OTLP protobuf schema, as
 * OpenTelemetry itself generated it: the static protobufjs module that
 * @opentelemetry/otlp-transformer ships (build/src/generated/root.js, made by
 * pbjs from opentelemetry-proto's .proto files). Exit 0 and "ok ..." on
 * stdout when the body is valid; exit 1 and the first problem, with its
 * JSON path, on stderr when it is not. Used by tests/unit/aggregator/test_otlp.c.
 *
 * Why this is strict. protobufjs's fromObject() alone is lenient: it drops
 * unknown fields, coerces "2" or true to whatever a field wants, reads a
 * string id as base64, and keeps an enum number the schema does not have.
 * So the body goes through the schema and back, and what comes back must be
 * the body, exactly:
 *
 *   1. stdin must be valid UTF-8 (TextDecoder fatal), valid JSON (JSON.parse)
 *      and have no key twice in an object (a proto3 JSON parser such as Go's
 *      protojson refuses duplicate fields; JSON.parse keeps the last one).
 *   2. Every trace and span id (spans' traceId, spanId, parentSpanId, links'
 *      traceId, spanId) must be a string of lowercase hex of its exact
 *      length (32 digits for a trace id, 16 for a span id; a parentSpanId may
 *      also be "" for a root) and not all zeros (OTLP: an all-zero id is
 *      invalid). OTLP JSON differs from the proto3 JSON mapping there: ids
 *      are hex, not base64. They are turned into bytes for the next step.
 *   3. fromObject() builds the ExportTraceServiceRequest message (a list
 *      that is not an array, a message that is not an object throw), and
 *      verify() checks every field's type against the schema: an enum value
 *      the schema does not list (a span kind of 9, a status code of 3) fails
 *      here, and so do two members of one oneof (an AnyValue with both
 *      stringValue and intValue).
 *   4. The message is encoded to protobuf's binary form and decoded again,
 *      then turned back into OTLP JSON the way the mapping prints it:
 *      64-bit integers (the fixed64 times, int64 intValue) as decimal
 *      strings, enums as numbers, ids as lowercase hex, other bytes as
 *      base64, fields at their default that were not given left out.
 *   5. That must equal the input, key for key and type for type. This is
 *      what catches everything fromObject() forgave: an unknown field (top
 *      level or nested, a snake_case name like trace_id included) is not in
 *      the decoded message; a number where the mapping prints a string
 *      ("intValue": 200, "startTimeUnixNano": 1700000000000000000) comes
 *      back a string; a string where a number or a bool belongs ("kind": "2",
 *      "kind": "SPAN_KIND_SERVER", "boolValue": "true") comes back another
 *      type or not at all; a non-decimal or padded time ("0123", "1e9", "-5")
 *      comes back different; a float where an integer belongs comes back cut.
 *   6. Then what OTLP requires beyond the schema's types: every span has a
 *      trace id, a span id and a non-empty name, and does not end before it
 *      starts.
 *
 * Note on 5: the proto3 JSON mapping lets a parser also accept 64-bit
 * integers as JSON numbers (collectors do); this checker accepts only what a
 * conforming printer writes, the canonical form, which is what the exporter
 * promises (docs/otlp.md) and the one form every receiver reads right (a
 * JSON number past 2^53, a nanosecond time, loses digits in a JavaScript
 * receiver).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const { util: pbutil } = require('protobufjs/minimal');
const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

class Invalid extends Error {}

function fail(path, why) {
	throw new Invalid(`${path || '(top)'}: ${why}`);
}

/* Step 1: a key twice in one object. The text is already valid JSON. */
function checkDuplicateKeys(text) {
	const stack = []; /* {obj: bool, keys: Set, wantKey: bool} */
	for (let i = 0; i < text.length; i++) {
		const c = text[i];
		const top = stack[stack.length - 1];
		if (c === '"') {
			let j = i + 1;
			while (text[j] !== '"')
				j += text[j] === '\\' ? 2 : 1;
			if (top && top.obj && top.wantKey) {
				const key = JSON.parse(text.slice(i, j + 1));
				if (top.keys.has(key))
					fail('', `the key "${key}" appears twice in one object (at byte ${i})`);
				top.keys.add(key);
				top.wantKey = false;
			}
			i = j;
		} else if (c === '{') {
			stack.push({ obj: true, keys: new Set(), wantKey: true });
		} else if (c === '[') {
			stack.push({ obj: false });
		} else if (c === '}' || c === ']') {
			stack.pop();
		} else if (c === ',' && top && top.obj) {
			top.wantKey = true;
		}
	}
}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isBytes = (v) => v instanceof Uint8Array;

/*
 * The id fields of OTLP JSON in @req: [holder, key, bytes, path, may be
 * empty]. Only where the structure is right; anything else fails later.
 */
function idFields(req) {
	const out = [];
	const arr = (v) => (Array.isArray(v) ? v : []);
	arr(req.resourceSpans).forEach((rs, i) => {
		arr(isObj(rs) ? rs.scopeSpans : null).forEach((ss, j) => {
			arr(isObj(ss) ? ss.spans : null).forEach((sp, k) => {
				if (!isObj(sp))
					return;
				const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
				out.push([sp, 'traceId', 16, `${at}.traceId`, false]);
				out.push([sp, 'spanId', 8, `${at}.spanId`, false]);
				out.push([sp, 'parentSpanId', 8, `${at}.parentSpanId`, true]);
				arr(sp.links).forEach((ln, l) => {
					if (!isObj(ln))
						return;
					out.push([ln, 'traceId', 16, `${at}.links[${l}].traceId`, false]);
					out.push([ln, 'spanId', 8, `${at}.links[${l}].spanId`, false]);
				});
			});
		});
	});
	return out;
}

/* Step 2: each hex id into bytes, in a copy of @req. */
function idsToBytes(req) {
	const copy = structuredClone(req);
	for (const [holder, key, len, path, mayBeEmpty] of idFields(copy)) {
		if (!(key in holder))
			continue; /* a span without its ids fails in step 6 */
		const v = holder[key];
		if (typeof v !== 'string')
			fail(path, `an id is a string of hex digits, not ${JSON.stringify(v)}`);
		if (v === '' && mayBeEmpty) {
			holder[key] = new Uint8Array(0);
			continue;
		}
		if (!/^[0-9a-f]*$/.test(v))
			fail(path, `"${v}" is not lowercase hex`);
		if (v.length !== 2 * len)
			fail(path, `"${v}" has ${v.length} hex digits, not ${2 * len}`);
		if (/^0+$/.test(v))
			fail(path, 'an all-zero id is invalid');
		holder[key] = Buffer.from(v, 'hex');
	}
	return copy;
}

/* Step 4, after the decode: ids back to hex, other bytes to base64 (the proto3 mapping). */
function bytesToJson(obj) {
	for (const [holder, key] of idFields(obj))
		if (isBytes(holder[key]))
			holder[key] = Buffer.from(holder[key]).toString('hex');
	const walk = (v) => {
		if (Array.isArray(v)) {
			v.forEach((x, i) => (isBytes(x) ? (v[i] = Buffer.from(x).toString('base64')) : walk(x)));
		} else if (isObj(v)) {
			for (const k of Object.keys(v))
				isBytes(v[k]) ? (v[k] = Buffer.from(v[k]).toString('base64')) : walk(v[k]);
		}
	};
	walk(obj);
	return obj;
}

const kindOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/* Step 5: @got (the input) must be @want (what came back), exactly. */
function sameJson(got, want, path) {
	if (kindOf(got) !== kindOf(want))
		fail(path, `${JSON.stringify(got)} is a ${kindOf(got)} where the schema's JSON ` +
			`form is ${JSON.stringify(want)}, a ${kindOf(want)}`);
	if (Array.isArray(got)) {
		if (got.length !== want.length)
			fail(path, `${got.length} items, ${want.length} after the round trip`);
		got.forEach((x, i) => sameJson(x, want[i], `${path}[${i}]`));
	} else if (isObj(got)) {
		const at = (k) => (path ? `${path}.${k}` : k);
		for (const k of Object.keys(got))
			if (!(k in want))
				fail(at(k), 'not a field of the schema here, or a value it cannot hold ' +
					'(an empty list the JSON form would leave out)');
		for (const k of Object.keys(want))
			if (!(k in got))
				fail(at(k), 'appeared in the round trip');
		for (const k of Object.keys(got))
			sameJson(got[k], want[k], at(k));
	} else if (got !== want) {
		fail(path, `${JSON.stringify(got)} comes back as ${JSON.stringify(want)}`);
	}
}

/* Step 6: what OTLP asks of a span beyond its types. */
function checkSpans(req) {
	let n = 0;
	for (const [i, rs] of (req.resourceSpans || []).entries())
		for (const [j, ss] of (rs.scopeSpans || []).entries())
			for (const [k, sp] of (ss.spans || []).entries()) {
				const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
				n++;
				if (!sp.traceId)
					fail(`${at}.traceId`, 'a span needs a trace id');
				if (!sp.spanId)
					fail(`${at}.spanId`, 'a span needs a span id');
				if (!sp.name)
					fail(`${at}.name`, 'a span needs a name');
				if (BigInt(sp.endTimeUnixNano || 0) < BigInt(sp.startTimeUnixNano || 0))
					fail(`${at}.endTimeUnixNano`, 'the span ends before it starts');
			}
	return n;
}

function check(bytes) {
	let text, req;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		fail('', 'the body is not valid UTF-8');
	}
	try {
		req = JSON.parse(text);
	} catch (e) {
		fail('', `not JSON: ${e.message}`);
	}
	if (!isObj(req))
		fail('', 'the body is not a JSON object');
	checkDuplicateKeys(text);
	let msg;
	try {
		msg = Request.fromObject(idsToBytes(req));
	} catch (e) {
		if (e instanceof Invalid)
			throw e;
		fail('', `the schema refuses it: ${e.message}`);
	}
	const why = Request.verify(msg);
	if (why)
		fail('', `the schema refuses it: ${why}`);
	const back = Request.decode(Request.encode(msg).finish());
	const want = bytesToJson(Request.toObject(back, {
		longs: String, enums: Number, defaults: false, arrays: false, objects: false,
		oneofs: false,
	}));
	sameJson(req, want, '');
	const spans = checkSpans(req);
	return `ok: ${(req.resourceSpans || []).length} resourceSpans, ${spans} spans`;
}

if (!pbutil.Long)
	/* without it 64-bit integers are doubles and step 5 would fail valid times */
	throw new Error('protobufjs has no Long support: is the "long" package installed?');
try {
	console.log(check(readFileSync(0)));
} catch (e) {
	if (!(e instanceof Invalid))
		throw e;
	console.error(`otlp_check: ${e.message}`);
	process.exit(1);
}
