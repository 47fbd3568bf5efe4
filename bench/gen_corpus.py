#!/usr/bin/env python3
"""logferry's syslog corpus: what sixteen Debian servers of one small web
shop log over a few hours or days, written the same way byte for byte
whenever the seed is the same. Benchmarks, soak and integration tests read
it, so their figures and counts can be compared between runs and machines.

    bench/gen_corpus.py -n 1000000 -o bench/out/corpus-1000000.log
    bench/gen_corpus.py -n 2000 --format rfc5424 | less
    bench/gen_corpus.py -n 100000 --start 1795208400 --seed 7 -o c.log

Formats (--format):
  file      rsyslog's traditional file format, as /var/log/syslog holds it:
            "Nov 21 06:25:03 app03 CRON[48213]: (root) CMD (...)"
  rfc5424   RFC 5424 with microseconds, and the priority of the facility
            and severity each program logs at:
            "<78>1 2026-11-21T06:25:03.118204+00:00 app03 CRON 48213 - - ..."
  ops       the "%HOSTNAME% ops %syslogtag% %msg%" template; rsyslog's
            %msg% keeps the space after the tag, hence two spaces:
            "app03 ops CRON[48213]:  (root) CMD (...)"

The fleet: edge1-2 (nginx in front), app01-06 (nginx + PHP behind them),
db1-2, mx1-2 (Postfix), bastion1 (the one sshd that takes passwords),
ci1, mon1, backup1. What they log:

  traffic, at random:  nginx access lines through nginx's syslog target
                       (the edge in "combined" format, the apps in "main"
                       with X-Forwarded-For); sshd: password guessing and
                       key-only probes from the internet, admins' sessions
                       with their PAM and sudo lines; Postfix: the whole
                       smtpd -> cleanup -> qmgr -> smtp/pipe -> removed
                       chain, some deferred or bounced; kernel: UFW blocks,
                       now and then an OOM kill (with systemd's restart of
                       the unit) or another kernel complaint.
  by the clock:        CRON's hourly run-parts at :17 and the metrics job
                       every 5 minutes, each with its pam_unix session
                       lines; the job's "LoadAverage: 0.42"-style lines
                       logged by logger(1) as "root"; systemd timers'
                       units (sysstat every 10 minutes, phpsessionclean,
                       logrotate and man-db at midnight, apt-daily...).

Every line is a kind that grammars/logferry.grok (LOGFERRY_SYSLOG) gives
fields to; tests/integration/corpus_formats.sh checks that on all three
formats. Lines come at about four a second (100k lines: about 7 hours),
timestamps in UTC from --start, never going backwards.
"""
import argparse
import heapq
import random
import sys
import time

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
US = 1000000            # microseconds in a second
LINE_GAP_US = 280000    # mean gap per random line; the clock jobs add ~10%

# syslog facilities and severities (RFC 5424 PRI = facility * 8 + severity)
KERN, USER, MAIL, DAEMON, AUTH, CRON_F, AUTHPRIV, LOCAL7 = 0, 1, 2, 3, 4, 9, 10, 23
ERR, WARNING, NOTICE, INFO = 3, 4, 5, 6

DOMAIN = "example.com"

# --- the fleet -------------------------------------------------------------

# name, role, address
FLEET = (
    ("edge1", "edge", "203.0.113.10"), ("edge2", "edge", "203.0.113.11"),
    ("app01", "app", "10.0.1.11"), ("app02", "app", "10.0.1.12"),
    ("app03", "app", "10.0.1.13"), ("app04", "app", "10.0.1.14"),
    ("app05", "app", "10.0.1.15"), ("app06", "app", "10.0.1.16"),
    ("db1", "db", "10.0.2.21"), ("db2", "db", "10.0.2.22"),
    ("mx1", "mx", "203.0.113.25"), ("mx2", "mx", "203.0.113.26"),
    ("bastion1", "bastion", "203.0.113.20"),
    ("ci1", "ci", "10.0.3.31"), ("mon1", "mon", "10.0.3.32"),
    ("backup1", "backup", "10.0.3.33"),
)
EDGE_INSIDE = {"edge1": "10.0.0.11", "edge2": "10.0.0.12"}

# (load average baseline, memory % baseline, swap % baseline, disk % start)
ROLE_LOAD = {"edge": (0.35, 31.0, 0.0, 22.0), "app": (1.4, 58.0, 1.5, 41.0),
             "db": (0.9, 82.0, 6.0, 63.0), "mx": (0.2, 38.0, 0.0, 35.0),
             "bastion": (0.05, 19.0, 0.0, 14.0), "ci": (2.6, 71.0, 12.0, 77.0),
             "mon": (0.6, 49.0, 0.5, 52.0), "backup": (0.4, 27.0, 0.0, 86.0)}

# What runs out of memory where: command as the kernel names it, uid, its
# memory cgroup, the unit systemd restarts (None: the unit lives on), the
# least total-vm in kB.
OOM_VICTIMS = {"app": ("php-fpm8.2", 33, "/system.slice/php8.2-fpm.service", "php8.2-fpm.service", 600000),
               "db": ("postgres", 112, "/system.slice/system-postgresql.slice/postgresql@15-main.service",
                      "postgresql@15-main.service", 9000000),
               "ci": ("java", 999, "/system.slice/gitlab-runner.service", None, 7000000),
               "mon": ("prometheus", 108, "/system.slice/prometheus.service", "prometheus.service", 4000000)}

