#!/usr/bin/env python3
# Writes tests/grammars/lib_*.test: sample lines for each format of the
# grammar library, from templates written for logferry, each with "want: ?"
# (tests/grammars/tools/fill_wants.py fills them in). Seeded: the same
# output every run.
#   tests/grammars/tools/gen_lib_samples.py tests/grammars
import random, sys
random.seed(14)
H=['bastion','web01','mx1','db-2','app03']
IPS=['203.0.113.9','198.51.100.23','192.0.2.77','2001:db8::17','203.0.113.200','10.20.30.40']
U=['root','alice','deploy','bob','git','admin','oracle','ubuntu']
def ts(i): return 'Nov %2d %02d:%02d:%02d' % (1+i%28, i%24, (i*7)%60, (i*13)%60)
def sl(i, prog, msg, pid=True):
    p = '%s[%d]' % (prog, 1000+i*37) if pid else prog
    return '%s %s %s: %s' % (ts(i), H[i%len(H)], p, msg)
ip=lambda i: IPS[i%len(IPS)]
u=lambda i: U[i%len(U)]
port=lambda i: 30000+i*911%30000
F={}
sshd=[
 'Accepted publickey for {u} from {ip} port {port} ssh2: ED25519 SHA256:Jw5XIxXK7hVq0pYV2cOyeX+Ck4oGzNHTz1bEcYRl1tU',
 'Accepted password for {u} from {ip} port {port} ssh2',
 'Failed password for {u} from {ip} port {port} ssh2',
 'Failed password for invalid user {u}x from {ip} port {port} ssh2',
 'Invalid user {u}1 from {ip} port {port}',
 'Connection closed by authenticating user {u} {ip} port {port} [preauth]',
 'Connection closed by {ip} port {port} [preauth]',
 'Disconnected from user {u} {ip} port {port}',
 'Received disconnect from {ip} port {port}:11: disconnected by user',
 'Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1,diffie-hellman-group14-sha1 [preauth]',
 'Unable to negotiate with {ip} port {port}: no matching host key type found. Their offer: ssh-rsa,ssh-dss [preauth]',
 'error: maximum authentication attempts exceeded for {u} from {ip} port {port} ssh2 [preauth]',
 'error: maximum authentication attempts exceeded for invalid user {u}9 from {ip} port {port} ssh2 [preauth]',
 'Disconnecting authenticating user {u} {ip} port {port}: Too many authentication failures [preauth]',
 'Disconnecting invalid user {u}2 {ip} port {port}: Too many authentication failures [preauth]',
 'PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}',
 'pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)',
 'pam_unix(sshd:session): session closed for user {u}',
 'pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}',
 'Did not receive identification string from {ip} port {port}',
 'Server listening on 0.0.0.0 port 22.',
 'Server listening on :: port 22.',
 'Received signal 15; terminating.',
 'Connection reset by {ip} port {port} [preauth]',
 'Disconnected from invalid user {u}3 {ip} port {port} [preauth]',
 'fatal: Timeout before authentication for {ip} port {port}',
 'banner exchange: Connection from {ip} port {port}: invalid format',
 'error: kex_exchange_identification: Connection closed by remote host',
 'Accepted publickey for {u} from {ip} port {port} ssh2: RSA SHA256:AbCdEfGh0123456789abcdefghijklmnopqrstuvwxyz',
 'Connection from {ip} port {port} on 192.0.2.1 port 22 rdomain ""',
 'Postponed keyboard-interactive for {u} from {ip} port {port} ssh2 [preauth]',
 'error: Received disconnect from {ip} port {port}:3: com.jcraft.jsch.JSchException: Auth fail [preauth]',
]
def fill(t,i): return t.format(u=u(i),ip=ip(i),port=port(i))
F['sshd']=('/var/log/auth.log','system.auth.ssh.event system.auth.ssh.failures system.auth.pam.module system.auth.ssh.dropped_ip',[sl(i,'sshd',fill(t,i)) for i,t in enumerate(sshd)])
sudo=[
 '{u} : TTY=pts/0 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/apt update',
 '{u} : TTY=pts/1 ; PWD=/srv/app ; USER=root ; COMMAND=/bin/systemctl restart nginx.service',
 '   {u} : TTY=pts/2 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/tail -n 100 /var/log/syslog',
 '{u} : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/su -',
 '{u} : user NOT in sudoers ; TTY=pts/3 ; PWD=/tmp ; USER=root ; COMMAND=/bin/bash',
 '{u} : PWD=/opt/deploy ; USER=root ; COMMAND=/usr/local/bin/deploy.sh --env prod --tag v1.2.3',
 '{u} : TTY=pts/0 ; PWD=/home/{u} ; USER=postgres ; COMMAND=/usr/bin/psql -c "SELECT 1; SELECT 2"',
 '{u} : TTY=pts/4 ; PWD=/home/{u}/my dir ; USER=root ; COMMAND=/usr/bin/ls -la',
 '{u} : TTY=pts/0 ; PWD=/ ; USER=root ; ENV=DEBIAN_FRONTEND=noninteractive ; COMMAND=/usr/bin/apt-get -y upgrade',
 '{u} : TTY=pts/0 ; PWD=/home/{u} ; USER=www-data ; GROUP=www-data ; COMMAND=/usr/bin/php artisan migrate',
 '{u} : a password is required ; TTY=pts/1 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/id',
 'pam_unix(sudo:session): session opened for user root(uid=0) by {u}(uid=1000)',
 'pam_unix(sudo:session): session closed for user root',
 'pam_unix(sudo:auth): authentication failure; logname={u} uid=1000 euid=0 tty=/dev/pts/0 ruser={u} rhost=  user={u}',
]
F['sudo']=('/var/log/auth.log','process.command_line system.auth.pam.module',[sl(i,'sudo',fill(sudo[i%len(sudo)],i),pid=False) for i in range(30)])
su=['(to root) {u} on pts/0','FAILED SU (to root) {u} on pts/1','+ pts/2 {u}:root','- pts/3 {u}:postgres',
 'pam_unix(su:session): session opened for user root(uid=0) by {u}(uid=1000)','pam_unix(su:session): session closed for user root',
 'pam_unix(su:auth): authentication failure; logname={u} uid=1000 euid=0 tty=/dev/pts/0 ruser={u} rhost=  user=root',
 '(to postgres) {u} on none','pam_unix(su-l:session): session opened for user postgres(uid=115) by {u}(uid=0)']
