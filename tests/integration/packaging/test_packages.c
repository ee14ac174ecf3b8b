/*
 * The packages of `make deb` and `make rpm` (docs/install.md), built by the
 * same scripts (packaging/build-deb.sh, build-rpm.sh) from a copy of the programs of
 * this build into a temporary folder: what they hold, lintian, byte-identical
 * rebuilds, and the whole life of the .deb packages on this machine: install
 * with apt-get, run the installed programs, systemd-analyze verify the
 * installed units, remove, purge, and nothing left behind.
 *
 * Root, like the other integration tests: installing fails otherwise. The
 * installing test refuses (fails) when prp is already installed or its paths
 * exist on this machine: it would purge them. It purges its packages at the
 * end even when it fails, and at its start when a crashed run of its own (the
 * marker file says so) left them installed. Nothing else calls the installed
 * /usr/bin/prp-* (every test runs build/'s programs by path).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/compiler.h"
#include "tests/lib/leakcheck.h"
#include "tests/lib/proc.h"
#include "tests/lib/repo.h"
#include "tests/lib/tmpdir.h"

/* A fixed time for the reproducibility test; any value does. */
#define EPOCH	"1700000000"
#define DEB_REL "-1"
/* Says that the installed prp packages are this test's (it crashed before purging). */
#define MARKER "/run/prp-test-packages.installed"

static char dir[256]; /* /tmp/prp-test-packages-XXXXXX */

static void setup(void)
{
	cr_assert_eq(geteuid(), 0, "the packaging tests need root (dpkg, apt-get)");
	tmpdir_make(dir, sizeof(dir), "packages");
}

static void teardown(void)
{
	tmpdir_remove(dir);
	test_no_leaks();
}

TestSuite(packages, .init = setup, .fini = teardown, .timeout = 600);

/* ---- helpers --------------------------------------------------------------------------- */

static const char *text(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

/*
 * Runs the shell command made from @fmt with /bin/sh -c, stdout and stderr
 * kept in *@p (released by the caller with proc_release()). Returns its exit
 * status; a timeout or a signal fails the test.
 */
PRP_PRINTF(3, 4)
static int sh(struct proc *p, int timeout_s, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(cmd));
	cr_assert_eq(proc_start(p, (const char *const[]){ "/bin/sh", "-c", cmd, NULL }), 0);
	cr_assert_eq(proc_wait_exit(p, timeout_s * 1000), 0, "'%s' did not end in %d s", cmd,
		     timeout_s);
	cr_assert(WIFEXITED(p->status), "'%s' was killed", cmd);
	return WEXITSTATUS(p->status);
}