ADMINS = (("deploy", 1001, "ED25519"), ("ansible", 1002, "ED25519"),
          ("mkeller", 1003, "ED25519"), ("jsato", 1004, "RSA"),
          ("abenali", 1005, "ECDSA"), ("backup", 1006, "RSA"))
ADMIN_NETS = ("10.8.0.", "10.8.1.")   # the VPN

# What bots try, most often first.
GUESSED_USERS = ("admin", "admin", "test", "user", "ubuntu", "ubuntu", "oracle",
                 "postgres", "git", "guest", "ftpuser", "pi", "support",
                 "hadoop", "debian", "deploy", "dev", "steam", "minecraft",
                 "nagios", "jenkins", "es", "elastic", "odoo", "tomcat",
                 "centos", "www", "server", "user1", "123456", "administrator")

# --- the web shop ------------------------------------------------------------

SITE = "https://shop." + DOMAIN
PRODUCTS = ("trail-runner-gtx", "merino-crew-socks", "alpine-shell-jacket",
            "ultralight-tent-2p", "down-quilt-650", "titanium-spork",
            "headlamp-400lm", "waterproof-gaiters", "fleece-midlayer",
            "hiking-poles-carbon", "stove-canister-230g", "bivy-bag")
CATEGORIES = ("footwear", "clothing", "camping", "cooking", "lighting", "sale")
QUERIES = ("tent", "socks+wool", "rain+jacket", "stove", "gift+card",
           "headlamp", "sleeping+bag", "boots+size+44")
ASSETS = (("/assets/app.3f9c1e7a.js", 148213), ("/assets/vendor.a81d0c44.js", 402877),
          ("/assets/site.5b2e91d0.css", 61530), ("/assets/fonts/inter-var.woff2", 98412),
          ("/favicon.ico", 15086), ("/assets/logo.svg", 4211))
PROBES = ("/.env", "/.git/config", "/wp-login.php", "/xmlrpc.php",
          "/phpmyadmin/index.php", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
          "/cgi-bin/luci/;stok=/locale", "/admin/config.php", "/.aws/credentials",
          "/server-status", "/actuator/health", "/boaform/admin/formLogin",
          "/owa/auth/logon.aspx", "/api/.env", "/backup.zip")
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)
CRAWLERS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
SCANNERS = ("Mozilla/5.0 zgrab/0.x", "python-requests/2.32.3", "Go-http-client/1.1",
            "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
            "curl/7.88.1")

# --- mail ----------------------------------------------------------------------

# Where outbound mail goes: recipient domain, its MX and the MX's address.
REMOTE_MX = (("example.org", "mx1.example.org", "198.51.100.25"),
             ("example.net", "mail.example.net", "198.51.100.40"),
             ("mail.example", "mx.mail.example", "192.0.2.80"),
             ("example.edu", "inbound.example.edu", "192.0.2.144"))
LOCAL_MAILBOXES = ("orders", "support", "alice", "bob", "mkeller", "jsato", "billing")
CUSTOMERS = ("anna.schmidt", "j.doe", "li.wei", "mario", "sam.k", "noreply",
             "p.novak", "olga", "ravi.patel", "m.dubois", "tkowalski", "e.garcia")


class Host:
    """One server: its name and address, the pids it hands out, when it
    booted (for the kernel's uptime stamps) and its metrics' state."""
    __slots__ = ("name", "role", "addr", "mac", "boot_us", "last_pid",
                 "load", "mem", "swap", "disk", "qmgr_pid", "daemon_pids")

    def __init__(self, rng, name, role, addr, start_us):
        self.name, self.role, self.addr = name, role, addr
        self.mac = "52:54:00:%02x:%02x:%02x" % (rng.randrange(256), rng.randrange(256),
                                                rng.randrange(256))
        self.boot_us = start_us - rng.randrange(3 * 3600, 90 * 86400) * US - rng.randrange(US)
        self.last_pid = rng.randrange(2000, 900000)
        load, mem, swap, disk = ROLE_LOAD[role]
        self.load, self.mem, self.swap, self.disk = load, mem, swap, disk
        self.qmgr_pid = self.spawn(rng)
        # long-lived postfix workers, replaced now and then: smtpd, cleanup, smtp, pipe
        self.daemon_pids = [self.spawn(rng) for _ in range(4)]

    def spawn(self, rng):
        """The next pid, as Linux gives them: rising, other processes taking
        some in between, wrapping at pid_max."""
        self.last_pid += rng.randrange(1, 60)
        if self.last_pid >= 4194304:
            self.last_pid = 300 + rng.randrange(200)
        return self.last_pid