F['su']=('/var/log/auth.log','user.effective.name system.auth.pam.module',[sl(i,'su',fill(su[i%len(su)],i)) for i in range(30)])
units=['nginx.service','ssh.service','logrotate.service','apt-daily.timer','user@1000.service','session-12.scope','systemd-tmpfiles-clean.service','docker.socket']
sysd=['Starting {unit} - {desc}...','Started {unit} - {desc}.','Stopping {unit} - {desc}...','Stopped {unit} - {desc}.',
 'Starting {desc}...','Started {desc}.','{unit}: Deactivated successfully.','{unit}: Consumed 1.204s CPU time.',
 'Reached target multi-user.target - Multi-User System.','Reached target Timers.','Finished {unit} - {desc}.',
 '{unit}: Main process exited, code=exited, status=1/FAILURE','{unit}: Failed with result \'exit-code\'.','Failed to start {unit} - {desc}.',
 'Reloading {unit} - {desc}...','Reloaded {unit} - {desc}.','Listening on {unit} - {desc}.','Created slice user-1000.slice - User Slice of UID 1000.',
 'Removed slice user-1000.slice - User Slice of UID 1000.','Startup finished in 2.112s (kernel) + 5.031s (userspace) = 7.143s.','Received SIGTERM from PID 1 (systemd).',
 'Mounted boot-efi.mount - /boot/efi.','Condition check resulted in {unit} - {desc} being skipped.','Queued start job for default target graphical.target - Graphical Interface.','Dependency failed for {unit} - {desc}.']
desc=['A high performance web server and a reverse proxy server','OpenBSD Secure Shell server','Rotate log files','Daily apt download activities','User Manager for UID 1000','Session 12 of User alice','Cleanup of Temporary Directories','Docker Socket for the API']
F['systemd']=('/var/log/syslog','event.action systemd.unit',[sl(i,'systemd',sysd[i%len(sysd)].format(unit=units[i%8],desc=desc[i%8]),pid=True).replace('systemd[%d]'%(1000+i*37),'systemd[1]') for i in range(32)])
logind=['New session {s} of user {u}.','Session {s} logged out. Waiting for processes to exit.','Removed session {s}.','New seat seat0.',
 'Watching system buttons on /dev/input/event0 (Power Button)','Power key pressed.','System is rebooting.','System is powering down.','New session c{s} of user {u}.','Lid closed.']
