/*
 * packaging/kubernetes/ (its README.md) against what it must agree with: the
 * agent's DaemonSet holds exactly the capabilities of its systemd unit
 * (packaging/systemd/prp-agent.service), drops every other one and shares
 * the node's PID and network namespaces; the aggregator runs as non-root with
 * no capabilities, one replica at a time; the ConfigMaps are packaging/etc's
 * files byte for byte; the mounts sit where those files say the daemons read
 * and write. The manifests are parsed with libyaml into jansson values.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/alloc.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/repo.h"

TestSuite(kubernetes, .fini = test_no_leaks);

#define K8S_DIR "packaging/kubernetes"

/* ---- YAML to JSON ------------------------------------------------------------------ */

/* A plain scalar as YAML 1.1 reads it: true/false, an integer, else a string. */
static json_t *scalar_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;
	long long v;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_string(s);
	if (!strcmp(s, "true"))
		return json_true();
	if (!strcmp(s, "false"))
		return json_false();
	if (!strcmp(s, "~") || !strcmp(s, "null") || !*s)
		return json_null();
	v = strtoll(s, &end, 10);
	if (end != s && !*end)
		return json_integer(v);
	return json_string(s);
}

static json_t *node_json(yaml_document_t *doc, yaml_node_t *n)
{
	json_t *out;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_json(n);
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			json_array_append_new(out, node_json(doc, yaml_document_get_node(doc, *i)));
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			cr_assert_eq(k->type, YAML_SCALAR_NODE,
				     "a mapping key that is not a scalar");
			json_object_set_new(out, (const char *)k->data.scalar.value,
					    node_json(doc, yaml_document_get_node(doc, p->value)));
		}
		return out;
	default:
		cr_assert_fail("an empty YAML node");
		return NULL;
	}
}

/* Appends every document of the YAML @text (@what names it in messages) to @docs. */
static void load_yaml_text(const char *what, const char *text, json_t *docs)
{
	yaml_parser_t parser;

	cr_assert(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;

		cr_assert(yaml_parser_load(&parser, &doc), "%s: %s at line %zu", what,
			  parser.problem ? parser.problem : "?", parser.problem_mark.line + 1);
		root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		json_array_append_new(docs, node_json(&doc, root));
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
}

/* The whole file @path, NUL-terminated; the caller frees it. */
static char *read_file(const char *path)
{
	char *text;
	long len;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	cr_assert_geq(len, 0);
	rewind(f);
	text = xmalloc((size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	text[len] = '\0';
	fclose(f);
	return text;
}

/* The whole file @rel of the repository; the caller frees it. */
static char *read_repo_file(const char *rel)
{
	char path[PATH_MAX];

	repo_path(path, sizeof(path), rel);
	return read_file(path);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every document of every *.yaml file of packaging/kubernetes/, in file name order. */
static json_t *load_manifests(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 256], *names[64];
	size_t n = 0;
	struct dirent *e;
	json_t *docs = json_array();
	DIR *d;

	repo_path(dir, sizeof(dir), K8S_DIR);
	d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s", dir);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len > 5 && !strcmp(e->d_name + len - 5, ".yaml")) {
			cr_assert_lt(n, sizeof(names) / sizeof(names[0]));
			names[n++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		char *text;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		text = read_file(path);
		load_yaml_text(path, text, docs);
		free(text);
		free(names[i]);
	}
	cr_assert_gt(json_array_size(docs), 0, "no manifests in %s", dir);
	return docs;
}

/* The object of @kind named @name in @docs (borrowed); asserts it is there once. */
static json_t *find_object(json_t *docs, const char *kind, const char *name)
{
	json_t *found = NULL, *doc;
	size_t i;

	json_array_foreach(docs, i, doc) {
		const char *k = json_string_value(json_object_get(doc, "kind"));
		const char *m = json_string_value(
			json_object_get(json_object_get(doc, "metadata"), "name"));

		if (k && m && !strcmp(k, kind) && !strcmp(m, name)) {
			cr_assert_null(found, "two %s named %s", kind, name);
			found = doc;
		}
	}
	cr_assert_not_null(found, "no %s named %s in " K8S_DIR, kind, name);
	return found;
}

/* The value at the dotted @path below @v ("spec.template.spec"), or NULL. */
static json_t *at(json_t *v, const char *path)
{
	char key[128];

	while (v && *path) {
		size_t n = strcspn(path, ".");

		cr_assert_lt(n, sizeof(key));
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		path += n + (path[n] == '.');
	}
	return v;
}

/* The pod spec of a workload, and its one container. */
static json_t *pod_spec(json_t *workload)
{
	json_t *spec = at(workload, "spec.template.spec");

	cr_assert_not_null(spec);
	return spec;
}

static json_t *only_container(json_t *workload)
{
	json_t *containers = json_object_get(pod_spec(workload), "containers");

	cr_assert_eq(json_array_size(containers), 1);
	return json_array_get(containers, 0);
}

/* The volume mount of @container at @mount_path (borrowed), or NULL. */
static json_t *mount_at(json_t *container, const char *mount_path)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(container, "volumeMounts"), i, m) {
		if (!strcmp(json_string_value(json_object_get(m, "mountPath")), mount_path))
			return m;
	}
	return NULL;
}

/* The pod volume named @name (borrowed); asserts it is there. */
static json_t *volume_named(json_t *workload, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(pod_spec(workload), "volumes"), i, v) {
		if (!strcmp(json_string_value(json_object_get(v, "name")), name))
			return v;
	}
	cr_assert_fail("no volume %s", name);
	return NULL;
}