class Corpus:
    """The clock, the hosts, and the lines waiting for their time."""

    def __init__(self, rng, start_us):
        self.rng = rng
        self.hosts = [Host(rng, n, role, a, start_us) for n, role, a in FLEET]
        self.by_role = {}
        for h in self.hosts:
            self.by_role.setdefault(h.role, []).append(h)
        self.public = [h for h in self.hosts if h.addr.startswith("203.")]
        self.inside = [h for h in self.hosts if h.addr.startswith("10.")]
        self.keys = {u: "SHA256:" + "".join(rng.choice(B64) for _ in range(43))
                     for u, _, _ in ADMINS}
        self.pending = []   # heap of (time_us, seq, host, prog, pid, pri, msg)
        self.seq = 0
        self.session_no = {h.name: rng.randrange(1, 4000) for h in self.hosts}

    def log(self, t_us, host, prog, pid, fac, sev, msg):
        self.seq += 1
        heapq.heappush(self.pending, (t_us, self.seq, host, prog, pid, fac * 8 + sev, msg))

    # a few helpers the scenes share
    def internet_ip(self):
        """A client on the internet; documentation and CGNAT ranges only."""
        if self.rng.randrange(10) == 0:
            r = self.rng
            return "2001:db8:%x:%x::%x" % (r.randrange(1, 0xffff), r.randrange(0xffff),
                                           r.randrange(1, 0xfff))
        return self.internet_ipv4()

    def internet_ipv4(self):
        r = self.rng
        k = r.randrange(18)
        if k < 6:
            return "198.51.100.%d" % r.randrange(1, 255)
        if k < 11:
            return "203.0.113.%d" % r.randrange(40, 255)
        if k < 15:
            return "192.0.2.%d" % r.randrange(1, 255)
        # carrier-grade NAT: phones
        return "100.%d.%d.%d" % (r.randrange(64, 128), r.randrange(256), r.randrange(1, 255))

    def port(self):
        return self.rng.randrange(32768, 61000)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def httpdate(t_us):
    tm = time.gmtime(t_us // US)
    return "%02d/%s/%d:%02d:%02d:%02d +0000" % (tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
                                                 tm.tm_hour, tm.tm_min, tm.tm_sec)


def pf_seconds(x):
    """A delay as Postfix prints it: two significant digits, 0 for nothing."""
    if x < 0.005:
        return "0"
    if x < 10:
        return "%.2g" % x
    return "%d" % round(x)


# --- scenes: each logs one or more lines from time t on, returns how many ------

def web_visit(c, t):
    """A browser loads a page from the edge: the page itself is proxied to
    an app server (logged there too, with X-Forwarded-For), the assets come
    from the edge's cache."""
    r = c.rng
    edge = r.choice(c.by_role["edge"])
    app = r.choice(c.by_role["app"])
    client = c.internet_ip()
    ua = r.choice(BROWSERS)
    k = r.randrange(10)
    if k < 4:
        page = "/products/" + r.choice(PRODUCTS)
    elif k < 6:
        page = "/c/" + r.choice(CATEGORIES) + ("?page=%d" % r.randrange(2, 6) if r.randrange(3) == 0 else "")
    elif k < 7:
        page = "/search?q=" + r.choice(QUERIES)
    elif k < 8:
        page = "/"
    else:
        page = "/cart"
    referrer = r.choice(("-", "-", SITE + "/", "https://www.example.net/search?q=outdoor+shop"))
    status = 200 if r.randrange(40) else r.choice((404, 500, 502, 499))
    size = r.randrange(9000, 48000) if status == 200 else r.choice((0, 153, 568))
    # The app answers first; the edge logs when it has passed the answer on.
    c.log(t, app, "nginx", None, LOCAL7, INFO, '%s - - [%s] "GET %s HTTP/1.1" %d %d "%s" "%s" "%s"'
          % (EDGE_INSIDE[edge.name], httpdate(t), page, status, size, referrer, ua, client))
    t += r.randrange(1000, 150000)
    c.log(t, edge, "nginx", None, LOCAL7, INFO, '%s - - [%s] "GET %s HTTP/%s" %d %d "%s" "%s"'
          % (client, httpdate(t), page, r.choice(("1.1", "2.0", "2.0")), status, size, referrer, ua))
    n = 2
    if status != 200:
        return n
    cached = r.randrange(3) == 0
    for path, nbytes in ASSETS[:r.randrange(1, len(ASSETS) + 1)]:
        t += r.randrange(20000, 400000)
        st, nb = (304, 0) if cached else (200, nbytes)
        c.log(t, edge, "nginx", None, LOCAL7, INFO, '%s - - [%s] "GET %s HTTP/2.0" %d %d "%s" "%s"'
              % (client, httpdate(t), path, st, nb, SITE + page, ua))
        n += 1
    return n


def web_api(c, t):
    """The shop's JavaScript talks to the API: cart and order calls."""
    r = c.rng
    edge = r.choice(c.by_role["edge"])
    app = r.choice(c.by_role["app"])
    client = c.internet_ip()
    k = r.randrange(8)
    if k < 3:
        method, path, status, size = "GET", "/api/v2/cart", 200, r.randrange(180, 2400)
    elif k < 5:
        method, path, status, size = "POST", "/api/v2/cart/items", r.choice((201, 201, 201, 422)), r.randrange(90, 900)
    elif k < 6:
        method, path, status, size = "DELETE", "/api/v2/cart/items/%d" % r.randrange(1, 40), 204, 0
    elif k < 7:
        method, path, status, size = "POST", "/api/v2/orders", r.choice((201, 201, 402)), r.randrange(400, 1600)
    else:
        method, path, status, size = "GET", "/api/v2/stock?sku=%d" % r.randrange(10000, 99999), 200, r.randrange(60, 140)
    ua = r.choice(BROWSERS)
    c.log(t, app, "nginx", None, LOCAL7, INFO, '%s - - [%s] "%s %s HTTP/1.1" %d %d "%s/cart" "%s" "%s"'
          % (EDGE_INSIDE[edge.name], httpdate(t), method, path, status, size, SITE, ua, client))
    t += r.randrange(1000, 80000)
    c.log(t, edge, "nginx", None, LOCAL7, INFO, '%s - - [%s] "%s %s HTTP/2.0" %d %d "%s/cart" "%s"'
          % (client, httpdate(t), method, path, status, size, SITE, ua))
    return 2


def web_robot(c, t):
    """Crawlers fetching pages one at a time; scanners probing for files
    that should not be there; the monitoring's health checks."""
    r = c.rng
    edge = r.choice(c.by_role["edge"])
    k = r.randrange(10)
    if k < 4:
        line = '%s - - [%s] "GET /products/%s HTTP/1.1" 200 %d "-" "%s"' % (
            c.internet_ip(), httpdate(t), r.choice(PRODUCTS), r.randrange(9000, 48000), r.choice(CRAWLERS))
    elif k < 7:
        method = "POST" if r.randrange(5) == 0 else "GET"
        line = '%s - - [%s] "%s %s HTTP/1.1" %d %d "-" "%s"' % (
            c.internet_ip(), httpdate(t), method, r.choice(PROBES), r.choice((404, 404, 404, 403)),
            r.choice((153, 555)), r.choice(SCANNERS))
    elif k < 8:
        line = '%s - - [%s] "GET /robots.txt HTTP/1.1" 200 67 "-" "%s"' % (
            c.internet_ip(), httpdate(t), r.choice(CRAWLERS))
    else:
        line = '10.0.3.32 - - [%s] "GET /healthz HTTP/1.1" 200 2 "-" "Blackbox Exporter/0.25.0"' % httpdate(t)
    c.log(t, edge, "nginx", None, LOCAL7, INFO, line)
    return 1


def ssh_guessing(c, t):
    """A bot guessing passwords: a few connections in a row from one address,
    each its own sshd process. bastion1 takes passwords (pam_unix fails them
    first); the other public hosts take keys only, so the bot is cut off
    before it can try one."""
    r = c.rng
    host = r.choice(c.public)
    ip = c.internet_ip()
    port = c.port()
    n = 0
    for _ in range(r.randrange(1, 7)):
        pid = host.spawn(r)
        port += r.randrange(1, 500)
        if port > 65535:
            port -= 30000
        user = "root" if r.randrange(3) == 0 else r.choice(GUESSED_USERS)
        root = user == "root"
        if host.role == "bastion":
            if not root:
                c.log(t, host, "sshd", pid, AUTH, INFO, "Invalid user %s from %s port %d" % (user, ip, port))
            t += r.randrange(50000, 400000)
            c.log(t, host, "sshd", pid, AUTHPRIV, NOTICE,
                  "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=%s%s"
                  % (ip, "  user=root" if root else ""))
            t += r.randrange(1500000, 2600000)   # pam_faildelay
            c.log(t, host, "sshd", pid, AUTH, INFO, "Failed password for %s%s from %s port %d ssh2"
                  % ("" if root else "invalid user ", user, ip, port))
            t += r.randrange(100000, 900000)
            c.log(t, host, "sshd", pid, AUTH, INFO,
                  "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port))
            c.log(t, host, "sshd", pid, AUTH, INFO, "Disconnected from %s user %s %s port %d [preauth]"
                  % ("authenticating" if root else "invalid", user, ip, port))
            n += 5 if not root else 4
        else:
            if not root:
                c.log(t, host, "sshd", pid, AUTH, INFO, "Invalid user %s from %s port %d" % (user, ip, port))
                n += 1
            t += r.randrange(80000, 2000000)
            c.log(t, host, "sshd", pid, AUTH, INFO, "Connection closed by %s user %s %s port %d [preauth]"
                  % ("authenticating" if root else "invalid", user, ip, port))
            n += 1
        t += r.randrange(300000, 6000000)
    return n


def ssh_admin(c, t):
    """Someone logs in from the VPN with a key, maybe runs a few things with
    sudo, and logs out again minutes later; logind's session scope goes."""
    r = c.rng
    host = r.choice(c.hosts)
    user, uid, keytype = r.choice(ADMINS)
    ip = r.choice(ADMIN_NETS) + str(r.randrange(2, 250))
    port = c.port()
    pid = host.spawn(r)
    c.log(t, host, "sshd", pid, AUTH, INFO, "Accepted publickey for %s from %s port %d ssh2: %s %s"
          % (user, ip, port, keytype, c.keys[user]))
    c.log(t + r.randrange(5000, 40000), host, "sshd", pid, AUTHPRIV, INFO,
          "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (user, uid))
    c.session_no[host.name] += 1
    session = c.session_no[host.name]
    n = 2
    end = t + r.randrange(20, 2400) * US
    s = t + r.randrange(3, 60) * US
    for _ in range(r.choice((0, 0, 1, 1, 2, 3))):
        if s >= end:
            break
        sudo_pid = host.spawn(r)
        c.log(s, host, "sudo", sudo_pid, AUTHPRIV, INFO,
              "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%d)" % (user, uid))
        c.log(s + r.randrange(200000, 40 * US), host, "sudo", sudo_pid, AUTHPRIV, INFO,
              "pam_unix(sudo:session): session closed for user root")
        n += 2
        s += r.randrange(30, 600) * US
    if r.randrange(6):
        c.log(end, host, "sshd", pid, AUTH, INFO,
              "Received disconnect from %s port %d:11: disconnected by user" % (ip, port))
        c.log(end, host, "sshd", pid, AUTH, INFO, "Disconnected from user %s %s port %d" % (user, ip, port))
        n += 2
    else:  # the VPN dropped
        c.log(end, host, "sshd", pid, AUTH, INFO, "Connection reset by user %s %s port %d" % (user, ip, port))
        n += 1
    end += r.randrange(2000, 30000)
    c.log(end, host, "sshd", pid, AUTHPRIV, INFO, "pam_unix(sshd:session): session closed for user %s" % user)
    c.log(end + r.randrange(1000, 90000), host, "systemd", 1, DAEMON, INFO,
          "session-%d.scope: Deactivated successfully." % session)
    return n + 2


def mail_flow(c, t):
    """One message through an MX: relayed out for the shop (order mails from
    the app servers), or in from the internet into a local mailbox."""
    r = c.rng
    host = r.choice(c.by_role["mx"])
    smtpd, cleanup, smtp, pipe = host.daemon_pids
    if r.randrange(40) == 0:  # a worker reached max_use; a new one takes over
        host.daemon_pids[r.randrange(4)] = host.spawn(r)
    qid = "%010X" % r.getrandbits(40)
    outbound = r.randrange(3) != 0
    if outbound:
        app = r.choice(c.by_role["app"])
        peer, peer_ip = app.name + ".int." + DOMAIN, app.addr
        sender = r.choice(("orders@", "noreply@", "shipping@")) + "shop." + DOMAIN
        domain, mx, mx_ip = r.choice(REMOTE_MX)
        rcpt = "%s@%s" % (r.choice(CUSTOMERS), domain)
        msgid = "%d.%s@%s" % (t // US, "%08x" % r.getrandbits(32), "shop." + DOMAIN)
    else:
        domain, mx, mx_ip = r.choice(REMOTE_MX)
        peer, peer_ip = mx, mx_ip   # their MX is where their mail leaves from
        sender = "%s@%s" % (r.choice(CUSTOMERS), domain)
        rcpt = "%s@%s" % (r.choice(LOCAL_MAILBOXES), DOMAIN)
        msgid = "%s%d@%s" % ("%012x" % r.getrandbits(48), r.randrange(100), domain)
    size = r.randrange(1800, 90000)
    c.log(t, host, "postfix/smtpd", smtpd, MAIL, INFO, "connect from %s[%s]" % (peer, peer_ip))
    t += r.randrange(20000, 300000)
    c.log(t, host, "postfix/smtpd", smtpd, MAIL, INFO, "%s: client=%s[%s]" % (qid, peer, peer_ip))
    t += r.randrange(5000, 200000)
    c.log(t, host, "postfix/cleanup", cleanup, MAIL, INFO, "%s: message-id=<%s>" % (qid, msgid))
    t += r.randrange(1000, 20000)
    queued = t
    c.log(t, host, "postfix/qmgr", host.qmgr_pid, MAIL, INFO,
          "%s: from=<%s>, size=%d, nrcpt=1 (queue active)" % (qid, sender, size))
    t += r.randrange(2000, 60000)
    c.log(t, host, "postfix/smtpd", smtpd, MAIL, INFO,
          "disconnect from %s[%s] ehlo=%d mail=1 rcpt=1 data=1 quit=1 commands=%d"
          % (peer, peer_ip, 2 if outbound else 1, 6 if outbound else 5))
    n = 5
    before, in_qmgr = (t - queued) / US + r.random() * 0.2, r.random() * 0.02
    if not outbound:
        deliver = r.random() * 0.12
        t += int((in_qmgr + deliver) * US)
        c.log(t, host, "postfix/pipe", pipe, MAIL, INFO,
              "%s: to=<%s>, relay=dovecot, delay=%s, delays=%s/%s/0/%s, dsn=2.0.0, status=sent (delivered via dovecot service)"
              % (qid, rcpt, pf_seconds(before + in_qmgr + deliver), pf_seconds(before),
                 pf_seconds(in_qmgr), pf_seconds(deliver)))
        c.log(t + r.randrange(200, 3000), host, "postfix/qmgr", host.qmgr_pid, MAIL, INFO, "%s: removed" % qid)
        return n + 2
    fate = r.randrange(50)
    if fate < 3:      # their MX does not answer
        t += 30 * US
        c.log(t, host, "postfix/smtp", smtp, MAIL, INFO,
              "%s: to=<%s>, relay=none, delay=%s, delays=%s/%s/30/0, dsn=4.4.1, status=deferred (connect to %s[%s]:25: Connection timed out)"
              % (qid, rcpt, pf_seconds(before + in_qmgr + 30), pf_seconds(before), pf_seconds(in_qmgr), mx, mx_ip))
        return n + 1
    conn, xfer = 0.05 + r.random() * 0.5, 0.02 + r.random() * 0.6
    t += int((in_qmgr + conn + xfer) * US)
    delays = "delay=%s, delays=%s/%s/%s/%s" % (pf_seconds(before + in_qmgr + conn + xfer), pf_seconds(before),
                                               pf_seconds(in_qmgr), pf_seconds(conn), pf_seconds(xfer))
    relay = "%s[%s]:25" % (mx, mx_ip)
    if fate < 5:      # greylisted
        c.log(t, host, "postfix/smtp", smtp, MAIL, INFO,
              "%s: to=<%s>, relay=%s, %s, dsn=4.7.1, status=deferred (host %s[%s] said: 450 4.7.1 <%s>: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/%s.html (in reply to RCPT TO command))"
              % (qid, rcpt, relay, delays, mx, mx_ip, rcpt, domain))
        return n + 1
    if fate < 7:      # no such mailbox
        c.log(t, host, "postfix/smtp", smtp, MAIL, INFO,
              "%s: to=<%s>, relay=%s, %s, dsn=5.1.1, status=bounced (host %s[%s] said: 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))"
              % (qid, rcpt, relay, delays, mx, mx_ip, rcpt))
    else:
        c.log(t, host, "postfix/smtp", smtp, MAIL, INFO,
              "%s: to=<%s>, relay=%s, %s, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)"
              % (qid, rcpt, relay, delays, "%010X" % r.getrandbits(40)))
    c.log(t + r.randrange(200, 3000), host, "postfix/qmgr", host.qmgr_pid, MAIL, INFO, "%s: removed" % qid)
    return n + 2


def uptime(host, t):
    up = t - host.boot_us
    return "[%5d.%06d]" % (up // US, up % US)


def kernel_ufw(c, t):
    """ufw's log of a packet it dropped: on the public hosts a port scan,
    inside the LAN's broadcasts and a stray connection now and then."""
    r = c.rng
    if r.randrange(5):
        host = r.choice(c.public)
        src, ttl = c.internet_ipv4(), r.choice((r.randrange(40, 64), r.randrange(100, 128), r.randrange(230, 255)))
        tcp_ports, udp_ports = (23, 22, 3389, 445, 8080, 5900, 1433, 6379, 2375, 8443, 81, 8888, None), \
            (123, 161, 1900, 11211, 53, 5060)
        tcp = r.randrange(6)
    else:
        host, peer = r.choice(c.inside), r.choice(c.inside)
        src = peer.addr if peer is not host else EDGE_INSIDE["edge1"]
        ttl = 64
        tcp_ports, udp_ports = (9100, 5432, 6379, 111, 2049), (137, 138, 5353, 1900)
        tcp = r.randrange(3) == 0
    head = "%s [UFW BLOCK] IN=eth0 OUT= MAC=%s:fe:54:00:a1:b2:c3:08:00 SRC=%s DST=%s" % (
        uptime(host, t), host.mac, src, host.addr)
    if tcp:
        dpt = r.choice(tcp_ports) or r.randrange(1, 65536)
        msg = ("%s LEN=%d TOS=0x00 PREC=0x00 TTL=%d ID=%d PROTO=TCP SPT=%d DPT=%d WINDOW=%d RES=0x00 SYN URGP=0"
               % (head, r.choice((40, 44, 60)), ttl, r.randrange(65536), r.randrange(1024, 65536), dpt,
                  r.choice((1024, 65535, 29200, 14600))))
    else:
        dpt = r.choice(udp_ports)
        ln = r.randrange(48, 240)
        msg = ("%s LEN=%d TOS=0x00 PREC=0x00 TTL=%d ID=%d PROTO=UDP SPT=%d DPT=%d LEN=%d"
               % (head, ln, ttl, r.randrange(65536), dpt if dpt in (137, 138, 5353) else r.randrange(1024, 65536),
                  dpt, ln - 20))
    c.log(t, host, "kernel", None, KERN, WARNING, msg)
    return 1


def kernel_oom(c, t):
    """The OOM killer takes a worker; systemd restarts its unit."""
    r = c.rng
    role = r.choice(("app", "app", "app", "db", "ci", "mon"))
    host = r.choice(c.by_role[role])
    comm, uid, memcg, unit, vm = OOM_VICTIMS[role]
    victim = host.spawn(r)
    vm_kb = vm + r.randrange(vm // 2)
    rss_kb = vm_kb * r.randrange(55, 90) // 100
    c.log(t, host, "kernel", None, KERN, INFO,
          "%s oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=%s,task=%s,pid=%d,uid=%d"
          % (uptime(host, t), memcg, comm, victim, uid))
    c.log(t, host, "kernel", None, KERN, ERR,
          "%s Out of memory: Killed process %d (%s) total-vm:%dkB, anon-rss:%dkB, file-rss:%dkB, shmem-rss:%dkB, UID:%d pgtables:%dkB oom_score_adj:0"
          % (uptime(host, t), victim, comm, vm_kb, rss_kb, r.randrange(0, 9000), r.randrange(0, 600),
             uid, vm_kb // 600))
    t += r.randrange(20000, 400000)
    c.log(t, host, "kernel", None, KERN, INFO,
          "%s oom_reaper: reaped process %d (%s), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"
          % (uptime(host, t), victim, comm))
    if not unit:
        return 3
    t += r.randrange(1000, 50000)
    c.log(t, host, "systemd", 1, DAEMON, WARNING,
          "%s: A process of this unit has been killed by the OOM killer." % unit)
    c.log(t, host, "systemd", 1, DAEMON, NOTICE, "%s: Main process exited, code=killed, status=9/KILL" % unit)
    c.log(t, host, "systemd", 1, DAEMON, WARNING, "%s: Failed with result 'oom-kill'." % unit)
    c.log(t, host, "systemd", 1, DAEMON, INFO, "%s: Consumed %d.%03ds CPU time." % (unit, r.randrange(60, 90000), r.randrange(1000)))
    c.log(t + 100 * 1000 + r.randrange(1000), host, "systemd", 1, DAEMON, INFO,
          "%s: Scheduled restart job, restart counter is at 1." % unit)
    return 8


def kernel_other(c, t):
    """The rest of what kernels say on servers like these."""
    r = c.rng
    host = r.choice(c.hosts)
    k = r.randrange(6)
    if k == 0 and host.role == "edge":
        msg = "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters."
    elif k <= 1:
        msg = "perf: interrupt took too long (%d > %d), lowering kernel.perf_event_max_sample_rate to %d" % (
            r.randrange(2510, 6300), 2500, r.choice((79750, 63750, 50000, 39750)))
    elif k == 2:
        msg = "nf_conntrack: nf_conntrack: table full, dropping packet"
    elif k == 3:
        msg = "EXT4-fs (vda1): warning: mounting fs with errors, running e2fsck is recommended" \
            if r.randrange(20) == 0 else "EXT4-fs (vdb1): mounted filesystem with ordered data mode. Quota mode: none."
    elif k == 4:
        msg = "hrtimer: interrupt took %d ns" % r.randrange(40000, 900000)
    else:
        msg = "virtio_net virtio0 eth0: link up"
    c.log(t, host, "kernel", None, KERN, WARNING if k < 4 else INFO, "%s %s" % (uptime(host, t), msg))
    return 1


def unit_failure(c, t):
    """A service falls over and systemd brings it back."""
    r = c.rng
    host = r.choice(c.by_role["app"] + c.by_role["mon"])
    unit, code = r.choice((("php8.2-fpm.service", "78/CONFIG"), ("shop-worker.service", "1/FAILURE"),
                           ("shop-worker.service", "1/FAILURE"), ("node-exporter.service", "2/INVALIDARGUMENT")))
    c.log(t, host, "systemd", 1, DAEMON, NOTICE, "%s: Main process exited, code=exited, status=%s" % (unit, code))
    c.log(t, host, "systemd", 1, DAEMON, WARNING, "%s: Failed with result 'exit-code'." % unit)
    c.log(t + 100000 + r.randrange(5000), host, "systemd", 1, DAEMON, INFO,
          "%s: Scheduled restart job, restart counter is at %d." % (unit, r.choice((1, 1, 1, 2, 3))))
    return 3


# scene, weight (per mille of scene draws)
SCENES = ((web_visit, 190), (web_api, 100), (web_robot, 120), (ssh_guessing, 110),
          (ssh_admin, 20), (mail_flow, 75), (kernel_ufw, 360), (kernel_oom, 2),
          (kernel_other, 15), (unit_failure, 8))


# --- the clock: jobs that run at set times on every host -------------------

def cron_job(c, t, host, user, uid, command, lasts_s):
    """Debian cron: the PAM session around the job, the CMD line."""
    r = c.rng
    pid = host.spawn(r)
    t += r.randrange(1000, 400000)
    c.log(t, host, "CRON", pid, AUTHPRIV, INFO,
          "pam_unix(cron:session): session opened for user %s(uid=%d) by (uid=0)" % (user, uid))
    c.log(t + r.randrange(500, 3000), host, "CRON", pid, CRON_F, INFO, "(%s) CMD (%s)" % (user, command))
    t += int(lasts_s * US)
    if r.randrange(200) == 0 and host.role not in ("mx",):
        c.log(t, host, "CRON", pid, CRON_F, INFO, "(CRON) info (No MTA installed, discarding output)")
    c.log(t + r.randrange(1000, 9000), host, "CRON", pid, AUTHPRIV, INFO,
          "pam_unix(cron:session): session closed for user %s" % user)
    return t


def metrics_job(c, t, host):
    """/etc/cron.d/logferry-metrics: every 5 minutes, four numbers through
    logger(1), which tags them with the user's name."""
    r = c.rng
    base = ROLE_LOAD[host.role]
    host.load = max(0.0, host.load + (base[0] - host.load) * 0.3 + (r.random() - 0.5) * base[0] * 0.8)
    host.mem = min(99.0, max(5.0, host.mem + (base[1] - host.mem) * 0.1 + (r.random() - 0.5) * 6))
    host.swap = min(99.0, max(0.0, host.swap + (base[2] - host.swap) * 0.2 + (r.random() - 0.5) * base[2] * 0.3))
    host.disk = min(99.9, host.disk + r.random() * 0.02)
    start = cron_job(c, t, host, "root", 0, "/usr/local/bin/report-metrics | logger", 0.05 + r.random() * 0.2)
    t = start - r.randrange(10000, 40000)
    for name, value in (("LoadAverage", "%.2f" % host.load), ("MemoryUsedPct", "%.1f" % host.mem),
                        ("SwapUsedPct", "%.1f" % host.swap), ("DiskUsedPct", "%.1f" % host.disk)):
        c.log(t, host, "root", None, USER, NOTICE, "%s: %s" % (name, value))
        t += r.randrange(200, 3000)


def unit_done(c, t, host, unit, cpu_ms):
    """A timer's oneshot service has run (systemd 252 words)."""
    c.log(t, host, "systemd", 1, DAEMON, INFO, "%s: Deactivated successfully." % unit)
    if cpu_ms:
        c.log(t + c.rng.randrange(50, 900), host, "systemd", 1, DAEMON, INFO,
              "%s: Consumed %d.%03ds CPU time." % (unit, cpu_ms // 1000, cpu_ms % 1000))


def on_minute(c, minute_us):
    """Everything due in the minute that starts at minute_us."""
    r = c.rng
    tm = time.gmtime(minute_us // US)
    hh, mm = tm.tm_hour, tm.tm_min
    for host in c.hosts:
        if mm % 5 == 0:
            metrics_job(c, minute_us, host)
        if mm == 17:
            cron_job(c, minute_us, host, "root", 0, "   cd / && run-parts --report /etc/cron.hourly",
                     0.01 + r.random() * 0.05)
        if mm % 10 == 0:   # sysstat-collect.timer
            unit_done(c, minute_us + r.randrange(100000, 900000), host, "sysstat-collect.service", 0)
        if host.role == "app" and mm in (9, 39):
            unit_done(c, minute_us + r.randrange(US, 20 * US), host, "phpsessionclean.service",
                      r.randrange(10, 90))
        if hh == 0 and mm == 0:
            unit_done(c, minute_us + r.randrange(US, 3 * US), host, "logrotate.service",
                      r.randrange(150, 2400))
            unit_done(c, minute_us + r.randrange(5 * US, 50 * US), host, "man-db.service",
                      r.randrange(400, 9000))
            unit_done(c, minute_us + r.randrange(US, 10 * US), host, "dpkg-db-backup.service",
                      r.randrange(40, 300))
        if hh == 6 and mm == host.boot_us % 37 + 3:   # apt-daily-upgrade.timer, randomised delay
            unit_done(c, minute_us + r.randrange(60 * US), host, "apt-daily-upgrade.service",
                      r.randrange(900, 9000))
        if hh in (11, 23) and mm == host.boot_us % 53 + 2 and host.role == "edge":
            unit_done(c, minute_us + r.randrange(60 * US), host, "certbot.service", r.randrange(600, 2000))


# --- output ------------------------------------------------------------------

class Stamps:
    """The second's header text, made once per second."""
    __slots__ = ("sec", "bsd", "iso")

    def __init__(self):
        self.sec = None

    def at(self, sec):
        if sec != self.sec:
            tm = time.gmtime(sec)
            self.sec = sec
            self.bsd = "%s %2d %02d:%02d:%02d" % (MONTHS[tm.tm_mon - 1], tm.tm_mday,
                                                  tm.tm_hour, tm.tm_min, tm.tm_sec)
            self.iso = "%04d-%02d-%02dT%02d:%02d:%02d" % (tm.tm_year, tm.tm_mon, tm.tm_mday,
                                                          tm.tm_hour, tm.tm_min, tm.tm_sec)
        return self


def lines(n, seed, start):
    """Yields n records (time_us, host, prog, pid, pri, msg) in time order."""
    rng = random.Random(seed)
    start_us = start * US
    c = Corpus(rng, start_us)
    table = []
    for scene, weight in SCENES:
        table.extend([scene] * weight)
    now = start_us
    next_minute = start_us - start_us % (60 * US)
    if next_minute < start_us:
        next_minute += 60 * US
    made = 0
    pending = c.pending
    last = 0
    while made < n:
        k = rng.choice(table)(c, now)
        now += rng.randrange(2 * LINE_GAP_US * k + 1)
        while next_minute <= now:
            on_minute(c, next_minute)
            next_minute += 60 * US
        while pending and pending[0][0] <= now:
            t, _, host, prog, pid, pri, msg = heapq.heappop(pending)
            if t < last:   # a scene went back in time: a bug here, not in the reader
                raise AssertionError("line at %d before %d: %s" % (t, last, msg))
            last = t
            yield t, host.name, prog, pid, pri, msg
            made += 1
            if made == n:
                return


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--lines", type=int, default=100000, help="how many lines (default 100000)")
    ap.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    ap.add_argument("--seed", type=int, default=20261121, help="same seed, same bytes (default 20261121)")
    ap.add_argument("--format", choices=("file", "rfc5424", "ops"), default="file")
    ap.add_argument("--start", type=int, default=1795219200,
                    help="UTC epoch second of the first line (default 1795219200, 2026-11-21 00:00)")
    a = ap.parse_args()
    if a.lines < 0 or a.start < 0:
        ap.error("--lines and --start must not be negative")
    out = sys.stdout if a.output == "-" else open(a.output, "w", encoding="ascii", newline="\n")
    stamps = Stamps()
    fmt = a.format
    chunk = []
    for t, host, prog, pid, pri, msg in lines(a.lines, a.seed, a.start):
        s = stamps.at(t // US)
        if fmt == "file":
            chunk.append("%s %s %s%s: %s" % (s.bsd, host, prog, "" if pid is None else "[%d]" % pid, msg))
        elif fmt == "rfc5424":
            chunk.append("<%d>1 %s.%06d+00:00 %s %s %s - - %s" % (
                pri, s.iso, t % US, host, prog, "-" if pid is None else pid, msg))
        else:
            chunk.append("%s ops %s%s:  %s" % (host, prog, "" if pid is None else "[%d]" % pid, msg))
        if len(chunk) == 8192:
            chunk.append("")
            out.write("\n".join(chunk))
            chunk = []
    if chunk:
        chunk.append("")
        out.write("\n".join(chunk))
    if out is not sys.stdout:
        out.close()
    else:
        out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:   # "gen_corpus.py | head": the reader has enough
        sys.stderr.close()
        sys.exit(141)