F['logind']=('/var/log/auth.log','event.action',[sl(i,'systemd-logind',logind[i%len(logind)].format(s=i+3,u=u(i))) for i in range(30)])
kern=['[{up}] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:9b:7e:80:fe:54:00:a1:b2:c3:08:00 SRC={ip4} DST=203.0.113.2 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=4242 DF PROTO=TCP SPT={port} DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0',
 '[UFW AUDIT] IN=eth0 OUT= MAC=52:54:00:9b:7e:80:fe:54:00:a1:b2:c3:08:00 SRC={ip4} DST=203.0.113.2 LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=54321 PROTO=TCP SPT={port} DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0',
 'IPTABLES-DROP: IN=eth0 OUT= MAC=52:54:00:9b:7e:80:fe:54:00:a1:b2:c3:08:00 SRC={ip4} DST=203.0.113.2 LEN=78 TOS=0x00 PREC=0x00 TTL=117 ID=0 PROTO=UDP SPT=5353 DPT=5353 LEN=58',
 '[{up}] Out of memory: Killed process 4242 (java) total-vm:8123456kB, anon-rss:4012345kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:9000kB oom_score_adj:0',
 '[{up}] php-fpm8.2[4242]: segfault at 0 ip 00007f3c2a1b2c3d sp 00007ffd1a2b3c40 error 4 in libc.so.6[7f3c2a000000+195000] likely on CPU 1 (core 1, socket 0)',
 'audit: type=1400 audit(1763744521.123:42): apparmor="DENIED" operation="open" class="file" profile="/usr/sbin/cupsd" name="/etc/ssl/private/" pid=4242 comm="cupsd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
 '[{up}] EXT4-fs (sda1): mounted filesystem 1a2b3c4d-0000-4000-8000-123456789abc r/w with ordered data mode. Quota mode: none.',
 '[{up}] usb 1-1: new high-speed USB device number 2 using xhci_hcd',
 '[{up}] e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None',
 'audit: type=1400 audit(1763744521.456:43): apparmor="STATUS" operation="profile_load" profile="unconfined" name="nvidia_modprobe" pid=812 comm="apparmor_parser"',
 '[{up}] Linux version 6.1.0-27-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)',
 '[{up}] nvme nvme0: 8/0/0 default/read/poll queues',
 '[{up}] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
 '[{up}] traps: node[4242] general protection fault ip:55d1a2b3c4d5 sp:7ffd1a2b3c40 error:0 in node[55d1a0000000+2000000]',
]
F['kernel']=('/var/log/kern.log','os.kernel source.ip kernel.oom.process.pid process.pid apparmor.status kernel.subsystem',[sl(i,'kernel',kern[i%len(kern)].format(up='%d.%06d'%(1000+i*77,i*1234),ip4=['203.0.113.9','198.51.100.23','192.0.2.77'][i%3],port=port(i)),pid=False) for i in range(32)])
cron=['(root) CMD (run-parts --report /etc/cron.hourly)','(root) CMD (   cd / && run-parts --report /etc/cron.hourly)','(www-data) CMD ([ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi)',
 'pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)','pam_unix(cron:session): session closed for user root','(*system*) RELOAD (/etc/crontab)',
 '(CRON) INFO (pidfile fd = 3)','(CRON) INFO (Running @reboot jobs)','(CRON) info (No MTA installed, discarding output)','({u}) BEGIN EDIT ({u})','({u}) END EDIT ({u})','({u}) REPLACE ({u})','(*system*logrotate) RELOAD (/etc/cron.d/logrotate)']