/* The volume mounted at @mount_path, asserting the mount is there (and read-only if @ro). */
static json_t *volume_at(json_t *workload, const char *mount_path, bool ro)
{
	json_t *m = mount_at(only_container(workload), mount_path);

	cr_assert_not_null(m, "nothing is mounted at %s", mount_path);
	if (ro)
		cr_expect(json_is_true(json_object_get(m, "readOnly")), "%s is not read-only",
			  mount_path);
	return volume_named(workload, json_string_value(json_object_get(m, "name")));
}

/* ---- the systemd units --------------------------------------------------------------- */

/*
 * The capability list of @key in the unit @rel, as systemd reads it: the
 * assignments add up, and an empty one resets the list. Returns a JSON
 * array of names with the CAP_ prefix, sorted; NULL when the key is absent.
 */
static json_t *unit_caps(const char *rel, const char *key)
{
	char *text = read_repo_file(rel), *save = NULL, *names[64];
	size_t klen = strlen(key), n = 0;
	bool seen = false;
	json_t *out;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *tsave = NULL;

		if (strncmp(line, key, klen) || line[klen] != '=')
			continue;
		seen = true;
		if (!line[klen + 1])
			n = 0;
		for (tok = strtok_r(line + klen + 1, " \t", &tsave); tok;
		     tok = strtok_r(NULL, " \t", &tsave)) {
			cr_assert_lt(n, sizeof(names) / sizeof(names[0]));
			names[n++] = tok;
		}
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	out = seen ? json_array() : NULL;
	for (size_t i = 0; out && i < n; i++)
		json_array_append_new(out, json_string(names[i]));
	free(text);
	return out;
}

/* The value of @key= in the unit @rel (the last one), or "" when absent; the caller frees it. */
static char *unit_value(const char *rel, const char *key)
{
	char *text = read_repo_file(rel), *save = NULL, *value = NULL;
	size_t klen = strlen(key);

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, klen) && line[klen] == '=') {
			free(value);
			value = xstrdup(line + klen + 1);
		}
	}
	free(text);
	return value ? value : xstrdup("");
}

/* A Kubernetes capability list ("BPF") as systemd names them ("CAP_BPF"), sorted. */
static json_t *k8s_caps(json_t *list)
{
	char *names[64], buf[64][64];
	size_t n = 0, i;
	json_t *c, *out = json_array();

	json_array_foreach(list, i, c) {
		cr_assert_lt(n, 64);
		snprintf(buf[n], sizeof(buf[n]), "CAP_%s", json_string_value(c));
		names[n] = buf[n];
		n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_string(names[i]));
	return out;
}