/* sh() that must succeed; its stdout is copied into @out (@cap bytes) when @out. */
PRP_PRINTF(3, 4)
static void sh_ok(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[8192];
	struct proc p;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = sh(&p, 300, "%s", cmd);
	if (rc)
		cr_assert_fail("'%s' exited %d:\n%s\n%s", cmd, rc, text(&p.out), text(&p.err));
	if (out)
		snprintf(out, cap, "%s", text(&p.out));
	proc_release(&p);
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* The contents of the repository's VERSION file, without its newline. */
static void read_version(char *out, size_t cap)
{
	char path[PATH_MAX];
	FILE *f;

	repo_path(path, sizeof(path), "VERSION");
	f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(out, (int)cap, f));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/*
 * Runs packaging/build-@what.sh (deb or rpm) into @pkg_dir; @env goes before
 * it. The programs come from a copy of this build's, made once per test, so
 * that a rebuild of build/ while the test runs changes nothing under it.
 */
static void build_packages(const char *what, const char *pkg_dir, const char *env)
{
	char rel[64], path[PATH_MAX], script[PATH_MAX], programs[512];

	snprintf(programs, sizeof(programs), "%s/programs", dir);
	if (!exists(programs))
		sh_ok(NULL, 0,
		      "mkdir '%s' && cd '" PRP_BUILD_DIR "' && "
		      "cp prp-agent prp-aggregator prpctl prp-detect '%s/'",
		      programs, programs);
	snprintf(rel, sizeof(rel), "packaging/build-%s.sh", what);
	repo_path(path, sizeof(path), rel);
	/* absolute: the command may change directory first */
	cr_assert_not_null(realpath(path, script), "no %s", path);
	sh_ok(NULL, 0, "%s BUILD_DIR='%s' PKG_DIR='%s' '%s'", env, programs, pkg_dir, script);
}

static void deb_path(char *out, size_t cap, const char *pkg_dir, const char *pkg)
{
	char version[64];

	read_version(version, sizeof(version));
	snprintf(out, cap, "%s/%s_%s" DEB_REL "_amd64.deb", pkg_dir, pkg, version);
	cr_assert_eq(access(out, R_OK), 0, "no %s", out);
}

/* Expects every line of @want (NULL-terminated) to be a whole line of @have. */
static void expect_lines(const char *what, const char *have, const char *const *want)
{
	for (; *want; want++) {
		char line[512];
		const char *at = have;
		bool found = false;

		snprintf(line, sizeof(line), "%s\n", *want);
		while ((at = strstr(at, line))) {
			if (at == have || at[-1] == '\n') {
				found = true;
				break;
			}
			at++;
		}
		cr_expect(found, "%s lacks the line '%s'", what, *want);
	}
}

static void expect_owner_mode(const char *path, const char *user, const char *group, mode_t mode)
{
	struct stat st;
	struct passwd *pw;
	struct group *gr;

	cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
	pw = getpwuid(st.st_uid);
	gr = getgrgid(st.st_gid);
	cr_expect(pw && !strcmp(pw->pw_name, user), "%s: owner %s, not %s", path,
		  pw ? pw->pw_name : "?", user);
	cr_expect(gr && !strcmp(gr->gr_name, group), "%s: group %s, not %s", path,
		  gr ? gr->gr_name : "?", group);
	cr_expect_eq(st.st_mode & 07777, mode, "%s: mode %o, not %o", path, st.st_mode & 07777,
		     mode);
}

/* ---- the packages' contents -------------------------------------------------------------- */

static const char *const agent_files[] = {
	"./usr/bin/prp-agent",
	"./etc/prp/agent.yaml",
	"./lib/systemd/system/prp-agent.service",
	"./usr/lib/tmpfiles.d/prp-agent.conf",
	"./usr/share/man/man8/prp-agent.8.gz",
	"./usr/share/doc/prp-agent/copyright",
	"./usr/share/doc/prp-agent/changelog.Debian.gz",
	NULL,
};

static const char *const aggregator_files[] = {
	"./usr/bin/prp-aggregator",
	"./usr/bin/prpctl",
	"./usr/bin/prp-detect",
	"./etc/prp/aggregator.yaml",
	"./lib/systemd/system/prp-aggregator.service",
	"./usr/share/prp/dashboard/index.html",
	"./usr/share/prp/grafana/dashboards/prp-overview.json",
	"./usr/share/prp/grafana/provisioning/dashboards/prp.yaml",
	"./usr/share/prp/grafana/provisioning/datasources/prp.yaml",
	"./usr/share/prp/prometheus/prometheus.yml",
	"./usr/share/man/man8/prp-aggregator.8.gz",
	"./usr/share/man/man1/prpctl.1.gz",
	"./usr/share/man/man1/prp-detect.1.gz",
	"./usr/share/doc/prp-aggregator/copyright",
	"./usr/share/doc/prp-aggregator/changelog.Debian.gz",
	NULL,
};

/* The file names of `dpkg-deb -c` (its last column), one a line, into @out. */
static void deb_files(char *out, size_t cap, const char *deb)
{
	sh_ok(out, cap, "dpkg-deb -c '%s' | awk '{ print $6 }'", deb);
}

Test(packages, debs_hold_the_programs_conffiles_and_units)
{
	static char list[1 << 16];
	char agent[PATH_MAX], agg[PATH_MAX], out[4096], version[64], want[128];

	build_packages("deb", dir, "");
	deb_path(agent, sizeof(agent), dir, "prp-agent");
	deb_path(agg, sizeof(agg), dir, "prp-aggregator");

	deb_files(list, sizeof(list), agent);
	expect_lines("prp-agent", list, agent_files);
	/* the BPF objects are inside the binary (skeletons), none beside it */
	cr_expect_null(strstr(list, ".bpf.o"), "prp-agent ships BPF objects:\n%s", list);
	deb_files(list, sizeof(list), agg);
	expect_lines("prp-aggregator", list, aggregator_files);

	sh_ok(out, sizeof(out), "dpkg-deb -I '%s' conffiles", agent);
	cr_expect_str_eq(out, "/etc/prp/agent.yaml\n");
	sh_ok(out, sizeof(out), "dpkg-deb -I '%s' conffiles", agg);
	cr_expect_str_eq(out, "/etc/prp/aggregator.yaml\n");

	read_version(version, sizeof(version));
	snprintf(want, sizeof(want), "%s" DEB_REL "\n", version);
	sh_ok(out, sizeof(out), "dpkg-deb -f '%s' Version", agent);
	cr_expect_str_eq(out, want, "the version is not VERSION's");
	sh_ok(out, sizeof(out), "dpkg-deb -f '%s' Depends", agg);
	cr_expect(!strncmp(out, "adduser, ", 9) && strstr(out, "libc6"), "Depends: %s", out);
	sh_ok(out, sizeof(out), "dpkg-deb -f '%s' Depends", agent);
	cr_expect(strstr(out, "libbpf1") && strstr(out, "libc6"), "Depends: %s", out);

	/* the agent embeds its BPF programs: an ELF header per object after its own */
	sh_ok(out, sizeof(out),
	      "dpkg-deb --fsys-tarfile '%s' | tar -xO ./usr/bin/prp-agent |"
	      " LC_ALL=C grep -obUaP '\\x7fELF' | wc -l",
	      agent);
	cr_expect_gt(atoi(out), 1, "prp-agent embeds no BPF object");
}

Test(packages, lintian_finds_no_errors, .timeout = 900)
{
	char agent[PATH_MAX], agg[PATH_MAX];
	struct proc p;
	int rc;

	build_packages("deb", dir, "");
	deb_path(agent, sizeof(agent), dir, "prp-agent");
	deb_path(agg, sizeof(agg), dir, "prp-aggregator");
	rc = sh(&p, 600, "lintian --no-tag-display-limit '%s' '%s'", agent, agg);
	cr_expect_eq(rc, 0, "lintian exited %d:\n%s%s", rc, text(&p.out), text(&p.err));
	cr_expect(!strstr(text(&p.out), "E: ") && !strstr(text(&p.err), "E: "),
		  "lintian errors:\n%s%s", text(&p.out), text(&p.err));
	proc_release(&p);
}

Test(packages, two_deb_builds_are_byte_identical)
{
	char a[PATH_MAX], b[PATH_MAX], one[512], two[512];
	const char *pkgs[] = { "prp-agent", "prp-aggregator" };

	snprintf(one, sizeof(one), "%s/one", dir);
	snprintf(two, sizeof(two), "%s/two", dir);
	build_packages("deb", one, "SOURCE_DATE_EPOCH=" EPOCH);
	/* another umask and working directory change nothing */
	build_packages("deb", two, "cd / && umask 077 && SOURCE_DATE_EPOCH=" EPOCH);
	for (size_t i = 0; i < 2; i++) {
		deb_path(a, sizeof(a), one, pkgs[i]);
		deb_path(b, sizeof(b), two, pkgs[i]);
		sh_ok(NULL, 0, "cmp '%s' '%s'", a, b);
	}
	/* and every time stamp inside is SOURCE_DATE_EPOCH */
	sh_ok(a, sizeof(a),
	      "dpkg-deb --fsys-tarfile '%s' | TZ=UTC tar -tv --full-time |"
	      " awk '{ print $4 \" \" $5 }' | sort -u",
	      b);
	cr_expect_str_eq(a, "2023-11-14 22:13:20\n");
}

Test(packages, rpms_hold_the_files_and_scriptlets)
{
	static char out[1 << 16];
	char version[64], rpm[PATH_MAX];
	static const char *const agent_want[] = {
		"/usr/bin/prp-agent",
		"/etc/prp/agent.yaml",
		"/usr/lib/systemd/system/prp-agent.service",
		"/usr/lib/tmpfiles.d/prp-agent.conf",
		"/usr/share/man/man8/prp-agent.8.gz",
		"/var/lib/prp/spool",
		"postinstall scriptlet (using /bin/sh):",
		"preuninstall scriptlet (using /bin/sh):",
		"postuninstall scriptlet (using /bin/sh):",
		"if [ \"$1\" -eq 0 ] && [ -d /run/systemd/system ]; then",
		"    systemctl disable --now prp-agent.service >/dev/null 2>&1 || :",
		NULL,
	};
	static const char *const agg_want[] = {
		"/usr/bin/prp-aggregator",
		"/usr/bin/prpctl",
		"/usr/bin/prp-detect",
		"/etc/prp/aggregator.yaml",
		"/etc/prp/keys",
		"/usr/lib/systemd/system/prp-aggregator.service",
		"/usr/share/prp/dashboard/index.html",
		"/usr/share/prp/grafana/dashboards/prp-overview.json",
		"/usr/share/prp/prometheus/prometheus.yml",
		"/var/lib/prp",
		"preinstall scriptlet (using /bin/sh):",
		"getent passwd prp >/dev/null || useradd --system --gid prp --home-dir /var/lib/prp \\",
		"postinstall scriptlet (using /bin/sh):",
		"preuninstall scriptlet (using /bin/sh):",
		"postuninstall scriptlet (using /bin/sh):",
		NULL,
	};

	read_version(version, sizeof(version));
	build_packages("rpm", dir, "");
	snprintf(rpm, sizeof(rpm), "%s/prp-agent-%s-1.x86_64.rpm", dir, version);
	sh_ok(out, sizeof(out), "rpm -qlp --scripts '%s'", rpm);
	expect_lines("prp-agent.rpm", out, agent_want);
	sh_ok(out, sizeof(out), "rpm -qp --configfiles '%s'", rpm);
	cr_expect_str_eq(out, "/etc/prp/agent.yaml\n");

	snprintf(rpm, sizeof(rpm), "%s/prp-aggregator-%s-1.x86_64.rpm", dir, version);
	sh_ok(out, sizeof(out), "rpm -qlp --scripts '%s'", rpm);
	expect_lines("prp-aggregator.rpm", out, agg_want);
	sh_ok(out, sizeof(out), "rpm -qp --configfiles '%s'", rpm);
	cr_expect_str_eq(out, "/etc/prp/aggregator.yaml\n");
	sh_ok(out, sizeof(out),
	      "rpm -qlpv '%s' | awk '$NF == \"/var/lib/prp\" { print $1, $3, $4 }'", rpm);
	cr_expect_str_eq(out, "drwxr-x--- prp prp\n");
}

/* rpmlint with packaging/rpm/rpmlint.toml, whose every filter says why: no error. */
Test(packages, rpmlint_finds_no_errors, .timeout = 900)
{
	char version[64], config[PATH_MAX];
	struct proc p;
	int rc;

	read_version(version, sizeof(version));
	build_packages("rpm", dir, "");
	repo_path(config, sizeof(config), "packaging/rpm/rpmlint.toml");
	rc = sh(&p, 600, "rpmlint -c '%s' '%s/prp-agent-%s-1.x86_64.rpm' "
		"'%s/prp-aggregator-%s-1.x86_64.rpm'", config, dir, version, dir, version);
	cr_expect(strstr(text(&p.out), " 0 errors,"), "rpmlint exited %d:\n%s%s", rc,
		  text(&p.out), text(&p.err));
	proc_release(&p);
}

/* ---- installed on this machine ---------------------------------------------------------- */

/* Everything the packages, their scripts and their units may leave on the machine. */
static const char *const leftovers[] = {
	"/etc/prp",
	"/var/lib/prp",
	"/usr/share/prp",
	"/usr/bin/prp-agent",
	"/usr/bin/prp-aggregator",
	"/usr/bin/prpctl",
	"/usr/bin/prp-detect",
	"/lib/systemd/system/prp-agent.service",
	"/lib/systemd/system/prp-aggregator.service",
	"/usr/lib/tmpfiles.d/prp-agent.conf",
	"/usr/share/doc/prp-agent",
	"/usr/share/doc/prp-aggregator",
	"/usr/share/man/man8/prp-agent.8.gz",
	"/usr/share/man/man8/prp-aggregator.8.gz",
	"/usr/share/man/man1/prpctl.1.gz",
	"/usr/share/man/man1/prp-detect.1.gz",
	"/etc/systemd/system/prp-agent.service",
	"/etc/systemd/system/prp-aggregator.service",
	"/etc/systemd/system/multi-user.target.wants/prp-agent.service",
	"/etc/systemd/system/multi-user.target.wants/prp-aggregator.service",
	"/var/lib/systemd/deb-systemd-helper-enabled/prp-agent.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-enabled/prp-aggregator.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/prp-agent.service",
	"/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/prp-aggregator.service",
	"/var/lib/systemd/deb-systemd-helper-masked/prp-agent.service",
	"/var/lib/systemd/deb-systemd-helper-masked/prp-aggregator.service",
	NULL,
};

/* True when dpkg knows package @pkg in any state but "not installed". */
static bool dpkg_knows(const char *pkg)
{
	struct proc p;
	bool known;

	known = sh(&p, 60, "dpkg-query -W -f='${db:Status-Abbrev}' %s", pkg) == 0 &&
		strncmp(text(&p.out), "un", 2) && strncmp(text(&p.out), "pn", 2);
	proc_release(&p);
	return known;
}

static void purge_ours(void)
{
	struct proc p;

	if (!exists(MARKER))
		return;
	if (dpkg_knows("prp-agent") || dpkg_knows("prp-aggregator")) {
		cr_expect_eq(sh(&p, 300, "dpkg --purge prp-agent prp-aggregator"), 0,
			     "purging after the test failed:\n%s", text(&p.err));
		proc_release(&p);
	}
	unlink(MARKER);
}

static bool lock_existed;

static void install_setup(void)
{
	cr_assert_eq(geteuid(), 0, "the packaging tests need root (dpkg, apt-get)");
	/* a run of ours that crashed left them: ours to purge */
	purge_ours();
	cr_assert(!dpkg_knows("prp-agent") && !dpkg_knows("prp-aggregator"),
		  "prp-agent or prp-aggregator is installed on this machine, not by this test: "
		  "it would purge them; remove them first (dpkg --purge)");
	for (const char *const *l = leftovers; *l; l++)
		cr_assert(!exists(*l),
			  "%s exists before the packages are installed: this test "
			  "would remove it on purge; remove it first",
			  *l);
	cr_assert_null(getpwnam("prp"), "a user prp exists already: purging would delete it");
	cr_assert_null(getgrnam("prp"), "a group prp exists already: purging would delete it");
	lock_existed = exists("/run/prp-agent.lock");
	setup();
}

static void install_teardown(void)
{
	purge_ours();
	teardown();
}

TestSuite(installed, .init = install_setup, .fini = install_teardown, .timeout = 900);

/* Expects /usr/bin/@prog --version to print "@prog VERSION". */
static void expect_version(const char *prog, const char *version)
{
	char out[256], want[256];

	sh_ok(out, sizeof(out), "/usr/bin/%s --version", prog);
	snprintf(want, sizeof(want), "%s %s\n", prog, version);
	cr_expect_str_eq(out, want);
}

static void expect_link_to(const char *path, const char *target)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	cr_assert_gt(n, 0, "%s is not a symlink", path);
	buf[n] = '\0';
	cr_expect_str_eq(buf, target, "%s", path);
}