F['cron']=('/var/log/syslog','system.cron.action system.auth.pam.module',[sl(i,'CRON',fill(cron[i%len(cron)],i)) for i in range(30)])
shadow=[('useradd','new group: name={u}2, GID=1002'),('useradd','new user: name={u}2, UID=1002, GID=1002, home=/home/{u}2, shell=/bin/bash, from=/dev/pts/0'),
 ('usermod',"add '{u}' to group 'sudo'"),('usermod',"add '{u}' to shadow group 'docker'"),('groupadd','group added to /etc/group: name=docker, GID=998'),
 ('groupadd','group added to /etc/gshadow: name=docker'),('groupadd','new group: name=docker, GID=998'),('userdel',"delete user '{u}3'"),
 ('userdel',"removed group '{u}3' owned by '{u}3'"),('userdel',"removed shadow group '{u}3' owned by '{u}3'"),('passwd','pam_unix(passwd:chauthtok): password changed for {u}'),
 ('chpasswd','pam_unix(chpasswd:chauthtok): password changed for {u}'),('usermod',"change user '{u}' shell from '/bin/sh' to '/bin/bash'"),('useradd',"failed adding user '{u}', data deleted"),('usermod',"lock user '{u}' password")]
F['shadow']=('/var/log/auth.log','event.action',[sl(i,shadow[i%len(shadow)][0],fill(shadow[i%len(shadow)][1],i)) for i in range(30)])
qid=lambda i: '%X'%(0x4A1B2C3D4E+i*0x1F2E3)
pf=[('smtpd','connect from unknown[{ip4}]'),('smtpd','{q}: client=mail.example.com[{ip4}]'),('smtpd','{q}: client=unknown[{ip4}], sasl_method=PLAIN, sasl_username={u}@example.org'),
 ('cleanup','{q}: message-id=<20261121170201.{q}@mx1.example.org>'),('qmgr','{q}: from=<{u}@example.org>, size=4521, nrcpt=1 (queue active)'),
 ('smtp','{q}: to=<user@example.net>, relay=mx.example.net[{ip4}]:25, delay=1.2, delays=0.01/0.01/0.5/0.68, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7C8D9E0F1A)'),
 ('qmgr','{q}: removed'),('smtpd','disconnect from unknown[{ip4}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5'),
 ('smtpd','NOQUEUE: reject: RCPT from unknown[{ip4}]: 554 5.7.1 <spam@example.net>: Relay access denied; from=<x@spam.example> to=<spam@example.net> proto=ESMTP helo=<WIN-ABC123>'),
 ('smtpd','NOQUEUE: reject: RCPT from unknown[{ip4}]: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [{ip4}]; from=<a@b.example> to=<{u}@example.org> proto=ESMTP helo=<b.example>'),
 ('smtpd','warning: unknown[{ip4}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6'),('smtpd','warning: unknown[{ip4}]: SASL PLAIN authentication failed: '),
 ('smtp','connect to mx.example.net[{ip4}]:25: Connection timed out'),('smtpd','lost connection after AUTH from unknown[{ip4}]'),
 ('smtp','{q}: to=<nobody@example.net>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[{ip4}]:25: Connection timed out)'),
 ('pickup','{q}: uid=0 from=<root>'),('bounce','{q}: sender non-delivery notification: 7C8D9E0F1A'),('qmgr','{q}: from=<{u}@example.org>, status=expired, returned to sender'),
 ('smtpd','Anonymous TLS connection established from unknown[{ip4}]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)'),
 ('smtpd','improper command pipelining after CONNECT from unknown[{ip4}]: QUIT\\r\\n'),('smtpd','warning: hostname foo.example does not resolve to address {ip4}: Name or service not known'),
 ('anvil','statistics: max connection rate 3/60s for (smtp:{ip4}) at Nov 21 17:00:01'),('lmtp','{q}: to=<{u}@example.org>, relay=mx1.example.org[private/dovecot-lmtp], delay=0.12, delays=0.05/0.01/0.02/0.04, dsn=2.0.0, status=sent (250 2.0.0 <{u}@example.org> Saved)'),
 ('smtpd','timeout after DATA (2034 bytes) from unknown[{ip4}]'),('master','daemon started -- version 3.7.11, configuration /etc/postfix')]
