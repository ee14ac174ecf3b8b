// Validates recorded HTTP exchanges against the response schemas of an
// OpenAPI 3.1 document (docs/openapi.yaml), with ajv 8 in the JSON Schema
// 2020-12 dialect that OpenAPI 3.1 uses, and ajv-formats.
//
//   node openapi_check.mjs SPEC.yaml EXCHANGES.json
//
// EXCHANGES.json is an array of
//   {method, path, pattern, status, content_type, body}
// where path is the concrete path asked, pattern the route pattern it
// matched (null when no route has the path, or none has its method: a 404
// or 405 that the dispatcher answers, checked against the Error envelope),
// status the HTTP status, and body the response body (a string, or the
// parsed JSON). Each exchange is checked against
// paths[pattern][method].responses[status] (exactly that status, or its
// range such as "4XX"; `default` does not count: the spec must name every
// status a route answers) and the schema of its media type.
//
// Prints `ok N - METHOD PATH STATUS` or `not ok N - ...` with the
// validator's errors for each, then a summary; exits 0 when all are ok,
// 1 when one is not, 2 on bad arguments or a spec that does not compile.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const SPEC_ID = "https://prp.invalid/openapi.json";

function die(msg) {
	console.error(`openapi_check: ${msg}`);
	process.exit(2);
}

if (process.argv.length !== 4)
	die("usage: node openapi_check.mjs SPEC.yaml EXCHANGES.json");
const [specPath, exPath] = process.argv.slice(2);

let spec, exchanges;
try {
	spec = YAML.parse(readFileSync(specPath, "utf8"));
} catch (e) {
	die(`cannot read '${specPath}': ${e.message}`);
}
try {
	exchanges = JSON.parse(readFileSync(exPath, "utf8"));
} catch (e) {
	die(`cannot read '${exPath}': ${e.message}`);
}
if (!Array.isArray(exchanges))
	die(`'${exPath}' is not an array of exchanges`);
if (!/^3\.1\./.test(String(spec.openapi)))
	die(`'${specPath}' is OpenAPI ${spec.openapi}, not 3.1`);

// Resolves a local "#/a/b" reference of the document (responses, media
// types: the OpenAPI-level objects; schemas are left to ajv).
function deref(obj) {
	const seen = new Set();
	while (obj && typeof obj === "object" && typeof obj.$ref === "string") {
		const ref = obj.$ref;
		if (!ref.startsWith("#/") || seen.has(ref))
			throw new Error(`cannot resolve $ref '${ref}'`);
		seen.add(ref);
		obj = ref
			.slice(2)
			.split("/")
			.map((s) => decodeURIComponent(s).replace(/~1/g, "/").replace(/~0/g, "~"))
			.reduce((o, k) => (o == null ? undefined : o[k]), spec);
		if (obj === undefined)
			throw new Error(`$ref '${ref}' points at nothing`);
	}
	return obj;
}

// Every schema $ref of the document is "#/components/schemas/X"; inside
// ajv the components are the schema SPEC_ID, so a reference becomes
// SPEC_ID + "#/$defs/X", resolvable from any schema compiled here.
function rewriteRefs(node) {
	if (Array.isArray(node))
		return node.map(rewriteRefs);
	if (!node || typeof node !== "object")
		return node;
	const out = {};
	for (const [k, v] of Object.entries(node)) {
		if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/"))
			out[k] = `${SPEC_ID}#/$defs/${v.slice("#/components/schemas/".length)}`;
		else
			out[k] = rewriteRefs(v);
	}
	return out;
}

const ajv = new Ajv2020({
	allErrors: true,
	strict: true,
	strictTypes: false, // `minimum` next to type: [integer, "null"] and the like
	strictRequired: false,
	allowUnionTypes: true, // type: [string, "null"] is how 3.1 says nullable
	validateFormats: true,
});
addFormats(ajv);
// OpenAPI's own schema keywords (3.1 §4.8.24) and its numeric formats,
// which ajv-formats checks for integers only as far as the range goes
ajv.addVocabulary(["example", "discriminator", "xml", "externalDocs"]);
for (const f of ["int32", "int64", "float", "double"]) {
	if (!ajv.formats[f])
		ajv.addFormat(f, { type: "number", validate: () => true });
}