static void write_file(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(body, f);
	cr_assert_eq(fclose(f), 0);
}

Test(installed, debs_install_run_verify_and_purge_to_nothing)
{
	char agent[PATH_MAX], agg[PATH_MAX], version[64], out[4096], want[256];
	struct passwd *pw;
	struct proc p;
	int rc;

	read_version(version, sizeof(version));
	build_packages("deb", dir, "");
	deb_path(agent, sizeof(agent), dir, "prp-agent");
	deb_path(agg, sizeof(agg), dir, "prp-aggregator");

	write_file(MARKER, "tests/integration/packaging/test_packages.c\n");
	sh_ok(NULL, 0,
	      "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
	      "-o DPkg::Lock::Timeout=120 '%s' '%s'",
	      agg, agent);
	snprintf(want, sizeof(want), "%s" DEB_REL " %s" DEB_REL, version, version);
	sh_ok(out, sizeof(out), "dpkg-query -W -f='${Version} ' prp-agent prp-aggregator");
	cr_expect(!strncmp(out, want, strlen(want)), "installed: %s", out);

	/* the programs run from /usr/bin, with the installed configuration */
	expect_version("prp-agent", version);
	expect_version("prp-aggregator", version);
	expect_version("prpctl", version);
	expect_version("prp-detect", version);
	sh_ok(out, sizeof(out), "/usr/bin/prp-agent --check-config");
	cr_expect_str_eq(out, "configuration OK\n", "prp-agent --check-config");
	sh_ok(out, sizeof(out), "/usr/bin/prp-aggregator --check-config");
	cr_expect_str_eq(out, "configuration OK\n", "prp-aggregator --check-config");

	/* what the maintainer scripts made */
	pw = getpwnam("prp");
	cr_assert_not_null(pw, "no user prp");
	cr_expect_lt(pw->pw_uid, 1000, "prp is not a system user");
	cr_expect_str_eq(pw->pw_dir, "/var/lib/prp");
	cr_expect_str_eq(pw->pw_shell, "/usr/sbin/nologin");
	expect_owner_mode("/var/lib/prp", "prp", "prp", 0750);
	expect_owner_mode("/var/lib/prp/spool", "root", "root", 0700);
	expect_owner_mode("/etc/prp/keys", "root", "prp", 0750);
	expect_owner_mode("/etc/prp/keys/default", "root", "prp", 0750);
	expect_owner_mode("/run/prp-agent.lock", "root", "root", 0644);
	/* enabled (without a running systemd, by deb-systemd-helper), not started */
	expect_link_to("/etc/systemd/system/multi-user.target.wants/prp-agent.service",
		       "/lib/systemd/system/prp-agent.service");
	expect_link_to("/etc/systemd/system/multi-user.target.wants/prp-aggregator.service",
		       "/lib/systemd/system/prp-aggregator.service");

	/* the installed units are valid, their programs and man pages there */
	rc = sh(&p, 60,
		"systemd-analyze verify /lib/systemd/system/prp-agent.service "
		"/lib/systemd/system/prp-aggregator.service");
	cr_expect(rc == 0 && !p.out.len && !p.err.len, "systemd-analyze verify exited %d:\n%s%s",
		  rc, text(&p.out), text(&p.err));
	proc_release(&p);

	/* the scripts may run again: a reinstall changes nothing */
	sh_ok(NULL, 0, "dpkg -i '%s' '%s'", agg, agent);
	expect_owner_mode("/var/lib/prp", "prp", "prp", 0750);
	expect_owner_mode("/var/lib/prp/spool", "root", "root", 0700);

	/* what the daemons and the administrator would have added */
	write_file("/var/lib/prp/prp.db", "");
	write_file("/var/lib/prp/admin.key", "prp_x\n");
	write_file("/var/lib/prp/spool/00000001.frame", "");
	write_file("/etc/prp/agent.key", "0123456789abcdef0123\n");
	write_file("/etc/prp/keys/default/tenant.key", "0123456789abcdef0123\n");
	cr_assert_eq(mkdir("/etc/prp/policies", 0755), 0);
	write_file("/etc/prp/policies/x.yaml", "name: x\n");

	/* removed, not purged: the unit masked, the conffiles and data kept */
	sh_ok(NULL, 0, "dpkg --remove prp-aggregator");
	expect_link_to("/etc/systemd/system/prp-aggregator.service", "/dev/null");
	cr_expect(exists("/etc/prp/aggregator.yaml"));
	cr_expect(exists("/var/lib/prp/prp.db"));
	cr_expect_not_null(getpwnam("prp"));
	cr_expect(!exists("/usr/bin/prp-aggregator"));

	/* the aggregator purged first: the agent's spool stays, /var/lib/prp root's again */
	sh_ok(NULL, 0, "dpkg --purge prp-aggregator");
	cr_expect_null(getpwnam("prp"), "the user prp is left");
	cr_expect_null(getgrnam("prp"), "the group prp is left");
	cr_expect(!exists("/var/lib/prp/prp.db") && !exists("/var/lib/prp/admin.key"));
	cr_expect(!exists("/etc/prp/keys") && !exists("/etc/prp/policies"));
	cr_expect(!exists("/etc/prp/aggregator.yaml"));
	cr_expect(exists("/var/lib/prp/spool/00000001.frame"), "the agent's spool went too");
	expect_owner_mode("/var/lib/prp", "root", "root", 0755);

	sh_ok(NULL, 0, "dpkg --purge prp-agent");
	unlink(MARKER);
	for (const char *const *l = leftovers; *l; l++)
		cr_expect(!exists(*l), "%s is left after the purge", *l);
	if (!lock_existed)
		cr_expect(!exists("/run/prp-agent.lock"), "/run/prp-agent.lock is left");
	cr_expect(!dpkg_knows("prp-agent") && !dpkg_knows("prp-aggregator"));
}