F['postfix']=('/var/log/mail.log','postfix.queueid postfix.client.ip postfix.action postfix.relay.hostname',[sl(i,'postfix/'+pf[i%len(pf)][0],pf[i%len(pf)][1].format(q=qid(i),ip4=['203.0.113.9','198.51.100.23','192.0.2.77'][i%3],u=u(i))) for i in range(32)])
dv=['imap-login: Login: user=<{u}@example.org>, method=PLAIN, rip={ip4}, lip=192.0.2.1, mpid={pid}, TLS, session=<Ab{pid}Cd>',
 'imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<{u}>, method=PLAIN, rip={ip4}, lip=192.0.2.1, TLS, session=<Xy{pid}Zz>',
 'imap({u}@example.org)<{pid}><Ab{pid}Cd>: Disconnected: Logged out in=1234 out=56789 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
 'pop3-login: Aborted login (no auth attempts in 0 secs): user=<>, rip={ip4}, lip=192.0.2.1, session=<Qq{pid}>',
 'auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={u} rhost={ip4}  user={u}',
 'lmtp({pid}): Connect from local','lmtp({u}@example.org)<{pid}><LmTp{pid}>: msgid=<abc{pid}@example.net>: saved mail to INBOX',
 'master: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3, lmtp (core dumps disabled)',
 'auth-worker({pid}): pam({u},{ip4},<Ab{pid}>): unknown user','imap({u}@example.org)<{pid}><Ab{pid}>: Error: Mailbox Sent: Failed to open mailbox','pop3-login: Login: user=<{u}>, method=PLAIN, rip={ip4}, lip=192.0.2.1, mpid={pid}, session=<P0p{pid}>']
F['dovecot']=('/var/log/mail.log','dovecot.service',[sl(i,'dovecot',dv[i%len(dv)].format(u=u(i),ip4=['203.0.113.9','198.51.100.23','192.0.2.77'][i%3],pid=20000+i*3),pid=False) for i in range(30)])
hp=['{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.123] www~ web/web01 0/0/1/12/13 200 1234 - - ---- 3/3/0/0/0 0/0 "GET /index.html HTTP/1.1"',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.456] www~ api/api02 5/0/0/-1/5005 504 194 - - sH-- 10/10/2/1/0 0/0 "POST /api/v1/orders HTTP/1.1"',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.789] www www/<NOSRV> -1/-1/-1/-1/0 400 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.001] ft_db bk_db/db01 1/0/5007 212 -- 1/1/1/1/0 0/0',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.002] ft_redis bk_redis/redis1 0/1/60001 12345 cD 2/2/2/2/0 0/0',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.003] www~ static/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 4/4/0/0/0 0/0 "GET /favicon.ico HTTP/2.0"',
 '{ip4}:{port} [21/Nov/2026:17:02:{s:02d}.004] www~ web/web02 0/0/0/3/3 301 150 - - --NI 1/1/0/0/0 0/0 {{example.org|Mozilla/5.0}} {{}} "GET /old?a=1&b=2 HTTP/1.1"',
 'Server web/web01 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
 'Server web/web01 is UP, reason: Layer7 check passed, code: 200, check duration: 3ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.',
 'backend api has no server available!','Proxy www started.','Connect from {ip4}:{port} to 192.0.2.1:80 (www/HTTP)']
F['haproxy']=('/var/log/haproxy.log','haproxy.frontend_name haproxy.backend_name',[sl(i,'haproxy',hp[i%len(hp)].format(ip4=['203.0.113.9','198.51.100.23','192.0.2.77'][i%3],port=port(i),s=i%60)) for i in range(30)])
UA=['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0','curl/8.5.0','Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)','python-requests/2.31.0','-']
paths=['/','/index.html','/api/v1/items?id=42&sort=desc','/wp-login.php','/static/app.3f2a.js','/search?q=caf%C3%A9','/health','/img/logo.png']
def hd(i): return '%02d/Nov/2026:%02d:%02d:%02d +0000' % (1+i%28,i%24,(i*7)%60,(i*13)%60)
F['nginx_access']=('/var/log/nginx/access.log','http.response.status_code',[
 '%s - %s [%s] "%s %s HTTP/%s" %d %d "%s" "%s"%s' % (['203.0.113.9','198.51.100.23','2001:db8::17','unix:','192.0.2.77'][i%5], ['-','alice','-'][i%3], hd(i), ['GET','POST','HEAD','GET','PUT'][i%5], paths[i%8], ['1.1','2.0','1.0'][i%3], [200,304,404,301,500,200][i%6], [612,0,153,169,4521,98765][i%6], ['-','https://example.org/','https://www.google.com/'][i%3], UA[i%5], [' "-"',' "203.0.113.50, 10.0.0.1"',''][i%3]) for i in range(30)])