static char *dumps(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- the tests ----------------------------------------------------------------------- */

#define AGENT_UNIT "packaging/systemd/prp-agent.service"
#define AGG_UNIT   "packaging/systemd/prp-aggregator.service"

Test(kubernetes, agent_capabilities_are_exactly_the_systemd_units)
{
	json_t *docs = load_manifests();
	json_t *sc = json_object_get(only_container(find_object(docs, "DaemonSet", "prp-agent")),
				     "securityContext");
	json_t *ambient = unit_caps(AGENT_UNIT, "AmbientCapabilities");
	json_t *bounding = unit_caps(AGENT_UNIT, "CapabilityBoundingSet");
	json_t *added = k8s_caps(at(sc, "capabilities.add"));
	json_t *dropped = at(sc, "capabilities.drop");
	char *a = dumps(ambient), *b = dumps(bounding), *k = dumps(added), *d = dumps(dropped);

	cr_assert_not_null(ambient, AGENT_UNIT " has no AmbientCapabilities=");
	cr_assert_not_null(bounding, AGENT_UNIT " has no CapabilityBoundingSet=");
	cr_expect_gt(json_array_size(ambient), 0);
	cr_expect(json_equal(ambient, bounding), "unit: ambient %s, bounding %s", a, b);
	cr_expect(json_equal(ambient, added), "DaemonSet adds %s, the unit's are %s", k, a);
	cr_expect_str_eq(d, "[\"ALL\"]", "the DaemonSet drops %s, not ALL", d);
	cr_expect(json_is_false(json_object_get(sc, "privileged")));
	cr_expect(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
	cr_expect(json_is_true(json_object_get(sc, "readOnlyRootFilesystem")));
	free(a);
	free(b);
	free(k);
	free(d);
	json_decref(ambient);
	json_decref(bounding);
	json_decref(added);
	json_decref(docs);
}

Test(kubernetes, agent_shares_the_nodes_namespaces_and_mounts_what_it_reads)
{
	json_t *docs = load_manifests();
	json_t *ds = find_object(docs, "DaemonSet", "prp-agent");
	json_t *spec = pod_spec(ds);
	/* the agent's own file says where it writes */
	json_t *cm = find_object(docs, "ConfigMap", "prp-agent-config");
	const char *text =
		json_string_value(json_object_get(json_object_get(cm, "data"), "agent.yaml"));
	json_t *cfg = json_array();
	const char *spool, *lock;
	struct {
		const char *mount, *host;
		bool ro;
	} host[] = {
		{ "/sys/kernel/btf", "/sys/kernel/btf", true },
		{ "/sys/kernel/tracing", "/sys/kernel/tracing", true },
		{ "/host/sys/fs/cgroup", "/sys/fs/cgroup", true },
	};

	cr_expect(json_is_true(json_object_get(spec, "hostPID")));
	cr_expect(json_is_true(json_object_get(spec, "hostNetwork")));
	cr_expect_str_eq(json_string_value(json_object_get(spec, "dnsPolicy")),
			 "ClusterFirstWithHostNet");

	cr_assert_not_null(text, "prp-agent-config has no agent.yaml");
	load_yaml_text("agent.yaml", text, cfg);
	spool = json_string_value(at(json_array_get(cfg, 0), "spool.dir"));
	lock = json_string_value(at(json_array_get(cfg, 0), "lock_file"));
	cr_assert_not_null(spool);
	cr_assert_not_null(lock);

	cr_expect_str_eq(json_string_value(at(volume_at(ds, spool, false), "hostPath.path")), spool,
			 "the spool is not the node's");
	cr_expect_str_eq(json_string_value(at(volume_at(ds, lock, false), "hostPath.path")), lock,
			 "the lock file is not the node's");
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
		cr_expect_str_eq(json_string_value(at(volume_at(ds, host[i].mount, host[i].ro),
						      "hostPath.path")),
				 host[i].host);
	json_decref(cfg);
	json_decref(docs);
}

Test(kubernetes, aggregator_runs_as_non_root_with_no_capabilities)
{
	json_t *docs = load_manifests();
	json_t *dep = find_object(docs, "Deployment", "prp-aggregator");
	json_t *c = only_container(dep);
	json_t *psc = json_object_get(pod_spec(dep), "securityContext");
	json_t *csc = json_object_get(c, "securityContext");
	json_t *bounding = unit_caps(AGG_UNIT, "CapabilityBoundingSet");
	json_t *ambient = unit_caps(AGG_UNIT, "AmbientCapabilities");
	char *user = unit_value(AGG_UNIT, "User");
	const char *probes[] = { "readinessProbe", "livenessProbe" };

	cr_expect(json_is_true(json_object_get(psc, "runAsNonRoot")) ||
			  json_is_true(json_object_get(csc, "runAsNonRoot")),
		  "the aggregator may run as root");
	cr_expect_gt(json_integer_value(json_object_get(psc, "runAsUser")), 0);
	cr_expect_str_eq(json_string_value(json_array_get(at(csc, "capabilities.drop"), 0)), "ALL");
	cr_expect_null(at(csc, "capabilities.add"), "the aggregator adds capabilities");
	cr_expect(json_is_false(json_object_get(csc, "allowPrivilegeEscalation")));
	cr_expect(json_is_true(json_object_get(csc, "readOnlyRootFilesystem")));
	cr_expect_eq(json_integer_value(at(dep, "spec.replicas")), 1);
	cr_expect_str_eq(json_string_value(at(dep, "spec.strategy.type")), "Recreate");
	for (size_t i = 0; i < 2; i++)
		cr_expect_str_eq(
			json_string_value(at(json_object_get(c, probes[i]), "httpGet.path")),
			"/health", "%s", probes[i]);
	/* the data directory is the claim's */
	cr_expect_str_eq(json_string_value(at(volume_at(dep, "/var/lib/prp", false),
					      "persistentVolumeClaim.claimName")),
			 "prp-aggregator-data");
	find_object(docs, "PersistentVolumeClaim", "prp-aggregator-data");

	/* and the same under systemd */
	cr_expect_str_eq(user, "prp");
	cr_assert_not_null(bounding, AGG_UNIT " has no CapabilityBoundingSet=");
	cr_assert_not_null(ambient, AGG_UNIT " has no AmbientCapabilities=");
	cr_expect_eq(json_array_size(bounding), 0);
	cr_expect_eq(json_array_size(ambient), 0);
	free(user);
	json_decref(bounding);
	json_decref(ambient);
	json_decref(docs);
}

Test(kubernetes, service_serves_http_and_ingest)
{
	json_t *docs = load_manifests();
	json_t *ports = at(find_object(docs, "Service", "prp-aggregator"), "spec.ports");
	json_t *c = only_container(find_object(docs, "Deployment", "prp-aggregator"));
	json_t *p;
	size_t i;
	bool http = false, ingest = false;

	json_array_foreach(ports, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_int_t port = json_integer_value(json_object_get(p, "port"));

		http |= !strcmp(name, "http") && port == 8080;
		ingest |= !strcmp(name, "ingest") && port == 7070;
	}
	cr_expect(http, "no http port 8080");
	cr_expect(ingest, "no ingest port 7070");
	json_array_foreach(json_object_get(c, "ports"), i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		json_int_t port = json_integer_value(json_object_get(p, "containerPort"));

		cr_expect(!strcmp(name, "http") ? port == 8080 : port == 7070, "%s: %lld", name,
			  (long long)port);
	}
	json_decref(docs);
}

Test(kubernetes, configmaps_are_the_packaged_config_files)
{
	json_t *docs = load_manifests();
	struct {
		const char *cm, *key, *file;
	} maps[] = {
		{ "prp-agent-config", "agent.yaml", "packaging/etc/agent.yaml" },
		{ "prp-aggregator-config", "aggregator.yaml", "packaging/etc/aggregator.yaml" },
	};

	for (size_t i = 0; i < 2; i++) {
		char *want = read_repo_file(maps[i].file);
		const char *have = json_string_value(json_object_get(
			at(find_object(docs, "ConfigMap", maps[i].cm), "data"), maps[i].key));

		cr_assert_not_null(have, "%s has no %s", maps[i].cm, maps[i].key);
		cr_expect_str_eq(have, want, "%s differs from %s: regenerate it (10-config.yaml)",
				 maps[i].cm, maps[i].file);
		free(want);
	}
	json_decref(docs);
}

Test(kubernetes, every_pod_is_hardened_and_bounded)
{
	json_t *docs = load_manifests();
	const char *workloads[][2] = { { "DaemonSet", "prp-agent" },
				       { "Deployment", "prp-aggregator" } };

	for (size_t w = 0; w < 2; w++) {
		json_t *obj = find_object(docs, workloads[w][0], workloads[w][1]);
		json_t *c = only_container(obj), *v;
		const char *image = json_string_value(json_object_get(c, "image"));
		char want[128];
		size_t i;

		/* a placeholder, named for the program, never a real tag */
		snprintf(want, sizeof(want), "prp/%s:VERSION", workloads[w][1]);
		cr_expect_str_eq(image, want);
		cr_expect_not_null(at(c, "resources.requests.cpu"), "%s", workloads[w][1]);
		cr_expect_not_null(at(c, "resources.requests.memory"), "%s", workloads[w][1]);
		cr_expect_not_null(at(c, "resources.limits.memory"), "%s", workloads[w][1]);
		cr_expect_not_null(json_object_get(c, "livenessProbe"), "%s", workloads[w][1]);
		cr_expect(json_is_false(
				  json_object_get(pod_spec(obj), "automountServiceAccountToken")),
			  "%s", workloads[w][1]);
		/*
		 * prp opens key files with O_NOFOLLOW, and a file at the top of a
		 * Secret volume is a symlink: keys must sit one folder down.
		 */
		json_array_foreach(json_object_get(pod_spec(obj), "volumes"), i, v) {
			json_t *items = at(v, "secret.items"), *item;
			size_t j;

			if (!json_object_get(v, "secret"))
				continue;
			cr_expect_gt(json_array_size(items), 0, "secret volume %s has no items",
				     json_string_value(json_object_get(v, "name")));
			json_array_foreach(items, j, item)
				cr_expect_not_null(
					strchr(json_string_value(json_object_get(item, "path")),
					       '/'),
					"%s: a key at the top of its volume",
					json_string_value(json_object_get(v, "name")));
		}
	}
	json_decref(docs);
}