try {
	ajv.addSchema({ $id: SPEC_ID, $defs: rewriteRefs(spec.components?.schemas ?? {}) });
	ajv.getSchema(SPEC_ID); // compiles every schema now, in strict mode
} catch (e) {
	die(`the schemas of '${specPath}' do not compile: ${e.message}`);
}

const compiled = new Map(); // schema object -> validate function
function validator(schema) {
	let v = compiled.get(schema);
	if (!v) {
		v = ajv.compile(rewriteRefs(schema));
		compiled.set(schema, v);
	}
	return v;
}

// The Error envelope a route-less 404/405 answers with.
const errorResponse = spec.components?.responses?.Error;

function responseFor(x) {
	if (x.pattern == null) {
		if (x.status !== 404 && x.status !== 405)
			return { err: `status ${x.status} with no route (only 404 and 405 are answered there)` };
		if (!errorResponse)
			return { err: "the spec has no components/responses/Error" };
		return { resp: errorResponse, where: "components/responses/Error" };
	}
	const item = spec.paths?.[x.pattern];
	if (!item)
		return { err: `no path '${x.pattern}' in the spec` };
	const op = item[String(x.method).toLowerCase()];
	if (!op)
		return { err: `no operation ${x.method} ${x.pattern} in the spec` };
	const responses = op.responses ?? {};
	const key = [String(x.status), `${String(x.status)[0]}XX`].find((k) => k in responses);
	if (!key)
		return { err: `${x.method} ${x.pattern} has no response for status ${x.status} (statuses: ${Object.keys(responses).join(", ")})` };
	return { resp: deref(responses[key]), where: `${x.method} ${x.pattern} ${key}` };
}

function checkOne(x) {
	const problems = [];
	const { resp, where, err } = responseFor(x);
	if (err)
		return [err];
	const content = resp.content;
	if (!content || Object.keys(content).length === 0) {
		if (x.body !== undefined && x.body !== null && x.body !== "")
			problems.push(`${where} has no content, but a body came`);
		return problems;
	}
	const ctype = String(x.content_type ?? "").split(";")[0].trim().toLowerCase();
	const media = deref(content[ctype]);
	if (!media)
		return [`${where}: content type '${ctype}' not in the spec (${Object.keys(content).join(", ")})`];
	if (!media.schema)
		return [`${where} ${ctype} has no schema`];
	let body = x.body;
	if (typeof body === "string" && /(^|\+)json$/.test(ctype.split("/")[1] ?? "")) {
		try {
			body = JSON.parse(body);
		} catch (e) {
			return [`body is not JSON: ${e.message}`];
		}
	}
	const validate = validator(media.schema);
	if (!validate(body)) {
		for (const e of validate.errors)
			problems.push(`${where}: ${e.instancePath || "(body)"} ${e.message}` +
				(e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : "") +
				` (schema ${e.schemaPath})`);
	}
	return problems;
}

let failed = 0;
exchanges.forEach((x, i) => {
	const name = `${i + 1} - ${x.method} ${x.path} ${x.status}` + (x.pattern ? ` (${x.pattern})` : " (no route)");
	let problems;
	try {
		problems = checkOne(x);
	} catch (e) {
		problems = [`cannot check: ${e.message}`];
	}
	if (problems.length === 0) {
		console.log(`ok ${name}`);
		return;
	}
	failed++;
	console.log(`not ok ${name}`);
	for (const p of problems)
		console.log(`  # ${p}`);
	const body = typeof x.body === "string" ? x.body : JSON.stringify(x.body);
	console.log(`  # body: ${body.length > 600 ? body.slice(0, 600) + "..." : body}`);
});
console.log(`# ${exchanges.length - failed}/${exchanges.length} ok`);
process.exit(failed ? 1 : 0);