F['apache_access']=('/var/log/apache2/access.log','http.response.status_code',[
 '%s%s - %s [%s] "%s %s HTTP/1.1" %d %s%s' % (['','example.org:443 ',''][i%3], ip(i), ['-','bob'][i%2], hd(i), ['GET','POST','HEAD','OPTIONS'][i%4], paths[i%8], [200,304,404,301,500][i%5], ['-','1234','0','53821'][i%4], ['',' "-" "%s"'%UA[i%5],' "https://example.org/x" "%s"'%UA[(i+1)%5]][i%3]) for i in range(30)])
ne=['connect() failed (111: Connection refused) while connecting to upstream, client: {ip}, server: example.org, request: "GET /api/items HTTP/1.1", upstream: "http://127.0.0.1:8080/api/items", host: "example.org"',
 'open() "/var/www/html/favicon.ico" failed (2: No such file or directory), client: {ip}, server: _, request: "GET /favicon.ico HTTP/1.1", host: "203.0.113.2", referrer: "http://203.0.113.2/"',
 'upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip}, server: example.org, request: "POST /upload HTTP/2.0", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.org"',
 'signal process started','using inherited sockets from "6;7;"','FastCGI sent in stderr: "PHP message: PHP Warning:  Undefined variable $x in /var/www/index.php on line 3" while reading response header from upstream, client: {ip}, server: example.org, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.org"',
 'limiting requests, excess: 10.520 by zone "one", client: {ip}, server: example.org, request: "GET /login HTTP/1.1", host: "example.org"',
 'SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: {ip}, server: 0.0.0.0:443']
F['nginx_error']=('/var/log/nginx/error.log','log.level',['2026/11/%02d %02d:%02d:%02d [%s] %d#%d: %s%s' % (1+i%28,i%24,i%60,(i*7)%60,['error','warn','notice','error','crit'][i%5],1000+i,1000+i,['*%d '%(5000+i),''][i%2], ne[i%len(ne)].format(ip=ip(i))) for i in range(30)])
ae=['[core:error] [pid {pid}:tid {pid}] [client {ip}:{port}] AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1',
 '[php:error] [pid {pid}] [client {ip}:{port}] PHP Fatal error:  Uncaught Error: Call to undefined function foo() in /var/www/html/index.php:3',
 '[mpm_event:notice] [pid {pid}:tid {pid}] AH00489: Apache/2.4.62 (Debian) configured -- resuming normal operations',
 '[core:notice] [pid {pid}:tid {pid}] AH00094: Command line: \'/usr/sbin/apache2\'',
 '[authz_core:error] [pid {pid}:tid {pid}] [client {ip}:{port}] AH01630: client denied by server configuration: /var/www/private/',
 '[proxy:error] [pid {pid}:tid {pid}] (111)Connection refused: AH00957: http: attempt to connect to 127.0.0.1:8080 (127.0.0.1:8080) failed',
 '[ssl:warn] [pid {pid}:tid {pid}] AH01909: www.example.org:443:0 server certificate does NOT include an ID which matches the server name']
F['apache_error']=('/var/log/apache2/error.log','log.level',['[%s Nov %02d %02d:%02d:%02d.%06d 2026] %s' % (['Mon','Tue','Wed','Thu','Fri','Sat','Sun'][i%7],1+i%28,i%24,i%60,(i*7)%60,i*1234,ae[i%len(ae)].format(pid=2000+i,ip=ip(i),port=port(i))) for i in range(30)])
pk=[('libc6','amd64','2.36-9+deb12u3','2.36-9+deb12u4'),('nginx','amd64','1.22.1-9','1.22.1-9+deb12u1'),('tzdata','all','2024a-0+deb12u1','2025b-0+deb12u1'),('python3.11','amd64','3.11.2-6','3.11.2-6+deb12u5')]
dp=[]
for i,(n,a,o,v) in enumerate(pk*2):
    t='2026-11-%02d %02d:%02d:%02d' % (10+i,6,i,i*2)
    dp+=['%s startup archives unpack'%t,'%s upgrade %s:%s %s %s'%(t,n,a,o,v),'%s status half-configured %s:%s %s'%(t,n,a,o),'%s status unpacked %s:%s %s'%(t,n,a,v),'%s configure %s:%s %s <none>'%(t,n,a,v),'%s status installed %s:%s %s'%(t,n,a,v)]
