"""A throwaway real MediaWiki (Debian's package) served by PHP's built-in web server, for integration tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

MEDIAWIKI_DIR = Path("/usr/share/mediawiki")
EXTENSIONS_DIR = MEDIAWIKI_DIR / "extensions-core"
EXTENSIONS = ("TextExtracts", "PageImages")
PHP_MODULES = ("pdo_sqlite", "intl", "mbstring", "dom")
INSTALL_HINT = "run scripts/install-system-deps (installs Debian's mediawiki and php8.2 packages)"

SITE_NAME = "WikiRoam Test Wiki"
ADMIN_USER = "WikiRoam"
DB_NAME = "wikiroam"
# Bump when the build recipe (settings, maintenance steps) changes so stale cached wikis are not reused.
_RECIPE_VERSION = 2
_READY_TIMEOUT_SECONDS = 30.0
_STOP_TIMEOUT_SECONDS = 5.0
_PORT_ATTEMPTS = 3
# Workers let a test and the code under test talk to the wiki at the same time.
_PHP_SERVER_WORKERS = 4


@dataclass(frozen=True, slots=True)
class WikiPage:
    """One page to seed: its title and its wikitext."""

    title: str
    wikitext: str


class MediaWikiError(RuntimeError):
    """The local MediaWiki could not be built or served."""


def missing_system_deps() -> list[str]:
    """Return what the local MediaWiki needs but this machine lacks (empty when all is there)."""
    missing: list[str] = []
    php = shutil.which("php")
    if php is None:
        missing.append("php (php8.2-cli)")
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").is_file():
        missing.append(f"MediaWiki at {MEDIAWIKI_DIR} (mediawiki)")
    missing.extend(
        f"the {name} extension at {EXTENSIONS_DIR / name} (mediawiki)"
        for name in EXTENSIONS
        if not (EXTENSIONS_DIR / name / "extension.json").is_file()
    )
    if php is not None:
        loaded = subprocess.run([php, "-m"], capture_output=True, text=True, check=False).stdout.lower()
        modules = set(loaded.split())
        missing.extend(f"the PHP module {module}" for module in PHP_MODULES if module not in modules)
    return missing


def mediawiki_version() -> str:
    """Return the installed MediaWiki's version, e.g. ``1.39.17``."""
    defines = (MEDIAWIKI_DIR / "includes" / "Defines.php").read_text(encoding="utf-8")
    match = re.search(r"define\(\s*'MW_VERSION',\s*'([^']+)'", defines)
    if match is None:
        raise MediaWikiError(f"no MW_VERSION in {MEDIAWIKI_DIR}/includes/Defines.php")
    return match.group(1)