dp+=['2026-11-20 08:00:00 install htop:amd64 <none> 3.2.2-2','2026-11-20 08:00:01 trigproc man-db:amd64 2.11.2-2 <none>','2026-11-20 08:00:02 remove oldpkg:amd64 1.0-1 <none>','2026-11-20 08:00:03 purge oldpkg:amd64 1.0-1 <none>','2026-11-20 08:00:04 conffile /etc/nginx/nginx.conf keep','2026-11-20 08:00:05 startup packages configure']
F['dpkg']=('/var/log/dpkg.log','event.action',dp)
ap=[]
for i in range(6):
    ap+=['Start-Date: 2026-11-%02d  06:%02d:01'%(10+i,i),['Commandline: apt-get install -y nginx','Commandline: /usr/bin/unattended-upgrade','Commandline: apt upgrade','Commandline: apt purge oldpkg','Commandline: apt-get -y dist-upgrade','Commandline: apt install htop'][i],
     'Requested-By: %s (%d)'%(u(i),1000+i), ['Install: nginx:amd64 (1.22.1-9), nginx-common:amd64 (1.22.1-9, automatic)','Upgrade: libc6:amd64 (2.36-9+deb12u3, 2.36-9+deb12u4), libc-bin:amd64 (2.36-9+deb12u3, 2.36-9+deb12u4)','Upgrade: tzdata:amd64 (2024a-0+deb12u1, 2025b-0+deb12u1)','Purge: oldpkg:amd64 (1.0-1)','Upgrade: linux-image-amd64:amd64 (6.1.115-1, 6.1.119-1)','Install: htop:amd64 (3.2.2-2)'][i],
     'End-Date: 2026-11-%02d  06:%02d:%02d'%(10+i,i,30+i)]
ap+=['Error: Sub-process /usr/bin/dpkg returned an error code (1)','Remove: oldlib:amd64 (2.0-1)']
F['apt_history']=('/var/log/apt/history.log','event.action process.command_line user.name apt.packages error.message',ap)
r5=['<34>1 2026-11-21T17:02:{s:02d}.003Z mymachine.example.com su - ID47 - BOM\'su root\' failed for lonvick on /dev/pts/8',
 '<165>1 2026-11-21T17:02:{s:02d}.000003-07:00 192.0.2.1 myproc 8710 - - %% It\'s time to make the do-nuts.',
 '<165>1 2026-11-21T17:02:{s:02d}.52Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry',
 '<165>1 2026-11-21T17:02:{s:02d}.52Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
 '<86>1 2026-11-21T17:02:{s:02d}.123456+01:00 web01 sshd 4242 - - Failed password for root from 203.0.113.9 port 51234 ssh2',
 '<13>1 2026-11-21T17:02:{s:02d}Z app01 myapp - - [meta sequenceId="{s}" sysUpTime="4242"] request handled in 12ms',
 '<78>1 2026-11-21T17:02:{s:02d}+00:00 db1 CRON 5151 - - (root) CMD (run-parts --report /etc/cron.hourly)',
 '<14>1 2026-11-21T17:02:{s:02d}.1Z k8s-node-3 kubelet 812 ContainerStart [origin ip="10.0.0.3" software="kubelet"][custom@32473 path="C:\\\\x\\"y\\]z"] container started',
 '<30>1 2026-11-21T17:02:{s:02d}Z web01 systemd 1 - - Started nginx.service - A high performance web server and a reverse proxy server.',
 '<11>1 - - - - - - no header values at all']
F['rfc5424']=('/var/log/syslog','system.syslog.version',[r5[i%len(r5)].format(s=i%60) for i in range(30)])
# the dpkg-looking lines in a syslog file must be tagged, not parsed
F['not_syslog']=('/var/log/syslog','host.hostname',['2026-11-20 08:00:0%d status installed libc6:amd64 2.36-9+deb12u4'%i for i in range(3)]+['Start-Date: 2026-11-10  06:00:01','plain text with no header','127.0.0.1 - - [21/Nov/2026:17:02:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"'])
out=sys.argv[1]
for name,(path,fields,lines) in F.items():
    with open('%s/lib_%s.test'%(out,name),'w') as f:
        f.write('# %s: sample lines (written for logferry), through the built-in syslog\n# grammar as the agent runs it on %s.\n\nsource: %s\nformat: %s %s\n'%(name,path,path,name,fields))
        for l in lines:
            f.write('line: %s\nwant: ?\n'%l)
        f.write('min-structured: %d\n'%(0 if name=='not_syslog' else 95))