def default_cache_dir() -> Path:
    """Return where built wikis are kept between test sessions."""
    override = os.environ.get("WIKIROAM_MEDIAWIKI_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wikiroam" / "mediawiki"


class LocalMediaWiki:
    """A real MediaWiki with TextExtracts and PageImages, seeded with ``pages`` and served on 127.0.0.1."""

    def __init__(
        self,
        workdir: Path,
        pages: Sequence[WikiPage],
        *,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        php: str = "php",
    ) -> None:
        self.workdir = Path(workdir)
        self.pages = tuple(pages)
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.use_cache = use_cache
        self.php = php
        self.wiki_dir = self.workdir / "wiki"
        self.log_path = self.workdir / "php-server.log"
        self.start_seconds: float | None = None
        self.cache_hit: bool | None = None
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # -- public API -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:8123``."""
        if self._port is None:
            raise MediaWikiError("the wiki is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """Return the Action API endpoint, ``http://127.0.0.1:<port>/w/api.php``."""
        return f"{self.base_url}/w/api.php"

    @property
    def index_url(self) -> str:
        """Return ``index.php``, e.g. for ``?title=X&action=raw``."""
        return f"{self.base_url}/w/index.php"

    def article_url(self, title: str) -> str:
        """Return the page URL MediaWiki reports as ``fullurl`` for ``title``."""
        return f"{self.base_url}/wiki/{urllib.parse.quote(title.replace(' ', '_'), safe='/:()!*,;@$')}"

    def start(self) -> LocalMediaWiki:
        """Copy (building first if not cached) the seeded wiki into the workdir and serve it."""
        if self._process is not None:
            raise MediaWikiError("the wiki is already started")
        began = time.monotonic()
        missing = missing_system_deps()
        if missing:
            raise MediaWikiError(f"missing {', '.join(missing)}; {INSTALL_HINT}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.wiki_dir.exists():
            shutil.rmtree(self.wiki_dir)
        self._prepare_wiki_dir()
        self._serve()
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop PHP's server (and its workers); the workdir is left for post-mortems."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            # The server runs in its own process group so its workers stop with it.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._port = None

    def server_log(self) -> str:
        """Return what PHP's server has logged (requests, PHP warnings and fatal errors)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> LocalMediaWiki:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- building ---------------------------------------------------------------------------------

    def cache_key(self) -> str:
        """Return the hash that names this wiki's cache entry."""
        recipe = {
            "recipe": _RECIPE_VERSION,
            "mediawiki": mediawiki_version(),
            "settings": local_settings("http://127.0.0.1", secret_key="x"),
            "pages": [asdict(page) for page in self.pages],
        }
        encoded = json.dumps(recipe, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()[:24]

    def _prepare_wiki_dir(self) -> None:
        # Installing and seeding takes seconds; copying the finished SQLite files and localisation
        # cache out of the cache takes milliseconds, so each page set is built once per MediaWiki version.
        if not self.use_cache:
            self.cache_hit = False
            self._build(self.wiki_dir)
            return
        entry = self.cache_dir / self.cache_key()
        self.cache_hit = entry.is_dir()
        if not self.cache_hit:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            staging = self.cache_dir / f".building-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                self._build(staging)
                # A rename is atomic, so a concurrent session sees either no entry or a complete one.
                staging.rename(entry)
            except OSError:
                if not entry.is_dir():
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(entry, self.wiki_dir, symlinks=True)

    def _build(self, target: Path) -> None:
        """Install MediaWiki into ``target`` (SQLite), import the pages and fill the derived tables."""
        for name in ("db", "cache", "images", "installer"):
            (target / name).mkdir(parents=True)
        self._maintenance(
            target,
            "install.php",
            "--dbtype=sqlite",
            f"--dbpath={target / 'db'}",
            f"--dbname={DB_NAME}",
            "--server=http://127.0.0.1",
            "--scriptpath=/w",
            "--lang=en",
            f"--confpath={target / 'installer'}",
            f"--pass={secrets.token_urlsafe(16)}",
            "--skins=Vector",
            SITE_NAME,
            ADMIN_USER,
        )
        # The installer's LocalSettings.php holds absolute paths; ours is relative to its own directory.
        shutil.rmtree(target / "installer")
        self._write_instance_files(target, "http://127.0.0.1")
        dump = target / "seed.xml"
        dump.write_bytes(export_dump(self.pages))
        # Without --no-updates the import itself fills pagelinks (backlinks), redirect and page_props.
        self._maintenance(target, "importDump.php", str(dump))
        dump.unlink()
        # Web requests never run jobs ($wgJobRunRate = 0), so whatever the import queued runs now.
        self._maintenance(target, "runJobs.php")
        self._maintenance(target, "rebuildrecentchanges.php")
        # SQLite's full-text table is what list=search with srwhat=text reads.
        self._maintenance(target, "rebuildtextindex.php")
        self._maintenance(target, "initSiteStats.php", "--update")
        # Warm the localisation cache now so the first API request of every session is not slow.
        self._maintenance(target, "rebuildLocalisationCache.php", "--lang=en")

    def _maintenance(self, target: Path, script: str, *args: str) -> str:
        """Run a MediaWiki maintenance script against the wiki in ``target``."""
        env = {**os.environ, "MW_CONFIG_FILE": str(target / "LocalSettings.php")}
        command = [self.php, str(MEDIAWIKI_DIR / "maintenance" / script), *args]
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise MediaWikiError(
                f"{script} failed with exit code {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result.stdout

    def _write_instance_files(self, target: Path, server: str) -> None:
        (target / "LocalSettings.php").write_text(
            local_settings(server, secret_key=secrets.token_hex(32)), encoding="utf-8"
        )
        (target / "router.php").write_text(ROUTER_PHP, encoding="utf-8")

    # -- serving ----------------------------------------------------------------------------------

    def _serve(self) -> None:
        last_error: MediaWikiError | None = None
        for _ in range(_PORT_ATTEMPTS):
            self._port = _free_port()
            self._write_instance_files(self.wiki_dir, self.base_url)
            try:
                self._launch()
                self._wait_until_ready()
            except MediaWikiError as error:
                self.stop()
                last_error = error
                # Only a lost race for the port is worth another try.
                if "Address already in use" not in str(error):
                    raise
            else:
                return
        assert last_error is not None
        raise last_error

    def _launch(self) -> None:
        env = {
            **os.environ,
            "MW_CONFIG_FILE": str(self.wiki_dir / "LocalSettings.php"),
            "PHP_CLI_SERVER_WORKERS": str(_PHP_SERVER_WORKERS),
        }
        command = [
            self.php,
            "-d",
            "display_errors=stderr",
            "-S",
            f"127.0.0.1:{self._port}",
            "-t",
            str(self.wiki_dir),
            str(self.wiki_dir / "router.php"),
        ]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self.wiki_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        probe = f"{self.api_url}?action=query&meta=siteinfo&format=json&formatversion=2"
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise MediaWikiError(
                    f"php -S exited with code {self._process.returncode} before the wiki answered\n{self.server_log()}"
                )
            try:
                with urllib.request.urlopen(probe, timeout=5) as response:
                    body = json.load(response)
                if body.get("query", {}).get("general", {}).get("sitename") == SITE_NAME:
                    return
                last_problem = f"unexpected siteinfo answer: {body}"
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}: {error.read()[:2000]!r}"
            except (OSError, ValueError) as error:
                last_problem = repr(error)
            time.sleep(0.1)
        raise MediaWikiError(
            f"MediaWiki at {self.api_url} did not answer within {_READY_TIMEOUT_SECONDS:.0f}s "
            f"({last_problem})\nphp server log:\n{self.server_log()}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def export_dump(pages: Sequence[WikiPage]) -> bytes:
    """Return ``pages`` as a MediaWiki XML export (format 0.11), as ``importDump.php`` reads it."""
    namespace = "http://www.mediawiki.org/xml/export-0.11/"
    root = ET.Element("mediawiki", {"xmlns": namespace, "version": "0.11", "xml:lang": "en"})
    # Recent timestamps put the seeded edits inside $wgRCMaxAge, so recentchanges lists them.
    newest = datetime.now(UTC).replace(microsecond=0)
    for index, page in enumerate(pages):
        element = ET.SubElement(root, "page")
        ET.SubElement(element, "title").text = page.title
        ET.SubElement(element, "ns").text = str(_namespace_of(page.title))
        revision = ET.SubElement(element, "revision")
        stamp = newest - timedelta(minutes=len(pages) - index)
        ET.SubElement(revision, "timestamp").text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        contributor = ET.SubElement(revision, "contributor")
        ET.SubElement(contributor, "username").text = ADMIN_USER
        ET.SubElement(revision, "comment").text = "Seeded by the WikiRoam test suite"
        ET.SubElement(revision, "model").text = "wikitext"
        ET.SubElement(revision, "format").text = "text/x-wiki"
        text = ET.SubElement(revision, "text", {"xml:space": "preserve"})
        text.text = page.wikitext
    dump: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return dump


def _namespace_of(title: str) -> int:
    prefixes = {"Category": 14, "Template": 10, "Help": 12, "Project": 4}
    prefix, colon, _ = title.partition(":")
    return prefixes.get(prefix, 0) if colon else 0


def local_settings(server: str, *, secret_key: str) -> str:
    """Return the LocalSettings.php for one wiki; paths are relative to the file so copies still work."""
    extensions = "\n".join(
        f"wfLoadExtension( '{name}', '{EXTENSIONS_DIR / name / 'extension.json'}' );" for name in EXTENSIONS
    )
    return f"""<?php
// LocalSettings.php for a throwaway WikiRoam integration-test wiki (generated; do not edit).
if ( !defined( 'MEDIAWIKI' ) ) {{
	exit;
}}
require_once "$IP/includes/PlatformSettings.php";

$wgSitename = {_php_string(SITE_NAME)};
$wgMetaNamespace = "Project";
$wgServer = {_php_string(server)};
$wgCanonicalServer = $wgServer;
$wgScriptPath = "/w";
$wgArticlePath = "/wiki/$1";
$wgUsePathInfo = true;
$wgResourceBasePath = $wgScriptPath;
$wgLanguageCode = "en";
$wgLocaltimezone = "UTC";
$wgSecretKey = {_php_string(secret_key)};
$wgAuthenticationTokenVersion = "1";

$wgDBtype = "sqlite";
$wgDBserver = "";
$wgDBname = {_php_string(DB_NAME)};
$wgDBuser = "";
$wgDBpassword = "";
$wgSQLiteDataDir = __DIR__ . "/db";
$wgObjectCaches[CACHE_DB] = [
	'class' => SqlBagOStuff::class,
	'loggroup' => 'SQLBagOStuff',
	'server' => [
		'type' => 'sqlite',
		'dbname' => 'wikicache',
		'tablePrefix' => '',
		'variables' => [ 'synchronous' => 'NORMAL' ],
		'dbDirectory' => $wgSQLiteDataDir,
		'trxMode' => 'IMMEDIATE',
		'flags' => 0,
	],
];
$wgJobTypeConf['default'] = [
	'class' => 'JobQueueDB',
	'claimTTL' => 3600,
	'server' => [
		'type' => 'sqlite',
		'dbname' => "{{$wgDBname}}_jobqueue",
		'tablePrefix' => '',
		'variables' => [ 'synchronous' => 'NORMAL' ],
		'dbDirectory' => $wgSQLiteDataDir,
		'trxMode' => 'IMMEDIATE',
		'flags' => 0,
	],
];
$wgSharedTables[] = "actor";
$wgMainCacheType = CACHE_NONE;
$wgMemCachedServers = [];
// Localisation cache as files inside the wiki directory, so the cached copy carries it warm.
$wgCacheDirectory = __DIR__ . "/cache";
$wgUploadDirectory = __DIR__ . "/images";
$wgUploadPath = "$wgScriptPath/images";

// Nothing in the test wiki may reach the network or send mail.
$wgEnableUploads = false;
$wgUseInstantCommons = false;
$wgForeignFileRepos = [];
$wgPingback = false;
$wgEnableEmail = false;
$wgEnableUserEmail = false;
$wgEnotifUserTalk = false;
$wgEnotifWatchlist = false;
$wgAllowExternalImages = false;
$wgAllowCopyUploads = false;
$wgUseImageMagick = false;
$wgHTTPTimeout = 1;

// Jobs are run at build time; running them on web requests would only slow the API down.
$wgJobRunRate = 0;
$wgShowExceptionDetails = true;
$wgDefaultSkin = "vector";
wfLoadSkin( 'Vector' );

{extensions}
"""


def _php_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


# PHP's built-in server has no rewrite rules; this router plays that part, mapping the URL layout of
# a typical wiki (/w/api.php, /w/index.php, /wiki/Title) onto Debian's read-only MediaWiki tree.
ROUTER_PHP = r"""<?php
// Router for PHP's built-in web server in front of a WikiRoam integration-test wiki (generated).
$wikiroamCore = '@MEDIAWIKI_DIR@';
$wikiroamPath = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) ?? '/';
$wikiroamEntry = null;
if ( preg_match( '#^/w/(api|index|load|rest|opensearch_desc)\.php(/.*)?$#', $wikiroamPath, $wikiroamMatch ) ) {
	$wikiroamEntry = $wikiroamMatch[1] . '.php';
} elseif ( $wikiroamPath === '/' || $wikiroamPath === '/w/' || str_starts_with( $wikiroamPath, '/wiki/' ) ) {
	$wikiroamEntry = 'index.php';
} elseif ( preg_match( '#^/w/((?:resources|skins|extensions)/[A-Za-z0-9_./-]+)$#', $wikiroamPath, $wikiroamMatch )
	&& !str_contains( $wikiroamMatch[1], '..' )
	&& !str_ends_with( $wikiroamMatch[1], '.php' )
	&& is_file( $wikiroamCore . '/' . $wikiroamMatch[1] )
) {
	$wikiroamTypes = [
		'css' => 'text/css', 'js' => 'text/javascript', 'json' => 'application/json',
		'svg' => 'image/svg+xml', 'png' => 'image/png', 'gif' => 'image/gif', 'jpg' => 'image/jpeg',
		'ico' => 'image/x-icon', 'woff' => 'font/woff', 'woff2' => 'font/woff2',
	];
	$wikiroamExtension = strtolower( pathinfo( $wikiroamMatch[1], PATHINFO_EXTENSION ) );
	header( 'Content-Type: ' . ( $wikiroamTypes[$wikiroamExtension] ?? 'application/octet-stream' ) );
	readfile( $wikiroamCore . '/' . $wikiroamMatch[1] );
	return true;
}
if ( $wikiroamEntry === null ) {
	http_response_code( 404 );
	header( 'Content-Type: text/plain' );
	echo "Not found: $wikiroamPath\n";
	return true;
}
define( 'MW_CONFIG_FILE', __DIR__ . '/LocalSettings.php' );
$_SERVER['SCRIPT_NAME'] = '/w/' . $wikiroamEntry;
$_SERVER['PHP_SELF'] = '/w/' . $wikiroamEntry;
$_SERVER['SCRIPT_FILENAME'] = $wikiroamCore . '/' . $wikiroamEntry;
chdir( $wikiroamCore );
require $wikiroamCore . '/' . $wikiroamEntry;
""".replace("@MEDIAWIKI_DIR@", str(MEDIAWIKI_DIR))


# -- the seed corpus --------------------------------------------------------------------------------
# Invented text about an invented river valley, plus titles that are awkward in URLs and JSON.

HUB_TITLE = "Hub"
SEARCH_TERM = "river"
REDIRECT_TITLE = "Zurich"
REDIRECT_TARGET = "Zürich"
INJECTION_TITLE = "Script injection sample"
INJECTION_MARKUP = "<script>alert(1)</script>"
MISSING_TITLE = "No such page in the WikiRoam test wiki"
# Music: more pages mention it than one page of results holds, and the default database search answers in title
# order, so the page titled "Music" is not among the first ten text matches.
MUSIC_TITLE = "Music"
# "Rock & roll" is reached directly and through redirects: "Rock and roll" and "Rock 'n' roll" redirect to it,
# "Rock-and-roll" redirects to a redirect (MediaWiki follows one level, so the page linking to it is no backlink).
ROLL_TITLE = "Rock & roll"
ROLL_REDIRECT = "Rock and roll"
ROLL_DOUBLE_REDIRECT = "Rock-and-roll"


def seed_pages() -> tuple[WikiPage, ...]:
    """Return the corpus the integration-test wiki is seeded with (about sixty linked pages)."""
    pages = {
        HUB_TITLE: (
            "'''Hub''' is the central page of the WikiRoam test wiki. Many pages link here, so its list "
            "of backlinks is long enough to need several batches.\n\n"
            "== Purpose ==\nRoaming starts here and fans out to [[River Aldwater]], [[Marrowby]] and "
            "[[Zürich]]."
        ),
        "River Aldwater": (
            "The '''River Aldwater''' is an invented river that rises in the [[Greystone]] hills and "
            "flows past [[Marrowby]] to the sea at [[Lowhaven]]. Its water is cold and clear all year.\n\n"
            "== Course ==\nBelow [[Kessel Ford]] the river widens and slows. The [[Brenn River]] joins it "
            "from the north.\n\n"
            "== In culture ==\nThe [[Harbour songs]] of the coast name this river more than any other "
            "place.\n\nSee also the [[Hub]].\n\n[[Category:Rivers]]"
        ),
        "Brenn River": (
            "The '''Brenn River''' is a short, fast river fed by [[Snowmelt]] from the northern ridges. "
            "It joins the [[River Aldwater]] below [[Upper Wend]]. In spring the river carries so much "
            "water that the [[Ferry]] stops running.\n\nBack to the [[Hub]].\n\n[[Category:Rivers]]"
        ),
        "Silverrun": (
            "'''Silverrun''' is what people in this corpus call a small river that glitters at dawn as "
            "it passes through [[Zürich]]. [[Trout]] gather in its shallow pools.\n\n[[Category:Rivers]]"
        ),
        "Otter Creek": (
            "'''Otter Creek''' is a stream rather than a river, though old maps often call it one. It "
            "drains the marsh west of [[Marrowby]] into the [[River Aldwater]]. [[Heron]]s wade along "
            "its banks."
        ),
        "River delta": (
            "A '''river delta''' forms where a river drops its silt before it meets the sea. The delta "
            "below [[Lowhaven]] grows a little every year.\n\n"
            "== Shape ==\nSeen from a hilltop, the channels spread like the fingers of a hand.\n\n"
            "Back to the [[Hub]]."
        ),
        "Fording": (
            "'''Fording''' is crossing a river on foot, on horseback or by cart where the water is "
            "shallow. The village of [[Kessel Ford]] is named after such a crossing. A [[Flood]] makes "
            "fording dangerous."
        ),
        "Ferry": (
            "A '''ferry''' carries people and goods across water. The rope ferry at [[Upper Wend]] "
            "crosses the river twice an hour in summer. Compare the [[Bridge of Tolls]].\n\n"
            "Back to the [[Hub]]."
        ),
        "Water mill": (
            "A '''water mill''' turns the push of a river into work, usually grinding grain. The old mill "
            "at [[Marrowby]] still turns on feast days.\n\nBack to the [[Hub]]."
        ),
        "Bridge of Tolls": (
            "The '''Bridge of Tolls''' spans the [[River Aldwater]] at [[Lowhaven]]. Every cart paid a "
            "copper coin to cross, and the coins paid for the [[Lighthouse]]. Its beams are [[Oak]].\n\n"
            "Back to the [[Hub]]."
        ),
        "Marrowby": (
            "'''Marrowby''' is a market town in the invented Vell valley. It stands where [[Otter Creek]] "
            "meets the [[River Aldwater]] and is known for its [[Water mill]] and its cheese.\n\n"
            "== Market ==\nThe market is held every Thursday, with a [[Fiddle]] player at each "
            "corner.\n\nBack to the [[Hub]]."
        ),
        "Kessel Ford": (
            "'''Kessel Ford''' is a village that grew up around a shallow crossing (see [[Fording]]). "
            "Travellers on the [[Salt road]] rested here before the climb.\n\nBack to the [[Hub]]."
        ),
        "Upper Wend": (
            "'''Upper Wend''' is a hill village above the meeting of the [[Brenn River]] and the "
            "[[River Aldwater]]. It keeps a rope [[Ferry]].\n\nBack to the [[Hub]]."
        ),
        "Lowhaven": (
            "'''Lowhaven''' is a port at the mouth of the [[River Aldwater]], beside its [[River delta]]. "
            "Its [[Lighthouse]] guides boats past the sandbanks.\n\nBack to the [[Hub]]."
        ),
        "Greystone": (
            "'''Greystone''' is a quarry town in the hills where the [[River Aldwater]] begins. Its slate "
            "roofs look grey in every weather."
        ),
        "Rock & roll": (
            "'''Rock & roll''' is popular music built on a strong backbeat, electric guitars and short, "
            "loud songs. In this wiki it is linked from [[AC/DC]] and the [[Harbour songs]].\n\n"
            "== Title ==\nThe ampersand in this title has to be sent as %26 inside a query string.\n\n"
            "Back to the [[Hub]]."
        ),
        "AC/DC": (
            "'''AC/DC''' is, in this corpus, a loud guitar band; the title is here because its slash "
            "looks like a path separator. The band plays [[Rock & roll]].\n\n"
            "Electricians also write AC/DC for alternating and direct current.\n\nBack to the [[Hub]]."
        ),
        "Harbour songs": (
            "'''Harbour songs''' are work songs sung on the quays of [[Lowhaven]]. Most are about the "
            "river, the tide or the [[Lighthouse]], and some are now played as [[Rock & roll]]."
        ),
        "Fiddle": (
            "A '''fiddle''' is a violin played for dancing. Fiddlers in [[Marrowby]] play at the Thursday market."
        ),
        "C++": (
            "'''C++''' is a compiled programming language. The plus signs in this title must be sent as "
            "%2B in a URL, or they turn into spaces.\n\n"
            "== Tooling ==\nA [[Compiler]] turns C++ source into object files and a [[Linker]] joins "
            "them.\n\nBack to the [[Hub]]."
        ),
        "Compiler": (
            "A '''compiler''' translates source code, for example [[C++]], into machine code. See also [[Linker]]."
        ),
        "Linker": "A '''linker''' combines the object files a [[Compiler]] produced into one program.",
        "Python (programming language)": (
            "'''Python''' is a programming language; WikiRoam is written in it. The parentheses in this "
            "title are a common source of mistakes when URLs are built by hand."
        ),
        REDIRECT_TARGET: (
            "'''Zürich''' is a city whose name has an umlaut, which makes it a good test of UTF-8 titles. "
            "In this corpus the [[Silverrun]] river flows through it.\n\n"
            "== Spelling ==\nWithout the umlaut the name is written Zurich, which redirects here.\n\n"
            "Back to the [[Hub]]."
        ),
        REDIRECT_TITLE: f"#REDIRECT [[{REDIRECT_TARGET}]]",
        INJECTION_TITLE: (
            f"This page checks that markup in page text stays text. {INJECTION_MARKUP} If a reader "
            "ever sees a dialog box, escaping is broken somewhere.\n\n"
            "== Details ==\nMediaWiki escapes the tag, so plain-text extracts show it literally."
        ),
        "What is a river?": (
            "'''What is a river?''' is a question children in [[Marrowby]] ask. A river is water that "
            "keeps moving downhill until it reaches a lake or the sea. The question mark in this title "
            "has to be sent as %3F in a URL.\n\nBack to the [[Hub]]."
        ),
        "Rain": "'''Rain''' fills the streams that feed every river in the valley. November is the wettest month.",
        "Flood": (
            "A '''flood''' happens when a river rises over its banks. The great flood of the invented "
            "year 1811 reached the steps of the [[Water mill]] in [[Marrowby]].\n\nBack to the [[Hub]]."
        ),
        "Drought": (
            "A '''drought''' is a long spell without [[Rain]]. In dry summers the river at "
            "[[Kessel Ford]] can be crossed without wetting one's knees."
        ),
        "Snowmelt": "'''Snowmelt''' is water from melting snow. It swells the [[Brenn River]] every April.",
        "Kingfisher": (
            "The '''kingfisher''' is a small blue bird that dives for fish from branches above a river. "
            "It nests in holes in earth banks."
        ),
        "Heron": (
            "The '''heron''' is a tall grey wading bird. It stands still in the shallows of "
            "[[Otter Creek]] waiting for [[Trout]]."
        ),
        "Trout": (
            "'''Trout''' are fish of cold, clean water, common in the [[Silverrun]] and the upper [[River Aldwater]]."
        ),
        "Willow": (
            "The '''willow''' is a tree that likes wet ground; it is planted on river banks so its roots hold the soil."
        ),
        "Oak": "The '''oak''' is a slow-growing tree with hard wood. The [[Bridge of Tolls]] is built of it.",
        "Salt road": (
            "The '''Salt road''' was a trade route from [[Lowhaven]] inland to [[Greystone]]. It crossed "
            "the river at [[Kessel Ford]].\n\nBack to the [[Hub]]."
        ),
        "Lighthouse": (
            "The '''lighthouse''' at [[Lowhaven]] was paid for by the [[Bridge of Tolls]]. Its lamp can "
            "be seen from the far side of the [[River delta]]."
        ),
        "Cartography": (
            "'''Cartography''' is the making of maps. Old maps of the valley draw every river in blue "
            "and every road in red.\n\nBack to the [[Hub]]."
        ),
        "Category:Rivers": "Pages about the rivers of the invented Vell valley.",
        **_music_pages(),
    }
    return tuple(WikiPage(title, wikitext) for title, wikitext in pages.items())


def _music_pages() -> dict[str, str]:
    """Pages about music, most of them titled before "Music", and the redirects to "Rock & roll"."""
    instruments = {
        "Accordion": "squeezed bellows",
        "Bagpipes": "a bag of air and drones",
        "Banjo": "a drum head under the strings",
        "Cello": "a bow drawn across low strings",
        "Drum kit": "sticks on skins and cymbals",
        "Flute": "breath across a hole",
        "Harmonica": "reeds in a small metal case",
        "Harp": "plucked strings in a tall frame",
        "Lute": "a round back and a bent neck",
        "Mandolin": "paired steel strings",
        "Violin": "a bow and four strings",
        "Zither": "strings stretched over a flat box",
    }
    pages = {
        title: f"The '''{title.lower()}''' makes music with {how}. It is heard at every dance in [[Marrowby]]."
        for title, how in instruments.items()
    }
    pages.update(
        {
            "100% Pure": "'''100% Pure''' is a fanzine about music, printed on a kitchen table and sold at gigs.",
            MUSIC_TITLE: (
                "'''Music''' is the art of arranging sounds in time. [[Rock & roll]], the [[Blues]], the "
                "[[Guitar]] and the [[Piano]] all belong to it.\n\n"
                "== Scope ==\nEvery instrument page of this wiki is about music."
            ),
            "Guitar": "The '''guitar''' is the loudest instrument of [[Rock & roll]] music; its strings are steel.",
            "Piano": "The '''piano''' is a keyboard instrument. Boogie-woogie piano music led to [[Rock & roll]].",
            "Blues": "The '''blues''' is a music of bent notes and twelve bars. It led to [[Rock and roll]].",
            "Jukebox": (
                "A '''jukebox''' plays music for a coin. Its records were mostly [[Rock & roll]], or as the "
                "labels said, [[Rock and roll]]."
            ),
            "Skiffle": (
                "'''Skiffle''' is a homemade music of washboards and tea chests. Its fans heard the next sound "
                "as [[Rock 'n' roll]], or [[Rock and roll]]."
            ),
            "Rockabilly": "'''Rockabilly''' is an early, twangy music, spelt [[Rock-and-roll]] on old posters.",
            ROLL_REDIRECT: f"#REDIRECT [[{ROLL_TITLE}]]",
            "Rock 'n' roll": f"#REDIRECT [[{ROLL_TITLE}]]",
            ROLL_DOUBLE_REDIRECT: f"#REDIRECT [[{ROLL_REDIRECT}]]",
        }
    )
    return pages


SEED_PAGES = seed_pages()


def pages_linking_to(title: str, pages: Sequence[WikiPage] = SEED_PAGES) -> frozenset[str]:
    """Return the titles of the pages whose wikitext links to ``title`` (what backlinks must list)."""
    pattern = re.compile(r"\[\[\s*" + re.escape(title) + r"\s*(?:\|[^\]]*)?\]\]")
    return frozenset(
        page.title
        for page in pages
        if pattern.search(page.wikitext) and not page.wikitext.lstrip().upper().startswith("#REDIRECT")
    )
